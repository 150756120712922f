//! [`Calendar`] with Google Calendar beside our store. The store stays the source of truth: a
//! booking is the store's compare-and-set first, and only a booking the store made is mirrored
//! to the resource's Google calendar as an event whose id is derived from the booking (so a
//! retry, or a step redone after a crash, finds the event there instead of making a second
//! one). Busy time is the store's plus the staff's own Google events.
//!
//! Google being away never costs a booking: the mirror runs in the background with a few
//! retries and backoff and is logged when it gives up; a free/busy query that fails falls back
//! to the store's busy time (logged, and counted in [`CALENDAR_FALLBACKS`]). The mirror is not
//! an outbox row: a process that dies during the retries loses that event (the booking stays);
//! a redone `book` of the same key (`AlreadyBooked`) mirrors it again.

mod token;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use self::token::{Credentials, TokenSource};
use self::wire::{Api, CallError, NewEvent};
use super::{BookOutcome, BookingRow, BusyRow, Calendar, CalendarError, NewBooking, StoreCalendar};
use crate::config::{BookingResource, GoogleCalendarSettings};
use crate::domain::LeadId;

/// Free/busy queries answered from the store alone because Google failed.
pub const CALENDAR_FALLBACKS: &str = "leadbot_calendar_google_fallbacks_total";
/// Mirror calls (event insert/delete) given up after their retries.
const MIRROR_FAILURES: &str = "leadbot_calendar_google_mirror_failures_total";

/// How the mirror retries a failed call: `attempts` in all, waiting `first_delay`, then twice
/// as long each time.
#[derive(Debug, Clone, Copy)]
pub struct MirrorRetry {
    pub attempts: u32,
    pub first_delay: Duration,
}

impl Default for MirrorRetry {
    fn default() -> Self {
        MirrorRetry {
            attempts: 5,
            first_delay: Duration::from_millis(500),
        }
    }
}

/// The Google event id of a booking: base32hex (`a-v0-9`), 5–1024 characters. Hex digits are
/// base32hex digits, so a prefix of such letters and the SHA-256 of the booking's id and key
/// are one; the key is there so two deployments' booking 7 are not one event.
pub fn event_id(booking: &BookingRow) -> String {
    let digest = Sha256::digest(format!("{}|{}", booking.id, booking.key));
    format!("leadbot{}", hex::encode(&digest[..16]))
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    tokens: TokenSource,
    retry: MirrorRetry,
}

impl Inner {
    fn api(&self) -> Api<'_> {
        Api {
            http: &self.http,
            base_url: &self.base_url,
            tokens: &self.tokens,
        }
    }

    /// Runs `call` until it succeeds, fails for good, or the attempts are spent.
    async fn with_retries<F, Fut>(&self, what: &str, mut call: F) -> Result<(), CallError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), CallError>>,
    {
        let mut delay = self.retry.first_delay;
        let mut last = CallError::Transient("no attempt".into());
        for attempt in 1..=self.retry.attempts.max(1) {
            match call().await {
                Ok(()) => return Ok(()),
                Err(e @ CallError::Permanent(_)) => return Err(e),
                Err(e) => {
                    tracing::info!(what, attempt, error = %e, "Google Calendar call failed; retrying");
                    last = e;
                }
            }
            if attempt < self.retry.attempts {
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
        }
        Err(last)
    }

    async fn create_event(&self, calendar: &str, booking: &BookingRow) {
        let id = event_id(booking);
        let summary = format!(
            "{} ({})",
            booking.service,
            booking.client_name.as_deref().unwrap_or("leadbot")
        );
        let event = NewEvent {
            id: &id,
            summary: &summary,
            start: booking.starts_at,
            end: booking.ends_at,
        };
        let result = self
            .with_retries("events.insert", || async {
                self.api().insert_event(calendar, &event).await
            })
            .await;
        if let Err(e) = result {
            metrics::counter!(MIRROR_FAILURES, "call" => "insert").increment(1);
            tracing::error!(booking = booking.id, resource = %booking.resource, error = %e,
                "the booking is stored but its Google Calendar event could not be created");
        }
    }

    async fn delete_event(&self, calendar: &str, booking: &BookingRow) {
        let id = event_id(booking);
        let result = self
            .with_retries("events.delete", || async {
                self.api().delete_event(calendar, &id).await
            })
            .await;
        if let Err(e) = result {
            metrics::counter!(MIRROR_FAILURES, "call" => "delete").increment(1);
            tracing::error!(booking = booking.id, resource = %booking.resource, error = %e,
                "the booking is cancelled but its Google Calendar event could not be deleted");
        }
    }
}

pub struct GoogleCalendar {
    store: StoreCalendar,
    /// Resource id → its Google calendar id (resources without one are the store's alone).
    calendars: HashMap<String, String>,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GoogleCalendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GoogleCalendar({} calendars at {})",
            self.calendars.len(),
            self.inner.base_url
        )
    }
}

