use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::{ApiError, AppState};

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready only when the database answers.
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|_| ApiError::Unavailable("the database does not answer".into()))?;
    Ok("ready")
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
