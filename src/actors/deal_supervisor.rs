//! Spawns, routes to and passivates deal actors (SLA robots). A deal whose actor fails is
//! started again from its last committed state after a backoff that doubles per failure; one
//! that keeps failing is left alone until its next event (logged, counted), so a poisoned deal
//! never spins.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::deal::{DealActor, DealDeps, DealMsg};
use crate::intake::DealWaker;
use crate::store::{DealRef, DueDealTimer};

const BACKOFF: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Failures in a row after which the deal waits for its next event.
const GIVE_UP_AFTER: u32 = 8;

pub enum DealSupervisorMsg {
    Wake(DealRef),
    Timer(DueDealTimer),
    /// Re-spawn after a failure, once the backoff elapsed.
    Respawn(DealRef),
    LiveCount(RpcReplyPort<usize>),
}

impl DealWaker for ActorRef<DealSupervisorMsg> {
    fn wake_deal(&self, deal: DealRef) {
        // Stopping: the row is durable and the recovery scan finds it at the next start.
        let _ = self.cast(DealSupervisorMsg::Wake(deal));
    }
}

pub struct DealSupervisor;

pub struct DealSupervisorState {
    deps: Arc<DealDeps>,
    live: HashMap<DealRef, ActorRef<DealMsg>>,
    by_actor: HashMap<ActorId, DealRef>,
    failures: HashMap<DealRef, (u32, Instant)>,
    restarting: HashMap<DealRef, ()>,
}

impl Actor for DealSupervisor {
    type Msg = DealSupervisorMsg;
    type State = DealSupervisorState;
    type Arguments = Arc<DealDeps>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        deps: Arc<DealDeps>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(DealSupervisorState {
            deps,
            live: HashMap::new(),
            by_actor: HashMap::new(),
            failures: HashMap::new(),
            restarting: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DealSupervisorMsg::Wake(deal) => {
                if st.restarting.contains_key(&deal) {
                    return Ok(()); // the re-spawn pulls everything
                }
                if let Some(a) = st.ensure_live(&myself, &deal).await {
                    let _ = a.cast(DealMsg::Pull);
                }
            }
            DealSupervisorMsg::Timer(timer) => {
                if st.restarting.contains_key(&timer.deal) {
                    return Ok(()); // the claim lapses and the timer is offered again
                }
                if let Some(a) = st.ensure_live(&myself, &timer.deal).await {
                    let _ = a.cast(DealMsg::Timer(timer));
                }
            }
            DealSupervisorMsg::Respawn(deal) => {
                st.restarting.remove(&deal);
                if let Some(a) = st.ensure_live(&myself, &deal).await {
                    let _ = a.cast(DealMsg::Pull);
                }
            }
            DealSupervisorMsg::LiveCount(reply) => {
                let _ = reply.send(st.live.len());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match evt {
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                let Some(deal) = st.forget(&cell) else { return Ok(()) };
                // An event may have arrived while it was stopping: look once more.
                let store = st.deps.store.clone();
                let me = myself.clone();
                tokio::spawn(async move {
                    if let Ok(true) = store.has_unapplied_deal_events(&deal).await {
                        let _ = me.cast(DealSupervisorMsg::Wake(deal));
                    }
                });
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                let Some(deal) = st.forget(&cell) else { return Ok(()) };
                metrics::gauge!(crate::telemetry::DEAL_ACTORS_ACTIVE).decrement(1.0);
                st.failed(&myself, deal, &err.to_string());
            }
            _ => {}
        }
        Ok(())
    }
}

impl DealSupervisorState {
    fn failed(&mut self, myself: &ActorRef<DealSupervisorMsg>, deal: DealRef, err: &str) {
        let (n, last) = self.failures.entry(deal.clone()).or_insert((0, Instant::now()));
        if last.elapsed() > BACKOFF_MAX * 4 {
            *n = 0;
        }
        *n += 1;
        *last = Instant::now();
        let n = *n;
        if n > GIVE_UP_AFTER {
            tracing::error!(deal = %deal, failures = n, error = %err, "deal actor keeps failing; waiting for its next event");
            self.failures.remove(&deal);
            return;
        }
        let backoff = BACKOFF.saturating_mul(1 << (n - 1).min(16)).min(BACKOFF_MAX);
        tracing::warn!(deal = %deal, failures = n, backoff_ms = backoff.as_millis() as u64, error = %err, "deal actor failed; restarting from its last state");
        self.restarting.insert(deal.clone(), ());
        myself.send_after(backoff, move || DealSupervisorMsg::Respawn(deal));
    }

    fn forget(&mut self, cell: &ActorCell) -> Option<DealRef> {
        let deal = self.by_actor.remove(&cell.get_id())?;
        if self.live.get(&deal).is_some_and(|a| a.get_id() == cell.get_id()) {
            self.live.remove(&deal);
        }
        Some(deal)
    }

    async fn ensure_live(&mut self, myself: &ActorRef<DealSupervisorMsg>, deal: &DealRef) -> Option<ActorRef<DealMsg>> {
        if let Some(a) = self.live.get(deal) {
            return Some(a.clone());
        }
        let actor = DealActor {
            deps: self.deps.clone(),
        };
        match Actor::spawn_linked(None, actor, deal.clone(), myself.get_cell()).await {
            Ok((a, _)) => {
                self.by_actor.insert(a.get_id(), deal.clone());
                self.live.insert(deal.clone(), a.clone());
                Some(a)
            }
            Err(ractor::SpawnErr::StartupFailed(err)) => {
                self.failed(myself, deal.clone(), &err.to_string());
                None
            }
            Err(e) => {
                tracing::error!(deal = %deal, error = %e, "could not start deal actor");
                None
            }
        }
    }
}

/// Safety net for lost wake-ups: deals with events not yet applied are woken.
pub async fn run_deal_recovery_scan(
    store: Arc<dyn crate::store::DealStore>,
    supervisor: ActorRef<DealSupervisorMsg>,
    every: Duration,
) {
    loop {
        match store.deals_with_unapplied_events(1000).await {
            Ok(deals) => {
                for d in deals {
                    if supervisor.cast(DealSupervisorMsg::Wake(d)).is_err() {
                        return;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "deal recovery scan failed"),
        }
        if let Ok(n) = store.tracked_deals().await {
            metrics::gauge!(crate::telemetry::DEALS_TRACKED).set(n as f64);
        }
        tokio::time::sleep(every).await;
    }
}
