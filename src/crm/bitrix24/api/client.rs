//! The Bitrix24 REST client: one per portal. Leaky-bucket limited, retries what the portal asks
//! to retry, never follows a redirect blindly (a moved portal answers 302; the POST is re-sent to
//! the new address), refreshes OAuth tokens on `expired_token`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::error::Bitrix24Error;
use super::limiter::LeakyBucket;
use super::oauth::TokenStore;
use super::value::as_u64;
use crate::telemetry;

/// Attempts of one call while the portal answers QUERY_LIMIT_EXCEEDED.
const QUERY_LIMIT_ATTEMPTS: u32 = 6;
const MAX_REDIRECTS: u32 = 3;
/// Longest wait for OPERATION_TIME_LIMIT inside a call; longer waits go back to the caller.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(10);

/// How calls are authorised.
pub enum Endpoint {
    /// `https://{portal}/rest/{user}/{code}/`
    Webhook(String),
    OAuth(Arc<TokenStore>),
}

/// A successful answer's envelope.
#[derive(Debug, Clone)]
pub struct Answer {
    pub result: Value,
    pub total: Option<u64>,
    pub next: Option<u64>,
}

pub struct Bitrix24Client {
    http: reqwest::Client,
    endpoint: Endpoint,
    limiter: LeakyBucket,
    portal: String,
    /// Methods over their OPERATION_TIME_LIMIT and when they may run again.
    blocked: Mutex<HashMap<String, Instant>>,
    /// Where the portal moved to, learnt from a redirect.
    moved_to: Mutex<Option<String>>,
}

