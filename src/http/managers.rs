//! Operator API for routing: managers with their live state, pause, absence.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiJson;
use super::{ApiError, AppState};
use crate::actors::{PoolMsg, PoolStatus};

const TIMEOUT: Duration = Duration::from_secs(5);

fn answer<T>(r: Result<ractor::rpc::CallResult<T>, ractor::MessagingErr<PoolMsg>>) -> Result<T, ApiError> {
    match r {
        Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
        _ => Err(ApiError::Unavailable("the manager pool did not answer".into())),
    }
}

pub async fn list(State(state): State<AppState>) -> Result<Json<PoolStatus>, ApiError> {
    Ok(Json(answer(state.pool.call(PoolMsg::Status, Some(TIMEOUT)).await)?))
}

async fn set_paused(state: &AppState, id: String, paused: bool) -> Result<Json<serde_json::Value>, ApiError> {
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

pub async fn pause(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    set_paused(&state, id, true).await
}

pub async fn unpause(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    set_paused(&state, id, false).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Absence {
    /// Absent up to and including this date (manager-local); `null` clears it.
    pub until: Option<NaiveDate>,
}

pub async fn absence(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Absence>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let manager_id = id.clone();
    let until = body.until;
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
    Ok(Json(json!({ "id": id, "absent_until": body.until })))
}
