//! Why one stored event could not be processed yet: retried later, or given up for good.

use crate::crm::bitrix24::Bitrix24Error;
use crate::store::StoreError;

/// Why one event could not be processed yet.
pub enum Failure {
    Retry(String),
    GiveUp(String),
}

impl From<Bitrix24Error> for Failure {
    fn from(e: Bitrix24Error) -> Self {
        if e.is_retryable() {
            Failure::Retry(e.to_string())
        } else {
            Failure::GiveUp(e.to_string())
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            Failure::Retry(e.to_string())
        } else {
            Failure::GiveUp(e.to_string())
        }
    }
}

impl From<crate::intake::IntakeError> for Failure {
    fn from(e: crate::intake::IntakeError) -> Self {
        match e {
            crate::intake::IntakeError::Invalid(why) => Failure::GiveUp(why),
            crate::intake::IntakeError::Store(e) => e.into(),
        }
    }
}

impl Clone for Failure {
    fn clone(&self) -> Self {
        match self {
            Failure::Retry(s) => Failure::Retry(s.clone()),
            Failure::GiveUp(s) => Failure::GiveUp(s.clone()),
        }
    }
}
