//! A local Bot API server, as strict as the real one where leadbot can get it wrong: records
//! every call, answers each method with its documented result shape (tests/fixtures/telegram),
//! refuses what Telegram refuses with Telegram's own error bodies, and can be told to fail the
//! next calls of a method with a real error body (429 with retry_after, 403 blocked).
//!
//! - `sendMessage` → a `Message` (`message_id`, `from` = the bot, `date`, `chat`, `text`,
//!   `reply_markup` when inline); 400 `Bad Request: chat_id is empty`, `message text is empty`,
//!   `message is too long` (> 4096), `BUTTON_DATA_INVALID` (callback_data not 1–64 bytes);
//! - `editMessageText` → the edited `Message`; 400 `message to edit not found` for a message the
//!   bot never sent into that chat, `message is not modified: …` when nothing changes;
//! - `answerCallbackQuery` → `true`; 400 `query is too old …` for a missing id or one answered
//!   already, `MESSAGE_TOO_LONG` past 200 characters;
//! - `getUpdates` → an array of the updates queued with [`FakeTelegram::push_update`] from
//!   `offset` on (long polling: waits up to `timeout` for one); `deleteWebhook`, `setWebhook`
//!   → `true`; `getMe` → the bot's `User`;
//! - `sendDocument` (multipart/form-data, as a file upload must be) → a `Message` with its
//!   `document`; the file is kept (`documents`); 400 `there is no document in the request`,
//!   `chat_id is empty`, `message caption is too long` (> 1024);
//! - any other method → 404 `{"ok":false,"error_code":404,"description":"Not Found"}`.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
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
    /// What the bot has posted: (chat, message_id) → (text, reply_markup).
    pub messages: HashMap<(i64, i64), (String, Value)>,
    /// Callback queries answered already (a second answer is refused).
    pub answered: HashSet<String>,
    /// Updates for `getUpdates`, in order.
    pub updates: VecDeque<Value>,
    /// Every answer that was not `ok` (method, HTTP status, description).
    pub refused: Vec<(String, u16, String)>,
    /// Files uploaded with `sendDocument`.
    pub documents: Vec<Document>,
}

/// A file the bot sent.
#[derive(Debug, Clone)]
pub struct Document {
    pub chat_id: i64,
    pub file_name: String,
    pub content_type: String,
    pub caption: String,
    pub bytes: Vec<u8>,
}

/// One part of a multipart/form-data body: (name, filename, content type, bytes).
type Part = (String, Option<String>, String, Vec<u8>);

/// The parts of a multipart/form-data body.
fn multipart(content_type: &str, raw: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let delim = format!("--{boundary}");
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut parts = Vec::new();
    let mut pos = find(raw, delim.as_bytes(), 0)? + delim.len();
    loop {
        if raw.get(pos..pos + 2) == Some(b"--") {
            return Some(parts);
        }
        pos += 2; // CRLF after the delimiter
        let head_end = find(raw, b"\r\n\r\n", pos)?;
        let head = std::str::from_utf8(&raw[pos..head_end]).ok()?;
        let body_start = head_end + 4;
        let next = find(raw, format!("\r\n{delim}").as_bytes(), body_start)?;
        let mut name = String::new();
        let mut filename = None;
        let mut ctype = String::new();
        for line in head.split("\r\n") {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                for p in line.split(';').map(str::trim) {
                    if let Some(v) = p.strip_prefix("name=") {
                        name = v.trim_matches('"').to_string();
                    } else if let Some(v) = p.strip_prefix("filename=") {
                        filename = Some(v.trim_matches('"').to_string());
                    }
                }
            } else if lower.starts_with("content-type:") {
                ctype = line[13..].trim().to_string();
            }
        }
        parts.push((name, filename, ctype, raw[body_start..next].to_vec()));
        pos = next + 2 + delim.len();
    }
}

fn send_document(st: &mut Inner, parts: &[Part]) -> Result<Value, (u16, Value)> {
    let text_of = |n: &str| {
        parts
            .iter()
            .find(|p| p.0 == n)
            .map(|p| String::from_utf8_lossy(&p.3).to_string())
    };
    let chat = text_of("chat_id")
        .and_then(|c| c.trim().parse::<i64>().ok())
        .ok_or_else(|| bad_request("chat_id is empty"))?;
    let caption = text_of("caption").unwrap_or_default();
    if caption.chars().count() > 1024 {
        return Err(bad_request("message caption is too long"));
    }
    let Some((_, Some(file_name), ctype, bytes)) = parts.iter().find(|p| p.0 == "document" && p.1.is_some()) else {
        return Err(bad_request("there is no document in the request"));
    };
    st.next_message_id += 1;
    let id = st.next_message_id;
    st.documents.push(Document {
        chat_id: chat,
        file_name: file_name.clone(),
        content_type: ctype.clone(),
        caption: caption.clone(),
        bytes: bytes.clone(),
    });
    let mut m = message(id, chat, "", &Value::Null);
    if let Some(o) = m.as_object_mut() {
        o.remove("text");
        o.insert("caption".into(), json!(caption));
        o.insert(
            "document".into(),
            json!({"file_name": file_name, "mime_type": ctype, "file_id": format!("doc-{id}"),
                   "file_unique_id": format!("u-{id}"), "file_size": bytes.len()}),
        );
    }
    Ok(m)
}

