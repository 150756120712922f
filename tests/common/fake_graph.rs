//! A local Graph API server for the WhatsApp Cloud API and Instagram Messaging sends, as
//! documented (tests/fixtures/whatsapp): a bearer token required (190 otherwise), the message
//! body checked (`messaging_product`, `to`, text ≤ 4096, at most 3 reply buttons of ≤ 20
//! characters: 131009 otherwise), the 24 h window kept per recipient (a free-form message to a
//! recipient whose window is closed gets 131047, the fixture's body; templates always pass),
//! and the next sends can be told to fail with a code (130429 throughput).

#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

pub const TOKEN: &str = "EAAG-test-graph-token";

#[derive(Default)]
pub struct Inner {
    /// Every accepted message (path, body).
    pub sent: Vec<(String, Value)>,
    pub closed: HashSet<String>,
    pub failures: VecDeque<i64>,
    next: u64,
}

#[derive(Clone, Default)]
pub struct FakeGraph {
    pub inner: Arc<Mutex<Inner>>,
    pub base: String,
}

fn error(code: i64, message: &str) -> (StatusCode, Json<Value>) {
    if code == 131047 {
        let body: Value = serde_json::from_str(
            &std::fs::read_to_string("tests/fixtures/whatsapp/whatsapp_error_131047_reengagement.synth.json").unwrap(),
        )
        .unwrap();
        return (StatusCode::BAD_REQUEST, Json(body));
    }
    (
        StatusCode::BAD_REQUEST,
        Json(
            json!({"error": {"message": format!("(#{code}) {message}"), "type": "OAuthException", "code": code, "fbtrace_id": "AbCd"}}),
        ),
    )
}

async fn messages(
    State(fake): State<FakeGraph>,
    Path((_version, sender)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth != format!("Bearer {TOKEN}") {
        return error(190, "Invalid OAuth access token");
    }
    let mut inner = fake.inner.lock().unwrap();
    if let Some(code) = inner.failures.pop_front() {
        return error(code, "Rate limit hit");
    }
    let instagram = sender == "me";
    if instagram {
        let Some(to) = body["recipient"]["id"].as_str().map(String::from) else {
            return error(100, "recipient is required");
        };
        if inner.closed.contains(&to) {
            return (
                StatusCode::BAD_REQUEST,
                Json(
                    json!({"error": {"message": "(#10) This message is sent outside of allowed window.", "type": "OAuthException", "code": 10, "error_subcode": 2018278}}),
                ),
            );
        }
        if body["message"]["text"]
            .as_str()
            .is_none_or(|t| t.chars().count() > 1000)
        {
            return error(100, "message text missing or too long");
        }
        inner.next += 1;
        let id = format!("m_{}", inner.next);
        inner.sent.push((sender, body));
        return (StatusCode::OK, Json(json!({"recipient_id": to, "message_id": id})));
    }
    if body["messaging_product"] != "whatsapp" {
        return error(100, "The parameter messaging_product is required.");
    }
    let Some(to) = body["to"].as_str().map(String::from) else {
        return error(100, "The parameter to is required.");
    };
    match body["type"].as_str() {
        Some("text") => {
            if body["text"]["body"]
                .as_str()
                .is_none_or(|t| t.is_empty() || t.chars().count() > 4096)
            {
                return error(131009, "Parameter value is not valid");
            }
        }
        Some("interactive") => {
            let buttons = body["interactive"]["action"]["buttons"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if buttons.is_empty()
                || buttons.len() > 3
                || buttons
                    .iter()
                    .any(|b| b["reply"]["title"].as_str().is_none_or(|t| t.chars().count() > 20))
            {
                return error(131009, "Parameter value is not valid");
            }
        }
        Some("template") => {
            if body["template"]["name"].as_str().is_none() || body["template"]["language"]["code"].as_str().is_none() {
                return error(132000, "Number of parameters does not match");
            }
        }
        _ => return error(100, "Invalid parameter type"),
    }
    if body["type"] != "template" && inner.closed.contains(&to) {
        return error(131047, "Re-engagement message");
    }
    inner.next += 1;
    let id = format!("wamid.TEST{}", inner.next);
    inner.sent.push((sender, body));
    (
        StatusCode::OK,
        Json(
            json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": id}]}),
        ),
    )
}

impl FakeGraph {
    pub async fn start() -> FakeGraph {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeGraph {
            base: format!("http://{}", listener.local_addr().unwrap()),
            ..Default::default()
        };
        let app = Router::new()
            .route("/{version}/{sender}/messages", post(messages))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    pub fn fail_next(&self, code: i64) {
        self.inner.lock().unwrap().failures.push_back(code);
    }

    /// The recipient's 24 h window is over (or never opened).
    pub fn close_window(&self, to: &str) {
        self.inner.lock().unwrap().closed.insert(to.to_string());
    }

    pub fn sent(&self) -> Vec<Value> {
        self.inner.lock().unwrap().sent.iter().map(|(_, b)| b.clone()).collect()
    }
}
