use async_trait::async_trait;

use super::{Sms, CHANNEL};
use crate::channels::{Buttons, Capabilities, Channel, Initiate, PhoneShare};
use crate::domain::LeadRecord;
use crate::outbox::{DeliveryError, OutboundMessage};

#[async_trait]
impl Channel for Sms {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        // Any number can be written to; the gateways do not pass replies on, so no dialog is
        // held here (a link in the text brings the client to a chat).
        Capabilities {
            realtime: false,
            can_initiate: Initiate::Always,
            free_form_window: None,
            phone_share: PhoneShare::Implicit,
            buttons: Buttons::None,
            max_buttons: 0,
            max_button_label: 0,
            max_text_len: self.settings.max_text_len,
        }
    }

    async fn send(
        &self,
        lead: &LeadRecord,
        msg: &OutboundMessage,
        _key: &str,
        outbox_id: i64,
    ) -> Result<(), DeliveryError> {
        let phone = lead
            .phone
            .as_ref()
            .ok_or_else(|| DeliveryError::CannotInitiate(format!("lead {} has no phone for an SMS", lead.id)))?;
        let id = self.provider.send(phone, &msg.text, outbox_id).await?;
        tracing::info!(lead_id = %lead.id, outbox_id, phone = %phone.masked(), provider = self.provider.name(), sms_id = %id, "SMS sent");
        Ok(())
    }
}
