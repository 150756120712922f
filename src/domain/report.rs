//! The records the reports are computed from, as the store hands them over: tracked deals as
//! their robots' state, the robots' violations and counters, and leads with their transcript.
//! Plain data: the store fills them, `crate::reports` turns them into figures.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A tracked deal: its robots' state (`crate::sla::DealState` as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDeal {
    pub crm: String,
    pub deal_id: String,
    pub state: serde_json::Value,
}

/// A robot's rule broken (a row of `sla_violations`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportViolation {
    pub crm: String,
    pub deal_id: String,
    pub robot: String,
    /// The deal's responsible then (the CRM's user id).
    pub manager: Option<String>,
    pub stage: Option<String>,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
}

/// One increment of a robot's counter (a row of `sla_counters`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportCounter {
    pub crm: String,
    pub deal_id: String,
    pub counter: String,
    pub manager: Option<String>,
    pub amount: f64,
    pub at: DateTime<Utc>,
}

/// One line of a lead's conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportLine {
    /// The client wrote it.
    pub inbound: bool,
    /// An outgoing line a person (not the bot) wrote.
    pub by_person: bool,
    pub at: DateTime<Utc>,
    pub text: String,
}

/// A lead created in the period, with its conversation in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportLead {
    pub id: i64,
    pub channel: String,
    pub status: String,
    /// E.164, when known.
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub lines: Vec<ReportLine>,
}

/// A scheduled report for one period and one way to reach one person: stored once, with its
/// outbox row, so it is never sent twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSend {
    /// `kind|period start|recipient|via`: unique.
    pub key: String,
    pub kind: String,
    pub period_from: DateTime<Utc>,
    pub period_to: DateTime<Utc>,
    pub recipient: String,
}

/// Satisfaction scores summed by channel, manager and service over a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportCsat {
    pub channel: String,
    pub manager_id: Option<String>,
    pub service: Option<String>,
    pub count: i64,
    pub sum: i64,
}
