//! The website widget: `/widget.js` (one `<script>` on the business's site adds a launcher
//! bubble that opens the chat in the page, branded from `[widget]`), live replies over
//! server-sent events (`/api/v1/leads/{id}/events`, the chat token in the query since an
//! `EventSource` sends no headers), and CORS only for the configured site origins.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, Method};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;

use super::error::{ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::channels::webchat;
use crate::config::WidgetSettings;
use crate::domain::{LeadId, LeadStatus};

const SCRIPT: &str = include_str!("widget.js");

/// What the script needs of the config (no secrets in it).
pub fn script(settings: &WidgetSettings) -> String {
    let cfg = serde_json::json!({
        "name": settings.name,
        "color": settings.color,
        "avatar": settings.avatar,
        "greeting": settings.greeting,
        "consent": settings.consent,
        "privacy_url": settings.privacy_url,
    });
    // `</` cannot end a script from inside a JSON string.
    SCRIPT.replace("__LEADBOT_WIDGET_CONFIG__", &cfg.to_string().replace("</", "<\\/"))
}

#[utoipa::path(
    get, path = "/widget.js", tag = "web chat",
    responses((status = 200, description = "The widget's script for a site's pages", body = String, content_type = "text/javascript"))
)]
pub async fn widget_js(State(state): State<AppState>) -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        state.widget_script.as_ref().clone(),
    )
        .into_response()
}

/// The CORS layer for the configured site origins (none: no cross-site calls at all).
pub fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    if list.is_empty() {
        return None;
    }
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(list)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderName::from_static("x-chat-token"),
                axum::http::HeaderName::from_static("idempotency-key"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// The lead's chat token.
    #[serde(default)]
    pub token: String,
    /// Only lines after this transcript id.
    #[serde(default)]
    pub after: i64,
}

/// `message` events with each new transcript line (the bot's, a person's who took over, the
/// client's own from another tab), and `status` when the lead's status changes.
#[utoipa::path(
    get, path = "/api/v1/leads/{id}/events", tag = "web chat",
    params(("id" = i64, Path, description = "Lead id"), EventsQuery),
    responses((status = 200, description = "A stream of server-sent events", body = String, content_type = "text/event-stream"), (status = 401, description = "No or wrong chat token", body = ErrorBody), (status = 404, description = "No such lead", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody))
)]
pub async fn events(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let lead = state.store.get_lead(LeadId(id)).await?;
    if !webchat::verify_chat_token(&lead, &q.token) {
        return Err(ApiError::Unauthorized(
            "missing or wrong chat token for this lead".into(),
        ));
    }
    let start = (state, lead.id, q.after.max(0), lead.status, Vec::<Event>::new());
    let stream = futures_util::stream::unfold(start, |(state, id, after, status, mut queue)| async move {
        loop {
            if let Some(e) = queue.pop() {
                return Some((Ok(e), (state, id, after, status, queue)));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let Ok(lines) = state.store.transcript(id, after).await else {
                continue;
            };
            let mut next_after = after;
            let mut next_status: LeadStatus = status;
            if let Ok(l) = state.store.get_lead(id).await {
                if l.status != status {
                    next_status = l.status;
                    queue.push(Event::default().event("status").data(l.status.as_str()));
                }
            }
            for line in lines.iter().rev() {
                if let Ok(data) = serde_json::to_string(line) {
                    queue.push(Event::default().event("message").id(line.id.to_string()).data(data));
                }
            }
            if let Some(last) = lines.last() {
                next_after = last.id;
            }
            if let Some(e) = queue.pop() {
                return Some((Ok(e), (state, id, next_after, next_status, queue)));
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
