//! OAuth tokens of a Bitrix24 local application: received in the install event, stored in the
//! database, refreshed only when the portal says `expired_token`. Each refresh returns a new
//! refresh token; it replaces the old one with a compare-and-set, so two refreshes racing
//! (two nodes, two calls) never leave a dead token behind.

use std::sync::Arc;

use chrono::Utc;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::error::Bitrix24Error;
use crate::store::{CrmStore, OAuthTokens as Tokens};

pub struct TokenStore {
    store: Arc<dyn CrmStore>,
    member_id: String,
    client_id: String,
    client_secret: String,
    oauth_server: String,
    cache: Mutex<Option<Tokens>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: String,
    client_endpoint: String,
    expires_in: serde_json::Value,
}

impl TokenStore {
    pub fn new(
        store: Arc<dyn CrmStore>,
        member_id: &str,
        client_id: &str,
        client_secret: &str,
        oauth_server: &str,
    ) -> Self {
        TokenStore {
            store,
            member_id: member_id.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            oauth_server: oauth_server.trim_end_matches('/').to_string(),
            cache: Mutex::new(None),
        }
    }

    async fn load(&self) -> Result<Option<Tokens>, Bitrix24Error> {
        Ok(self.store.load_tokens(&self.member_id).await?)
    }

    pub async fn current(&self) -> Result<Tokens, Bitrix24Error> {
        let mut cache = self.cache.lock().await;
        if let Some(t) = cache.as_ref() {
            return Ok(t.clone());
        }
        let t = self
            .load()
            .await?
            .ok_or_else(|| Bitrix24Error::OAuth("the application is not installed yet (no tokens)".into()))?;
        *cache = Some(t.clone());
        Ok(t)
    }

    /// Tokens from the install event (`ONAPPINSTALL`, already verified by the caller).
    pub async fn install(&self, tokens: &Tokens) -> Result<(), Bitrix24Error> {
        self.store.install_tokens(&self.member_id, tokens).await?;
        *self.cache.lock().await = Some(tokens.clone());
        Ok(())
    }

    /// Exchanges the refresh token for new tokens and stores both atomically.
    pub async fn refresh(&self, http: &reqwest::Client) -> Result<(), Bitrix24Error> {
        let mut cache = self.cache.lock().await;
        let stored = self
            .load()
            .await?
            .ok_or_else(|| Bitrix24Error::OAuth("no tokens to refresh".into()))?;
        if cache.as_ref().is_some_and(|c| c.access_token != stored.access_token) {
            // Someone else refreshed since we read our copy: use theirs.
            *cache = Some(stored);
            return Ok(());
        }
        let resp = http
            .get(format!("{}/oauth/token/", self.oauth_server))
            .query(&[
                ("grant_type", "refresh_token"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
                ("refresh_token", stored.refresh_token.as_str()),
            ])
            .send()
            .await
            // Without the URL: its query carries the client secret and the refresh token.
            .map_err(reqwest::Error::without_url)?;
        let status = resp.status();
        let body: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| Bitrix24Error::OAuth(format!("refresh answer (HTTP {status}): {}", e.without_url())))?;
        if let Some(err) = body.get("error").and_then(|e| e.as_str()) {
            return Err(Bitrix24Error::OAuth(format!("refresh refused: {err}")));
        }
        let answer: TokenAnswer =
            serde_json::from_value(body).map_err(|e| Bitrix24Error::OAuth(format!("refresh answer: {e}")))?;
        let expires_in = super::value::as_u64(&answer.expires_in).unwrap_or(3600);
        let fresh = Tokens {
            access_token: answer.access_token,
            refresh_token: answer.refresh_token,
            client_endpoint: answer.client_endpoint,
            expires_at: Utc::now() + chrono::Duration::seconds(expires_in as i64),
        };
        let updated = self
            .store
            .replace_tokens(&self.member_id, &stored.refresh_token, &fresh)
            .await?;
        *cache = if updated {
            tracing::info!(member_id = %self.member_id, "Bitrix24 OAuth tokens refreshed");
            Some(fresh)
        } else {
            self.load().await?
        };
        Ok(())
    }
}
