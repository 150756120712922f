//! What WhatsApp Business Cloud and Instagram Messaging share as Meta app webhooks: the
//! `hub.challenge` handshake, the `X-Hub-Signature-256` HMAC over the raw body, and the Graph
//! API client with its error body (`{"error": {"code", "error_subcode", "message"}}`).

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`, checked in constant
/// time over the bytes as received (never re-serialized JSON).
pub fn signature_ok(app_secret: &str, header: Option<&str>, raw: &[u8]) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    if app_secret.is_empty() {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return false;
    };
    mac.update(raw);
    mac.verify_slice(&sig).is_ok()
}

/// The signature header value for `raw` (tests and local tools).
pub fn sign(app_secret: &str, raw: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(raw);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The verification GET: `hub.mode=subscribe` with our verify token → the challenge to echo.
pub fn challenge<'a>(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&'a str>,
    expected: &str,
) -> Option<&'a str> {
    let token_ok = token.is_some_and(|t| {
        !expected.is_empty() && crate::domain::secret::constant_time_eq(t.as_bytes(), expected.as_bytes())
    });
    (mode == Some("subscribe") && token_ok).then_some(challenge?)
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("Graph API error {code}/{subcode}: {message}")]
    Api { code: i64, subcode: i64, message: String },
    #[error("Graph API answered HTTP {0}")]
    Status(u16),
    #[error("unexpected answer: {0}")]
    Decode(String),
    #[error("transport: {0}")]
    Http(#[from] reqwest::Error),
}

pub struct GraphApi {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl GraphApi {
    pub fn new(api_base: &str, api_version: &str, token: &str) -> Result<GraphApi, reqwest::Error> {
        Ok(GraphApi {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .connect_timeout(Duration::from_secs(10))
                .build()?,
            base: format!("{}/{}", api_base.trim_end_matches('/'), api_version.trim_matches('/')),
            token: token.to_string(),
        })
    }

    /// `POST {base}/{path}` with a JSON body; the answer's JSON.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, GraphError> {
        let resp = self
            .http
            .post(format!("{}/{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let body: Value = match resp.json().await {
            Ok(v) => v,
            Err(_) if status >= 300 => return Err(GraphError::Status(status)),
            Err(e) => return Err(GraphError::Decode(e.to_string())),
        };
        if let Some(err) = body.get("error") {
            return Err(GraphError::Api {
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                subcode: err.get("error_subcode").and_then(Value::as_i64).unwrap_or(0),
                message: err.get("message").and_then(Value::as_str).unwrap_or("").to_string(),
            });
        }
        if status >= 300 {
            return Err(GraphError::Status(status));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_checked_over_the_raw_bytes() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = sign("app-secret", body);
        assert!(signature_ok("app-secret", Some(&header), body));
        assert!(!signature_ok("other", Some(&header), body));
        assert!(!signature_ok(
            "app-secret",
            Some(&header),
            br#"{"object": "whatsapp_business_account","entry":[]}"#
        ));
        assert!(!signature_ok("app-secret", None, body));
        assert!(!signature_ok("app-secret", Some("sha1=00"), body));
        assert!(!signature_ok("app-secret", Some("sha256=zz"), body));
        assert!(!signature_ok("", Some(&sign("", body)), body));
    }

    #[test]
    fn the_challenge_needs_subscribe_and_our_token() {
        assert_eq!(challenge(Some("subscribe"), Some("tok"), Some("42"), "tok"), Some("42"));
        assert_eq!(challenge(Some("subscribe"), Some("bad"), Some("42"), "tok"), None);
        assert_eq!(challenge(Some("unsubscribe"), Some("tok"), Some("42"), "tok"), None);
        assert_eq!(challenge(Some("subscribe"), Some(""), Some("42"), ""), None);
        assert_eq!(challenge(Some("subscribe"), Some("tok"), None, "tok"), None);
    }
}
