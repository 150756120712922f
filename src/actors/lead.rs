//! One actor per open lead: the only writer of the lead's state. Each inbox row or timer is one
//! step: run the pure dialog, commit state + effects in one transaction, then wake delivery.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::task::JoinHandle;

use super::manager_pool::AssignOutcome;
use super::manager_pool::PoolMsg;
use super::LeadDeps;
use crate::dialog::fallback::{self, FallbackState, FbEffect, FbEvent, Reach, World};
use crate::dialog::{DialogState, Effect, Event, TimerKind};
use crate::domain::capabilities::{fit, Initiate};
use crate::domain::{ChannelName, InboxPayload, LeadId, LeadRecord, LeadStatus, ManagerId, ManagerRef, Outcome};
use crate::intake::{Applied, Waiter};
use crate::outbox::plan::{self, Plan, StepInput};
use crate::outbox::{OutboundMessage, KIND_MESSAGE};
use crate::routing::{Priority, Request};
use crate::store::{
    Direction, DueTimer, NewOutbox, Projection, StepCommit, StoreError, TimerChange, TranscriptEntry,
    PROJECTION_REFRESH,
};
use crate::telemetry;

/// How long the lead waits for the manager pool.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);
const INBOX_BATCH: i64 = 100;
/// Questions to the outside one step may ask (a manager, slots, a booking, a retry after a lost
/// slot, ...): far above what a step needs, a stop for a dialog that would not stop asking.
const MAX_ROUNDS: usize = 12;
/// Steps whose stored lines are kept for waiters that come after the step (their row was
/// applied by an earlier pull, with a neighbour's): a few, the last ones.
const RECENT_STEPS: usize = 4;
/// The durable timer of the fallback chain (the dialog's own kinds are [`TimerKind`]).
const FALLBACK_TIMER: &str = "fallback";

pub enum LeadMsg {
    /// Apply every inbox row not yet applied; `done` is answered after the commit (from
    /// memory: the state and the lines the step stored).
    Pull {
        done: Option<Waiter>,
    },
    Timer(DueTimer),
    /// Passivate if nothing happened for `runtime.passivate_after`.
    IdleCheck,
}

pub struct LeadActor {
    pub deps: Arc<LeadDeps>,
    pub pool: ActorRef<PoolMsg>,
}

/// Effects the actor must answer before the commit (the answer is the dialog's next event).
fn asks_outside(effect: &Effect) -> bool {
    matches!(
        effect,
        Effect::FindManager { .. }
            | Effect::FindSlots { .. }
            | Effect::Book { .. }
            | Effect::MoveBooking { .. }
            | Effect::CancelBooking { .. }
            | Effect::LookUpClient { .. }
            | Effect::RecordCsat { .. }
            | Effect::CsatComment { .. }
    )
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
    /// The fallback chain's progress (kept in the snapshot beside the dialog's state).
    fallback: FallbackState,
    /// Callers waiting for a row of this pull to be applied.
    waiters: Vec<Waiter>,
    /// The last steps' inbox row and stored lines (for a waiter whose row is already applied).
    recent: std::collections::VecDeque<(i64, Vec<TranscriptEntry>)>,
    /// The projection this owner last wrote to the lead's row, and when (unchanged ones are
    /// not written again within `PROJECTION_REFRESH`).
    written: Option<(Projection, Instant)>,
}

/// A lead actor's state: loaded by the actor itself once it runs ([`Actor::post_start`]), not
/// while its supervisor waits for the spawn, so one supervisor starts many leads at once (after
/// a restart, every lead with a due timer) instead of one database read after another.
pub enum Slot {
    Loading(LeadId),
    Ready(Box<LeadRuntime>),
}

impl Actor for LeadActor {
    type Msg = LeadMsg;
    type State = Slot;
    type Arguments = LeadId;

    async fn pre_start(&self, _myself: ActorRef<LeadMsg>, id: LeadId) -> Result<Slot, ActorProcessingErr> {
        metrics::gauge!(telemetry::ACTORS_ACTIVE).increment(1.0);
        Ok(Slot::Loading(id))
    }

