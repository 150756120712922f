//! Avito webhook deliveries in: the URL secret checked (constant time) before the body is read,
//! text messages stored under their own id (redeliveries applied once), echoes of our own
//! messages (`author_id == user_id`), system messages and other accounts' messages dropped.

use std::sync::Arc;

use serde_json::Value;

use super::{chat_key, Avito, CHANNEL};
use crate::domain::secret::constant_time_eq;
use crate::domain::{ChannelName, EventKey, InboxPayload, NewLead};
use crate::intake::{Intake, IntakeError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AvitoReject {
    #[error("wrong webhook secret")]
    Forbidden,
    #[error("{0}")]
    Malformed(String),
    #[error("storage: {0}")]
    Store(String),
}

impl From<StoreError> for AvitoReject {
    fn from(e: StoreError) -> Self {
        AvitoReject::Store(e.to_string())
    }
}

impl From<IntakeError> for AvitoReject {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Invalid(why) => AvitoReject::Malformed(why),
            IntakeError::Store(e) => AvitoReject::Store(e.to_string()),
        }
    }
}

pub struct AvitoInbound {
    pub avito: Arc<Avito>,
    intake: Intake,
}

impl AvitoInbound {
    pub fn new(avito: Arc<Avito>, intake: Intake) -> Arc<AvitoInbound> {
        Arc::new(AvitoInbound { avito, intake })
    }

    pub async fn handle(&self, secret: &str, raw: &[u8]) -> Result<(), AvitoReject> {
        let expected = self.avito.settings.webhook_secret.as_deref().unwrap_or("");
        if expected.is_empty() || !constant_time_eq(secret.as_bytes(), expected.as_bytes()) {
            return Err(AvitoReject::Forbidden);
        }
        let body: Value = serde_json::from_slice(raw).map_err(|e| AvitoReject::Malformed(format!("not JSON: {e}")))?;
        if body["payload"]["type"] != "message" {
            return Ok(()); // other event kinds: nothing for the dialog
        }
        let v = &body["payload"]["value"];
        let (Some(id), Some(chat), Some(user), Some(author)) = (
            v["id"].as_str(),
            v["chat_id"].as_str(),
            v["user_id"].as_i64(),
            v["author_id"].as_i64(),
        ) else {
            return Err(AvitoReject::Malformed(
                "a message without id/chat_id/user_id/author_id".into(),
            ));
        };
        if user != self.avito.settings.user_id || author == user || v["type"] != "text" {
            return Ok(()); // another account, our own echo, a system or media message
        }
        let Some(text) = v["content"]["text"]
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
        else {
            return Ok(());
        };
        let bot = self.avito.bot();
        let key = EventKey::new(bot.clone(), id.to_string());
        let chats = &self.avito.chats;
        let lead = match chats.lead_of_chat(&bot, chat_key(chat)).await? {
            Some(lead) => lead,
            None => {
                let created = self
                    .intake
                    .create_lead(&NewLead {
                        source: CHANNEL.into(),
                        external_id: self.avito.external_id(chat),
                        channel: ChannelName::new(CHANNEL),
                        name: None,
                        phone: None,
                        text: Some(text.clone()),
                        segment: None,
                        first_event: Some(key.clone()),
                        creation_key: None,
                    })
                    .await?;
                chats.link_chat(&bot, chat_key(chat), created.lead.id).await?;
                created.lead.id
            }
        };
        self.intake.push(lead, &key, &InboxPayload::Message { text }).await?;
        Ok(())
    }
}
