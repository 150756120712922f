//! Inbound CRM webhooks: verified, stored, answered at once; processed from storage.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;

use super::{ApiError, AppState};
use crate::crm::bitrix24::{Event, ReceiveError, Received};
use crate::telemetry;

/// `POST /webhooks/bitrix24`: the portal's outgoing webhook / application events.
pub async fn bitrix24(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    let Some(bx) = &state.bitrix24 else {
        return Err(ApiError::NotFound("Bitrix24 is not configured".into()));
    };
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let event = Event::parse(content_type, &body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    match bx.receive(&event).await {
        Ok(received) => {
            let outcome = if received == Received::Stored {
                "stored"
            } else {
                "duplicate"
            };
            metrics::counter!(telemetry::CRM_EVENTS, "crm" => "bitrix24", "event" => event.name.clone(), "outcome" => outcome)
                .increment(1);
            Ok("ok")
        }
        Err(ReceiveError::Auth(e)) => {
            tracing::warn!(event = %event.name, reason = %e, "Bitrix24 event refused");
            metrics::counter!(telemetry::CRM_EVENTS, "crm" => "bitrix24", "event" => event.name.clone(), "outcome" => "refused")
                .increment(1);
            Err(ApiError::Unauthorized(e.to_string()))
        }
        Err(ReceiveError::Db(e)) => Err(ApiError::Internal(e.into())),
    }
}