    /// Runs before the first message; a failure here is a crash like a failed step's.
    async fn post_start(&self, myself: ActorRef<LeadMsg>, slot: &mut Slot) -> Result<(), ActorProcessingErr> {
        if let Slot::Loading(id) = *slot {
            *slot = Slot::Ready(Box::new(self.load(&myself, id).await?));
        }
        Ok(())
    }

    async fn handle(&self, myself: ActorRef<LeadMsg>, msg: LeadMsg, slot: &mut Slot) -> Result<(), ActorProcessingErr> {
        let Slot::Ready(rt) = slot else {
            return Err("a lead actor got a message before its state was loaded".into());
        };
        self.handle_loaded(myself, msg, rt).await
    }

    async fn post_stop(&self, _myself: ActorRef<LeadMsg>, slot: &mut Slot) -> Result<(), ActorProcessingErr> {
        // Not called after a panic; the supervisor keeps the gauge right in that case.
        if let Slot::Ready(rt) = slot {
            if let Some(h) = rt.idle_timer.take() {
                h.abort();
            }
        }
        metrics::gauge!(telemetry::ACTORS_ACTIVE).decrement(1.0);
        Ok(())
    }
}

impl LeadActor {
    /// The lead's record and snapshot, as the actor starts.
    async fn load(&self, myself: &ActorRef<LeadMsg>, id: LeadId) -> Result<LeadRuntime, ActorProcessingErr> {
        let (lead, snapshot) = self.deps.store.load_lead(id).await?;
        let (state, fallback, version, last_applied) = match snapshot {
            Some(mut s) => {
                let fallback = match s.state.as_object_mut().and_then(|o| o.remove("fallback")) {
                    Some(f) => serde_json::from_value(f)
                        .map_err(|e| StoreError::Corrupt(format!("lead {id} snapshot (fallback): {e}")))?,
                    None => FallbackState::default(),
                };
                let state: DialogState = serde_json::from_value(s.state)
                    .map_err(|e| StoreError::Corrupt(format!("lead {id} snapshot: {e}")))?;
                (state, fallback, s.version, s.last_applied_inbox_id)
            }
            None => (
                DialogState::new(id, &lead.channel, lead.name.clone(), lead.created_at),
                FallbackState::default(),
                0,
                0,
            ),
        };
        let mut rt = LeadRuntime {
            lead,
            state,
            version,
            last_applied,
            last_activity: Instant::now(),
            idle_timer: None,
            author: None,
            fallback,
            waiters: Vec::new(),
            recent: std::collections::VecDeque::new(),
            written: None,
        };
        self.arm_idle_check(myself, &mut rt);
        Ok(rt)
    }

