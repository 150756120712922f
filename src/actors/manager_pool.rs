//! The manager pool: live load, pauses, absences and the waiting queue in memory (restored from
//! the database at start, so a decision never waits on a recount). Queued leads are assigned
//! the moment capacity frees or a shift starts: the pool writes the assignment into the lead's
//! inbox (durable) and wakes the lead, which stays the only writer of its own state.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;

use crate::domain::{EventKey, InboxPayload, LeadId, ManagerId, ManagerRef};
use crate::intake::Intake;
use crate::routing::{Allocator, ManagerStatus, Request, Roster};
use crate::store::Store;
use crate::telemetry;

/// How often the queue is retried when nothing else happens (shifts start on the clock).
const TICK: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AssignOutcome {
    Assigned(ManagerRef),
    /// Nobody eligible now: the lead waits in the queue.
    Queued,
    /// Nobody eligible and the request asked not to wait (a reassignment).
    NoneAvailable,
}

pub enum PoolMsg {
    Assign {
        request: Request,
        /// Wait in the queue when nobody is eligible (first assignment), or not (reassignment).
        queue_if_busy: bool,
        reply: RpcReplyPort<AssignOutcome>,
    },
    /// The manager no longer holds one of their leads.
    Release {
        manager_id: ManagerId,
    },
    /// The lead no longer waits (closed while queued): it must not take a freed slot.
    Dequeue {
        lead: LeadId,
    },
    /// Try the queue again (a tick, a pause lifted...).
    Drain,
    SetPaused {
        manager_id: String,
        paused: bool,
        reply: RpcReplyPort<Result<(), String>>,
    },
    SetAbsentUntil {
        manager_id: String,
        until: Option<NaiveDate>,
        reply: RpcReplyPort<Result<(), String>>,
    },
    Status(RpcReplyPort<PoolStatus>),
}

#[derive(Debug, Clone, Serialize)]
pub struct PoolStatus {
    pub managers: Vec<ManagerStatus>,
    pub queue_length: usize,
}

pub struct ManagerPool;

pub struct PoolArgs {
    pub roster: Roster,
    pub store: Arc<dyn Store>,
    /// Queued leads are handed over through their inbox, like any other event.
    pub intake: Intake,
}

pub struct PoolState {
    allocator: Allocator,
    store: Arc<dyn Store>,
    intake: Intake,
    tick: Option<tokio::task::JoinHandle<()>>,
}

impl Actor for ManagerPool {
    type Msg = PoolMsg;
    type State = PoolState;
    type Arguments = PoolArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        PoolArgs { roster, store, intake }: PoolArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let saved = store.routing_state().await?;
        let queue: Vec<Request> = saved
            .queue
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect();
        let mut allocator = Allocator::new(roster);
        allocator.restore(saved.load, saved.cursors, saved.paused, saved.absent_until, queue);
        let me = myself.clone();
        let tick = tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                if me.cast(PoolMsg::Drain).is_err() {
                    return;
                }
            }
        });
        // Leads restored into the queue may be assignable right away.
        let _ = myself.cast(PoolMsg::Drain);
        Ok(PoolState {
            allocator,
            store,
            intake,
            tick: Some(tick),
        })
    }

    async fn post_stop(&self, _myself: ActorRef<Self::Msg>, st: &mut Self::State) -> Result<(), ActorProcessingErr> {
        if let Some(t) = st.tick.take() {
            t.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // An error would stop the pool (its supervisor does not restart it): every later lead would
        // wait for a manager forever. A failed message drops its reply port instead (the lead's
        // call fails and its step is retried; the operator gets 503) and the pool carries on.
        if let Err(e) = st.handle_msg(msg).await {
            tracing::error!(error = %e, "manager pool: message failed, the pool carries on");
        }
        Ok(())
    }
}

