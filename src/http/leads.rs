use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Operator;
use super::error::{ApiJson, ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::actors::{ActorState, SupervisorMsg};
use crate::channels::webchat;
use crate::domain::secret::constant_time_eq;
use crate::domain::{ChannelName, EventKey, InboxPayload, LeadId, LeadRecord, LeadStatus, NewLead};
use crate::store::{TimerRow, TranscriptEntry};

const MAX_ID_CHARS: usize = 200;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLead {
    pub source: String,
    pub external_id: String,
    pub channel: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// The client's ABC segment from the CRM ("A", "B", "C"); routing may raise priority by it.
    #[serde(default)]
    pub segment: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LeadSummary {
    pub id: LeadId,
    pub status: LeadStatus,
    /// Only when the lead was created by this request: the client side's secret for
    /// `/messages` and `/transcript` (header `X-Chat-Token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_token: Option<String>,
}

/// The client side of a lead (messages, transcript) needs its chat token, or the operator's.
fn check_client(state: &AppState, lead: &LeadRecord, headers: &HeaderMap) -> Result<(), ApiError> {
    check_client_token(state, lead.chat_token.as_deref(), headers)
}

/// [`check_client`] against the lead's token (`None`: it has none).
fn check_client_token(state: &AppState, token: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    if webchat::verify_token(token, given("x-chat-token")) {
        return Ok(());
    }
    if let Some(op) = &state.operator_token {
        if let Some(bearer) = given("authorization").strip_prefix("Bearer ") {
            if constant_time_eq(bearer.as_bytes(), op.as_bytes()) {
                return Ok(());
            }
        }
    }
    Err(ApiError::Unauthorized(
        "missing or wrong X-Chat-Token for this lead".into(),
    ))
}

fn check_id(field: &str, v: &str) -> Result<(), ApiError> {
    if v.trim().is_empty() {
        return Err(ApiError::Unprocessable(format!("`{field}` must not be empty")));
    }
    if v.chars().count() > MAX_ID_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "`{field}` is longer than {MAX_ID_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_text(state: &AppState, field: &str, v: &str) -> Result<(), ApiError> {
    let n = v.chars().count();
    if n > state.max_text_chars {
        return Err(ApiError::PayloadTooLarge(format!(
            "`{field}` has {n} characters; at most {} are accepted",
            state.max_text_chars
        )));
    }
    Ok(())
}

#[utoipa::path(
    post, path = "/api/v1/leads", tag = "leads", request_body = CreateLead,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe creation key")),
    responses((status = 201, description = "Created", body = Object), (status = 200, description = "Already there", body = Object), (status = 422, description = "Invalid", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "Store unavailable", body = ErrorBody))
)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CreateLead>,
) -> Result<(StatusCode, Json<LeadSummary>), ApiError> {
    // The creator's key: a repeat with the same key (its 201 was lost) gets the token again.
    let creation_key = match headers.get("idempotency-key") {
        Some(v) => {
            let k = v
                .to_str()
                .map_err(|_| ApiError::BadRequest("`Idempotency-Key` must be visible ASCII".into()))?;
            check_id("Idempotency-Key", k)?;
            if k.chars().count() < 16 {
                return Err(ApiError::Unprocessable(
                    "`Idempotency-Key` must have at least 16 characters (it guards the chat token)".into(),
                ));
            }
            Some(k.to_string())
        }
        None => None,
    };
    check_id("source", &req.source)?;
    check_id("external_id", &req.external_id)?;
    let channel = ChannelName::parse_origin(&req.channel).map_err(ApiError::Unprocessable)?;
    if let Some(text) = &req.text {
        check_text(&state, "text", text)?;
    }
    if let Some(name) = &req.name {
        check_id("name", name)?;
    }
    if let Some(segment) = &req.segment {
        if segment.trim().is_empty() || segment.chars().count() > 16 {
            return Err(ApiError::Unprocessable(
                "`segment` must be a short segment name such as \"A\"".into(),
            ));
        }
    }
    if let Some(phone) = &req.phone {
        if phone.chars().count() > 64 {
            return Err(ApiError::Unprocessable("`phone` is longer than 64 characters".into()));
        }
    }
    let new = NewLead {
        source: req.source,
        external_id: req.external_id,
        channel,
        name: req.name.filter(|n| !n.trim().is_empty()),
        phone: req.phone.filter(|p| !p.trim().is_empty()),
        text: req.text,
        segment: req.segment.map(|s| s.trim().to_uppercase()),
        first_event: None,
        creation_key: creation_key.clone(),
    };
    // Also for a repeat: if the first attempt's wake was lost, this one delivers it.
    let created = state.intake.create_lead_and_wait(&new).await.map_err(|e| {
        may_have_landed(e, "repeat the request (the same external_id is created once; send an Idempotency-Key to get the chat token again)")
    })?;
    let id = created.lead.id;
    let lead = state.store.get_lead(id).await?;
    // The client's first message follows at once: its token is at hand already.
    state.chat_tokens.remember(id, lead.chat_token.as_deref());
    let code = if created.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let same_creator = match (&creation_key, &lead.creation_key) {
        (Some(given), Some(stored)) => constant_time_eq(given.as_bytes(), stored.as_bytes()),
        _ => false,
    };
    let chat_token = (created.created || same_creator)
        .then(|| lead.chat_token.clone())
        .flatten();
    Ok((
        code,
        Json(LeadSummary {
            id,
            status: lead.status,
            chat_token,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    pub text: String,
    /// The client's own id for this message; a repeat with the same id is stored once.
    #[serde(default)]
    pub message_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AfterQuery {
    #[serde(default)]
    pub after: i64,
}

#[utoipa::path(
    post, path = "/api/v1/leads/{id}/messages", tag = "leads", request_body = PostMessage,
    params(("id" = i64, Path, description = "Lead id"), ("X-Chat-Token" = Option<String>, Header, description = "The lead's chat token")),
    responses((status = 202, description = "Applied", body = Object), (status = 404, description = "No such lead", body = ErrorBody), (status = 422, description = "Invalid", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody))
)]
pub async fn post_message(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PostMessage>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let lead = LeadId(id);
    // The token from memory: a client message costs no read of the lead.
    let token = state.chat_tokens.of(state.store.as_ref(), lead).await?;
    check_client_token(&state, token.as_deref(), &headers)?;
    if req.text.trim().is_empty() {
        return Err(ApiError::Unprocessable("`text` must not be empty".into()));
    }
    check_text(&state, "text", &req.text)?;
    if let Some(m) = &req.message_id {
        check_id("message_id", m)?;
    }
    let key = webchat::message_key(lead, req.message_id.as_deref());
    let (pushed, applied) = state
        .intake
        .push_and_wait(lead, &key, &InboxPayload::Message { text: req.text })
        .await
        .map_err(|e| may_have_landed(e, "repeat it with the same message_id: it is applied once"))?;
    // The lead's actor answers with what this message's step stored (its own line first):
    // nothing is read back. Without it (a duplicate, an actor that restarted or did not answer
    // in time) the lines are left to the client's next `/transcript` poll.
    let (status, transcript) = match applied {
        Some(a) => (a.status, a.transcript.unwrap_or_default()),
        None => (state.store.get_lead(lead).await?.status, Vec::new()),
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "id": lead,
            "status": status,
            "duplicate": pushed == crate::intake::Pushed::Duplicate,
            "transcript": transcript,
        })),
    ))
}

