//! Delivery callbacks: the secret in the URL checked (constant time) before the body is read,
//! each report counted per outcome, and a failed message's outbox row (where the gateway names
//! it) marked failed with the gateway's code.

use std::sync::Arc;

use super::{SmsOutcome, SmsProvider, CHANNEL};
use crate::domain::secret::constant_time_eq;
use crate::intake::{Intake, IntakeError};
use crate::telemetry;

#[derive(Debug, thiserror::Error)]
pub enum SmsReject {
    #[error("wrong callback secret")]
    Forbidden,
    #[error("{0}")]
    Malformed(String),
    #[error("storage: {0}")]
    Store(String),
}

impl From<IntakeError> for SmsReject {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Invalid(why) => SmsReject::Malformed(why),
            IntakeError::Store(e) => SmsReject::Store(e.to_string()),
        }
    }
}

pub struct SmsCallbacks {
    provider: Arc<dyn SmsProvider>,
    secret: String,
    intake: Intake,
}

impl SmsCallbacks {
    pub fn new(provider: Arc<dyn SmsProvider>, secret: String, intake: Intake) -> Arc<SmsCallbacks> {
        Arc::new(SmsCallbacks {
            provider,
            secret,
            intake,
        })
    }

    /// One callback; returns the body the gateway wants back.
    pub async fn handle(&self, secret: &str, body: &[u8]) -> Result<&'static str, SmsReject> {
        if self.secret.is_empty() || !constant_time_eq(secret.as_bytes(), self.secret.as_bytes()) {
            return Err(SmsReject::Forbidden);
        }
        let form: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|e| SmsReject::Malformed(format!("not a form: {e}")))?;
        for r in self.provider.parse_callback(&form) {
            metrics::counter!(telemetry::CHANNEL_STATUSES, "channel" => CHANNEL, "status" => r.outcome.label())
                .increment(1);
            if r.outcome != SmsOutcome::Failed {
                continue;
            }
            let reason = format!("{} status {} for {}", self.provider.name(), r.code, r.provider_id);
            match r.outbox_id {
                Some(id) => self.intake.delivery_failed(id, &reason).await?,
                None => tracing::warn!(reason = %reason, "an SMS was not delivered"),
            }
        }
        Ok(self.provider.callback_ack())
    }
}
