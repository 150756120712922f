//! Spawns, routes to, passivates and restarts lead actors. A crash of one lead restarts that lead
//! from its snapshot (with backoff); a lead that keeps crashing is parked as `needs_review`.
//! It never stops because a child stopped: ractor's default would.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr, SupervisionEvent};
use serde::Serialize;

use super::lead::{LeadActor, LeadMsg};
use super::manager_pool::{ManagerPool, PoolArgs, PoolMsg};
use super::LeadDeps;
use crate::domain::{LeadId, Outcome};
use crate::intake::{Intake, Waiter};
use crate::routing::Roster;
use crate::store::{DueTimer, StoreError};
use crate::telemetry;

/// How long an operator's restart waits for the new actor to load and catch up.
const RESTART_WAIT: Duration = Duration::from_secs(5);

pub enum SupervisorMsg {
    /// Something is in the lead's inbox: activate it if needed and let it pull.
    Wake(LeadId, Option<Waiter>),
    Timer(DueTimer),
    /// Operator: restart the lead's actor from its last snapshot.
    Restart(LeadId, RpcReplyPort<Result<(), String>>),
    /// Re-spawn after a crash, once the backoff elapsed.
    Respawn(LeadId),
    Inspect(LeadId, RpcReplyPort<ActorState>),
    LiveCount(RpcReplyPort<usize>),
    /// The manager pool this supervisor started (for the operator API).
    ManagerPool(RpcReplyPort<ActorRef<PoolMsg>>),
}

/// The actor side of a lead, as the operator API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorState {
    Running,
    /// No live actor; the next event or timer activates it from the snapshot.
    Passivated,
    /// Crashed; waiting out the backoff before it is re-spawned.
    Restarting,
}

pub struct LeadSupervisor;

pub struct SupervisorArgs {
    pub deps: Arc<LeadDeps>,
    pub roster: Roster,
}

pub struct SupervisorState {
    deps: Arc<LeadDeps>,
    pool: ActorRef<PoolMsg>,
    /// To start the pool again should it ever fail.
    roster: Roster,
    live: HashMap<LeadId, ActorRef<LeadMsg>>,
    by_actor: HashMap<ActorId, LeadId>,
    crashes: HashMap<LeadId, VecDeque<Instant>>,
    /// Consecutive transient failures (the database away): they back off like crashes but
    /// never count towards parking.
    transient: HashMap<LeadId, (u32, Instant)>,
    restarting: HashMap<LeadId, Vec<Waiter>>,
}

