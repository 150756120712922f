//! Delivers the outbox: bot messages through their channel, manager notifications through the
//! notifier. Runs after the lead's step committed; retries with backoff; a row marked sent is
//! never sent again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::channels::Channels;
use crate::config::NotifySettings;
use crate::crm::{CrmUpdate, Crms};
use crate::domain::LeadId;
use crate::notify::{Notification, Notifier};
use crate::store::{OutboxItem, Store};
use crate::telemetry;

pub const KIND_MESSAGE: &str = "message";
pub const KIND_NOTIFICATION: &str = "notification";
pub const KIND_CRM: &str = "crm";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (network, 5xx, rate limit).
    #[error("{0}")]
    Retryable(String),
    /// Will never succeed as it is (4xx, unknown channel).
    #[error("{0}")]
    Permanent(String),
    /// The provider's flood control: try again after this long. Not a failure (never given up),
    /// and the dispatcher does not sit out the wait, so other leads' messages keep flowing.
    #[error("throttled for {0:?}")]
    Throttled(Duration),
}

/// A bot message as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub channel: String,
    pub text: String,
}

const BATCH: i64 = 100;
const MAX_BACKOFF: Duration = Duration::from_secs(600);

pub struct Dispatcher {
    store: Arc<dyn Store>,
    channels: Channels,
    crms: Crms,
    notifier: Notifier,
    settings: NotifySettings,
    wake: Arc<Notify>,
    poll: Duration,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        channels: Channels,
        crms: Crms,
        notifier: Notifier,
        settings: NotifySettings,
        wake: Arc<Notify>,
        poll: Duration,
    ) -> Dispatcher {
        Dispatcher {
            store,
            channels,
            crms,
            notifier,
            settings,
            wake,
            poll,
        }
    }

    /// Runs until the task is aborted.
    pub async fn run(self) {
        loop {
            match self.deliver_due().await {
                Ok(n) if n as i64 == BATCH => continue, // more may be waiting
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox scan failed"),
            }
            if let Ok(pending) = self.store.outbox_pending().await {
                metrics::gauge!(telemetry::OUTBOX_PENDING).set(pending as f64);
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    async fn deliver_due(&self) -> Result<usize, crate::store::StoreError> {
        let now = Utc::now();
        // A claimed row stays hidden while it is in flight; after a crash it is due again once
        // the lease lapses, which is just past the longest a delivery may take.
        let in_flight = self.settings.timeout.saturating_mul(2) + Duration::from_secs(1);
        let lease = now + chrono::Duration::from_std(in_flight).unwrap_or_default();
        let items = self.store.claim_outbox(now, lease, BATCH).await?;
        let n = items.len();
        // A lead whose message has to wait gets nothing newer sent before it: the client reads
        // the bot's messages in order.
        let mut held: HashMap<LeadId, DateTime<Utc>> = HashMap::new();
        for item in items {
            if item.kind == KIND_MESSAGE {
                if let Some(next) = held.get(&item.lead) {
                    self.store
                        .outbox_retry(item.id, "waiting for an earlier message", *next)
                        .await?;
                    continue;
                }
            }
            let result = self.deliver(&item).await;
            let outcome = match &result {
                Ok(()) => "sent",
                Err(DeliveryError::Retryable(_)) => "retry",
                Err(DeliveryError::Permanent(_)) => "failed",
                Err(DeliveryError::Throttled(_)) => "throttled",
            };
            metrics::counter!(telemetry::OUTBOX_DELIVERIES, "kind" => item.kind.clone(), "outcome" => outcome)
                .increment(1);
            match result {
                Ok(()) => self.store.outbox_sent(item.id).await?,
                Err(DeliveryError::Throttled(after)) => {
                    tracing::info!(outbox_id = item.id, lead_id = %item.lead, ?after, "throttled by the provider");
                    let next = Utc::now() + chrono::Duration::from_std(after).unwrap_or_default();
                    self.store.outbox_retry(item.id, "throttled", next).await?;
                    held.insert(item.lead, next);
                }
                Err(DeliveryError::Retryable(e)) if (item.attempts as u32) < self.settings.max_attempts => {
                    let backoff = self
                        .settings
                        .retry_base
                        .saturating_mul(1u32 << (item.attempts.clamp(1, 16) - 1))
                        .min(MAX_BACKOFF);
                    tracing::warn!(outbox_id = item.id, lead_id = %item.lead, attempts = item.attempts, error = %e, "delivery failed, will retry");
                    let next = Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default();
                    self.store.outbox_retry(item.id, &e, next).await?;
                    held.insert(item.lead, next);
                }
                Err(e) => {
                    tracing::error!(outbox_id = item.id, lead_id = %item.lead, error = %e, "delivery given up");
                    self.store.outbox_failed(item.id, &e.to_string()).await?;
                }
            }
        }
        Ok(n)
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        match item.kind.as_str() {
            KIND_MESSAGE => {
                let msg: OutboundMessage = serde_json::from_value(item.payload.clone())
                    .map_err(|e| DeliveryError::Permanent(format!("bad message payload: {e}")))?;
                let channel = self
                    .channels
                    .get(&msg.channel)
                    .ok_or_else(|| DeliveryError::Permanent(format!("no channel `{}`", msg.channel)))?;
                let lead = self
                    .store
                    .get_lead(item.lead)
                    .await
                    .map_err(|e| DeliveryError::Retryable(e.to_string()))?;
                channel.send(&lead, &msg.text, &item.idempotency_key).await
            }
            KIND_NOTIFICATION => {
                let n: Notification = serde_json::from_value(item.payload.clone())
                    .map_err(|e| DeliveryError::Permanent(format!("bad notification payload: {e}")))?;
                self.notifier.send(&n, &item.idempotency_key).await
            }
            KIND_CRM => {
                let update: CrmUpdate = serde_json::from_value(item.payload.clone())
                    .map_err(|e| DeliveryError::Permanent(format!("bad CRM update payload: {e}")))?;
                let lead = self
                    .store
                    .get_lead(item.lead)
                    .await
                    .map_err(|e| DeliveryError::Retryable(e.to_string()))?;
                let crm = self
                    .crms
                    .get(&lead.source)
                    .ok_or_else(|| DeliveryError::Permanent(format!("no CRM adapter for source `{}`", lead.source)))?;
                crm.apply(&lead, &update, &item.idempotency_key).await
            }
            other => Err(DeliveryError::Permanent(format!("unknown outbox kind `{other}`"))),
        }
    }
}
