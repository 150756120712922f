//! One actor per open lead: the only writer of the lead's state. Each inbox row or timer is one
//! step: run the pure dialog, commit state + effects in one transaction, then wake delivery.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::manager_pool::AssignOutcome;
use super::manager_pool::PoolMsg;
use super::LeadDeps;
use crate::dialog::{DialogState, Effect, Event, TimerKind};
use crate::domain::{InboxPayload, LeadId, LeadRecord, ManagerId, ManagerRef, Outcome};
use crate::outbox::plan::{self, Plan, StepInput};
use crate::routing::{Priority, Request};
use crate::store::{Direction, DueTimer, Projection, StepCommit, StoreError, TimerChange};
use crate::telemetry;

/// How long the lead waits for the manager pool.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);
const INBOX_BATCH: i64 = 100;

pub enum LeadMsg {
    /// Apply every inbox row not yet applied; `done` is answered after the commit.
    Pull {
        done: Option<oneshot::Sender<()>>,
    },
    Timer(DueTimer),
    /// Passivate if nothing happened for `runtime.passivate_after`.
    IdleCheck,
}

pub struct LeadActor {
    pub deps: Arc<LeadDeps>,
    pub pool: ActorRef<PoolMsg>,
}

pub struct LeadRuntime {
    lead: LeadRecord,
    state: DialogState,
    version: i64,
    last_applied: i64,
    last_activity: Instant,
    idle_timer: Option<JoinHandle<Result<(), ractor::MessagingErr<LeadMsg>>>>,
    /// The person writing in the step being applied (a taken-over conversation).
    author: Option<String>,
}

impl Actor for LeadActor {
    type Msg = LeadMsg;
    type State = LeadRuntime;
    type Arguments = LeadId;

    async fn pre_start(&self, myself: ActorRef<LeadMsg>, id: LeadId) -> Result<LeadRuntime, ActorProcessingErr> {
        let (lead, snapshot) = self.deps.store.load_lead(id).await?;
        let (state, version, last_applied) = match snapshot {
            Some(s) => {
                let state: DialogState = serde_json::from_value(s.state)
                    .map_err(|e| StoreError::Corrupt(format!("lead {id} snapshot: {e}")))?;
                (state, s.version, s.last_applied_inbox_id)
            }
            None => (
                DialogState::new(id, &lead.channel, lead.name.clone(), lead.created_at),
                0,
                0,
            ),
        };
        metrics::gauge!(telemetry::ACTORS_ACTIVE).increment(1.0);
        let mut rt = LeadRuntime {
            lead,
            state,
            version,
            last_applied,
            last_activity: Instant::now(),
            idle_timer: None,
            author: None,
        };
        self.arm_idle_check(&myself, &mut rt);
        Ok(rt)
    }

    async fn handle(
        &self,
        myself: ActorRef<LeadMsg>,
        msg: LeadMsg,
        rt: &mut LeadRuntime,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            LeadMsg::Pull { done } => {
                rt.last_activity = Instant::now();
                self.apply_inbox(rt).await?;
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
            LeadMsg::Timer(timer) => {
                rt.last_activity = Instant::now();
                self.apply_timer(rt, timer).await?;
            }
            LeadMsg::IdleCheck => {
                if rt.last_activity.elapsed() >= self.deps.runtime.passivate_after {
                    myself.stop(Some("passivated".into()));
                    return Ok(());
                }
                self.arm_idle_check(&myself, rt);
            }
        }
        Ok(())
    }

    async fn post_stop(&self, _myself: ActorRef<LeadMsg>, rt: &mut LeadRuntime) -> Result<(), ActorProcessingErr> {
        // Not called after a panic; the supervisor keeps the gauge right in that case.
        if let Some(h) = rt.idle_timer.take() {
            h.abort();
        }
        metrics::gauge!(telemetry::ACTORS_ACTIVE).decrement(1.0);
        Ok(())
    }
}

