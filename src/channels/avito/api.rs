//! The Avito API client: an OAuth2 client-credentials token (`POST /token`), cached until shortly
//! before it expires and fetched again after a 401; messages sent as JSON.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::config::AvitoSettings;
use crate::outbox::DeliveryError;

#[derive(Debug, thiserror::Error)]
pub enum AvitoError {
    #[error("Avito answered HTTP {status}: {body}")]
    Status {
        status: u16,
        body: String,
        retry_after: Option<u64>,
    },
    #[error("unexpected answer: {0}")]
    Decode(String),
    #[error("transport: {0}")]
    Http(#[from] reqwest::Error),
}

impl AvitoError {
    pub fn into_delivery(self) -> DeliveryError {
        match &self {
            AvitoError::Status {
                status: 429,
                retry_after,
                ..
            } => DeliveryError::Throttled(Duration::from_secs(retry_after.unwrap_or(5).max(1))),
            // The chat is gone or closed to us (blocked, deleted).
            AvitoError::Status { status: 403 | 404, .. } => DeliveryError::CannotInitiate(format!("Avito: {self}")),
            AvitoError::Status { status, .. } if *status >= 500 => DeliveryError::Retryable(self.to_string()),
            AvitoError::Http(_) => DeliveryError::Retryable(self.to_string()),
            _ => DeliveryError::Permanent(self.to_string()),
        }
    }
}

pub struct AvitoApi {
    http: reqwest::Client,
    base: String,
    client_id: String,
    client_secret: String,
    token: Mutex<Option<(String, Instant)>>,
}

impl AvitoApi {
    pub fn new(s: &AvitoSettings) -> Result<AvitoApi, reqwest::Error> {
        Ok(AvitoApi {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .connect_timeout(Duration::from_secs(10))
                .build()?,
            base: s.api_base.trim_end_matches('/').to_string(),
            client_id: s.client_id.clone().unwrap_or_default(),
            client_secret: s.client_secret.clone().unwrap_or_default(),
            token: Mutex::new(None),
        })
    }

    async fn status_error(resp: reqwest::Response) -> AvitoError {
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body: String = resp.text().await.unwrap_or_default().chars().take(300).collect();
        AvitoError::Status {
            status,
            body,
            retry_after,
        }
    }

    async fn token(&self, fresh: bool) -> Result<String, AvitoError> {
        let mut t = self.token.lock().await;
        if let (false, Some((tok, until))) = (fresh, t.as_ref()) {
            if Instant::now() < *until {
                return Ok(tok.clone());
            }
        }
        let resp = self
            .http
            .post(format!("{}/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
            ])
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(Self::status_error(resp).await);
        }
        let body: Value = resp.json().await.map_err(|e| AvitoError::Decode(e.to_string()))?;
        let tok = body["access_token"]
            .as_str()
            .ok_or_else(|| AvitoError::Decode("no access_token".into()))?
            .to_string();
        let ttl = body["expires_in"].as_u64().unwrap_or(3600).saturating_sub(60).max(30);
        *t = Some((tok.clone(), Instant::now() + Duration::from_secs(ttl)));
        Ok(tok)
    }

    /// Sends a text into a chat; returns the message id.
    pub async fn send_text(&self, user_id: i64, chat_id: &str, text: &str) -> Result<String, AvitoError> {
        let url = format!("{}/messenger/v1/accounts/{user_id}/chats/{chat_id}/messages", self.base);
        let body = json!({"message": {"text": text}, "type": "text"});
        let mut fresh = false;
        loop {
            let token = self.token(fresh).await?;
            let resp = self.http.post(&url).bearer_auth(&token).json(&body).send().await?;
            if resp.status().as_u16() == 401 && !fresh {
                fresh = true; // the token expired early or was revoked: once more with a new one
                continue;
            }
            if !resp.status().is_success() {
                return Err(Self::status_error(resp).await);
            }
            let v: Value = resp.json().await.map_err(|e| AvitoError::Decode(e.to_string()))?;
            return Ok(v["id"].as_str().unwrap_or("").to_string());
        }
    }
}
