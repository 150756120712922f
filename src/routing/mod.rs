//! Choosing a manager for a lead. Pure: the manager pool actor owns the live state.

mod round_robin;

pub use round_robin::{choose_group, RoundRobin};
