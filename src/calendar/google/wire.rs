//! Google Calendar API v3 on the wire: `freeBusy.query`, `events.insert` and `events.delete`
//! (developers.google.com/calendar/api/v3/reference), with the access token and one retry on
//! a refused token. Each call says whether trying again later may help.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::token::TokenSource;

/// What a failed call means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// Network, timeout, 429, 5xx, a token refresh that failed: later may work.
    Transient(String),
    /// Any other refusal: the same call will fail again.
    Permanent(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transient(m) => write!(f, "{m} (transient)"),
            CallError::Permanent(m) => write!(f, "{m}"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct FreeBusyRequest<'a> {
    time_min: String,
    time_max: String,
    items: Vec<FreeBusyItem<'a>>,
}

#[derive(Debug, Clone, Serialize)]
struct FreeBusyItem<'a> {
    id: &'a str,
}

#[derive(Debug, Clone, Deserialize)]
struct FreeBusyAnswer {
    #[serde(default)]
    calendars: BTreeMap<String, CalendarBusy>,
}

#[derive(Debug, Clone, Deserialize)]
struct CalendarBusy {
    #[serde(default)]
    busy: Vec<Period>,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct Period {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// One calendar's busy periods, or why Google could not tell.
pub type CalendarAnswer = Result<Vec<(DateTime<Utc>, DateTime<Utc>)>, String>;

/// An event to create.
pub struct NewEvent<'a> {
    pub id: &'a str,
    pub summary: &'a str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

pub struct Api<'a> {
    pub http: &'a reqwest::Client,
    pub base_url: &'a str,
    pub tokens: &'a TokenSource,
}

impl Api<'_> {
    fn url(&self, segments: &[&str]) -> Result<Url, CallError> {
        let mut url = Url::parse(self.base_url).map_err(|e| CallError::Permanent(format!("base_url: {e}")))?;
        url.path_segments_mut()
            .map_err(|_| CallError::Permanent("base_url cannot have a path".into()))?
            .pop_if_empty()
            // Each segment percent-encoded: calendar ids carry '@' and sometimes '#'.
            .extend(segments);
        Ok(url)
    }

    /// Sends with the access token; a 401 forgets the token and tries once more with a new one.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, CallError> {
        for attempt in 0..2 {
            let token = self
                .tokens
                .get(self.http)
                .await
                .map_err(|e| CallError::Transient(e.to_string()))?;
            let mut req = self.http.request(method.clone(), url.clone()).bearer_auth(token);
            if let Some(b) = body {
                req = req.json(b);
            }
            let answer = req
                .send()
                .await
                .map_err(|e| CallError::Transient(format!("{method} {}: {}", url.path(), e.without_url())))?;
            if answer.status() == StatusCode::UNAUTHORIZED && attempt == 0 {
                self.tokens.forget().await;
                continue;
            }
            return Ok(answer);
        }
        Err(CallError::Transient(format!(
            "{method} {}: the new token was refused too",
            url.path()
        )))
    }

    fn refused(what: &str, status: StatusCode) -> CallError {
        let m = format!("{what} answered {status}");
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() || status == StatusCode::UNAUTHORIZED {
            CallError::Transient(m)
        } else {
            CallError::Permanent(m)
        }
    }

    /// `POST /calendar/v3/freeBusy`: each asked calendar's busy periods (or its errors).
    pub async fn free_busy(
        &self,
        calendars: &[&str],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<String, CalendarAnswer>, CallError> {
        let body = serde_json::to_value(FreeBusyRequest {
            time_min: from.to_rfc3339(),
            time_max: to.to_rfc3339(),
            items: calendars.iter().map(|id| FreeBusyItem { id }).collect(),
        })
        .map_err(|e| CallError::Permanent(e.to_string()))?;
        let answer = self
            .send(Method::POST, self.url(&["calendar", "v3", "freeBusy"])?, Some(&body))
            .await?;
        if !answer.status().is_success() {
            return Err(Self::refused("freeBusy", answer.status()));
        }
        let parsed: FreeBusyAnswer = answer
            .json()
            .await
            .map_err(|e| CallError::Transient(format!("freeBusy answer: {}", e.without_url())))?;
        Ok(parsed
            .calendars
            .into_iter()
            .map(|(id, c)| {
                let answer = if c.errors.is_empty() {
                    Ok(c.busy.into_iter().map(|p| (p.start, p.end)).collect())
                } else {
                    Err(serde_json::Value::Array(c.errors).to_string())
                };
                (id, answer)
            })
            .collect())
    }

    /// `POST /calendar/v3/calendars/{calendarId}/events`; an event with this id already there
    /// (409, a retry of a call whose answer was lost) counts as created.
    pub async fn insert_event(&self, calendar: &str, event: &NewEvent<'_>) -> Result<(), CallError> {
        let body = json!({
            "id": event.id,
            "summary": event.summary,
            "start": {"dateTime": event.start.to_rfc3339()},
            "end": {"dateTime": event.end.to_rfc3339()},
        });
        let answer = self
            .send(
                Method::POST,
                self.url(&["calendar", "v3", "calendars", calendar, "events"])?,
                Some(&body),
            )
            .await?;
        match answer.status() {
            s if s.is_success() || s == StatusCode::CONFLICT => Ok(()),
            s => Err(Self::refused("events.insert", s)),
        }
    }

    /// `DELETE /calendar/v3/calendars/{calendarId}/events/{eventId}`; 404 and 410 mean it is
    /// already gone.
    pub async fn delete_event(&self, calendar: &str, event_id: &str) -> Result<(), CallError> {
        let answer = self
            .send(
                Method::DELETE,
                self.url(&["calendar", "v3", "calendars", calendar, "events", event_id])?,
                None,
            )
            .await?;
        match answer.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND || s == StatusCode::GONE => Ok(()),
            s => Err(Self::refused("events.delete", s)),
        }
    }
}