impl PoolState {
    async fn handle_msg(&mut self, msg: PoolMsg) -> Result<(), ActorProcessingErr> {
        let st = self;
        match msg {
            PoolMsg::Assign {
                request,
                queue_if_busy,
                reply,
            } => {
                let now = Utc::now();
                let outcome = match st.allocator.assign(&request, now) {
                    Some(m) => {
                        st.assigned(&request, &m, false).await;
                        AssignOutcome::Assigned(m)
                    }
                    None if queue_if_busy => {
                        let json = serde_json::to_value(&request)?;
                        // Durable before we say "queued": a restart must find it.
                        st.store.queue_put(request.lead, &json).await?;
                        tracing::info!(lead_id = %request.lead, group = %request.group, "no eligible manager; lead queued");
                        st.allocator.enqueue(request);
                        AssignOutcome::Queued
                    }
                    None => AssignOutcome::NoneAvailable,
                };
                let _ = reply.send(outcome);
                st.save_cursors().await;
                st.export();
            }
            PoolMsg::Dequeue { lead } => {
                if st.allocator.dequeue(lead) {
                    tracing::info!(lead_id = %lead, "lead left the queue");
                }
                // Also when not in memory: a row left over from a crash must not come back.
                st.store.queue_remove(lead).await?;
                st.export();
            }
            PoolMsg::Release { manager_id } => {
                st.allocator.release(&manager_id);
                st.drain().await;
            }
            PoolMsg::Drain => st.drain().await,
            PoolMsg::SetPaused {
                manager_id,
                paused,
                reply,
            } => {
                let result = st.known(&manager_id);
                if result.is_ok() {
                    st.store.set_paused(&manager_id, paused).await?;
                    st.allocator.set_paused(&manager_id, paused);
                    st.drain().await;
                }
                let _ = reply.send(result);
            }
            PoolMsg::SetAbsentUntil {
                manager_id,
                until,
                reply,
            } => {
                let result = st.known(&manager_id);
                if result.is_ok() {
                    st.store.set_absent_until(&manager_id, until).await?;
                    st.allocator.set_absent_until(&manager_id, until);
                    st.drain().await;
                }
                let _ = reply.send(result);
            }
            PoolMsg::Status(reply) => {
                let _ = reply.send(PoolStatus {
                    managers: st.allocator.status(Utc::now()),
                    queue_length: st.allocator.queue().len(),
                });
            }
        }
        Ok(())
    }
}

impl PoolState {
    fn known(&self, id: &str) -> Result<(), String> {
        match self.allocator.roster.manager(id) {
            Some(_) => Ok(()),
            None => Err(format!("no manager with id `{id}`")),
        }
    }

    async fn assigned(&self, req: &Request, m: &ManagerRef, from_queue: bool) {
        metrics::counter!(telemetry::ASSIGNMENTS, "manager" => m.id.to_string(), "group" => req.group.clone())
            .increment(1);
        // `exclude` lists everyone who had the lead; the last one did not react in time.
        if let Some(from) = req.exclude.last() {
            metrics::counter!(
                telemetry::REASSIGNMENTS,
                "group" => req.group.clone(),
                "manager" => m.id.to_string(),
                "from" => from.to_string()
            )
            .increment(1);
        }
        if from_queue {
            let waited = (Utc::now() - req.since).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::histogram!(telemetry::QUEUE_WAIT).record(waited);
        }
    }

    /// Assigns what the queue can give away now; each assignment goes into its lead's inbox.
    async fn drain(&mut self) {
        let given = self.allocator.drain(Utc::now());
        for (req, m) in given {
            let payload = InboxPayload::Assigned {
                manager_id: m.id.clone(),
                manager_name: m.name.clone(),
            };
            let key = EventKey::new(
                "routing",
                format!("assigned:{}:{}:{}", req.lead, m.id, req.since.timestamp_millis()),
            );
            // Stored, then the lead is woken: it stays the only writer of its own state.
            let stored = self.intake.push(req.lead, &key, &payload).await;
            match stored {
                Ok(_) => {
                    if let Err(e) = self.store.queue_remove(req.lead).await {
                        tracing::warn!(lead_id = %req.lead, error = %e, "queued lead assigned but still in the queue table");
                    }
                    self.assigned(&req, &m, true).await;
                    tracing::info!(lead_id = %req.lead, manager_id = %m.id, "queued lead assigned");
                }
                Err(e) => {
                    // Put it back: the next drain tries again.
                    tracing::warn!(lead_id = %req.lead, error = %e, "could not hand a queued lead over");
                    self.allocator.release(&m.id);
                    self.allocator.enqueue(req);
                }
            }
        }
        self.save_cursors().await;
        self.export();
    }

    /// Persists moved round-robin positions so fairness survives a restart. A lost write only
    /// skews the next turn by one after a crash; it never blocks an assignment.
    async fn save_cursors(&mut self) {
        for (group, position) in self.allocator.take_moved_cursors() {
            if let Err(e) = self.store.save_cursor(&group, position).await {
                tracing::warn!(group, error = %e, "could not save the round-robin position");
            }
        }
    }

    /// Per-manager load and the queue as metrics.
    fn export(&self) {
        for s in self.allocator.status(Utc::now()) {
            metrics::gauge!(telemetry::MANAGER_ACTIVE, "manager" => s.id.clone()).set(s.active as f64);
            metrics::gauge!(telemetry::MANAGER_CAPACITY, "manager" => s.id.clone()).set(s.capacity.unwrap_or(0) as f64);
            metrics::gauge!(telemetry::MANAGER_ELIGIBLE, "manager" => s.id).set(if s.eligible { 1.0 } else { 0.0 });
        }
        metrics::gauge!(telemetry::QUEUE_LENGTH).set(self.allocator.queue().len() as f64);
    }
}
