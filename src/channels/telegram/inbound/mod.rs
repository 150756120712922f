//! Telegram updates in: parsed (`update.rs`), deduplicated on `update_id` from the very first
//! event, then handed to the intake port. Button presses in the executors' group go to the job
//! board through [`ButtonPresses`]; Telegram knows no more of the board than that.

pub mod update;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{Telegram, CHANNEL};
use crate::domain::{ChannelName, EventKey, InboxPayload, LeadId, NewLead};
use crate::intake::{Intake, IntakeError};
use crate::store::StoreError;
use update::{Update, User};

/// One press of an inline button under one of the bot's posts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonPress {
    /// Answer it with `answerCallbackQuery` (Telegram shows a spinner until then).
    pub callback_id: String,
    pub from: User,
    pub chat_id: Option<i64>,
    pub message_id: Option<i64>,
    pub data: String,
}

/// Whoever owns the bot's buttons (the executor job board).
#[async_trait]
pub trait ButtonPresses: Send + Sync + 'static {
    async fn pressed(&self, press: &ButtonPress) -> Result<(), String>;
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("not a Telegram update")]
    Malformed,
    /// The update can never be stored as it is (answered 4xx: Telegram will not retry it).
    #[error("{0}")]
    Invalid(String),
    /// Worth Telegram's retry (answered 5xx).
    #[error("storage: {0}")]
    Store(String),
}

impl From<StoreError> for UpdateError {
    fn from(e: StoreError) -> Self {
        UpdateError::Store(e.to_string())
    }
}

impl From<IntakeError> for UpdateError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Invalid(why) => UpdateError::Invalid(why),
            IntakeError::Store(e) => UpdateError::Store(e.to_string()),
        }
    }
}

/// The inbound side: the webhook handler and the long-polling loop call [`handle_update`].
///
/// [`handle_update`]: TelegramInbound::handle_update
pub struct TelegramInbound {
    pub tg: Arc<Telegram>,
    intake: Intake,
    buttons: Option<Arc<dyn ButtonPresses>>,
}

impl TelegramInbound {
    pub fn new(tg: Arc<Telegram>, intake: Intake, buttons: Option<Arc<dyn ButtonPresses>>) -> Arc<TelegramInbound> {
        Arc::new(TelegramInbound { tg, intake, buttons })
    }

    /// The inbox source of this bot's updates: with `update_id`, the provider's own key.
    fn source(&self) -> String {
        format!("telegram:{}", self.tg.bot())
    }

    fn key(&self, update_id: i64) -> EventKey {
        EventKey::new(self.source(), update_id.to_string())
    }

