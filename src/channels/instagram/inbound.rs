//! Instagram webhook bodies in: the signature checked over the raw bytes first; every entry's
//! `messaging[]` (and the `changes[].value` shape some logins get) read; our own echoes and
//! messages to another account dropped; each message stored under its `mid`.

use std::sync::Arc;

use serde_json::Value;

use super::{Instagram, CHANNEL};
use crate::channels::meta;
use crate::domain::{ChannelName, EventKey, InboxPayload, NewLead};
use crate::intake::{Intake, IntakeError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IgReject {
    #[error("{0}")]
    Malformed(String),
    #[error("wrong X-Hub-Signature-256")]
    BadSignature,
    #[error("storage: {0}")]
    Store(String),
}

impl From<StoreError> for IgReject {
    fn from(e: StoreError) -> Self {
        IgReject::Store(e.to_string())
    }
}

impl From<IntakeError> for IgReject {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Invalid(why) => IgReject::Malformed(why),
            IntakeError::Store(e) => IgReject::Store(e.to_string()),
        }
    }
}

pub struct InstagramInbound {
    pub ig: Arc<Instagram>,
    intake: Intake,
}

impl InstagramInbound {
    pub fn new(ig: Arc<Instagram>, intake: Intake) -> Arc<InstagramInbound> {
        Arc::new(InstagramInbound { ig, intake })
    }

    pub fn challenge<'a>(
        &self,
        mode: Option<&str>,
        token: Option<&str>,
        challenge: Option<&'a str>,
    ) -> Option<&'a str> {
        meta::challenge(
            mode,
            token,
            challenge,
            self.ig.settings.verify_token.as_deref().unwrap_or(""),
        )
    }

    pub async fn handle(&self, signature: Option<&str>, raw: &[u8]) -> Result<(), IgReject> {
        let secret = self.ig.settings.app_secret.as_deref().unwrap_or("");
        if !meta::signature_ok(secret, signature, raw) {
            return Err(IgReject::BadSignature);
        }
        let body: Value = serde_json::from_slice(raw).map_err(|e| IgReject::Malformed(format!("not JSON: {e}")))?;
        if body.get("object").and_then(Value::as_str) != Some("instagram") {
            return Err(IgReject::Malformed("not an Instagram webhook".into()));
        }
        for entry in body["entry"].as_array().into_iter().flatten() {
            let events = entry["messaging"].as_array().into_iter().flatten().chain(
                entry["changes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["field"] == "messages")
                    .map(|c| &c["value"]),
            );
            for ev in events {
                self.event(ev).await?;
            }
        }
        Ok(())
    }

    async fn event(&self, ev: &Value) -> Result<(), IgReject> {
        let account = self.ig.settings.account_id.as_str();
        let msg = &ev["message"];
        let (Some(sender), Some(recipient), Some(mid)) = (
            ev["sender"]["id"].as_str(),
            ev["recipient"]["id"].as_str(),
            msg["mid"].as_str(),
        ) else {
            return Ok(()); // reads, reactions, postbacks...: nothing for the dialog
        };
        if msg["is_echo"] == true || sender == account || recipient != account {
            return Ok(()); // our own message coming back, or another account's
        }
        let Ok(igsid) = sender.parse::<i64>() else {
            return Err(IgReject::Malformed("sender.id is not an IGSID".into()));
        };
        let Some(text) = msg["text"]
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
        else {
            return Ok(()); // an attachment only
        };
        let bot = self.ig.bot();
        let key = EventKey::new(bot.clone(), mid.to_string());
        let lead = match self.ig.chats.lead_of_chat(&bot, igsid).await? {
            Some(lead) => lead,
            None => {
                let created = self
                    .intake
                    .create_lead(&NewLead {
                        source: CHANNEL.into(),
                        external_id: format!("{account}:{igsid}"),
                        channel: ChannelName::new(CHANNEL),
                        name: None,
                        phone: None,
                        text: Some(text.clone()),
                        segment: None,
                        first_event: Some(key.clone()),
                        creation_key: None,
                    })
                    .await?;
                self.ig.chats.link_chat(&bot, igsid, created.lead.id).await?;
                created.lead.id
            }
        };
        self.intake.push(lead, &key, &InboxPayload::Message { text }).await?;
        Ok(())
    }
}
