//! SMSC.ru: `POST /sys/send.php` (`login`, `psw`, `phones`, `mes`, `fmt=3`, `charset=utf-8`) with
//! our outbox row as the message `id`, so a repeat within the gateway's window is refused as a
//! duplicate (error 9) instead of sent twice, and its status callbacks name the row.

use async_trait::async_trait;
use serde_json::Value;

use super::{http, SmsOutcome, SmsProvider, StatusReport};
use crate::config::SmsSettings;
use crate::domain::Phone;
use crate::outbox::DeliveryError;

pub struct Smsc {
    http: reqwest::Client,
    base: String,
    login: String,
    password: String,
    sender: Option<String>,
}

impl Smsc {
    pub fn new(s: &SmsSettings) -> Result<Smsc, reqwest::Error> {
        Ok(Smsc {
            http: http()?,
            base: s.api_base().trim_end_matches('/').to_string(),
            login: s.login.clone().unwrap_or_default(),
            password: s.password.clone().unwrap_or_default(),
            sender: s.sender.clone(),
        })
    }
}

/// SMSC's `error_code` → the delivery outcome.
fn classify(code: i64, text: &str) -> DeliveryError {
    let why = format!("SMSC {code}: {text}");
    match code {
        // Not enough money: later.
        3 => DeliveryError::Retryable(why),
        // Invalid number / cannot be delivered to it.
        7 | 8 => DeliveryError::CannotInitiate(why),
        _ => DeliveryError::Permanent(why),
    }
}

#[async_trait]
impl SmsProvider for Smsc {
    fn name(&self) -> &'static str {
        "smsc"
    }

    async fn send(&self, to: &Phone, text: &str, outbox_id: i64) -> Result<String, DeliveryError> {
        let mut form = vec![
            ("login", self.login.clone()),
            ("psw", self.password.clone()),
            ("phones", to.as_str().trim_start_matches('+').to_string()),
            ("mes", text.to_string()),
            ("fmt", "3".into()),
            ("charset", "utf-8".into()),
            ("id", outbox_id.to_string()),
        ];
        if let Some(from) = &self.sender {
            form.push(("sender", from.clone()));
        }
        let resp = self
            .http
            .post(format!("{}/sys/send.php", self.base))
            .form(&form)
            .send()
            .await
            .map_err(|e| DeliveryError::Retryable(format!("SMSC: {e}")))?;
        if resp.status().is_server_error() {
            return Err(DeliveryError::Retryable(format!("SMSC answered {}", resp.status())));
        }
        let body: Value = resp
            .json()
            .await
            .map_err(|e| DeliveryError::Retryable(format!("SMSC: not JSON: {e}")))?;
        if let Some(code) = body.get("error_code").and_then(Value::as_i64) {
            // 9: the same request was accepted within the last minute (a retry after a lost
            // answer): it is sent, not to be sent again.
            if code == 9 {
                return Ok(outbox_id.to_string());
            }
            return Err(classify(code, body["error"].as_str().unwrap_or("")));
        }
        match body.get("id") {
            Some(id) => Ok(id.to_string().trim_matches('"').to_string()),
            None => Err(DeliveryError::Permanent(format!("SMSC: unexpected answer {body}"))),
        }
    }

    fn parse_callback(&self, form: &[(String, String)]) -> Vec<StatusReport> {
        let get = |k: &str| form.iter().find(|(f, _)| f == k).map(|(_, v)| v.trim().to_string());
        let (Some(id), Some(status)) = (get("id"), get("status")) else {
            return vec![];
        };
        // SMSC statuses: 1 delivered; 3 expired, 20 undeliverable, 22 wrong number,
        // 23 forbidden, 24 no money, 25 unavailable number; the rest are on the way.
        let outcome = match status.as_str() {
            "1" => SmsOutcome::Delivered,
            "3" | "20" | "22" | "23" | "24" | "25" => SmsOutcome::Failed,
            _ => SmsOutcome::Pending,
        };
        vec![StatusReport {
            outbox_id: id.parse().ok(),
            provider_id: id,
            outcome,
            code: get("err").map_or(status.clone(), |e| format!("{status}/{e}")),
        }]
    }

    fn callback_ack(&self) -> &'static str {
        "OK"
    }
}
