//! The Google access token: obtained from the OAuth2 refresh token (`grant_type=refresh_token`)
//! and kept until shortly before it expires. One refresh at a time: callers that need a token
//! while one is being fetched wait for it instead of refreshing too. The secrets never reach a
//! log line (no `Debug` shows them, errors carry only the status).

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::calendar::CalendarError;

/// A token this close to its expiry is refreshed instead of used (clock skew, a slow request).
const EARLY: Duration = Duration::from_secs(60);

pub struct Credentials {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
}

struct Cached {
    access_token: String,
    good_until: Instant,
}

pub struct TokenSource {
    creds: Credentials,
    cached: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSource({})", self.creds.token_url)
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default = "default_expires")]
    expires_in: u64,
}

fn default_expires() -> u64 {
    3600
}

impl TokenSource {
    pub fn new(creds: Credentials) -> TokenSource {
        TokenSource {
            creds,
            cached: Mutex::new(None),
        }
    }

    /// A valid access token, refreshed when the kept one is (nearly) expired.
    pub async fn get(&self, http: &reqwest::Client) -> Result<String, CalendarError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.good_until) {
            return Ok(c.access_token.clone());
        }
        let answer = http
            .post(&self.creds.token_url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", self.creds.client_id.as_str()),
                ("client_secret", self.creds.client_secret.as_str()),
                ("refresh_token", self.creds.refresh_token.as_str()),
            ])
            .send()
            .await
            // Without the URL's query or body: only what failed.
            .map_err(|e| CalendarError::Remote(format!("token refresh: {}", e.without_url())))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(CalendarError::Remote(format!("token refresh answered {status}")));
        }
        let token: TokenAnswer = answer
            .json()
            .await
            .map_err(|e| CalendarError::Remote(format!("token refresh answer: {}", e.without_url())))?;
        let life = Duration::from_secs(token.expires_in).saturating_sub(EARLY);
        *cached = Some(Cached {
            access_token: token.access_token.clone(),
            good_until: Instant::now() + life,
        });
        Ok(token.access_token)
    }

    /// The API refused the token (revoked, expired early): the next call refreshes.
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}