impl LeadActor {
    fn arm_idle_check(&self, myself: &ActorRef<LeadMsg>, rt: &mut LeadRuntime) {
        if let Some(h) = rt.idle_timer.take() {
            h.abort();
        }
        let after = self.deps.runtime.passivate_after;
        rt.idle_timer = Some(myself.send_after(after, || LeadMsg::IdleCheck));
    }

    async fn apply_inbox(&self, rt: &mut LeadRuntime) -> Result<(), ActorProcessingErr> {
        loop {
            let items = self
                .deps
                .store
                .inbox_after(rt.lead.id, rt.last_applied, INBOX_BATCH)
                .await?;
            if items.is_empty() {
                return Ok(());
            }
            for item in items {
                let started = Instant::now();
                let kind = item.payload.kind();
                let (event, text_in) = match item.payload {
                    InboxPayload::Intake { phone, text } => (
                        Event::Intake {
                            phone,
                            text: text.clone(),
                            channel_can_talk: self.deps.channels.can_talk(&rt.lead.channel),
                        },
                        text.filter(|t| !t.trim().is_empty()),
                    ),
                    InboxPayload::Message { text } => (Event::ClientMessage { text: text.clone() }, Some(text)),
                    InboxPayload::Assigned {
                        manager_id,
                        manager_name,
                    } => (
                        Event::ManagerAssigned(ManagerRef {
                            id: manager_id,
                            name: manager_name,
                        }),
                        None,
                    ),
                    InboxPayload::Accepted => (Event::Accepted, None),
                    InboxPayload::Closed => (Event::Closed, None),
                    InboxPayload::Contact { phone, verified } => (
                        Event::ContactShared {
                            phone: phone.clone(),
                            verified,
                        },
                        Some(format!("[контакт] {phone}")),
                    ),
                    InboxPayload::ChannelJoined { channel } => (Event::ChannelJoined { channel }, None),
                    InboxPayload::TakeOver { by } => (Event::TakenOver { by }, None),
                    InboxPayload::ManagerMessage { author, text } => {
                        rt.author = Some(author);
                        (Event::ManagerWrote { text }, None)
                    }
                    InboxPayload::MarkLowQuality => (Event::MarkedLowQuality, None),
                    InboxPayload::Reassign => (Event::ReassignRequested, None),
                    InboxPayload::ChannelLost { reason } => {
                        tracing::warn!(lead_id = %rt.lead.id, reason = %reason, "client channel lost");
                        (Event::ChannelLost, None)
                    }
                };
                let stepped = self.step(rt, event, text_in, Some(item.id), None).await;
                rt.author = None;
                stepped?;
                let lag = (Utc::now() - item.received_at).num_milliseconds().max(0) as f64 / 1000.0;
                metrics::histogram!(telemetry::INBOX_LAG).record(lag);
                metrics::histogram!(telemetry::MESSAGE_HANDLING, "kind" => kind)
                    .record(started.elapsed().as_secs_f64());
            }
        }
    }

