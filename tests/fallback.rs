//! The fallback chain end to end: a lead with no chat the bot can talk on is reached along its
//! source's chain (an SMS with a Telegram link through the local SMS gateway, then the next
//! step), the client continuing in Telegram (the local Bot API server) stays the same lead with
//! one transcript; quiet hours defer, caps pass a step over, "СТОП" ends it.

mod common;

use std::time::Duration;

use chrono::{Timelike, Utc};
use common::fake_sms::{FakeSms, API_ID};
use common::fake_telegram::{FakeTelegram, TOKEN};
use common::TestApp;
use leadbot::config::{Config, FallbackSettings, SmsSettings, TelegramSettings};
use serde_json::{json, Value};

const SECRET: &str = "5f0c2d1e_example-secret";
const CLIENT: i64 = 123456789;
const WAIT: Duration = Duration::from_secs(10);

fn sms_settings(fake: &FakeSms) -> SmsSettings {
    let mut s: SmsSettings = toml::from_str(&format!("provider = \"smsru\"\napi_base = \"{}\"\n", fake.base)).unwrap();
    s.api_id = Some(API_ID.into());
    s.callback_secret = Some("cb_secret_0123456789".into());
    s
}

fn tg_settings(fake: &FakeTelegram) -> TelegramSettings {
    let mut s: TelegramSettings =
        toml::from_str(&format!("bot = \"lead_demo_bot\"\napi_base = \"{}\"\n", fake.base)).unwrap();
    s.token = Some(TOKEN.into());
    s.webhook_secret = Some(SECRET.into());
    s
}

/// A chain for the source `ads`: its own chat, an SMS with a link, another SMS (over the
/// per-lead cap), a call (no voice provider here).
fn fallback(extra: &str) -> FallbackSettings {
    toml::from_str(&format!(
        r#"
time_zone = "UTC"
{extra}
[[fallback.ads]]
channel = "lead"
wait = "10m"
[[fallback.ads]]
channel = "sms"
wait = "1500ms"
[[fallback.ads]]
channel = "sms"
wait = "1s"
[[fallback.ads]]
channel = "voice"
wait = "1s"
"#
    ))
    .unwrap()
}

async fn start(sms: &FakeSms, tg: Option<&FakeTelegram>, fb: FallbackSettings) -> TestApp {
    let s = sms_settings(sms);
    let t = tg.map(tg_settings);
    TestApp::spawn_with(move |c: &mut Config| {
        c.sms = Some(s);
        c.telegram = t;
        c.fallback = Some(fb);
    })
    .await
}

