//! The VK API client: `messages.send` as VK wants it (form-encoded, `v` on every call, the
//! community token as a bearer), errors classified by VK's own `error_code`.

use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::outbox::DeliveryError;

#[derive(Debug, thiserror::Error)]
pub enum VkError {
    /// An `{"error": {...}}` answer.
    #[error("VK error {code}: {message}")]
    Api { code: i64, message: String },
    #[error("VK answered HTTP {0}")]
    Status(u16),
    #[error("unexpected answer: {0}")]
    Decode(String),
    #[error("transport: {0}")]
    Http(#[from] reqwest::Error),
}

impl VkError {
    /// The delivery outcome (VKCOM/vk-api-schema `errors.json`).
    pub fn into_delivery(self) -> DeliveryError {
        match &self {
            VkError::Api { code, .. } => match *code {
                // Too many requests per second / flood control / rate limit reached.
                6 => DeliveryError::Throttled(Duration::from_secs(1)),
                9 => DeliveryError::Throttled(Duration::from_secs(2)),
                29 => DeliveryError::Throttled(Duration::from_secs(600)),
                // Internal server error, captcha-free retries later.
                1 | 10 => DeliveryError::Retryable(self.to_string()),
                // No permission to write first / privacy settings / messages denied.
                901 | 902 => DeliveryError::CannotInitiate(format!("VK: {self}")),
                // The user blocked the community / chat disabled.
                900 | 945 => DeliveryError::Blocked(format!("VK: {self}")),
                _ => DeliveryError::Permanent(self.to_string()),
            },
            VkError::Status(s) if *s >= 500 || *s == 429 => DeliveryError::Retryable(self.to_string()),
            VkError::Http(_) => DeliveryError::Retryable(self.to_string()),
            _ => DeliveryError::Permanent(self.to_string()),
        }
    }
}

/// `random_id` for `messages.send`: derived from the outbox row's idempotency key, so a retry of
/// the same row is recognised by VK and not delivered twice (a positive 31-bit number, within
/// every range VK has documented for it).
pub fn random_id(idempotency_key: &str) -> i64 {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) & 0x7fff_ffff;
    i64::from(n.max(1))
}

pub struct VkApi {
    http: reqwest::Client,
    base: String,
    token: String,
    version: String,
}

impl VkApi {
    pub fn new(api_base: &str, token: &str, version: &str) -> Result<VkApi, reqwest::Error> {
        Ok(VkApi {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .connect_timeout(Duration::from_secs(10))
                .build()?,
            base: format!("{}/method", api_base.trim_end_matches('/')),
            token: token.to_string(),
            version: version.to_string(),
        })
    }

    /// Calls `method` with form parameters; returns `response`.
    pub async fn call(&self, method: &str, params: &[(&str, String)]) -> Result<Value, VkError> {
        let mut form: Vec<(&str, String)> = params.to_vec();
        form.push(("v", self.version.clone()));
        let resp = self
            .http
            .post(format!("{}/{method}", self.base))
            .bearer_auth(&self.token)
            .form(&form)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let body: Value = match resp.json().await {
            Ok(v) => v,
            Err(_) if status != 200 => return Err(VkError::Status(status)),
            Err(e) => return Err(VkError::Decode(e.to_string())),
        };
        if let Some(err) = body.get("error") {
            return Err(VkError::Api {
                code: err.get("error_code").and_then(Value::as_i64).unwrap_or(0),
                message: err.get("error_msg").and_then(Value::as_str).unwrap_or("").to_string(),
            });
        }
        if status != 200 {
            return Err(VkError::Status(status));
        }
        body.get("response")
            .cloned()
            .ok_or_else(|| VkError::Decode("no `response`".into()))
    }

    /// `messages.send` to one peer; returns the message id.
    pub async fn send_message(
        &self,
        peer_id: i64,
        random_id: i64,
        text: &str,
        keyboard: Option<&Value>,
    ) -> Result<i64, VkError> {
        let mut params = vec![
            ("peer_id", peer_id.to_string()),
            ("random_id", random_id.to_string()),
            ("message", text.to_string()),
            ("dont_parse_links", "1".to_string()),
        ];
        if let Some(k) = keyboard {
            params.push(("keyboard", k.to_string()));
        }
        let r = self.call("messages.send", &params).await?;
        r.as_i64()
            .ok_or_else(|| VkError::Decode(format!("messages.send answered {r}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_id_is_stable_positive_and_differs_per_row() {
        let a = random_id("lead:7:v3:say0");
        assert_eq!(a, random_id("lead:7:v3:say0"));
        assert_ne!(a, random_id("lead:7:v3:say1"));
        assert!(a > 0 && a <= i64::from(i32::MAX));
    }

    #[test]
    fn errors_are_classified_by_code() {
        let api = |code| VkError::Api {
            code,
            message: "x".into(),
        };
        assert!(matches!(api(901).into_delivery(), DeliveryError::CannotInitiate(_)));
        assert!(matches!(api(902).into_delivery(), DeliveryError::CannotInitiate(_)));
        for code in [6, 9, 29] {
            assert!(
                matches!(api(code).into_delivery(), DeliveryError::Throttled(_)),
                "{code}"
            );
        }
        assert!(matches!(api(10).into_delivery(), DeliveryError::Retryable(_)));
        assert!(matches!(api(914).into_delivery(), DeliveryError::Permanent(_)));
        assert!(matches!(
            VkError::Status(502).into_delivery(),
            DeliveryError::Retryable(_)
        ));
    }
}
