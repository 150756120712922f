use async_trait::async_trait;
use serde_json::json;

use super::{Telegram, TgError, CHANNEL};
use crate::channels::{Buttons, Capabilities, Channel, Initiate, PhoneShare};
use crate::domain::{LeadRecord, LeadStatus};
use crate::outbox::{DeliveryError, OutboundMessage};

#[async_trait]
impl Channel for Telegram {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        // Bots cannot write first: only chats the client opened can carry a dialog. The
        // contact button shares a verified number; answers go on a reply keyboard.
        Capabilities {
            realtime: true,
            can_initiate: Initiate::Never,
            free_form_window: None,
            phone_share: PhoneShare::Native,
            buttons: Buttons::Reply,
            max_buttons: 10,
            max_button_label: 64,
            max_text_len: 4096,
        }
    }

    async fn send(
        &self,
        lead: &LeadRecord,
        msg: &OutboundMessage,
        _key: &str,
        _outbox_id: i64,
    ) -> Result<(), DeliveryError> {
        let text = msg.text.as_str();
        let chat = self
            .chats
            .chat_of_lead(self.bot(), lead.id)
            .await
            .map_err(|e| DeliveryError::Retryable(e.to_string()))?
            .ok_or_else(|| DeliveryError::Permanent(format!("lead {} has no Telegram chat", lead.id)))?;
        // While the bot waits for the phone, offer the one-tap "share my number" button.
        // (Rows from before the flag: the lead's state tells.)
        let waiting_for_phone = msg.request_phone
            || (matches!(lead.status, LeadStatus::New | LeadStatus::BotProcessing) && lead.phone.is_none());
        let mut rows = vec![];
        if waiting_for_phone {
            rows.push(json!([{"text": self.settings.texts.contact_button, "request_contact": true}]));
        }
        rows.extend(msg.buttons.iter().map(|b| json!([{ "text": b }])));
        let markup = if !rows.is_empty() {
            json!({
                "keyboard": rows,
                "resize_keyboard": true,
                "one_time_keyboard": true,
                "input_field_placeholder": self.settings.texts.contact_placeholder,
            })
        } else {
            json!({"remove_keyboard": true})
        };
        match self.api.send_message_once(chat, text, Some(markup)).await {
            Ok(_) => Ok(()),
            // The client blocked the bot: the delivery actor tells the lead (its fallback).
            Err(TgError::Forbidden(reason)) => Err(DeliveryError::Blocked(format!("Telegram: {reason}"))),
            Err(e) => Err(e.into_delivery()),
        }
    }
}
