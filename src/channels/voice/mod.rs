//! Automated calls: one [`VoiceProvider`] trait, Zvonobot and Twilio Voice chosen in
//! `voice.toml`. A call says a short text with a keypress menu ("нажмите 1, чтобы с вами
//! связался менеджер"); the keypress comes back as a webhook and enters the lead's dialog.
//!
//! - `zvonobot.rs`, `twilio.rs`: the providers' create-call requests and keypress webhooks;
//! - `outbound.rs`: the [`Channel`](crate::channels::Channel) that places a lead's call (its
//!   outbox row names the call, so the webhook finds the lead and a retry is recognised);
//! - `inbound.rs`: keypress webhooks verified (Twilio's signature, Zvonobot's URL secret) and
//!   handed to the intake port, deduplicated by the call.

mod inbound;
mod outbound;
pub mod twilio;
mod zvonobot;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{VoiceProviderKind, VoiceSettings};
use crate::domain::{LeadId, Phone};
use crate::outbox::DeliveryError;
pub use inbound::{VoiceReject, VoiceWebhooks};
pub use twilio::Twilio;
pub use zvonobot::Zvonobot;

pub const CHANNEL: &str = "voice";

/// One call to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest<'a> {
    pub lead: LeadId,
    /// The outbox row: it names the call in the webhook URL.
    pub outbox_id: i64,
    pub to: &'a Phone,
    pub text: &'a str,
}

/// One voice provider.
#[async_trait]
pub trait VoiceProvider: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Places the call; returns the provider's id of it.
    async fn call(&self, req: &CallRequest<'_>) -> Result<String, DeliveryError>;
}

/// The provider `voice.toml` names.
pub fn provider(settings: &VoiceSettings) -> Result<Arc<dyn VoiceProvider>, reqwest::Error> {
    Ok(match settings.provider {
        VoiceProviderKind::Zvonobot => Arc::new(Zvonobot::new(settings)?),
        VoiceProviderKind::Twilio => Arc::new(Twilio::new(settings)?),
    })
}

/// The voice channel: a lead's call through the configured provider.
pub struct Voice {
    pub settings: VoiceSettings,
    pub provider: Arc<dyn VoiceProvider>,
}

impl Voice {
    pub fn new(settings: VoiceSettings) -> Result<Arc<Voice>, reqwest::Error> {
        let provider = provider(&settings)?;
        Ok(Arc::new(Voice { settings, provider }))
    }
}

/// The keypress webhook's address for one call (`lead` and `row` name it; Twilio signs the
/// whole URL, Zvonobot's carries the secret in its path).
pub fn webhook_url(settings: &VoiceSettings, lead: LeadId, outbox_id: i64) -> String {
    let base = settings.public_url.trim_end_matches('/');
    match settings.provider {
        VoiceProviderKind::Twilio => format!("{base}/webhooks/voice/twilio?lead={}&row={outbox_id}", lead.0),
        VoiceProviderKind::Zvonobot => format!(
            "{base}/webhooks/voice/zvonobot/{}?lead={}&row={outbox_id}",
            settings.webhook_secret.as_deref().unwrap_or_default(),
            lead.0
        ),
    }
}

fn http() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
}

/// An HTTP status of a create-call request → the delivery outcome.
fn classify_status(provider: &str, status: u16, body: &str) -> DeliveryError {
    let why = format!("{provider} {status}: {}", body.chars().take(300).collect::<String>());
    match status {
        429 => DeliveryError::Throttled(std::time::Duration::from_secs(30)),
        500..=599 => DeliveryError::Retryable(why),
        _ => DeliveryError::Permanent(why),
    }
}
