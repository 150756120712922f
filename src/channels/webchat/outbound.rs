use async_trait::async_trait;

use super::CHANNEL;
use crate::channels::{Buttons, Capabilities, Channel, Initiate, PhoneShare};
use crate::domain::LeadRecord;
use crate::outbox::{DeliveryError, OutboundMessage};

/// The page reads the transcript, which the lead's step already committed, so delivery has
/// nothing left to do.
pub struct WebChat;

#[async_trait]
impl Channel for WebChat {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        // The page shows the transcript: plain text, the phone typed into the chat.
        Capabilities {
            realtime: true,
            can_initiate: Initiate::Always,
            free_form_window: None,
            phone_share: PhoneShare::Text,
            buttons: Buttons::None,
            max_buttons: 0,
            max_button_label: 0,
            max_text_len: 4000,
        }
    }

    fn delivered_by_transcript(&self) -> bool {
        true
    }

    async fn send(
        &self,
        _lead: &LeadRecord,
        _msg: &OutboundMessage,
        _key: &str,
        _outbox_id: i64,
    ) -> Result<(), DeliveryError> {
        Ok(())
    }
}
