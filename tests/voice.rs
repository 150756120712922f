//! Automated calls end to end: the fallback chain's `voice` step places the call through the
//! production client against a local provider (tests/common/fake_voice.rs: Zvonobot and Twilio
//! Voice), the client's key comes back through leadbot's webhook. Key 1 hands the lead to a
//! manager with the number from its card; a forged webhook is refused with nothing stored; a
//! redelivered one is applied once.

mod common;

use std::time::Duration;

use common::fake_voice::{FakeVoice, TWILIO_SID, TWILIO_TOKEN, ZVONOBOT_KEY};
use common::TestApp;
use leadbot::channels::voice::twilio::signature;
use leadbot::config::{Config, FallbackSettings, VoiceSettings};
use serde_json::{json, Value};

const PUBLIC: &str = "https://leads.example.ru";
const HOOK_SECRET: &str = "voice_secret_0123456789";
const WAIT: Duration = Duration::from_secs(10);

fn voice(fake: &FakeVoice, provider: &str) -> VoiceSettings {
    let mut v: VoiceSettings = toml::from_str(&format!(
        "provider = \"{provider}\"\npublic_url = \"{PUBLIC}\"\napi_base = \"{}\"\nfrom = \"+74950000000\"\n",
        fake.base
    ))
    .unwrap();
    v.api_key = Some(ZVONOBOT_KEY.into());
    v.webhook_secret = Some(HOOK_SECRET.into());
    v.account_sid = Some(TWILIO_SID.into());
    v.auth_token = Some(TWILIO_TOKEN.into());
    v
}

fn chain() -> FallbackSettings {
    toml::from_str("time_zone = \"UTC\"\n[[fallback.ads]]\nchannel = \"voice\"\nwait = \"10m\"\n").unwrap()
}

async fn start(fake: &FakeVoice, provider: &str) -> TestApp {
    let v = voice(fake, provider);
    TestApp::spawn_with(move |c: &mut Config| {
        c.voice = Some(v);
        c.fallback = Some(chain());
    })
    .await
}

