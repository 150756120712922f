//! What the reports read (tracked deals, the robots' violations and counters, leads with their
//! conversations) and the record of scheduled reports sent, each written with its outbox row so
//! none goes out twice. Behind a trait with one contract suite for both stores.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{NewOutbox, StoreResult};
use crate::domain::{ReportCounter, ReportDeal, ReportLead, ReportSend, ReportViolation};

#[async_trait]
pub trait ReportStore: Send + Sync + 'static {
    /// Every tracked deal as it stands, by CRM and id.
    async fn report_deals(&self) -> StoreResult<Vec<ReportDeal>>;
    /// Violations detected in `[from, to)`, oldest first.
    async fn report_violations(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<ReportViolation>>;
    /// Counter increments in `[from, to)`, oldest first.
    async fn report_counters(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<ReportCounter>>;
    /// Leads created in `[from, to)` with their transcripts in order, by id.
    async fn report_leads(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<ReportLead>>;
    /// Records a scheduled report with its outbox rows, in one transaction; `false` (and
    /// nothing written) when its key was recorded before.
    async fn record_report_send(&self, send: &ReportSend, outbox: &[NewOutbox]) -> StoreResult<bool>;
    async fn report_send_exists(&self, key: &str) -> StoreResult<bool>;
}
