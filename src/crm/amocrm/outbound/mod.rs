//! amoCRM out: the lead card and the deals (the [`Crm`](crate::crm::Crm) impl).

mod robots;
mod writeback;

pub use writeback::{delivery_error, AmoCrm};
