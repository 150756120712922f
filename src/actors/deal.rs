//! One actor per tracked deal: the only writer of the deal's robot state. Each inbox row (a
//! card the CRM showed, a call, a message) or timer is one step: run the pure robots, commit
//! the state with its timers, outbox rows, violations and counters in one transaction, then
//! wake delivery and the timer service.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::config::{self, RobotsSettings};
use crate::outbox::{DealActionRow, NoticeVia, SlaNotice, KIND_DEAL_ACTION, KIND_SLA_NOTICE};
use crate::sla::{self, CrmAction, DealEvent, DealState, Effect, Recipient};
use crate::store::{
    CounterRow, DealCommit, DealRef, DealStore, DealTimerChange, DueDealTimer, NewOutbox, StoreError, ViolationRow,
};
use crate::telemetry;

const INBOX_BATCH: i64 = 100;

/// What every deal actor needs; shared, immutable.
pub struct DealDeps {
    pub store: Arc<dyn DealStore>,
    pub robots: Arc<RobotsSettings>,
    pub outbox_wake: Arc<Notify>,
    pub timer_wake: Arc<Notify>,
    pub passivate_after: Duration,
    /// Notices also go to `notify.webhook_url`.
    pub webhook_notices: bool,
}

pub enum DealMsg {
    /// Apply every inbox row not yet applied.
    Pull,
    Timer(DueDealTimer),
    IdleCheck,
}

pub struct DealActor {
    pub deps: Arc<DealDeps>,
}

pub struct DealRuntime {
    deal: DealRef,
    state: DealState,
    version: i64,
    last_applied: i64,
    last_activity: Instant,
    idle_timer: Option<JoinHandle<Result<(), ractor::MessagingErr<DealMsg>>>>,
}

impl Actor for DealActor {
    type Msg = DealMsg;
    type State = DealRuntime;
    type Arguments = DealRef;

    async fn pre_start(&self, myself: ActorRef<DealMsg>, deal: DealRef) -> Result<DealRuntime, ActorProcessingErr> {
        let (state, version, last_applied) = match self.deps.store.load_deal(&deal).await? {
            Some(s) => {
                let state: DealState = serde_json::from_value(s.state)
                    .map_err(|e| StoreError::Corrupt(format!("deal {deal} snapshot: {e}")))?;
                (state, s.version, s.last_applied_id)
            }
            None => (DealState::new(&deal.crm, &deal.deal_id), 0, 0),
        };
        metrics::gauge!(telemetry::DEAL_ACTORS_ACTIVE).increment(1.0);
        let mut rt = DealRuntime {
            deal,
            state,
            version,
            last_applied,
            last_activity: Instant::now(),
            idle_timer: None,
        };
        self.arm_idle_check(&myself, &mut rt);
        Ok(rt)
    }

    async fn handle(
        &self,
        myself: ActorRef<DealMsg>,
        msg: DealMsg,
        rt: &mut DealRuntime,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DealMsg::Pull => {
                rt.last_activity = Instant::now();
                self.apply_inbox(rt).await?;
            }
            DealMsg::Timer(timer) => {
                rt.last_activity = Instant::now();
                let lag = (Utc::now() - timer.due_at).num_milliseconds().max(0) as f64 / 1000.0;
                metrics::histogram!(telemetry::SLA_TIMER_LAG).record(lag);
                let event = DealEvent::Timer { key: timer.key.clone() };
                let fired = DealTimerChange::Fired {
                    key: timer.key,
                    due_at: timer.due_at,
                };
                self.step(rt, event, None, Some(fired)).await?;
            }
            DealMsg::IdleCheck => {
                if rt.last_activity.elapsed() >= self.deps.passivate_after {
                    myself.stop(Some("passivated".into()));
                    return Ok(());
                }
                self.arm_idle_check(&myself, rt);
            }
        }
        Ok(())
    }

    async fn post_stop(&self, _myself: ActorRef<DealMsg>, rt: &mut DealRuntime) -> Result<(), ActorProcessingErr> {
        if let Some(h) = rt.idle_timer.take() {
            h.abort();
        }
        metrics::gauge!(telemetry::DEAL_ACTORS_ACTIVE).decrement(1.0);
        Ok(())
    }
}

