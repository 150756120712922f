//! Manager notifications: always a log line, and a JSON POST to a configured URL.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::NotifySettings;
use crate::delivery::DeliveryError;

/// A notification as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<i64>,
    /// Set for deal notifications (the executor job board).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<String>,
    pub manager_id: String,
    pub manager_name: String,
    pub text: String,
    /// E.164, for the manager (never logged unmasked).
    pub phone: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Notifier {
    http: reqwest::Client,
    webhook_url: Option<String>,
}

impl Notifier {
    pub fn new(settings: &NotifySettings) -> Result<Notifier, reqwest::Error> {
        Ok(Notifier {
            http: reqwest::Client::builder()
                .timeout(settings.timeout)
                .connect_timeout(Duration::from_secs(5))
                .build()?,
            webhook_url: settings.webhook_url.clone(),
        })
    }

    pub async fn send(&self, n: &Notification, idempotency_key: &str) -> Result<(), DeliveryError> {
        tracing::info!(
            lead_id = ?n.lead_id,
            deal_id = ?n.deal_id,
            manager_id = %n.manager_id,
            phone = %n.phone.as_deref().map(leadbot_phone::mask_e164).unwrap_or_default(),
            "manager notified: new lead with a contact"
        );
        let Some(url) = &self.webhook_url else {
            return Ok(());
        };
        let resp = self
            .http
            .post(url)
            .header("Idempotency-Key", idempotency_key)
            .json(n)
            .send()
            .await
            .map_err(|e| DeliveryError::Retryable(format!("notify webhook: {e}")))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Err(DeliveryError::Retryable(format!("notify webhook answered {status}")))
        } else {
            Err(DeliveryError::Permanent(format!("notify webhook answered {status}")))
        }
    }
}
