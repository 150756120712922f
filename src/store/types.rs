use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{ChannelName, InboxPayload, LeadId, LeadStatus, ManagerId, Phone};

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub version: i64,
    pub state: serde_json::Value,
    pub last_applied_inbox_id: i64,
}

/// What routing restores at start.
#[derive(Debug, Clone, Default)]
pub struct RoutingState {
    /// Active (assigned) leads per manager.
    pub load: Vec<(String, u32)>,
    pub cursors: Vec<(String, i64)>,
    pub paused: Vec<String>,
    pub absent_until: Vec<(String, chrono::NaiveDate)>,
    pub queue: Vec<serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct InboxItem {
    pub id: i64,
    pub payload: InboxPayload,
    pub received_at: DateTime<Utc>,
}

/// An inbox row as its insert stored it: what the lead's owner needs to apply it from memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredInbox {
    pub id: i64,
    /// The lead's row before this one (0: none); `None`: the store did not find out. An owner
    /// that has applied `prev` (or later) has applied everything before this row, so it can
    /// take this one as handed over, without reading the inbox.
    pub prev: Option<i64>,
    pub received_at: DateTime<Utc>,
}

/// How long a lead's owner may leave an unchanged projection unwritten: the lead row's
/// `updated_at` (the console's "no answer for ..." clock) is never further behind than this.
pub const PROJECTION_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// The projection columns written with each step.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub channel: ChannelName,
    pub status: LeadStatus,
    pub phone: Option<Phone>,
    pub manager_id: Option<ManagerId>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbox {
    pub kind: String,
    pub payload: serde_json::Value,
    pub idempotency_key: String,
    /// Delivered by being stored: a lead's message on a channel whose client reads the
    /// transcript (the web chat page). Written as sent, it is kept for the record and never
    /// claimed. Only a lead's step writes such rows.
    pub delivered: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TimerChange {
    /// Arms or re-arms the lead's timer of this kind.
    Arm {
        kind: String,
        due_at: DateTime<Utc>,
        generation: i64,
    },
    Cancel {
        kind: String,
    },
    /// The timer fired and was handled: delete it unless it was re-armed since.
    Fired {
        kind: String,
        generation: i64,
    },
}

/// Everything one actor step changes, committed atomically.
#[derive(Debug, Clone)]
pub struct StepCommit {
    pub lead: LeadId,
    /// Version the actor loaded (0: no snapshot yet); the new one is `expected_version + 1`.
    pub expected_version: i64,
    pub state: serde_json::Value,
    pub projection: Projection,
    /// `projection` is what the lead's row already holds (written by an earlier step of this
    /// owner, not long ago): the row is left alone. Its `updated_at` is then up to
    /// [`PROJECTION_REFRESH`] behind the lead's last step.
    pub projection_unchanged: bool,
    /// The inbox row this step applied (marked applied with it).
    pub applied_inbox_id: Option<i64>,
    pub transcript: Vec<(Direction, String)>,
    /// Who wrote this step's outgoing lines: a person who took the conversation over;
    /// `None`: the bot.
    pub author: Option<String>,
    pub outbox: Vec<NewOutbox>,
    pub timers: Vec<TimerChange>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    pub lead: LeadId,
    pub kind: String,
    pub due_at: DateTime<Utc>,
    pub generation: i64,
}

#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    /// `None` for rows that belong to no lead (the job board's notifications, deal updates).
    pub lead: Option<LeadId>,
    pub kind: String,
    pub payload: serde_json::Value,
    pub idempotency_key: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// An outbox row as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub lead_id: Option<LeadId>,
    pub kind: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TranscriptEntry {
    pub id: i64,
    pub direction: String,
    pub text: String,
    pub at: DateTime<Utc>,
    /// Who wrote an outgoing line when it was a person (a console user), not the bot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimerRow {
    pub kind: String,
    pub due_at: DateTime<Utc>,
    pub generation: i64,
}
