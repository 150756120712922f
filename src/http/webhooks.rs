//! Inbound webhooks (CRM, Telegram): verified, stored, answered at once.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;

use super::error::ApiPath;
use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::channels::avito::AvitoReject;
use crate::channels::instagram::IgReject;
use crate::channels::sms::SmsReject;
use crate::channels::telegram::UpdateError;
use crate::channels::vk::VkReject;
use crate::channels::voice::VoiceReject;
use crate::channels::whatsapp::WaReject;
use crate::crm::amocrm::{ReceiveError as AmoReceiveError, Webhook};
use crate::crm::bitrix24::{Event, ReceiveError, Received};
use crate::domain::secret::constant_time_eq;
use crate::telemetry;

/// `POST /webhooks/bitrix24`: the portal's outgoing webhook / application events.
#[utoipa::path(
    post, path = "/webhooks/bitrix24", tag = "webhooks",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "A Bitrix24 event (form or JSON)"),
    responses((status = 200, description = "Stored", body = String), (status = 400, description = "Not an event", body = ErrorBody), (status = 401, description = "Wrong token or portal", body = ErrorBody), (status = 404, description = "Bitrix24 is off", body = ErrorBody))
)]
pub async fn bitrix24(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    let Some(bx) = &state.bitrix24 else {
        return Err(ApiError::NotFound("Bitrix24 is not configured".into()));
    };
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let event = Event::parse(content_type, &body).map_err(|e| {
        telemetry::refused("bitrix24", "malformed");
        ApiError::BadRequest(e.to_string())
    })?;
    match bx.receive(&event).await {
        Ok(received) => {
            let outcome = if received == Received::Stored {
                "stored"
            } else {
                "duplicate"
            };
            metrics::counter!(telemetry::CRM_EVENTS, "crm" => "bitrix24", "event" => event.label(), "outcome" => outcome)
                .increment(1);
            Ok("ok")
        }
        Err(ReceiveError::Auth(e)) => {
            telemetry::refused("bitrix24", e.label());
            Err(ApiError::Unauthorized(e.to_string()))
        }
        Err(ReceiveError::Install(e)) => Err(ApiError::Unprocessable(e)),
        Err(ReceiveError::Store(e)) => Err(e.into()),
    }
}

/// `POST /webhooks/amocrm/{secret}`: the account's webhooks (amoCRM does not sign them: the
/// secret in the URL and the body's account are checked; wrong → 401 and nothing stored).
#[utoipa::path(
    post, path = "/webhooks/amocrm/{secret}", tag = "webhooks",
    params(("secret" = String, Path, description = "The webhook secret")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "An amoCRM webhook"),
    responses((status = 200, description = "Stored", body = String), (status = 400, description = "Not a webhook", body = ErrorBody), (status = 401, description = "Wrong secret or account", body = ErrorBody), (status = 404, description = "amoCRM is off", body = ErrorBody))
)]
pub async fn amocrm(
    State(state): State<AppState>,
    ApiPath(secret): ApiPath<String>,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    let Some(amo) = &state.amocrm else {
        return Err(ApiError::NotFound("amoCRM is not configured".into()));
    };
    let hook = Webhook::parse(&body).map_err(|e| {
        telemetry::refused("amocrm", "malformed");
        ApiError::BadRequest(e.to_string())
    })?;
    match amo.receive(&secret, &hook).await {
        Ok(got) => {
            for e in &hook.entities {
                metrics::counter!(telemetry::CRM_EVENTS, "crm" => "amocrm", "event" => e.label(), "outcome" => "received")
                    .increment(1);
            }
            if got.duplicates > 0 {
                metrics::counter!(telemetry::CRM_EVENTS, "crm" => "amocrm", "event" => "any", "outcome" => "duplicate")
                    .increment(got.duplicates as u64);
            }
            Ok("ok")
        }
        Err(AmoReceiveError::Auth(e)) => {
            telemetry::refused("amocrm", e.label());
            Err(ApiError::Unauthorized(e.to_string()))
        }
        Err(AmoReceiveError::Store(e)) => Err(e.into()),
    }
}

