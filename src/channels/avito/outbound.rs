use async_trait::async_trait;

use super::{Avito, CHANNEL};
use crate::channels::{Buttons, Capabilities, Channel, Initiate, PhoneShare};
use crate::domain::LeadRecord;
use crate::outbox::{DeliveryError, OutboundMessage};

#[async_trait]
impl Channel for Avito {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        // Reply-only inside chats the buyer opened; phones are masked, texts plain, ≤ 1000.
        Capabilities {
            realtime: true,
            can_initiate: Initiate::Never,
            free_form_window: None,
            phone_share: PhoneShare::Text,
            buttons: Buttons::None,
            max_buttons: 0,
            max_button_label: 0,
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
        // Leads from Avito carry their chat in the external id: `<user_id>:<chat_id>`.
        let prefix = format!("{}:", self.settings.user_id);
        let chat = lead
            .external_id
            .strip_prefix(&prefix)
            .filter(|_| lead.source == CHANNEL)
            .ok_or_else(|| DeliveryError::CannotInitiate(format!("lead {} has no Avito chat", lead.id)))?;
        self.api
            .send_text(self.settings.user_id, chat, &msg.text)
            .await
            .map(|_| ())
            .map_err(|e| e.into_delivery())
    }
}
