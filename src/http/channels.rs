//! Operator API for delivery: each channel's, CRM's and the notifier's delivery actor with its
//! queue and health; a restart resets one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;

use super::{ApiError, AppState};
use crate::actors::SinkHealth;

pub async fn list(State(state): State<AppState>) -> Json<Vec<SinkHealth>> {
    Json(state.delivery.health().await)
}

pub async fn restart(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    match state.delivery.restart(&name).await {
        Ok(()) => Ok((StatusCode::ACCEPTED, Json(json!({"name": name, "restarted": true})))),
        Err(e) if e.starts_with("no delivery actor") => Err(ApiError::NotFound(e)),
        Err(e) => Err(ApiError::Unavailable(e)),
    }
}
