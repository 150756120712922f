use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::openapi::ErrorBody;
use super::{ApiError, AppState};

#[utoipa::path(
    get, path = "/healthz", tag = "health", responses((status = 200, description = "The process is up", body = String))
)]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready only when the database answers.
#[utoipa::path(
    get, path = "/readyz", tag = "health", responses((status = 200, description = "Ready", body = String), (status = 503, description = "Not ready", body = ErrorBody))
)]
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|_| ApiError::Unavailable("the database does not answer".into()))?;
    Ok("ready")
}

#[utoipa::path(
    get, path = "/metrics", tag = "health", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    crate::telemetry::collect_process_metrics();
    (
        StatusCode::OK,
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
