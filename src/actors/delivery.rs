//! Delivery: the outbox router claims due rows and hands each to the delivery actor of its sink
//! — one per channel, one per CRM, one for the notifier — so a slow or throttled channel never
//! holds up another. Each sink actor owns its queue: one row in flight per lead (a client reads
//! the bot's messages in order), a few leads at once, and its health (up, throttled, down),
//! which the operator sees and can reset by restarting it.
//!
//! A row is marked sent only after its sink said so, and carries its idempotency key on every
//! attempt. A row claimed twice (its lease lapsed while it waited) is known to its sink by id
//! and not sent again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::channels::{Channel, Channels};
use crate::config::NotifySettings;
use crate::crm::{Crm, Crms};
use crate::domain::{EventKey, InboxPayload, LeadId};
use crate::intake::Intake;
use crate::notify::Notifier;
use crate::outbox::{
    CrmRow, DealActionRow, DealUpdate, DeliveryError, Notification, OutboundMessage, SlaNotice, KIND_CRM, KIND_DEAL,
    KIND_DEAL_ACTION, KIND_MESSAGE, KIND_NOTIFICATION, KIND_REPORT, KIND_SLA_NOTICE,
};
use crate::store::{OutboxItem, Store, StoreResult};
use crate::telemetry;

const BATCH: i64 = 200;
/// How often the outbox gauges (pending, failed) are counted.
const GAUGE_EVERY: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// Leads one sink delivers to at once (each lead still gets one row at a time).
const CONCURRENCY: usize = 64;
/// Consecutive failed deliveries after which a sink reports itself down.
const DOWN_AFTER: u32 = 5;

/// Where an outbox row goes.
#[derive(Clone)]
pub enum Sink {
    Channel(Arc<dyn Channel>),
    Crm(Arc<dyn Crm>),
    Notifier(Notifier),
}

impl Sink {
    fn kind(&self) -> &'static str {
        match self {
            Sink::Channel(_) => "channel",
            Sink::Crm(_) => "crm",
            Sink::Notifier(_) => "notifier",
        }
    }
}

/// How a sink is doing, for the operator and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkState {
    Up,
    /// The provider's flood control asked us to wait.
    Throttled,
    /// The last deliveries all failed.
    Down,
}

#[derive(Debug, Clone, Serialize)]
pub struct SinkHealth {
    pub name: String,
    pub kind: &'static str,
    pub state: SinkState,
    pub queued: usize,
    pub in_flight: usize,
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
    pub blocked: u64,
    pub throttled_until: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub restarts: u32,
}

pub struct DeliveryParts {
    pub store: Arc<dyn Store>,
    pub channels: Channels,
    pub crms: Crms,
    pub notifier: Notifier,
    pub notify: NotifySettings,
    /// A client the channel can no longer reach is told to their lead through the intake port.
    pub intake: Intake,
    pub wake: Arc<Notify>,
    pub poll: Duration,
}

/// The operator's and the app's handle on delivery.
pub struct DeliveryHandle {
    supervisor: ActorRef<DeliveryMsg>,
    router: JoinHandle<()>,
}

impl DeliveryHandle {
    pub async fn health(&self) -> Vec<SinkHealth> {
        match self
            .supervisor
            .call(DeliveryMsg::Health, Some(Duration::from_secs(5)))
            .await
        {
            Ok(ractor::rpc::CallResult::Success(h)) => h,
            _ => vec![],
        }
    }

    /// Restarts a sink's actor (its queue is claimed again from the outbox).
    pub async fn restart(&self, name: &str) -> Result<(), String> {
        match self
            .supervisor
            .call(
                |r| DeliveryMsg::Restart(name.to_string(), r),
                Some(Duration::from_secs(10)),
            )
            .await
        {
            Ok(ractor::rpc::CallResult::Success(r)) => r,
            _ => Err("the delivery supervisor did not answer".into()),
        }
    }

