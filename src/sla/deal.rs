//! A tracked deal as the robots see it, whichever CRM it lives in: what the CRM says about it
//! now (`DealFacts`, mapped to robot stage and field names by the adapter) and what leadbot
//! remembers (stage entries, touches, which robots fired).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An open task of the deal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DealTask {
    pub id: String,
    pub title: String,
    pub due: Option<DateTime<Utc>>,
}

/// The deal as its CRM describes it at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DealFacts {
    pub title: String,
    /// The stage by its robot name ("Неразобранное"); an unmapped one as the CRM's id.
    pub stage: String,
    /// When the CRM says the deal entered its stage, where it says so.
    #[serde(default)]
    pub stage_since: Option<DateTime<Utc>>,
    /// The responsible manager's CRM user id.
    pub responsible: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Filled fields by logical name (`name`, `phone`, `source`, `visit_at` as RFC 3339, and
    /// the mapped custom fields).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeSet<String>,
    /// Open tasks.
    #[serde(default)]
    pub tasks: Vec<DealTask>,
    /// Comments / notes written on the deal (not counting leadbot's own).
    #[serde(default)]
    pub comments: u32,
    #[serde(default)]
    pub amount: Option<f64>,
    /// The CRM's last change of the card (reconciliation skips a deal seen since).
    #[serde(default)]
    pub modified_at: Option<DateTime<Utc>>,
    /// Fields the CRM itself requires in the deal's current stage and the card lacks, by the
    /// CRM's own field names (amoCRM's `required_statuses`): the CRM enforces them only on moves
    /// made in its interface, so the robots' `missing_fields = ["crm_required"]` enforces them
    /// on every move.
    #[serde(default)]
    pub crm_required_missing: Vec<String>,
}

impl DealFacts {
    pub fn has_field(&self, name: &str) -> bool {
        match name {
            "comment" => self.comments > 0,
            "task" => !self.tasks.is_empty(),
            other => self.fields.get(other).is_some_and(|v| !v.trim().is_empty()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TouchKind {
    Call,
    Message,
}

/// Something that happened to a deal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DealEvent {
    /// The CRM's current view of the deal (a webhook, then a read; or reconciliation).
    Observed { facts: DealFacts },
    /// A call or a message with the client; `inbound` when the client made it.
    Touch {
        kind: TouchKind,
        inbound: bool,
        at: DateTime<Utc>,
    },
    /// A robot's timer fell due.
    Timer { key: String },
}

/// One stay of the deal in a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageVisit {
    pub stage: String,
    /// Counts the deal's stage entries: the instance of "entered stage" robots.
    pub entry: u32,
    pub entered_at: DateTime<Utc>,
    pub came_from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DealState {
    pub crm: String,
    pub deal_id: String,
    pub facts: Option<DealFacts>,
    pub visit: Option<StageVisit>,
    /// The stay before this one (a move back returns to it, clock and all).
    pub previous: Option<StageVisit>,
    /// leadbot moved the deal back to this stay; the CRM's echo restores it.
    pub moving_back: Option<StageVisit>,
    pub stages_seen: BTreeSet<String>,
    pub calls: u32,
    pub messages: u32,
    pub last_touch_at: Option<DateTime<Utc>>,
    pub first_client_reply_at: Option<DateTime<Utc>>,
    /// Robot instances that fired (their conditions held or not): each fires once.
    pub fired: BTreeSet<String>,
    /// Timers armed, by key.
    pub armed: BTreeMap<String, DateTime<Utc>>,
}

impl DealState {
    pub fn new(crm: &str, deal_id: &str) -> DealState {
        DealState {
            crm: crm.to_string(),
            deal_id: deal_id.to_string(),
            facts: None,
            visit: None,
            previous: None,
            moving_back: None,
            stages_seen: BTreeSet::new(),
            calls: 0,
            messages: 0,
            last_touch_at: None,
            first_client_reply_at: None,
            fired: BTreeSet::new(),
            armed: BTreeMap::new(),
        }
    }

    pub fn stage(&self) -> Option<&str> {
        self.visit.as_ref().map(|v| v.stage.as_str())
    }

    pub fn touches(&self) -> u32 {
        self.calls + self.messages
    }
}