impl Actor for LeadSupervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        // The pool hands queued leads over through the intake port, whose owner is this
        // supervisor; lead actors ask the pool. Spawning it here gives both sides their
        // reference at birth (no setter afterwards); it stops with the supervisor.
        let pool = spawn_pool(&myself, &args.deps, &args.roster).await?;
        Ok(SupervisorState {
            pool,
            roster: args.roster,
            deps: args.deps,
            live: HashMap::new(),
            by_actor: HashMap::new(),
            crashes: HashMap::new(),
            transient: HashMap::new(),
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
            SupervisorMsg::Wake(lead, done) => {
                if let Some(waiters) = st.restarting.get_mut(&lead) {
                    // The re-spawn will pull everything anyway; answer the waiter then.
                    waiters.extend(done);
                    return Ok(());
                }
                if let Some(actor) = st.ensure_live(&myself, lead).await {
                    if let Err(e) = actor.cast(LeadMsg::Pull { done }) {
                        // Stopping at this very moment: the termination handler re-wakes it.
                        tracing::debug!(lead_id = %lead, error = %e, "wake raced a stopping actor");
                    }
                }
            }
            SupervisorMsg::Timer(timer) => {
                if st.restarting.contains_key(&timer.lead) {
                    return Ok(()); // the claim lapses and the timer service offers it again
                }
                if let Some(actor) = st.ensure_live(&myself, timer.lead).await {
                    let _ = actor.cast(LeadMsg::Timer(timer));
                }
            }
            SupervisorMsg::Restart(lead, reply) => {
                if let Some(actor) = st.live.remove(&lead) {
                    st.by_actor.remove(&actor.get_id());
                    // Kill, not stop: a stuck handler must not delay the operator's restart.
                    let _ = actor.kill_and_wait(Some(Duration::from_secs(5))).await;
                    metrics::gauge!(telemetry::ACTORS_ACTIVE).decrement(1.0);
                }
                st.crashes.remove(&lead);
                st.transient.remove(&lead);
                let waiters = st.restarting.remove(&lead).unwrap_or_default();
                let result = match st.ensure_live(&myself, lead).await {
                    // Answered once the new actor has loaded its snapshot and applied its inbox
                    // (it loads after the spawn): a start that fails is the operator's answer.
                    Some(actor) => {
                        let (done, loaded) = tokio::sync::oneshot::channel();
                        let waiter = Waiter {
                            inbox_id: None,
                            reply: done,
                            row: None,
                        };
                        let _ = actor.cast(LeadMsg::Pull { done: Some(waiter) });
                        match tokio::time::timeout(RESTART_WAIT, loaded).await {
                            Ok(Ok(_)) => {
                                tracing::info!(lead_id = %lead, "lead actor restarted by operator");
                                metrics::counter!(telemetry::ACTOR_RESTARTS, "cause" => "operator").increment(1);
                                Ok(())
                            }
                            _ => Err(format!("lead {lead} could not be started")),
                        }
                    }
                    None => Err(format!("lead {lead} could not be started")),
                };
                drop(waiters);
                let _ = reply.send(result);
            }
            SupervisorMsg::Respawn(lead) => {
                let waiters = st.restarting.remove(&lead).unwrap_or_default();
                if let Some(actor) = st.ensure_live(&myself, lead).await {
                    for w in waiters {
                        let _ = actor.cast(LeadMsg::Pull { done: Some(w) });
                    }
                    let _ = actor.cast(LeadMsg::Pull { done: None });
                }
            }
            SupervisorMsg::Inspect(lead, reply) => {
                let state = if st.restarting.contains_key(&lead) {
                    ActorState::Restarting
                } else if st.live.contains_key(&lead) {
                    ActorState::Running
                } else {
                    ActorState::Passivated
                };
                let _ = reply.send(state);
            }
            SupervisorMsg::LiveCount(reply) => {
                let _ = reply.send(st.live.len());
            }
            SupervisorMsg::ManagerPool(reply) => {
                let _ = reply.send(st.pool.clone());
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
        // A failure only: a pool that terminated was stopped (shutting down).
        if let SupervisionEvent::ActorFailed(cell, _) = &evt {
            if cell.get_id() == st.pool.get_id() {
                // The pool restores its state from the store at start; leads' calls in between
                // fail and their steps are retried.
                tracing::error!(event = ?evt, "the manager pool stopped; starting it again");
                st.pool = spawn_pool(&myself, &st.deps, &st.roster).await?;
                return Ok(());
            }
        }
        match evt {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                let Some(lead) = st.forget(&cell) else { return Ok(()) };
                metrics::counter!(telemetry::PASSIVATIONS).increment(1);
                tracing::debug!(lead_id = %lead, reason = ?reason, "lead actor stopped");
                // A message may have reached the inbox while it was stopping: look once more.
                let store = st.deps.store.clone();
                let me = myself.clone();
                tokio::spawn(async move {
                    if let Ok(true) = store.has_unapplied_inbox(lead).await {
                        let _ = me.cast(SupervisorMsg::Wake(lead, None));
                    }
                });
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                let Some(lead) = st.forget(&cell) else { return Ok(()) };
                // post_stop is skipped on a crash, so the gauge is corrected here.
                metrics::gauge!(telemetry::ACTORS_ACTIVE).decrement(1.0);
                st.crashed(&myself, lead, &err);
            }
            _ => {}
        }
        Ok(())
    }
}

