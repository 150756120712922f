//! Telegram: the lead's own channel (webhook or long polling), verified phone sharing, deep
//! links for CRM leads, and the transport of the executor job board (whose buttons reach the
//! board through [`ButtonPresses`]).
//!
//! - `api.rs`: the Bot API client (error classes, `retry_after`, pacing);
//! - `inbound/`: updates parsed and verified, then handed to the intake port;
//! - `outbound.rs`: the [`Channel`](crate::channels::Channel) impl;
//! - storage: [`ChatStore`] (chat ↔ lead, processed updates, deep links, users).

pub mod api;
mod inbound;
mod outbound;

use std::sync::Arc;

use serde_json::json;

use crate::config::TelegramSettings;
use crate::domain::LeadId;
use crate::store::{ChatStore, StoreError};
pub use api::{BotApi, TgError};
pub use inbound::{update, ButtonPress, ButtonPresses, TelegramInbound, UpdateError};

pub const CHANNEL: &str = "telegram";

/// The connected bot: its client, its settings and its storage. Shared by the inbound and the
/// outbound side (and the job board, which posts through the same client).
pub struct Telegram {
    pub settings: TelegramSettings,
    pub api: Arc<BotApi>,
    pub chats: Arc<dyn ChatStore>,
}

impl Telegram {
    pub fn new(settings: TelegramSettings, chats: Arc<dyn ChatStore>) -> Result<Arc<Telegram>, reqwest::Error> {
        let token = settings.token.clone().unwrap_or_default();
        let api = Arc::new(BotApi::new(&settings.api_base, &token, &settings.limits)?);
        Ok(Arc::new(Telegram { settings, api, chats }))
    }

    pub fn bot(&self) -> &str {
        &self.settings.bot
    }

    /// A deep link the CRM/site shows a lead: `t.me/<bot>?start=<token>`.
    pub async fn deep_link(&self, lead: LeadId) -> Result<String, StoreError> {
        let token = format!("l{}_{:016x}", lead.0, rand::random::<u64>());
        self.chats.new_link(self.bot(), lead, &token).await?;
        Ok(format!("https://t.me/{}?start={token}", self.settings.bot))
    }
}

/// `leadbot telegram set-webhook`: registers `{public_url}/webhooks/telegram/{bot}` with the secret.
pub async fn set_webhook(api: &BotApi, settings: &TelegramSettings) -> Result<String, String> {
    let base = settings
        .public_url
        .as_deref()
        .ok_or("telegram.toml: public_url is not set")?;
    let url = format!("{}/webhooks/telegram/{}", base.trim_end_matches('/'), settings.bot);
    let secret = settings
        .webhook_secret
        .as_deref()
        .ok_or("LEADBOT_TELEGRAM_WEBHOOK_SECRET is not set")?;
    api.call(
        "setWebhook",
        &json!({"url": url, "secret_token": secret, "allowed_updates": ["message", "callback_query", "my_chat_member"]}),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(url)
}
