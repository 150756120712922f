//! Hostile bodies at every public endpoint of the running app (real PostgreSQL): truncated and
//! corrupted fixtures, random bytes, NUL bytes, invalid UTF-8, huge numbers, deep nesting, wrong
//! types, oversized bodies and wrong content types. Whatever comes in, the answer is never a
//! 5xx, and the server still answers afterwards. The bodies come from a seeded generator: a
//! failure names the seed and the smallest failing body, and reproduces.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::fake_bitrix24::FakeBitrix24;
use common::fake_telegram::{FakeTelegram, TOKEN as BOT_TOKEN};
use common::TestApp;
use leadbot::config::{Bitrix24Settings, TelegramSettings};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const B24_TOKEN: &str = "51856fefc120afa4b628cc82d3935cce";
const B24_MEMBER: &str = "a223c6b3710f85df22e9377d6c4f7553";
const TG_SECRET: &str = "hostile-bodies-secret";
const BOT: &str = "lead_demo_bot";
/// Requests in flight at once.
const PARALLEL: usize = 8;

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("tests/fixtures/{path}")).unwrap()
}

fn fixture_json(path: &str) -> Value {
    serde_json::from_str(&fixture(path)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The generator.

/// Values that break parsers: wrong types, extreme numbers, NUL, control and odd characters.
fn hostile_value(rng: &mut StdRng) -> Value {
    match rng.random_range(0..22) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(i64::MAX),
        3 => json!(i64::MIN),
        4 => json!(u64::MAX),
        5 => json!(-0.0),
        6 => json!(1e308),
        7 => json!(""),
        8 => json!("   "),
        9 => json!("\u{0}"),
        10 => json!("a\u{0}b"),
        11 => json!("/start \u{0}"),
        12 => json!("x".repeat(rng.random_range(200..5000))),
        13 => json!("\u{202e}\u{feff}\u{fffd}\u{1f600}\r\n\t\\\"'<script>"),
        14 => json!([]),
        15 => json!({}),
        16 => json!([1, "2", null, {"a": []}]),
        17 => json!({"ID": {"ID": {"ID": 1}}}),
        18 => json!("9223372036854775808"),
        19 => json!("-1"),
        20 => json!("%00%ff%"),
        _ => {
            let s: String = (0..rng.random_range(1..40))
                .map(|_| char::from_u32(rng.random_range(0..0x11_0000)).unwrap_or('\u{fffd}'))
                .collect();
            json!(s)
        }
    }
}

/// Replaces, adds or removes one value somewhere in `v`.
fn mutate_value(rng: &mut StdRng, v: &mut Value, depth: usize) {
    // The root keeps its shape (a whole body of the wrong type is `hostile_body`'s case).
    let here = depth > 6 || (depth > 0 && rng.random_bool(0.3));
    match v {
        Value::Object(map) if !map.is_empty() && !here => {
            let k = map.keys().nth(rng.random_range(0..map.len())).unwrap().clone();
            match rng.random_range(0..10) {
                0 => {
                    map.remove(&k);
                }
                1 => {
                    map.insert(format!("{k}\u{0}"), hostile_value(rng));
                }
                _ => mutate_value(rng, map.get_mut(&k).unwrap(), depth + 1),
            }
        }
        Value::Array(items) if !items.is_empty() && !here => {
            let i = rng.random_range(0..items.len());
            mutate_value(rng, &mut items[i], depth + 1)
        }
        _ => *v = hostile_value(rng),
    }
}

/// Every leaf of `seed` replaced in turn by each value that has broken parsers or stores
/// (NUL, empty, out-of-range numbers, wrong types, a long string): one variant per leaf and value.
fn leaf_variants(seed: &Value) -> Vec<Value> {
    fn leaves(v: &Value, path: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| leaves(v, format!("{path}/{k}"), out)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, v)| leaves(v, format!("{path}/{i}"), out)),
            _ => out.push(path),
        }
    }
    let mut paths = vec![];
    leaves(seed, String::new(), &mut paths);
    let values = [
        json!("a\u{0}b"),
        json!(""),
        json!(u64::MAX),
        json!(-1),
        json!(1.5),
        Value::Null,
        json!([]),
        json!({}),
        json!("ы".repeat(5000)),
    ];
    let mut out = vec![];
    for p in &paths {
        for x in &values {
            let mut v = seed.clone();
            *v.pointer_mut(p).unwrap() = x.clone();
            out.push(v);
        }
    }
    out
}

