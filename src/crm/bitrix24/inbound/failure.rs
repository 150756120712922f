//! A Bitrix24 call's failure, as an event's [`Failure`].

use crate::crm::bitrix24::Bitrix24Error;
pub use crate::crm::failure::Failure;

impl From<Bitrix24Error> for Failure {
    fn from(e: Bitrix24Error) -> Self {
        if e.is_retryable() {
            Failure::Retry(e.to_string())
        } else {
            Failure::GiveUp(e.to_string())
        }
    }
}
