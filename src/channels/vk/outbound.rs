use async_trait::async_trait;
use serde_json::{json, Value};

use super::{random_id, Vk, CHANNEL};
use crate::channels::{Buttons, Capabilities, Channel, Initiate, PhoneShare};
use crate::domain::LeadRecord;
use crate::outbox::{DeliveryError, OutboundMessage};

/// VK shows at most 40 characters on a button.
const LABEL_MAX: usize = 40;

/// A one-time keyboard of text buttons (a press sends the label as the client's message);
/// without buttons, an empty keyboard hides the last one.
fn keyboard(buttons: &[String]) -> Value {
    let rows: Vec<Value> = buttons
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let label: String = b.chars().take(LABEL_MAX).collect();
            json!([{
                "action": {"type": "text", "label": label, "payload": json!({"answer": i + 1}).to_string()},
                "color": "secondary",
            }])
        })
        .collect();
    json!({"one_time": true, "buttons": rows})
}

#[async_trait]
impl Channel for Vk {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        // A community may write only to users who wrote to it or allowed its messages (901
        // otherwise); there is no "share phone" button, so the number is typed and parsed.
        Capabilities {
            realtime: true,
            can_initiate: Initiate::Never,
            free_form_window: None,
            phone_share: PhoneShare::Text,
            buttons: Buttons::Reply,
            max_buttons: 10,
            max_button_label: 40,
            max_text_len: 4096,
        }
    }

    async fn send(
        &self,
        lead: &LeadRecord,
        msg: &OutboundMessage,
        key: &str,
        _outbox_id: i64,
    ) -> Result<(), DeliveryError> {
        let peer = self
            .chats
            .chat_of_lead(&self.bot(), lead.id)
            .await
            .map_err(|e| DeliveryError::Retryable(e.to_string()))?
            .ok_or_else(|| DeliveryError::CannotInitiate(format!("lead {} has no VK conversation", lead.id)))?;
        self.api
            .send_message(peer, random_id(key), &msg.text, Some(&keyboard(&msg.buttons)))
            .await
            .map(|_| ())
            .map_err(|e| e.into_delivery())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_become_a_one_time_text_keyboard() {
        let k = keyboard(&["Часы работы".into(), "щ".repeat(50)]);
        assert_eq!(k["one_time"], true);
        assert_eq!(k["buttons"][0][0]["action"]["type"], "text");
        assert_eq!(k["buttons"][0][0]["action"]["label"], "Часы работы");
        assert_eq!(
            k["buttons"][1][0]["action"]["label"].as_str().unwrap().chars().count(),
            40
        );
        assert_eq!(keyboard(&[])["buttons"], json!([]));
    }
}
