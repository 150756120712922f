//! The durable timer service: one loop per kind of owner (leads, tracked deals). It claims due
//! timers from the database and hands them to the owners' supervisor, which activates the owner
//! if it is passivated. Timers that fell due while the process was down are due at once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::store::{DealStore, DueDealTimer, DueTimer, Store, StoreResult};

/// A claimed timer the owner did not handle (crash) is claimable again after this.
const CLAIM_LEASE: Duration = Duration::from_secs(30);
const BATCH: i64 = 500;

/// Where one kind of timers is kept.
#[async_trait]
pub trait TimerQueue: Send + Sync + 'static {
    type Due: Send;
    async fn claim(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: i64) -> StoreResult<Vec<Self::Due>>;
    /// The earliest due time among unclaimed timers.
    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
}

pub struct LeadTimers(pub Arc<dyn Store>);
pub struct DealTimers(pub Arc<dyn DealStore>);

#[async_trait]
impl TimerQueue for LeadTimers {
    type Due = DueTimer;
    async fn claim(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: i64) -> StoreResult<Vec<DueTimer>> {
        self.0.claim_due_timers(now, lease_until, limit).await
    }
    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.0.next_timer_due().await
    }
}

#[async_trait]
impl TimerQueue for DealTimers {
    type Due = DueDealTimer;
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<DueDealTimer>> {
        self.0.claim_due_deal_timers(now, lease_until, limit).await
    }
    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.0.next_deal_timer_due().await
    }
}

/// Runs until `deliver` says the owners are gone (shutting down).
pub async fn run_timer_service<Q: TimerQueue>(
    queue: Q,
    deliver: impl Fn(Q::Due) -> bool + Send + Sync + 'static,
    wake: Arc<Notify>,
    poll: Duration,
) {
    loop {
        let now = Utc::now();
        let lease = now + chrono::Duration::from_std(CLAIM_LEASE).unwrap_or_default();
        match queue.claim(now, lease, BATCH).await {
            Ok(due) => {
                let full = due.len() as i64 == BATCH;
                for timer in due {
                    if !deliver(timer) {
                        return;
                    }
                }
                if full {
                    continue;
                }
            }
            Err(e) => tracing::warn!(error = %e, "timer scan failed"),
        }
        let sleep_for = match queue.next_due().await {
            Ok(Some(next)) => (next - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(poll),
            Ok(None) => poll,
            Err(_) => poll,
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(sleep_for.max(Duration::from_millis(5))) => {}
        }
    }
}