/// A write that failed because the database is away may still have landed: the answer says so
/// and how to repeat it safely.
fn may_have_landed(e: crate::intake::IntakeError, how: &str) -> ApiError {
    if e.is_transient() {
        ApiError::Unavailable(format!(
            "the database did not answer; this may or may not have been stored: {how}"
        ))
    } else {
        e.into()
    }
}

fn random_key() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[utoipa::path(
    get, path = "/api/v1/leads/{id}/transcript", tag = "leads",
    params(("id" = i64, Path, description = "Lead id"), AfterQuery, ("X-Chat-Token" = Option<String>, Header, description = "The lead's chat token")),
    responses((status = 200, description = "The transcript", body = Object), (status = 404, description = "No such lead", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody))
)]
pub async fn transcript(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AfterQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let lead = state.store.get_lead(LeadId(id)).await?;
    check_client(&state, &lead, &headers)?;
    let entries = state.store.transcript(lead.id, q.after).await?;
    Ok(Json(
        json!({ "id": lead.id, "status": lead.status, "transcript": entries }),
    ))
}

#[derive(Debug, Serialize)]
pub struct LeadView {
    #[serde(flatten)]
    pub lead: LeadRecord,
    pub actor: Option<ActorState>,
    pub timers: Vec<TimerRow>,
    pub transcript: Vec<TranscriptEntry>,
}

