//! SLA robots for managers (pure): a CRM-neutral deal, the robots of `config/robots.toml`, and
//! the step that runs them. No store, actor, HTTP or adapter code here: the deal actor feeds
//! events in and commits what comes out; the adapters map their cards to [`DealFacts`].

mod calendar;
mod deal;
mod engine;
pub mod rules;
#[cfg(test)]
mod tests;

pub use calendar::WorkCalendar;
pub use deal::{DealEvent, DealFacts, DealState, DealTask, StageVisit, TouchKind};
pub use engine::{step, CrmAction, Effect, Recipient, Violation};
pub use rules::{Action, Conditions, Robot, RobotBook, RobotSpec, Trigger, CRM_REQUIRED, FIELD_NAMES};