    /// One update from the webhook or from polling. Safe to call twice with the same update,
    /// also concurrently: every path stores under `update_id`.
    pub async fn handle_update(&self, raw: &Value) -> Result<(), UpdateError> {
        let (update_id, update) = update::parse(raw).ok_or(UpdateError::Malformed)?;
        let chats = &self.tg.chats;
        let bot = self.tg.bot();
        match update {
            Update::Private {
                chat_id,
                from,
                text,
                contact,
            } => {
                chats.user_started(bot, from.id, from.username.as_deref()).await?;
                // "/start <token>" from a deep link joins this chat to an existing lead.
                if let Some(token) = text.as_deref().and_then(|t| t.strip_prefix("/start ")).map(str::trim) {
                    if let Some(lead) = chats.use_link(bot, token).await? {
                        chats.link_chat(bot, chat_id, lead).await?;
                        let payload = InboxPayload::ChannelJoined {
                            channel: ChannelName::new(CHANNEL),
                        };
                        self.intake.push(lead, &self.key(update_id), &payload).await?;
                        return Ok(());
                    }
                }
                // "/start" opens the chat; it is not the client's words.
                let text = text.filter(|t| !t.starts_with("/start"));
                let payload = match (contact, text) {
                    (Some(c), _) => Some(InboxPayload::Contact {
                        phone: c.phone,
                        verified: c.own,
                    }),
                    (None, Some(t)) => Some(InboxPayload::Message { text: t }),
                    (None, None) => None,
                };
                let lead = match chats.lead_of_chat(bot, chat_id).await? {
                    Some(lead) => lead,
                    None => {
                        let first_text = match &payload {
                            Some(InboxPayload::Message { text }) => Some(text.clone()),
                            _ => None,
                        };
                        let created = self
                            .intake
                            .create_lead(&NewLead {
                                source: CHANNEL.into(),
                                external_id: format!("{bot}:{chat_id}"),
                                channel: ChannelName::new(CHANNEL),
                                name: Some(from.name.clone()).filter(|n| !n.is_empty()),
                                phone: None,
                                text: first_text,
                                segment: None,
                                // A text that created the lead is stored under this update's
                                // id: its redelivery below is then a duplicate.
                                first_event: payload
                                    .as_ref()
                                    .filter(|p| matches!(p, InboxPayload::Message { .. }))
                                    .map(|_| self.key(update_id)),
                                creation_key: None,
                            })
                            .await?;
                        chats.link_chat(bot, chat_id, created.lead.id).await?;
                        created.lead.id
                    }
                };
                if let Some(payload) = payload {
                    // For the update that created the lead with its text, this finds the key
                    // taken: applied once, whether delivered once, twice or concurrently.
                    self.intake.push(lead, &self.key(update_id), &payload).await?;
                }
            }
            Update::Blocked { chat_id } => {
                if let Some(lead) = chats.lead_of_chat(bot, chat_id).await? {
                    self.channel_lost(lead, "the client blocked the bot").await?;
                }
            }
            Update::Callback {
                id,
                from,
                chat_id,
                message_id,
                data,
            } => {
                if let Some(buttons) = &self.buttons {
                    if !chats.first_time(bot, update_id).await? {
                        return Ok(()); // a redelivery: the first one was answered
                    }
                    let press = ButtonPress {
                        callback_id: id,
                        from,
                        chat_id,
                        message_id,
                        data,
                    };
                    if let Err(e) = buttons.pressed(&press).await {
                        let _ = chats.forget_update(bot, update_id).await;
                        return Err(UpdateError::Store(e));
                    }
                }
            }
            Update::Other => {}
        }
        Ok(())
    }

    /// The lead's chat cannot be reached: its dialog takes the fallback.
    async fn channel_lost(&self, lead: LeadId, reason: &str) -> Result<(), UpdateError> {
        let payload = InboxPayload::ChannelLost {
            reason: reason.into(),
            channel: Some(ChannelName::new(CHANNEL)),
        };
        let key = EventKey::new("channel-status", format!("lost:{lead}:{CHANNEL}"));
        self.intake.push(lead, &key, &payload).await?;
        Ok(())
    }

    /// Long polling for machines without a public address (deletes any webhook first).
    pub async fn poll(self: Arc<Self>) {
        let api = &self.tg.api;
        if let Err(e) = api.call("deleteWebhook", &json!({})).await {
            tracing::warn!(error = %e, "deleteWebhook failed");
        }
        let mut offset: i64 = 0;
        loop {
            let updates = api
                .call(
                    "getUpdates",
                    &json!({"offset": offset, "timeout": 25, "allowed_updates": ["message", "callback_query", "my_chat_member"]}),
                )
                .await;
            match updates {
                Ok(Value::Array(items)) => {
                    for u in items {
                        let id = u.get("update_id").and_then(Value::as_i64).unwrap_or(offset);
                        match self.handle_update(&u).await {
                            Ok(()) => {}
                            // Never storable: skip it rather than stall every later update.
                            Err(e @ (UpdateError::Malformed | UpdateError::Invalid(_))) => {
                                tracing::warn!(update_id = id, error = %e, "Telegram update refused");
                            }
                            Err(e) => {
                                tracing::warn!(update_id = id, error = %e, "Telegram update failed; retrying it");
                                break;
                            }
                        }
                        offset = id + 1;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "getUpdates failed");
                    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                }
            }
        }
    }
}
