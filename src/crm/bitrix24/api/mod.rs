//! The Bitrix24 REST client and what it needs: the rate limiter, error classification, OAuth.

mod client;
mod error;
mod limiter;
mod oauth;
mod value;

pub use client::{Bitrix24Client, Endpoint};
pub use error::Bitrix24Error;
pub use oauth::TokenStore;
pub use value::as_u64;
