//! SMS end to end: both gateways (SMS.ru and SMSC) through the production client against a
//! local gateway (tests/common/fake_sms.rs), and their delivery callbacks through leadbot's
//! webhook.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::fake_sms::{FakeSms, API_ID, LOGIN, PASSWORD};
use common::TestApp;
use leadbot::channels::sms::Sms;
use leadbot::channels::Channel;
use leadbot::config::SmsSettings;
use leadbot::domain::{ChannelName, LeadId, LeadRecord, LeadStatus, Phone};
use leadbot::outbox::{DeliveryError, OutboundMessage};
use serde_json::json;

const CALLBACK_SECRET: &str = "cb_secret_0123456789";

fn settings(fake: &FakeSms, provider: &str) -> SmsSettings {
    let mut s: SmsSettings = toml::from_str(&format!(
        "provider = \"{provider}\"\napi_base = \"{}\"\nsender = \"Leadbot\"\n",
        fake.base
    ))
    .unwrap();
    s.api_id = Some(API_ID.into());
    s.login = Some(LOGIN.into());
    s.password = Some(PASSWORD.into());
    s.callback_secret = Some(CALLBACK_SECRET.into());
    s
}

fn lead(phone: Option<&str>) -> LeadRecord {
    LeadRecord {
        id: LeadId(7),
        source: "avito".into(),
        external_id: "ad-1".into(),
        channel: ChannelName::new("sms"),
        name: None,
        phone: phone.map(|p| Phone::parse(p).unwrap()),
        status: LeadStatus::BotProcessing,
        manager_id: None,
        reason: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        segment: None,
        chat_token: None,
        creation_key: None,
    }
}

fn msg(text: &str) -> OutboundMessage {
    OutboundMessage::text(ChannelName::new("sms"), text)
}

#[tokio::test]
async fn smsru_sends_to_the_leads_number_and_reads_each_numbers_own_status() {
    let fake = FakeSms::start().await;
    let sms = Sms::new(settings(&fake, "smsru")).unwrap();
    let text = "Продолжим в Telegram: https://t.me/lead_demo_bot?start=l7_abc";
    sms.send(&lead(Some("+79161234567")), &msg(text), "k1", 11)
        .await
        .unwrap();
    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].0.as_str(), sent[0].1.as_str(), sent[0].2.as_str()),
        ("smsru", "79161234567", text)
    );
    assert_eq!(sent[0].3["json"], "1");
    assert_eq!(sent[0].3["from"], "Leadbot");
    // No phone: the channel cannot write first to this lead.
    let e = sms.send(&lead(None), &msg(text), "k2", 12).await.unwrap_err();
    assert!(matches!(e, DeliveryError::CannotInitiate(_)), "{e:?}");
    // A number the gateway refuses (the top level says OK, the number's own status does not).
    let e = sms
        .send(&lead(Some("+380501234567")), &msg(text), "k3", 13)
        .await
        .unwrap_err();
    assert!(
        matches!(e, DeliveryError::CannotInitiate(ref w) if w.contains("202")),
        "{e:?}"
    );
    // Out of money: retried later, not given up.
    fake.inner.lock().unwrap().out_of_money = true;
    let e = sms
        .send(&lead(Some("+79161234567")), &msg(text), "k4", 14)
        .await
        .unwrap_err();
    assert!(matches!(e, DeliveryError::Retryable(_)), "{e:?}");
    assert_eq!(sms.capabilities().max_text_len, 335);
    assert!(sms.capabilities().can_write_first());
}

#[tokio::test]
async fn smsc_names_the_message_by_its_outbox_row_and_a_retry_is_not_sent_twice() {
    let fake = FakeSms::start().await;
    let sms = Sms::new(settings(&fake, "smsc")).unwrap();
    sms.send(&lead(Some("+79161234567")), &msg("Здравствуйте!"), "k1", 42)
        .await
        .unwrap();
    // The same row again (its answer was lost): SMSC says duplicate, nothing new goes out.
    sms.send(&lead(Some("+79161234567")), &msg("Здравствуйте!"), "k1", 42)
        .await
        .unwrap();
    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].3["id"], "42");
    assert_eq!(sent[0].3["fmt"], "3");
    assert_eq!(sent[0].3["charset"], "utf-8");
    assert_eq!(sent[0].3["sender"], "Leadbot");
}

#[tokio::test]
async fn delivery_callbacks_need_the_secret_and_a_failed_sms_marks_its_row() {
    let fake = FakeSms::start().await;
    let s = settings(&fake, "smsc");
    let app = TestApp::spawn_with(move |c| c.sms = Some(s)).await;
    // A row to report on: the web chat's greeting.
    let (code, _) = app
        .post(
            "/api/v1/leads",
            json!({"source": "site", "external_id": "s-1", "channel": "webchat"}),
        )
        .await;
    assert_eq!(code, 201);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let row = loop {
        let (_, rows) = app.get("/api/v1/outbox?status=sent").await;
        if let Some(id) = rows["rows"]
            .as_array()
            .and_then(|r| r.first())
            .and_then(|r| r["id"].as_i64())
        {
            break id;
        }
        assert!(std::time::Instant::now() < deadline, "no sent row");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let post = |secret: &str, body: String| {
        app.http
            .post(format!("{}/webhooks/sms/{secret}", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let wrong = post(
        "not-the-secret-000",
        format!("id={row}&phone=79161234567&status=20&err=1"),
    )
    .await
    .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let (_, failed) = app.get("/api/v1/outbox?status=failed").await;
    assert!(failed["rows"].as_array().unwrap().is_empty(), "nothing changed");
    let ok = post(CALLBACK_SECRET, format!("id={row}&phone=79161234567&status=20&err=1"))
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.text().await.unwrap(), "OK");
    let (_, failed) = app.get("/api/v1/outbox?status=failed").await;
    let r = &failed["rows"].as_array().unwrap()[0];
    assert_eq!(r["id"], row);
    assert!(r["last_error"].as_str().unwrap().contains("smsc status 20/1"), "{r}");
    // Delivered reports are counted, rows left alone.
    let ok = post(CALLBACK_SECRET, "id=999&phone=79161234567&status=1".into())
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let metrics = app.metrics().await.0;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("leadbot_channel_delivery_statuses_total{")
                && l.contains("channel=\"sms\"")
                && l.contains("status=\"delivered\"")),
        "{metrics}"
    );
    app.stop().await;
}

#[test]
fn smsru_callbacks_are_read_from_the_documented_form() {
    // The synthesized callback body of tests/fixtures/sms/smsru_status_callback.synth.http.
    let raw = std::fs::read_to_string("tests/fixtures/sms/smsru_status_callback.synth.http").unwrap();
    let body = raw.lines().find(|l| l.starts_with("data")).unwrap();
    let form: Vec<(String, String)> = serde_urlencoded::from_str(body).unwrap();
    let s: SmsSettings = toml::from_str("provider = \"smsru\"").unwrap();
    let p = leadbot::channels::sms::provider(&s).unwrap();
    let reports = p.parse_callback(&form);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].provider_id, "000000-10000000");
    assert_eq!(reports[0].outcome, leadbot::channels::sms::SmsOutcome::Delivered);
    assert_eq!(p.callback_ack(), "100");
}
