//! WhatsApp webhook bodies in: the signature checked over the raw bytes before parsing; every
//! entry, change and message read (one POST may carry many), each message stored under its
//! `wamid`; the sender's `wa_id` is their phone and is handed to the dialog once as a verified
//! contact (the dialog validates it as it validates any number); statuses update the outbox row
//! they name (`biz_opaque_callback_data`).

use std::sync::Arc;

use serde_json::Value;

use super::{WhatsApp, CHANNEL};
use crate::channels::meta;
use crate::domain::{ChannelName, EventKey, InboxPayload, NewLead};
use crate::intake::{Intake, IntakeError};
use crate::store::StoreError;
use crate::telemetry;

#[derive(Debug, thiserror::Error)]
pub enum WaReject {
    /// Not a webhook body (400; nothing stored).
    #[error("{0}")]
    Malformed(String),
    /// Missing or wrong `X-Hub-Signature-256` (401; nothing stored).
    #[error("wrong X-Hub-Signature-256")]
    BadSignature,
    /// Worth Meta's retry (5xx).
    #[error("storage: {0}")]
    Store(String),
}

impl From<StoreError> for WaReject {
    fn from(e: StoreError) -> Self {
        WaReject::Store(e.to_string())
    }
}

impl From<IntakeError> for WaReject {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Invalid(why) => WaReject::Malformed(why),
            IntakeError::Store(e) => WaReject::Store(e.to_string()),
        }
    }
}

/// What one message says to the dialog.
fn payload_of(m: &Value, from: &str) -> Option<InboxPayload> {
    let s = |v: &Value| v.as_str().map(str::trim).filter(|t| !t.is_empty()).map(String::from);
    match m.get("type").and_then(Value::as_str)? {
        "text" => s(&m["text"]["body"]).map(|text| InboxPayload::Message { text }),
        // A reply button or list row: its title is what the client chose.
        "interactive" => {
            let i = &m["interactive"];
            s(&i["button_reply"]["title"])
                .or_else(|| s(&i["list_reply"]["title"]))
                .map(|text| InboxPayload::Message { text })
        }
        // A template's quick-reply button.
        "button" => s(&m["button"]["text"]).map(|text| InboxPayload::Message { text }),
        // A shared contact card: the client's own when its wa_id is the sender's.
        "contacts" => {
            let phone = &m["contacts"][0]["phones"][0];
            let number = s(&phone["phone"]).or_else(|| s(&phone["wa_id"]))?;
            let own = phone["wa_id"].as_str() == Some(from);
            Some(InboxPayload::Contact {
                phone: number,
                verified: own,
            })
        }
        _ => None,
    }
}

pub struct WhatsAppInbound {
    pub wa: Arc<WhatsApp>,
    intake: Intake,
}

impl WhatsAppInbound {
    pub fn new(wa: Arc<WhatsApp>, intake: Intake) -> Arc<WhatsAppInbound> {
        Arc::new(WhatsAppInbound { wa, intake })
    }

    /// The verification GET.
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
            self.wa.settings.verify_token.as_deref().unwrap_or(""),
        )
    }

    /// One webhook POST, as received.
    pub async fn handle(&self, signature: Option<&str>, raw: &[u8]) -> Result<(), WaReject> {
        let secret = self.wa.settings.app_secret.as_deref().unwrap_or("");
        if !meta::signature_ok(secret, signature, raw) {
            return Err(WaReject::BadSignature);
        }
        let body: Value = serde_json::from_slice(raw).map_err(|e| WaReject::Malformed(format!("not JSON: {e}")))?;
        if body.get("object").and_then(Value::as_str) != Some("whatsapp_business_account") {
            return Err(WaReject::Malformed("not a WhatsApp Business webhook".into()));
        }
        for entry in body["entry"].as_array().into_iter().flatten() {
            for change in entry["changes"].as_array().into_iter().flatten() {
                let value = &change["value"];
                if change["field"].as_str() != Some("messages")
                    || value["metadata"]["phone_number_id"].as_str() != Some(self.wa.settings.phone_number_id.as_str())
                {
                    continue; // another number of the same account
                }
                self.change(value).await?;
            }
        }
        Ok(())
    }

    async fn change(&self, value: &Value) -> Result<(), WaReject> {
        let bot = self.wa.bot();
        for m in value["messages"].as_array().into_iter().flatten() {
            let (Some(from), Some(id)) = (m["from"].as_str(), m["id"].as_str()) else {
                continue;
            };
            // The wa_id is the key of the conversation; a user known only by a BSUID
            // (usernames) has none and is not handled yet.
            let Ok(wa_id) = from.parse::<i64>() else {
                tracing::warn!("WhatsApp message without a numeric wa_id, skipped");
                continue;
            };
            let payload = payload_of(m, from);
            let name = value["contacts"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["wa_id"].as_str() == Some(from))
                .and_then(|c| c["profile"]["name"].as_str())
                .map(String::from);
            let key = EventKey::new(bot.clone(), id.to_string());
            let chats = &self.wa.chats;
            let lead = match chats.lead_of_chat(&bot, wa_id).await? {
                Some(lead) => lead,
                None => {
                    let text = match &payload {
                        Some(InboxPayload::Message { text }) => Some(text.clone()),
                        _ => None,
                    };
                    let created = self
                        .intake
                        .create_lead(&NewLead {
                            source: CHANNEL.into(),
                            external_id: format!("{}:{from}", self.wa.settings.phone_number_id),
                            channel: ChannelName::new(CHANNEL),
                            name,
                            phone: None,
                            first_event: text.as_ref().map(|_| key.clone()),
                            text,
                            segment: None,
                            creation_key: None,
                        })
                        .await?;
                    chats.link_chat(&bot, wa_id, created.lead.id).await?;
                    created.lead.id
                }
            };
            if let Some(p) = payload {
                self.intake.push(lead, &key, &p).await?;
            }
            // The sender's number is theirs: offered to the dialog once, as a verified contact.
            let phone = InboxPayload::Contact {
                phone: format!("+{from}"),
                verified: true,
            };
            self.intake
                .push(lead, &EventKey::new(bot.clone(), format!("wa_id:{from}")), &phone)
                .await?;
        }
        for st in value["statuses"].as_array().into_iter().flatten() {
            let status = st["status"].as_str().unwrap_or("");
            let label: &'static str = match status {
                "sent" => "sent",
                "delivered" => "delivered",
                "read" => "read",
                "failed" => "failed",
                _ => "other",
            };
            metrics::counter!(telemetry::CHANNEL_STATUSES, "channel" => CHANNEL, "status" => label).increment(1);
            if status != "failed" {
                continue;
            }
            let row = st["biz_opaque_callback_data"]
                .as_str()
                .and_then(|d| d.strip_prefix("outbox:"))
                .and_then(|id| id.parse::<i64>().ok());
            let err = &st["errors"][0];
            let reason = format!(
                "WhatsApp status failed: {} {}",
                err["code"].as_i64().unwrap_or(0),
                err["title"].as_str().unwrap_or("")
            );
            match row {
                Some(id) => self.intake.delivery_failed(id, &reason).await?,
                None => tracing::warn!(reason = %reason, "a failed WhatsApp message that names no outbox row"),
            }
        }
        Ok(())
    }
}