    async fn apply_timer(&self, rt: &mut LeadRuntime, timer: DueTimer) -> Result<(), ActorProcessingErr> {
        let Some(kind) = TimerKind::parse(&timer.kind) else {
            tracing::warn!(lead_id = %rt.lead.id, kind = %timer.kind, "unknown timer kind, dropped");
            return Ok(());
        };
        let started = Instant::now();
        let lag = (Utc::now() - timer.due_at).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::histogram!(telemetry::TIMER_LAG).record(lag);
        let event = Event::TimerFired {
            kind,
            generation: timer.generation as u64,
        };
        self.step(rt, event, None, None, Some((kind, timer.generation))).await?;
        metrics::histogram!(telemetry::MESSAGE_HANDLING, "kind" => "timer").record(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// One durable step: the dialog (and routing, when it asks for a manager) decides, the plan
    /// turns the decision into rows, one commit stores it all, then the pool and delivery hear.
    /// `fired`: the timer being handled, deleted in the same transaction.
    /// Every log line of the step carries the lead's id (its span).
    #[tracing::instrument(name = "lead_step", level = "info", skip_all, fields(lead_id = %rt.lead.id, version = rt.version + 1))]
    async fn step(
        &self,
        rt: &mut LeadRuntime,
        event: Event,
        text_in: Option<String>,
        inbox_id: Option<i64>,
        fired: Option<(TimerKind, i64)>,
    ) -> Result<(), ActorProcessingErr> {
        let now = Utc::now();
        let before = rt.state.clone();
        let (state, effects, picked) = self.decide(rt, event, now).await?;
        let version = rt.version + 1;
        let plan = plan::plan(
            &StepInput {
                lead: rt.lead.id,
                version,
                crm: self.deps.crms.get(&rt.lead.source).map(|c| c.source()),
                before: &before,
                after: &state,
                effects: &effects,
                caps: self.deps.channels.capabilities(&state.channel),
            },
            &|id| self.deps.routing.roster.head_of(id).map(|h| h.as_ref()),
        );
        let commit = commit_of(rt, &state, &plan, text_in, inbox_id, fired)?;
        if let Err(e) = self.deps.store.commit_step(&commit).await {
            // The pool already counted the manager it picked for this step; the step is redone
            // after the restart and picks again, so give the slot back or it leaks until restart.
            if let Some(manager_id) = picked {
                let _ = self.pool.cast(PoolMsg::Release { manager_id });
            }
            return Err(e.into());
        }
        rt.version = version;
        if let Some(id) = inbox_id {
            rt.last_applied = id;
        }
        self.after_commit(rt, &before, state, plan, &commit, now);
        Ok(())
    }

    /// The dialog's step, and routing's answer when the dialog asks for a manager (resolved
    /// before the commit, so the assignment lands in the same transaction). Returns the manager
    /// the pool picked (and counted) for this very step.
    async fn decide(
        &self,
        rt: &LeadRuntime,
        event: Event,
        now: DateTime<Utc>,
    ) -> Result<(DialogState, Vec<Effect>, Option<ManagerId>), ActorProcessingErr> {
        let (mut state, mut effects) = self.deps.dialog.step(rt.state.clone(), event, now);
        let mut picked = None;
        if let Some((text, exclude)) = effects.iter().find_map(|e| match e {
            Effect::FindManager { text, exclude } => Some((text.clone(), exclude.clone())),
            _ => None,
        }) {
            let event = self.find_manager(rt, &state, text, exclude, now).await?;
            if let Event::ManagerAssigned(m) = &event {
                picked = Some(m.id.clone());
            }
            let (next, more) = self.deps.dialog.step(state, event, now);
            state = next;
            effects.extend(more);
        }
        Ok((state, effects, picked))
    }

    /// What the rest of the house learns once the step is durable.
    fn after_commit(
        &self,
        rt: &mut LeadRuntime,
        before: &DialogState,
        state: DialogState,
        plan: Plan,
        commit: &StepCommit,
        now: DateTime<Utc>,
    ) {
        self.record_metrics(&rt.lead, before, &state, plan.finished, now);
        if state.phone != before.phone {
            if let Some(p) = &state.phone {
                tracing::info!(lead_id = %rt.lead.id, phone = %p.masked(), "phone obtained");
            }
        }
        for (manager_id, text) in &plan.no_head {
            tracing::warn!(lead_id = %rt.lead.id, manager_id = %manager_id, "no head of sales configured: {text}");
        }
        rt.lead.channel = state.channel.clone();
        rt.state = state;
        if !commit.outbox.is_empty() {
            self.deps.outbox_wake.notify_one();
        }
        // After the commit: a crash before this leaves the load to be re-derived at start.
        for manager_id in plan.released {
            let _ = self.pool.cast(PoolMsg::Release { manager_id });
        }
        if plan.left_queue {
            let _ = self.pool.cast(PoolMsg::Dequeue { lead: rt.lead.id });
        }
        if commit.timers.iter().any(|t| matches!(t, TimerChange::Arm { .. })) {
            self.deps.timer_wake.notify_one();
        }
    }

    /// Classifies the request (LLM if configured, rules otherwise), picks its group and asks the
    /// pool; the answer becomes the dialog's next event.
    async fn find_manager(
        &self,
        rt: &LeadRuntime,
        state: &DialogState,
        text: String,
        exclude: Vec<ManagerId>,
        now: DateTime<Utc>,
    ) -> Result<Event, ActorProcessingErr> {
        let routing = &self.deps.routing;
        let classification = routing.classifier.classify(&text).await;
        let classification =
            routing
                .rules
                .with_client(classification, rt.lead.segment.as_deref(), state.phone.as_deref());
        let group =
            crate::routing::choose_group(&routing.config, &rt.lead.channel, &text, classification.kind).to_string();
        let previous_owner = match &state.phone {
            Some(p) if exclude.is_empty() => self.deps.store.previous_owner(p, rt.lead.id).await?,
            _ => None,
        };
        let queue_if_busy = exclude.is_empty();
        let request = Request {
            lead: rt.lead.id,
            group,
            priority: classification.priority,
            tags: classification.tags,
            previous_owner,
            exclude,
            since: now,
        };
        if request.priority == Priority::High {
            tracing::info!(lead_id = %rt.lead.id, "high-priority request");
        }
        let outcome = ractor::call_t!(
            self.pool,
            |reply| PoolMsg::Assign {
                request,
                queue_if_busy,
                reply
            },
            POOL_TIMEOUT.as_millis() as u64
        )?;
        Ok(match outcome {
            AssignOutcome::Assigned(m) => Event::ManagerAssigned(m),
            AssignOutcome::Queued => Event::Queued,
            AssignOutcome::NoneAvailable => Event::NoManagerAvailable,
        })
    }

    fn record_metrics(
        &self,
        lead: &LeadRecord,
        before: &DialogState,
        after: &DialogState,
        finished: Option<Outcome>,
        now: DateTime<Utc>,
    ) {
        let secs = |at: DateTime<Utc>| (at - after.created_at).num_milliseconds().max(0) as f64 / 1000.0;
        if before.first_reply_at.is_none() {
            if let Some(at) = after.first_reply_at {
                metrics::histogram!(telemetry::FIRST_REPLY, "channel" => lead.channel.to_string()).record(secs(at));
            }
        }
        if before.phone_at.is_none() && after.had_dialog {
            if let Some(at) = after.phone_at {
                metrics::histogram!(telemetry::TIME_TO_PHONE, "channel" => lead.channel.to_string()).record(secs(at));
            }
        }
        if let Some(outcome) = finished {
            metrics::counter!(
                telemetry::LEAD_OUTCOMES,
                "status" => after.status.as_str(),
                "reason" => outcome.as_str()
            )
            .increment(1);
            tracing::info!(lead_id = %lead.id, status = %after.status, reason = outcome.as_str(), elapsed_s = secs(now), "lead finished");
        }
    }
}

/// The step's transaction: state, projection, transcript, the plan's rows, the inbox marker.
fn commit_of(
    rt: &LeadRuntime,
    state: &DialogState,
    plan: &Plan,
    text_in: Option<String>,
    inbox_id: Option<i64>,
    fired: Option<(TimerKind, i64)>,
) -> Result<StepCommit, serde_json::Error> {
    let mut timers = Vec::with_capacity(plan.timers.len() + 1);
    if let Some((kind, generation)) = fired {
        timers.push(TimerChange::Fired {
            kind: kind.as_str().into(),
            generation,
        });
    }
    timers.extend(plan.timers.iter().cloned());
    Ok(StepCommit {
        lead: rt.lead.id,
        expected_version: rt.version,
        state: serde_json::to_value(state)?,
        projection: Projection {
            channel: state.channel.clone(),
            status: state.status,
            phone: state.phone.clone(),
            manager_id: state.manager.as_ref().map(|m| m.id.clone()),
            reason: state.outcome.map(|o| o.as_str().to_string()),
        },
        applied_inbox_id: inbox_id,
        author: rt.author.clone(),
        transcript: text_in
            .into_iter()
            .map(|t| (Direction::In, t))
            .chain(plan.said.iter().cloned())
            .collect(),
        outbox: plan.outbox.clone(),
        timers,
    })
}