#[utoipa::path(
    get, path = "/api/v1/leads/{id}", tag = "operator", security(("operator" = [])),
    params(("id" = i64, Path, description = "Lead id")),
    responses((status = 200, description = "The lead with its actor, timers and transcript", body = Object), (status = 404, description = "No such lead", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody), (status = 403, description = "Not this principal's lead", body = ErrorBody))
)]
pub async fn get_one(
    State(state): State<AppState>,
    Operator(who): Operator,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<LeadView>, ApiError> {
    Ok(Json(lead_view(&state, &who, LeadId(id)).await?))
}

/// A lead with its actor, timers and transcript, if this principal may see it.
pub async fn lead_view(state: &AppState, who: &crate::domain::Principal, id: LeadId) -> Result<LeadView, ApiError> {
    let lead = state.visible_lead(who, id).await?;
    let timers = state.store.timers(lead.id).await?;
    let transcript = state.store.transcript(lead.id, 0).await?;
    let actor = match state
        .supervisor
        .call(
            |reply| SupervisorMsg::Inspect(lead.id, reply),
            Some(Duration::from_secs(2)),
        )
        .await
    {
        Ok(ractor::rpc::CallResult::Success(s)) => Some(s),
        _ => None,
    };
    Ok(LeadView {
        lead,
        actor,
        timers,
        transcript,
    })
}

#[utoipa::path(
    post, path = "/api/v1/leads/{id}/restart", tag = "operator", security(("operator" = [])),
    params(("id" = i64, Path, description = "Lead id")),
    responses((status = 202, description = "Restarted", body = Object), (status = 404, description = "No such lead", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody), (status = 403, description = "Not this principal's lead", body = ErrorBody))
)]
pub async fn restart(
    State(state): State<AppState>,
    Operator(who): Operator,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    restart_lead(&state, &who, LeadId(id)).await
}

