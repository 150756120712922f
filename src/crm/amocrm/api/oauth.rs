//! OAuth 2.0 tokens of an amoCRM account. An access token lives 24 h; a refresh token is good
//! for one exchange only, for every client at once (the old one is dead the moment a new pair is
//! issued), and expires after three months unused. So:
//! - one refresher per account in this process (a mutex), and a compare-and-set in the store
//!   between nodes: the new pair is stored before anything uses it;
//! - refreshed ahead of time (an hour before the access token expires) by a background task,
//!   so the refresh token never ages out while the service idles;
//! - a 401 on a call refreshes once (the client retries the call once).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::error::{problem, AmoError};
use crate::store::{CrmStore, OAuthTokens as Tokens};

/// How long a refresher whose refresh token another node used first waits for that node's pair.
const WINNER_WAIT: Duration = Duration::from_secs(5);
/// Refresh when the access token has less than this left.
pub const REFRESH_AHEAD: Duration = Duration::from_secs(3600);

pub struct TokenStore {
    store: Arc<dyn CrmStore>,
    /// The key of the grant in the store (`amocrm:{account_id}`).
    account: String,
    base: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    cache: Mutex<Option<Tokens>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// Why an exchange gave no tokens.
enum Refusal {
    /// The token endpoint said no (401/400): the grant or code is not valid (any more).
    Refused(String),
    Failed(AmoError),
}

impl TokenStore {
    pub fn new(
        store: Arc<dyn CrmStore>,
        account: &str,
        base: &str,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
    ) -> TokenStore {
        TokenStore {
            store,
            account: account.to_string(),
            base: base.trim_end_matches('/').to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            redirect_uri: redirect_uri.to_string(),
            cache: Mutex::new(None),
        }
    }

    /// The tokens to call with (refreshed first if the access token has already expired).
    pub async fn current(&self, http: &reqwest::Client) -> Result<Tokens, AmoError> {
        let tokens = {
            let mut cache = self.cache.lock().await;
            match cache.as_ref() {
                Some(t) => t.clone(),
                None => {
                    let t = self.store.load_tokens(&self.account).await?.ok_or_else(|| {
                        AmoError::OAuth("not authorised yet: set LEADBOT_AMOCRM_AUTH_CODE and restart".into())
                    })?;
                    *cache = Some(t.clone());
                    t
                }
            }
        };
        if tokens.expires_at <= Utc::now() {
            self.refresh(http, &tokens.access_token).await?;
            return self
                .cache
                .lock()
                .await
                .clone()
                .ok_or_else(|| AmoError::OAuth("no tokens".into()));
        }
        Ok(tokens)
    }

    /// Whether a grant is stored.
    pub async fn has_tokens(&self) -> Result<bool, AmoError> {
        Ok(self.store.load_tokens(&self.account).await?.is_some())
    }

    /// Exchanges an authorization code (from installing the integration) for the first pair.
    pub async fn authorize(&self, http: &reqwest::Client, code: &str) -> Result<(), AmoError> {
        let body = json!({
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
        });
        let tokens = match self.exchange(http, &body).await {
            Ok(t) => t,
            Err(Refusal::Refused(why)) => return Err(AmoError::OAuth(format!("authorization code refused: {why}"))),
            Err(Refusal::Failed(e)) => return Err(e),
        };
        self.store.install_tokens(&self.account, &tokens).await?;
        *self.cache.lock().await = Some(tokens);
        tracing::info!(account = %self.account, "amoCRM authorised: tokens stored");
        Ok(())
    }

    /// Refreshes if the access token expires within `ahead` (the background refresher).
    pub async fn refresh_if_due(&self, http: &reqwest::Client, ahead: Duration) -> Result<bool, AmoError> {
        let Some(stored) = self.store.load_tokens(&self.account).await? else {
            return Ok(false);
        };
        let due = stored.expires_at - chrono::Duration::from_std(ahead).unwrap_or_default() <= Utc::now();
        if due {
            self.refresh(http, &stored.access_token).await?;
        }
        Ok(due)
    }

