//! Domain types shared by every layer. No I/O here.

mod lead;
mod manager;

pub use lead::{LeadId, LeadStatus, Outcome};
pub use manager::ManagerRef;