impl DealActor {
    fn arm_idle_check(&self, myself: &ActorRef<DealMsg>, rt: &mut DealRuntime) {
        if let Some(h) = rt.idle_timer.take() {
            h.abort();
        }
        rt.idle_timer = Some(myself.send_after(self.deps.passivate_after, || DealMsg::IdleCheck));
    }

    async fn apply_inbox(&self, rt: &mut DealRuntime) -> Result<(), ActorProcessingErr> {
        loop {
            let items = self
                .deps
                .store
                .deal_inbox_after(&rt.deal, rt.last_applied, INBOX_BATCH)
                .await?;
            if items.is_empty() {
                return Ok(());
            }
            for item in items {
                match serde_json::from_value::<DealEvent>(item.event) {
                    Ok(event) => self.step(rt, event, Some(item.id), None).await?,
                    Err(e) => {
                        // Written by a newer or older version: skip it (marked applied), keep the deal.
                        tracing::error!(deal = %rt.deal, inbox_id = item.id, error = %e, "unreadable deal event skipped");
                        let state = serde_json::to_value(&rt.state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        self.commit(rt, rt.state.clone(), state, Some(item.id), Vec::new(), None)
                            .await?;
                    }
                }
            }
        }
    }

    async fn step(
        &self,
        rt: &mut DealRuntime,
        event: DealEvent,
        applied: Option<i64>,
        fired: Option<DealTimerChange>,
    ) -> Result<(), ActorProcessingErr> {
        let mut next = rt.state.clone();
        let effects = sla::step(&self.deps.robots.book, &mut next, event, Utc::now());
        let state = serde_json::to_value(&next).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.commit(rt, next, state, applied, effects, fired).await
    }

    async fn commit(
        &self,
        rt: &mut DealRuntime,
        next: DealState,
        state: serde_json::Value,
        applied: Option<i64>,
        effects: Vec<Effect>,
        fired: Option<DealTimerChange>,
    ) -> Result<(), ActorProcessingErr> {
        let now = Utc::now();
        let mut commit = DealCommit {
            deal: rt.deal.clone(),
            expected_version: rt.version,
            state,
            applied_inbox_id: applied,
            outbox: Vec::new(),
            timers: Vec::new(),
            violations: Vec::new(),
            counters: Vec::new(),
        };
        // The firing is recorded first: a re-arm of the same key in this step wins over it.
        commit.timers.extend(fired);
        let title = next.facts.as_ref().map(|f| f.title.clone()).unwrap_or_default();
        let mut armed = false;
        for effect in effects {
            match effect {
                Effect::Arm { key, at } => {
                    armed = true;
                    commit.timers.push(DealTimerChange::Arm { key, due_at: at });
                }
                Effect::Cancel { key } => commit.timers.push(DealTimerChange::Cancel { key }),
                Effect::Crm { key, action } => {
                    let row = DealActionRow {
                        crm: rt.deal.crm.clone(),
                        deal_id: rt.deal.deal_id.clone(),
                        action,
                    };
                    commit.outbox.push(NewOutbox {
                        kind: KIND_DEAL_ACTION.into(),
                        payload: serde_json::to_value(&row).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        idempotency_key: key,
                        delivered: false,
                    });
                }
                Effect::Notify { key, robot, to, text } => {
                    let rows = notice_rows(&self.deps, &rt.deal, &title, &key, &robot, &to, &text)?;
                    let personal = person(&self.deps.robots, &rt.deal, &to)
                        .1
                        .is_some_and(|p| p.reachable());
                    match (&to, personal) {
                        // A manager robots.toml has no chat or e-mail for is told in the CRM
                        // itself (besides the operator's webhook, which is no person).
                        (Recipient::Manager(Some(user)), false) => {
                            let row = DealActionRow {
                                crm: rt.deal.crm.clone(),
                                deal_id: rt.deal.deal_id.clone(),
                                action: CrmAction::NotifyUser {
                                    user: user.clone(),
                                    text: text.clone(),
                                },
                            };
                            commit.outbox.push(NewOutbox {
                                kind: KIND_DEAL_ACTION.into(),
                                payload: serde_json::to_value(&row).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                                idempotency_key: format!("{key}:crm"),
                                delivered: false,
                            });
                        }
                        (_, false) if rows.is_empty() => {
                            tracing::warn!(deal = %rt.deal, robot = %robot, "a robot's notice has nobody to reach (no telegram_chat_id or email in robots.toml, and no responsible): {text}");
                        }
                        _ => {}
                    }
                    commit.outbox.extend(rows);
                }
                Effect::Count {
                    key,
                    counter,
                    manager,
                    amount,
                } => commit.counters.push(CounterRow {
                    key,
                    crm: rt.deal.crm.clone(),
                    deal_id: rt.deal.deal_id.clone(),
                    counter,
                    manager,
                    amount,
                    at: now,
                }),
                Effect::Violation { key, violation } => {
                    let late = violation.elapsed().num_milliseconds() as f64 / 1000.0;
                    tracing::info!(deal = %rt.deal, robot = %violation.robot, manager = ?violation.manager, elapsed_s = late, "SLA violation");
                    commit.violations.push(ViolationRow {
                        key,
                        crm: rt.deal.crm.clone(),
                        deal_id: rt.deal.deal_id.clone(),
                        robot: violation.robot,
                        manager: violation.manager,
                        stage: violation.stage,
                        started_at: violation.started_at,
                        due_at: violation.due_at,
                        detected_at: violation.detected_at,
                    });
                }
            }
        }
        self.deps.store.commit_deal_step(&commit).await?;
        for v in &commit.violations {
            metrics::counter!(telemetry::SLA_VIOLATIONS, "robot" => robot_label(&self.deps.robots, &v.robot))
                .increment(1);
        }
        rt.state = next;
        rt.version += 1;
        if let Some(id) = applied {
            rt.last_applied = rt.last_applied.max(id);
        }
        if !commit.outbox.is_empty() {
            self.deps.outbox_wake.notify_one();
        }
        if armed {
            self.deps.timer_wake.notify_one();
        }
        Ok(())
    }
}

/// A robot id from the config (bounded label set), or "other".
fn robot_label(robots: &RobotsSettings, id: &str) -> String {
    if robots.book.robot(id).is_some() {
        id.to_string()
    } else {
        "other".into()
    }
}

/// Whom a notice is for: its recipient label and their contacts in robots.toml, if any.
fn person<'a>(robots: &'a RobotsSettings, deal: &DealRef, to: &Recipient) -> (String, Option<&'a config::Recipient>) {
    match to {
        Recipient::Head => ("head".to_string(), Some(&robots.head)),
        Recipient::Manager(Some(id)) => (id.clone(), robots.manager(&deal.crm, id)),
        Recipient::Manager(None) => ("nobody".to_string(), None),
    }
}

