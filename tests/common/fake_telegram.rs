//! A local Bot API server: records every call, answers with the documented response shapes
//! (tests/fixtures/telegram), and can be told to fail the next calls of a method with a real
//! error body (429 with retry_after, 403 blocked).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Call {
    pub at: Instant,
    pub method: String,
    pub body: Value,
}

#[derive(Default)]
pub struct Inner {
    pub calls: Vec<Call>,
    /// (method, HTTP status, body) answered instead of success, in order.
    pub failures: VecDeque<(String, u16, Value)>,
    next_message_id: i64,
}

#[derive(Clone, Default)]
pub struct FakeTelegram {
    pub inner: Arc<Mutex<Inner>>,
    pub base: String,
}

pub const TOKEN: &str = "123456:TEST-token";

impl FakeTelegram {
    pub async fn start() -> FakeTelegram {
        let mut fake = FakeTelegram::default();
        fake.inner.lock().unwrap().next_message_id = 700;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        fake.base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/{bot}/{method}", post(handle))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    pub fn fail_next(&self, method: &str, status: u16, body: Value) {
        self.inner
            .lock()
            .unwrap()
            .failures
            .push_back((method.into(), status, body));
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }
}

async fn handle(
    State(fake): State<FakeTelegram>,
    Path((bot, method)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if bot != format!("bot{TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        )
            .into_response();
    }
    let mut st = fake.inner.lock().unwrap();
    st.calls.push(Call {
        at: Instant::now(),
        method: method.clone(),
        body: body.clone(),
    });
    if let Some(pos) = st.failures.iter().position(|(m, _, _)| *m == method) {
        if let Some((_, status, err)) = st.failures.remove(pos) {
            return (StatusCode::from_u16(status).unwrap(), Json(err)).into_response();
        }
    }
    let result = match method.as_str() {
        "sendMessage" => {
            st.next_message_id += 1;
            json!({"message_id": st.next_message_id, "date": 1767225600,
                   "chat": {"id": body["chat_id"], "type": if body["chat_id"].as_i64().unwrap_or(0) < 0 { "supergroup" } else { "private" }},
                   "text": body["text"]})
        }
        "editMessageText" => {
            json!({"message_id": body["message_id"], "chat": {"id": body["chat_id"]}, "text": body["text"]})
        }
        "getUpdates" => json!([]),
        _ => json!(true),
    };
    Json(json!({"ok": true, "result": result})).into_response()
}
