use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{WhatsApp, CHANNEL};
use crate::channels::meta::GraphError;
use crate::channels::{Buttons, Capabilities, Channel, Initiate, PhoneShare};
use crate::domain::LeadRecord;
use crate::outbox::{DeliveryError, OutboundMessage};

/// Error codes (Cloud API error-codes page, pywa `errors.py`) → delivery outcomes.
pub fn classify(e: GraphError) -> DeliveryError {
    match &e {
        GraphError::Api { code, .. } => match *code {
            // Re-engagement: more than 24 h since the client's last message.
            131047 => DeliveryError::Permanent(format!("needs a template: {e}")),
            // Cloud API throughput / pair rate / spam rate / account rate / app rate.
            130429 | 131056 | 131048 | 80007 | 4 | 613 => DeliveryError::Throttled(Duration::from_secs(2)),
            // Temporary server problems.
            1 | 2 | 131000 | 131016 => DeliveryError::Retryable(e.to_string()),
            // Not a WhatsApp user / undeliverable.
            131026 | 131030 => DeliveryError::CannotInitiate(format!("WhatsApp: {e}")),
            _ => DeliveryError::Permanent(e.to_string()),
        },
        GraphError::Status(s) if *s >= 500 || *s == 429 => DeliveryError::Retryable(e.to_string()),
        GraphError::Http(_) => DeliveryError::Retryable(e.to_string()),
        _ => DeliveryError::Permanent(e.to_string()),
    }
}

fn is_reengagement(e: &GraphError) -> bool {
    matches!(e, GraphError::Api { code: 131047, .. })
}

/// The message body: text, or reply buttons (at most 3, titles at most 20 characters).
fn body(to: &str, msg: &OutboundMessage, outbox_id: i64) -> Value {
    let mut b = if msg.buttons.is_empty() {
        json!({"type": "text", "text": {"preview_url": false, "body": msg.text}})
    } else {
        let buttons: Vec<Value> = msg
            .buttons
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"type": "reply", "reply": {"id": format!("answer{}", i + 1), "title": t}}))
            .collect();
        json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": msg.text}, "action": {"buttons": buttons}}})
    };
    b["messaging_product"] = json!("whatsapp");
    b["recipient_type"] = json!("individual");
    b["to"] = json!(to);
    b["biz_opaque_callback_data"] = json!(format!("outbox:{outbox_id}"));
    b
}

impl WhatsApp {
    fn template(&self, to: &str, lead: &LeadRecord, outbox_id: i64) -> Option<Value> {
        let t = self.settings.template.as_ref()?;
        let name = lead.name.as_deref().unwrap_or("").trim();
        let params: Vec<Value> = t
            .body_params
            .iter()
            .map(|p| json!({"type": "text", "text": p.replace("{name}", name)}))
            .collect();
        let mut template = json!({"name": t.name, "language": {"code": t.language}});
        if !params.is_empty() {
            template["components"] = json!([{"type": "body", "parameters": params}]);
        }
        Some(json!({
            "messaging_product": "whatsapp",
            "to": to,
            "type": "template",
            "template": template,
            "biz_opaque_callback_data": format!("outbox:{outbox_id}"),
        }))
    }

    /// The template in place of a free-form message: once per lead and day (the client's
    /// answer opens the window again; more rows of the same day are failed, not repeated).
    async fn send_template(&self, to: &str, lead: &LeadRecord, outbox_id: i64) -> Result<(), DeliveryError> {
        let Some(body) = self.template(to, lead, outbox_id) else {
            return Err(DeliveryError::CannotInitiate(
                "WhatsApp: outside the 24 h window and no template configured".into(),
            ));
        };
        let day = format!("{}:template:{}", self.bot(), chrono::Utc::now().format("%Y%m%d"));
        let first = self
            .chats
            .first_time(&day, lead.id.0)
            .await
            .map_err(|e| DeliveryError::Retryable(e.to_string()))?;
        if !first {
            return Err(DeliveryError::Permanent(
                "WhatsApp: outside the 24 h window; today's template was sent already".into(),
            ));
        }
        let path = format!("{}/messages", self.settings.phone_number_id);
        if let Err(e) = self.api.post(&path, &body).await {
            // Not sent: the next attempt may send it.
            let _ = self.chats.forget_update(&day, lead.id.0).await;
            return Err(classify(e));
        }
        tracing::info!(lead_id = %lead.id, outbox_id, "WhatsApp: sent the template in place of free-form text");
        Ok(())
    }
}

#[async_trait]
impl Channel for WhatsApp {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            realtime: true,
            can_initiate: Initiate::TemplateOnly,
            free_form_window: Some(Duration::from_secs(24 * 3600)),
            phone_share: PhoneShare::Implicit,
            buttons: Buttons::Reply,
            max_buttons: 3,
            max_button_label: 20,
            max_text_len: 4096,
        }
    }

    async fn send(
        &self,
        lead: &LeadRecord,
        msg: &OutboundMessage,
        _key: &str,
        outbox_id: i64,
    ) -> Result<(), DeliveryError> {
        let chat = self
            .chats
            .chat_of_lead(&self.bot(), lead.id)
            .await
            .map_err(|e| DeliveryError::Retryable(e.to_string()))?;
        let to = match (chat, &lead.phone) {
            (Some(wa_id), _) => wa_id.to_string(),
            // A client who never wrote: only a template may open the conversation.
            (None, Some(phone)) => {
                let to = phone.as_str().trim_start_matches('+').to_string();
                return self.send_template(&to, lead, outbox_id).await;
            }
            (None, None) => {
                return Err(DeliveryError::CannotInitiate(format!(
                    "lead {} has no WhatsApp conversation or phone",
                    lead.id
                )))
            }
        };
        let path = format!("{}/messages", self.settings.phone_number_id);
        match self.api.post(&path, &body(&to, msg, outbox_id)).await {
            Ok(_) => Ok(()),
            Err(e) if is_reengagement(&e) => self.send_template(&to, lead, outbox_id).await,
            Err(e) => Err(classify(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ChannelName;

    #[test]
    fn errors_are_classified_by_code() {
        let api = |code| GraphError::Api {
            code,
            subcode: 0,
            message: "x".into(),
        };
        assert!(matches!(classify(api(130429)), DeliveryError::Throttled(_)));
        assert!(matches!(classify(api(131056)), DeliveryError::Throttled(_)));
        assert!(matches!(classify(api(131000)), DeliveryError::Retryable(_)));
        assert!(matches!(classify(api(131026)), DeliveryError::CannotInitiate(_)));
        assert!(matches!(classify(api(100)), DeliveryError::Permanent(_)));
        assert!(is_reengagement(&api(131047)));
    }

    #[test]
    fn buttons_become_reply_buttons_and_the_row_rides_along() {
        let mut msg = OutboundMessage::text(ChannelName::new(CHANNEL), "Оставьте номер");
        let b = body("79161234567", &msg, 42);
        assert_eq!(b["type"], "text");
        assert_eq!(b["text"]["body"], "Оставьте номер");
        assert_eq!(b["biz_opaque_callback_data"], "outbox:42");
        msg.buttons = vec!["Часы работы".into()];
        let b = body("79161234567", &msg, 42);
        assert_eq!(
            b["interactive"]["action"]["buttons"][0]["reply"]["title"],
            "Часы работы"
        );
        assert_eq!(b["to"], "79161234567");
    }
}