/// `POST /webhooks/telegram/{bot}`: checks `X-Telegram-Bot-Api-Secret-Token` in constant time.
#[utoipa::path(
    post, path = "/webhooks/telegram/{bot}", tag = "webhooks",
    params(("bot" = String, Path, description = "The bot's username"), ("X-Telegram-Bot-Api-Secret-Token" = String, Header, description = "The webhook secret")),
    request_body(content = Object, description = "A Telegram Update"),
    responses((status = 200, description = "Taken", body = String), (status = 400, description = "Not an update", body = ErrorBody), (status = 401, description = "Wrong secret", body = ErrorBody), (status = 404, description = "No such bot", body = ErrorBody))
)]
pub async fn telegram(
    State(state): State<AppState>,
    ApiPath(bot): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    let Some(tg) = state.telegram.as_ref().filter(|t| t.tg.settings.bot == bot) else {
        telemetry::refused("telegram", "unknown_bot");
        return Err(ApiError::NotFound("no such Telegram bot here".into()));
    };
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected = tg.tg.settings.webhook_secret.as_deref().unwrap_or("");
    if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        telemetry::refused("telegram", "wrong_secret");
        return Err(ApiError::Unauthorized("wrong X-Telegram-Bot-Api-Secret-Token".into()));
    }
    let update: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        telemetry::refused("telegram", "malformed");
        ApiError::BadRequest(format!("not JSON: {e}"))
    })?;

    match tg.handle_update(&update).await {
        Ok(()) => Ok("ok"),
        Err(UpdateError::Malformed) => {
            telemetry::refused("telegram", "malformed");
            Err(ApiError::BadRequest("not a Telegram update (no update_id)".into()))
        }
        Err(UpdateError::Invalid(why)) => Err(ApiError::BadRequest(why)),
        // 5xx: Telegram retries, and the update is processed then.
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}

/// `POST /webhooks/vk/{group_id}`: a VK Callback API event. The body's `secret` is checked in
/// constant time before anything is stored (wrong → 401); `confirmation` is answered with the
/// configured string, every other event with `ok` once stored.
#[utoipa::path(
    post, path = "/webhooks/vk/{group_id}", tag = "webhooks",
    params(("group_id" = i64, Path, description = "The community's id")),
    request_body(content = Object, description = "A Callback API event"),
    responses((status = 200, description = "`ok`, or the confirmation string", body = String), (status = 400, description = "Not an event", body = ErrorBody), (status = 401, description = "Wrong secret or community", body = ErrorBody), (status = 404, description = "No such community here", body = ErrorBody))
)]
pub async fn vk(
    State(state): State<AppState>,
    ApiPath(group_id): ApiPath<i64>,
    body: Bytes,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), ApiError> {
    let Some(vk) = state.vk.as_ref().filter(|v| v.group_id() == group_id) else {
        telemetry::refused("vk", "unknown_group");
        return Err(ApiError::NotFound("no such VK community here".into()));
    };
    match vk.handle(&body).await {
        Ok(answer) => Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], answer)),
        Err(e @ VkReject::Malformed(_)) => {
            telemetry::refused("vk", e.label());
            Err(ApiError::BadRequest(e.to_string()))
        }
        Err(e @ VkReject::Forbidden(_)) => {
            telemetry::refused("vk", e.label());
            Err(ApiError::Unauthorized(e.to_string()))
        }
        // 5xx: VK retries, and the event is processed then.
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}

/// The Meta verification GET's query (`hub.mode`, `hub.verify_token`, `hub.challenge`).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct HubQuery {
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

/// `GET /webhooks/whatsapp`: Meta's subscription check, answered with `hub.challenge` when the
/// verify token is ours (else 403).
#[utoipa::path(
    get, path = "/webhooks/whatsapp", tag = "webhooks", params(HubQuery),
    responses((status = 200, description = "The challenge", body = String), (status = 403, description = "Wrong verify token", body = ErrorBody), (status = 404, description = "WhatsApp is off", body = ErrorBody))
)]
pub async fn whatsapp_verify(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<HubQuery>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), axum::response::Response> {
    use axum::response::IntoResponse;
    let Some(wa) = &state.whatsapp else {
        return Err(ApiError::NotFound("WhatsApp is not configured".into()).into_response());
    };
    match wa.challenge(q.mode.as_deref(), q.verify_token.as_deref(), q.challenge.as_deref()) {
        Some(c) => Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], c.to_string())),
        None => {
            telemetry::refused("whatsapp", "wrong_verify_token");
            Err((
                axum::http::StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({"error": "wrong hub.verify_token"})),
            )
                .into_response())
        }
    }
}

