//! The robots' step: `(deal state, event, now) → (state, effects)`. Pure: the deal actor feeds
//! it events and commits the new state with the effects (timers, CRM actions, notices,
//! counters, violations) in one transaction.
//!
//! Every robot has *instances* (one per stage entry, per date value, per task, per day...).
//! After each event the engine works out, for every robot, which instances exist now and when
//! each is due; due ones fire at once, later ones get a durable timer. An instance fires once,
//! whether its conditions held or not, so redelivered webhooks and restarts never repeat an
//! action; an instance that stopped existing (the deal left the stage) drops its timer.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use super::deal::{DealEvent, DealFacts, DealState, StageVisit};
use super::rules::{field_label, Action, Robot, RobotBook, Trigger};

/// A change to make in the CRM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CrmAction {
    AddTag {
        tag: String,
    },
    Comment {
        text: String,
    },
    Task {
        title: String,
        due: DateTime<Utc>,
        responsible: Option<String>,
    },
    /// To a stage by its robot name.
    MoveStage {
        stage: String,
    },
    SetField {
        field: String,
        value: String,
    },
    /// A notice to a manager through the CRM itself (Bitrix24's notifications, an amoCRM
    /// note), for a manager robots.toml gives no Telegram chat or e-mail. The rules never emit
    /// it; the runtime does, so that a notice is not lost for want of a contact.
    NotifyUser {
        user: String,
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", content = "manager", rename_all = "snake_case")]
pub enum Recipient {
    /// The deal's responsible (by CRM user id).
    Manager(Option<String>),
    /// The head of sales.
    Head,
}

/// A robot's rule broken: who, which robot, when, how late.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub robot: String,
    pub manager: Option<String>,
    pub stage: Option<String>,
    /// When the robot's clock started (stage entry, creation, first reply...).
    pub started_at: DateTime<Utc>,
    /// When the rule was due.
    pub due_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
}