async fn ad_lead(app: &TestApp, ext: &str) -> i64 {
    let (code, body) = app
        .post(
            "/api/v1/leads",
            json!({"source": "ads", "external_id": ext, "channel": "avito", "name": "Ирина", "phone": "+79161234567"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    body["id"].as_i64().unwrap()
}

fn lines(lead: &Value) -> Vec<String> {
    lead["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn wait<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn text_update(update_id: i64, text: &str) -> Value {
    let mut u = common::fixture("telegram/update_message_private_text.teloxide.json");
    u["update_id"] = json!(update_id);
    u["message"]["text"] = json!(text);
    u["message"]["from"]["id"] = json!(CLIENT);
    u["message"]["chat"]["id"] = json!(CLIENT);
    u
}

async fn post_update(app: &TestApp, update: &Value) {
    let code = app
        .http
        .post(format!("{}/webhooks/telegram/lead_demo_bot", app.base))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(update)
        .send()
        .await
        .unwrap()
        .status();
    assert!(code.is_success(), "{code}");
}

#[tokio::test]
async fn an_ad_lead_gets_an_sms_with_a_link_and_continues_in_telegram_as_one_lead() {
    let sms = FakeSms::start().await;
    let tg = FakeTelegram::start().await;
    let app = start(&sms, Some(&tg), fallback("")).await;
    let id = ad_lead(&app, "ad-1").await;

    // The ad platform's chat is not connected: passed over; the SMS goes to the card's number
    // with a deep link bound to this lead.
    let sent = wait("the SMS", async || Some(sms.sent()).filter(|s| !s.is_empty())).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, "79161234567");
    let text = &sent[0].2;
    let token = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("https://t.me/lead_demo_bot?start="))
        .unwrap_or_else(|| panic!("no deep link in {text}"))
        .to_string();
    let lead = app.lead(id).await;
    assert_eq!(
        lead["status"], "new",
        "the card's number waits for the client: {lead:#}"
    );
    let said = lines(&lead);
    assert!(said.iter().any(|l| l.contains("avito: канал не подключён")), "{said:?}");
    assert!(said.iter().any(|l| l == text), "the SMS is in the transcript: {said:?}");
    assert!(lead["timers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["kind"] == "fallback"));

    // The client presses Start in Telegram: the same lead, its dialog goes on there.
    post_update(&app, &text_update(11, &format!("/start {token}"))).await;
    let lead = app.wait_for(id, WAIT, |l| l["status"] == "bot_processing").await;
    assert_eq!(lead["channel"], "telegram");
    wait("the greeting in Telegram", async || {
        Some(tg.calls("sendMessage")).filter(|c| c.iter().any(|c| c.body["chat_id"] == CLIENT))
    })
    .await;
    post_update(&app, &text_update(12, "мой номер 8 916 765-43-21")).await;
    let lead = app.wait_for(id, WAIT, |l| l["status"] == "assigned").await;
    assert_eq!(lead["phone"], "+79167654321");

    // One lead, one transcript: the SMS, the step notes, the Telegram dialog.
    let said = lines(&lead);
    let pos = |needle: &str| {
        said.iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not in {said:?}"))
    };
    assert!(pos("sms: отправлено") < pos("telegram: клиент ответил"));
    assert!(pos("telegram: клиент ответил") < pos("8 916 765-43-21"));
    let (_, list) = app.get("/api/v1/leads?limit=100").await;
    assert_eq!(list["leads"].as_array().unwrap().len(), 1, "no second lead: {list}");
    // The chain stopped: its timer is gone, and no second SMS or call comes.
    assert!(!lead["timers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["kind"] == "fallback"));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(sms.sent().len(), 1);
    let m = app.metrics().await;
    let steps = |channel: &str, reason: &str| {
        m.value(
            "leadbot_fallback_steps_total",
            &[("channel", channel), ("reason", reason)],
        )
    };
    // (The recorder is the process's: the other tests of this file count too.)
    assert!(steps("sms", "sent") >= 1.0);
    assert!(steps("avito", "no_adapter") >= 1.0);
    assert_eq!(steps("telegram", "answered"), 1.0, "only this test answers in Telegram");
    app.stop().await;
}

#[tokio::test]
async fn without_an_answer_the_chain_runs_out_within_its_caps_and_the_lead_needs_review() {
    let sms = FakeSms::start().await;
    // One SMS per lead, and one a day for the whole service.
    let app = start(&sms, None, fallback("[caps]\nsms_per_lead = 1\nsms_per_day = 1\n")).await;
    let first = ad_lead(&app, "ad-1").await;
    // No Telegram: the SMS has no link, still goes.
    wait("the SMS", async || Some(sms.sent()).filter(|s| !s.is_empty())).await;
    // The SMS's wait ends: the second SMS is over the per-lead cap, the call has no provider.
    let lead = app.wait_for(first, WAIT, |l| l["reason"] == "no_channel").await;
    assert_eq!(lead["status"], "needs_review");
    let said = lines(&lead);
    for needle in [
        "sms: нет ответа",
        "sms: лимит на лид исчерпан",
        "voice: канал не подключён",
        "каналы исчерпаны",
    ] {
        assert!(said.iter().any(|l| l.contains(needle)), "{needle} not in {said:?}");
    }
    // A second lead the same day: the day's SMS is spent.
    let second = ad_lead(&app, "ad-2").await;
    let lead = app.wait_for(second, WAIT, |l| l["reason"] == "no_channel").await;
    assert!(lines(&lead).iter().any(|l| l.contains("sms: дневной лимит исчерпан")));
    assert_eq!(sms.sent().len(), 1, "caps respected: {:?}", sms.sent());
    let m = app.metrics().await;
    assert_eq!(
        m.value(
            "leadbot_fallback_steps_total",
            &[("channel", "sms"), ("reason", "day_cap")]
        ),
        2.0,
        "both SMS steps of the second lead"
    );
    assert_eq!(
        m.value(
            "leadbot_fallback_steps_total",
            &[("channel", "none"), ("reason", "exhausted")]
        ),
        2.0
    );
    app.stop().await;
}

#[tokio::test]
async fn at_night_the_sms_waits_for_the_morning_and_stop_ends_every_send() {
    let sms = FakeSms::start().await;
    // Quiet hours around the current hour (UTC is the clients' zone here).
    let now = Utc::now();
    let from = (now - chrono::Duration::hours(1)).hour();
    let to = (now + chrono::Duration::hours(2)).hour();
    let quiet = format!("[quiet_hours]\nfrom = \"{from:02}:00\"\nto = \"{to:02}:00\"\n");
    let app = start(&sms, None, fallback(&quiet)).await;
    let id = ad_lead(&app, "ad-night").await;
    let lead = app
        .wait_for(id, WAIT, |l| {
            l["transcript"].as_array().is_some_and(|t| {
                t.iter()
                    .any(|e| e["text"].as_str().unwrap_or("").contains("тихие часы"))
            })
        })
        .await;
    // Deferred, not dropped: the chain's timer is due at the end of the quiet hours.
    let timer = lead["timers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "fallback")
        .cloned()
        .unwrap_or_else(|| panic!("no fallback timer: {lead:#}"));
    let due: chrono::DateTime<Utc> = serde_json::from_value(timer["due_at"].clone()).unwrap();
    assert_eq!(due.hour(), to, "{timer}");
    assert_eq!(due.minute(), 0);
    assert!(due > now);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sms.sent().is_empty(), "no SMS at night");

    // The client writes "СТОП" (the web chat of the lead): nothing more is sent on any channel.
    let (code, body) = app
        .post(&format!("/api/v1/leads/{id}/messages"), json!({"text": "СТОП"}))
        .await;
    assert_eq!(code, 202, "{body}");
    let lead = app.wait_for(id, WAIT, |l| l["reason"] == "refused").await;
    assert!(
        !lead["timers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "fallback"),
        "{lead:#}"
    );
    assert!(lines(&lead).iter().any(|l| l.contains("отказался от сообщений")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sms.sent().is_empty());
    let m = app.metrics().await;
    assert_eq!(
        m.value(
            "leadbot_fallback_steps_total",
            &[("channel", "sms"), ("reason", "quiet_hours")]
        ),
        1.0
    );
    app.stop().await;
}