impl SupervisorState {
    /// A lead's actor failed (in a handler or while starting): re-spawn it after a backoff, or
    /// park the lead when it keeps failing. A lost database connection is not the lead's fault:
    /// it is retried with backoff but never parks the lead.
    fn crashed(&mut self, myself: &ActorRef<SupervisorMsg>, lead: LeadId, err: &ActorProcessingErr) {
        let transient = is_transient(err);
        metrics::counter!(telemetry::ACTOR_RESTARTS, "cause" => if transient { "database" } else { "crash" })
            .increment(1);
        let rt = &self.deps.runtime;
        let crashes = self.crashes.entry(lead).or_default();
        crashes.retain(|t| t.elapsed() < rt.restart_window);
        if !transient {
            crashes.push_back(Instant::now());
        }
        let count = crashes.len() as u32;
        let transient_run = if transient {
            let (n, last) = self.transient.entry(lead).or_insert((0, Instant::now()));
            // A run of outages ends when the lead has been fine for a while.
            if last.elapsed() > rt.restart_backoff_max.saturating_mul(4) {
                *n = 0;
            }
            *n = n.saturating_add(1);
            *last = Instant::now();
            *n
        } else {
            self.transient.remove(&lead);
            0
        };
        if count > rt.restart_limit {
            tracing::error!(lead_id = %lead, crashes = count, error = %err, "lead keeps crashing; parked for review");
            self.crashes.remove(&lead);
            self.transient.remove(&lead);
            self.restarting.remove(&lead);
            metrics::counter!(telemetry::LEADS_PARKED).increment(1);
            let store = self.deps.store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.park_lead(lead, Outcome::CrashLoop.as_str()).await {
                    tracing::error!(lead_id = %lead, error = %e, "could not park lead");
                }
            });
            return;
        }
        // Doubles per failure, crash or outage alike, up to the cap.
        let failures = count.max(transient_run);
        let backoff = rt
            .restart_backoff
            .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
            .min(rt.restart_backoff_max);
        tracing::warn!(lead_id = %lead, crashes = count, backoff_ms = backoff.as_millis() as u64, error = %err, "lead actor failed; restarting from snapshot");
        self.restarting.entry(lead).or_default();
        myself.send_after(backoff, move || SupervisorMsg::Respawn(lead));
    }

    /// Removes a stopped child from the maps; `None` if it was already replaced.
    fn forget(&mut self, cell: &ActorCell) -> Option<LeadId> {
        let lead = self.by_actor.remove(&cell.get_id())?;
        if self.live.get(&lead).is_some_and(|a| a.get_id() == cell.get_id()) {
            self.live.remove(&lead);
        }
        Some(lead)
    }

    /// The lead's live actor, spawning it (from its snapshot) if needed.
    async fn ensure_live(&mut self, myself: &ActorRef<SupervisorMsg>, lead: LeadId) -> Option<ActorRef<LeadMsg>> {
        if let Some(a) = self.live.get(&lead) {
            return Some(a.clone());
        }
        let actor = LeadActor {
            deps: self.deps.clone(),
            pool: self.pool.clone(),
        };
        match Actor::spawn_linked(None, actor, lead, myself.get_cell()).await {
            Ok((actor, _join)) => {
                self.by_actor.insert(actor.get_id(), lead);
                self.live.insert(lead, actor.clone());
                Some(actor)
            }
            Err(SpawnErr::StartupFailed(err)) => {
                self.crashed(myself, lead, &err);
                None
            }
            Err(e) => {
                tracing::error!(lead_id = %lead, error = %e, "could not start lead actor");
                None
            }
        }
    }
}

/// The manager pool, as this supervisor's child; it hands queued leads over through an intake
/// port whose owner is this supervisor.
async fn spawn_pool(
    myself: &ActorRef<SupervisorMsg>,
    deps: &Arc<LeadDeps>,
    roster: &Roster,
) -> Result<ActorRef<PoolMsg>, ActorProcessingErr> {
    let intake = Intake::new(deps.store.clone(), Arc::new(myself.clone()), deps.runtime.apply_wait);
    let (pool, _) = Actor::spawn_linked(
        None,
        ManagerPool,
        PoolArgs {
            roster: roster.clone(),
            store: deps.store.clone(),
            intake,
        },
        myself.get_cell(),
    )
    .await?;
    Ok(pool)
}

/// Errors that say the database is unreachable rather than that the lead is broken.
fn is_transient(err: &ActorProcessingErr) -> bool {
    err.downcast_ref::<StoreError>().is_some_and(StoreError::is_transient)
}
