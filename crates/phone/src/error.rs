//! Errors of the public API (bad configuration or bad stored data), as
//! opposed to `Rejection`, which describes what a client typed.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PhoneError {
    #[error("unknown region {0:?} (expected an ISO 3166 code such as \"RU\")")]
    UnknownRegion(String),
    #[error("not an E.164 number: {0:?}")]
    NotE164(String),
    #[error("not a valid phone number: {0:?}")]
    InvalidNumber(String),
}
