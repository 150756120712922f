//! Avito Messenger end to end: the v3 webhook delivery (tests/fixtures/avito) posted to
//! leadbot, a local Avito API (tests/common/fake_avito.rs) behind the production client.

mod common;

use std::time::Duration;

use common::fake_avito::{FakeAvito, CLIENT_ID, CLIENT_SECRET};
use common::TestApp;
use leadbot::config::AvitoSettings;
use serde_json::{json, Value};

const USER: i64 = 111222333;
const SECRET: &str = "avito_hook_secret_0123";
const WAIT: Duration = Duration::from_secs(15);

async fn start(fake: &FakeAvito) -> TestApp {
    let mut s: AvitoSettings = toml::from_str(&format!("user_id = {USER}\napi_base = \"{}\"\n", fake.base)).unwrap();
    s.client_id = Some(CLIENT_ID.into());
    s.client_secret = Some(CLIENT_SECRET.into());
    s.webhook_secret = Some(SECRET.into());
    TestApp::spawn_with(move |c| c.avito = Some(s)).await
}

fn delivery(id: &str, chat: &str, author: i64, text: &str) -> Value {
    let mut d: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/avito/avito_webhook_v3_message.synth.json").unwrap(),
    )
    .unwrap();
    let v = &mut d["payload"]["value"];
    v["id"] = json!(id);
    v["chat_id"] = json!(chat);
    v["author_id"] = json!(author);
    v["content"]["text"] = json!(text);
    d
}

async fn post(app: &TestApp, secret: &str, body: &Value) -> u16 {
    app.http
        .post(format!("{}/webhooks/avito/{secret}", app.base))
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn avito_leads(app: &TestApp) -> Vec<Value> {
    let (_, list) = app.get("/api/v1/leads?limit=1000").await;
    let mut out = vec![];
    for l in list["leads"].as_array().cloned().unwrap_or_default() {
        if l["source"] == "avito" {
            out.push(app.lead(l["id"].as_i64().unwrap()).await);
        }
    }
    out
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

#[tokio::test]
async fn an_avito_buyer_is_asked_for_the_phone_in_the_ad_chat() {
    let fake = FakeAvito::start().await;
    let app = start(&fake).await;
    const CHAT: &str = "u2i-AbCdEfGhIjKlMnOp";
    // Wrong secret: 401, nothing stored.
    assert_eq!(
        post(&app, "wrong-secret-0000000", &delivery("x", CHAT, 923456789, "привет")).await,
        401
    );
    // Our own message coming back: no lead.
    assert_eq!(
        post(&app, SECRET, &delivery("echo", CHAT, USER, "Здравствуйте!")).await,
        200
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(avito_leads(&app).await.is_empty());

    let first = delivery("m-1", CHAT, 923456789, "Здравствуйте, ещё актуально?");
    assert_eq!(post(&app, SECRET, &first).await, 200);
    assert_eq!(post(&app, SECRET, &first).await, 200, "redelivered");
    let sent = wait("the phone request", async || Some(fake.sent()).filter(|s| s.len() >= 2)).await;
    assert!(sent.iter().all(|(u, c, _)| *u == USER && c == CHAT), "{sent:?}");
    assert!(sent.iter().all(|(_, _, t)| t.chars().count() <= 1000));
    // The token is revoked meanwhile: the client fetches a new one and goes on.
    fake.revoke();
    assert_eq!(
        post(&app, SECRET, &delivery("m-2", CHAT, 923456789, "мой номер 89161234567")).await,
        200
    );
    let leads = wait("assigned", async || {
        Some(avito_leads(&app).await).filter(|l| l.len() == 1 && l[0]["status"] == "assigned")
    })
    .await;
    assert_eq!(leads[0]["phone"], "+79161234567");
    let ins: Vec<&str> = leads[0]["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["direction"] == "in")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(ins, ["Здравствуйте, ещё актуально?", "мой номер 89161234567"]);
    wait("the thanks after a new token", async || {
        fake.sent().into_iter().find(|(_, _, t)| t.contains("Спасибо"))
    })
    .await;
    assert!(fake.inner.lock().unwrap().tokens_issued >= 2);
    app.stop().await;
}
