//! VK end to end: Callback API events built from the real payloads (tests/fixtures/vk) posted
//! to leadbot's webhook, a local VK API server (tests/common/fake_vk.rs) behind the production
//! client.

mod common;

use std::time::Duration;

use common::fake_vk::{FakeVk, TOKEN};
use common::TestApp;
use leadbot::config::VkSettings;
use serde_json::{json, Value};

const GROUP: i64 = 193668024;
const SECRET: &str = "my_secret_0123";
const CONFIRMATION: &str = "a1b2c3d4";
const CLIENT: i64 = 123456;
const WAIT: Duration = Duration::from_secs(15);

fn settings(fake: &FakeVk) -> VkSettings {
    let mut s: VkSettings = toml::from_str(&format!(
        "group_id = {GROUP}\nconfirmation = \"{CONFIRMATION}\"\napi_base = \"{}\"\n",
        fake.base
    ))
    .unwrap();
    s.token = Some(TOKEN.into());
    s.secret = Some(SECRET.into());
    s
}

async fn start(fake: &FakeVk) -> TestApp {
    let s = settings(fake);
    TestApp::spawn_with(move |c| {
        c.vk = Some(s);
        c.script.texts.phone_request_options = vec!["Часы работы".into(), "Где вы находитесь?".into()];
    })
    .await
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("tests/fixtures/vk/{name}")).unwrap()).unwrap()
}

/// The vkbottle ≥ 5.103 `message_new`, as a Callback server sends it (group, event id, secret).
fn message_new(event_id: &str, peer: i64, text: &str, secret: &str) -> Value {
    let mut e = fixture("callback_message_new_v5103plus.vkbottle-test.json");
    e["group_id"] = json!(GROUP);
    e["event_id"] = json!(event_id);
    e["v"] = json!("5.199");
    e["secret"] = json!(secret);
    e["object"]["message"]["peer_id"] = json!(peer);
    e["object"]["message"]["from_id"] = json!(peer);
    e["object"]["message"]["text"] = json!(text);
    e
}

