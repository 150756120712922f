//! WhatsApp Business Cloud end to end: the pywa webhook payloads signed and posted to leadbot,
//! a local Graph API server (tests/common/fake_graph.rs) behind the production client.

mod common;

use std::time::Duration;

use common::fake_graph::{FakeGraph, TOKEN};
use common::TestApp;
use leadbot::channels::meta::sign;
use leadbot::config::{WhatsAppSettings, WhatsAppTemplate};
use serde_json::{json, Value};

const NUMBER_ID: &str = "1122334455667";
const APP_SECRET: &str = "test_app_secret";
const VERIFY: &str = "my-verify-token";
const CLIENT: &str = "79161234567";
const WAIT: Duration = Duration::from_secs(15);

fn settings(fake: &FakeGraph) -> WhatsAppSettings {
    let mut s: WhatsAppSettings = toml::from_str(&format!(
        "phone_number_id = \"{NUMBER_ID}\"\napi_base = \"{}\"\n",
        fake.base
    ))
    .unwrap();
    s.template = Some(WhatsAppTemplate {
        name: "lead_followup".into(),
        language: "ru".into(),
        body_params: vec!["{name}".into()],
    });
    s.token = Some(TOKEN.into());
    s.app_secret = Some(APP_SECRET.into());
    s.verify_token = Some(VERIFY.into());
    s
}

async fn start(fake: &FakeGraph) -> TestApp {
    let s = settings(fake);
    TestApp::spawn_with(move |c| c.whatsapp = Some(s)).await
}

fn raw_fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("tests/fixtures/whatsapp/{name}")).unwrap()
}

fn fixture(name: &str) -> Value {
    serde_json::from_slice(&raw_fixture(name)).unwrap()
}

/// The pywa text message from our client, with its own wamid and text.
fn text_from(wamid: &str, text: &str) -> Value {
    let mut b = fixture("message__text.pywa.json");
    let v = &mut b["entry"][0]["changes"][0]["value"];
    v["contacts"][0]["wa_id"] = json!(CLIENT);
    v["contacts"][0]["profile"]["name"] = json!("Иван");
    v["messages"][0]["from"] = json!(CLIENT);
    v["messages"][0]["id"] = json!(wamid);
    v["messages"][0]["text"]["body"] = json!(text);
    b
}