    /// Makes sure the cache holds a pair newer than the one whose access token is `rejected`.
    pub async fn refresh(&self, http: &reqwest::Client, rejected: &str) -> Result<(), AmoError> {
        let mut cache = self.cache.lock().await;
        let stored = self
            .store
            .load_tokens(&self.account)
            .await?
            .ok_or_else(|| AmoError::OAuth("no tokens to refresh".into()))?;
        if stored.access_token != rejected {
            // Another call here, or another node, refreshed since: take theirs.
            *cache = Some(stored);
            return Ok(());
        }
        let body = json!({
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": stored.refresh_token,
            "redirect_uri": self.redirect_uri,
        });
        match self.exchange(http, &body).await {
            Ok(fresh) => {
                // Stored before it is used: the old refresh token is dead already.
                let won = self
                    .store
                    .replace_tokens(&self.account, &stored.refresh_token, &fresh)
                    .await?;
                *cache = if won {
                    tracing::info!(account = %self.account, "amoCRM OAuth tokens refreshed");
                    Some(fresh)
                } else {
                    self.store.load_tokens(&self.account).await?
                };
                Ok(())
            }
            Err(Refusal::Refused(why)) => {
                // Our refresh token may have been exchanged by another node a moment ago.
                match self.winners_tokens(&stored.refresh_token).await? {
                    Some(t) => {
                        *cache = Some(t);
                        Ok(())
                    }
                    None => {
                        tracing::error!(account = %self.account, reason = %why, "amoCRM refused the refresh token: authorise the integration again (LEADBOT_AMOCRM_AUTH_CODE)");
                        Err(AmoError::Unauthorized(format!("refresh refused: {why}")))
                    }
                }
            }
            Err(Refusal::Failed(e)) => Err(e),
        }
    }

    async fn winners_tokens(&self, used: &str) -> Result<Option<Tokens>, AmoError> {
        let deadline = tokio::time::Instant::now() + WINNER_WAIT;
        loop {
            if let Some(t) = self
                .store
                .load_tokens(&self.account)
                .await?
                .filter(|t| t.refresh_token != used)
            {
                return Ok(Some(t));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn exchange(&self, http: &reqwest::Client, body: &serde_json::Value) -> Result<Tokens, Refusal> {
        let path = "/oauth2/access_token";
        let resp = http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .map_err(|e| Refusal::Failed(reqwest::Error::without_url(e).into()))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| Refusal::Failed(reqwest::Error::without_url(e).into()))?;
        let parsed: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        if !(200..300).contains(&status) {
            return Err(match (status, parsed) {
                (400 | 401, Some(v)) => Refusal::Refused(problem("POST", path, status, &v).to_string()),
                (400 | 401, None) => Refusal::Refused(format!("HTTP {status}")),
                (s, _) if s >= 500 || s == 429 => Refusal::Failed(AmoError::Server(s)),
                (s, _) => Refusal::Failed(AmoError::OAuth(format!("token endpoint answered HTTP {s}"))),
            });
        }
        let answer: TokenAnswer = parsed
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| Refusal::Failed(AmoError::Decode(path.into(), "no access_token/refresh_token".into())))?;
        Ok(Tokens {
            access_token: answer.access_token,
            refresh_token: answer.refresh_token,
            client_endpoint: self.base.clone(),
            expires_at: Utc::now() + chrono::Duration::seconds(answer.expires_in.unwrap_or(86_400)),
        })
    }
}

/// The background refresher: checks every `every` and refreshes an hour ahead of expiry.
pub async fn run_refresher(tokens: Arc<TokenStore>, http: reqwest::Client, every: Duration) {
    loop {
        if let Err(e) = tokens.refresh_if_due(&http, REFRESH_AHEAD).await {
            tracing::warn!(error = %e, "amoCRM token refresh ahead of time failed; retried later");
        }
        tokio::time::sleep(every).await;
    }
}