/// Byte-level damage: truncation, flipped and inserted bytes, invalid UTF-8, raw NULs.
fn mutate_bytes(rng: &mut StdRng, b: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..4) {
        let at = if b.is_empty() { 0 } else { rng.random_range(0..b.len()) };
        match rng.random_range(0..7) {
            0 => b.truncate(at),
            1 if !b.is_empty() => b[at] = rng.random(),
            2 => b.splice(at..at, [0xff, 0xfe, 0xc3, 0x28]).for_each(drop),
            3 => b.insert(at, 0),
            4 => b.splice(at..at, *b"\\u0000").for_each(drop),
            5 => b.splice(at..at, *b"\\ud800").for_each(drop),
            _ => b.splice(at..at, *b"%00%C3%28%").for_each(drop),
        }
    }
}

/// A whole hostile body around `seed` (a valid body of the endpoint).
fn hostile_body(rng: &mut StdRng, seed: &Value) -> Vec<u8> {
    match rng.random_range(0..17) {
        0 => vec![],
        16 => hostile_value(rng).to_string().into_bytes(),
        1 => (0..rng.random_range(1..2000)).map(|_| rng.random()).collect(),
        2 => {
            let d = rng.random_range(100..20_000);
            format!("{}{}", "[".repeat(d), "]".repeat(d)).into_bytes()
        }
        3 => {
            let d = rng.random_range(100..5_000);
            format!("{}1{}", r#"{"a":"#.repeat(d), "}".repeat(d)).into_bytes()
        }
        4 => format!(
            "{{\"update_id\": 1{}, \"ID\": -{}, \"x\": 1e999999}}",
            "0".repeat(rng.random_range(20..400)),
            "9".repeat(30)
        )
        .into_bytes(),
        5 => {
            // Over the 64 KiB body limit.
            let mut v = seed.clone();
            v["padding"] = json!("p".repeat(70_000));
            v.to_string().into_bytes()
        }
        6 => {
            // Just under it, with a text far over the configured text limit.
            let mut v = seed.clone();
            if let Some(m) = v.as_object_mut() {
                for (_, x) in m.iter_mut().filter(|(_, x)| x.is_string()) {
                    *x = json!("ж".repeat(15_000));
                }
            }
            v.to_string().into_bytes()
        }
        7 => {
            let mut b = seed.to_string().into_bytes();
            b.truncate(rng.random_range(0..b.len().max(1)));
            b
        }
        8 => {
            let mut b = seed.to_string().into_bytes();
            mutate_bytes(rng, &mut b);
            b
        }
        9 => {
            let mut b = vec![0xef, 0xbb, 0xbf];
            b.extend(seed.to_string().into_bytes());
            b
        }
        10 => {
            // Duplicate keys: the last one, or a refusal, never a crash.
            let s = seed.to_string();
            format!("{}, {}", &s[..s.len() - 1], &s[1..]).into_bytes()
        }
        _ => {
            let mut v = seed.clone();
            for _ in 0..rng.random_range(1..4) {
                mutate_value(rng, &mut v, 0);
            }
            v.to_string().into_bytes()
        }
    }
}

/// Content types: mostly the right one, sometimes wrong, missing or odd.
fn content_type(rng: &mut StdRng, right: &'static str) -> Option<&'static str> {
    match rng.random_range(0..12) {
        0 => None,
        1 => Some("text/plain"),
        2 => Some("application/x-www-form-urlencoded"),
        3 => Some("application/json; charset=latin1"),
        4 => Some("multipart/form-data; boundary=x"),
        5 => Some("application/jsonx"),
        6 => Some("application/json"),
        _ => Some(right),
    }
}

// ---------------------------------------------------------------------------------------------
// The driver.

struct Shot {
    method: reqwest::Method,
    path: String,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Shot {
    fn post(path: impl Into<String>, content_type: Option<&'static str>, body: Vec<u8>) -> Shot {
        Shot {
            method: reqwest::Method::POST,
            path: path.into(),
            content_type,
            headers: vec![],
            body,
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Shot {
        self.headers.push((name, value.into()));
        self
    }
}

struct Failure {
    status: u16,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    answer: String,
}

/// Fires every shot (a few at a time); returns the ones answered 5xx, smallest body first.
async fn fire(app: &TestApp, shots: Vec<Shot>) -> Vec<Failure> {
    eprintln!("posting {} hostile bodies", shots.len());
    let http = app.http.clone();
    let base = app.base.clone();
    let sem = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut set = tokio::task::JoinSet::new();
    for shot in shots {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (http, base) = (http.clone(), base.clone());
        set.spawn(async move {
            let _permit = permit;
            let mut req = http
                .request(shot.method, format!("{base}{}", shot.path))
                .timeout(Duration::from_secs(30))
                .body(shot.body.clone());
            if let Some(ct) = shot.content_type {
                req = req.header("content-type", ct);
            }
            for (k, v) in &shot.headers {
                req = req.header(*k, v);
            }
            let (status, answer) = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    (status, resp.text().await.unwrap_or_default())
                }
                // No answer at all (the connection dropped) counts as a server failure.
                Err(e) => (599, format!("no answer: {e}")),
            };
            (status >= 500).then_some(Failure {
                status,
                path: shot.path,
                content_type: shot.content_type,
                body: shot.body,
                answer,
            })
        });
    }
    let mut failures: Vec<Failure> = set.join_all().await.into_iter().flatten().collect();
    failures.sort_by_key(|f| f.body.len());
    failures
}

/// Panics with the smallest failing input of each endpoint, if any.
fn assert_no_5xx(what: &str, seed: u64, failures: &[Failure]) {
    if failures.is_empty() {
        return;
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut report = format!("{what} (seed {seed}): {} bodies answered 5xx", failures.len());
    for f in failures {
        let endpoint: String = f.path.chars().filter(|c| !c.is_ascii_digit()).collect();
        // Up to three of each endpoint and status, the smallest first.
        let n = seen.iter().filter(|(e, s, _)| *e == endpoint && *s == f.status).count();
        if n < 3 && seen.insert((endpoint, f.status, f.body.len())) {
            report.push_str(&format!(
                "\n  {} {} content-type {:?}: body {:?} → {}",
                f.status,
                f.path,
                f.content_type,
                String::from_utf8_lossy(&f.body[..f.body.len().min(400)]),
                &f.answer[..f.answer.len().min(300)],
            ));
        }
    }
    panic!("{report}");
}

/// The server still answers: health, and a normal request.
async fn still_answers(app: &TestApp) {
    let (code, _) = app.get("/healthz").await;
    assert_eq!(code, 200, "healthz after the hostile bodies");
    let (code, body) = app.get("/api/v1/leads?limit=1").await;
    assert_eq!(code, 200, "{body}");
}

fn seed_of(name: &str) -> u64 {
    std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            })
        })
}