impl Violation {
    /// From the clock's start to its detection.
    pub fn elapsed(&self) -> Duration {
        self.detected_at - self.started_at
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Effect {
    Arm {
        key: String,
        at: DateTime<Utc>,
    },
    Cancel {
        key: String,
    },
    /// `key` identifies the action for good (the outbox's idempotency key).
    Crm {
        key: String,
        action: CrmAction,
    },
    Notify {
        key: String,
        robot: String,
        to: Recipient,
        text: String,
    },
    Count {
        key: String,
        counter: String,
        manager: Option<String>,
        amount: f64,
    },
    Violation {
        key: String,
        violation: Violation,
    },
}

/// One instance of a robot: its key, when its clock started, when it is due.
struct Instance {
    key: String,
    start: DateTime<Utc>,
    due: DateTime<Utc>,
}

/// Applies `event` to `st` and returns what must happen.
pub fn step(book: &RobotBook, st: &mut DealState, event: DealEvent, now: DateTime<Utc>) -> Vec<Effect> {
    let mut effects = Vec::new();
    match event {
        DealEvent::Observed { facts } => observe(st, facts, now),
        DealEvent::Touch { kind, inbound, at } => {
            match kind {
                super::deal::TouchKind::Call => st.calls += 1,
                super::deal::TouchKind::Message => st.messages += 1,
            }
            st.last_touch_at = Some(st.last_touch_at.map_or(at, |t| t.max(at)));
            if inbound && st.first_client_reply_at.is_none() {
                st.first_client_reply_at = Some(at);
            }
        }
        DealEvent::Timer { key } => {
            st.armed.remove(&key);
        }
    }
    schedule(book, st, now, &mut effects);
    effects
}

fn observe(st: &mut DealState, facts: DealFacts, now: DateTime<Utc>) {
    let changed = st.stage() != Some(facts.stage.as_str());
    if changed {
        let back = st.moving_back.take();
        match back {
            // The CRM's echo of our own move back: the earlier stay resumes, its clock too.
            Some(visit) if visit.stage == facts.stage => {
                st.previous = st.visit.take();
                st.visit = Some(visit);
            }
            _ => {
                let entry = st.visit.as_ref().map_or(0, |v| v.entry) + 1;
                // The CRM's time of the move, where it tells (never in the future). CRMs keep
                // whole seconds: so does this, or a call in the same second would count as
                // before the entry.
                let entered_at = facts.stage_since.map_or(now, |t| t.min(now)).trunc_subsecs(0);
                let came_from = st.visit.as_ref().map(|v| v.stage.clone());
                st.previous = st.visit.take();
                st.visit = Some(StageVisit {
                    stage: facts.stage.clone(),
                    entry,
                    entered_at,
                    came_from,
                });
            }
        }
        st.stages_seen.insert(facts.stage.clone());
    }
    st.facts = Some(facts);
}

fn schedule(book: &RobotBook, st: &mut DealState, now: DateTime<Utc>, effects: &mut Vec<Effect>) {
    let mut wanted: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    // Robots in file order: a move back decided by one is seen by the next.
    for robot in &book.robots {
        for inst in instances(book, robot, st, now) {
            // An instance is evaluated once; a `once` robot acts once per deal (its instances
            // whose conditions did not hold do not use it up).
            let once_key = format!("{}|once", robot.id);
            if st.fired.contains(&inst.key) || (robot.once && st.fired.contains(&once_key)) {
                continue;
            }
            if inst.due <= now {
                st.fired.insert(inst.key.clone());
                if fire(robot, st, &inst, now, effects) && robot.once {
                    st.fired.insert(once_key);
                }
            } else {
                wanted.insert(inst.key, inst.due);
            }
        }
    }
    prune_daily(book, st, now);
    let stale: Vec<String> = st.armed.keys().filter(|k| !wanted.contains_key(*k)).cloned().collect();
    for key in stale {
        st.armed.remove(&key);
        effects.push(Effect::Cancel { key });
    }
    for (key, at) in wanted {
        if st.armed.get(&key) != Some(&at) {
            st.armed.insert(key.clone(), at);
            effects.push(Effect::Arm { key, at });
        }
    }
}

/// Forgets the days a time-of-day robot fired on, once they are past any look-back (a
/// `time_of_day` instance only looks at the last 24 h): a deal that lives for months would
/// otherwise carry one entry per day in its snapshot.
fn prune_daily(book: &RobotBook, st: &mut DealState, now: DateTime<Utc>) {
    let horizon = (now - Duration::days(3)).with_timezone(&book.time_zone).date_naive();
    st.fired.retain(|key| {
        let Some((_, day)) = key.rsplit_once("|day") else {
            return true;
        };
        match chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            Ok(d) => d >= horizon,
            Err(_) => true,
        }
    });
}

fn in_stages(robot: &Robot, st: &DealState) -> bool {
    robot.stages.is_empty() || st.stage().is_some_and(|s| robot.stages.iter().any(|r| r == s))
}

fn due(book: &RobotBook, robot: &Robot, start: DateTime<Utc>) -> DateTime<Utc> {
    if robot.working_time && robot.after > Duration::zero() {
        book.calendar.add_working(book.time_zone, start, robot.after)
    } else {
        start + robot.after
    }
}

/// The robot's instances that exist in this state.
fn instances(book: &RobotBook, robot: &Robot, st: &DealState, now: DateTime<Utc>) -> Vec<Instance> {
    let Some(facts) = &st.facts else { return Vec::new() };
    let id = &robot.id;
    let mk = |key: String, start: DateTime<Utc>| Instance {
        due: due(book, robot, start),
        key,
        start,
    };
    match &robot.trigger {
        Trigger::Created => {
            if !in_stages(robot, st) {
                return Vec::new();
            }
            vec![mk(format!("{id}|created"), facts.created_at)]
        }
        Trigger::EnteredStage => match &st.visit {
            Some(v) if in_stages(robot, st) => vec![mk(format!("{id}|entry{}", v.entry), v.entered_at)],
            _ => Vec::new(),
        },
        Trigger::FieldDate { field } => {
            if !in_stages(robot, st) {
                return Vec::new();
            }
            match facts
                .fields
                .get(field)
                .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            {
                Some(t) => {
                    let t = t.with_timezone(&Utc);
                    vec![mk(format!("{id}|{field}@{}", t.timestamp()), t)]
                }
                None => Vec::new(),
            }
        }
        Trigger::TaskOverdue { title } => {
            if !in_stages(robot, st) {
                return Vec::new();
            }
            facts
                .tasks
                .iter()
                .filter(|t| title.as_ref().is_none_or(|want| want == &t.title))
                .filter_map(|t| t.due.map(|d| mk(format!("{id}|task{}", t.id), d)))
                .collect()
        }
        Trigger::FirstClientReply => match st.first_client_reply_at {
            Some(t) if in_stages(robot, st) => vec![mk(format!("{id}|reply"), t)],
            _ => Vec::new(),
        },
        Trigger::TimeOfDay { at } => {
            if !in_stages(robot, st) {
                return Vec::new();
            }
            let cal = &book.calendar;
            let tz = book.time_zone;
            // The latest occurrence in the past day (if the deal existed then), else the next.
            let from = (now - Duration::hours(24)).max(facts.created_at);
            let mut t = cal.next_time_of_day(tz, from, *at, robot.working_time);
            let key = |t: DateTime<Utc>| format!("{id}|day{}", t.with_timezone(&tz).date_naive());
            if t <= now && st.fired.contains(&key(t)) {
                t = cal.next_time_of_day(tz, t + Duration::seconds(1), *at, robot.working_time);
            }
            vec![Instance {
                key: key(t),
                start: t,
                due: t + robot.after,
            }]
        }
    }
}

/// The fields of `names` the deal lacks (`crm_required`: those the CRM requires in the stage).
fn missing(facts: &DealFacts, names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if n == super::rules::CRM_REQUIRED {
            for f in &facts.crm_required_missing {
                if !out.contains(f) {
                    out.push(f.clone());
                }
            }
        } else if !facts.has_field(n) && !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

/// A touch this much before the clock started still stops it: CRMs stamp calls and notes in
/// whole seconds (amoCRM's `created_at`) and on their own clock, so a call made in the same
/// second as the deal entered the stage can carry an earlier time than the entry we saw.
const TOUCH_SLACK: chrono::Duration = chrono::Duration::seconds(2);

fn holds(robot: &Robot, st: &DealState, inst: &Instance) -> bool {
    let Some(facts) = &st.facts else { return false };
    let w = &robot.when;
    if w.no_touch && st.last_touch_at.is_some_and(|t| t + TOUCH_SLACK >= inst.start) {
        return false;
    }
    let counts = [
        w.touches_below.map(|n| st.touches() < n),
        w.calls_below.map(|n| st.calls < n),
        w.messages_below.map(|n| st.messages < n),
    ];
    if counts.iter().any(Option::is_some) && !counts.iter().flatten().any(|&short| short) {
        return false;
    }
    if !w.missing_fields.is_empty() && missing(facts, &w.missing_fields).is_empty() {
        return false;
    }
    let stage = st.stage().unwrap_or_default();
    if w.stage_not.iter().any(|s| s == stage) {
        return false;
    }
    let still = w.still_in_stage.unwrap_or(!robot.stages.is_empty());
    if still && !in_stages(robot, st) {
        return false;
    }
    if let Some(from) = &w.came_from {
        if st.visit.as_ref().and_then(|v| v.came_from.as_ref()) != Some(from) {
            return false;
        }
    }
    if let Some(was) = &w.was_in {
        if was == stage || !st.stages_seen.contains(was) {
            return false;
        }
    }
    if let Some(title) = &w.task_open {
        if !facts.tasks.iter().any(|t| &t.title == title) {
            return false;
        }
    }
    true
}

fn human(d: Duration) -> String {
    let mins = d.num_minutes().max(0);
    match (mins / 60, mins % 60) {
        (0, m) => format!("{m} мин"),
        (h, 0) => format!("{h} ч"),
        (h, m) => format!("{h} ч {m} мин"),
    }
}

fn fill(text: &str, robot: &Robot, st: &DealState, inst: &Instance, now: DateTime<Utc>) -> String {
    let facts = st.facts.as_ref();
    let missing = facts
        .map(|f| missing(f, &robot.when.missing_fields))
        .unwrap_or_default()
        .iter()
        .map(|n| field_label(n).to_string())
        .collect::<Vec<_>>()
        .join(", ");
    text.replace("{missing}", &missing)
        .replace("{elapsed}", &human(now - inst.start))
        .replace("{stage}", st.stage().unwrap_or_default())
        .replace("{deal}", facts.map(|f| f.title.as_str()).unwrap_or_default())
}

/// Runs the robot's actions if its conditions hold; `true` when they did.
fn fire(robot: &Robot, st: &mut DealState, inst: &Instance, now: DateTime<Utc>, effects: &mut Vec<Effect>) -> bool {
    if !holds(robot, st, inst) {
        return false;
    }
    let manager = st.facts.as_ref().and_then(|f| f.responsible.clone());
    for (i, action) in robot.actions.iter().enumerate() {
        let key = format!("{}:{}|{}|{i}", st.crm, st.deal_id, inst.key);
        match action {
            Action::Tag(tag) => {
                if st.facts.as_ref().is_some_and(|f| f.tags.contains(tag)) {
                    continue; // the deal has it already (put by a person, or an earlier run)
                }
                effects.push(Effect::Crm {
                    key,
                    action: CrmAction::AddTag { tag: tag.clone() },
                });
            }
            Action::Comment(text) => effects.push(Effect::Crm {
                key,
                action: CrmAction::Comment {
                    text: fill(text, robot, st, inst, now),
                },
            }),
            Action::Task { title, due_in } => effects.push(Effect::Crm {
                key,
                action: CrmAction::Task {
                    title: fill(title, robot, st, inst, now),
                    due: now + Duration::from_std(*due_in).unwrap_or_default(),
                    responsible: manager.clone(),
                },
            }),
            Action::NotifyManager(text) => effects.push(Effect::Notify {
                key,
                robot: robot.id.clone(),
                to: Recipient::Manager(manager.clone()),
                text: fill(text, robot, st, inst, now),
            }),
            Action::NotifyHead(text) => effects.push(Effect::Notify {
                key,
                robot: robot.id.clone(),
                to: Recipient::Head,
                text: fill(text, robot, st, inst, now),
            }),
            Action::Move(stage) => effects.push(Effect::Crm {
                key,
                action: CrmAction::MoveStage { stage: stage.clone() },
            }),
            Action::MoveBack => {
                let Some(prev) = st.previous.clone() else { continue };
                effects.push(Effect::Crm {
                    key,
                    action: CrmAction::MoveStage {
                        stage: prev.stage.clone(),
                    },
                });
                st.moving_back = Some(prev);
            }
            Action::SetField { field, value } => {
                if st
                    .facts
                    .as_ref()
                    .is_some_and(|f| f.fields.get(field).is_some_and(|v| v == value))
                {
                    continue;
                }
                effects.push(Effect::Crm {
                    key,
                    action: CrmAction::SetField {
                        field: field.clone(),
                        value: value.clone(),
                    },
                });
            }
            Action::Count { counter, amount } => {
                let n = if *amount {
                    st.facts.as_ref().and_then(|f| f.amount).unwrap_or(0.0)
                } else {
                    1.0
                };
                effects.push(Effect::Count {
                    key,
                    counter: counter.clone(),
                    manager: manager.clone(),
                    amount: n,
                });
            }
            Action::Violation => effects.push(Effect::Violation {
                key,
                violation: Violation {
                    robot: robot.id.clone(),
                    manager: manager.clone(),
                    stage: st.stage().map(str::to_string),
                    started_at: inst.start,
                    due_at: inst.due,
                    detected_at: now,
                },
            }),
        }
    }
    true
}