    pub fn stop(&self) {
        self.router.abort();
        self.supervisor.stop(None);
    }
}

pub async fn start(parts: DeliveryParts) -> anyhow::Result<DeliveryHandle> {
    let mut sinks: Vec<(String, Sink)> = vec![("notifier".into(), Sink::Notifier(parts.notifier.clone()))];
    for c in parts.channels.all() {
        sinks.push((channel_sink(c.name()), Sink::Channel(c.clone())));
    }
    for c in parts.crms.all() {
        sinks.push((crm_sink(c.source()), Sink::Crm(c.clone())));
    }
    let shared = Arc::new(Shared {
        store: parts.store.clone(),
        settings: parts.notify.clone(),
        intake: parts.intake,
        wake: parts.wake.clone(),
    });
    let (supervisor, _) = Actor::spawn(None, DeliverySupervisor, (shared, sinks))
        .await
        .map_err(|e| anyhow::anyhow!("starting delivery: {e}"))?;
    let router = tokio::spawn(run_router(
        parts.store,
        supervisor.clone(),
        parts.notify,
        parts.wake,
        parts.poll,
    ));
    Ok(DeliveryHandle { supervisor, router })
}

fn channel_sink(name: &str) -> String {
    format!("channel:{name}")
}

fn crm_sink(source: &str) -> String {
    format!("crm:{source}")
}

/// What every sink actor shares.
struct Shared {
    store: Arc<dyn Store>,
    settings: NotifySettings,
    intake: Intake,
    /// The router's: a lead's next row becomes claimable once this one is sent.
    wake: Arc<Notify>,
}

// ---- the router -------------------------------------------------------------------------------