/// Path ids a client may send instead of a lead id.
fn hostile_id(rng: &mut StdRng, real: i64) -> String {
    match rng.random_range(0..12) {
        0 => "abc".into(),
        1 => "-1".into(),
        2 => "0".into(),
        3 => "9223372036854775808".into(),
        4 => "%00".into(),
        5 => "1.5".into(),
        6 => "999999999".into(),
        _ => real.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// The endpoints.

#[tokio::test]
async fn the_lead_api_never_answers_5xx() {
    let seed = seed_of("leads");
    let mut rng = StdRng::seed_from_u64(seed);
    let app = TestApp::spawn().await;
    let (lead, _) = app.new_lead("hostile-1", Some("Здравствуйте")).await;
    let token = app.tokens.lock().unwrap()[&lead].clone();

    let create = json!({"source": "site", "external_id": "x", "channel": "webchat", "name": "Ольга",
                        "phone": "+7 916 111-22-33", "text": "Хочу заказать", "segment": "A"});
    let message = json!({"text": "+79161112233", "message_id": "m-1"});
    let mut shots = vec![];
    for i in 0..1200 {
        let mut body = hostile_body(&mut rng, &create);
        // Some valid-but-odd leads get through to the intake port and the actors.
        if i % 10 == 0 {
            let mut v = create.clone();
            v["external_id"] = json!(format!("hostile-{i}"));
            mutate_value(&mut rng, &mut v, 1);
            body = v.to_string().into_bytes();
        }
        shots.push(Shot::post(
            "/api/v1/leads",
            content_type(&mut rng, "application/json"),
            body,
        ));
    }
    for i in 0..800 {
        let mut body = hostile_body(&mut rng, &message);
        if i % 5 == 0 {
            let mut v = message.clone();
            v["message_id"] = json!(format!("m-{i}"));
            mutate_value(&mut rng, &mut v, 1);
            body = v.to_string().into_bytes();
        }
        let path = format!("/api/v1/leads/{}/messages", hostile_id(&mut rng, lead));
        let shot = Shot::post(path, content_type(&mut rng, "application/json"), body);
        shots.push(match rng.random_range(0..8) {
            0 => shot,
            1 => shot.header("x-chat-token", "wrong"),
            _ => shot.header("x-chat-token", token.clone()),
        });
    }
    for (i, mut v) in leaf_variants(&create).into_iter().enumerate() {
        if v["external_id"] == create["external_id"] {
            v["external_id"] = json!(format!("leaf-{i}"));
        }
        shots.push(Shot::post(
            "/api/v1/leads",
            Some("application/json"),
            v.to_string().into_bytes(),
        ));
    }
    for (i, mut v) in leaf_variants(&message).into_iter().enumerate() {
        if v["message_id"] == message["message_id"] {
            v["message_id"] = json!(format!("leaf-{i}"));
        }
        let path = format!("/api/v1/leads/{lead}/messages");
        let shot = Shot::post(path, Some("application/json"), v.to_string().into_bytes());
        shots.push(shot.header("x-chat-token", token.clone()));
    }
    assert_no_5xx("the lead API", seed, &fire(&app, shots).await);
    still_answers(&app).await;
    app.say(lead, "Ещё раз здравствуйте").await;
    app.new_lead("hostile-final", Some("Здравствуйте")).await;
    app.stop().await;
}

fn b24_settings(fake: &FakeBitrix24) -> Bitrix24Settings {
    let mut s: Bitrix24Settings = toml::from_str(&format!(
        r#"
portal = "some-domain.bitrix24.com"
member_id = "{B24_MEMBER}"
reconcile_every = "1h"
bot_user_id = 99
[statuses]
bot_processing = "IN_PROCESS"
assigned = "CONVERTED"
low_quality = "JUNK"
needs_review = "NEW"
[openlines]
bot_id = 7
[limits]
rate_per_sec = 500.0
burst = 500
"#
    ))
    .unwrap();
    s.webhook_url = Some(fake.webhook_url());
    s.application_token = Some(B24_TOKEN.into());
    s
}

/// PHP bracket keys, as the portal form-encodes an event.
fn to_form(v: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}[{k}]")
                };
                to_form(v, &key, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                to_form(v, &format!("{prefix}[{i}]"), out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        Value::Null => {}
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[tokio::test]
async fn the_bitrix24_webhook_never_answers_5xx() {
    let seed = seed_of("bitrix24");
    let mut rng = StdRng::seed_from_u64(seed);
    let fake = FakeBitrix24::start().await;
    let s = b24_settings(&fake);
    let app = TestApp::spawn_with(move |c| c.bitrix24 = Some(s)).await;

    let mut events: Vec<Value> = [
        "event-ONCRMLEADADD-app.json",
        "event-ONCRMLEADUPDATE-app.json",
        "event-ONCRMDEALADD-app.json",
        "event-ONCRMDEALUPDATE-app.json",
        "event-ONCRMDEALMOVETOCATEGORY-app.json",
        "event-ONAPPINSTALL.json",
        "event-ONCRMDEALADD-outgoing-webhook.json",
        "event-ONIMBOTV2MESSAGEADD-openline-excerpt.json",
    ]
    .iter()
    .map(|name| fixture_json(&format!("bitrix24/{name}")))
    .collect();
    for e in &mut events {
        e["auth"]["member_id"] = json!(B24_MEMBER);
        e["auth"]["application_token"] = json!(B24_TOKEN);
    }
    let raw = fixture("bitrix24/raw-ONCRMLEADADD-outgoing-webhook-2018.form.txt");
    let raw_contact = fixture("bitrix24/raw-ONCRMCONTACTADD-app-b24phpsdk.form.txt");

    let mut shots = vec![];
    for i in 0..2000 {
        let mut event = events[rng.random_range(0..events.len())].clone();
        let authentic = i % 2 == 0;
        if !authentic {
            event["auth"]["application_token"] = match rng.random_range(0..4) {
                0 => Value::Null,
                1 => json!(""),
                2 => json!(format!("{B24_TOKEN}\u{0}")),
                _ => json!("0".repeat(32)),
            };
        }
        // Damage everything but the credentials, so authentic bodies reach storage.
        let auth = event["auth"].clone();
        for _ in 0..rng.random_range(1..4) {
            mutate_value(&mut rng, &mut event, 0);
        }
        if authentic && rng.random_bool(0.8) {
            event["auth"] = auth;
        }
        if rng.random_bool(0.5) {
            event["ts"] = json!(i.to_string()); // a new event each time, not a duplicate
        }
        let (ct, body) = match rng.random_range(0..6) {
            0 => (
                content_type(&mut rng, "application/json"),
                hostile_body(&mut rng, &event),
            ),
            1 => ("application/json".into(), event.to_string().into_bytes()),
            2 => {
                let mut b = if rng.random_bool(0.5) {
                    raw.trim()
                } else {
                    raw_contact.trim()
                }
                .as_bytes()
                .to_vec();
                mutate_bytes(&mut rng, &mut b);
                (content_type(&mut rng, "application/x-www-form-urlencoded"), b)
            }
            _ => {
                let mut pairs = vec![];
                to_form(&event, "", &mut pairs);
                let mut b = serde_urlencoded::to_string(&pairs).unwrap().into_bytes();
                if rng.random_bool(0.3) {
                    mutate_bytes(&mut rng, &mut b);
                }
                (Some("application/x-www-form-urlencoded"), b)
            }
        };
        shots.push(Shot::post("/webhooks/bitrix24", ct, body));
    }
    let mut n = 0;
    for event in &events {
        for mut v in leaf_variants(event) {
            n += 1;
            if v["ts"] == event["ts"] {
                v["ts"] = json!(format!("leaf-{n}"));
            }
            shots.push(Shot::post(
                "/webhooks/bitrix24",
                Some("application/json"),
                v.to_string().into_bytes(),
            ));
            let mut pairs = vec![];
            to_form(&v, "", &mut pairs);
            let form = serde_urlencoded::to_string(&pairs).unwrap().into_bytes();
            shots.push(Shot::post(
                "/webhooks/bitrix24",
                Some("application/x-www-form-urlencoded"),
                form,
            ));
        }
    }
    assert_no_5xx("the Bitrix24 webhook", seed, &fire(&app, shots).await);
    still_answers(&app).await;
    let (code, _) = app
        .post_raw("/webhooks/bitrix24", &serde_json::to_string(&events[0]).unwrap())
        .await;
    assert_eq!(code, 200, "a real event is still taken");
    app.stop().await;
}

fn tg_settings(fake: &FakeTelegram) -> TelegramSettings {
    let mut s: TelegramSettings = toml::from_str(&format!(
        r#"
bot = "{BOT}"
api_base = "{}"
[limits]
per_chat_per_sec = 1000.0
global_per_sec = 1000.0
group_per_min = 60000.0
[jobs]
group_chat_id = -1001234567890
template = "Заказ {{deal_id}}: {{title}}\nУсловия: {{conditions}}\nОплата: {{pay}}"
[[executors]]
telegram_id = 555000111
crm_user_id = "42"
name = "Пётр Мастер"
"#,
        fake.base
    ))
    .unwrap();
    s.token = Some(BOT_TOKEN.into());
    s.webhook_secret = Some(TG_SECRET.into());
    s
}

#[tokio::test]
async fn the_telegram_webhook_and_the_deal_api_never_answer_5xx() {
    let seed = seed_of("telegram");
    let mut rng = StdRng::seed_from_u64(seed);
    let fake = FakeTelegram::start().await;
    let s = tg_settings(&fake);
    let app = TestApp::spawn_with(move |c| c.telegram = Some(s)).await;

    let updates: Vec<Value> = [
        "update_message_private_text.teloxide.json",
        "update_message_text.official-webhooks-guide.json",
        "update_message_supergroup_reply.teloxide.json",
        "update_my_chat_member_bot_blocked.teloxide.json",
        "update_callback_query_inline.official-webhooks-guide.json",
        "telegram_update_message_contact_own.synth.json",
        "telegram_update_message_contact_foreign.synth.json",
        "telegram_update_callback_query_group_claim.synth.json",
    ]
    .iter()
    .map(|name| fixture_json(&format!("telegram/{name}")))
    .collect();

    let mut shots = vec![];
    for i in 0..1500i64 {
        let mut update = updates[rng.random_range(0..updates.len())].clone();
        update["update_id"] = json!(1_000_000 + i);
        let body = if rng.random_bool(0.4) {
            hostile_body(&mut rng, &update)
        } else {
            for _ in 0..rng.random_range(1..3) {
                mutate_value(&mut rng, &mut update, 0);
            }
            update.to_string().into_bytes()
        };
        let bot = if rng.random_bool(0.95) { BOT } else { "other_bot" };
        let shot = Shot::post(
            format!("/webhooks/telegram/{bot}"),
            content_type(&mut rng, "application/json"),
            body,
        );
        shots.push(match rng.random_range(0..10) {
            0 => shot,
            1 => shot.header("x-telegram-bot-api-secret-token", "wrong"),
            _ => shot.header("x-telegram-bot-api-secret-token", TG_SECRET),
        });
    }
    let deal = json!({"title": "Ремонт стиральной машины", "conditions": "м. Сокол", "dates": "завтра",
                      "pay": "3000 ₽", "skills": "сантехник", "client_name": "Ирина",
                      "client_phone": "+79161112233", "manager_id": "1"});
    for i in 0..600 {
        let body = if rng.random_bool(0.5) {
            hostile_body(&mut rng, &deal)
        } else {
            let mut v = deal.clone();
            mutate_value(&mut rng, &mut v, 1);
            v.to_string().into_bytes()
        };
        let id = match rng.random_range(0..8) {
            0 => "%00".to_string(),
            1 => "%C3%28".to_string(),
            2 => "x".repeat(300),
            3 => "D-1".to_string(),
            _ => format!("D-{i}"),
        };
        shots.push(Shot::post(
            format!("/api/v1/deals/{id}/dispatch"),
            content_type(&mut rng, "application/json"),
            body,
        ));
    }
    let mut n = 2_000_000;
    for update in &updates {
        for mut v in leaf_variants(update) {
            n += 1;
            if v["update_id"] == update["update_id"] {
                v["update_id"] = json!(n);
            }
            let shot = Shot::post(
                format!("/webhooks/telegram/{BOT}"),
                Some("application/json"),
                v.to_string().into_bytes(),
            );
            shots.push(shot.header("x-telegram-bot-api-secret-token", TG_SECRET));
        }
    }
    for (i, v) in leaf_variants(&deal).into_iter().enumerate() {
        let body = v.to_string().into_bytes();
        shots.push(Shot::post(
            format!("/api/v1/deals/leaf-{i}/dispatch"),
            Some("application/json"),
            body,
        ));
    }
    assert_no_5xx("the Telegram webhook and the deal API", seed, &fire(&app, shots).await);
    still_answers(&app).await;
    let (code, body) = app.post("/api/v1/deals/D-final/dispatch", deal).await;
    assert_eq!(code, 201, "{body}");
    app.stop().await;
}
