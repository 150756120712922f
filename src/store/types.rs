use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{LeadId, LeadStatus};

/// A lead as the intake API or a CRM adapter hands it over.
#[derive(Debug, Clone)]
pub struct NewLead {
    pub source: String,
    pub external_id: String,
    pub channel: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub text: Option<String>,
    /// The client's ABC segment ("A", "B", "C") from the CRM, if it has one.
    pub segment: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Created {
    pub lead: LeadRecord,
    pub created: bool,
}

/// The queryable projection of a lead (the dialog state itself is in the snapshot).
#[derive(Debug, Clone, Serialize)]
pub struct LeadRecord {
    pub id: LeadId,
    pub source: String,
    pub external_id: String,
    pub channel: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub status: LeadStatus,
    pub manager_id: Option<String>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The client's ABC segment, if the CRM gave one.
    pub segment: Option<String>,
    /// The client side's secret for this lead (web chat); never shown in operator views.
    #[serde(skip)]
    pub chat_token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub version: i64,
    pub state: serde_json::Value,
    pub last_applied_inbox_id: i64,
}

/// What an inbox row carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboxPayload {
    Intake {
        phone: Option<String>,
        text: Option<String>,
    },
    Message {
        text: String,
    },
    /// The manager pool gave the (queued) lead to a manager.
    Assigned {
        manager_id: String,
        manager_name: String,
    },
    /// The manager took the lead (operator API, CRM, a button).
    Accepted,
    /// The lead is done with (its manager has room again).
    Closed,
    /// A contact card shared from the client's messenger; `verified` when it is their own.
    Contact {
        phone: String,
        verified: bool,
    },
    /// The client's channel cannot reach them any more (blocked the bot, ...).
    ChannelLost {
        reason: String,
    },
    /// The client opened a chat for this lead (a Telegram deep link).
    ChannelJoined {
        channel: String,
    },
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

/// The projection columns written with each step.
#[derive(Debug, Clone)]
pub struct Projection {
    pub channel: String,
    pub status: LeadStatus,
    pub phone: Option<String>,
    pub manager_id: Option<String>,
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

#[derive(Debug, Clone)]
pub struct NewOutbox {
    pub kind: String,
    pub payload: serde_json::Value,
    pub idempotency_key: String,
}

#[derive(Debug, Clone)]
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
    /// The inbox row this step applied (marked applied with it).
    pub applied_inbox_id: Option<i64>,
    pub transcript: Vec<(Direction, String)>,
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
    pub lead: LeadId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub idempotency_key: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TranscriptEntry {
    pub id: i64,
    pub direction: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimerRow {
    pub kind: String,
    pub due_at: DateTime<Utc>,
    pub generation: i64,
}
