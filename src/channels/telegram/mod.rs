//! Telegram: the lead's own channel (webhook or long polling), verified phone sharing, and the
//! executor job board's transport.

mod api;
mod repo;
pub mod update;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use ractor::ActorRef;
use serde_json::{json, Value};

use super::{Capabilities, Channel};
use crate::actors::SupervisorMsg;
use crate::config::TelegramSettings;
use crate::delivery::DeliveryError;
use crate::dispatch::JobBoard;
use crate::domain::{LeadId, LeadStatus};
use crate::store::{InboxPayload, LeadRecord, NewLead, Store};
pub use api::{BotApi, TgError};
pub use repo::TgRepo;
use update::Update;

pub const CHANNEL: &str = "telegram";

pub struct Telegram {
    pub settings: TelegramSettings,
    pub api: Arc<BotApi>,
    pub repo: TgRepo,
    store: Arc<dyn Store>,
    supervisor: OnceLock<ActorRef<SupervisorMsg>>,
    pub jobs: Option<Arc<JobBoard>>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("not a Telegram update")]
    Malformed,
    #[error("storage: {0}")]
    Store(String),
}

impl Telegram {
    pub fn new(
        settings: TelegramSettings,
        store: Arc<dyn Store>,
        pool: sqlx::PgPool,
        jobs: impl FnOnce(Arc<BotApi>, TgRepo) -> Option<Arc<JobBoard>>,
    ) -> Result<Arc<Telegram>, reqwest::Error> {
        let token = settings.token.clone().unwrap_or_default();
        let api = Arc::new(BotApi::new(&settings.api_base, &token, &settings.limits)?);
        let repo = TgRepo::new(pool, &settings.bot);
        let jobs = jobs(api.clone(), repo.clone());
        Ok(Arc::new(Telegram {
            settings,
            api,
            repo,
            store,
            supervisor: OnceLock::new(),
            jobs,
        }))
    }

    pub fn set_supervisor(&self, s: ActorRef<SupervisorMsg>) {
        let _ = self.supervisor.set(s);
    }

    fn wake(&self, lead: LeadId) {
        if let Some(s) = self.supervisor.get() {
            let _ = s.cast(SupervisorMsg::Wake(lead, None));
        }
    }

    /// One update from the webhook or from polling. Safe to call twice with the same update.
    pub async fn handle_update(&self, raw: &Value) -> Result<(), UpdateError> {
        let (update_id, update) = update::parse(raw).ok_or(UpdateError::Malformed)?;
        let store_err = |e: &dyn std::fmt::Display| UpdateError::Store(e.to_string());
        match update {
            Update::Private {
                chat_id,
                from,
                text,
                contact,
            } => {
                self.repo
                    .started(from.id, from.username.as_deref())
                    .await
                    .map_err(|e| store_err(&e))?;
                // "/start <token>" from a deep link joins this chat to an existing lead.
                if let Some(token) = text.as_deref().and_then(|t| t.strip_prefix("/start ")).map(str::trim) {
                    if let Some(lead) = self.repo.use_link(token).await.map_err(|e| store_err(&e))? {
                        self.repo.link(chat_id, lead).await.map_err(|e| store_err(&e))?;
                        let payload = InboxPayload::ChannelJoined {
                            channel: CHANNEL.into(),
                        };
                        return self.deliver(lead, update_id, &payload).await;
                    }
                }
                // "/start" opens the chat; it is not the client's words.
                let text = text.filter(|t| !t.starts_with("/start"));
                let lead = match self.repo.lead_of_chat(chat_id).await.map_err(|e| store_err(&e))? {
                    Some(lead) => lead,
                    None => {
                        let created = self
                            .store
                            .create_lead(&NewLead {
                                source: CHANNEL.into(),
                                external_id: format!("{}:{chat_id}", self.settings.bot),
                                channel: CHANNEL.into(),
                                name: Some(from.name.clone()).filter(|n| !n.is_empty()),
                                phone: None,
                                text: if contact.is_none() { text.clone() } else { None },
                                segment: None,
                            })
                            .await
                            .map_err(|e| store_err(&e))?;
                        self.repo
                            .link(chat_id, created.lead.id)
                            .await
                            .map_err(|e| store_err(&e))?;
                        if created.created {
                            metrics::counter!(crate::telemetry::LEADS_CREATED, "source" => CHANNEL, "channel" => CHANNEL)
                                .increment(1);
                            if contact.is_none() {
                                self.wake(created.lead.id);
                                return Ok(());
                            }
                        }
                        created.lead.id
                    }
                };
                let payload = match (contact, text) {
                    (Some(c), _) => InboxPayload::Contact {
                        phone: c.phone,
                        verified: c.own,
                    },
                    (None, Some(t)) => InboxPayload::Message { text: t },
                    (None, None) => return Ok(()),
                };
                self.deliver(lead, update_id, &payload).await?;
            }
            Update::Blocked { chat_id } => {
                if let Some(lead) = self.repo.lead_of_chat(chat_id).await.map_err(|e| store_err(&e))? {
                    self.channel_lost(lead, "the client blocked the bot").await;
                }
            }
            Update::Callback { .. } => {
                if let Some(jobs) = &self.jobs {
                    if !self.repo.first_time(update_id).await.map_err(|e| store_err(&e))? {
                        return Ok(()); // a redelivery: the first one was answered
                    }
                    if let Err(e) = jobs.handle_callback(&update).await {
                        let _ = self.repo.forget(update_id).await;
                        return Err(UpdateError::Store(e.to_string()));
                    }
                }
            }
            Update::Other => {}
        }
        Ok(())
    }

