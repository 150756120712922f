//! `GET /api/v1/reports/{kind}`: a report for any period, as JSON, CSV or XLSX — the same
//! numbers as the scheduled ones (one `ReportService::report`). The head of sales' and the
//! admin's: a manager's token is refused (the reports hold every manager's figures).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;

use super::auth::Operator;
use super::error::{ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::actors::reports::ReportError;
use crate::domain::Role;
use crate::reports::render::{self, Format};
use crate::reports::ReportKind;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// First day, YYYY-MM-DD in the account's time zone (default: the current period).
    pub from: Option<String>,
    /// The day after the last one, YYYY-MM-DD (the period is `[from, to)`).
    pub to: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/reports/{kind}", tag = "operator", security(("operator" = [])),
    params(
        ("kind" = String, Path, description = "end_of_day, weekly, monthly or channels"),
        ReportQuery
    ),
    responses(
        (status = 200, description = "The report: JSON {kind, title, time_zone, period, from, to, generated_at, alerts, sections: [{id, title, columns, rows}]}, or the same tables as CSV / XLSX", body = Object),
        (status = 400, description = "Unknown kind, format or a bad period", body = ErrorBody),
        (status = 401, description = "No or wrong credentials", body = ErrorBody),
        (status = 403, description = "A manager's token", body = ErrorBody)
    )
)]
pub async fn get_report(
    State(state): State<AppState>,
    Operator(who): Operator,
    ApiPath(kind): ApiPath<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    if who.role == Role::Manager {
        return Err(ApiError::Forbidden(
            "reports are for the head of sales and the admin".into(),
        ));
    }
    let kind = ReportKind::parse(&kind).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "unknown report `{kind}` (end_of_day, weekly, monthly, channels)"
        ))
    })?;
    let format = match q.format.as_deref() {
        None => Format::Json,
        Some(f) => {
            Format::parse(f).ok_or_else(|| ApiError::BadRequest(format!("unknown format `{f}` (json, csv, xlsx)")))?
        }
    };
    let now = Utc::now();
    let period = state
        .reports
        .period(kind, q.from.as_deref(), q.to.as_deref(), now)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let report = state.reports.report(kind, &period, now).await.map_err(|e| match e {
        ReportError::Store(e) => ApiError::from(e),
        other => ApiError::Internal(other.into()),
    })?;
    let body = render::render(&report, format).map_err(|e| ApiError::Internal(e.into()))?;
    let file = kind.file_name(&period, format.ext());
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{file}\"")),
        ],
        body,
    )
        .into_response())
}
