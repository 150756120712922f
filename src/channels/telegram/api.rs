//! The Bot API client: JSON calls, errors classified by HTTP status and `parameters` (never by
//! description text), `retry_after` honoured, sends paced per chat, per group and overall.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::TelegramLimits;
use crate::outbox::DeliveryError;

/// Longest `retry_after` waited inside a call; longer ones go back to the caller (the outbox).
const MAX_INLINE_RETRY: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum TgError {
    #[error("flood control: retry after {0} s")]
    RetryAfter(u64),
    /// 403: blocked by the user, kicked from the group, cannot initiate a conversation.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 400 (chat not found, message not modified, query too old...).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The group became a supergroup with this id.
    #[error("chat migrated to {0}")]
    Migrated(i64),
    #[error("server error {0}")]
    Server(u16),
    #[error("unexpected answer: {0}")]
    Decode(String),
    #[error("transport: {0}")]
    Http(#[from] reqwest::Error),
}

impl TgError {
    /// Worth another attempt later (the same request may then succeed).
    pub fn is_retryable(&self) -> bool {
        matches!(self, TgError::RetryAfter(_) | TgError::Server(_) | TgError::Http(_))
    }

    pub fn into_delivery(self) -> DeliveryError {
        match self {
            TgError::RetryAfter(secs) => DeliveryError::Throttled(Duration::from_secs(secs.max(1))),
            TgError::Server(_) | TgError::Http(_) => DeliveryError::Retryable(self.to_string()),
            other => DeliveryError::Permanent(other.to_string()),
        }
    }
}

/// Spaces sends so Telegram's limits are never hit: one message per `chat_gap` into a chat,
/// `group_gap` into a group, at most `global_per_sec` in any one-second bucket overall. The
/// overall limit counts reservations per second instead of chaining them, so one chat's (or a
/// group's) future slot never holds up the other chats.
struct Pacer {
    chat_gap: Duration,
    group_gap: Duration,
    global_per_sec: u32,
    epoch: Instant,
    /// Sends reserved per second since `epoch`.
    global: BTreeMap<u64, u32>,
    next_chat: HashMap<i64, Instant>,
}

impl Pacer {
    /// Telegram said to wait: nothing goes to `chat_id` before `until`.
    fn pause(&mut self, chat_id: i64, until: Instant) {
        let next = self.next_chat.entry(chat_id).or_insert(until);
        *next = (*next).max(until);
    }

    fn reserve(&mut self, chat_id: i64) -> Instant {
        self.reserve_at(chat_id, Instant::now())
    }

    fn reserve_at(&mut self, chat_id: i64, now: Instant) -> Instant {
        let mut at = self.next_chat.get(&chat_id).copied().unwrap_or(now).max(now);
        let mut bucket = at.saturating_duration_since(self.epoch).as_secs();
        while self.global.get(&bucket).is_some_and(|n| *n >= self.global_per_sec) {
            bucket += 1;
            at = at.max(self.epoch + Duration::from_secs(bucket));
        }
        let current = now.saturating_duration_since(self.epoch).as_secs();
        self.global.retain(|b, _| *b >= current);
        *self.global.entry(bucket).or_insert(0) += 1;
        if self.next_chat.len() > 10_000 {
            self.next_chat.retain(|_, t| *t > now);
        }
        let gap = if chat_id < 0 { self.group_gap } else { self.chat_gap };
        self.next_chat.insert(chat_id, at + gap);
        at
    }
}

pub struct BotApi {
    http: reqwest::Client,
    base: String,
    pacer: Mutex<Pacer>,
}

impl BotApi {
    pub fn new(api_base: &str, token: &str, limits: &TelegramLimits) -> Result<BotApi, reqwest::Error> {
        Ok(BotApi {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(40))
                .connect_timeout(Duration::from_secs(10))
                .build()?,
            base: format!("{}/bot{}", api_base.trim_end_matches('/'), token),
            pacer: Mutex::new(Pacer {
                chat_gap: Duration::from_secs_f64(1.0 / limits.per_chat_per_sec),
                group_gap: Duration::from_secs_f64(60.0 / limits.group_per_min),
                global_per_sec: (limits.global_per_sec.floor() as u32).max(1),
                epoch: Instant::now(),
                global: BTreeMap::new(),
                next_chat: HashMap::new(),
            }),
        })
    }

    /// Waits for this chat's turn (sends only; answers to callbacks are not paced).
    pub async fn pace(&self, chat_id: i64) {
        let at = self.pacer.lock().await.reserve(chat_id);
        tokio::time::sleep_until(at).await;
    }

    /// Calls `method`; `retry_after` up to 30 s is waited out here.
    pub async fn call(&self, method: &str, body: &Value) -> Result<Value, TgError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.call_once(method, body).await {
                Err(TgError::RetryAfter(secs)) if secs <= MAX_INLINE_RETRY && attempts < 4 => {
                    tracing::warn!(method, retry_after = secs, "Telegram flood control");
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                }
                other => return other,
            }
        }
    }

    async fn call_once(&self, method: &str, body: &Value) -> Result<Value, TgError> {
        let resp = self
            .http
            .post(format!("{}/{method}", self.base))
            .json(body)
            .send()
            .await
            // The URL carries the bot token: never let it into an error (logs, outbox.last_error).
            .map_err(reqwest::Error::without_url)?;
        answer(resp).await
    }

    pub async fn send_message(&self, chat_id: i64, text: &str, reply_markup: Option<Value>) -> Result<Value, TgError> {
        self.pace(chat_id).await;
        let mut body = json!({"chat_id": chat_id, "text": text});
        if let Some(m) = reply_markup {
            body["reply_markup"] = m;
        }
        self.call("sendMessage", &body).await
    }

    /// Sends once: a 429 comes back to the caller (the outbox reschedules the message) instead
    /// of being waited out here, and pauses the chat so nothing overtakes it.
    pub async fn send_message_once(
        &self,
        chat_id: i64,
        text: &str,
        reply_markup: Option<Value>,
    ) -> Result<Value, TgError> {
        self.pace(chat_id).await;
        let mut body = json!({"chat_id": chat_id, "text": text});
        if let Some(m) = reply_markup {
            body["reply_markup"] = m;
        }
        let res = self.call_once("sendMessage", &body).await;
        if let Err(TgError::RetryAfter(secs)) = &res {
            let until = Instant::now() + Duration::from_secs(*secs);
            self.pacer.lock().await.pause(chat_id, until);
        }
        res
    }

    pub async fn answer_callback(&self, id: &str, text: &str, show_alert: bool) -> Result<(), TgError> {
        self.call(
            "answerCallbackQuery",
            &json!({"callback_query_id": id, "text": text, "show_alert": show_alert}),
        )
        .await
        .map(|_| ())
    }

    /// Edits a message; "message is not modified" counts as done (a retry after success).
    pub async fn edit_message(&self, chat_id: i64, message_id: i64, text: &str, markup: Value) -> Result<(), TgError> {
        self.pace(chat_id).await;
        match self
            .call(
                "editMessageText",
                &json!({"chat_id": chat_id, "message_id": message_id, "text": text, "reply_markup": markup}),
            )
            .await
        {
            Err(TgError::BadRequest(d)) if d.contains("not modified") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Uploads a file to a chat (`sendDocument`, multipart), once: a 429 comes back to the
    /// caller and pauses the chat, like `send_message_once`.
    pub async fn send_document_once(
        &self,
        chat_id: i64,
        file_name: &str,
        content_type: &str,
        bytes: &[u8],
        caption: &str,
    ) -> Result<Value, TgError> {
        self.pace(chat_id).await;
        let file = reqwest::multipart::Part::bytes(bytes.to_vec())
            .file_name(file_name.to_string())
            .mime_str(content_type)
            .map_err(|_| TgError::BadRequest(format!("`{content_type}` is not a content type")))?;
        let mut form = reqwest::multipart::Form::new()
            .text("chat_id", chat_id.to_string())
            .part("document", file);
        if !caption.is_empty() {
            form = form.text("caption", caption.to_string());
        }
        let res = match self
            .http
            .post(format!("{}/sendDocument", self.base))
            .multipart(form)
            .send()
            .await
        {
            Ok(resp) => answer(resp).await,
            Err(e) => Err(e.without_url().into()),
        };
        if let Err(TgError::RetryAfter(secs)) = &res {
            let until = Instant::now() + Duration::from_secs(*secs);
            self.pacer.lock().await.pause(chat_id, until);
        }
        res
    }
}

/// A Bot API answer: `result` when `ok`, else the error it names (flood control's
/// `retry_after`, a group's `migrate_to_chat_id`, a blocked bot, a server error).
async fn answer(resp: reqwest::Response) -> Result<Value, TgError> {
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(reqwest::Error::without_url)?;
    let v: Value = serde_json::from_str(&text).map_err(|_| {
        if status >= 500 {
            TgError::Server(status)
        } else {
            TgError::Decode(text.chars().take(200).collect())
        }
    })?;
    if v.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(v.get("result").cloned().unwrap_or(Value::Null));
    }
    let description = v.get("description").and_then(Value::as_str).unwrap_or("").to_string();
    let params = v.get("parameters");
    if let Some(secs) = params.and_then(|p| p.get("retry_after")).and_then(Value::as_u64) {
        return Err(TgError::RetryAfter(secs));
    }
    if let Some(id) = params.and_then(|p| p.get("migrate_to_chat_id")).and_then(Value::as_i64) {
        return Err(TgError::Migrated(id));
    }
    Err(match status {
        403 => TgError::Forbidden(description),
        429 => TgError::RetryAfter(1),
        s if s >= 500 => TgError::Server(s),
        _ => TgError::BadRequest(description),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer() -> Pacer {
        let l = TelegramLimits::default();
        Pacer {
            chat_gap: Duration::from_secs_f64(1.0 / l.per_chat_per_sec),
            group_gap: Duration::from_secs_f64(60.0 / l.group_per_min),
            global_per_sec: l.global_per_sec as u32,
            epoch: Instant::now(),
            global: BTreeMap::new(),
            next_chat: HashMap::new(),
        }
    }

    #[test]
    fn one_busy_chat_or_group_does_not_hold_up_the_others() {
        let mut p = pacer();
        let t = p.epoch;
        for _ in 0..3 {
            p.reserve_at(7, t);
        }
        assert_eq!(p.reserve_at(7, t), t + Duration::from_secs(3), "1 msg/s into one chat");
        p.reserve_at(-100, t);
        assert_eq!(p.reserve_at(-100, t), t + Duration::from_secs(3), "20/min into a group");
        assert_eq!(p.reserve_at(8, t), t, "another client is not kept waiting");
    }

    #[test]
    fn at_most_the_global_rate_in_any_second() {
        let mut p = pacer();
        let t = p.epoch;
        let slots: Vec<Instant> = (0..61).map(|chat| p.reserve_at(chat, t)).collect();
        assert!(slots[..30].iter().all(|s| *s == t));
        assert_eq!(slots[30], t + Duration::from_secs(1));
        assert_eq!(slots[60], t + Duration::from_secs(2));
    }

    #[tokio::test]
    async fn transport_errors_never_carry_the_token() {
        // Nothing listens on port 1: the request fails before any answer.
        let api = BotApi::new("http://127.0.0.1:1", "123456:SECRET-token", &TelegramLimits::default()).unwrap();
        let err = api.call_once("getMe", &json!({})).await.unwrap_err();
        assert!(matches!(err, TgError::Http(_)), "{err:?}");
        for shown in [err.to_string(), format!("{err:?}"), err.into_delivery().to_string()] {
            assert!(!shown.contains("SECRET"), "token leaked: {shown}");
        }
    }
}
