//! What `/metrics` counts, as deltas of this app's own actions. The Prometheus recorder is one
//! per process: every test here holds `SERIAL`, so while it runs its app is the only one in
//! this test binary and a delta is exactly what that app did.

mod common;

use std::time::{Duration, Instant};

use common::fake_bitrix24::FakeBitrix24;
use common::{Metrics, TestApp};
use leadbot::config::Bitrix24Settings;

const WAIT: Duration = Duration::from_secs(15);

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn delta(before: &Metrics, after: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    after.value(name, labels) - before.value(name, labels)
}

#[tokio::test]
async fn a_leads_dialog_is_counted_once_in_each_of_its_metrics() {
    let _serial = SERIAL.lock().await;
    let app = TestApp::spawn().await;
    let before = app.metrics().await;
    let (id, _) = app.new_lead("m1", None).await;
    app.say(id, "мой номер 8 918 123-45-67").await;
    assert_eq!(app.lead(id).await["status"], "assigned");
    app.wait_notifications(1, WAIT).await;
    app.wait_idle(WAIT).await;
    let after = app.metrics().await;
    let d = |name: &str, labels: &[(&str, &str)]| delta(&before, &after, name, labels);

    // Sources from the public API are one label, not one per value sent (issue 10).
    assert_eq!(
        d(
            "leadbot_leads_created_total",
            &[("source", "api"), ("channel", "webchat")]
        ),
        1.0
    );
    assert_eq!(d("leadbot_leads_created_total", &[]), 1.0);
    assert_eq!(
        d(
            "leadbot_lead_outcomes_total",
            &[("status", "assigned"), ("reason", "phone_obtained")]
        ),
        1.0
    );
    assert_eq!(d("leadbot_lead_outcomes_total", &[]), 1.0, "one outcome, one lead");
    // Two inbox rows: the intake and the message.
    assert_eq!(d("leadbot_message_handling_seconds_count", &[("kind", "intake")]), 1.0);
    assert_eq!(d("leadbot_message_handling_seconds_count", &[("kind", "message")]), 1.0);
    assert_eq!(d("leadbot_inbox_lag_seconds_count", &[]), 2.0);
    assert_eq!(
        d("leadbot_time_to_first_reply_seconds_count", &[("channel", "webchat")]),
        1.0
    );
    assert_eq!(d("leadbot_time_to_phone_seconds_count", &[("channel", "webchat")]), 1.0);
    assert_eq!(d("leadbot_assignments_total", &[("manager", "1")]), 1.0);
    assert_eq!(d("leadbot_assignments_total", &[]), 1.0);
    assert_eq!(
        d(
            "leadbot_outbox_deliveries_total",
            &[("kind", "notification"), ("outcome", "sent")]
        ),
        1.0
    );
    assert_eq!(d("leadbot_lead_actors_active", &[]), 1.0, "the lead's actor is live");
    app.stop().await;
}

#[tokio::test]
async fn an_idle_lead_is_counted_as_one_passivation() {
    let _serial = SERIAL.lock().await;
    let app = TestApp::spawn_with(|c| c.service.runtime.passivate_after = Duration::from_millis(150)).await;
    let before = app.metrics().await;
    let (id, _) = app.new_lead("pv1", None).await;
    app.wait_for(id, WAIT, |l| l["actor"] == "passivated").await;
    let after = app.metrics().await;
    assert_eq!(delta(&before, &after, "leadbot_lead_passivations_total", &[]), 1.0);
    assert_eq!(
        delta(&before, &after, "leadbot_lead_actors_active", &[]),
        0.0,
        "started and stopped"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_lead_found_by_reconciliation_is_one_catch() {
    let _serial = SERIAL.lock().await;
    let fake = FakeBitrix24::start().await;
    fake.add_lead(100, "NEW", "Старый", None, None);
    let mut s: Bitrix24Settings = toml::from_str(
        r#"
portal = "b24-46hovy.bitrix24.ru"
member_id = "1b87798bc2d16c4b7f2a604e0c899a34"
reconcile_every = "200ms"
bot_user_id = 99
[statuses]
bot_processing = "IN_PROCESS"
assigned = "CONVERTED"
low_quality = "JUNK"
needs_review = "NEW"
[openlines]
bot_id = 7
[limits]
rate_per_sec = 50.0
burst = 50
"#,
    )
    .unwrap();
    s.webhook_url = Some(fake.webhook_url());
    s.application_token = Some("o8kfcne3du24sfvoeahh43uf9oygu2x3".into());
    let app = TestApp::spawn_with(move |c| c.bitrix24 = Some(s)).await;
    let before = app.metrics().await;
    let cursor = async || -> Option<u64> {
        sqlx::query_scalar::<_, String>("SELECT value FROM crm_cursors")
            .fetch_optional(app.pool())
            .await
            .unwrap()
            .map(|c| c.parse().unwrap())
    };
    let deadline = Instant::now() + WAIT;
    while cursor().await.is_none() {
        assert!(Instant::now() < deadline, "no first reconciliation pass");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Lost webhooks: 101 is new, 102 a manager already works on.
    fake.add_lead(101, "NEW", "Новый", Some("+79181112233"), None);
    fake.add_lead(102, "IN_PROCESS", "Уже в работе", None, None);
    while cursor().await.is_none_or(|c| c < 102) {
        assert!(Instant::now() < deadline, "reconciliation did not pass 102");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    app.wait_idle(WAIT).await;
    let after = app.metrics().await;
    assert_eq!(
        delta(
            &before,
            &after,
            "leadbot_crm_reconciliation_catches_total",
            &[("crm", "bitrix24")]
        ),
        1.0,
        "101 only"
    );
    app.stop().await;
}
