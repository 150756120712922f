//! SMS.ru: `POST /sms/send` (`api_id`, `to`, `msg`, `json=1`), each number's own `status_code`
//! checked (the top level can say OK while a number failed); callbacks are form `data[]`
//! entries `sms_status\n<sms_id>\n<status_code>\n<time>`, answered `100`.

use async_trait::async_trait;
use serde_json::Value;

use super::{http, SmsOutcome, SmsProvider, StatusReport};
use crate::config::SmsSettings;
use crate::domain::Phone;
use crate::outbox::DeliveryError;

pub struct SmsRu {
    http: reqwest::Client,
    base: String,
    api_id: String,
    sender: Option<String>,
    test: bool,
}

impl SmsRu {
    pub fn new(s: &SmsSettings) -> Result<SmsRu, reqwest::Error> {
        Ok(SmsRu {
            http: http()?,
            base: s.api_base().trim_end_matches('/').to_string(),
            api_id: s.api_id.clone().unwrap_or_default(),
            sender: s.sender.clone(),
            test: s.test,
        })
    }
}

/// A send's `status_code` → the delivery outcome (sms.ru/api/send codes).
fn classify(code: i64, text: &str) -> DeliveryError {
    let why = format!("SMS.ru {code}: {text}");
    match code {
        // Invalid number / no route to it / the number is in the stop list.
        202 | 207 | 230 | 231 | 232 => DeliveryError::CannotInitiate(why),
        // Not enough money, the service is busy, day limits: later.
        201 | 220 | 233 | 500 | 501 => DeliveryError::Retryable(why),
        _ => DeliveryError::Permanent(why),
    }
}

#[async_trait]
impl SmsProvider for SmsRu {
    fn name(&self) -> &'static str {
        "smsru"
    }

    async fn send(&self, to: &Phone, text: &str, _outbox_id: i64) -> Result<String, DeliveryError> {
        let number = to.as_str().trim_start_matches('+').to_string();
        let mut form = vec![
            ("api_id", self.api_id.clone()),
            ("to", number.clone()),
            ("msg", text.to_string()),
            ("json", "1".into()),
        ];
        if let Some(from) = &self.sender {
            form.push(("from", from.clone()));
        }
        if self.test {
            form.push(("test", "1".into()));
        }
        let resp = self
            .http
            .post(format!("{}/sms/send", self.base))
            .form(&form)
            .send()
            .await
            .map_err(|e| DeliveryError::Retryable(format!("SMS.ru: {e}")))?;
        if resp.status().is_server_error() {
            return Err(DeliveryError::Retryable(format!("SMS.ru answered {}", resp.status())));
        }
        let body: Value = resp
            .json()
            .await
            .map_err(|e| DeliveryError::Retryable(format!("SMS.ru: not JSON: {e}")))?;
        let code = |v: &Value| v.get("status_code").and_then(Value::as_i64).unwrap_or(0);
        let text_of = |v: &Value| v.get("status_text").and_then(Value::as_str).unwrap_or("").to_string();
        if body["status"] != "OK" {
            return Err(classify(code(&body), &text_of(&body)));
        }
        let one = &body["sms"][&number];
        if one["status"] != "OK" {
            return Err(classify(code(one), &text_of(one)));
        }
        one["sms_id"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| DeliveryError::Permanent("SMS.ru: no sms_id in the answer".into()))
    }

    fn parse_callback(&self, form: &[(String, String)]) -> Vec<StatusReport> {
        form.iter()
            .filter(|(k, _)| k.starts_with("data["))
            .filter_map(|(_, v)| {
                let mut lines = v.lines();
                if lines.next()? != "sms_status" {
                    return None;
                }
                let id = lines.next()?.trim().to_string();
                let code = lines.next()?.trim().to_string();
                let outcome = match code.as_str() {
                    "103" => SmsOutcome::Delivered,
                    "104" | "105" | "106" | "107" | "108" | "150" => SmsOutcome::Failed,
                    _ => SmsOutcome::Pending,
                };
                Some(StatusReport {
                    provider_id: id,
                    outbox_id: None,
                    outcome,
                    code,
                })
            })
            .collect()
    }

    fn callback_ack(&self) -> &'static str {
        "100"
    }
}
