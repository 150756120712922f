use async_trait::async_trait;

use super::CHANNEL;
use crate::channels::{Capabilities, Channel};
use crate::domain::LeadRecord;
use crate::outbox::DeliveryError;

/// The page reads the transcript, which the lead's step already committed, so delivery has
/// nothing left to do.
pub struct WebChat;

#[async_trait]
impl Channel for WebChat {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            realtime: true,
            can_initiate: true,
        }
    }

    async fn send(&self, _lead: &LeadRecord, _text: &str, _key: &str) -> Result<(), DeliveryError> {
        Ok(())
    }
}
