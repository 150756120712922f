//! OAuth tokens of a Bitrix24 local application: received in the install event, stored in the
//! database, refreshed only when the portal says `expired_token`. Each refresh returns a new
//! refresh token; it replaces the old one with a compare-and-set, so two refreshes racing
//! (two nodes, two calls) never leave a dead token behind: calls on one node refresh once per
//! rejected access token, and a node whose refresh token another node used first takes that
//! node's tokens from the store.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::error::Bitrix24Error;
use crate::store::{CrmStore, OAuthTokens as Tokens};

/// How long a refresher whose refresh token was already used waits for the winner's tokens.
const WINNER_WAIT: Duration = Duration::from_secs(5);

/// Why an exchange gave no tokens.
enum Refusal {
    /// The OAuth server's `error` code (`invalid_grant`, `invalid_client`, ...).
    Refused(String),
    Failed(Bitrix24Error),
}

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

    /// The portal refused `rejected` (`expired_token`): makes sure the cache holds live tokens.
    ///
    /// Only one refresh per rejected token: if the stored tokens are already newer than the
    /// rejected one (another call here, or another node, refreshed first), they are taken as
    /// they are. Otherwise the refresh token is exchanged and replaced with a compare-and-set.
    /// A refresh token is good for one exchange only; when the OAuth server refuses ours
    /// (`invalid_grant`) because another node exchanged it a moment earlier, that node's tokens
    /// are read from the store as soon as they land there.
    pub async fn refresh(&self, http: &reqwest::Client, rejected: &str) -> Result<(), Bitrix24Error> {
        let mut cache = self.cache.lock().await;
        let stored = self
            .load()
            .await?
            .ok_or_else(|| Bitrix24Error::OAuth("no tokens to refresh".into()))?;
        if stored.access_token != rejected {
            // Someone else refreshed since the rejected token was read: use theirs.
            *cache = Some(stored);
            return Ok(());
        }
        match self.exchange(http, &stored.refresh_token).await {
            Ok(fresh) => {
                let updated = self
                    .store
                    .replace_tokens(&self.member_id, &stored.refresh_token, &fresh)
                    .await?;
                *cache = if updated {
                    tracing::info!(member_id = %self.member_id, "Bitrix24 OAuth tokens refreshed");
                    Some(fresh)
                } else {
                    // Replaced meanwhile (a re-install): the stored tokens are the newest.
                    self.load().await?
                };
                Ok(())
            }
            Err(Refusal::Refused(code)) if code == "invalid_grant" => {
                let winner = self.winners_tokens(&stored.refresh_token).await?;
                tracing::info!(member_id = %self.member_id, "Bitrix24 refresh token used by another node; its tokens taken");
                *cache = Some(winner);
                Ok(())
            }
            Err(Refusal::Refused(code)) => Err(Bitrix24Error::OAuth(format!("refresh refused: {code}"))),
            Err(Refusal::Failed(e)) => Err(e),
        }
    }

    /// Waits for the tokens of whoever exchanged `used` (stored a moment after their answer).
    async fn winners_tokens(&self, used: &str) -> Result<Tokens, Bitrix24Error> {
        let deadline = tokio::time::Instant::now() + WINNER_WAIT;
        loop {
            if let Some(t) = self.load().await?.filter(|t| t.refresh_token != used) {
                return Ok(t);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Bitrix24Error::OAuth(
                    "refresh refused: invalid_grant, and no newer tokens were stored (re-install the application)"
                        .into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One exchange at the OAuth server.
    async fn exchange(&self, http: &reqwest::Client, refresh_token: &str) -> Result<Tokens, Refusal> {
        let resp = http
            .get(format!("{}/oauth/token/", self.oauth_server))
            .query(&[
                ("grant_type", "refresh_token"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            // Without the URL: its query carries the client secret and the refresh token.
            .map_err(|e| Refusal::Failed(reqwest::Error::without_url(e).into()))?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.map_err(|e| {
            Refusal::Failed(Bitrix24Error::OAuth(format!(
                "refresh answer (HTTP {status}): {}",
                e.without_url()
            )))
        })?;
        if let Some(err) = body.get("error").and_then(|e| e.as_str()) {
            return Err(Refusal::Refused(err.to_string()));
        }
        let answer: TokenAnswer = serde_json::from_value(body)
            .map_err(|e| Refusal::Failed(Bitrix24Error::OAuth(format!("refresh answer: {e}"))))?;
        let expires_in = super::value::as_u64(&answer.expires_in).unwrap_or(3600);
        Ok(Tokens {
            access_token: answer.access_token,
            refresh_token: answer.refresh_token,
            client_endpoint: answer.client_endpoint,
            expires_at: Utc::now() + chrono::Duration::seconds(expires_in as i64),
        })
    }
}
