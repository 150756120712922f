//! Bookings end to end: the whole app with booking.toml on the web chat and Telegram (the fake
//! Bot API), the calendar being our own store (PostgreSQL or SQLite), the real clock. A booking
//! in one message and in several; two clients racing for one slot, a hundred times; a reminder
//! across a restart, sent once, then cancel and reschedule from it; an LLM that times out
//! leaving the intent to the rules; hand-off on "позовите человека".

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use chrono::{DateTime, Datelike, Duration as Span, TimeZone, Timelike, Utc};
use chrono_tz::Europe::Moscow;
use common::fake_telegram::{FakeTelegram, TOKEN};
use common::{bot_texts, StoreKind, TestApp, TestDb};
use leadbot::config::{BookingSettings, Config, LlmConfig, TelegramSettings};
use leadbot::store::BookingRow;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(15);

/// A salon open every day 09:00–21:00 (so the tests do not depend on the weekday), horizon long
/// enough for a hundred rounds of the race.
fn salon(reminders: &str) -> BookingSettings {
    salon_in("Europe/Moscow", reminders)
}

fn salon_in(tz: &str, reminders: &str) -> BookingSettings {
    toml::from_str(&format!(
        r#"
time_zone = "{tz}"
horizon_days = 60
slot_step = "5m"
buffer = "10m"
reminders = [{reminders}]
csat_after_visit = "2h"
[[services]]
id = "haircut"
name = "Стрижка"
duration = "60m"
words = ["стриж", "подстри"]
resources = ["anna"]
[[services]]
id = "coloring"
name = "Окрашивание"
duration = "2h"
words = ["окраш", "покрас"]
resources = ["anna"]
[[resources]]
id = "anna"
name = "Анна"
hours = {{ mon = "09:00-21:00", tue = "09:00-21:00", wed = "09:00-21:00", thu = "09:00-21:00", fri = "09:00-21:00", sat = "09:00-21:00", sun = "09:00-21:00" }}
"#
    ))
    .expect("test booking.toml")
}

fn with_salon(reminders: &'static str) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| c.booking = Some(salon(reminders))
}

/// "DD.MM" of the local day `days` from today in Moscow.
fn day(days: i64) -> String {
    day_in(Moscow, days)
}

fn day_in(tz: chrono_tz::Tz, days: i64) -> String {
    let d = (Utc::now().with_timezone(&tz) + Span::days(days)).date_naive();
    format!("{:02}.{:02}", d.day(), d.month())
}

fn at(days: i64, h: u32, m: u32) -> DateTime<Utc> {
    at_in(Moscow, days, h, m)
}