/// One outbox row per way of reaching the notice's person.
fn notice_rows(
    deps: &DealDeps,
    deal: &DealRef,
    title: &str,
    key: &str,
    robot: &str,
    to: &Recipient,
    text: &str,
) -> Result<Vec<NewOutbox>, StoreError> {
    let robots = &deps.robots;
    let (recipient, person) = person(robots, deal, to);
    let mut vias = Vec::new();
    if let Some(p) = person {
        vias.extend(
            p.telegram_chat_id
                .map(|chat_id| ("tg", NoticeVia::Telegram { chat_id })),
        );
        vias.extend(p.email.clone().map(|to| ("mail", NoticeVia::Email { to })));
    }
    if deps.webhook_notices {
        vias.push(("hook", NoticeVia::Webhook));
    }
    vias.into_iter()
        .map(|(tag, via)| {
            let notice = SlaNotice {
                crm: deal.crm.clone(),
                deal_id: deal.deal_id.clone(),
                deal_title: title.to_string(),
                recipient: recipient.clone(),
                recipient_name: person.map(|p| p.name.clone()).unwrap_or_default(),
                robot: robot.to_string(),
                text: text.to_string(),
                via,
            };
            Ok(NewOutbox {
                kind: KIND_SLA_NOTICE.into(),
                payload: serde_json::to_value(&notice).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                idempotency_key: format!("{key}:{tag}"),
                delivered: false,
            })
        })
        .collect()
}
