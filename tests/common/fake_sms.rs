//! A local SMS gateway speaking both SMS.ru (`POST /sms/send`, `api_id` required, `json=1`
//! answers shaped like tests/fixtures/sms/smsru_send_response_json1_test1.pastebin.json, error
//! 202 for a number it cannot parse) and SMSC.ru (`POST /sys/send.php`, `login`/`psw` required,
//! `fmt=3` answers `{"id","cnt"}` or `{"error","error_code"}`; a repeat of the same `id` within
//! the test is error 9, duplicate), recording every message it accepted.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

pub const API_ID: &str = "test-api-id";
pub const LOGIN: &str = "leadbot";
pub const PASSWORD: &str = "secret-psw";

#[derive(Default)]
pub struct Inner {
    /// (provider, to, text, form)
    pub sent: Vec<(String, String, String, HashMap<String, String>)>,
    smsc_ids: HashSet<String>,
    pub out_of_money: bool,
}

#[derive(Clone, Default)]
pub struct FakeSms {
    pub inner: Arc<Mutex<Inner>>,
    pub base: String,
}

async fn smsru(State(fake): State<FakeSms>, body: Bytes) -> Json<Value> {
    let f: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if f.get("api_id").map(String::as_str) != Some(API_ID) {
        return Json(json!({"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"}));
    }
    let to = f.get("to").cloned().unwrap_or_default();
    if !(to.len() == 11 && to.starts_with('7') && to.chars().all(|c| c.is_ascii_digit())) {
        return Json(
            json!({"status": "OK", "status_code": 100, "sms": {to.clone(): {"status": "ERROR", "status_code": 202, "status_text": "Неправильно указан номер телефона получателя"}}, "balance": 10}),
        );
    }
    let mut inner = fake.inner.lock().unwrap();
    if inner.out_of_money {
        return Json(
            json!({"status": "ERROR", "status_code": 201, "status_text": "Не хватает средств на лицевом счету"}),
        );
    }
    let n = inner.sent.len() + 1;
    inner.sent.push((
        "smsru".into(),
        to.clone(),
        f.get("msg").cloned().unwrap_or_default(),
        f.clone(),
    ));
    Json(
        json!({"status": "OK", "status_code": 100, "sms": {to: {"status": "OK", "status_code": 100, "sms_id": format!("000000-{:08}", n)}}, "balance": 10}),
    )
}

async fn smsc(State(fake): State<FakeSms>, body: Bytes) -> Json<Value> {
    let f: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if f.get("login").map(String::as_str) != Some(LOGIN) || f.get("psw").map(String::as_str) != Some(PASSWORD) {
        return Json(json!({"error": "authorise error", "error_code": 2}));
    }
    let to = f.get("phones").cloned().unwrap_or_default();
    if to.len() < 11 || !to.chars().all(|c| c.is_ascii_digit()) {
        return Json(json!({"error": "invalid number", "error_code": 7}));
    }
    let mut inner = fake.inner.lock().unwrap();
    let id = f.get("id").cloned().unwrap_or_default();
    if !id.is_empty() && !inner.smsc_ids.insert(id.clone()) {
        return Json(json!({"error": "duplicate request, wait a minute", "error_code": 9}));
    }
    inner
        .sent
        .push(("smsc".into(), to, f.get("mes").cloned().unwrap_or_default(), f.clone()));
    Json(json!({"id": id.parse::<i64>().unwrap_or(1042), "cnt": 1}))
}

impl FakeSms {
    pub async fn start() -> FakeSms {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeSms {
            base: format!("http://{}", listener.local_addr().unwrap()),
            ..Default::default()
        };
        let app = Router::new()
            .route("/sms/send", post(smsru))
            .route("/sys/send.php", post(smsc))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    pub fn sent(&self) -> Vec<(String, String, String, HashMap<String, String>)> {
        self.inner.lock().unwrap().sent.clone()
    }
}