async fn post(app: &TestApp, event: &Value) -> (u16, String) {
    let resp = app
        .http
        .post(format!("{}/webhooks/vk/{GROUP}", app.base))
        .json(event)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn vk_leads(app: &TestApp) -> Vec<Value> {
    let (_, list) = app.get("/api/v1/leads?limit=1000").await;
    let mut out = vec![];
    for l in list["leads"].as_array().cloned().unwrap_or_default() {
        if l["source"] == "vk" {
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

fn client_lines(lead: &Value) -> Vec<String> {
    lead["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["direction"] == "in")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_vk_conversation_confirms_then_ends_with_the_phone_each_event_applied_once() {
    let fake = FakeVk::start().await;
    let app = start(&fake).await;

    // The handshake: the configured string, as plain text.
    let mut confirm = fixture("callback_confirmation_with_secret.vksdk.json");
    confirm["group_id"] = json!(GROUP);
    confirm["secret"] = json!(SECRET);
    assert_eq!(post(&app, &confirm).await, (200, CONFIRMATION.to_string()));

    let first = message_new("ev-1", CLIENT, "Здравствуйте", SECRET);
    assert_eq!(post(&app, &first).await, (200, "ok".to_string()));
    let sent = wait("the greeting and the question", async || {
        Some(fake.sent_to(CLIENT)).filter(|s| s.len() >= 2)
    })
    .await;
    assert!(sent[0].text.starts_with("Здравствуйте"), "{:?}", sent[0]);
    // The bot's question carries the offered answers as a one-time keyboard.
    let asked = sent.last().unwrap();
    let labels: Vec<&str> = asked.keyboard.as_ref().unwrap()["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0]["action"]["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Часы работы", "Где вы находитесь?"]);

    // VK redelivers the same event: applied once.
    assert_eq!(post(&app, &first).await, (200, "ok".to_string()));
    // A press on a button is the label as text: the bot answers it.
    let before = fake.sent_to(CLIENT).len();
    assert_eq!(
        post(&app, &message_new("ev-2", CLIENT, "Часы работы", SECRET)).await.0,
        200
    );
    wait("the hours", async || {
        fake.sent_to(CLIENT)[before..]
            .iter()
            .find(|s| s.text.contains("9:00"))
            .cloned()
    })
    .await;

    // Flood control once: the message goes out after the pause, not lost, not doubled.
    fake.fail_next(9);
    assert_eq!(
        post(&app, &message_new("ev-3", CLIENT, "мой номер +7 916 123-45-67", SECRET))
            .await
            .0,
        200
    );
    let leads = wait("assigned", async || {
        Some(vk_leads(&app).await).filter(|l| l.len() == 1 && l[0]["status"] == "assigned")
    })
    .await;
    let lead = &leads[0];
    assert_eq!(lead["phone"], "+79161234567");
    assert_eq!(lead["channel"], "vk");
    assert_eq!(
        client_lines(lead),
        ["Здравствуйте", "Часы работы", "мой номер +7 916 123-45-67"],
        "each client message once"
    );
    let thanks = wait("thanks after the flood pause", async || {
        fake.sent_to(CLIENT).into_iter().find(|s| s.text.contains("Спасибо"))
    })
    .await;
    assert_eq!(
        thanks.keyboard.as_ref().unwrap()["buttons"],
        json!([]),
        "the keyboard goes away once the phone is known"
    );
    assert!(
        fake.inner.lock().unwrap().failures.is_empty(),
        "the flood error was answered"
    );
    // Every row went out once, each with its own random_id.
    let sent = fake.sent_to(CLIENT);
    let mut ids: Vec<i64> = sent.iter().map(|s| s.random_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), sent.len(), "{sent:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_forged_secret_or_another_community_is_refused_and_nothing_is_stored() {
    let fake = FakeVk::start().await;
    let app = start(&fake).await;
    let (code, _) = post(&app, &message_new("ev-x", 777, "привет", "not-the-secret")).await;
    assert_eq!(code, 401);
    let mut no_secret = message_new("ev-y", 777, "привет", SECRET);
    no_secret.as_object_mut().unwrap().remove("secret");
    assert_eq!(post(&app, &no_secret).await.0, 401);
    let mut other_group = message_new("ev-z", 777, "привет", SECRET);
    other_group["group_id"] = json!(1);
    assert_eq!(post(&app, &other_group).await.0, 401);
    // Not even the handshake answers without the secret.
    let mut confirm = fixture("callback_confirmation_with_secret.vksdk.json");
    confirm["group_id"] = json!(GROUP);
    assert_eq!(post(&app, &confirm).await.0, 401);
    // Not JSON: 400.
    let resp = app
        .http
        .post(format!("{}/webhooks/vk/{GROUP}", app.base))
        .body("type=message_new")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    // Another community's path: 404.
    let resp = app
        .http
        .post(format!("{}/webhooks/vk/42", app.base))
        .json(&message_new("ev-w", 777, "привет", SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(vk_leads(&app).await.is_empty(), "nothing stored");
    assert_eq!(fake.calls(), 0, "nothing sent");
    app.stop().await;
}

#[tokio::test]
async fn our_own_messages_and_group_chats_are_not_leads_and_cannot_initiate_takes_the_fallback() {
    let fake = FakeVk::start().await;
    let app = start(&fake).await;
    // The pre-5.103 group-chat sample (peer 2000000001) and an outgoing message of ours.
    let mut chat = fixture("callback_message_new_legacy_pre5103.vksdk.json");
    chat["group_id"] = json!(GROUP);
    chat["secret"] = json!(SECRET);
    chat["event_id"] = json!("ev-chat");
    assert_eq!(post(&app, &chat).await, (200, "ok".to_string()));
    let mut ours = message_new("ev-out", CLIENT, "Здравствуйте!", SECRET);
    ours["object"]["message"]["out"] = json!(1);
    assert_eq!(post(&app, &ours).await, (200, "ok".to_string()));
    let mut reply = ours.clone();
    reply["type"] = json!("message_reply");
    assert_eq!(post(&app, &reply).await, (200, "ok".to_string()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(vk_leads(&app).await.is_empty());

    // VK says the community may not write to this user (901): the lead takes the fallback.
    fake.fail_next(901);
    assert_eq!(post(&app, &message_new("ev-9", 555, "алло", SECRET)).await.0, 200);
    let leads = wait("the fallback", async || {
        Some(vk_leads(&app).await).filter(|l| l.len() == 1 && l[0]["status"] == "needs_review")
    })
    .await;
    assert_eq!(leads[0]["reason"], "no_channel", "{}", leads[0]);
    app.stop().await;
}

#[tokio::test]
async fn stop_on_vk_is_confirmed_once_and_nothing_more_is_sent() {
    let fake = FakeVk::start().await;
    let app = start(&fake).await;
    assert_eq!(
        post(&app, &message_new("s-1", 4242, "Здравствуйте", SECRET)).await.0,
        200
    );
    wait("the question", async || {
        Some(fake.sent_to(4242)).filter(|s| s.len() >= 2)
    })
    .await;
    assert_eq!(post(&app, &message_new("s-2", 4242, "СТОП", SECRET)).await.0, 200);
    let leads = wait("refused", async || {
        Some(vk_leads(&app).await).filter(|l| l.len() == 1 && l[0]["status"] == "low_quality")
    })
    .await;
    assert!(leads[0]["timers"].as_array().unwrap().is_empty(), "{}", leads[0]);
    let confirmed = wait("the confirmation", async || {
        Some(fake.sent_to(4242)).filter(|s| s.iter().any(|m| m.text.contains("больше не будем")))
    })
    .await;
    assert_eq!(
        post(&app, &message_new("s-3", 4242, "а сколько стоит?", SECRET))
            .await
            .0,
        200
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fake.sent_to(4242).len(),
        confirmed.len(),
        "nothing after the confirmation"
    );
    app.stop().await;
}
