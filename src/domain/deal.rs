//! A deal that needs an executor, as the CRM (or the local API) describes it, and what one
//! "take the order" click can come to.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealJob {
    pub title: String,
    #[serde(default)]
    pub conditions: String,
    #[serde(default)]
    pub dates: String,
    #[serde(default)]
    pub pay: String,
    #[serde(default)]
    pub skills: String,
    #[serde(default)]
    pub client_name: String,
    pub client_phone: String,
    /// The manager told when an executor takes it.
    #[serde(default)]
    pub manager_id: Option<String>,
}

/// Who pressed "take": the messenger user and, when configured, their CRM user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTaker {
    pub user_id: i64,
    pub name: String,
    pub login: Option<String>,
    pub crm_user_id: Option<String>,
}

/// The outcome of one "take the order" click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Won {
        deal_id: String,
    },
    /// The same executor clicked again (or Telegram redelivered the click).
    AlreadyYours,
    Taken,
    NoSuchJob,
}