fn at_in(tz: chrono_tz::Tz, days: i64, h: u32, m: u32) -> DateTime<Utc> {
    let d = (Utc::now().with_timezone(&tz) + Span::days(days)).date_naive();
    tz.from_local_datetime(&d.and_hms_opt(h, m, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

async fn bookings(app: &TestApp) -> Vec<BookingRow> {
    let stores = &app.running.as_ref().unwrap().stores;
    stores
        .bookings
        .bookings_between(Utc::now() - Span::days(1), Utc::now() + Span::days(90))
        .await
        .unwrap()
}

async fn said(app: &TestApp, lead: i64, what: &str) -> Value {
    let what = what.to_string();
    app.wait_for(lead, WAIT, move |l| bot_texts(l).iter().any(|t| t.contains(&what)))
        .await
}

async fn a_booking_in_one_message(kind: StoreKind) {
    let app = TestApp::spawn_in_with(kind, with_salon(r#""24h", "2h""#)).await;
    let text = format!(
        "Здравствуйте, хочу на стрижку {} в 11:00, мой номер +7 918 123-45-67",
        day(3)
    );
    let (id, _) = app.new_lead("b-one", Some(&text)).await;
    said(&app, id, "Записали").await;
    app.wait_for(id, WAIT, |l| l["status"] == "assigned").await;
    let rows = bookings(&app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].starts_at, at(3, 11, 0));
    assert_eq!(rows[0].status, "booked");
    assert_eq!(rows[0].phone.as_deref(), Some("+79181234567"));
    let lead = app.lead(id).await;
    let kinds: Vec<&str> = lead["timers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["kind"].as_str())
        .collect();
    for k in ["reminder_1", "reminder_2", "csat"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    // The manager's notice carries the visit.
    let notes = app.wait_notifications(1, WAIT).await;
    assert!(
        notes.iter().any(|(_, n)| n.to_string().contains("Запись: Стрижка")),
        "{notes:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn postgres_a_booking_in_one_message() {
    a_booking_in_one_message(StoreKind::Postgres).await;
}

#[tokio::test]
async fn sqlite_a_booking_in_one_message() {
    a_booking_in_one_message(StoreKind::Sqlite).await;
}

#[tokio::test]
async fn a_booking_in_five_messages_on_the_web_chat() {
    let app = TestApp::spawn_in_with(StoreKind::Sqlite, with_salon(r#""24h""#)).await;
    let (id, _) = app.new_lead("b-five", Some("Добрый день")).await;
    said(&app, id, "На какую услугу").await;
    let out = app.say(id, "подстричься хочу").await;
    assert!(out.last().unwrap().contains("Когда вам удобно"), "{out:?}");
    let out = app.say(id, &format!("{} после 15", day(4))).await;
    assert!(out.last().unwrap().contains("свободно"), "{out:?}");
    let out = app.say(id, "2").await;
    assert!(out.last().unwrap().contains("номер телефона"), "{out:?}");
    let out = app.say(id, "89181234567").await;
    assert!(out.iter().any(|t| t.contains("Записали")), "{out:?}");
    let rows = bookings(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].starts_at, at(4, 15, 5));
    app.stop().await;
}

#[tokio::test]
async fn two_clients_racing_for_one_slot_a_hundred_times_one_gets_it() {
    let app = Arc::new(TestApp::spawn_in_with(StoreKind::Postgres, with_salon(r#""24h""#)).await);
    // Two hours and the 10-minute buffer apart: each round's slot is free until its race.
    let times = [(9, 0), (11, 30), (14, 0), (16, 30)];
    for round in 0..100u32 {
        let d = 1 + i64::from(round / 4);
        let (h, m) = times[(round % 4) as usize];
        let text = |n: u32| {
            format!(
                "окрашивание {} в {h}:{m:02}, телефон 8918{:07}",
                day(d),
                2_345_000 + round * 2 + n
            )
        };
        let (a, b) = (text(0), text(1));
        let (app1, app2) = (app.clone(), app.clone());
        let (ra, rb) = tokio::join!(
            async move { app1.new_lead(&format!("race-{round}-a"), Some(&a)).await },
            async move { app2.new_lead(&format!("race-{round}-b"), Some(&b)).await },
        );
        // Both answered: one booked, the other offered other times.
        let la = app.wait_for(ra.0, WAIT, |l| bot_texts(l).len() >= 2).await;
        let lb = app.wait_for(rb.0, WAIT, |l| bot_texts(l).len() >= 2).await;
        let won = |l: &Value| bot_texts(l).iter().any(|t| t.contains("Записали"));
        assert!(
            won(&la) ^ won(&lb),
            "round {round}: {:?} / {:?}",
            bot_texts(&la),
            bot_texts(&lb)
        );
        let loser = if won(&la) { &lb } else { &la };
        assert!(
            bot_texts(loser)
                .iter()
                .any(|t| t.contains("заняли") || t.contains("занято")),
            "round {round}: {:?}",
            bot_texts(loser)
        );
    }
    let rows = bookings(&app).await;
    assert_eq!(rows.iter().filter(|r| r.status == "booked").count(), 100);
    let mut starts: Vec<_> = rows.iter().map(|r| r.starts_at).collect();
    starts.dedup();
    assert_eq!(starts.len(), 100, "one booking per slot");
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

/// A zone where it is about noon now (`Etc/GMT-N` is UTC+N): a visit minutes ahead is inside
/// the salon's hours whenever the test runs — and the zone is not the server's.
fn noon_zone() -> (chrono_tz::Tz, String) {
    let h = i64::from(Utc::now().hour());
    let mut offset = 12 - h;
    if offset < -12 {
        offset += 24;
    }
    if offset > 14 {
        offset -= 24;
    }
    let name = match offset {
        0 => "Etc/GMT".to_string(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    };
    (name.parse().expect("an Etc zone"), name)
}

/// A visit ~12 minutes ahead and a reminder due `lead` seconds from now.
fn soon(lead_secs: i64) -> (DateTime<Utc>, String) {
    let now = Utc::now();
    let mut start = now + Span::minutes(12);
    start = start - Span::seconds(i64::from(start.second())) - Span::nanoseconds(i64::from(start.nanosecond()));
    let extra = (5 - start.minute() % 5) % 5;
    start += Span::minutes(i64::from(extra));
    let before = (start - now).num_seconds() - lead_secs;
    (start, format!("\"{before}s\""))
}

fn local_words(start: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let l = start.with_timezone(&tz);
    format!("{:02}.{:02} в {:02}:{:02}", l.day(), l.month(), l.hour(), l.minute())
}

#[tokio::test]
async fn a_reminder_across_a_restart_is_sent_once_and_cancel_frees_the_slot() {
    let (tz, zone) = noon_zone();
    let (start, reminder) = soon(6);
    let cfg = move |c: &mut Config| c.booking = Some(salon_in(&zone, &reminder));
    let db = TestDb::fresh(StoreKind::Sqlite);
    let mut app = TestApp::spawn_on(db.clone(), cfg.clone()).await;
    let text = format!("стрижка {}, 89181234567", local_words(start, tz));
    let (id, _) = app.new_lead("b-rem", Some(&text)).await;
    said(&app, id, "Записали").await;
    app.shutdown().await;
    // Down while the reminder falls due.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let app = TestApp::spawn_on(db.clone(), cfg).await;
    let lead = said(&app, id, "Напоминаем").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let lead2 = app.lead(id).await;
    let count = bot_texts(&lead2).iter().filter(|t| t.starts_with("Напоминаем")).count();
    assert_eq!(count, 1, "{:?}", bot_texts(&lead));
    let out = app.say(id, "Отменить").await;
    assert!(out.last().unwrap().contains("отменена"), "{out:?}");
    let rows = bookings(&app).await;
    assert_eq!(rows[0].status, "cancelled");
    // The time is free again at once: another client books it.
    let (other, _) = app
        .new_lead(
            "b-rem-2",
            Some(&format!("стрижка {}, 89181234568", local_words(start, tz))),
        )
        .await;
    said(&app, other, "Записали").await;
    app.stop().await;
}

#[tokio::test]
async fn a_reschedule_from_the_reminder_moves_the_visit() {
    let (tz, zone) = noon_zone();
    let (start, reminder) = soon(3);
    let app = TestApp::spawn_in_with(StoreKind::Postgres, move |c| {
        c.booking = Some(salon_in(&zone, &reminder))
    })
    .await;
    let (id, _) = app
        .new_lead(
            "b-move",
            Some(&format!("стрижка {}, 89181234567", local_words(start, tz))),
        )
        .await;
    said(&app, id, "Записали").await;
    said(&app, id, "Напоминаем").await;
    let out = app.say(id, "Перенести").await;
    assert!(out.last().unwrap().contains("перенести"), "{out:?}");
    let out = app.say(id, &format!("{} в 10:00", day_in(tz, 2))).await;
    assert!(out.iter().any(|t| t.starts_with("Перенесли")), "{out:?}");
    let rows = bookings(&app).await;
    let booked: Vec<_> = rows.iter().filter(|r| r.status == "booked").collect();
    assert_eq!(booked.len(), 1, "{rows:?}");
    assert_eq!(booked[0].starts_at, at_in(tz, 2, 10, 0));
    assert_eq!(rows.iter().filter(|r| r.status == "cancelled").count(), 1);
    app.stop().await;
}

/// A chat-completions server that answers after `delay` (longer than the client waits).
async fn slow_llm(delay: Duration) -> String {
    let router = axum::Router::new().route(
        "/chat/completions",
        post(move || async move {
            tokio::time::sleep(delay).await;
            axum::Json(json!({"choices": [{"message": {"content": "{\"intent\": \"cancel\", \"confidence\": 1.0}"}}]}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_llm_that_times_out_leaves_the_intent_to_the_rules() {
    let base = slow_llm(Duration::from_secs(5)).await;
    let app = TestApp::spawn_in_with(StoreKind::Sqlite, move |c| {
        let mut b = salon(r#""24h""#);
        b.use_llm = true;
        c.booking = Some(b);
        c.routing.llm = Some(LlmConfig {
            base_url: base,
            model: "test".into(),
            timeout: Duration::from_millis(200),
            api_key: None,
        });
    })
    .await;
    let started = std::time::Instant::now();
    let (id, _) = app.new_lead("b-llm", Some("хочу записаться на стрижку")).await;
    said(&app, id, "Когда вам удобно").await;
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    let m = app.metrics().await;
    assert!(
        m.value("leadbot_llm_intent_duration_seconds_count", &[("result", "rules")]) >= 1.0,
        "no rules decision recorded"
    );
    app.stop().await;
}

#[tokio::test]
async fn handoff_on_asking_for_a_person() {
    let app = TestApp::spawn_in_with(StoreKind::Sqlite, with_salon(r#""24h""#)).await;
    let (id, _) = app.new_lead("b-human", Some("Здравствуйте, хочу на окрашивание")).await;
    said(&app, id, "Когда вам удобно").await;
    let out = app.say(id, "позовите человека").await;
    assert!(out.last().unwrap().contains("Передаю"), "{out:?}");
    let lead = app.wait_for(id, WAIT, |l| l["status"] == "assigned").await;
    assert_eq!(lead["reason"], "handed_off", "{lead:#}");
    let notes = app.wait_notifications(1, WAIT).await;
    let note = notes
        .iter()
        .map(|(_, n)| n.to_string())
        .find(|n| n.contains("живого"))
        .expect("the manager is told");
    assert!(
        note.contains("позовите человека") && note.contains("окрашивание"),
        "{note}"
    );
    app.stop().await;
}

fn telegram(fake: &FakeTelegram) -> TelegramSettings {
    let mut s: TelegramSettings =
        toml::from_str(&format!("bot = \"lead_demo_bot\"\napi_base = \"{}\"\n", fake.base)).unwrap();
    s.token = Some(TOKEN.into());
    s.webhook_secret = Some("5f0c2d1e_example-secret".into());
    s
}

fn tg_text(update_id: i64, text: &str) -> Value {
    let mut u: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/telegram/update_message_private_text.teloxide.json").unwrap(),
    )
    .unwrap();
    u["update_id"] = json!(update_id);
    u["message"]["text"] = json!(text);
    u["message"]["from"]["id"] = json!(777001);
    u["message"]["chat"]["id"] = json!(777001);
    u
}

async fn tg_post(app: &TestApp, update: &Value) {
    let status = app
        .http
        .post(format!("{}/webhooks/telegram/lead_demo_bot", app.base))
        .header("X-Telegram-Bot-Api-Secret-Token", "5f0c2d1e_example-secret")
        .json(update)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
}

async fn tg_wait(fake: &FakeTelegram, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let sent: Vec<Value> = fake
            .calls("sendMessage")
            .into_iter()
            .filter(|c| c.body["chat_id"] == 777001)
            .map(|c| c.body)
            .collect();
        if sent.len() >= n {
            return sent;
        }
        assert!(std::time::Instant::now() < deadline, "only {sent:?}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

#[tokio::test]
async fn a_booking_on_telegram_with_slot_buttons() {
    let fake = FakeTelegram::start().await;
    let s = telegram(&fake);
    let app = TestApp::spawn_in_with(StoreKind::Sqlite, move |c| {
        c.telegram = Some(s);
        c.booking = Some(salon(r#""24h""#));
    })
    .await;
    tg_post(&app, &tg_text(1, &format!("Хочу на стрижку {} после 12", day(5)))).await;
    // Greeting, then the offer with one button per slot.
    let sent = tg_wait(&fake, 2).await;
    let offer = sent
        .iter()
        .find(|m| m["text"].as_str().unwrap_or("").contains("свободно"))
        .expect("an offer");
    let buttons: Vec<String> = offer["reply_markup"]["keyboard"]
        .as_array()
        .expect("a keyboard")
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter())
        .map(|b| b["text"].as_str().unwrap().to_string())
        // The contact button stays while the phone is unknown.
        .filter(|b| !b.starts_with("📱"))
        .collect();
    assert_eq!(buttons.len(), 3, "{buttons:?}");
    assert!(buttons[0].ends_with("12:00"), "{buttons:?}");
    // The client taps the first one, then sends the phone.
    tg_post(&app, &tg_text(2, &buttons[0])).await;
    let n = tg_wait(&fake, 3).await.len();
    tg_post(&app, &tg_text(3, "+7 918 765-43-21")).await;
    let sent = tg_wait(&fake, n + 1).await;
    assert!(
        sent.iter()
            .any(|m| m["text"].as_str().unwrap_or("").contains("Записали")),
        "{sent:?}"
    );
    let rows = bookings(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].starts_at, at(5, 12, 0));
    assert_eq!(rows[0].channel, "telegram");
    app.stop().await;
}
