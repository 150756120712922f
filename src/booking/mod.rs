//! Bookings for salons and clinics, as pure rules: what a client wants (intent, service, time),
//! which slots are free on a schedule, and what the bot does about it. No store, actor, HTTP or
//! adapter code: the lead's actor asks the calendar and feeds the answers back as events.

pub mod intent;
pub mod schedule;
mod text;

pub use intent::{Hint, Intent, IntentReader, IntentRules};
pub use schedule::{Busy, Offer, Resource, Schedule, Service, Slot, Wish};
pub mod collect;
pub mod format;
pub mod rules;
pub mod state;

pub use rules::BookingRules;
pub use state::{BookingState, Csat, Visit};
