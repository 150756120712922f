use async_trait::async_trait;

use super::{CallRequest, Voice, CHANNEL};
use crate::channels::{Buttons, Capabilities, Channel, Initiate, PhoneShare};
use crate::domain::LeadRecord;
use crate::outbox::{DeliveryError, OutboundMessage};

#[async_trait]
impl Channel for Voice {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        // Any number can be called; the answer is a keypress, not a dialog.
        Capabilities {
            realtime: false,
            can_initiate: Initiate::Always,
            free_form_window: None,
            phone_share: PhoneShare::Implicit,
            buttons: Buttons::None,
            max_buttons: 0,
            max_button_label: 0,
            max_text_len: 500,
        }
    }

    async fn send(
        &self,
        lead: &LeadRecord,
        msg: &OutboundMessage,
        _key: &str,
        outbox_id: i64,
    ) -> Result<(), DeliveryError> {
        let to = lead
            .phone
            .as_ref()
            .ok_or_else(|| DeliveryError::CannotInitiate(format!("lead {} has no phone to call", lead.id)))?;
        let req = CallRequest {
            lead: lead.id,
            outbox_id,
            to,
            text: &msg.text,
        };
        let id = self.provider.call(&req).await?;
        tracing::info!(lead_id = %lead.id, outbox_id, phone = %to.masked(), provider = self.provider.name(), call_id = %id, "call placed");
        Ok(())
    }
}