/// `POST /webhooks/whatsapp`: messages and statuses; `X-Hub-Signature-256` is checked over the
/// raw body before anything is parsed (wrong → 401, nothing stored).
#[utoipa::path(
    post, path = "/webhooks/whatsapp", tag = "webhooks",
    params(("X-Hub-Signature-256" = String, Header, description = "sha256=<hex HMAC of the body with the app secret>")),
    request_body(content = Object, description = "A WhatsApp Business webhook"),
    responses((status = 200, description = "Taken", body = String), (status = 400, description = "Not a webhook", body = ErrorBody), (status = 401, description = "Wrong signature", body = ErrorBody), (status = 404, description = "WhatsApp is off", body = ErrorBody))
)]
pub async fn whatsapp(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    let Some(wa) = &state.whatsapp else {
        return Err(ApiError::NotFound("WhatsApp is not configured".into()));
    };
    let signature = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
    match wa.handle(signature, &body).await {
        Ok(()) => Ok("ok"),
        Err(WaReject::BadSignature) => {
            telemetry::refused("whatsapp", "wrong_signature");
            Err(ApiError::Unauthorized("wrong X-Hub-Signature-256".into()))
        }
        Err(e @ WaReject::Malformed(_)) => {
            telemetry::refused("whatsapp", "malformed");
            Err(ApiError::BadRequest(e.to_string()))
        }
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}

/// `GET /webhooks/instagram`: Meta's subscription check (as for WhatsApp).
#[utoipa::path(
    get, path = "/webhooks/instagram", tag = "webhooks", params(HubQuery),
    responses((status = 200, description = "The challenge", body = String), (status = 403, description = "Wrong verify token", body = ErrorBody), (status = 404, description = "Instagram is off", body = ErrorBody))
)]
pub async fn instagram_verify(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<HubQuery>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), axum::response::Response> {
    use axum::response::IntoResponse;
    let Some(ig) = &state.instagram else {
        return Err(ApiError::NotFound("Instagram is not configured".into()).into_response());
    };
    match ig.challenge(q.mode.as_deref(), q.verify_token.as_deref(), q.challenge.as_deref()) {
        Some(c) => Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], c.to_string())),
        None => {
            telemetry::refused("instagram", "wrong_verify_token");
            Err((
                axum::http::StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({"error": "wrong hub.verify_token"})),
            )
                .into_response())
        }
    }
}

/// `POST /webhooks/instagram`: Direct messages; `X-Hub-Signature-256` over the raw body first
/// (wrong → 401, nothing stored).
#[utoipa::path(
    post, path = "/webhooks/instagram", tag = "webhooks",
    params(("X-Hub-Signature-256" = String, Header, description = "sha256=<hex HMAC of the body with the app secret>")),
    request_body(content = Object, description = "An Instagram Messaging webhook"),
    responses((status = 200, description = "Taken", body = String), (status = 400, description = "Not a webhook", body = ErrorBody), (status = 401, description = "Wrong signature", body = ErrorBody), (status = 404, description = "Instagram is off", body = ErrorBody))
)]
pub async fn instagram(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    let Some(ig) = &state.instagram else {
        return Err(ApiError::NotFound("Instagram is not configured".into()));
    };
    let signature = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
    match ig.handle(signature, &body).await {
        Ok(()) => Ok("ok"),
        Err(IgReject::BadSignature) => {
            telemetry::refused("instagram", "wrong_signature");
            Err(ApiError::Unauthorized("wrong X-Hub-Signature-256".into()))
        }
        Err(e @ IgReject::Malformed(_)) => {
            telemetry::refused("instagram", "malformed");
            Err(ApiError::BadRequest(e.to_string()))
        }
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}

/// `POST /webhooks/sms/{secret}`: the SMS gateway's delivery callbacks (SMS.ru `data[]`, SMSC
/// `id`/`status`); the gateways sign nothing, so the secret in the URL is checked (wrong → 401).
#[utoipa::path(
    post, path = "/webhooks/sms/{secret}", tag = "webhooks",
    params(("secret" = String, Path, description = "LEADBOT_SMS_CALLBACK_SECRET")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "A delivery callback"),
    responses((status = 200, description = "`100` (SMS.ru) or `OK` (SMSC)", body = String), (status = 400, description = "Not a form", body = ErrorBody), (status = 401, description = "Wrong secret", body = ErrorBody), (status = 404, description = "SMS is off", body = ErrorBody))
)]
pub async fn sms(
    State(state): State<AppState>,
    ApiPath(secret): ApiPath<String>,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    let Some(sms) = &state.sms else {
        return Err(ApiError::NotFound("SMS is not configured".into()));
    };
    match sms.handle(&secret, &body).await {
        Ok(ack) => Ok(ack),
        Err(SmsReject::Forbidden) => {
            telemetry::refused("sms", "wrong_secret");
            Err(ApiError::Unauthorized("wrong callback secret".into()))
        }
        Err(e @ SmsReject::Malformed(_)) => {
            telemetry::refused("sms", "malformed");
            Err(ApiError::BadRequest(e.to_string()))
        }
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}

/// `POST /webhooks/avito/{secret}`: Avito Messenger deliveries (v3). Avito documents no
/// signature, so the secret in the registered URL is checked (wrong → 401, nothing stored);
/// answered at once.
#[utoipa::path(
    post, path = "/webhooks/avito/{secret}", tag = "webhooks",
    params(("secret" = String, Path, description = "LEADBOT_AVITO_WEBHOOK_SECRET")),
    request_body(content = Object, description = "An Avito Messenger webhook delivery"),
    responses((status = 200, description = "Taken", body = String), (status = 400, description = "Not a delivery", body = ErrorBody), (status = 401, description = "Wrong secret", body = ErrorBody), (status = 404, description = "Avito is off", body = ErrorBody))
)]
pub async fn avito(
    State(state): State<AppState>,
    ApiPath(secret): ApiPath<String>,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    let Some(avito) = &state.avito else {
        return Err(ApiError::NotFound("Avito is not configured".into()));
    };
    match avito.handle(&secret, &body).await {
        Ok(()) => Ok("ok"),
        Err(AvitoReject::Forbidden) => {
            telemetry::refused("avito", "wrong_secret");
            Err(ApiError::Unauthorized("wrong webhook secret".into()))
        }
        Err(e @ AvitoReject::Malformed(_)) => {
            telemetry::refused("avito", "malformed");
            Err(ApiError::BadRequest(e.to_string()))
        }
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}

fn voice_rejected(e: VoiceReject) -> ApiError {
    match e {
        VoiceReject::Forbidden => {
            telemetry::refused("voice", "wrong_signature");
            ApiError::Forbidden("wrong signature or secret".into())
        }
        e @ VoiceReject::Malformed(_) => {
            telemetry::refused("voice", "malformed");
            ApiError::BadRequest(e.to_string())
        }
        e => ApiError::Unavailable(e.to_string()),
    }
}

/// `POST /webhooks/voice/twilio?lead=&row=`: the key pressed in a Twilio call (`<Gather>`'s
/// action), checked against `X-Twilio-Signature` over the public URL and the form before
/// anything is stored (wrong → 403); answered with TwiML.
#[utoipa::path(
    post, path = "/webhooks/voice/twilio", tag = "webhooks",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's Gather action (Digits, CallSid, …)"),
    responses((status = 200, description = "TwiML", body = String, content_type = "text/xml"), (status = 400, description = "Not a keypress", body = ErrorBody), (status = 403, description = "Wrong signature", body = ErrorBody), (status = 404, description = "Voice is off", body = ErrorBody))
)]
pub async fn voice_twilio(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), ApiError> {
    let Some(voice) = &state.voice else {
        return Err(ApiError::NotFound("voice calls are not configured".into()));
    };
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let twiml = voice.twilio(path, signature, &body).await.map_err(voice_rejected)?;
    Ok(([(CONTENT_TYPE, "text/xml")], twiml))
}

