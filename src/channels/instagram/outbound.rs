use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{Instagram, CHANNEL};
use crate::channels::meta::GraphError;
use crate::channels::{Buttons, Capabilities, Channel, Initiate, PhoneShare};
use crate::domain::LeadRecord;
use crate::outbox::{DeliveryError, OutboundMessage};

/// Send API errors → delivery outcomes.
pub fn classify(e: GraphError) -> DeliveryError {
    match &e {
        GraphError::Api { code, subcode, .. } => match (*code, *subcode) {
            // Outside the 24 h window: no free-form message is allowed any more.
            (10, 2018278) | (10, 2534022) => DeliveryError::CannotInitiate(format!("Instagram: {e}")),
            // "This person isn't available right now" (blocked us, deleted the account).
            (551, _) => DeliveryError::Blocked(format!("Instagram: {e}")),
            (4 | 17 | 32 | 613, _) => DeliveryError::Throttled(Duration::from_secs(5)),
            (1 | 2, _) => DeliveryError::Retryable(e.to_string()),
            _ => DeliveryError::Permanent(e.to_string()),
        },
        GraphError::Status(s) if *s >= 500 || *s == 429 => DeliveryError::Retryable(e.to_string()),
        GraphError::Http(_) => DeliveryError::Retryable(e.to_string()),
        _ => DeliveryError::Permanent(e.to_string()),
    }
}

/// The Send API body: text, with quick replies for offered answers.
fn body(igsid: i64, msg: &OutboundMessage) -> Value {
    let mut message = json!({ "text": msg.text });
    if !msg.buttons.is_empty() {
        message["quick_replies"] = msg
            .buttons
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"content_type": "text", "title": t, "payload": format!("answer{}", i + 1)}))
            .collect();
    }
    json!({"recipient": {"id": igsid.to_string()}, "message": message})
}

#[async_trait]
impl Channel for Instagram {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            realtime: true,
            can_initiate: Initiate::Never,
            free_form_window: Some(Duration::from_secs(24 * 3600)),
            phone_share: PhoneShare::Text,
            buttons: Buttons::Reply,
            max_buttons: 13,
            max_button_label: 20,
            max_text_len: 1000,
        }
    }

    async fn send(
        &self,
        lead: &LeadRecord,
        msg: &OutboundMessage,
        _key: &str,
        _outbox_id: i64,
    ) -> Result<(), DeliveryError> {
        let igsid = self
            .chats
            .chat_of_lead(&self.bot(), lead.id)
            .await
            .map_err(|e| DeliveryError::Retryable(e.to_string()))?
            .ok_or_else(|| DeliveryError::CannotInitiate(format!("lead {} has no Instagram conversation", lead.id)))?;
        self.api
            .post("me/messages", &body(igsid, msg))
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ChannelName;

    #[test]
    fn window_block_and_rate_errors_are_told_apart() {
        let api = |code, subcode| GraphError::Api {
            code,
            subcode,
            message: "x".into(),
        };
        assert!(matches!(classify(api(10, 2018278)), DeliveryError::CannotInitiate(_)));
        assert!(matches!(classify(api(551, 1545041)), DeliveryError::Blocked(_)));
        assert!(matches!(classify(api(613, 0)), DeliveryError::Throttled(_)));
        assert!(matches!(classify(api(100, 0)), DeliveryError::Permanent(_)));
    }

    #[test]
    fn answers_become_quick_replies() {
        let mut msg = OutboundMessage::text(ChannelName::new(CHANNEL), "Оставьте номер");
        assert_eq!(
            body(17841400000000001, &msg),
            json!({"recipient": {"id": "17841400000000001"}, "message": {"text": "Оставьте номер"}})
        );
        msg.buttons = vec!["Часы работы".into()];
        assert_eq!(body(1, &msg)["message"]["quick_replies"][0]["title"], "Часы работы");
    }
}
