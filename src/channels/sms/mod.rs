//! SMS: one [`SmsProvider`] trait, two gateways (SMS.ru, SMSC.ru) chosen in `sms.toml`, the
//! [`Channel`](crate::channels::Channel) that sends a lead's messages to its phone, and the
//! gateways' delivery callbacks (a secret in the URL: neither gateway signs them).
//!
//! - `smsru.rs`, `smsc.rs`: the gateways' send calls, error codes and callback bodies;
//! - `outbound.rs`: the channel (to the lead's E.164 number);
//! - `inbound.rs`: delivery callbacks → the outbox row and the metrics.

mod inbound;
mod outbound;
mod smsc;
mod smsru;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{SmsProviderKind, SmsSettings};
use crate::domain::Phone;
use crate::outbox::DeliveryError;
pub use inbound::{SmsCallbacks, SmsReject};
pub use smsc::Smsc;
pub use smsru::SmsRu;

pub const CHANNEL: &str = "sms";

/// What a gateway reported about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// The gateway's id of the message.
    pub provider_id: String,
    /// Our outbox row, where the gateway carries it back (SMSC's `id`).
    pub outbox_id: Option<i64>,
    pub outcome: SmsOutcome,
    /// The gateway's own status code, for the record.
    pub code: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsOutcome {
    Delivered,
    /// Not delivered, and never will be (expired, wrong number, refused).
    Failed,
    /// Queued, sent to the operator, or anything else on the way.
    Pending,
}

impl SmsOutcome {
    pub fn label(self) -> &'static str {
        match self {
            SmsOutcome::Delivered => "delivered",
            SmsOutcome::Failed => "failed",
            SmsOutcome::Pending => "pending",
        }
    }
}

/// One SMS gateway.
#[async_trait]
pub trait SmsProvider: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Sends `text` to `to`; `outbox_id` identifies the message where the gateway lets us name
    /// it (a repeat of the same row is then refused as a duplicate, not sent twice). Returns the
    /// gateway's id of the message.
    async fn send(&self, to: &Phone, text: &str, outbox_id: i64) -> Result<String, DeliveryError>;
    /// The reports in one delivery callback (a form body).
    fn parse_callback(&self, form: &[(String, String)]) -> Vec<StatusReport>;
    /// The body the gateway wants back from a callback.
    fn callback_ack(&self) -> &'static str;
}

/// The gateway `sms.toml` names.
pub fn provider(settings: &SmsSettings) -> Result<Arc<dyn SmsProvider>, reqwest::Error> {
    Ok(match settings.provider {
        SmsProviderKind::Smsru => Arc::new(SmsRu::new(settings)?),
        SmsProviderKind::Smsc => Arc::new(Smsc::new(settings)?),
    })
}

/// The SMS channel: the lead's messages to its phone through the configured gateway.
pub struct Sms {
    pub settings: SmsSettings,
    pub provider: Arc<dyn SmsProvider>,
}

impl Sms {
    pub fn new(settings: SmsSettings) -> Result<Arc<Sms>, reqwest::Error> {
        let provider = provider(&settings)?;
        Ok(Arc::new(Sms { settings, provider }))
    }
}

fn http() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
}
