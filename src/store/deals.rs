//! What the SLA robots keep: each tracked deal's state (one writer: its actor), its inbox of
//! events from the CRM adapters, its durable timers, and the violations and counters the
//! robots record for the reports. Behind a trait with one contract suite for both stores.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{NewOutbox, StoreResult};

/// A deal by its CRM and the CRM's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DealRef {
    pub crm: String,
    pub deal_id: String,
}

impl DealRef {
    pub fn new(crm: &str, deal_id: &str) -> DealRef {
        DealRef {
            crm: crm.to_string(),
            deal_id: deal_id.to_string(),
        }
    }
}

impl std::fmt::Display for DealRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.crm, self.deal_id)
    }
}

#[derive(Debug, Clone)]
pub struct DealSnapshot {
    pub state: Value,
    pub version: i64,
    pub last_applied_id: i64,
}

#[derive(Debug, Clone)]
pub struct DealInboxItem {
    pub id: i64,
    pub event: Value,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDealTimer {
    pub deal: DealRef,
    pub key: String,
    pub due_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DealTimerChange {
    Arm {
        key: String,
        due_at: DateTime<Utc>,
    },
    Cancel {
        key: String,
    },
    /// Handled: deleted unless re-armed for another time since.
    Fired {
        key: String,
        due_at: DateTime<Utc>,
    },
}

/// A violation as stored (`key` makes a repeat of the same one a no-op).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViolationRow {
    pub key: String,
    pub crm: String,
    pub deal_id: String,
    pub robot: String,
    pub manager: Option<String>,
    pub stage: Option<String>,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterRow {
    pub key: String,
    pub crm: String,
    pub deal_id: String,
    pub counter: String,
    pub manager: Option<String>,
    pub amount: f64,
    pub at: DateTime<Utc>,
}

/// Everything one deal step changes, committed atomically.
#[derive(Debug, Clone)]
pub struct DealCommit {
    pub deal: DealRef,
    /// The version loaded (0: none yet); the new one is `expected_version + 1`.
    pub expected_version: i64,
    pub state: Value,
    pub applied_inbox_id: Option<i64>,
    pub outbox: Vec<NewOutbox>,
    pub timers: Vec<DealTimerChange>,
    pub violations: Vec<ViolationRow>,
    pub counters: Vec<CounterRow>,
}

#[async_trait]
pub trait DealStore: Send + Sync + 'static {
    /// Stores an event for a deal; `None` when `dedupe_key` was stored before.
    async fn enqueue_deal_event(&self, deal: &DealRef, dedupe_key: &str, event: &Value) -> StoreResult<Option<i64>>;
    async fn load_deal(&self, deal: &DealRef) -> StoreResult<Option<DealSnapshot>>;
    async fn deal_inbox_after(&self, deal: &DealRef, after_id: i64, limit: i64) -> StoreResult<Vec<DealInboxItem>>;
    /// Fails with `StoreError::Conflict` when the stored version is not `expected_version`.
    async fn commit_deal_step(&self, step: &DealCommit) -> StoreResult<()>;
    async fn claim_due_deal_timers(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<DueDealTimer>>;
    async fn next_deal_timer_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    async fn deal_timers(&self, deal: &DealRef) -> StoreResult<Vec<(String, DateTime<Utc>)>>;
    /// Deals with events not yet applied (recovery after a restart).
    async fn deals_with_unapplied_events(&self, limit: i64) -> StoreResult<Vec<DealRef>>;
    async fn has_unapplied_deal_events(&self, deal: &DealRef) -> StoreResult<bool>;
    /// Violations detected in `[from, to)`, oldest first.
    async fn violations(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<ViolationRow>>;
    /// Counter increments in `[from, to)`, oldest first.
    async fn counters(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<CounterRow>>;
    async fn tracked_deals(&self) -> StoreResult<i64>;
}
