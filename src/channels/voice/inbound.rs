//! Keypress webhooks: verified before anything is read (Twilio's `X-Twilio-Signature` over the
//! public URL and the form; Zvonobot's secret in the path, constant time), then the key goes to
//! the lead named in the URL as one inbox row per call and key (a redelivery is a duplicate).

use super::twilio::{verify, xml_escape};
use crate::config::{VoiceProviderKind, VoiceSettings};
use crate::domain::secret::constant_time_eq;
use crate::domain::{EventKey, InboxPayload, LeadId};
use crate::intake::{Intake, IntakeError};
use crate::store::StoreError;
use crate::telemetry;

#[derive(Debug, thiserror::Error)]
pub enum VoiceReject {
    #[error("wrong signature or secret")]
    Forbidden,
    #[error("{0}")]
    Malformed(String),
    #[error("storage: {0}")]
    Store(String),
}

impl From<IntakeError> for VoiceReject {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Invalid(why) => VoiceReject::Malformed(why),
            IntakeError::Store(StoreError::LeadNotFound(lead)) => VoiceReject::Malformed(format!("no lead {lead}")),
            IntakeError::Store(e) => VoiceReject::Store(e.to_string()),
        }
    }
}

pub struct VoiceWebhooks {
    settings: VoiceSettings,
    intake: Intake,
}

/// The call a webhook is about: the lead and the outbox row from our own URL.
fn call_of(query: &str) -> Result<(LeadId, i64), VoiceReject> {
    let q: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|e| VoiceReject::Malformed(format!("bad query: {e}")))?;
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.parse::<i64>().ok())
            .ok_or_else(|| VoiceReject::Malformed(format!("`{k}` missing from the webhook URL")))
    };
    Ok((LeadId(get("lead")?), get("row")?))
}

fn digits_ok(d: &str) -> bool {
    d.len() <= 8 && d.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

impl VoiceWebhooks {
    pub fn new(settings: VoiceSettings, intake: Intake) -> VoiceWebhooks {
        VoiceWebhooks { settings, intake }
    }

    pub fn provider(&self) -> VoiceProviderKind {
        self.settings.provider
    }

    /// Twilio's `<Gather>` action: `path_and_query` as requested (the public URL is
    /// `public_url` + it), the form body, the signature header. Returns the TwiML to say.
    pub async fn twilio(&self, path_and_query: &str, signature: &str, body: &[u8]) -> Result<String, VoiceReject> {
        if self.settings.provider != VoiceProviderKind::Twilio {
            return Err(VoiceReject::Forbidden);
        }
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| VoiceReject::Forbidden)?;
        let url = format!("{}{path_and_query}", self.settings.public_url.trim_end_matches('/'));
        let token = self.settings.auth_token.as_deref().unwrap_or_default();
        if !verify(token, &url, &form, signature) {
            return Err(VoiceReject::Forbidden);
        }
        let query = path_and_query.split_once('?').map_or("", |(_, q)| q);
        let (lead, row) = call_of(query)?;
        let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let call = field("CallSid").unwrap_or_default();
        let digits = field("Digits").unwrap_or_default();
        if !digits_ok(digits) {
            return Err(VoiceReject::Malformed("`Digits` is not a keypress".into()));
        }
        self.keypress(lead, &format!("twilio:{call}:{row}"), digits).await?;
        let said = if digits == self.settings.manager_digit {
            self.settings.thanks.as_str()
        } else {
            "До свидания!"
        };
        Ok(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say language=\"{}\">{}</Say></Response>",
            xml_escape(&self.settings.language),
            xml_escape(said)
        ))
    }

    /// Zvonobot's keypress webhook: the secret from the path, our query, and a body that may
    /// carry `digit` (JSON or form); without one it is the key the webhook was set for.
    pub async fn zvonobot(&self, secret: &str, query: &str, body: &[u8]) -> Result<&'static str, VoiceReject> {
        let expected = self.settings.webhook_secret.as_deref().unwrap_or_default();
        if self.settings.provider != VoiceProviderKind::Zvonobot
            || expected.is_empty()
            || !constant_time_eq(secret.as_bytes(), expected.as_bytes())
        {
            return Err(VoiceReject::Forbidden);
        }
        let (lead, row) = call_of(query)?;
        let from_body = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("digit")
                    .map(|d| d.as_str().map(str::to_string).unwrap_or_else(|| d.to_string()))
            })
            .or_else(|| {
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
                    .ok()?
                    .into_iter()
                    .find(|(k, _)| k == "digit")
                    .map(|(_, v)| v)
            });
        let digit = from_body.unwrap_or_else(|| self.settings.manager_digit.clone());
        if !digits_ok(&digit) {
            return Err(VoiceReject::Malformed("`digit` is not a keypress".into()));
        }
        self.keypress(lead, &format!("zvonobot:{row}:{digit}"), &digit).await?;
        Ok("ok")
    }

    async fn keypress(&self, lead: LeadId, id: &str, digits: &str) -> Result<(), VoiceReject> {
        let key = EventKey::new("voice", id.to_string());
        let payload = InboxPayload::CallAnswered {
            digits: digits.to_string(),
            manager: digits == self.settings.manager_digit,
        };
        self.intake.push(lead, &key, &payload).await?;
        metrics::counter!(telemetry::CHANNEL_STATUSES, "channel" => super::CHANNEL, "status" => if digits.is_empty() { "no_key" } else { "key" })
            .increment(1);
        Ok(())
    }
}