    async fn handle_loaded(
        &self,
        myself: ActorRef<LeadMsg>,
        msg: LeadMsg,
        rt: &mut LeadRuntime,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            LeadMsg::Pull { done } => {
                rt.last_activity = Instant::now();
                match done {
                    // Applied already (with a neighbour's row, by an earlier pull): answered
                    // at once, and nothing to read (every row stored later has a wake of its own).
                    Some(w) if w.inbox_id.is_some_and(|id| id <= rt.last_applied) => {
                        answer(rt, w);
                        return Ok(());
                    }
                    Some(mut w) => {
                        // The row handed over, right after everything applied: applied as it
                        // is, no read (else something before it is still to be read).
                        let handed = w
                            .row
                            .take()
                            .filter(|h| h.prev.is_some_and(|p| p <= rt.last_applied) && h.item.id > rt.last_applied);
                        rt.waiters.push(w);
                        if let Some(h) = handed {
                            self.apply_items(rt, vec![h.item]).await?;
                            for w in std::mem::take(&mut rt.waiters) {
                                answer(rt, w);
                            }
                            return Ok(());
                        }
                    }
                    None => {}
                }
                self.apply_inbox(rt).await?;
                for w in std::mem::take(&mut rt.waiters) {
                    answer(rt, w);
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
}

impl LeadRuntime {
    pub(super) fn lead_id(&self) -> LeadId {
        self.lead.id
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
            // A short page is the end: no second read to find nothing.
            let more = items.len() as i64 == INBOX_BATCH;
            if items.is_empty() {
                return Ok(());
            }
            self.apply_items(rt, items).await?;
            if !more {
                return Ok(());
            }
        }
    }

    /// Applies inbox rows in order, one step each.
    async fn apply_items(
        &self,
        rt: &mut LeadRuntime,
        items: Vec<crate::store::InboxItem>,
    ) -> Result<(), ActorProcessingErr> {
        for item in items {
            let started = Instant::now();
            let kind = item.payload.kind();
            let chain = self.has_chain(rt);
            let running = rt.fallback.running();
            let mut fb = None;
            let (event, text_in) = match item.payload {
                InboxPayload::Intake { phone, text } => {
                    let text_in = text.clone().filter(|t| !t.trim().is_empty());
                    // A lead of a source with a chain that the bot cannot talk to on its
                    // own channel (it cannot write first and the client has not written):
                    // the chain reaches it; the card's number is where SMS and calls go.
                    if chain && !self.can_open(&rt.lead.channel, text_in.is_some()) {
                        let start = FbEvent::Start {
                            source: rt.lead.source.clone(),
                            lead_channel: rt.lead.channel.to_string(),
                        };
                        self.step_with(rt, vec![], vec![start], text_in, Some(item.id), None)
                            .await?;
                        continue;
                    }
                    (
                        Event::Intake {
                            phone,
                            text,
                            channel_can_talk: self.deps.channels.can_talk(&rt.lead.channel),
                        },
                        text_in,
                    )
                }
                // The client answers a lead the chain is reaching on the lead's own channel
                // (or its web chat): the dialog opens there and takes the message.
                InboxPayload::Message { text } if running && rt.state.status == LeadStatus::New => {
                    let channel = rt.lead.channel.clone();
                    let stepped = self
                        .step_with(
                            rt,
                            vec![
                                Event::ChannelJoined {
                                    channel: channel.clone(),
                                },
                                Event::ClientMessage { text: text.clone() },
                            ],
                            vec![FbEvent::Answered {
                                channel: channel.to_string(),
                            }],
                            Some(text),
                            Some(item.id),
                            None,
                        )
                        .await;
                    stepped?;
                    continue;
                }
                InboxPayload::ChannelLost { reason, channel } if chain || running => {
                    let channel = channel.unwrap_or_else(|| rt.state.channel.clone()).to_string();
                    tracing::warn!(lead_id = %rt.lead.id, reason = %reason, channel = %channel, "client channel lost");
                    let waiting = rt.state.status == LeadStatus::BotProcessing
                        && !rt.state.awaiting_manager
                        && rt.state.phone.is_none()
                        && rt.state.taken_over_by.is_none();
                    let lost = FbEvent::ChannelLost {
                        channel: channel.clone(),
                    };
                    if running {
                        // A step's channel failed: the next step at once.
                        self.step_with(rt, vec![], vec![lost], None, Some(item.id), None)
                            .await?;
                        continue;
                    }
                    if chain && !rt.fallback.started && waiting && channel == rt.state.channel.as_str() {
                        // The dialog's chat is gone before the phone: the chain takes over.
                        let start = FbEvent::Start {
                            source: rt.lead.source.clone(),
                            lead_channel: channel,
                        };
                        self.step_with(rt, vec![], vec![lost, start], None, Some(item.id), None)
                            .await?;
                        continue;
                    }
                    // Not the chain's business: the dialog decides as before.
                    (Event::ChannelLost, None)
                }
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
                // A key pressed in the automated call: the manager's key hands the lead over
                // with the number from its card (the one that was called).
                InboxPayload::CallAnswered { digits, manager } => {
                    let said = format!(
                        "[звонок] нажато: {}",
                        if digits.is_empty() {
                            "ничего"
                        } else {
                            digits.as_str()
                        }
                    );
                    let phone = rt.lead.phone.as_ref().map(|p| p.as_str().to_string());
                    let (mut events, mut fb_events) = (vec![], vec![]);
                    if let (true, Some(phone)) = (manager, phone) {
                        let s = &rt.state;
                        match s.status {
                            LeadStatus::New => events.push(Event::Intake {
                                phone: Some(phone),
                                text: None,
                                channel_can_talk: false,
                            }),
                            LeadStatus::BotProcessing if s.phone.is_none() && !s.awaiting_manager => {
                                events.push(Event::ContactShared { phone, verified: true })
                            }
                            _ => {}
                        }
                        if running {
                            fb_events.push(FbEvent::Answered {
                                channel: fallback::VOICE.into(),
                            });
                        }
                    }
                    self.step_with(rt, events, fb_events, Some(said), Some(item.id), None)
                        .await?;
                    continue;
                }
                InboxPayload::ChannelJoined { channel } => {
                    if running {
                        fb = Some(FbEvent::Answered {
                            channel: channel.to_string(),
                        });
                    }
                    (Event::ChannelJoined { channel }, None)
                }
                InboxPayload::TakeOver { by } => (Event::TakenOver { by }, None),
                InboxPayload::ManagerMessage { author, text } => {
                    rt.author = Some(author);
                    (Event::ManagerWrote { text }, None)
                }
                InboxPayload::MarkLowQuality => (Event::MarkedLowQuality, None),
                InboxPayload::Reassign => (Event::ReassignRequested, None),
                InboxPayload::ChannelLost { reason, .. } => {
                    tracing::warn!(lead_id = %rt.lead.id, reason = %reason, "client channel lost");
                    (Event::ChannelLost, None)
                }
            };
            let stepped = self
                .step_with(rt, vec![event], fb.into_iter().collect(), text_in, Some(item.id), None)
                .await;
            rt.author = None;
            stepped?;
            let lag = (Utc::now() - item.received_at).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::histogram!(telemetry::INBOX_LAG).record(lag);
            metrics::histogram!(telemetry::MESSAGE_HANDLING, "kind" => kind).record(started.elapsed().as_secs_f64());
        }
        Ok(())
    }

    async fn apply_timer(&self, rt: &mut LeadRuntime, timer: DueTimer) -> Result<(), ActorProcessingErr> {
        if timer.kind == FALLBACK_TIMER {
            let event = FbEvent::TimerFired {
                generation: timer.generation as u64,
            };
            let fired = Some((FALLBACK_TIMER.to_string(), timer.generation));
            return self.step_with(rt, vec![], vec![event], None, None, fired).await;
        }
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
        let fired = Some((kind.as_str().to_string(), timer.generation));
        self.step_with(rt, vec![event], vec![], None, None, fired).await?;
        metrics::histogram!(telemetry::MESSAGE_HANDLING, "kind" => "timer").record(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// One durable step: the dialog (and routing, when it asks for a manager) decides, the plan
    /// turns the decision into rows, one commit stores it all, then the pool and delivery hear.
    /// `fired`: the timer being handled, deleted in the same transaction.
    /// Every log line of the step carries the lead's id (its span).
    /// `events` go to the dialog in order, `fb` to the fallback chain after them.
    #[tracing::instrument(name = "lead_step", level = "info", skip_all, fields(lead_id = %rt.lead.id, version = rt.version + 1))]
    async fn step_with(
        &self,
        rt: &mut LeadRuntime,
        events: Vec<Event>,
        fb: Vec<FbEvent>,
        text_in: Option<String>,
        inbox_id: Option<i64>,
        fired: Option<(String, i64)>,
    ) -> Result<(), ActorProcessingErr> {
        let now = Utc::now();
        let before = rt.state.clone();
        let mut state = rt.state.clone();
        let mut effects = Vec::new();
        let mut picked = None;
        for event in events {
            let (next, more, p) = self.decide(rt, state, event, now).await?;
            state = next;
            effects.extend(more);
            picked = picked.or(p);
        }
        let (fb_state, fb_fx) = self
            .run_fallback(rt, &before, &mut state, &mut effects, &mut picked, fb, now)
            .await?;
        let version = rt.version + 1;
        let mut plan = plan::plan(
            &StepInput {
                lead: rt.lead.id,
                version,
                crm: self.deps.crms.get(&rt.lead.source).map(|c| c.source()),
                before: &before,
                after: &state,
                effects: &effects,
                caps: self.deps.channels.capabilities(&state.channel),
                transcript_delivers: self.deps.channels.delivered_by_transcript(&state.channel),
            },
            &|id| self.deps.routing.roster.head_of(id).map(|h| h.as_ref()),
        );
        if !fb_fx.is_empty() {
            self.plan_fallback(rt, version, &fb_fx, &mut plan).await?;
        }
        let commit = commit_of(rt, &state, &fb_state, &plan, text_in, inbox_id, fired)?;
        let stored = match self.deps.store.commit_step(&commit).await {
            Ok(lines) => lines,
            Err(e) => {
                // The pool already counted the manager it picked for this step; the step is
                // redone after the restart and picks again, so give the slot back or it leaks.
                if let Some(manager_id) = picked {
                    let _ = self.pool.cast(PoolMsg::Release { manager_id });
                }
                return Err(e.into());
            }
        };
        rt.version = version;
        if let Some(id) = inbox_id {
            rt.last_applied = id;
        }
        if !commit.projection_unchanged {
            rt.written = Some((commit.projection.clone(), Instant::now()));
        }
        rt.fallback = fb_state;
        for e in &fb_fx {
            if let FbEffect::Note { channel, reason, .. } = e {
                metrics::counter!(telemetry::FALLBACK_STEPS, "channel" => channel.clone(), "reason" => reason.as_str())
                    .increment(1);
                tracing::info!(lead_id = %rt.lead.id, channel = %channel, reason = reason.as_str(), "fallback step");
            }
        }
        self.after_commit(rt, &before, state, plan, &commit, now);
        if let Some(id) = inbox_id {
            if rt.recent.len() == RECENT_STEPS {
                rt.recent.pop_front();
            }
            rt.recent.push_back((id, stored));
            // The callers of this row hear now, not after the rest of the pull.
            let (now_due, later): (Vec<Waiter>, Vec<Waiter>) = std::mem::take(&mut rt.waiters)
                .into_iter()
                .partition(|w| w.inbox_id == Some(id));
            rt.waiters = later;
            for w in now_due {
                answer(rt, w);
            }
        }
        Ok(())
    }

    fn has_chain(&self, rt: &LeadRuntime) -> bool {
        self.deps
            .fallback
            .as_ref()
            .is_some_and(|f| f.rules.has_chain(&rt.lead.source))
    }

    /// Whether the bot can open a dialog on `channel` by itself (or the client wrote there).
    fn can_open(&self, channel: &str, client_wrote: bool) -> bool {
        match self.deps.channels.capabilities(channel) {
            Some(caps) => caps.realtime && (client_wrote || caps.can_initiate != Initiate::Never),
            None => false,
        }
    }

    /// Whether `channel` can reach this lead's client now.
    fn reach(&self, lead: &LeadRecord, channel: &str) -> Reach {
        let Some(caps) = self.deps.channels.capabilities(channel) else {
            return Reach::NoAdapter;
        };
        if matches!(channel, fallback::SMS | fallback::VOICE) {
            return if lead.phone.is_some() {
                Reach::Yes
            } else {
                Reach::NoPhone
            };
        }
        match caps.can_initiate {
            Initiate::Never => Reach::CannotInitiate,
            Initiate::TemplateOnly | Initiate::Always => Reach::Yes,
        }
    }

    /// The chain's step: its events, and what the dialog's step means for it (the client said
    /// "СТОП", a person took over, the lead was closed). A chain that ran out ends the lead
    /// "no channel" through the dialog.
    #[allow(clippy::too_many_arguments)]
    async fn run_fallback(
        &self,
        rt: &LeadRuntime,
        before: &DialogState,
        state: &mut DialogState,
        effects: &mut Vec<Effect>,
        picked: &mut Option<ManagerId>,
        mut events: Vec<FbEvent>,
        now: DateTime<Utc>,
    ) -> Result<(FallbackState, Vec<FbEffect>), ActorProcessingErr> {
        let mut fb_state = rt.fallback.clone();
        let Some(deps) = &self.deps.fallback else {
            return Ok((fb_state, vec![]));
        };
        if fb_state.running() || events.iter().any(|e| matches!(e, FbEvent::Start { .. })) {
            if state.opted_out && !before.opted_out {
                // "СТОП" as the answer: the chain ends as opted out, not as answered.
                events.retain(|e| !matches!(e, FbEvent::Answered { .. }));
                events.push(FbEvent::OptedOut);
            } else if state.taken_over_by.is_some()
                || matches!(
                    state.status,
                    LeadStatus::Closed | LeadStatus::LowQuality | LeadStatus::Assigned
                )
                || state.awaiting_manager
            {
                events.push(FbEvent::Answered {
                    channel: state.channel.to_string(),
                });
            }
        }
        if events.is_empty() {
            return Ok((fb_state, vec![]));
        }
        let (mut sms_today, mut calls_today) = (0, 0);
        if deps.rules.has_day_caps() {
            let since = deps.rules.day_start(now);
            sms_today = self.deps.store.messages_since(fallback::SMS, since).await? as u32;
            calls_today = self.deps.store.messages_since(fallback::VOICE, since).await? as u32;
        }
        let mut all = Vec::new();
        for event in events {
            // The world is looked at per event and not held across an await (not `Send`).
            let (next, fx) = {
                let reach = |ch: &str| self.reach(&rt.lead, ch);
                let world = World {
                    reach: &reach,
                    sms_today,
                    calls_today,
                };
                deps.rules.step(fb_state, event, &world, now)
            };
            fb_state = next;
            if fx.contains(&FbEffect::Exhausted) {
                // Nothing reached the client: the dialog ends the lead as it did before chains.
                let event = if state.status == LeadStatus::New {
                    Event::Intake {
                        phone: None,
                        text: None,
                        channel_can_talk: false,
                    }
                } else {
                    Event::ChannelLost
                };
                let (next, more, p) = self.decide(rt, state.clone(), event, now).await?;
                *state = next;
                effects.extend(more);
                *picked = picked.clone().or(p);
            }
            all.extend(fx);
        }
        if fb_state.running() && state.status == LeadStatus::BotProcessing {
            // The chain has the lead's clocks now: the dialog's re-asks would go to the lost chat.
            for kind in [TimerKind::Reask, TimerKind::NoAnswer] {
                if state.timers.remove(&kind).is_some() {
                    effects.push(Effect::CancelTimer(kind));
                }
            }
        }
        Ok((fb_state, all))
    }

    /// The chain's effects as rows: its messages and calls in the outbox (fitted to their
    /// channel, `{link}` made a Telegram deep link bound to this lead), its timer, its notes
    /// and what it sent in the transcript.
    async fn plan_fallback(
        &self,
        rt: &LeadRuntime,
        version: i64,
        fx: &[FbEffect],
        plan: &mut Plan,
    ) -> Result<(), ActorProcessingErr> {
        let lead = rt.lead.id;
        for (i, e) in fx.iter().enumerate() {
            match e {
                FbEffect::Send { channel, text, .. } => {
                    let text = if text.contains("{link}") {
                        let link = match self.deps.fallback.as_ref().and_then(|f| f.telegram.as_ref()) {
                            Some(tg) => tg.deep_link(lead).await?,
                            None => String::new(),
                        };
                        text.replace("{link}", &link)
                    } else {
                        text.clone()
                    };
                    let parts = match self.deps.channels.capabilities(channel) {
                        Some(caps) => fit(&text, &[], &caps).into_iter().map(|p| p.text).collect(),
                        None => vec![text.clone()],
                    };
                    plan.said.push((Direction::Out, parts.join("\n")));
                    for (j, part) in parts.into_iter().enumerate() {
                        let msg = OutboundMessage::text(ChannelName::new(channel), &part);
                        plan.outbox.push(NewOutbox {
                            kind: KIND_MESSAGE.into(),
                            payload: serde_json::to_value(&msg)?,
                            idempotency_key: format!("lead:{lead}:v{version}:fb{i}.{j}"),
                            delivered: false,
                        });
                    }
                }
                FbEffect::Arm { due_at, generation } => plan.timers.push(TimerChange::Arm {
                    kind: FALLBACK_TIMER.into(),
                    due_at: *due_at,
                    generation: *generation as i64,
                }),
                FbEffect::Cancel => plan.timers.push(TimerChange::Cancel {
                    kind: FALLBACK_TIMER.into(),
                }),
                FbEffect::Note { text, .. } => plan.said.push((Direction::Out, text.clone())),
                FbEffect::Exhausted => {}
            }
        }
        Ok(())
    }

    /// The dialog's step, and routing's answer when the dialog asks for a manager (resolved
    /// before the commit, so the assignment lands in the same transaction). Returns the manager
    /// the pool picked (and counted) for this very step.
    async fn decide(
        &self,
        rt: &LeadRuntime,
        state: DialogState,
        event: Event,
        now: DateTime<Utc>,
    ) -> Result<(DialogState, Vec<Effect>, Option<ManagerId>), ActorProcessingErr> {
        // The LLM's reading goes first, in the same step (the rules decide without it).
        let mut state = state;
        let mut effects = Vec::new();
        let said = match &event {
            Event::ClientMessage { text } => Some(text.as_str()),
            Event::Intake { text: Some(text), .. } if !text.trim().is_empty() => Some(text.as_str()),
            _ => None,
        };
        if let (Some(text), Some(_)) = (said, &self.deps.booking) {
            if let Some(hint) = self.intent_hint(text).await {
                let (next, more) = self.deps.dialog.step(state, hint, now);
                state = next;
                effects.extend(more);
            }
        }
        let (next, more) = self.deps.dialog.step(state, event, now);
        let mut state = next;
        effects.extend(more);
        let mut picked = None;
        // Questions to the outside (a manager, the calendar) are answered as the dialog's next
        // event, in order, until nothing is left to ask. Bounded: a dialog that kept asking
        // (a slot lost again and again) stops here and goes on with the next message.
        let mut next = 0;
        let mut rounds = 0;
        while let Some(i) = (next..effects.len()).find(|&i| asks_outside(&effects[i])) {
            next = i + 1;
            rounds += 1;
            if rounds > MAX_ROUNDS {
                tracing::warn!(lead_id = %rt.lead.id, "dialog kept asking the calendar; stopped for this step");
                break;
            }
            let event = match &effects[i] {
                Effect::FindManager { text, exclude } => {
                    let event = self
                        .find_manager(rt, &state, text.clone(), exclude.clone(), now)
                        .await?;
                    if let Event::ManagerAssigned(m) = &event {
                        picked = Some(m.id.clone());
                    }
                    Some(event)
                }
                other => self.resolve_booking(rt, &state, other, now).await?,
            };
            if let Some(event) = event {
                let (s, more) = self.deps.dialog.step(state, event, now);
                state = s;
                effects.extend(more);
            }
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
        if commit.outbox.iter().any(|o| !o.delivered) {
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

/// Answers a waiter from memory: the lead's status, and the lines of the step that applied its
/// row if they are still at hand.
fn answer(rt: &LeadRuntime, w: Waiter) {
    let transcript = w
        .inbox_id
        .and_then(|id| rt.recent.iter().find(|(r, _)| *r == id))
        .map(|(_, lines)| lines.clone());
    let _ = w.reply.send(Applied {
        status: rt.state.status,
        transcript,
    });
}

/// The step's transaction: state, projection, transcript, the plan's rows, the inbox marker.
fn commit_of(
    rt: &LeadRuntime,
    state: &DialogState,
    fallback: &FallbackState,
    plan: &Plan,
    text_in: Option<String>,
    inbox_id: Option<i64>,
    fired: Option<(String, i64)>,
) -> Result<StepCommit, serde_json::Error> {
    let mut timers = Vec::with_capacity(plan.timers.len() + 1);
    if let Some((kind, generation)) = fired {
        timers.push(TimerChange::Fired { kind, generation });
    }
    timers.extend(plan.timers.iter().cloned());
    let mut snapshot = serde_json::to_value(state)?;
    if fallback.started {
        if let Some(o) = snapshot.as_object_mut() {
            o.insert("fallback".into(), serde_json::to_value(fallback)?);
        }
    }
    let projection = Projection {
        channel: state.channel.clone(),
        status: state.status,
        // While a chain reaches the client, the card's number (where its SMS and calls go)
        // stays on the lead until the dialog has one of its own.
        phone: state
            .phone
            .clone()
            .or_else(|| fallback.started.then(|| rt.lead.phone.clone()).flatten()),
        manager_id: state.manager.as_ref().map(|m| m.id.clone()),
        reason: state.outcome.map(|o| o.as_str().to_string()),
    };
    let projection_unchanged = rt
        .written
        .as_ref()
        .is_some_and(|(p, at)| *p == projection && at.elapsed() < PROJECTION_REFRESH);
    Ok(StepCommit {
        lead: rt.lead.id,
        expected_version: rt.version,
        state: snapshot,
        projection,
        projection_unchanged,
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
