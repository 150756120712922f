//! What a CRM adapter keeps: the events it received (stored before they are acknowledged, then
//! processed by a worker), its reconciliation cursors, the lead ↔ CRM chat links, and OAuth
//! tokens. Behind a trait so another store (the embedded one) can hold them without the
//! adapters noticing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::StoreResult;
use crate::domain::LeadId;

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: i64,
    pub event: String,
    pub entity_id: String,
    pub payload: Value,
    pub attempts: i32,
}

/// An OAuth grant of a CRM account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthTokens {
    pub access_token: String,
    pub refresh_token: String,
    /// The REST endpoint the grant is for (Bitrix24: `https://{portal}/rest/`).
    pub client_endpoint: String,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait CrmStore: Send + Sync + 'static {
    /// Stores an event; `false` when the same `dedupe_key` was stored before.
    async fn store_event(
        &self,
        crm: &str,
        event: &str,
        entity_id: &str,
        dedupe_key: &str,
        payload: &Value,
    ) -> StoreResult<bool>;
    /// Claims events due for processing (hidden from other claims until `lease_until`).
    async fn claim_events(
        &self,
        crm: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<StoredEvent>>;
    async fn event_done(&self, id: i64) -> StoreResult<()>;
    async fn event_retry(&self, id: i64, error: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Gives up on an event for good (kept with its error for the operator).
    async fn event_failed(&self, id: i64, error: &str) -> StoreResult<()>;

    async fn cursor(&self, name: &str) -> StoreResult<Option<String>>;
    async fn set_cursor(&self, name: &str, value: &str) -> StoreResult<()>;

    async fn link_chat(&self, crm: &str, lead: LeadId, chat_id: &str) -> StoreResult<()>;
    async fn chat_of(&self, lead: LeadId) -> StoreResult<Option<String>>;
    async fn lead_of_chat(&self, crm: &str, chat_id: &str) -> StoreResult<Option<LeadId>>;

    async fn load_tokens(&self, account: &str) -> StoreResult<Option<OAuthTokens>>;
    /// Tokens from an install (replace whatever was there).
    async fn install_tokens(&self, account: &str, tokens: &OAuthTokens) -> StoreResult<()>;
    /// Replaces the grant only if its refresh token is still `old_refresh` (refresh tokens are
    /// single-use: of two racing refreshes exactly one may win); `false` when another won.
    async fn replace_tokens(&self, account: &str, old_refresh: &str, fresh: &OAuthTokens) -> StoreResult<bool>;
}
