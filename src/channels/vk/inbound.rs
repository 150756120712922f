//! VK Callback API events in: the body's `group_id` and `secret` checked (constant time)
//! before anything else, the confirmation handshake answered with the configured string,
//! every other event answered `ok` once it is stored under its `event_id` (a redelivery is a
//! no-op), our own outgoing messages (`message_reply`, `out = 1`) and group chats ignored.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::{Vk, CHANNEL};
use crate::domain::secret::constant_time_eq;
use crate::domain::{ChannelName, EventKey, InboxPayload, LeadId, NewLead};
use crate::intake::{Intake, IntakeError};
use crate::store::StoreError;

/// Peer ids from here on are group chats (`2000000000 + chat_id`): not a lead's conversation.
const CHAT_PEER_BASE: i64 = 2_000_000_000;

/// Why a callback was not taken.
#[derive(Debug, thiserror::Error)]
pub enum VkReject {
    /// Not a Callback API event (answered 400; nothing stored).
    #[error("{0}")]
    Malformed(String),
    /// Wrong or missing `secret`, or another community (answered 401; nothing stored).
    #[error("{0}")]
    Forbidden(&'static str),
    /// Worth VK's retry (answered 5xx).
    #[error("storage: {0}")]
    Store(String),
}

impl VkReject {
    /// The metric label of a refusal.
    pub fn label(&self) -> &'static str {
        match self {
            VkReject::Malformed(_) => "malformed",
            VkReject::Forbidden(_) => "wrong_secret",
            VkReject::Store(_) => "store",
        }
    }
}

impl From<StoreError> for VkReject {
    fn from(e: StoreError) -> Self {
        VkReject::Store(e.to_string())
    }
}

impl From<IntakeError> for VkReject {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Invalid(why) => VkReject::Malformed(why),
            IntakeError::Store(e) => VkReject::Store(e.to_string()),
        }
    }
}

/// `callback_base` of VKCOM/vk-api-schema: `event_id` is a string.
#[derive(Debug, Deserialize)]
struct Callback {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    group_id: Option<i64>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    object: Value,
}

pub struct VkInbound {
    pub vk: Arc<Vk>,
    intake: Intake,
}

impl VkInbound {
    pub fn new(vk: Arc<Vk>, intake: Intake) -> Arc<VkInbound> {
        Arc::new(VkInbound { vk, intake })
    }

    pub fn group_id(&self) -> i64 {
        self.vk.settings.group_id
    }

