//! A local VK API server speaking `messages.send` as VK documents it (form-encoded bodies, `v`
//! and a bearer token required, `random_id` required and deduplicating: the same `random_id`
//! to the same peer answers the first message's id and delivers nothing new), with VK's error
//! bodies (tests/fixtures/vk): 5 without the token, 100 without `random_id`/`peer_id`, 911 for a
//! keyboard that is not JSON, 914 past 4096 characters; and the next calls can be told to
//! fail with a given error code (9 flood control, 901 cannot write first).

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

pub const TOKEN: &str = "vk1.a.test-community-token";

#[derive(Debug, Clone)]
pub struct Sent {
    pub peer_id: i64,
    pub random_id: i64,
    pub text: String,
    pub keyboard: Option<Value>,
    pub message_id: i64,
}

#[derive(Default)]
pub struct Inner {
    /// Every messages.send that delivered a message.
    pub sent: Vec<Sent>,
    /// Every call (method, form).
    pub calls: Vec<(String, HashMap<String, String>)>,
    pub failures: VecDeque<i64>,
    by_random: HashMap<(i64, i64), i64>,
    next_id: i64,
}

#[derive(Clone, Default)]
pub struct FakeVk {
    pub inner: Arc<Mutex<Inner>>,
    pub base: String,
}

fn error(code: i64, msg: &str) -> Json<Value> {
    Json(
        json!({"error": {"error_code": code, "error_msg": msg, "request_params": [{"key": "method", "value": "messages.send"}]}}),
    )
}

async fn method(State(fake): State<FakeVk>, Path(name): Path<String>, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let mut inner = fake.inner.lock().unwrap();
    inner.calls.push((name.clone(), form.clone()));
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth != format!("Bearer {TOKEN}") {
        return error(5, "User authorization failed: no access_token passed.");
    }
    if form.get("v").is_none_or(|v| v.is_empty()) {
        return error(8, "Invalid request: v (version) is required");
    }
    if name != "messages.send" {
        return error(3, "Unknown method passed");
    }
    if let Some(code) = inner.failures.pop_front() {
        let msg = match code {
            9 => "Flood control",
            901 => "Can't send messages for users without permission",
            _ => "error",
        };
        return error(code, msg);
    }
    let (Some(peer_id), Some(random_id)) = (
        form.get("peer_id").and_then(|p| p.parse::<i64>().ok()),
        form.get("random_id").and_then(|p| p.parse::<i64>().ok()),
    ) else {
        return error(
            100,
            "One of the parameters specified was missing or invalid: peer_id, random_id",
        );
    };
    let text = form.get("message").cloned().unwrap_or_default();
    if text.chars().count() > 4096 {
        return error(914, "Message is too long");
    }
    let keyboard = match form.get("keyboard") {
        Some(k) => match serde_json::from_str::<Value>(k) {
            Ok(v) if v.get("buttons").is_some_and(Value::is_array) => Some(v),
            _ => return error(911, "Keyboard format is invalid"),
        },
        None => None,
    };
    if let Some(id) = inner.by_random.get(&(peer_id, random_id)) {
        return Json(json!({ "response": id }));
    }
    inner.next_id += 1;
    let message_id = inner.next_id;
    inner.by_random.insert((peer_id, random_id), message_id);
    inner.sent.push(Sent {
        peer_id,
        random_id,
        text,
        keyboard,
        message_id,
    });
    Json(json!({ "response": message_id }))
}

impl FakeVk {
    pub async fn start() -> FakeVk {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeVk {
            base: format!("http://{}", listener.local_addr().unwrap()),
            ..Default::default()
        };
        let app = Router::new()
            .route("/method/{name}", post(method))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    pub fn fail_next(&self, code: i64) {
        self.inner.lock().unwrap().failures.push_back(code);
    }

    pub fn sent_to(&self, peer: i64) -> Vec<Sent> {
        let inner = self.inner.lock().unwrap();
        inner.sent.iter().filter(|s| s.peer_id == peer).cloned().collect()
    }

    pub fn calls(&self) -> usize {
        self.inner.lock().unwrap().calls.len()
    }
}
