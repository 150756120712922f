//! The booking calendar: where free and busy time comes from and where a booking is made. A port
//! with two implementations: [`StoreCalendar`] (our own store: the source of truth, whose
//! cell-level compare-and-set keeps two clients off one slot) and a Google Calendar one that adds
//! the staff's own Google events to the busy time and mirrors our bookings there.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::LeadId;
pub use crate::store::{BookOutcome, BookingRow, BusyRow, NewBooking};

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("calendar service: {0}")]
    Remote(String),
}

#[async_trait]
pub trait Calendar: Send + Sync + 'static {
    /// Busy intervals of these resources overlapping `[from, to)`.
    async fn busy(
        &self,
        resources: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<BusyRow>, CalendarError>;
    /// Books the interval for the resource, all or nothing.
    async fn book(&self, booking: &NewBooking) -> Result<BookOutcome, CalendarError>;
    /// Cancels the lead's booking and frees its time at once; `false` if it was not booked.
    async fn cancel(&self, lead: LeadId, booking_id: i64, at: DateTime<Utc>) -> Result<bool, CalendarError>;
    /// Books `new` and cancels `old_id` together; on `Taken` the old booking stays.
    async fn reschedule(
        &self,
        lead: LeadId,
        old_id: i64,
        new: &NewBooking,
        at: DateTime<Utc>,
    ) -> Result<BookOutcome, CalendarError>;
}

mod google;
mod store;

pub use google::{event_id, GoogleCalendar, MirrorRetry, CALENDAR_FALLBACKS};
pub use store::StoreCalendar;
