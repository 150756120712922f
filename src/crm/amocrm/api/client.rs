//! The amoCRM API v4 client: one per account. Every request waits for the account's rate
//! limiter (amoCRM allows 7 requests/s and blocks accounts that keep exceeding it), 429 is
//! retried with a growing pause, a 403 HTML page (the account is blocked) stops all calls for a
//! while, 204 No Content is an empty answer, and a 401 refreshes the OAuth token once.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::Mutex;

use super::error::{problem, AmoError};
use super::oauth::TokenStore;
use crate::telemetry;

/// Attempts of one request while amoCRM answers 429.
const RATE_LIMIT_ATTEMPTS: u32 = 4;

/// How requests are authorised.
pub enum Auth {
    /// A private integration's long-lived token.
    LongLived(String),
    OAuth(Arc<TokenStore>),
}

pub struct AmoClient {
    http: reqwest::Client,
    base: String,
    auth: Auth,
    /// A GCRA limiter (governor) with a burst of one: requests are spaced evenly at the
    /// configured rate, so no window of one second ever holds more than the rate, whatever the
    /// phase; a burst allowance would let two windows' worth of requests land in one second.
    limiter: DefaultDirectRateLimiter,
    /// Until when calls are paused because amoCRM blocked the account.
    blocked_until: Mutex<Option<Instant>>,
    block_pause: Duration,
}