    /// A deep link the CRM/site shows a lead: `t.me/<bot>?start=<token>`.
    pub async fn deep_link(&self, lead: LeadId) -> Result<String, sqlx::Error> {
        let token = format!("l{}_{:016x}", lead.0, rand::random::<u64>());
        self.repo.new_link(lead, &token).await?;
        Ok(format!("https://t.me/{}?start={token}", self.settings.bot))
    }

    /// Stores what the client sent for their lead (the update id is the dedupe key) and wakes it.
    async fn deliver(&self, lead: LeadId, update_id: i64, payload: &InboxPayload) -> Result<(), UpdateError> {
        self.store
            .enqueue_inbox(
                lead,
                &format!("telegram:{}", self.settings.bot),
                &update_id.to_string(),
                payload,
            )
            .await
            .map_err(|e| UpdateError::Store(e.to_string()))?;
        self.wake(lead);
        Ok(())
    }

    /// The lead's chat cannot be reached: its dialog takes the fallback.
    async fn channel_lost(&self, lead: LeadId, reason: &str) {
        let payload = InboxPayload::ChannelLost { reason: reason.into() };
        match self
            .store
            .enqueue_inbox(lead, "telegram-status", &format!("lost:{lead}"), &payload)
            .await
        {
            Ok(_) => self.wake(lead),
            Err(e) => tracing::error!(lead_id = %lead, error = %e, "could not record a lost channel"),
        }
    }

    /// Long polling for machines without a public address (deletes any webhook first).
    pub async fn poll(self: Arc<Self>) {
        if let Err(e) = self.api.call("deleteWebhook", &json!({})).await {
            tracing::warn!(error = %e, "deleteWebhook failed");
        }
        let mut offset: i64 = 0;
        loop {
            let updates = self
                .api
                .call(
                    "getUpdates",
                    &json!({"offset": offset, "timeout": 25, "allowed_updates": ["message", "callback_query", "my_chat_member"]}),
                )
                .await;
            match updates {
                Ok(Value::Array(items)) => {
                    for u in items {
                        let id = u.get("update_id").and_then(Value::as_i64).unwrap_or(offset);
                        if let Err(e) = self.handle_update(&u).await {
                            tracing::warn!(update_id = id, error = %e, "Telegram update failed; retrying it");
                            break;
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

#[async_trait]
impl Channel for Telegram {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        // Bots cannot write first: only chats the client opened can carry a dialog.
        Capabilities {
            realtime: true,
            can_initiate: false,
        }
    }

    async fn send(&self, lead: &LeadRecord, text: &str, _key: &str) -> Result<(), DeliveryError> {
        let chat = self
            .repo
            .chat_of_lead(lead.id)
            .await
            .map_err(|e| DeliveryError::Retryable(e.to_string()))?
            .ok_or_else(|| DeliveryError::Permanent(format!("lead {} has no Telegram chat", lead.id)))?;
        // While the bot waits for the phone, offer the one-tap "share my number" button.
        let waiting_for_phone =
            matches!(lead.status, LeadStatus::New | LeadStatus::BotProcessing) && lead.phone.is_none();
        let markup = if waiting_for_phone {
            json!({
                "keyboard": [[{"text": self.settings.texts.contact_button, "request_contact": true}]],
                "resize_keyboard": true,
                "one_time_keyboard": true,
                "input_field_placeholder": self.settings.texts.contact_placeholder,
            })
        } else {
            json!({"remove_keyboard": true})
        };
        match self.api.send_message_once(chat, text, Some(markup)).await {
            Ok(_) => Ok(()),
            Err(TgError::Forbidden(reason)) => {
                self.channel_lost(lead.id, &reason).await;
                Err(DeliveryError::Permanent(format!("forbidden: {reason}")))
            }
            Err(e) => Err(e.into_delivery()),
        }
    }
}
