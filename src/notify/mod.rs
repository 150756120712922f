//! Manager notifications: always a log line, and a JSON POST to a configured URL.

use std::time::Duration;

use crate::config::NotifySettings;
use crate::outbox::DeliveryError;
pub use crate::outbox::Notification;

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
            phone = %n.phone.as_ref().map(|p| p.masked()).unwrap_or_default(),
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
            // Without the URL: it may carry a secret (a token in the path or the query).
            .map_err(|e| DeliveryError::Retryable(format!("notify webhook: {}", e.without_url())))?;
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