impl AmoClient {
    pub fn new(base: &str, auth: Auth, rate_per_sec: f64, block_pause: Duration) -> Result<AmoClient, AmoError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("leadbot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let period = Duration::from_secs_f64(1.0 / rate_per_sec.max(0.01));
        let quota = Quota::with_period(period)
            .ok_or_else(|| AmoError::OAuth("rate limit period is zero".into()))?
            .allow_burst(NonZeroU32::MIN);
        Ok(AmoClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            auth,
            limiter: RateLimiter::direct(quota),
            blocked_until: Mutex::new(None),
            block_pause,
        })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub async fn get(&self, path: &str, query: &[(String, String)]) -> Result<Option<Value>, AmoError> {
        self.request(Method::GET, path, query, None).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Option<Value>, AmoError> {
        self.request(Method::PATCH, path, &[], Some(body)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Option<Value>, AmoError> {
        self.request(Method::POST, path, &[], Some(body)).await
    }

    /// One API request; `Ok(None)` for 204 No Content (an empty list).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, AmoError> {
        let started = Instant::now();
        let result = self.with_retries(&method, path, query, body).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.label(),
        };
        metrics::counter!(telemetry::CRM_REQUESTS, "crm" => "amocrm", "method" => endpoint_label(path), "outcome" => outcome)
            .increment(1);
        metrics::histogram!(telemetry::CRM_REQUEST_SECONDS, "crm" => "amocrm").record(started.elapsed().as_secs_f64());
        result
    }

    async fn with_retries(
        &self,
        method: &Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, AmoError> {
        let mut refreshed = false;
        let mut attempt = 0;
        // Pauses after a 429: growing, with jitter (backon's policy), so callers refused at the
        // same moment do not come back at the same moment.
        let mut pauses = backon::BackoffBuilder::build(
            backon::ExponentialBuilder::default()
                .with_min_delay(Duration::from_secs(1))
                .with_max_delay(Duration::from_secs(8))
                .with_jitter()
                .with_max_times(RATE_LIMIT_ATTEMPTS as usize),
        );
        loop {
            attempt += 1;
            self.check_blocked().await?;
            let waited = Instant::now();
            self.limiter.until_ready().await;
            metrics::histogram!(telemetry::CRM_LIMITER_WAIT, "crm" => "amocrm").record(waited.elapsed().as_secs_f64());
            let token = match &self.auth {
                Auth::LongLived(t) => t.clone(),
                Auth::OAuth(tokens) => tokens.current(&self.http).await?.access_token,
            };
            match self.send_once(method, path, query, body, &token).await {
                Err(AmoError::RateLimited) if attempt < RATE_LIMIT_ATTEMPTS => {
                    let pause = pauses.next().unwrap_or(Duration::from_secs(8));
                    tracing::warn!(
                        path,
                        attempt,
                        pause_ms = pause.as_millis() as u64,
                        "amoCRM answered 429"
                    );
                    tokio::time::sleep(pause).await;
                }
                Err(AmoError::Unauthorized(why)) if !refreshed => match &self.auth {
                    Auth::OAuth(tokens) => {
                        refreshed = true;
                        tracing::warn!(path, "amoCRM refused the access token; refreshing it once");
                        tokens.refresh(&self.http, &token).await?;
                    }
                    Auth::LongLived(_) => {
                        tracing::error!(
                            path,
                            "amoCRM refused the long-lived token: issue a new one (LEADBOT_AMOCRM_TOKEN)"
                        );
                        return Err(AmoError::Unauthorized(why));
                    }
                },
                Err(AmoError::Blocked { .. }) => {
                    let until = Instant::now() + self.block_pause;
                    *self.blocked_until.lock().await = Some(until);
                    metrics::gauge!(telemetry::CRM_BLOCKED, "crm" => "amocrm").set(1.0);
                    tracing::error!(
                        pause_s = self.block_pause.as_secs(),
                        "amoCRM blocked the account (HTTP 403 page): all calls paused, work stays queued; ask amoCRM support to unblock it"
                    );
                    return Err(AmoError::Blocked {
                        retry_in: self.block_pause,
                    });
                }
                other => {
                    // Any answer but the block page (even an error) means the account is open.
                    if !matches!(other, Err(AmoError::Http(_))) {
                        self.unblocked().await;
                    }
                    return other;
                }
            }
        }
    }

    /// While the account is blocked, nothing is sent; after the pause one request probes it.
    async fn check_blocked(&self) -> Result<(), AmoError> {
        let mut blocked = self.blocked_until.lock().await;
        if let Some(until) = *blocked {
            let left = until.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                return Err(AmoError::Blocked { retry_in: left });
            }
            // The probe: block the others again until it answers.
            *blocked = Some(Instant::now() + self.block_pause);
        }
        Ok(())
    }

    async fn unblocked(&self) {
        let mut blocked = self.blocked_until.lock().await;
        if blocked.take().is_some() {
            metrics::gauge!(telemetry::CRM_BLOCKED, "crm" => "amocrm").set(0.0);
            tracing::info!("amoCRM answers again: calls resumed");
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
        token: &str,
    ) -> Result<Option<Value>, AmoError> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/hal+json, application/json");
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(reqwest::Error::without_url)?;
        let status = resp.status().as_u16();
        if status == 204 {
            return Ok(None);
        }
        let text = resp.text().await.map_err(reqwest::Error::without_url)?;
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        match (status, parsed) {
            (200..=299, Some(v)) => Ok(Some(v)),
            (200..=299, None) if text.trim().is_empty() => Ok(None),
            (200..=299, None) => Err(AmoError::Decode(path.to_string(), snippet(&text))),
            (429, _) => Err(AmoError::RateLimited),
            // amoCRM's block is an nginx HTML page for every request; a JSON 403 is a permission.
            (403, None) => Err(AmoError::Blocked {
                retry_in: self.block_pause,
            }),
            (_, Some(v)) => Err(problem(method.as_str(), path, status, &v)),
            (s, None) if s >= 500 => Err(AmoError::Server(s)),
            (401, None) => Err(AmoError::Unauthorized(snippet(&text))),
            (s, None) => Err(AmoError::Api {
                method: method.to_string(),
                path: path.to_string(),
                status: s,
                detail: snippet(&text),
            }),
        }
    }
}

fn snippet(text: &str) -> String {
    text.chars().take(200).collect()
}

/// A bounded metric label for a path: ids replaced, so `/api/v4/leads/123` is `/api/v4/leads/{id}`.
fn endpoint_label(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) {
                "{id}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::endpoint_label;

    #[test]
    fn labels_have_no_ids() {
        assert_eq!(endpoint_label("/api/v4/leads/123"), "/api/v4/leads/{id}");
        assert_eq!(endpoint_label("/api/v4/leads/123/link"), "/api/v4/leads/{id}/link");
        assert_eq!(endpoint_label("/api/v4/leads"), "/api/v4/leads");
    }
}
