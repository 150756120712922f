use serde::{Deserialize, Serialize};

/// A sales manager as configured (routing's input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manager {
    /// The manager's id in the CRM (Bitrix24 user id, amoCRM user id, or any local id).
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// What a lead remembers of its manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerRef {
    pub id: String,
    pub name: String,
}

impl From<&Manager> for ManagerRef {
    fn from(m: &Manager) -> Self {
        ManagerRef {
            id: m.id.clone(),
            name: m.name.clone(),
        }
    }
}
