//! What a messenger channel keeps: which updates it processed, which chat belongs to which
//! lead, deep-link tokens, and the users who started the bot (so it may write to them).

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::LeadId;

#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    /// `false` when this update was processed before.
    async fn first_time(&self, bot: &str, update_id: i64) -> StoreResult<bool>;
    /// Forgets an update whose processing failed, so the provider's retry is processed.
    async fn forget_update(&self, bot: &str, update_id: i64) -> StoreResult<()>;
    async fn lead_of_chat(&self, bot: &str, chat_id: i64) -> StoreResult<Option<LeadId>>;
    async fn link_chat(&self, bot: &str, chat_id: i64, lead: LeadId) -> StoreResult<()>;
    async fn chat_of_lead(&self, bot: &str, lead: LeadId) -> StoreResult<Option<i64>>;
    /// A new deep-link token for a lead.
    async fn new_link(&self, bot: &str, lead: LeadId, token: &str) -> StoreResult<()>;
    /// The lead a `/start <token>` is for.
    async fn use_link(&self, bot: &str, token: &str) -> StoreResult<Option<LeadId>>;
    /// The user wrote to the bot privately, so the bot may message them.
    async fn user_started(&self, bot: &str, user_id: i64, username: Option<&str>) -> StoreResult<()>;
    async fn has_started(&self, bot: &str, user_id: i64) -> StoreResult<bool>;
}
