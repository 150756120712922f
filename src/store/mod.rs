//! Durable storage behind a trait, so the actors do not know which database holds their state.

mod batch;
mod batch_results;
mod booking_cells;
mod bookings;
mod chats;
mod crm;
mod deals;
mod error;
mod group_commit;
mod jobs;
mod location;
pub mod migrate;
mod postgres;
mod reports;
mod sqlite;
mod stores;
mod types;
mod users;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{LeadId, LeadStatus};

pub use bookings::{BookOutcome, BookingRow, BookingStore, BusyRow, ClientHistory, CsatSummary, NewBooking, NewCsat};
pub use chats::ChatStore;
pub use crm::{CrmStore, OAuthTokens, StoredEvent};
pub use deals::{
    CounterRow, DealCommit, DealInboxItem, DealRef, DealSnapshot, DealStore, DealTimerChange, DueDealTimer,
    ViolationRow,
};
// The records live in the domain; re-exported here for the store's callers.
pub use crate::domain::{Created, EventKey, InboxPayload, LeadRecord, NewLead};
pub use error::{StoreError, StoreResult};
pub use jobs::{JobRow, JobStore, RevealRow};
pub use location::{redact, Location};
pub use postgres::PgStore;
pub use reports::ReportStore;
pub use sqlite::SqliteStore;
pub use stores::{Backend, Stores};
pub use types::*;
pub use users::{ApiTokenRow, NewUser, SessionRow, UserStore};

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database does (readiness).
    async fn ping(&self) -> StoreResult<()>;

    /// Creates a lead and its intake inbox row in one transaction; an existing
    /// `(source, external_id)` returns the stored lead with `created == false`.
    async fn create_lead(&self, lead: &NewLead) -> StoreResult<Created>;

    /// Stores an inbound item for a lead; `None` when `dedupe_key` was already stored. The
    /// answer names the row's place in the lead's inbox where the store knows it
    /// ([`StoredInbox::prev`]: the lead's owner then needs no read to apply it).
    async fn enqueue_inbox_row(
        &self,
        lead: LeadId,
        source: &str,
        dedupe_key: &str,
        payload: &InboxPayload,
    ) -> StoreResult<Option<StoredInbox>>;

    /// [`enqueue_inbox_row`](Self::enqueue_inbox_row), the stored row's id alone.
    async fn enqueue_inbox(
        &self,
        lead: LeadId,
        source: &str,
        dedupe_key: &str,
        payload: &InboxPayload,
    ) -> StoreResult<Option<i64>> {
        Ok(self
            .enqueue_inbox_row(lead, source, dedupe_key, payload)
            .await?
            .map(|r| r.id))
    }

    /// The lead's record and last snapshot, for an actor starting up.
    async fn load_lead(&self, lead: LeadId) -> StoreResult<(LeadRecord, Option<Snapshot>)>;

    /// Inbox rows after `after_id`, oldest first.
    async fn inbox_after(&self, lead: LeadId, after_id: i64, limit: i64) -> StoreResult<Vec<InboxItem>>;

    /// One actor step: snapshot, projection, transcript, outbox, timers and the inbox marker,
    /// all or nothing. Returns the step's transcript lines as stored (ids, time), in order:
    /// the actor answers the client with them instead of anyone reading them back.
    async fn commit_step(&self, step: &StepCommit) -> StoreResult<Vec<TranscriptEntry>>;

    /// Claims timers due by `now` (hidden from other claims until `lease_until`).
    async fn claim_due_timers(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<DueTimer>>;
    /// The earliest due time among unclaimed timers.
    async fn next_timer_due(&self) -> StoreResult<Option<DateTime<Utc>>>;

    /// Claims outbox rows due for (re)delivery.
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<OutboxItem>>;
    async fn outbox_sent(&self, id: i64) -> StoreResult<()>;
    async fn outbox_retry(&self, id: i64, error: &str, next_attempt_at: DateTime<Utc>) -> StoreResult<()>;
    async fn outbox_failed(&self, id: i64, error: &str) -> StoreResult<()>;
    async fn outbox_pending(&self) -> StoreResult<i64>;
    /// Rows given up (kept with their last error for the operator).
    async fn outbox_failed_count(&self) -> StoreResult<i64>;
    /// Bot messages to `channel` (every lead's) created since `since` and not given up: what
    /// the per-day caps of SMS and calls count.
    async fn messages_since(&self, channel: &str, since: DateTime<Utc>) -> StoreResult<i64>;
    /// Rows with this status (`pending`, `sent`, `failed`) after `after_id`, oldest first.
    async fn outbox_rows(&self, status: &str, after_id: i64, limit: i64) -> StoreResult<Vec<OutboxRow>>;
    /// An operator sends a given-up row again (fresh attempts, due now); `false` if it is not failed.
    async fn outbox_requeue(&self, id: i64) -> StoreResult<bool>;

    /// Releases the timer and outbox claims of processes that are gone (their epoch is no
    /// longer held), so what they had claimed is due at once; returns how many.
    async fn release_dead_claims(&self) -> StoreResult<u64>;

    async fn has_unapplied_inbox(&self, lead: LeadId) -> StoreResult<bool>;

    /// Leads with inbox rows not yet applied, and the age of their oldest one.
    async fn leads_with_unapplied_inbox(&self, limit: i64) -> StoreResult<Vec<(LeadId, DateTime<Utc>)>>;

    /// Parks a lead for a person (crash loop): status and snapshot, timers dropped.
    async fn park_lead(&self, lead: LeadId, reason: &str) -> StoreResult<()>;

    async fn get_lead(&self, lead: LeadId) -> StoreResult<LeadRecord>;
    /// The lead a CRM or channel knows by its own id.
    async fn find_lead(&self, source: &str, external_id: &str) -> StoreResult<Option<LeadRecord>>;
    async fn list_leads(&self, status: Option<LeadStatus>, after_id: i64, limit: i64) -> StoreResult<Vec<LeadRecord>>;
    async fn transcript(&self, lead: LeadId, after_id: i64) -> StoreResult<Vec<TranscriptEntry>>;
    async fn timers(&self, lead: LeadId) -> StoreResult<Vec<TimerRow>>;
    async fn count_open_leads(&self) -> StoreResult<i64>;

    /// Everything routing restores at start.
    async fn routing_state(&self) -> StoreResult<RoutingState>;
    async fn queue_put(&self, lead: LeadId, request: &serde_json::Value) -> StoreResult<()>;
    async fn queue_remove(&self, lead: LeadId) -> StoreResult<()>;
    async fn set_paused(&self, manager_id: &str, paused: bool) -> StoreResult<()>;
    async fn set_absent_until(&self, manager_id: &str, until: Option<chrono::NaiveDate>) -> StoreResult<()>;
    /// The manager of this phone's latest other lead (a returning client).
    async fn previous_owner(&self, phone: &str, except: LeadId) -> StoreResult<Option<crate::domain::ManagerId>>;

    /// A secret leadbot generates once and keeps (the operator token): the stored one, or
    /// `candidate` stored now; `true` when it was stored by this call.
    async fn generated_secret(&self, name: &str, candidate: &str) -> StoreResult<(String, bool)>;
    /// Replaces a generated secret (rotation).
    async fn replace_generated_secret(&self, name: &str, value: &str) -> StoreResult<()>;

    /// Round-robin positions per manager group.
    async fn load_cursors(&self) -> StoreResult<Vec<(String, i64)>>;
    async fn save_cursor(&self, group: &str, position: i64) -> StoreResult<()>;
}
