use serde::{Deserialize, Serialize};

/// What a lead remembers of its manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerRef {
    /// The manager's id in the CRM (Bitrix24 user id, amoCRM user id, or any local id).
    pub id: String,
    pub name: String,
}
