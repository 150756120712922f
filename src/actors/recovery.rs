//! Safety net for lost wake-ups: leads with inbox rows not yet applied (after a crash, or a
//! message that raced a passivating actor) are woken; the oldest row's age is the inbox lag.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ractor::ActorRef;

use super::supervisor::SupervisorMsg;
use crate::store::Store;
use crate::telemetry;

pub async fn run_recovery_scan(store: Arc<dyn Store>, supervisor: ActorRef<SupervisorMsg>, every: Duration) {
    loop {
        // Another node that died leaves claims behind: release them without waiting for leases.
        if let Err(e) = store.release_dead_claims().await {
            tracing::warn!(error = %e, "could not release the claims of dead processes");
        }
        match store.leads_with_unapplied_inbox(1000).await {
            Ok(rows) => {
                let oldest = rows
                    .iter()
                    .map(|(_, at)| (Utc::now() - *at).num_milliseconds() as f64 / 1000.0)
                    .fold(0.0, f64::max);
                metrics::gauge!(telemetry::INBOX_OLDEST_UNAPPLIED).set(oldest);
                for (lead, _) in rows {
                    if supervisor.cast(SupervisorMsg::Wake(lead, None)).is_err() {
                        return;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "inbox recovery scan failed"),
        }
        let live = supervisor
            .call(SupervisorMsg::LiveCount, Some(Duration::from_secs(5)))
            .await;
        if let (Ok(open), Ok(ractor::rpc::CallResult::Success(live))) = (store.count_open_leads().await, live) {
            metrics::gauge!(telemetry::LEADS_PASSIVATED).set((open - live as i64).max(0) as f64);
        }
        tokio::time::sleep(every).await;
    }
}
