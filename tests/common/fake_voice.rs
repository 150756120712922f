//! A local voice provider speaking both Zvonobot (`POST /apiCalls/create`, JSON with `apiKey`,
//! `phone`, `record`, `ivrs`; answered `{"status":"success","data":[{"id",…}]}` or
//! `{"status":"error",…}` for a wrong key — the shape of ../shared/design/channels.md §4.5) and
//! Twilio Voice (`POST /2010-04-01/Accounts/{sid}/Calls.json`, Basic auth sid:token, form `To`,
//! `From`, `Twiml`; answered 201 with the call's `sid`, 401 for wrong credentials, 400 code
//! 21211 for a `To` it cannot call), recording every call it accepted.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

pub const ZVONOBOT_KEY: &str = "zvonobot-test-key";
pub const TWILIO_SID: &str = "AC00000000000000000000000000000001";
pub const TWILIO_TOKEN: &str = "twilio-test-auth-token";

#[derive(Default)]
pub struct Inner {
    /// (provider, request: JSON for Zvonobot, the form as an object for Twilio)
    pub calls: Vec<(String, Value)>,
}

#[derive(Clone, Default)]
pub struct FakeVoice {
    pub inner: Arc<Mutex<Inner>>,
    pub base: String,
}

async fn zvonobot(State(fake): State<FakeVoice>, body: Bytes) -> Json<Value> {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return Json(json!({"status": "error", "data": {"message": "bad json"}}));
    };
    if req["apiKey"] != ZVONOBOT_KEY {
        return Json(json!({"status": "error", "data": {"message": "Неверный apiKey"}}));
    }
    let phone = req["phone"].as_str().unwrap_or_default().to_string();
    if !(phone.len() == 11 && phone.chars().all(|c| c.is_ascii_digit())) {
        return Json(json!({"status": "error", "data": {"message": "Неверный номер"}}));
    }
    let mut inner = fake.inner.lock().unwrap();
    inner.calls.push(("zvonobot".into(), req));
    let id = 900 + inner.calls.len() as i64;
    Json(json!({"status": "success", "data": [{"id": id, "phone": phone, "status": "new", "createdAt": 1764662400}]}))
}

async fn twilio(
    State(fake): State<FakeVoice>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}"))
    );
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if sid != TWILIO_SID || auth != expected {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": 20003, "message": "Authenticate", "status": 401})),
        );
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let obj: serde_json::Map<String, Value> = form.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let to = obj.get("To").and_then(Value::as_str).unwrap_or_default().to_string();
    if !to.starts_with('+') || to.len() < 11 {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"code": 21211, "message": format!("The 'To' number {to} is not a valid phone number."), "status": 400}),
            ),
        );
    }
    let mut inner = fake.inner.lock().unwrap();
    inner.calls.push(("twilio".into(), Value::Object(obj)));
    let call_sid = format!("CA{:032}", inner.calls.len());
    (
        StatusCode::CREATED,
        Json(json!({"sid": call_sid, "account_sid": TWILIO_SID, "to": to, "status": "queued"})),
    )
}

impl FakeVoice {
    pub async fn start() -> FakeVoice {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeVoice {
            base: format!("http://{}", listener.local_addr().unwrap()),
            ..Default::default()
        };
        let app = Router::new()
            .route("/apiCalls/create", post(zvonobot))
            .route("/2010-04-01/Accounts/{sid}/Calls.json", post(twilio))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    pub fn calls(&self) -> Vec<(String, Value)> {
        self.inner.lock().unwrap().calls.clone()
    }
}
