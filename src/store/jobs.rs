//! What the executor job board keeps: the posted jobs, who took each (decided by a
//! compare-and-set here, not in memory), every reveal of a client's contact, and the deals'
//! responsible persons.

use async_trait::async_trait;

use super::{NewOutbox, StoreResult};
use crate::domain::{Claim, DealJob, JobTaker};

#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: i64,
    pub deal_id: String,
    pub deal: Option<DealJob>,
    pub chat_id: i64,
    pub message_id: Option<i64>,
    pub taken_by: Option<i64>,
    pub taken_by_name: Option<String>,
    pub crm_user_id: Option<String>,
}

/// Who revealed a job's client contact, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevealRow {
    pub user_id: i64,
    pub user_name: Option<String>,
    pub login: Option<String>,
    pub via: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// The newest jobs first (the console's job board).
    async fn recent_jobs(&self, limit: i64) -> StoreResult<Vec<JobRow>>;
    /// A job's reveals, oldest first.
    async fn reveals(&self, job_id: i64) -> StoreResult<Vec<RevealRow>>;
    /// The job of a deal, created on first sight (the same deal again returns the same job).
    async fn upsert_job(&self, deal_id: &str, deal: &DealJob, chat_id: i64) -> StoreResult<JobRow>;
    async fn job(&self, id: i64) -> StoreResult<Option<JobRow>>;
    async fn job_of_deal(&self, deal_id: &str) -> StoreResult<Option<JobRow>>;
    /// Jobs of this group not posted yet (the poster's backlog).
    async fn unposted_jobs(&self, chat_id: i64) -> StoreResult<i64>;
    async fn job_posted(&self, id: i64, message_id: Option<i64>) -> StoreResult<()>;
    /// Unclaimed jobs never posted, or posted longer than `stale_secs` ago (negative: never).
    async fn jobs_to_repost(&self, stale_secs: f64, limit: i64) -> StoreResult<Vec<JobRow>>;
    /// Exactly one taker wins. The winner's effects (the deal's responsible, the manager's
    /// notification) are stored in the same transaction as the win, so they are never lost.
    /// `effects` makes the rows from the job as won (it is called only for the winner).
    async fn claim_job(
        &self,
        id: i64,
        taker: &JobTaker,
        executor: &str,
        effects: &(dyn for<'r> Fn(&'r JobRow) -> Vec<NewOutbox> + Send + Sync),
    ) -> StoreResult<Claim>;
    async fn record_reveal(&self, job_id: i64, taker: &JobTaker, via: &str) -> StoreResult<()>;
    /// Outbox rows that belong to no lead (job board notifications, deal updates).
    async fn enqueue_effects(&self, effects: &[NewOutbox]) -> StoreResult<()>;
}
