//! Everything the booking dialog decides with, built once from `booking.toml`.

use chrono::Duration;

use super::intent::IntentRules;
use super::schedule::Schedule;
use crate::config::BookingTexts;

#[derive(Debug, Clone)]
pub struct BookingRules {
    pub schedule: Schedule,
    pub intents: IntentRules,
    pub texts: BookingTexts,
    /// Before the visit, longest first.
    pub reminders: Vec<Duration>,
    /// After the visit ends; `None`: no satisfaction question.
    pub csat_after: Option<Duration>,
    /// Slots offered at once.
    pub offer: usize,
    /// Misunderstood messages in a row before a person takes over.
    pub handoff_after: u32,
}

impl BookingRules {
    /// The names of the services, for the question "which one?".
    pub fn service_list(&self) -> String {
        let names: Vec<&str> = self.schedule.services.iter().map(|s| s.name.as_str()).collect();
        names.join(", ")
    }
}