impl GoogleCalendar {
    /// Needs the OAuth client id, secret and refresh token in `settings` (from the environment).
    pub fn new(
        store: StoreCalendar,
        settings: &GoogleCalendarSettings,
        resources: &[BookingResource],
    ) -> Result<GoogleCalendar, CalendarError> {
        let need = |v: &Option<String>, name: &str| {
            v.clone()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| CalendarError::Remote(format!("Google Calendar needs {name}")))
        };
        let creds = Credentials {
            token_url: settings.token_url.clone(),
            client_id: need(&settings.client_id, "LEADBOT_GOOGLE_CLIENT_ID")?,
            client_secret: need(&settings.client_secret, "LEADBOT_GOOGLE_CLIENT_SECRET")?,
            refresh_token: need(&settings.refresh_token, "LEADBOT_GOOGLE_REFRESH_TOKEN")?,
        };
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| CalendarError::Remote(format!("HTTP client: {e}")))?;
        let calendars = resources
            .iter()
            .filter_map(|r| Some((r.id.clone(), r.google_calendar_id.clone()?)))
            .collect();
        Ok(GoogleCalendar {
            store,
            calendars,
            inner: Arc::new(Inner {
                http,
                base_url: settings.base_url.clone(),
                tokens: TokenSource::new(creds),
                retry: MirrorRetry::default(),
            }),
        })
    }

    /// Other retry timings (tests; a deployment keeps the default).
    pub fn with_retry(mut self, retry: MirrorRetry) -> GoogleCalendar {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.retry = retry;
        }
        self
    }

    fn calendar_of(&self, resource: &str) -> Option<String> {
        self.calendars.get(resource).cloned()
    }

    /// Creates the booking's event in the background (the client's answer does not wait on
    /// Google).
    fn mirror_booked(&self, booking: &BookingRow) {
        let Some(calendar) = self.calendar_of(&booking.resource) else {
            return;
        };
        let (inner, booking) = (self.inner.clone(), booking.clone());
        tokio::spawn(async move { inner.create_event(&calendar, &booking).await });
    }

    fn mirror_cancelled(&self, booking: BookingRow) {
        let Some(calendar) = self.calendar_of(&booking.resource) else {
            return;
        };
        let inner = self.inner.clone();
        tokio::spawn(async move { inner.delete_event(&calendar, &booking).await });
    }

    /// Google's busy periods of these resources' calendars.
    async fn google_busy(
        &self,
        resources: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<BusyRow>, String> {
        let asked: Vec<(&String, &String)> = resources
            .iter()
            .filter_map(|r| Some((r, self.calendars.get(r)?)))
            .collect();
        if asked.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<&str> = asked.iter().map(|(_, c)| c.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let answers = self
            .inner
            .api()
            .free_busy(&ids, from, to)
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for (resource, calendar) in asked {
            match answers.get(calendar.as_str()) {
                Some(Ok(periods)) => out.extend(periods.iter().map(|(s, e)| BusyRow {
                    resource: resource.clone(),
                    from: *s,
                    until: *e,
                })),
                Some(Err(errors)) => return Err(format!("calendar of {resource}: {errors}")),
                None => return Err(format!("calendar of {resource} missing from the answer")),
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Calendar for GoogleCalendar {
    async fn busy(
        &self,
        resources: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<BusyRow>, CalendarError> {
        let mut busy = self.store.busy(resources, from, to).await?;
        match self.google_busy(resources, from, to).await {
            Ok(google) => busy.extend(google),
            Err(e) => {
                // Our own bookings still keep clients apart; only the staff's private events
                // are unseen until Google answers again.
                metrics::counter!(CALENDAR_FALLBACKS).increment(1);
                tracing::warn!(error = %e, "Google free/busy failed; offering slots by our bookings alone");
            }
        }
        busy.sort_by(|a, b| (&a.resource, a.from, a.until).cmp(&(&b.resource, b.from, b.until)));
        Ok(busy)
    }

    async fn book(&self, booking: &NewBooking) -> Result<BookOutcome, CalendarError> {
        let outcome = self.store.book(booking).await?;
        match &outcome {
            BookOutcome::Booked(row) => self.mirror_booked(row),
            // A step redone after a crash: the event may never have been made (the derived id
            // makes this a no-op when it was).
            BookOutcome::AlreadyBooked(row) if row.status == "booked" => self.mirror_booked(row),
            _ => {}
        }
        Ok(outcome)
    }

    async fn cancel(&self, lead: LeadId, booking_id: i64, at: DateTime<Utc>) -> Result<bool, CalendarError> {
        let cancelled = self.store.cancel(lead, booking_id, at).await?;
        if cancelled {
            if let Some(row) = self.store.store().get_booking(booking_id).await? {
                self.mirror_cancelled(row);
            }
        }
        Ok(cancelled)
    }

    async fn reschedule(
        &self,
        lead: LeadId,
        old_id: i64,
        new: &NewBooking,
        at: DateTime<Utc>,
    ) -> Result<BookOutcome, CalendarError> {
        let outcome = self.store.reschedule(lead, old_id, new, at).await?;
        if let BookOutcome::Booked(row) = &outcome {
            self.mirror_booked(row);
            if let Some(old) = self.store.store().get_booking(old_id).await? {
                if old.status == "cancelled" {
                    self.mirror_cancelled(old);
                }
            }
        }
        Ok(outcome)
    }
}