#[derive(Clone, Default)]
pub struct FakeTelegram {
    pub inner: Arc<Mutex<Inner>>,
    pub base: String,
    new_update: Arc<tokio::sync::Notify>,
}

pub const TOKEN: &str = "123456:TEST-token";
/// The bot's own user, as `getMe` and every message it sends show it.
pub fn bot_user() -> Value {
    json!({"id": 7000000001i64, "is_bot": true, "first_name": "LeadBot", "username": "lead_demo_bot"})
}

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

    /// Queues an update for `getUpdates` (long polling).
    pub fn push_update(&self, update: Value) {
        self.inner.lock().unwrap().updates.push_back(update);
        self.new_update.notify_waiters();
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

    pub fn documents(&self) -> Vec<Document> {
        self.inner.lock().unwrap().documents.clone()
    }

    pub fn refused(&self) -> Vec<(String, u16, String)> {
        self.inner.lock().unwrap().refused.clone()
    }
}

fn error(status: u16, description: &str) -> (u16, Value) {
    (
        status,
        json!({"ok": false, "error_code": status, "description": description}),
    )
}

fn bad_request(description: &str) -> (u16, Value) {
    error(400, &format!("Bad Request: {description}"))
}

/// `chat_id`: an integer, or a string (`@channel` or digits).
fn chat_id(body: &Value) -> Option<i64> {
    match &body["chat_id"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Text after Telegram's own trimming; `None` when empty.
fn text(body: &Value) -> Option<String> {
    body["text"]
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn check_markup(markup: &Value) -> Result<(), (u16, Value)> {
    if let Some(rows) = markup.get("inline_keyboard") {
        let rows = rows
            .as_array()
            .ok_or_else(|| bad_request("can't parse inline keyboard: field \"inline_keyboard\" must be an Array"))?;
        for button in rows.iter().flat_map(|r| r.as_array().cloned().unwrap_or_default()) {
            if button["text"].as_str().is_none_or(str::is_empty) {
                return Err(bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
                ));
            }
            match button.get("callback_data") {
                Some(Value::String(d)) if (1..=64).contains(&d.len()) => {}
                Some(_) => return Err(bad_request("BUTTON_DATA_INVALID")),
                None if button.get("url").is_some() => {}
                None => {
                    return Err(bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
                    ))
                }
            }
        }
    }
    if let Some(rows) = markup.get("keyboard") {
        let rows = rows
            .as_array()
            .ok_or_else(|| bad_request("can't parse reply keyboard markup JSON object"))?;
        for button in rows.iter().flat_map(|r| r.as_array().cloned().unwrap_or_default()) {
            let ok = button.as_str().is_some_and(|t| !t.is_empty())
                || button["text"].as_str().is_some_and(|t| !t.is_empty());
            if !ok {
                return Err(bad_request("keyboard button text is empty"));
            }
        }
    }
    Ok(())
}

fn message(id: i64, chat: i64, text: &str, markup: &Value) -> Value {
    let chat = if chat < 0 {
        json!({"id": chat, "title": "Исполнители", "type": "supergroup"})
    } else {
        json!({"id": chat, "first_name": "Клиент", "last_name": "Тестов", "username": "client_test", "type": "private"})
    };
    let mut m = json!({"message_id": id, "from": bot_user(), "chat": chat, "date": 1767225600, "text": text});
    // Only an inline keyboard stays attached to the message.
    if markup.get("inline_keyboard").is_some() {
        m["reply_markup"] = markup.clone();
    }
    m
}

fn answer(st: &mut Inner, method: &str, body: &Value) -> Result<Value, (u16, Value)> {
    match method {
        "sendmessage" => {
            let chat = chat_id(body).ok_or_else(|| bad_request("chat_id is empty"))?;
            let text = text(body).ok_or_else(|| bad_request("message text is empty"))?;
            if text.chars().count() > 4096 {
                return Err(bad_request("message is too long"));
            }
            let markup = body.get("reply_markup").cloned().unwrap_or(Value::Null);
            check_markup(&markup)?;
            st.next_message_id += 1;
            let id = st.next_message_id;
            st.messages.insert((chat, id), (text.clone(), markup.clone()));
            Ok(message(id, chat, &text, &markup))
        }
        "editmessagetext" => {
            let text = text(body).ok_or_else(|| bad_request("message text is empty"))?;
            let chat = chat_id(body);
            let id = body["message_id"].as_i64();
            let (Some(chat), Some(id)) = (chat, id) else {
                return Err(bad_request(if body.get("inline_message_id").is_some() {
                    "MESSAGE_ID_INVALID"
                } else if chat.is_none() {
                    "chat_id is empty"
                } else {
                    "message identifier is not specified"
                }));
            };
            let markup = body.get("reply_markup").cloned().unwrap_or(Value::Null);
            check_markup(&markup)?;
            let Some(current) = st.messages.get_mut(&(chat, id)) else {
                return Err(bad_request("message to edit not found"));
            };
            if current.0 == text && current.1 == markup {
                return Err(bad_request("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"));
            }
            *current = (text.clone(), markup.clone());
            let mut m = message(id, chat, &text, &markup);
            m["edit_date"] = json!(1767225700);
            Ok(m)
        }
        "answercallbackquery" => {
            let id = body["callback_query_id"].as_str().filter(|s| !s.is_empty());
            let Some(id) = id.filter(|id| !st.answered.contains(*id)) else {
                return Err(bad_request(
                    "query is too old and response timeout expired or query ID is invalid",
                ));
            };
            if body["text"].as_str().is_some_and(|t| t.chars().count() > 200) {
                return Err(bad_request("MESSAGE_TOO_LONG"));
            }
            st.answered.insert(id.to_string());
            Ok(json!(true))
        }
        "deletewebhook" | "setwebhook" => Ok(json!(true)),
        "getme" => {
            let mut me = bot_user();
            me["can_join_groups"] = json!(true);
            Ok(me)
        }
        _ => Err(error(404, "Not Found")),
    }
}

async fn handle(
    State(fake): State<FakeTelegram>,
    Path((bot, method)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    raw: Bytes,
) -> Response {
    if bot != format!("bot{TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        )
            .into_response();
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if content_type.starts_with("multipart/form-data") {
        let lower = method.to_ascii_lowercase();
        let parts = multipart(&content_type, &raw).unwrap_or_default();
        let summary: serde_json::Map<String, Value> = parts
            .iter()
            .map(|(n, f, c, b)| {
                let v = match f {
                    Some(f) => json!({"file_name": f, "content_type": c, "size": b.len()}),
                    None => json!(String::from_utf8_lossy(b)),
                };
                (n.clone(), v)
            })
            .collect();
        let mut st = fake.inner.lock().unwrap();
        st.calls.push(Call {
            at: Instant::now(),
            method: method.clone(),
            body: Value::Object(summary),
        });
        if let Some(pos) = st.failures.iter().position(|(m, _, _)| *m == method) {
            if let Some((_, status, err)) = st.failures.remove(pos) {
                return (StatusCode::from_u16(status).unwrap(), Json(err)).into_response();
            }
        }
        let result = match lower.as_str() {
            "senddocument" => send_document(&mut st, &parts),
            _ => Err(error(404, "Not Found")),
        };
        return match result {
            Ok(result) => Json(json!({"ok": true, "result": result})).into_response(),
            Err((status, err)) => {
                st.refused
                    .push((method, status, err["description"].as_str().unwrap_or("").to_string()));
                (StatusCode::from_u16(status).unwrap(), Json(err)).into_response()
            }
        };
    }
    let body: Value = if raw.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&raw) {
            Ok(v) => v,
            Err(_) => {
                let (s, b) = bad_request("can't parse JSON");
                return (StatusCode::from_u16(s).unwrap(), Json(b)).into_response();
            }
        }
    };
    let lower = method.to_ascii_lowercase();
    let result = {
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
        if lower == "getupdates" {
            None
        } else {
            Some(answer(&mut st, &lower, &body))
        }
    };
    let result = match result {
        Some(r) => r,
        None => Ok(get_updates(&fake, &body).await),
    };
    match result {
        Ok(result) => Json(json!({"ok": true, "result": result})).into_response(),
        Err((status, err)) => {
            fake.inner.lock().unwrap().refused.push((
                method,
                status,
                err["description"].as_str().unwrap_or("").to_string(),
            ));
            (StatusCode::from_u16(status).unwrap(), Json(err)).into_response()
        }
    }
}

/// Long polling: updates from `offset` on (earlier ones are confirmed and forgotten), waiting
/// up to `timeout` seconds for one.
async fn get_updates(fake: &FakeTelegram, body: &Value) -> Value {
    let offset = body["offset"].as_i64().unwrap_or(0);
    let limit = body["limit"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(body["timeout"].as_u64().unwrap_or(0));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = fake.new_update.notified();
        tokio::pin!(notified);
        // Registered before looking, so an update pushed in between still wakes us.
        notified.as_mut().enable();
        {
            let mut st = fake.inner.lock().unwrap();
            st.updates.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            if !st.updates.is_empty() {
                return Value::Array(st.updates.iter().take(limit).cloned().collect());
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return json!([]);
        }
    }
}