/// `POST /webhooks/voice/zvonobot/{secret}?lead=&row=`: the key pressed in a Zvonobot call.
/// Zvonobot signs nothing, so the secret in the URL is checked (wrong → 403, nothing stored).
#[utoipa::path(
    post, path = "/webhooks/voice/zvonobot/{secret}", tag = "webhooks",
    params(("secret" = String, Path, description = "LEADBOT_VOICE_WEBHOOK_SECRET")),
    request_body(content = String, description = "Zvonobot's keypress webhook (its parameters)"),
    responses((status = 200, description = "Taken", body = String), (status = 400, description = "Not a keypress", body = ErrorBody), (status = 403, description = "Wrong secret", body = ErrorBody), (status = 404, description = "Voice is off", body = ErrorBody))
)]
pub async fn voice_zvonobot(
    State(state): State<AppState>,
    ApiPath(secret): ApiPath<String>,
    uri: axum::http::Uri,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    let Some(voice) = &state.voice else {
        return Err(ApiError::NotFound("voice calls are not configured".into()));
    };
    voice
        .zvonobot(&secret, uri.query().unwrap_or(""), &body)
        .await
        .map_err(voice_rejected)
}

/// `GET /webhooks/voice/zvonobot/{secret}?lead=&row=`: the same keypress, for a Zvonobot
/// account that calls its webhooks with GET.
#[utoipa::path(
    get, path = "/webhooks/voice/zvonobot/{secret}", tag = "webhooks",
    params(("secret" = String, Path, description = "LEADBOT_VOICE_WEBHOOK_SECRET")),
    responses((status = 200, description = "Taken", body = String), (status = 400, description = "Not a keypress", body = ErrorBody), (status = 403, description = "Wrong secret", body = ErrorBody), (status = 404, description = "Voice is off", body = ErrorBody))
)]
pub async fn voice_zvonobot_get(
    State(state): State<AppState>,
    ApiPath(secret): ApiPath<String>,
    uri: axum::http::Uri,
) -> Result<&'static str, ApiError> {
    voice_zvonobot(State(state), ApiPath(secret), uri, Bytes::new()).await
}