    /// One callback, as VK posted it. Returns the body to answer with (`text/plain`): the
    /// confirmation string for `confirmation`, `ok` for everything else.
    pub async fn handle(&self, raw: &[u8]) -> Result<String, VkReject> {
        let cb: Callback =
            serde_json::from_slice(raw).map_err(|e| VkReject::Malformed(format!("not a VK callback: {e}")))?;
        if cb.group_id != Some(self.vk.settings.group_id) {
            return Err(VkReject::Forbidden("the event is for another community"));
        }
        let expected = self.vk.settings.secret.as_deref().unwrap_or("");
        let given = cb.secret.as_deref().unwrap_or("");
        if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Err(VkReject::Forbidden("Bad Secret"));
        }
        match cb.kind.as_str() {
            "confirmation" => Ok(self.vk.settings.confirmation.clone().unwrap_or_default()),
            "message_new" => {
                self.message_new(cb.event_id.as_deref(), &cb.object).await?;
                Ok("ok".into())
            }
            "message_allow" => {
                self.message_allow(&cb).await?;
                Ok("ok".into())
            }
            "message_deny" => {
                if let Some(user) = cb.object.get("user_id").and_then(Value::as_i64) {
                    if let Some(lead) = self.vk.chats.lead_of_chat(&self.vk.bot(), user).await? {
                        let payload = InboxPayload::ChannelLost {
                            reason: "the client denied the community's messages (VK)".into(),
                            channel: Some(ChannelName::new(CHANNEL)),
                        };
                        let key = EventKey::new("channel-status", format!("lost:{lead}:{CHANNEL}"));
                        self.intake.push(lead, &key, &payload).await?;
                    }
                }
                Ok("ok".into())
            }
            // Our own messages (message_reply/message_edit) and everything else: taken, nothing to do.
            _ => Ok("ok".into()),
        }
    }

    fn key(&self, id: String) -> EventKey {
        EventKey::new(self.vk.bot(), id)
    }

    async fn message_new(&self, event_id: Option<&str>, object: &Value) -> Result<(), VkReject> {
        // API >= 5.103: {message, client_info}; older: the message itself.
        let msg = object.get("message").unwrap_or(object);
        let num = |f: &str| msg.get(f).and_then(Value::as_i64);
        let (Some(peer), Some(from)) = (num("peer_id"), num("from_id")) else {
            return Err(VkReject::Malformed("message_new without peer_id/from_id".into()));
        };
        if num("out") == Some(1) || peer >= CHAT_PEER_BASE || peer <= 0 || from != peer {
            return Ok(()); // ours, or a group chat: not a lead's conversation
        }
        let key = self.key(match event_id {
            Some(e) if !e.is_empty() => e.to_string(),
            _ => format!(
                "msg:{peer}:{}",
                num("id").or(num("conversation_message_id")).unwrap_or(0)
            ),
        });
        let bot = self.vk.bot();
        let chats = &self.vk.chats;
        chats.user_started(&bot, from, None).await?;
        // A vk.me link with `ref` joins this conversation to an existing lead.
        if let Some(token) = msg.get("ref").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            if let Some(lead) = chats.use_link(&bot, token).await? {
                self.join(lead, peer, &format!("ref:{token}")).await?;
            }
        }
        let text = msg
            .get("text")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from);
        let lead = match chats.lead_of_chat(&bot, peer).await? {
            Some(lead) => lead,
            None => {
                let created = self
                    .intake
                    .create_lead(&NewLead {
                        source: CHANNEL.into(),
                        external_id: format!("{}:{peer}", self.vk.settings.group_id),
                        channel: ChannelName::new(CHANNEL),
                        name: None,
                        phone: None,
                        text: text.clone(),
                        segment: None,
                        // The text that created the lead is stored under this event's id: a
                        // redelivery below is then a duplicate.
                        first_event: text.as_ref().map(|_| key.clone()),
                        creation_key: None,
                    })
                    .await?;
                chats.link_chat(&bot, peer, created.lead.id).await?;
                created.lead.id
            }
        };
        if let Some(text) = text {
            self.intake.push(lead, &key, &InboxPayload::Message { text }).await?;
        }
        Ok(())
    }

    /// The user allowed the community's messages; with the `key` of an allow-messages link
    /// made for a lead, their conversation joins that lead.
    async fn message_allow(&self, cb: &Callback) -> Result<(), VkReject> {
        let Some(user) = cb.object.get("user_id").and_then(Value::as_i64) else {
            return Err(VkReject::Malformed("message_allow without user_id".into()));
        };
        let bot = self.vk.bot();
        self.vk.chats.user_started(&bot, user, None).await?;
        if let Some(token) = cb.object.get("key").and_then(Value::as_str).filter(|k| !k.is_empty()) {
            if let Some(lead) = self.vk.chats.use_link(&bot, token).await? {
                self.join(lead, user, cb.event_id.as_deref().unwrap_or(token)).await?;
            }
        }
        Ok(())
    }

    async fn join(&self, lead: LeadId, peer: i64, event: &str) -> Result<(), VkReject> {
        let bot = self.vk.bot();
        self.vk.chats.link_chat(&bot, peer, lead).await?;
        let payload = InboxPayload::ChannelJoined {
            channel: ChannelName::new(CHANNEL),
        };
        self.intake
            .push(lead, &self.key(format!("join:{event}")), &payload)
            .await?;
        Ok(())
    }
}
