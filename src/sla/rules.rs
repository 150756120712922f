//! What a robot is, as `config/robots.toml` writes it: a trigger, a delay, conditions checked
//! when it fires, and actions. Plain data with serde; `crate::config::robots` loads and
//! validates the file, the engine (`engine.rs`) runs it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::calendar::WorkCalendar;

/// Every robot of an account, with its time zone and working calendar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobotBook {
    /// The account's time zone: "time of day" triggers and the working calendar are in it.
    pub time_zone: Tz,
    pub calendar: WorkCalendar,
    pub robots: Vec<Robot>,
}

impl RobotBook {
    pub fn robot(&self, id: &str) -> Option<&Robot> {
        self.robots.iter().find(|r| r.id == id)
    }
}

/// When a robot's clock starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "on")]
pub enum Trigger {
    /// The deal was created (the clock starts at its creation time in the CRM).
    Created,
    /// The deal entered one of the robot's stages (each entry is a new instance).
    EnteredStage,
    /// A date field of the deal (e.g. the visit date); `after` may be negative ("-24h").
    FieldDate { field: String },
    /// An open task whose deadline passed (of this title, or any).
    TaskOverdue { title: Option<String> },
    /// The client's first reply (an inbound call or message).
    FirstClientReply,
    /// Every day (working days only with `working_time`) at this local time.
    TimeOfDay { at: NaiveTime },
}

/// The trigger's name in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum On {
    Created,
    EnteredStage,
    FieldDate,
    TaskOverdue,
    FirstClientReply,
    TimeOfDay,
}

/// What must hold when the robot fires; every given condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// No touch (call or message, either direction) since the clock started.
    #[serde(default)]
    pub no_touch: bool,
    /// Fewer touches than this since the deal was created...
    #[serde(default)]
    pub touches_below: Option<u32>,
    /// ...or fewer calls than this...
    #[serde(default)]
    pub calls_below: Option<u32>,
    /// ...or fewer messages than this (any of the three given ones is enough).
    #[serde(default)]
    pub messages_below: Option<u32>,
    /// Any of these fields is missing (names: see [`crate::sla::FIELD_NAMES`] or a field of
    /// the CRM mapping).
    #[serde(default)]
    pub missing_fields: Vec<String>,
    /// The deal is not in any of these stages.
    #[serde(default)]
    pub stage_not: Vec<String>,
    /// The deal is still in one of the robot's stages (default for stage robots).
    #[serde(default)]
    pub still_in_stage: Option<bool>,
    /// The deal came into its stage from this one.
    #[serde(default)]
    pub came_from: Option<String>,
    /// The deal was in this stage at some time before.
    #[serde(default)]
    pub was_in: Option<String>,
    /// An open task with this title exists.
    #[serde(default)]
    pub task_open: Option<String>,
}

/// One thing a robot does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// A tag on the deal (a list field or a comment where the CRM has no tags).
    Tag(String),
    /// A comment / note on the deal. `{missing}`, `{elapsed}`, `{stage}` are filled in.
    Comment(String),
    /// A task for the deal's responsible, due after `due_in`.
    Task {
        title: String,
        #[serde(with = "crate::sla::rules::duration_text")]
        due_in: Duration,
    },
    NotifyManager(String),
    NotifyHead(String),
    /// Moves the deal to this stage.
    Move(String),
    /// Moves the deal back to the stage it came from (a stage move without required fields).
    MoveBack,
    SetField {
        field: String,
        value: String,
    },
    /// Adds one (or the deal's amount) to a counter of the deal's manager.
    Count {
        counter: String,
        #[serde(default)]
        amount: bool,
    },
    /// Stores a violation of this robot (for the reports and `/metrics`).
    Violation,
}

/// A robot as the engine runs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Robot {
    pub id: String,
    /// The stages it watches (any stage when empty).
    pub stages: Vec<String>,
    pub trigger: Trigger,
    /// How long after the trigger it fires; may be negative for a date field.
    #[serde(with = "signed_duration")]
    pub after: chrono::Duration,
    /// `after` counts working time only (the account's calendar).
    pub working_time: bool,
    /// Fires once per deal at most (a return is counted once), not once per trigger.
    pub once: bool,
    pub when: Conditions,
    pub actions: Vec<Action>,
}

