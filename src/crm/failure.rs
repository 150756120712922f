//! Why one stored CRM event could not be processed yet (retried later, or given up for good),
//! and how its row is finished. Shared by every CRM adapter's event worker.

use chrono::{DateTime, Utc};

use crate::store::{CrmStore, StoreError, StoredEvent};

/// Attempts of one event before it is given up (kept with its error for the operator).
pub const MAX_ATTEMPTS: i32 = 12;

/// Why one event could not be processed yet.
#[derive(Debug, Clone)]
pub enum Failure {
    Retry(String),
    GiveUp(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            Failure::Retry(e.to_string())
        } else {
            Failure::GiveUp(e.to_string())
        }
    }
}

impl From<crate::intake::IntakeError> for Failure {
    fn from(e: crate::intake::IntakeError) -> Self {
        match e {
            crate::intake::IntakeError::Invalid(why) => Failure::GiveUp(why),
            crate::intake::IntakeError::Store(e) => e.into(),
        }
    }
}

/// When the next attempt of an event that failed `attempts` times is due (2^n s, ≤ 10 min).
pub fn retry_at(attempts: i32) -> DateTime<Utc> {
    let secs = 2i64.saturating_pow(attempts.clamp(1, 10) as u32).min(600);
    Utc::now() + chrono::Duration::seconds(secs)
}

/// Records the outcome of processing `ev`.
pub async fn finish(
    store: &dyn CrmStore,
    crm: &str,
    ev: &StoredEvent,
    result: Result<(), Failure>,
) -> Result<(), StoreError> {
    match result {
        Ok(()) => store.event_done(ev.id).await,
        Err(Failure::Retry(e)) if ev.attempts < MAX_ATTEMPTS => {
            tracing::warn!(crm, event = %ev.event, id = %ev.entity_id, attempts = ev.attempts, error = %e, "CRM event will be retried");
            store.event_retry(ev.id, &e, retry_at(ev.attempts)).await
        }
        Err(Failure::Retry(e) | Failure::GiveUp(e)) => {
            tracing::error!(crm, event = %ev.event, id = %ev.entity_id, error = %e, "CRM event given up");
            store.event_failed(ev.id, &e).await
        }
    }
}