impl Bitrix24Client {
    pub fn new(endpoint: Endpoint, portal: &str, rate_per_sec: f64, burst: u32) -> Result<Self, Bitrix24Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("leadbot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Bitrix24Client {
            http,
            endpoint,
            limiter: LeakyBucket::new(rate_per_sec, burst),
            portal: portal.to_string(),
            blocked: Mutex::new(HashMap::new()),
            moved_to: Mutex::new(None),
        })
    }

    /// Calls `method` and returns its `result`.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, Bitrix24Error> {
        Ok(self.call_full(method, params).await?.result)
    }

    /// Calls `method`, retrying rate limits and a refreshed token; returns the whole envelope.
    pub async fn call_full(&self, method: &str, params: Value) -> Result<Answer, Bitrix24Error> {
        let started = Instant::now();
        let result = self.call_with_retries(method, &params).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.label(),
        };
        metrics::counter!(telemetry::CRM_REQUESTS, "crm" => "bitrix24", "method" => method.to_string(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!(telemetry::CRM_REQUEST_SECONDS, "crm" => "bitrix24")
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn call_with_retries(&self, method: &str, params: &Value) -> Result<Answer, Bitrix24Error> {
        let mut refreshed = false;
        let mut attempt = 0;
        // Pauses after QUERY_LIMIT_EXCEEDED: growing, with jitter so callers that were refused
        // together do not come back together (backon's policy; the loop stays ours because
        // the limit, the token and the time limit each need their own handling).
        let mut pauses = backon::BackoffBuilder::build(
            backon::ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(500))
                .with_max_delay(Duration::from_secs(16))
                .with_jitter()
                .with_max_times(QUERY_LIMIT_ATTEMPTS as usize),
        );
        loop {
            attempt += 1;
            self.wait_if_blocked(method).await?;
            let waited = self.limiter.acquire().await;
            metrics::histogram!(telemetry::CRM_LIMITER_WAIT, "crm" => "bitrix24").record(waited.as_secs_f64());
            let (base, token) = self.base_url().await?;
            match self.send_once(method, params, &base, token.as_deref()).await {
                Err(Bitrix24Error::QueryLimit) if attempt < QUERY_LIMIT_ATTEMPTS => {
                    self.limiter.saturate().await;
                    let backoff = pauses.next().unwrap_or(Duration::from_secs(16));
                    tracing::warn!(
                        method,
                        attempt,
                        backoff_ms = backoff.as_millis() as u64,
                        "Bitrix24 QUERY_LIMIT_EXCEEDED"
                    );
                    tokio::time::sleep(backoff).await;
                }
                Err(Bitrix24Error::OperationTimeLimit { reset_in, .. }) => {
                    let until = Instant::now() + reset_in;
                    self.blocked.lock().await.insert(method.to_string(), until);
                    if reset_in > MAX_INLINE_WAIT || attempt >= QUERY_LIMIT_ATTEMPTS {
                        return Err(Bitrix24Error::OperationTimeLimit {
                            method: method.to_string(),
                            reset_in,
                        });
                    }
                }
                Err(Bitrix24Error::ExpiredToken) if !refreshed => {
                    refreshed = true;
                    match &self.endpoint {
                        // The rejected token, so a refresh someone else did already counts.
                        Endpoint::OAuth(tokens) => tokens.refresh(&self.http, token.as_deref().unwrap_or("")).await?,
                        Endpoint::Webhook(_) => return Err(Bitrix24Error::ExpiredToken),
                    }
                }
                other => return other,
            }
        }
    }

    async fn wait_if_blocked(&self, method: &str) -> Result<(), Bitrix24Error> {
        let until = self.blocked.lock().await.get(method).copied();
        if let Some(until) = until {
            let left = until.saturating_duration_since(Instant::now());
            if left > MAX_INLINE_WAIT {
                return Err(Bitrix24Error::OperationTimeLimit {
                    method: method.to_string(),
                    reset_in: left,
                });
            }
            tokio::time::sleep(left).await;
        }
        Ok(())
    }

    async fn base_url(&self) -> Result<(String, Option<String>), Bitrix24Error> {
        let (base, token) = match &self.endpoint {
            Endpoint::Webhook(url) => (url.clone(), None),
            Endpoint::OAuth(tokens) => {
                let t = tokens.current().await?;
                (t.client_endpoint, Some(t.access_token))
            }
        };
        let moved = self.moved_to.lock().await.clone();
        Ok((moved.unwrap_or(base), token))
    }

    async fn send_once(
        &self,
        method: &str,
        params: &Value,
        base: &str,
        token: Option<&str>,
    ) -> Result<Answer, Bitrix24Error> {
        let mut body = params.clone();
        if let (Some(token), Some(obj)) = (token, body.as_object_mut()) {
            obj.insert("auth".into(), Value::String(token.to_string()));
        }
        let mut url = format!("{base}{method}.json");
        let mut redirects = 0;
        let resp = loop {
            // Transport errors carry the URL, and a webhook URL is a secret (`/rest/{user}/{code}/`).
            let resp = self
                .http
                .post(&url)
                .json(&body)
                .send()
                .await
                .map_err(reqwest::Error::without_url)?;
            if !resp.status().is_redirection() {
                break resp;
            }
            redirects += 1;
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let Some(location) = location.filter(|_| redirects <= MAX_REDIRECTS) else {
                return Err(Bitrix24Error::Redirects);
            };
            // Re-POST (a client that follows would turn it into a GET and lose the body), and
            // remember the new base so later calls go there directly.
            tracing::warn!(portal = %self.portal, from = %host_of(&url), to = %host_of(&location), "Bitrix24 portal moved; update the webhook URL");
            if let Some(new_base) = location.strip_suffix(&format!("{method}.json")) {
                *self.moved_to.lock().await = Some(new_base.to_string());
            }
            url = location;
        };
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(reqwest::Error::without_url)?;
        let parsed: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(_) => {
                let detail: String = text.chars().take(200).collect();
                return Err(if status >= 500 {
                    Bitrix24Error::Server {
                        status,
                        code: String::new(),
                    }
                } else {
                    Bitrix24Error::Decode {
                        method: method.to_string(),
                        status,
                        detail,
                    }
                });
            }
        };
        if let Some(code) = parsed.get("error").and_then(Value::as_str) {
            let description = parsed.get("error_description").and_then(Value::as_str).unwrap_or("");
            let mut err = Bitrix24Error::classify(method, status, code, description);
            if let Bitrix24Error::OperationTimeLimit { reset_in, .. } = &mut err {
                if let Some(reset) = reset_at(&parsed) {
                    *reset_in = reset;
                }
            }
            return Err(err);
        }
        if !(200..300).contains(&status) {
            return Err(Bitrix24Error::classify(method, status, "", ""));
        }
        let Some(result) = parsed.get("result").cloned() else {
            return Err(Bitrix24Error::Decode {
                method: method.to_string(),
                status,
                detail: "no `result` in the answer".into(),
            });
        };
        Ok(Answer {
            result,
            total: parsed.get("total").and_then(as_u64),
            next: parsed.get("next").and_then(as_u64),
        })
    }

    /// Up to 50 calls in one request (one request for the rate limit). Returns each command's
    /// result or error by its key; the batch itself fails only as a whole request can.
    pub async fn batch(
        &self,
        commands: &[(String, String)],
    ) -> Result<HashMap<String, Result<Value, String>>, Bitrix24Error> {
        let cmd: serde_json::Map<String, Value> = commands
            .iter()
            .map(|(k, q)| (k.clone(), Value::String(q.clone())))
            .collect();
        let answer = self.call("batch", json!({ "halt": 0, "cmd": cmd })).await?;
        let ok = answer.get("result").cloned().unwrap_or(Value::Null);
        let errors = answer.get("result_error").cloned().unwrap_or(Value::Null);
        let mut out = HashMap::new();
        for (key, _) in commands {
            if let Some(e) = errors.get(key) {
                let text = e
                    .get("error_description")
                    .and_then(Value::as_str)
                    .or_else(|| e.get("error").and_then(Value::as_str))
                    .unwrap_or("error")
                    .to_string();
                out.insert(key.clone(), Err(text));
            } else if let Some(v) = ok.get(key) {
                out.insert(key.clone(), Ok(v.clone()));
            } else {
                out.insert(key.clone(), Err("no result".into()));
            }
        }
        Ok(out)
    }
}

/// The host of a URL, for logs: the path of a webhook URL is its secret.
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn reset_at(body: &Value) -> Option<Duration> {
    let at = body.pointer("/time/operating_reset_at").and_then(|v| v.as_f64())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some(Duration::from_secs_f64((at - now).max(0.0)))
}
