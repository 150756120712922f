//! The conversation: a pure state machine `(state, event, now) -> (state, effects)` driven by the
//! script in `config/dialog.toml`. The lead's actor persists the state and executes the effects.

mod booking;
pub mod fallback;
mod faq;
mod machine;
mod phone_input;
mod refusal;
mod state;

pub use machine::{Dialog, DialogError, Handover};
pub use phone_input::{PhoneInput, PhoneReader};
pub use state::{ArmedTimer, DialogState, Effect, Event, TimerKind};

#[cfg(test)]
mod booking_tests;
#[cfg(test)]
mod tests;