async fn post_raw(app: &TestApp, raw: Vec<u8>, signature: Option<String>) -> u16 {
    let mut req = app
        .http
        .post(format!("{}/webhooks/whatsapp", app.base))
        .header("content-type", "application/json")
        .body(raw);
    if let Some(s) = signature {
        req = req.header("X-Hub-Signature-256", s);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn post(app: &TestApp, body: &Value) -> u16 {
    let raw = serde_json::to_vec(body).unwrap();
    let sig = sign(APP_SECRET, &raw);
    post_raw(app, raw, Some(sig)).await
}

async fn wa_leads(app: &TestApp) -> Vec<Value> {
    let (_, list) = app.get("/api/v1/leads?limit=1000").await;
    let mut out = vec![];
    for l in list["leads"].as_array().cloned().unwrap_or_default() {
        if l["source"] == "whatsapp" {
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
async fn the_handshake_and_the_signature_over_the_raw_body() {
    let fake = FakeGraph::start().await;
    let app = start(&fake).await;
    let get = |token: &str| {
        app.http.get(format!(
            "{}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444",
            app.base
        ))
    };
    let ok = get(VERIFY).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    assert_eq!(get("wrong").send().await.unwrap().status().as_u16(), 403);

    // The fixture's own bytes with the locally computed vector: accepted.
    let vector = fixture("whatsapp_x_hub_signature_vector.synth.json");
    let raw = raw_fixture("message__text.pywa.json");
    // A forged signature, no signature, or the same JSON re-serialized: 401, nothing stored.
    let forged = sign("not-the-app-secret", &raw);
    assert_eq!(post_raw(&app, raw.clone(), Some(forged)).await, 401);
    assert_eq!(post_raw(&app, raw.clone(), None).await, 401);
    let reserialized = serde_json::to_vec(&fixture("message__text.pywa.json")).unwrap();
    assert_eq!(
        post_raw(
            &app,
            reserialized,
            Some(vector["x_hub_signature_256"].as_str().unwrap().into())
        )
        .await,
        401
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(wa_leads(&app).await.is_empty(), "nothing stored");

    let header = vector["x_hub_signature_256"].as_str().unwrap().to_string();
    assert_eq!(post_raw(&app, raw, Some(header)).await, 200);
    let leads = wait("the lead", async || {
        Some(wa_leads(&app).await).filter(|l| !l.is_empty())
    })
    .await;
    assert_eq!(leads[0]["channel"], "whatsapp");
    assert_eq!(leads[0]["name"], "Test Name");
    app.stop().await;
}

#[tokio::test]
async fn a_whatsapp_dialog_takes_the_senders_number_and_each_message_once() {
    let fake = FakeGraph::start().await;
    let app = start(&fake).await;
    let first = text_from("wamid.A1", "Здравствуйте, сколько стоит доставка?");
    assert_eq!(post(&app, &first).await, 200);
    assert_eq!(post(&app, &first).await, 200, "Meta redelivers");
    let leads = wait("assigned", async || {
        Some(wa_leads(&app).await).filter(|l| l.len() == 1 && l[0]["status"] == "assigned")
    })
    .await;
    let lead = &leads[0];
    assert_eq!(lead["phone"], "+79161234567");
    assert_eq!(lead["name"], "Иван");
    assert_eq!(
        client_lines(lead).iter().filter(|l| l.contains("доставка")).count(),
        1,
        "{lead}"
    );
    let sent = wait("the replies", async || {
        Some(fake.sent()).filter(|s| {
            s.iter()
                .any(|m| m["text"]["body"].as_str().is_some_and(|t| t.contains("Спасибо")))
        })
    })
    .await;
    assert!(
        sent.iter().all(|m| m["to"] == CLIENT && m["type"] == "text"),
        "{sent:?}"
    );
    assert!(sent.iter().all(|m| m["biz_opaque_callback_data"]
        .as_str()
        .is_some_and(|d| d.starts_with("outbox:"))));
    app.stop().await;
}

#[tokio::test]
async fn outside_the_window_the_template_goes_rate_limits_wait_and_a_failed_status_marks_the_row() {
    let fake = FakeGraph::start().await;
    let app = start(&fake).await;
    // The window is closed (131047) and the first send hits the throughput limit (130429).
    fake.close_window(CLIENT);
    fake.fail_next(130429);
    assert_eq!(post(&app, &text_from("wamid.B1", "добрый день")).await, 200);
    let sent = wait("the template", async || {
        Some(fake.sent()).filter(|s| s.iter().any(|m| m["type"] == "template"))
    })
    .await;
    let t = sent.iter().find(|m| m["type"] == "template").unwrap();
    assert_eq!(t["template"]["name"], "lead_followup");
    assert_eq!(t["template"]["components"][0]["parameters"][0]["text"], "Иван");
    assert!(
        fake.inner.lock().unwrap().failures.is_empty(),
        "the rate limit was hit and waited out"
    );

    // Meta reports later that a sent message failed: its outbox row says so.
    let row: i64 = t["biz_opaque_callback_data"].as_str().unwrap()["outbox:".len()..]
        .parse()
        .unwrap();
    let mut status = fixture("message_status__failed.pywa.json");
    status["entry"][0]["changes"][0]["value"]["statuses"][0]["biz_opaque_callback_data"] =
        json!(format!("outbox:{row}"));
    assert_eq!(post(&app, &status).await, 200);
    let failed = wait("the failed row", async || {
        let (_, rows) = app.get("/api/v1/outbox?status=failed").await;
        rows["rows"]
            .as_array()
            .or(rows.as_array())
            .and_then(|r| r.iter().find(|x| x["id"] == row).cloned())
    })
    .await;
    assert!(failed["last_error"].as_str().unwrap().contains("130472"), "{failed}");
    app.stop().await;
}
