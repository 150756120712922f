//! Instagram Direct end to end: the documented webhook payload signed and posted to leadbot, a
//! local Graph API server (tests/common/fake_graph.rs) behind the production client.

mod common;

use std::time::Duration;

use common::fake_graph::{FakeGraph, TOKEN};
use common::TestApp;
use leadbot::channels::meta::sign;
use leadbot::config::InstagramSettings;
use serde_json::{json, Value};

const ACCOUNT: &str = "17841400000000099";
const APP_SECRET: &str = "ig_app_secret";
const CLIENT: &str = "1784140000000001";
const WAIT: Duration = Duration::from_secs(15);

async fn start(fake: &FakeGraph) -> TestApp {
    let mut s: InstagramSettings =
        toml::from_str(&format!("account_id = \"{ACCOUNT}\"\napi_base = \"{}\"\n", fake.base)).unwrap();
    s.token = Some(TOKEN.into());
    s.app_secret = Some(APP_SECRET.into());
    s.verify_token = Some("ig-verify".into());
    TestApp::spawn_with(move |c| c.instagram = Some(s)).await
}

/// The documented `messages` example with real-looking ids, its own mid and text.
fn dm(mid: &str, from: &str, text: &str) -> Value {
    let mut b: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/instagram/webhook_message_text.official-docs.stripped.json").unwrap(),
    )
    .unwrap();
    b["entry"][0]["id"] = json!(ACCOUNT);
    let m = &mut b["entry"][0]["messaging"][0];
    m["sender"]["id"] = json!(from);
    m["recipient"]["id"] = json!(ACCOUNT);
    m["message"]["mid"] = json!(mid);
    m["message"]["text"] = json!(text);
    b
}

async fn post(app: &TestApp, body: &Value, secret: &str) -> u16 {
    let raw = serde_json::to_vec(body).unwrap();
    app.http
        .post(format!("{}/webhooks/instagram", app.base))
        .header("X-Hub-Signature-256", sign(secret, &raw))
        .body(raw)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn ig_leads(app: &TestApp) -> Vec<Value> {
    let (_, list) = app.get("/api/v1/leads?limit=1000").await;
    let mut out = vec![];
    for l in list["leads"].as_array().cloned().unwrap_or_default() {
        if l["source"] == "instagram" {
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
async fn an_instagram_dialog_to_a_phone_with_echoes_forgeries_and_redeliveries() {
    let fake = FakeGraph::start().await;
    let app = start(&fake).await;
    let ok = app
        .http
        .get(format!(
            "{}/webhooks/instagram?hub.mode=subscribe&hub.verify_token=ig-verify&hub.challenge=77",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.text().await.unwrap(), "77");

    // Forged: 401 and nothing stored.
    assert_eq!(post(&app, &dm("m.0", CLIENT, "привет"), "wrong-secret").await, 401);
    // Our own echo: taken, no lead.
    let mut echo = dm("m.echo", ACCOUNT, "Здравствуйте!");
    echo["entry"][0]["messaging"][0]["recipient"]["id"] = json!(CLIENT);
    echo["entry"][0]["messaging"][0]["message"]["is_echo"] = json!(true);
    assert_eq!(post(&app, &echo, APP_SECRET).await, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(ig_leads(&app).await.is_empty());

    let first = dm("m.1", CLIENT, "Здравствуйте, где вы находитесь?");
    assert_eq!(post(&app, &first, APP_SECRET).await, 200);
    assert_eq!(post(&app, &first, APP_SECRET).await, 200, "redelivered");
    wait("the answer", async || {
        Some(fake.sent()).filter(|s| {
            s.iter()
                .any(|m| m["message"]["text"].as_str().is_some_and(|t| t.contains("адрес")))
        })
    })
    .await;
    assert_eq!(post(&app, &dm("m.2", CLIENT, "8 916 123 45 67"), APP_SECRET).await, 200);
    let leads = wait("assigned", async || {
        Some(ig_leads(&app).await).filter(|l| l.len() == 1 && l[0]["status"] == "assigned")
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
    assert_eq!(ins, ["Здравствуйте, где вы находитесь?", "8 916 123 45 67"]);
    assert!(fake.sent().iter().all(|m| m["recipient"]["id"] == CLIENT));
    app.stop().await;
}

#[tokio::test]
async fn outside_the_window_the_lead_takes_its_fallback() {
    let fake = FakeGraph::start().await;
    let app = start(&fake).await;
    fake.close_window(CLIENT);
    assert_eq!(post(&app, &dm("m.9", CLIENT, "алло"), APP_SECRET).await, 200);
    let leads = wait("the fallback", async || {
        Some(ig_leads(&app).await).filter(|l| l.len() == 1 && l[0]["status"] == "needs_review")
    })
    .await;
    assert_eq!(leads[0]["reason"], "no_channel");
    app.stop().await;
}
