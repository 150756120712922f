//! VK: a community's messages through the Callback API (confirmation handshake, `secret` in the
//! body, `ok` as the answer, dedupe on `event_id`) and `messages.send` with a `random_id`
//! derived from the outbox row, so a retried row is never delivered twice.
//!
//! - `api.rs`: the VK API client (form-encoded calls, error codes → delivery outcomes);
//! - `inbound.rs`: callbacks verified on the raw body, then handed to the intake port;
//! - `outbound.rs`: the [`Channel`](crate::channels::Channel) impl;
//! - storage: [`ChatStore`] under the name `vk:<group_id>` (peer ↔ lead, deep-link tokens).

mod api;
mod inbound;
mod outbound;

use std::sync::Arc;

use crate::config::VkSettings;
use crate::domain::LeadId;
use crate::store::{ChatStore, StoreError};
pub use api::{random_id, VkApi, VkError};
pub use inbound::{VkInbound, VkReject};

pub const CHANNEL: &str = "vk";

/// The connected community: its client, settings and storage (shared by both sides).
pub struct Vk {
    pub settings: VkSettings,
    pub api: VkApi,
    pub chats: Arc<dyn ChatStore>,
}

impl Vk {
    pub fn new(settings: VkSettings, chats: Arc<dyn ChatStore>) -> Result<Arc<Vk>, reqwest::Error> {
        let token = settings.token.clone().unwrap_or_default();
        let api = VkApi::new(&settings.api_base, &token, &settings.api_version)?;
        Ok(Arc::new(Vk { settings, api, chats }))
    }

    /// The name this community's chats and events are kept under.
    pub fn bot(&self) -> String {
        format!("vk:{}", self.settings.group_id)
    }

    /// A link that opens the community's chat and joins it to `lead` (VK passes `ref` with
    /// the first message): `https://vk.me/club<group_id>?ref=<token>`.
    pub async fn deep_link(&self, lead: LeadId) -> Result<String, StoreError> {
        let token = format!("l{}_{:016x}", lead.0, rand::random::<u64>());
        self.chats.new_link(&self.bot(), lead, &token).await?;
        Ok(format!("https://vk.me/club{}?ref={token}", self.settings.group_id))
    }
}
