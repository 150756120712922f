use std::fmt;

use serde::{Deserialize, Serialize};

/// A manager's id in the CRM (Bitrix24 user id, amoCRM user id, or any local id). Parsed once
/// (trimmed, not empty) where it enters: config, the operator API, a CRM answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ManagerId(String);

impl ManagerId {
    pub fn parse(s: &str) -> Result<ManagerId, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("a manager id must not be empty".into());
        }
        if t.chars().count() > 64 || t.chars().any(char::is_control) {
            return Err(format!("`{t}` is not a manager id (at most 64 printable characters)"));
        }
        Ok(ManagerId(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ManagerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for ManagerId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ManagerId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ManagerId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// What a lead remembers of its manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerRef {
    pub id: ManagerId,
    pub name: String,
}

/// Maps keyed by `ManagerId` can be looked up with a `&str` (an id from the operator API).
impl std::borrow::Borrow<str> for ManagerId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Unit tests write ids as literals.
#[cfg(test)]
impl From<&str> for ManagerId {
    fn from(s: &str) -> ManagerId {
        ManagerId(s.to_string())
    }
}
