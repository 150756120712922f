//! [`Calendar`] over our own store alone: busy time is our bookings, a booking is the store's
//! cell-level compare-and-set. The Google calendar wraps this one (the store stays the source
//! of truth there too).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{BookOutcome, BusyRow, Calendar, CalendarError, NewBooking};
use crate::domain::LeadId;
use crate::store::BookingStore;

#[derive(Clone)]
pub struct StoreCalendar {
    store: Arc<dyn BookingStore>,
}

impl StoreCalendar {
    pub fn new(store: Arc<dyn BookingStore>) -> StoreCalendar {
        StoreCalendar { store }
    }

    /// The store behind it (the Google calendar reads a booking before it cancels it).
    pub fn store(&self) -> &Arc<dyn BookingStore> {
        &self.store
    }
}

#[async_trait]
impl Calendar for StoreCalendar {
    async fn busy(
        &self,
        resources: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<BusyRow>, CalendarError> {
        Ok(self.store.busy(resources, from, to).await?)
    }

    async fn book(&self, booking: &NewBooking) -> Result<BookOutcome, CalendarError> {
        Ok(self.store.book(booking).await?)
    }

    async fn cancel(&self, lead: LeadId, booking_id: i64, at: DateTime<Utc>) -> Result<bool, CalendarError> {
        Ok(self.store.cancel_booking(lead, booking_id, at).await?)
    }

    async fn reschedule(
        &self,
        lead: LeadId,
        old_id: i64,
        new: &NewBooking,
        at: DateTime<Utc>,
    ) -> Result<BookOutcome, CalendarError> {
        Ok(self.store.reschedule(lead, old_id, new, at).await?)
    }
}
