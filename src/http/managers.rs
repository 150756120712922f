//! Operator API for routing: managers with their live state, pause, absence.

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use super::auth::Operator;
use super::error::{ApiJson, ApiPath};
use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::actors::{PoolMsg, PoolStatus};

const TIMEOUT: Duration = Duration::from_secs(5);

fn answer<T>(r: Result<ractor::rpc::CallResult<T>, ractor::MessagingErr<PoolMsg>>) -> Result<T, ApiError> {
    match r {
        Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
        _ => Err(ApiError::Unavailable("the manager pool did not answer".into())),
    }
}

#[utoipa::path(
    get, path = "/api/v1/managers", tag = "operator", security(("operator" = [])),
    responses((status = 200, description = "Managers with their load", body = Object), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody), (status = 403, description = "Not yours", body = ErrorBody))
)]
pub async fn list(State(state): State<AppState>, Operator(who): Operator) -> Result<Json<PoolStatus>, ApiError> {
    Ok(Json(status_for(&state, &who).await?))
}

/// The pool's status with only the managers this principal may manage.
pub async fn status_for(state: &AppState, who: &crate::domain::Principal) -> Result<PoolStatus, ApiError> {
    let mut status = answer(state.pool.call(PoolMsg::Status, Some(TIMEOUT)).await)?;
    status
        .managers
        .retain(|m| crate::domain::ManagerId::parse(&m.id).is_ok_and(|id| state.may_manage(who, &id)));
    Ok(status)
}

fn check_manage(state: &AppState, who: &crate::domain::Principal, id: &str) -> Result<(), ApiError> {
    let mid = crate::domain::ManagerId::parse(id).map_err(ApiError::BadRequest)?;
    if state.may_manage(who, &mid) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("manager {id} is not yours to manage")))
    }
}

pub async fn set_paused(state: &AppState, id: String, paused: bool) -> Result<Json<serde_json::Value>, ApiError> {
    let manager_id = id.clone();
    answer(
        state
            .pool
            .call(
                |reply| PoolMsg::SetPaused {
                    manager_id,
                    paused,
                    reply,
                },
                Some(TIMEOUT),
            )
            .await,
    )?
    .map_err(ApiError::NotFound)?;
    Ok(Json(json!({ "id": id, "paused": paused })))
}

#[utoipa::path(
    post, path = "/api/v1/managers/{id}/pause", tag = "operator", security(("operator" = [])),
    params(("id" = String, Path, description = "Manager id")),
    responses((status = 200, description = "Paused", body = Object), (status = 404, description = "No such manager", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody), (status = 403, description = "Not yours", body = ErrorBody))
)]
pub async fn pause(
    State(state): State<AppState>,
    Operator(who): Operator,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_manage(&state, &who, &id)?;
    set_paused(&state, id, true).await
}

#[utoipa::path(
    post, path = "/api/v1/managers/{id}/unpause", tag = "operator", security(("operator" = [])),
    params(("id" = String, Path, description = "Manager id")),
    responses((status = 200, description = "Unpaused", body = Object), (status = 404, description = "No such manager", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody), (status = 403, description = "Not yours", body = ErrorBody))
)]
pub async fn unpause(
    State(state): State<AppState>,
    Operator(who): Operator,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_manage(&state, &who, &id)?;
    set_paused(&state, id, false).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Absence {
    /// Absent up to and including this date (manager-local); `null` clears it.
    pub until: Option<NaiveDate>,
}

#[utoipa::path(
    post, path = "/api/v1/managers/{id}/absence", tag = "operator", security(("operator" = [])), request_body = Absence,
    params(("id" = String, Path, description = "Manager id")),
    responses((status = 200, description = "Absence set", body = Object), (status = 404, description = "No such manager", body = ErrorBody), (status = 422, description = "Invalid", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody), (status = 403, description = "Not yours", body = ErrorBody))
)]
pub async fn absence(
    State(state): State<AppState>,
    Operator(who): Operator,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Absence>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_manage(&state, &who, &id)?;
    set_absence(&state, id, body.until).await
}

pub async fn set_absence(
    state: &AppState,
    id: String,
    until: Option<NaiveDate>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let manager_id = id.clone();
    answer(
        state
            .pool
            .call(
                |reply| PoolMsg::SetAbsentUntil {
                    manager_id,
                    until,
                    reply,
                },
                Some(TIMEOUT),
            )
            .await,
    )?
    .map_err(ApiError::NotFound)?;
    Ok(Json(json!({ "id": id, "absent_until": until })))
}
