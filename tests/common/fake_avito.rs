//! A local Avito API: `POST /token` (client credentials → a bearer token with `expires_in`),
//! `POST /messenger/v1/accounts/{user_id}/chats/{chat_id}/messages` (the bearer token required,
//! 401 otherwise; text ≤ 1000 characters, 400 otherwise; answers as
//! tests/fixtures/avito/avito_send_message_response.synth.json), recording every message.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "avito-client";
pub const CLIENT_SECRET: &str = "avito-client-secret";

#[derive(Default)]
pub struct Inner {
    /// (user_id, chat_id, text)
    pub sent: Vec<(i64, String, String)>,
    pub tokens_issued: u32,
    pub valid_token: Option<String>,
}

#[derive(Clone, Default)]
pub struct FakeAvito {
    pub inner: Arc<Mutex<Inner>>,
    pub base: String,
}

async fn token(State(fake): State<FakeAvito>, body: Bytes) -> (StatusCode, Json<Value>) {
    let f: std::collections::HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if f.get("grant_type").map(String::as_str) != Some("client_credentials")
        || f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_client"})));
    }
    let mut inner = fake.inner.lock().unwrap();
    inner.tokens_issued += 1;
    let t = format!("tok-{}", inner.tokens_issued);
    inner.valid_token = Some(t.clone());
    (
        StatusCode::OK,
        Json(json!({"access_token": t, "token_type": "Bearer", "expires_in": 86400})),
    )
}

async fn send(
    State(fake): State<FakeAvito>,
    Path((user_id, chat_id)): Path<(i64, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut inner = fake.inner.lock().unwrap();
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if inner.valid_token.as_ref().is_none_or(|t| auth != format!("Bearer {t}")) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": 401, "message": "unauthorized"}})),
        );
    }
    let text = body["message"]["text"].as_str().unwrap_or("").to_string();
    if body["type"] != "text" || text.is_empty() || text.chars().count() > 1000 {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": 400, "message": "bad message"}})),
        );
    }
    inner.sent.push((user_id, chat_id, text.clone()));
    let id = format!("m{}", inner.sent.len());
    (
        StatusCode::OK,
        Json(json!({"content": {"text": text}, "created": 1767225605, "direction": "out", "id": id, "type": "text"})),
    )
}

impl FakeAvito {
    pub async fn start() -> FakeAvito {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeAvito {
            base: format!("http://{}", listener.local_addr().unwrap()),
            ..Default::default()
        };
        let app = Router::new()
            .route("/token", post(token))
            .route("/messenger/v1/accounts/{user_id}/chats/{chat_id}/messages", post(send))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    /// Revokes the current token (the next send gets 401 and must fetch a new one).
    pub fn revoke(&self) {
        self.inner.lock().unwrap().valid_token = Some("revoked-and-replaced".into());
    }

    pub fn sent(&self) -> Vec<(i64, String, String)> {
        self.inner.lock().unwrap().sent.clone()
    }
}