/// Restarts a lead's actor (a crash loop, a stuck lead), if this principal may see it.
pub async fn restart_lead(
    state: &AppState,
    who: &crate::domain::Principal,
    id: LeadId,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let lead = state.visible_lead(who, id).await?;
    let result = state
        .supervisor
        .call(
            |reply| SupervisorMsg::Restart(lead.id, reply),
            Some(Duration::from_secs(10)),
        )
        .await
        .map_err(|e| ApiError::Unavailable(format!("supervisor: {e}")))?;
    match result {
        ractor::rpc::CallResult::Success(Ok(())) => {
            Ok((StatusCode::ACCEPTED, Json(json!({ "id": lead.id, "restarted": true }))))
        }
        ractor::rpc::CallResult::Success(Err(e)) => Err(ApiError::Unavailable(e)),
        _ => Err(ApiError::Unavailable("supervisor did not answer in time".into())),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub status: Option<String>,
    #[serde(default)]
    pub after: i64,
    pub limit: Option<i64>,
}

#[utoipa::path(
    get, path = "/api/v1/leads", tag = "operator", security(("operator" = [])), params(ListQuery),
    responses((status = 200, description = "A page of leads", body = Object), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    Operator(who): Operator,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(str::parse::<LeadStatus>)
        .transpose()
        .map_err(ApiError::BadRequest)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let mut leads = state.store.list_leads(status, q.after, limit).await?;
    // The page's cursor is the last row read, so a filtered page still pages on.
    let next_after = leads.last().map(|l| l.id);
    let deps = state.departments.clone();
    leads.retain(|l| who.may_see_lead(l, &|m, d| deps.contains(m, d)));
    Ok(Json(json!({ "leads": leads, "next_after": next_after })))
}

/// Stores an operator event for the lead and waits (bounded) until the lead applied it.
pub async fn operator_event(
    state: &AppState,
    who: &crate::domain::Principal,
    id: i64,
    what: &str,
    payload: InboxPayload,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let lead = state.visible_lead(who, LeadId(id)).await?;
    let key = EventKey::new("operator", format!("{id}:{what}:{}", random_key()));
    state.intake.push_and_wait(lead.id, &key, &payload).await?;
    let lead = state.store.get_lead(lead.id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": lead.id, "status": lead.status, "manager_id": lead.manager_id })),
    ))
}

/// The manager took the lead: no reassignment.
#[utoipa::path(
    post, path = "/api/v1/leads/{id}/accept", tag = "operator", security(("operator" = [])),
    params(("id" = i64, Path, description = "Lead id")),
    responses((status = 202, description = "Accepted", body = Object), (status = 404, description = "No such lead", body = ErrorBody), (status = 409, description = "The lead is not assigned", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody), (status = 403, description = "Not this principal's lead", body = ErrorBody))
)]
pub async fn accept(
    State(state): State<AppState>,
    Operator(who): Operator,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let lead = state.visible_lead(&who, LeadId(id)).await?;
    if lead.status != LeadStatus::Assigned {
        // Only an assigned lead can be accepted by its manager; the bot (or the queue) holds it.
        return Err(ApiError::Conflict(format!(
            "lead {id} is {}: only an assigned lead can be accepted",
            lead.status
        )));
    }
    operator_event(&state, &who, id, "accept", InboxPayload::Accepted).await
}

/// The lead is done with: its manager has room again.
#[utoipa::path(
    post, path = "/api/v1/leads/{id}/close", tag = "operator", security(("operator" = [])),
    params(("id" = i64, Path, description = "Lead id")),
    responses((status = 202, description = "Closed", body = Object), (status = 404, description = "No such lead", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody), (status = 403, description = "Not this principal's lead", body = ErrorBody))
)]
pub async fn close(
    State(state): State<AppState>,
    Operator(who): Operator,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    operator_event(&state, &who, id, "close", InboxPayload::Closed).await
}

/// `POST /api/v1/leads/{id}/telegram-link`: a deep link the site or the CRM shows the client;
/// pressing Start in Telegram joins the chat to this lead (bots cannot write first).
#[utoipa::path(
    post, path = "/api/v1/leads/{id}/telegram-link", tag = "operator", security(("operator" = [])),
    params(("id" = i64, Path, description = "Lead id")),
    responses((status = 200, description = "A deep link", body = Object), (status = 404, description = "No such lead, or Telegram is off", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No or wrong credentials", body = ErrorBody), (status = 403, description = "Not this principal's lead", body = ErrorBody))
)]
pub async fn telegram_link(
    State(state): State<AppState>,
    Operator(who): Operator,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(tg) = &state.telegram else {
        return Err(ApiError::NotFound("Telegram is not configured".into()));
    };
    let lead = state.visible_lead(&who, LeadId(id)).await?;
    let link = tg.tg.deep_link(lead.id).await?;
    Ok(Json(json!({ "id": lead.id, "link": link })))
}
