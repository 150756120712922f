use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use super::{ApiError, AppState};
use crate::domain::secret::constant_time_eq;

/// Guards the operator API with `Authorization: Bearer $LEADBOT_OPERATOR_TOKEN` when one is set.
pub async fn require_operator(State(state): State<AppState>, req: Request, next: Next) -> Result<Response, ApiError> {
    if let Some(expected) = &state.operator_token {
        let given = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Err(ApiError::Unauthorized("missing or wrong operator token".into()));
        }
    }
    Ok(next.run(req).await)
}
