//! The deal entry points: a deal that needs an executor goes to the job board.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::error::{ApiJson, ApiPath};
use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::domain::DealJob;

/// `POST /api/v1/deals/{id}/dispatch`: a deal entered the "looking for an executor" stage.
#[utoipa::path(
    post, path = "/api/v1/deals/{id}/dispatch", tag = "operator", security(("operator" = [])), request_body = crate::domain::DealJob,
    params(("id" = String, Path, description = "The CRM's deal id")),
    responses((status = 201, description = "Posted (or already posted)", body = Object), (status = 404, description = "No job board", body = ErrorBody), (status = 422, description = "Invalid", body = ErrorBody), (status = 429, description = "The board's backlog is full", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody))
)]
pub async fn dispatch_deal(
    State(state): State<AppState>,
    ApiPath(deal_id): ApiPath<String>,
    ApiJson(deal): ApiJson<DealJob>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Some(jobs) = state.jobs.clone() else {
        return Err(ApiError::NotFound(
            "the job board is not configured (telegram.toml [jobs])".into(),
        ));
    };
    if deal.title.trim().is_empty() || deal.client_phone.trim().is_empty() {
        return Err(ApiError::Unprocessable(
            "`title` and `client_phone` are required".into(),
        ));
    }
    // The job board stores the deal as it is: refuse what can never be stored (a NUL).
    let fields = [
        ("deal id", deal_id.as_str()),
        ("title", &deal.title),
        ("conditions", &deal.conditions),
        ("dates", &deal.dates),
        ("pay", &deal.pay),
        ("skills", &deal.skills),
        ("client_name", &deal.client_name),
        ("client_phone", &deal.client_phone),
        ("manager_id", deal.manager_id.as_deref().unwrap_or("")),
    ];
    if let Some((field, _)) = fields.iter().find(|(_, v)| v.contains('\0')) {
        return Err(ApiError::Unprocessable(format!("`{field}` contains a NUL character")));
    }
    let id = jobs.post(&deal_id, &deal).await.map_err(|e| match e {
        crate::jobs::JobError::Busy { retry_after, .. } => ApiError::TooManyRequests {
            message: e.to_string(),
            retry_after: retry_after.as_secs().max(1),
        },
        crate::jobs::JobError::Store(e) => e.into(),
        other => ApiError::Unavailable(format!("posting the job: {other}")),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"job_id": id, "deal_id": deal_id})),
    ))
}
