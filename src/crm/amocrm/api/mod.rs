//! The amoCRM API v4: the client (rate limit, block, 204, 401), its errors, OAuth tokens, and
//! the coalescing of lead updates into bulk requests.

mod bulk;
mod client;
mod error;
mod oauth;

pub use bulk::LeadPatches;
pub use client::{AmoClient, Auth};
pub use error::{AmoError, ElementError};
pub use oauth::{run_refresher, TokenStore, REFRESH_AHEAD};

/// An id from JSON that may come as a number or a string.
pub fn as_u64(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
