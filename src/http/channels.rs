//! Operator API for delivery: each channel's, CRM's and the notifier's delivery actor with its
//! queue and health; a restart resets one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;

use super::error::{ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::actors::SinkHealth;

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    #[serde(default = "failed")]
    pub status: String,
    #[serde(default)]
    pub after: i64,
    pub limit: Option<i64>,
}

fn failed() -> String {
    "failed".into()
}

/// `GET /api/v1/outbox?status=failed|pending|sent`: what was given up, with its last error.
#[utoipa::path(
    get, path = "/api/v1/outbox", tag = "operator", security(("operator" = [])), params(OutboxQuery),
    responses((status = 200, description = "Outbox rows", body = Object), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody))
)]
pub async fn outbox(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !["failed", "pending", "sent"].contains(&q.status.as_str()) {
        return Err(ApiError::BadRequest("`status` is one of failed, pending, sent".into()));
    }
    let rows = state
        .store
        .outbox_rows(&q.status, q.after, q.limit.unwrap_or(100).clamp(1, 1000))
        .await?;
    let next_after = rows.last().map(|r| r.id);
    Ok(Json(json!({ "rows": rows, "next_after": next_after })))
}

/// `POST /api/v1/outbox/{id}/retry`: send a given-up row again.
#[utoipa::path(
    post, path = "/api/v1/outbox/{id}/retry", tag = "operator", security(("operator" = [])),
    params(("id" = i64, Path, description = "Outbox row id")),
    responses((status = 202, description = "Queued again", body = Object), (status = 404, description = "No failed row with this id", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody))
)]
pub async fn retry(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    if !state.store.outbox_requeue(id).await? {
        return Err(ApiError::NotFound(format!("no failed outbox row {id}")));
    }
    Ok((StatusCode::ACCEPTED, Json(json!({"id": id, "requeued": true}))))
}

#[utoipa::path(
    get, path = "/api/v1/channels", tag = "operator", security(("operator" = [])),
    responses((status = 200, description = "Delivery sinks and their health", body = Object), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody))
)]
pub async fn list(State(state): State<AppState>) -> Json<Vec<SinkHealth>> {
    Json(state.delivery.health().await)
}

#[utoipa::path(
    post, path = "/api/v1/channels/{name}/restart", tag = "operator", security(("operator" = [])),
    params(("name" = String, Path, description = "Sink name, e.g. channel:telegram")),
    responses((status = 202, description = "Restarted", body = Object), (status = 404, description = "No such sink", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody))
)]
pub async fn restart(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    match state.delivery.restart(&name).await {
        Ok(()) => Ok((StatusCode::ACCEPTED, Json(json!({"name": name, "restarted": true})))),
        Err(e) if e.starts_with("no delivery actor") => Err(ApiError::NotFound(e)),
        Err(e) => Err(ApiError::Unavailable(e)),
    }
}
