//! The chat tokens of leads, kept in memory after their first read: every client message
//! proves itself with one, and a lead's token is written once, when the lead is created, and
//! never changes (nor is a lead deleted), so a remembered token is never stale. Bounded: the
//! leads chatting now stay, the rest are read again when they come back.

use std::sync::Arc;

use quick_cache::sync::Cache;

use crate::domain::LeadId;
use crate::store::{Store, StoreResult};

/// Leads remembered (about 100 bytes each).
const CAPACITY: usize = 100_000;

pub struct ChatTokens {
    /// `None`: the lead exists and has no token (only the operator may write for it).
    tokens: Cache<i64, Option<Arc<str>>>,
}

impl Default for ChatTokens {
    fn default() -> Self {
        ChatTokens {
            tokens: Cache::new(CAPACITY),
        }
    }
}

impl ChatTokens {
    /// Remembers a token just read (the lead's creation).
    pub fn remember(&self, lead: LeadId, token: Option<&str>) {
        self.tokens.insert(lead.0, token.map(Arc::from));
    }

    /// The lead's token; `LeadNotFound` for a lead that does not exist (not remembered).
    pub async fn of(&self, store: &dyn Store, lead: LeadId) -> StoreResult<Option<Arc<str>>> {
        if let Some(t) = self.tokens.get(&lead.0) {
            return Ok(t);
        }
        let token: Option<Arc<str>> = store.get_lead(lead).await?.chat_token.map(Arc::from);
        self.tokens.insert(lead.0, token.clone());
        Ok(token)
    }
}
