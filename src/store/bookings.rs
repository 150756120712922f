//! What bookings keep: each booking of a resource (a member of staff or a room) for a lead, the
//! time cells it occupies, and the clients' satisfaction scores. Behind a trait with one contract
//! suite for both stores.
//!
//! Why cells: "two clients never get the same slot" has to hold for overlapping intervals, not
//! only equal start times (a 60-minute visit at 18:00 and another at 18:30 clash). A booking
//! occupies every `cell_seconds`-long cell of `[starts_at, busy_until)` of its resource, and
//! `(resource, cell)` is unique: the insert of all cells succeeds or the transaction rolls back.
//! That is a compare-and-set both PostgreSQL and SQLite give us without range types.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreResult;
use crate::domain::LeadId;

/// A booking to make.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBooking {
    pub lead: LeadId,
    /// Idempotency: the same key books nothing twice (a step redone after a crash).
    pub key: String,
    /// The member of staff or room (config id).
    pub resource: String,
    /// The service (config id).
    pub service: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `ends_at` plus the buffer between visits: the resource is busy until then.
    pub busy_until: DateTime<Utc>,
    /// The grid the cells are cut on (the schedule's slot step), seconds; > 0.
    pub cell_seconds: i64,
    pub channel: String,
    pub client_name: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    /// The manager the lead is with, if any (for CSAT and reports).
    pub manager_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BookingRow {
    pub id: i64,
    pub lead: LeadId,
    pub key: String,
    pub resource: String,
    pub service: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub busy_until: DateTime<Utc>,
    /// `booked` or `cancelled`.
    pub status: String,
    pub channel: String,
    pub client_name: Option<String>,
    pub phone: Option<String>,
    pub manager_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BookOutcome {
    /// Booked now.
    Booked(BookingRow),
    /// This key was booked before (the same booking, returned as stored).
    AlreadyBooked(BookingRow),
    /// Another booking holds at least one of the cells: nothing was written.
    Taken,
}

/// A resource's busy interval (a booked, not cancelled booking), `[from, until)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusyRow {
    pub resource: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// What we know of a client from earlier bookings (the latest one).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientHistory {
    pub client_name: Option<String>,
    pub service: String,
    pub resource: String,
    pub manager_id: Option<String>,
    pub starts_at: DateTime<Utc>,
    /// Bookings of this phone not cancelled, in all.
    pub visits: i64,
}

/// A client's satisfaction score, once per `key` (the lead and what was rated).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCsat {
    pub lead: LeadId,
    pub key: String,
    /// 1..=5.
    pub score: i16,
    pub channel: String,
    pub manager_id: Option<String>,
    pub service: Option<String>,
    pub booking_id: Option<i64>,
    pub at: DateTime<Utc>,
}

/// Scores summed by channel, manager and service over a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsatSummary {
    pub channel: String,
    pub manager_id: Option<String>,
    pub service: Option<String>,
    pub count: i64,
    pub sum: i64,
}

#[async_trait]
pub trait BookingStore: Send + Sync + 'static {
    /// Busy intervals of these resources overlapping `[from, to)`, ordered by resource, then start.
    async fn busy(&self, resources: &[String], from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<BusyRow>>;

    /// Books all cells of the interval for the resource, or nothing (see the module's comment).
    async fn book(&self, booking: &NewBooking) -> StoreResult<BookOutcome>;

    /// Cancels a booking of this lead and frees its cells at once; `false` if it was not booked
    /// (already cancelled, or not this lead's).
    async fn cancel_booking(&self, lead: LeadId, booking_id: i64, at: DateTime<Utc>) -> StoreResult<bool>;

    /// Moves a booking: the new one is booked and the old one cancelled in one transaction; on
    /// `Taken` the old one stays.
    async fn reschedule(
        &self,
        lead: LeadId,
        old_id: i64,
        new: &NewBooking,
        at: DateTime<Utc>,
    ) -> StoreResult<BookOutcome>;

    async fn get_booking(&self, booking_id: i64) -> StoreResult<Option<BookingRow>>;

    /// The lead's bookings, oldest first.
    async fn bookings_of(&self, lead: LeadId) -> StoreResult<Vec<BookingRow>>;

    /// Bookings starting in `[from, to)`, any status, oldest first (reports, the console).
    async fn bookings_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<BookingRow>>;

    /// The latest not-cancelled booking of this phone by another lead, and the visit count.
    async fn client_history(&self, phone: &str, except: LeadId) -> StoreResult<Option<ClientHistory>>;

    /// Stores a score; `false` when this key was stored before (nothing changed).
    async fn record_csat(&self, csat: &NewCsat) -> StoreResult<bool>;

    /// Adds the client's comment to a stored score (the latest comment wins).
    async fn csat_comment(&self, lead: LeadId, key: &str, comment: &str) -> StoreResult<()>;

    async fn csat_summary(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<CsatSummary>>;
}