async fn ad_lead(app: &TestApp) -> i64 {
    let (code, body) = app
        .post(
            "/api/v1/leads",
            json!({"source": "ads", "external_id": "call-1", "channel": "avito", "name": "Олег", "phone": "+79161234567"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    body["id"].as_i64().unwrap()
}

async fn wait_call(fake: &FakeVoice) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some((_, c)) = fake.calls().into_iter().next() {
            return c;
        }
        assert!(std::time::Instant::now() < deadline, "no call placed");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn voice_rows(app: &TestApp) -> i64 {
    app.raw()
        .i64("SELECT count(*) FROM inbox WHERE source = 'voice'", &[])
        .await
}

fn attr<'a>(xml: &'a str, name: &str) -> &'a str {
    let start = xml
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {xml}"))
        + name.len()
        + 2;
    let len = xml[start..].find('"').unwrap();
    &xml[start..start + len]
}

#[tokio::test]
async fn twilio_key_1_hands_the_lead_over_and_a_forged_or_repeated_keypress_changes_nothing() {
    let fake = FakeVoice::start().await;
    let app = start(&fake, "twilio").await;
    let id = ad_lead(&app).await;
    let call = wait_call(&fake).await;
    assert_eq!(call["To"], "+79161234567");
    assert_eq!(call["From"], "+74950000000");
    let twiml = call["Twiml"].as_str().unwrap().to_string();
    assert!(twiml.contains("<Gather input=\"dtmf\" numDigits=\"1\""), "{twiml}");
    assert!(twiml.contains("<Say language=\"ru-RU\">"), "{twiml}");
    assert!(twiml.contains("Нажмите 1, чтобы с вами связался менеджер"), "{twiml}");
    let action = attr(&twiml, "action").replace("&amp;", "&");
    let path = action
        .strip_prefix(PUBLIC)
        .expect("the action is on the public URL")
        .to_string();
    assert!(
        path.starts_with(&format!("/webhooks/voice/twilio?lead={id}&row=")),
        "{path}"
    );

    let form: Vec<(String, String)> = [
        ("AccountSid", TWILIO_SID),
        ("CallSid", "CA00000000000000000000000000000001"),
        ("Digits", "1"),
        ("From", "+74950000000"),
        ("To", "+79161234567"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let body = serde_urlencoded::to_string(&form).unwrap();
    let post = |sig: String, body: String| {
        let req = app
            .http
            .post(format!("{}{path}", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", sig)
            .body(body);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };

    // Forged: signed with another token, or the body changed after signing → 403, nothing stored.
    let forged = signature("not-the-token", &action, &form);
    assert_eq!(post(forged, body.clone()).await.0, 403);
    let good = signature(TWILIO_TOKEN, &action, &form);
    let tampered = body.replace("Digits=1", "Digits=2");
    assert_eq!(post(good.clone(), tampered).await.0, 403);
    assert_eq!(post(String::new(), body.clone()).await.0, 403);
    assert_eq!(voice_rows(&app).await, 0, "nothing stored from a forged webhook");
    assert_eq!(app.lead(id).await["status"], "new");

    // The real keypress: TwiML back, the lead goes to a manager with the number called.
    let (code, reply) = post(good.clone(), body.clone()).await;
    assert_eq!(code, 200, "{reply}");
    assert!(reply.contains("<Response><Say"), "{reply}");
    assert!(reply.contains("Менеджер скоро с вами свяжется"), "{reply}");
    let lead = app.wait_for(id, WAIT, |l| l["status"] == "assigned").await;
    assert_eq!(lead["phone"], "+79161234567");
    let said: Vec<String> = lead["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(said.iter().any(|l| l.contains("voice: отправлено")), "{said:?}");
    assert!(said.iter().any(|l| l == "[звонок] нажато: 1"), "{said:?}");
    assert!(said.iter().any(|l| l.contains("voice: клиент ответил")), "{said:?}");
    app.wait_notifications(1, WAIT).await;

    // Twilio redelivers: applied once.
    assert_eq!(post(good, body).await.0, 200);
    app.wait_idle(WAIT).await;
    assert_eq!(voice_rows(&app).await, 1);
    assert_eq!(app.capture.all().len(), 1, "the manager was told once");
    assert_eq!(fake.calls().len(), 1, "one call");
    app.stop().await;
}

#[tokio::test]
async fn zvonobot_calls_with_a_keypress_menu_and_its_webhook_needs_the_secret() {
    let fake = FakeVoice::start().await;
    let app = start(&fake, "zvonobot").await;
    let id = ad_lead(&app).await;
    let call = wait_call(&fake).await;
    assert_eq!(call["apiKey"], ZVONOBOT_KEY);
    assert_eq!(call["phone"], "79161234567");
    assert_eq!(call["outgoingPhone"], "74950000000");
    assert!(call["record"]["text"].as_str().unwrap().contains("Нажмите 1"));
    assert_eq!(call["record"]["gender"], 0);
    let ivr = &call["ivrs"][0];
    assert_eq!(ivr["digit"], "1");
    let url = ivr["webhookUrl"].as_str().unwrap();
    let path = url.strip_prefix(PUBLIC).unwrap().to_string();
    assert!(
        path.starts_with(&format!("/webhooks/voice/zvonobot/{HOOK_SECRET}?lead={id}&row=")),
        "{path}"
    );
    let params: Value = serde_json::from_str(ivr["webhookParameters"].as_str().unwrap()).unwrap();
    assert_eq!(params["phone"], "{phone}");

    // A wrong secret: 403, nothing stored.
    let wrong = path.replace(HOOK_SECRET, "voice_secret_9999999999");
    let r = app
        .http
        .post(format!("{}{wrong}", app.base))
        .json(&json!({"phone": "79161234567"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(voice_rows(&app).await, 0);

    // The key the webhook was set for; delivered twice, applied once.
    for _ in 0..2 {
        let r = app
            .http
            .post(format!("{}{path}", app.base))
            .json(&json!({"phone": "79161234567"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let lead = app.wait_for(id, WAIT, |l| l["status"] == "assigned").await;
    assert_eq!(lead["phone"], "+79161234567");
    app.wait_idle(WAIT).await;
    assert_eq!(voice_rows(&app).await, 1);
    app.stop().await;
}
