//! The durable timer service: one loop for all leads. Claims due timers from the database and
//! sends them to the supervisor, which activates the lead if it is passivated. Timers that fell
//! due while the process was down are due at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ractor::ActorRef;
use tokio::sync::Notify;

use super::supervisor::SupervisorMsg;
use crate::store::Store;

/// A claimed timer the lead did not handle (crash) is claimable again after this.
const CLAIM_LEASE: Duration = Duration::from_secs(30);
const BATCH: i64 = 500;

pub async fn run_timer_service(
    store: Arc<dyn Store>,
    supervisor: ActorRef<SupervisorMsg>,
    wake: Arc<Notify>,
    poll: Duration,
) {
    loop {
        let now = Utc::now();
        let lease = now + chrono::Duration::from_std(CLAIM_LEASE).unwrap_or_default();
        match store.claim_due_timers(now, lease, BATCH).await {
            Ok(due) => {
                let full = due.len() as i64 == BATCH;
                for timer in due {
                    if supervisor.cast(SupervisorMsg::Timer(timer)).is_err() {
                        return; // the supervisor is gone: shutting down
                    }
                }
                if full {
                    continue;
                }
            }
            Err(e) => tracing::warn!(error = %e, "timer scan failed"),
        }
        let sleep_for = match store.next_timer_due().await {
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