/// A robot as `robots.toml` writes it (`[[robot]]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotSpec {
    pub id: String,
    #[serde(default)]
    pub stages: Vec<String>,
    pub on: On,
    /// The date field of `on = "field_date"`.
    #[serde(default)]
    pub field: Option<String>,
    /// The task title of `on = "task_overdue"` (any task when absent).
    #[serde(default)]
    pub task: Option<String>,
    /// The local time of `on = "time_of_day"`, "19:00".
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default = "zero", deserialize_with = "signed_duration::deserialize")]
    pub after: chrono::Duration,
    #[serde(default)]
    pub working_time: bool,
    #[serde(default)]
    pub once: bool,
    #[serde(default)]
    pub when: Conditions,
    pub actions: Vec<Action>,
}

fn zero() -> chrono::Duration {
    chrono::Duration::zero()
}

impl TryFrom<RobotSpec> for Robot {
    type Error = String;

    fn try_from(s: RobotSpec) -> Result<Robot, String> {
        let trigger = match s.on {
            On::Created => Trigger::Created,
            On::EnteredStage => {
                if s.stages.is_empty() {
                    return Err("`on = \"entered_stage\"` needs `stages`".into());
                }
                Trigger::EnteredStage
            }
            On::FieldDate => Trigger::FieldDate {
                field: s.field.clone().ok_or("`on = \"field_date\"` needs `field`")?,
            },
            On::TaskOverdue => Trigger::TaskOverdue { title: s.task.clone() },
            On::FirstClientReply => Trigger::FirstClientReply,
            On::TimeOfDay => {
                let at =
                    s.at.as_deref()
                        .ok_or("`on = \"time_of_day\"` needs `at`, e.g. \"19:00\"")?;
                let at = NaiveTime::parse_from_str(at, "%H:%M").map_err(|_| format!("`at = \"{at}\"` is not HH:MM"))?;
                Trigger::TimeOfDay { at }
            }
        };
        if s.actions.is_empty() {
            return Err("a robot needs at least one action".into());
        }
        if s.after < chrono::Duration::zero() && !matches!(trigger, Trigger::FieldDate { .. }) {
            return Err("a negative `after` only makes sense before a date field".into());
        }
        if s.working_time && s.after < chrono::Duration::zero() {
            return Err("`working_time` counts forward only".into());
        }
        Ok(Robot {
            id: s.id,
            stages: s.stages,
            trigger,
            after: s.after,
            working_time: s.working_time,
            once: s.once,
            when: s.when,
            actions: s.actions,
        })
    }
}

/// Logical field names the engine knows without a CRM mapping.
pub const FIELD_NAMES: &[&str] = &["name", "phone", "source", "comment", "task", "visit_at", CRM_REQUIRED];

/// In `missing_fields`: the fields the CRM itself requires in the deal's stage.
pub const CRM_REQUIRED: &str = "crm_required";

/// Field names of the config that read in Russian map to the logical ones.
pub fn field_label(name: &str) -> &str {
    match name {
        "name" => "ФИО",
        "phone" => "телефон",
        "source" => "источник",
        "comment" => "комментарий",
        "task" => "задача",
        "visit_at" => "дата визита",
        other => other,
    }
}

/// Stage names per CRM: the robots speak of "Неразобранное", the CRM of `NEW` or `142`.
pub type StageMap = BTreeMap<String, String>;

pub mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("`{s}`: {e}")))
    }
}

/// "15m", "-24h", "0".
pub mod signed_duration {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &chrono::Duration, s: S) -> Result<S::Ok, S::Error> {
        let abs = d.abs().to_std().unwrap_or_default();
        let sign = if *d < chrono::Duration::zero() { "-" } else { "" };
        s.serialize_str(&format!("{sign}{}", humantime::format_duration(abs)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<chrono::Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    pub fn parse(s: &str) -> Result<chrono::Duration, String> {
        let t = s.trim();
        if t == "0" {
            return Ok(chrono::Duration::zero());
        }
        let (neg, body) = match t.strip_prefix('-') {
            Some(rest) => (true, rest.trim()),
            None => (false, t),
        };
        let d = humantime::parse_duration(body).map_err(|e| format!("`{s}`: {e}"))?;
        let d = chrono::Duration::from_std(d).map_err(|e| format!("`{s}`: {e}"))?;
        Ok(if neg { -d } else { d })
    }
}