/// Claims due rows and routes them; runs until aborted.
async fn run_router(
    store: Arc<dyn Store>,
    supervisor: ActorRef<DeliveryMsg>,
    settings: NotifySettings,
    wake: Arc<Notify>,
    poll: Duration,
) {
    let mut last_gauges = std::time::Instant::now() - GAUGE_EVERY;
    loop {
        match route_due(&store, &supervisor, &settings).await {
            Ok(n) if n as i64 == BATCH => continue, // more may be waiting
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox scan failed"),
        }
        // The router runs after every committed step; the gauges (two counts) need not.
        if last_gauges.elapsed() >= GAUGE_EVERY {
            last_gauges = std::time::Instant::now();
            if let Ok(pending) = store.outbox_pending().await {
                metrics::gauge!(telemetry::OUTBOX_PENDING).set(pending as f64);
            }
            if let Ok(failed) = store.outbox_failed_count().await {
                metrics::gauge!(telemetry::OUTBOX_FAILED).set(failed as f64);
            }
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

async fn route_due(
    store: &Arc<dyn Store>,
    supervisor: &ActorRef<DeliveryMsg>,
    settings: &NotifySettings,
) -> StoreResult<usize> {
    let now = Utc::now();
    // A claimed row stays hidden while it waits in its sink and is in flight; after a crash it
    // is due again once the lease lapses.
    let lease = (settings.timeout.saturating_mul(2) + Duration::from_secs(1)).max(Duration::from_secs(30));
    let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
    let items = store.claim_outbox(now, until, BATCH).await?;
    let n = items.len();
    for item in items {
        match sink_of(store, &item).await {
            Ok(sink) => {
                if supervisor.cast(DeliveryMsg::Route(sink, item)).is_err() {
                    return Ok(0); // stopping
                }
            }
            Err(SinkOf::Unknown(why)) => {
                tracing::error!(outbox_id = item.id, lead_id = ?item.lead, "delivery given up: {why}");
                metrics::counter!(telemetry::OUTBOX_DELIVERIES, "kind" => kind_label(&item.kind), "outcome" => "failed")
                    .increment(1);
                store.outbox_failed(item.id, &why).await?;
            }
            Err(SinkOf::Store(e)) => return Err(e),
        }
    }
    Ok(n)
}

enum SinkOf {
    Unknown(String),
    Store(crate::store::StoreError),
}

/// The sink a row is for, from its kind and payload.
async fn sink_of(store: &Arc<dyn Store>, item: &OutboxItem) -> Result<String, SinkOf> {
    let bad = |e: serde_json::Error| SinkOf::Unknown(format!("bad {} payload: {e}", item.kind));
    match item.kind.as_str() {
        KIND_MESSAGE => {
            let m: OutboundMessage = serde_json::from_value(item.payload.clone()).map_err(bad)?;
            Ok(channel_sink(&m.channel))
        }
        KIND_NOTIFICATION => Ok("notifier".into()),
        KIND_CRM => {
            let row: CrmRow = serde_json::from_value(item.payload.clone()).map_err(bad)?;
            match (row.crm, item.lead) {
                (Some(crm), _) => Ok(crm_sink(&crm)),
                // Rows written before they named their CRM: the lead's source does.
                (None, Some(lead)) => {
                    let lead = store.get_lead(lead).await.map_err(SinkOf::Store)?;
                    Ok(crm_sink(&lead.source))
                }
                (None, None) => Err(SinkOf::Unknown("a CRM update without a lead".into())),
            }
        }
        KIND_DEAL => {
            let d: DealUpdate = serde_json::from_value(item.payload.clone()).map_err(bad)?;
            Ok(crm_sink(&d.crm))
        }
        KIND_DEAL_ACTION => {
            let d: DealActionRow = serde_json::from_value(item.payload.clone()).map_err(bad)?;
            Ok(crm_sink(&d.crm))
        }
        KIND_SLA_NOTICE | KIND_REPORT => Ok("notifier".into()),
        other => Err(SinkOf::Unknown(format!("unknown outbox kind `{other}`"))),
    }
}

/// Outbox kinds are ours; anything else is counted as "other" (labels come from a fixed set).
fn kind_label(kind: &str) -> &'static str {
    match kind {
        KIND_MESSAGE => KIND_MESSAGE,
        KIND_NOTIFICATION => KIND_NOTIFICATION,
        KIND_CRM => KIND_CRM,
        KIND_DEAL => KIND_DEAL,
        KIND_DEAL_ACTION => KIND_DEAL_ACTION,
        KIND_SLA_NOTICE => KIND_SLA_NOTICE,
        KIND_REPORT => KIND_REPORT,
        _ => "other",
    }
}

// ---- the supervisor of the sink actors ---------------------------------------------------------

pub enum DeliveryMsg {
    Route(String, OutboxItem),
    Health(RpcReplyPort<Vec<SinkHealth>>),
    Restart(String, RpcReplyPort<Result<(), String>>),
}

struct DeliverySupervisor;

struct SupState {
    shared: Arc<Shared>,
    sinks: HashMap<String, SinkEntry>,
}

struct SinkEntry {
    sink: Sink,
    actor: ActorRef<SinkMsg>,
    restarts: u32,
}

impl Actor for DeliverySupervisor {
    type Msg = DeliveryMsg;
    type State = SupState;
    type Arguments = (Arc<Shared>, Vec<(String, Sink)>);

    async fn pre_start(
        &self,
        myself: ActorRef<DeliveryMsg>,
        (shared, sinks): Self::Arguments,
    ) -> Result<SupState, ActorProcessingErr> {
        let mut st = SupState {
            shared,
            sinks: HashMap::new(),
        };
        for (name, sink) in sinks {
            let actor = spawn_sink(&myself, &st.shared, &name, &sink, 0).await?;
            st.sinks.insert(
                name,
                SinkEntry {
                    sink,
                    actor,
                    restarts: 0,
                },
            );
        }
        Ok(st)
    }

    async fn handle(
        &self,
        myself: ActorRef<DeliveryMsg>,
        msg: DeliveryMsg,
        st: &mut SupState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DeliveryMsg::Route(name, item) => match st.sinks.get(&name) {
                Some(e) => {
                    let _ = e.actor.cast(SinkMsg::Deliver(item));
                }
                None => {
                    let store = st.shared.store.clone();
                    tokio::spawn(async move {
                        tracing::error!(outbox_id = item.id, sink = %name, "no such sink: delivery given up");
                        let _ = store.outbox_failed(item.id, &format!("no {name} configured")).await;
                    });
                }
            },
            DeliveryMsg::Health(reply) => {
                let mut out = Vec::with_capacity(st.sinks.len());
                for e in st.sinks.values() {
                    if let Ok(ractor::rpc::CallResult::Success(mut h)) =
                        e.actor.call(SinkMsg::Health, Some(Duration::from_secs(2))).await
                    {
                        h.restarts = e.restarts;
                        out.push(h);
                    }
                }
                out.sort_by(|a, b| a.name.cmp(&b.name));
                let _ = reply.send(out);
            }
            DeliveryMsg::Restart(name, reply) => {
                let result = match st.sinks.get_mut(&name) {
                    None => Err(format!("no delivery actor `{name}`")),
                    Some(e) => {
                        // Its claimed rows are due again at once, not when their lease lapses
                        // (a lead's later rows wait behind them).
                        let known = match e.actor.call(SinkMsg::Known, Some(Duration::from_secs(2))).await {
                            Ok(ractor::rpc::CallResult::Success(ids)) => ids,
                            _ => vec![],
                        };
                        e.actor.unlink(myself.get_cell());
                        e.actor.kill();
                        let store = st.shared.store.clone();
                        for id in known {
                            if let Err(err) = store.outbox_retry(id, "delivery actor restarted", Utc::now()).await {
                                tracing::warn!(outbox_id = id, error = %err, "could not release a row");
                            }
                        }
                        st.shared.wake.notify_one();
                        e.restarts += 1;
                        match spawn_sink(&myself, &st.shared, &name, &e.sink, e.restarts).await {
                            Ok(actor) => {
                                e.actor = actor;
                                tracing::info!(sink = %name, "delivery actor restarted by operator");
                                Ok(())
                            }
                            Err(err) => Err(format!("could not restart `{name}`: {err}")),
                        }
                    }
                };
                let _ = reply.send(result);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<DeliveryMsg>,
        evt: SupervisionEvent,
        st: &mut SupState,
    ) -> Result<(), ActorProcessingErr> {
        let failed = match &evt {
            SupervisionEvent::ActorFailed(cell, err) => Some((cell, err.to_string())),
            SupervisionEvent::ActorTerminated(cell, _, Some(reason)) if reason != "killed" => {
                Some((cell, reason.clone()))
            }
            _ => None,
        };
        if let Some((cell, err)) = failed {
            let failed = st
                .sinks
                .iter()
                .find(|(_, e)| e.actor.get_id() == cell.get_id())
                .map(|(n, _)| n.clone());
            if let Some(name) = failed {
                tracing::error!(sink = %name, error = %err, "delivery actor failed; restarting it");
                if let Some(e) = st.sinks.get_mut(&name) {
                    e.restarts += 1;
                    e.actor = spawn_sink(&myself, &st.shared, &name, &e.sink, e.restarts).await?;
                }
            }
        }
        Ok(())
    }
}

async fn spawn_sink(
    sup: &ActorRef<DeliveryMsg>,
    shared: &Arc<Shared>,
    name: &str,
    sink: &Sink,
    restarts: u32,
) -> Result<ActorRef<SinkMsg>, ActorProcessingErr> {
    let (actor, _) = Actor::spawn_linked(
        None,
        SinkActor,
        SinkArgs {
            name: name.to_string(),
            sink: sink.clone(),
            shared: shared.clone(),
            restarts,
        },
        sup.get_cell(),
    )
    .await?;
    Ok(actor)
}

// ---- one sink ---------------------------------------------------------------------------------

pub enum SinkMsg {
    Deliver(OutboxItem),
    Done(Finished),
    Health(RpcReplyPort<SinkHealth>),
    /// The rows it holds (queued or in flight).
    Known(RpcReplyPort<Vec<i64>>),
}

/// A delivery attempt came back (its outcome is already recorded in the store).
pub struct Finished {
    id: i64,
    lead: Option<LeadId>,
    outcome: Result<(), DeliveryError>,
    /// When a held-back lead may send again (throttled or retrying).
    hold_until: Option<DateTime<Utc>>,
}

struct SinkActor;

struct SinkArgs {
    name: String,
    sink: Sink,
    shared: Arc<Shared>,
    restarts: u32,
}

struct SinkRun {
    name: String,
    sink: Sink,
    shared: Arc<Shared>,
    queue: VecDeque<OutboxItem>,
    /// Rows queued or in flight, so a row claimed again is not sent twice.
    known: HashSet<i64>,
    /// Leads with a row in flight: their next row waits.
    busy: HashSet<LeadId>,
    in_flight: usize,
    /// Aborted when the actor goes (a killed sink leaves no sends behind).
    tasks: Vec<JoinHandle<()>>,
    health: SinkHealth,
}

impl Drop for SinkRun {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        metrics::gauge!(telemetry::SINK_UP, "sink" => self.name.clone()).set(0.0);
    }
}

impl Actor for SinkActor {
    type Msg = SinkMsg;
    type State = SinkRun;
    type Arguments = SinkArgs;

    async fn pre_start(&self, _myself: ActorRef<SinkMsg>, args: SinkArgs) -> Result<SinkRun, ActorProcessingErr> {
        metrics::gauge!(telemetry::SINK_UP, "sink" => args.name.clone()).set(1.0);
        Ok(SinkRun {
            health: SinkHealth {
                name: args.name.clone(),
                kind: args.sink.kind(),
                state: SinkState::Up,
                queued: 0,
                in_flight: 0,
                sent: 0,
                retried: 0,
                failed: 0,
                blocked: 0,
                throttled_until: None,
                consecutive_failures: 0,
                last_error: None,
                restarts: args.restarts,
            },
            name: args.name,
            sink: args.sink,
            shared: args.shared,
            queue: VecDeque::new(),
            known: HashSet::new(),
            busy: HashSet::new(),
            in_flight: 0,
            tasks: Vec::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<SinkMsg>,
        msg: SinkMsg,
        st: &mut SinkRun,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SinkMsg::Deliver(item) => {
                if st.known.insert(item.id) {
                    st.queue.push_back(item);
                }
            }
            SinkMsg::Done(done) => st.finished(done),
            SinkMsg::Known(reply) => {
                let _ = reply.send(st.known.iter().copied().collect());
            }
            SinkMsg::Health(reply) => {
                let mut h = st.health.clone();
                h.queued = st.queue.len();
                h.in_flight = st.in_flight;
                if h.throttled_until.is_some_and(|t| t <= Utc::now()) {
                    h.throttled_until = None;
                }
                h.state = if h.consecutive_failures >= DOWN_AFTER {
                    SinkState::Down
                } else if h.throttled_until.is_some() {
                    SinkState::Throttled
                } else {
                    SinkState::Up
                };
                let _ = reply.send(h);
            }
        }
        st.pump(&myself);
        metrics::gauge!(telemetry::SINK_QUEUED, "sink" => st.name.clone()).set(st.queue.len() as f64);
        Ok(())
    }
}

impl SinkRun {
    /// Starts what may start: a free lead's oldest row, while there is room.
    fn pump(&mut self, myself: &ActorRef<SinkMsg>) {
        self.tasks.retain(|t| !t.is_finished());
        let mut i = 0;
        while self.in_flight < CONCURRENCY && i < self.queue.len() {
            let free = self.queue[i].lead.is_none_or(|l| !self.busy.contains(&l));
            if !free {
                i += 1;
                continue;
            }
            let Some(item) = self.queue.remove(i) else { break };
            if let Some(l) = item.lead {
                self.busy.insert(l);
            }
            self.in_flight += 1;
            let (sink, shared, me) = (self.sink.clone(), self.shared.clone(), myself.clone());
            self.tasks.push(tokio::spawn(async move {
                let done = deliver_and_record(&sink, &shared, item).await;
                let _ = me.cast(SinkMsg::Done(done));
            }));
        }
    }

    fn finished(&mut self, done: Finished) {
        self.known.remove(&done.id);
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(l) = done.lead {
            self.busy.remove(&l);
        }
        let h = &mut self.health;
        match &done.outcome {
            Ok(()) => {
                h.sent += 1;
                h.consecutive_failures = 0;
            }
            Err(DeliveryError::Throttled(_)) => h.throttled_until = done.hold_until,
            Err(DeliveryError::Retryable(e)) => {
                h.retried += 1;
                h.consecutive_failures += 1;
                h.last_error = Some(e.clone());
            }
            Err(DeliveryError::Permanent(e)) => {
                h.failed += 1;
                h.consecutive_failures += 1;
                h.last_error = Some(e.clone());
            }
            Err(DeliveryError::Blocked(_) | DeliveryError::CannotInitiate(_)) => {
                h.blocked += 1;
                h.consecutive_failures = 0;
            }
        }
        // The lead's later rows wait for the one that must be retried: in order, always.
        if let (Some(lead), Some(until)) = (done.lead, done.hold_until) {
            let held: Vec<OutboxItem> = {
                let (held, rest): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.queue)
                    .into_iter()
                    .partition(|i| i.lead == Some(lead));
                self.queue = rest;
                held.into()
            };
            for i in &held {
                self.known.remove(&i.id);
            }
            if !held.is_empty() {
                let store = self.shared.store.clone();
                self.tasks.push(tokio::spawn(async move {
                    for i in held {
                        if let Err(e) = store.outbox_retry(i.id, "waiting for an earlier message", until).await {
                            tracing::warn!(outbox_id = i.id, error = %e, "could not hold a row back");
                        }
                    }
                }));
            }
        }
    }
}

/// One attempt, and its outcome recorded: sent, retried with backoff, or given up.
async fn deliver_and_record(sink: &Sink, shared: &Shared, item: OutboxItem) -> Finished {
    let outcome = deliver(sink, shared, &item).await;
    metrics::counter!(telemetry::OUTBOX_DELIVERIES, "kind" => kind_label(&item.kind), "outcome" => outcome.as_ref().map_or_else(DeliveryError::label, |_| "sent"))
        .increment(1);
    let settings = &shared.settings;
    let store = &shared.store;
    let mut hold_until = None;
    let recorded = match &outcome {
        Ok(()) => {
            let r = store.outbox_sent(item.id).await;
            shared.wake.notify_one();
            r
        }
        Err(DeliveryError::Throttled(after)) => {
            tracing::info!(outbox_id = item.id, lead_id = ?item.lead, ?after, "throttled by the provider");
            let next = Utc::now() + chrono::Duration::from_std(*after).unwrap_or_default();
            hold_until = Some(next);
            store.outbox_retry(item.id, "throttled", next).await
        }
        Err(DeliveryError::Retryable(e)) if (item.attempts as u32) < settings.max_attempts => {
            let backoff = settings
                .retry_base
                .saturating_mul(1u32 << (item.attempts.clamp(1, 16) - 1))
                .min(MAX_BACKOFF);
            tracing::warn!(outbox_id = item.id, lead_id = ?item.lead, attempts = item.attempts, error = %e, "delivery failed, will retry");
            let next = Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default();
            hold_until = Some(next);
            store.outbox_retry(item.id, e, next).await
        }
        Err(DeliveryError::Blocked(reason) | DeliveryError::CannotInitiate(reason)) => {
            tracing::warn!(outbox_id = item.id, lead_id = ?item.lead, reason = %reason, "the client cannot be reached on this channel");
            if let Some(lead) = item.lead {
                // One event per lead and channel: a fallback step's own channel failing later
                // is news too.
                let channel = item.payload.get("channel").and_then(|c| c.as_str()).unwrap_or("");
                let key = EventKey::new("channel-status", format!("lost:{lead}:{channel}"));
                let payload = InboxPayload::ChannelLost {
                    reason: reason.clone(),
                    channel: (!channel.is_empty()).then(|| crate::domain::ChannelName::new(channel)),
                };
                if let Err(e) = shared.intake.push(lead, &key, &payload).await {
                    tracing::error!(lead_id = %lead, error = %e, "could not record a lost channel");
                }
            }
            store.outbox_failed(item.id, &format!("blocked: {reason}")).await
        }
        Err(e) => {
            tracing::error!(outbox_id = item.id, lead_id = ?item.lead, error = %e, "delivery given up");
            store.outbox_failed(item.id, &e.to_string()).await
        }
    };
    if let Err(e) = recorded {
        // The lease lapses and the row is delivered again with the same idempotency key.
        tracing::warn!(outbox_id = item.id, error = %e, "delivery outcome not recorded");
    }
    Finished {
        id: item.id,
        lead: item.lead,
        outcome,
        hold_until,
    }
}

async fn deliver(sink: &Sink, shared: &Shared, item: &OutboxItem) -> Result<(), DeliveryError> {
    let lead = |id: Option<LeadId>| async move {
        let id = id.ok_or_else(|| DeliveryError::Permanent(format!("a {} row without a lead", item.kind)))?;
        shared
            .store
            .get_lead(id)
            .await
            .map_err(|e| DeliveryError::Retryable(e.to_string()))
    };
    let bad = |e: serde_json::Error| DeliveryError::Permanent(format!("bad {} payload: {e}", item.kind));
    match (sink, item.kind.as_str()) {
        (Sink::Channel(channel), KIND_MESSAGE) => {
            let msg: OutboundMessage = serde_json::from_value(item.payload.clone()).map_err(bad)?;
            channel
                .send(&lead(item.lead).await?, &msg, &item.idempotency_key, item.id)
                .await
        }
        (Sink::Notifier(notifier), KIND_NOTIFICATION) => {
            let n: Notification = serde_json::from_value(item.payload.clone()).map_err(bad)?;
            notifier.send(&n, &item.idempotency_key).await
        }
        (Sink::Crm(crm), KIND_CRM) => {
            let row: CrmRow = serde_json::from_value(item.payload.clone()).map_err(bad)?;
            crm.apply(&lead(item.lead).await?, &row.update, &item.idempotency_key)
                .await
        }
        (Sink::Crm(crm), KIND_DEAL) => {
            let d: DealUpdate = serde_json::from_value(item.payload.clone()).map_err(bad)?;
            crm.update_deal(&d, &item.idempotency_key).await
        }
        (Sink::Crm(crm), KIND_DEAL_ACTION) => {
            let d: DealActionRow = serde_json::from_value(item.payload.clone()).map_err(bad)?;
            crm.deal_action(&d, &item.idempotency_key).await
        }
        (Sink::Notifier(notifier), KIND_SLA_NOTICE) => {
            let n: SlaNotice = serde_json::from_value(item.payload.clone()).map_err(bad)?;
            notifier.send_notice(&n, &item.idempotency_key).await
        }
        (Sink::Notifier(notifier), KIND_REPORT) => {
            let r: crate::outbox::ReportDelivery = serde_json::from_value(item.payload.clone()).map_err(bad)?;
            notifier.send_report(&r, &item.idempotency_key).await
        }
        (_, kind) => Err(DeliveryError::Permanent(format!("a {kind} row reached the wrong sink"))),
    }
}
