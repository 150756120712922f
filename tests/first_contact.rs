//! The first-contact flow end to end through HTTP, on each store: every test runs once on
//! PostgreSQL and once on the embedded SQLite file (`postgres::…`, `sqlite::…`).

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{bot_texts, RawDb, StoreKind, TestApp};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

async fn success_path_assigns_a_manager_and_notifies_once(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    let (id, status) = app.new_lead("s1", None).await;
    assert_eq!(status, "bot_processing");
    let lead = app.lead(id).await;
    assert!(lead["manager_id"].is_null(), "no manager while the bot works");
    let texts = bot_texts(&lead);
    assert!(texts[0].contains("Здравствуйте, Ольга"), "{texts:?}");
    assert!(texts[1].contains("номер телефона"), "{texts:?}");
    assert_eq!(
        lead["timers"].as_array().unwrap().len(),
        2,
        "re-ask and no-answer timers: {lead}"
    );

    let replies = app.say(id, "мой номер +7 918 123-45-67").await;
    assert!(replies[0].contains("Спасибо"), "{replies:?}");
    let lead = app.lead(id).await;
    assert_eq!(lead["status"], "assigned");
    assert_eq!(lead["phone"], "+79181234567");
    assert_eq!(lead["reason"], "phone_obtained");
    assert_eq!(lead["manager_id"], "1");
    let timers: Vec<&str> = lead["timers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        timers,
        ["accept_deadline"],
        "dialog timers gone; the manager has a deadline to accept"
    );

    let notes = app.wait_notifications(1, WAIT).await;
    let (key, body) = &notes[0];
    assert!(!key.is_empty(), "idempotency key is sent");
    assert!(body["text"]
        .as_str()
        .unwrap()
        .starts_with("Вам назначен новый лид с контактом"));
    assert_eq!(body["manager_id"], "1");
    assert_eq!(body["phone"], "+79181234567");
    // Only once nothing is pending any more could a second notification no longer come.
    app.wait_idle(WAIT).await;
    assert_eq!(app.capture.all().len(), 1, "notified exactly once");
    assert_eq!(app.capture.attempt_log().len(), 1, "and in one attempt");
    app.stop().await;
}

async fn faq_then_phone(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    let (id, _) = app.new_lead("f1", Some("Подскажите, во сколько вы работаете?")).await;
    let texts = bot_texts(&app.lead(id).await);
    assert!(texts.iter().any(|t| t.contains("9:00")), "{texts:?}");
    let replies = app.say(id, "А адрес какой?").await;
    assert!(replies[0].contains("Садовая"), "{replies:?}");
    assert!(replies[1].contains("номер"), "steers back to the phone: {replies:?}");
    app.say(id, "89181234567").await;
    assert_eq!(app.lead(id).await["status"], "assigned");
    app.stop().await;
}

async fn refusal_twice_is_low_quality(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    let (id, _) = app.new_lead("r1", None).await;
    let replies = app.say(id, "не дам").await;
    assert!(replies[0].contains("не передаём"), "second polite attempt: {replies:?}");
    assert_eq!(app.lead(id).await["status"], "bot_processing");
    app.say(id, "Не хочу оставлять номер").await;
    let lead = app.lead(id).await;
    assert_eq!(lead["status"], "low_quality");
    assert_eq!(lead["reason"], "refused");
    assert!(lead["manager_id"].is_null());
    app.stop().await;
}

async fn invalid_then_valid_number(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    let (id, _) = app.new_lead("i1", None).await;
    let replies = app.say(id, "8 918 12").await;
    assert!(replies[0].contains("не хватает цифр"), "{replies:?}");
    assert_eq!(app.lead(id).await["status"], "bot_processing");
    app.say(id, "8 (918) 123-45-67").await;
    let lead = app.lead(id).await;
    assert_eq!(lead["status"], "assigned");
    assert_eq!(lead["phone"], "+79181234567");
    app.stop().await;
}

async fn number_split_over_two_messages(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    let (id, _) = app.new_lead("sp1", None).await;
    app.say(id, "8918").await;
    app.say(id, "123 45 67").await;
    let lead = app.lead(id).await;
    assert_eq!(lead["status"], "assigned", "{lead}");
    assert_eq!(lead["phone"], "+79181234567");
    app.stop().await;
}

async fn no_answer_reasks_then_low_quality(kind: StoreKind) {
    let app = TestApp::spawn_in_with(kind, |c| {
        c.script.timing.reask_after = vec![Duration::from_millis(200), Duration::from_millis(300)];
        c.script.timing.no_answer_timeout = Duration::from_millis(1200);
    })
    .await;
    let (id, _) = app.new_lead("n1", None).await;
    let lead = app.wait_for(id, WAIT, |l| l["status"] == "low_quality").await;
    assert_eq!(lead["reason"], "no_answer");
    let texts = bot_texts(&lead);
    assert!(
        texts.iter().any(|t| t.contains("Вы ещё здесь")),
        "first re-ask: {texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("Напоминаю")),
        "second re-ask: {texts:?}"
    );
    assert!(lead["timers"].as_array().unwrap().is_empty());
    app.stop().await;
}

async fn needs_review_instead_of_low_quality_when_configured(kind: StoreKind) {
    let app = TestApp::spawn_in_with(kind, |c| {
        c.service.outcome.on_failure = leadbot::config::FailureStatus::NeedsReview;
    })
    .await;
    let (id, _) = app.new_lead("nr1", None).await;
    app.say(id, "не дам").await;
    app.say(id, "не дам").await;
    assert_eq!(app.lead(id).await["status"], "needs_review");
    app.stop().await;
}

async fn duplicate_intake_returns_the_same_lead(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    let (id, _) = app.new_lead("d1", None).await;
    let (code, body) = app
        .post(
            "/api/v1/leads",
            json!({"source": "site", "external_id": "d1", "channel": "webchat", "name": "Ольга"}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(body["id"], id);
    let (_, list) = app.get("/api/v1/leads").await;
    assert_eq!(list["leads"].as_array().unwrap().len(), 1);
    // The greeting was not sent twice.
    assert_eq!(bot_texts(&app.lead(id).await).len(), 2);
    app.stop().await;
}

async fn lead_with_phone_is_assigned_without_a_dialog_round_robin(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    let mut managers = vec![];
    for i in 0..4 {
        let (code, body) = app
            .post(
                "/api/v1/leads",
                json!({"source": "crm", "external_id": format!("p{i}"), "channel": "telegram", "phone": "8 918 123-45-6".to_string() + &i.to_string()}),
            )
            .await;
        assert_eq!(code, 201);
        assert_eq!(body["status"], "assigned", "{body}");
        let lead = app.lead(body["id"].as_i64().unwrap()).await;
        assert!(bot_texts(&lead).is_empty(), "no bot dialog: {lead}");
        assert_eq!(lead["reason"], "phone_in_card");
        managers.push(lead["manager_id"].as_str().unwrap().to_string());
    }
    assert_eq!(managers, ["1", "2", "1", "2"], "round-robin");
    app.wait_notifications(4, WAIT).await;
    app.stop().await;
}

async fn keyword_rule_routes_to_its_group(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    let (id, _) = app.new_lead("t1", Some("Хотим участвовать в тендере")).await;
    app.say(id, "+79181234567").await;
    let lead = app.lead(id).await;
    assert_eq!(lead["manager_id"], "2", "the b2b group has only manager 2: {lead}");
    app.stop().await;
}

async fn lead_from_a_channel_we_cannot_talk_on_needs_review(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    let (code, body) = app
        .post(
            "/api/v1/leads",
            json!({"source": "avito", "external_id": "a1", "channel": "avito", "text": "Здравствуйте"}),
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(body["status"], "needs_review");
    let lead = app.lead(body["id"].as_i64().unwrap()).await;
    assert_eq!(lead["reason"], "no_channel");
    app.stop().await;
}

async fn bad_input_gets_a_clear_4xx(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    let (code, body) = app.post_raw("/api/v1/leads", "{\"source\": ").await;
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("EOF"), "{body}");
    let (code, body) = app
        .post("/api/v1/leads", json!({"source": "x", "channel": "webchat"}))
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("external_id"), "{body}");
    let (code, body) = app
        .post(
            "/api/v1/leads",
            json!({"source": "x", "external_id": "1", "channel": "fax"}),
        )
        .await;
    assert_eq!(code, 422);
    assert!(
        body["error"].as_str().unwrap().contains("unknown channel `fax`"),
        "{body}"
    );
    let (code, body) = app.post("/api/v1/leads/999/messages", json!({"text": "hi"})).await;
    assert_eq!(code, 404);
    assert_eq!(body["error"], "lead 999 not found");
    let (id, _) = app.new_lead("b1", None).await;
    let (code, body) = app
        .post(
            &format!("/api/v1/leads/{id}/messages"),
            json!({"text": "я".repeat(4001)}),
        )
        .await;
    assert_eq!(code, 413, "{body}");
    assert!(body["error"].as_str().unwrap().contains("at most 4000"), "{body}");
    let (code, _) = app
        .post(&format!("/api/v1/leads/{id}/messages"), json!({"text": "  "}))
        .await;
    assert_eq!(code, 422);
    let (code, body) = app.get("/api/v1/leads?status=bogus").await;
    assert_eq!(code, 400);
    assert!(body["error"].as_str().unwrap().contains("unknown status"), "{body}");
    // Nothing accepted was lost: the lead still talks.
    app.say(id, "89181234567").await;
    assert_eq!(app.lead(id).await["status"], "assigned");
    app.stop().await;
}

async fn repeated_message_id_is_applied_once(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    let (id, _) = app.new_lead("m1", None).await;
    let path = format!("/api/v1/leads/{id}/messages");
    let (_, first) = app.post(&path, json!({"text": "не дам", "message_id": "x1"})).await;
    let (_, again) = app.post(&path, json!({"text": "не дам", "message_id": "x1"})).await;
    assert_eq!(first["duplicate"], false);
    assert_eq!(again["duplicate"], true);
    // The answer carries what this message's step stored, the client's own line first, with
    // the ids `/transcript` has; a repeat stored nothing.
    let lines = first["transcript"].as_array().expect("transcript");
    assert_eq!(
        (lines[0]["direction"].as_str(), lines[0]["text"].as_str()),
        (Some("in"), Some("не дам")),
        "{first}"
    );
    assert!(
        lines.len() >= 2 && lines[1..].iter().all(|l| l["direction"] == "out"),
        "{first}"
    );
    let (_, stored) = app
        .get(&format!(
            "/api/v1/leads/{id}/transcript?after={}",
            lines[0]["id"].as_i64().unwrap() - 1
        ))
        .await;
    assert_eq!(
        stored["transcript"].as_array().unwrap()[..lines.len()],
        lines[..],
        "{stored}"
    );
    assert_eq!(again["transcript"], json!([]));
    assert_eq!(app.lead(id).await["status"], "bot_processing", "one refusal, not two");
    app.stop().await;
}

async fn failed_notification_is_retried_until_delivered(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    app.capture.fail_first.store(2, Ordering::SeqCst);
    let (id, _) = app.new_lead("nf1", None).await;
    app.say(id, "89181234567").await;
    let notes = app.wait_notifications(1, WAIT).await;
    app.wait_idle(WAIT).await;
    assert_eq!(app.capture.all().len(), 1);
    assert_eq!(app.capture.attempts.load(Ordering::SeqCst), 3, "two 503s, then success");
    let log = app.capture.attempt_log();
    let statuses: Vec<u16> = log.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [503, 503, 200], "{log:?}");
    // Every attempt of the one notification carried the same idempotency key: the receiver
    // can drop the repeats of a delivery it already acted on.
    let key = &notes[0].0;
    assert!(!key.is_empty());
    for a in &log {
        assert_eq!(&a.key, key, "a retry changed the key: {log:?}");
        assert_eq!(a.body, notes[0].1, "a retry changed the body: {log:?}");
    }
    app.stop().await;
}

async fn delivered_but_not_marked_sent_is_delivered_again_with_the_same_key(kind: StoreKind) {
    let mut app = TestApp::spawn_in(kind).await;
    // The process "dies" between the receiver's 200 and the `sent` write: the first update of
    // a notification row to `sent` is lost, and the attempt is counted where the test sees it.
    lose_the_first_sent_mark(&app.raw()).await;
    let (code, body) = app
        .post(
            "/api/v1/leads",
            json!({"source": "crm", "external_id": "ks1", "channel": "form", "phone": "+79181230001"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let first = app.wait_notifications(1, WAIT).await;
    // Wait until the sent write was attempted (and failed): the row is still pending.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if sent_marks_lost(&app.raw()).await >= 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the sent write never came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let raw = app.raw();
    let status = raw
        .string("SELECT status FROM outbox WHERE kind = 'notification'", &[])
        .await;
    let key = raw
        .string("SELECT idempotency_key FROM outbox WHERE kind = 'notification'", &[])
        .await;
    assert_eq!(status, "pending", "the sent mark was lost");
    assert_eq!(first[0].0, key);

    // The "killed" process is gone; a new one on the same database delivers the row again.
    let first_receiver = app.capture.clone();
    let db = app.db.clone();
    app.shutdown().await;
    let app = TestApp::spawn_on(db, |_| {}).await;
    let again = app.wait_notifications(1, WAIT).await;
    app.wait_idle(WAIT).await;
    assert_eq!(again.len(), 1, "delivered once more, not more: {again:?}");
    assert_eq!(again[0].0, key, "the redelivery carries the same idempotency key");
    assert_eq!(again[0].1, first[0].1, "and the same notification");
    assert_eq!(first_receiver.all().len(), 1, "{:?}", first_receiver.all());
    let status = app
        .raw()
        .string("SELECT status FROM outbox WHERE kind = 'notification'", &[])
        .await;
    assert_eq!(status, "sent");
    app.stop().await;
}

async fn restart_api_resumes_from_the_snapshot(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    let (id, _) = app.new_lead("rs1", None).await;
    app.say(id, "не дам").await;
    let (code, body) = app.post(&format!("/api/v1/leads/{id}/restart"), json!({})).await;
    assert_eq!(code, 202, "{body}");
    let lead = app.lead(id).await;
    assert_eq!(lead["actor"], "running");
    assert_eq!(lead["status"], "bot_processing");
    // The refusal count survived the restart: the second refusal ends it.
    app.say(id, "не дам").await;
    assert_eq!(app.lead(id).await["status"], "low_quality");
    let (code, _) = app.post("/api/v1/leads/4242/restart", json!({})).await;
    assert_eq!(code, 404);
    app.stop().await;
}

/// The crash-restart and parked counters have no per-lead label: the tests that move them hold
/// this, so each sees the delta its own app caused (the other tests here never crash a lead).
static CRASH_METRICS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn a_failed_step_restarts_the_lead_without_losing_the_message(kind: StoreKind) {
    let _serial = CRASH_METRICS.lock().await;
    let app = TestApp::spawn_in(kind).await;
    let crashes = async || {
        app.metrics()
            .await
            .value("leadbot_lead_actor_restarts_total", &[("cause", "crash")])
    };
    let before = crashes().await;
    let (id, _) = app.new_lead("c1", None).await;
    // Another writer bumps the snapshot: the actor's next commit hits the version fence,
    // the actor fails, and the supervisor restarts it from the stored snapshot.
    app.raw()
        .exec(
            "UPDATE lead_snapshots SET version = version + 1 WHERE lead_id = $1",
            &[id],
        )
        .await;
    app.post(&format!("/api/v1/leads/{id}/messages"), json!({"text": "89181234567"}))
        .await;
    let lead = app.wait_for(id, WAIT, |l| l["status"] == "assigned").await;
    assert_eq!(lead["phone"], "+79181234567");
    assert_eq!(crashes().await - before, 1.0, "one crash: the stale commit");
    app.stop().await;
}

async fn a_lead_that_keeps_crashing_is_parked_and_others_go_on(kind: StoreKind) {
    let _serial = CRASH_METRICS.lock().await;
    let app = TestApp::spawn_in_with(kind, |c| c.service.runtime.restart_limit = 3).await;
    let before = app.metrics().await;
    let (bad, _) = app.new_lead("cl1", None).await;
    let (good, _) = app.new_lead("cl2", None).await;
    app.post(&format!("/api/v1/leads/{bad}/restart"), json!({})).await;
    app.raw()
        .exec(
            "UPDATE lead_snapshots SET state = '{\"garbage\": true}' WHERE lead_id = $1",
            &[bad],
        )
        .await;
    // Restart from the unreadable snapshot: every start fails until the lead is parked.
    app.post(&format!("/api/v1/leads/{bad}/restart"), json!({})).await;
    let lead = app.wait_for(bad, WAIT, |l| l["status"] == "needs_review").await;
    assert_eq!(lead["reason"], "crash_loop");
    app.say(good, "89181234567").await;
    assert_eq!(app.lead(good).await["status"], "assigned");
    let after = app.metrics().await;
    let delta = |name: &str, labels: &[(&str, &str)]| after.value(name, labels) - before.value(name, labels);
    assert_eq!(delta("leadbot_leads_parked_total", &[]), 1.0);
    assert_eq!(
        delta("leadbot_lead_actor_restarts_total", &[("cause", "crash")]),
        4.0,
        "parked on the failure after restart_limit (3)"
    );
    app.stop().await;
}

async fn list_filters_by_status_and_operator_token_guards_the_operator_api(kind: StoreKind) {
    let app = TestApp::spawn_in_with(kind, |c| c.service.server.operator_token = Some("s3cret".into())).await;
    let (id, _) = app.new_lead("l1", None).await;
    app.new_lead("l2", None).await;
    app.say(id, "89181234567").await;
    let (code, _) = app.get("/api/v1/leads?status=assigned").await;
    assert_eq!(code, 401, "operator API needs the token");
    let resp = app
        .http
        .get(format!("{}/api/v1/leads?status=assigned", app.base))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let leads = body["leads"].as_array().unwrap();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["id"], id);
    // The client side (transcript for the web chat) stays open.
    let (code, _) = app.get(&format!("/api/v1/leads/{id}/transcript")).await;
    assert_eq!(code, 200);
    app.stop().await;
}

async fn health_ready_metrics_and_chat_page(kind: StoreKind) {
    let app = TestApp::spawn_in(kind).await;
    let (id, _) = app.new_lead("h1", None).await;
    app.say(id, "89181234567").await;
    assert_eq!(app.get("/healthz").await.0, 200);
    assert_eq!(app.get("/readyz").await.0, 200);
    // What the metrics count is checked in tests/metrics.rs, one app per process at a time.
    let (code, metrics) = app.get("/metrics").await;
    assert_eq!(code, 200);
    assert!(metrics.as_str().unwrap().contains("# TYPE leadbot_"), "{metrics}");
    let (code, page) = app.get("/chat").await;
    assert_eq!(code, 200);
    assert!(page.as_str().unwrap().contains("/api/v1/leads"));
    app.stop().await;
}

async fn idle_leads_passivate_and_timers_or_messages_reactivate_them(kind: StoreKind) {
    let app = TestApp::spawn_in_with(kind, |c| {
        c.service.runtime.passivate_after = Duration::from_millis(150);
        c.script.timing.reask_after = vec![Duration::from_millis(700), Duration::from_secs(3600)];
    })
    .await;
    let (id, _) = app.new_lead("pv1", None).await;
    let lead = app.wait_for(id, WAIT, |l| l["actor"] == "passivated").await;
    assert_eq!(bot_texts(&lead).len(), 2);
    // The re-ask timer fires for a passivated lead: it is activated from its snapshot.
    let lead = app.wait_for(id, WAIT, |l| bot_texts(l).len() == 3).await;
    assert!(bot_texts(&lead)[2].contains("Вы ещё здесь"));
    app.wait_for(id, WAIT, |l| l["actor"] == "passivated").await;
    // A message re-activates it too, with its state intact.
    let replies = app.say(id, "89181234567").await;
    assert!(replies[0].contains("Спасибо"), "{replies:?}");
    assert_eq!(app.lead(id).await["status"], "assigned");
    // The passivation counter is checked in tests/metrics.rs (every app's shutdown moves it).
    app.stop().await;
}

async fn the_client_side_of_a_lead_needs_its_chat_token(kind: StoreKind) {
    let app = TestApp::spawn_in_with(kind, |c| c.service.server.operator_token = Some("op".into())).await;
    let (a, _) = app.new_lead("ct1", None).await;
    let (b, _) = app.new_lead("ct2", None).await;
    let b_token = app.tokens.lock().unwrap()[&b].clone();
    let url = |id: i64, what: &str| format!("{}/api/v1/leads/{id}/{what}", app.base);
    let no_token = app.http.get(url(a, "transcript")).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    let other_leads = app
        .http
        .get(url(a, "transcript"))
        .header("x-chat-token", &b_token)
        .send()
        .await
        .unwrap();
    assert_eq!(other_leads.status(), 401, "a token opens only its own lead");
    let post = app
        .http
        .post(url(a, "messages"))
        .header("x-chat-token", &b_token)
        .json(&json!({"text": "89181234567"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 401);
    let operator = app
        .http
        .get(url(a, "transcript"))
        .bearer_auth("op")
        .send()
        .await
        .unwrap();
    assert_eq!(operator.status(), 200, "the operator may read it");
    let a_token = app.tokens.lock().unwrap()[&a].clone();
    for path in [format!("/api/v1/leads/{a}"), "/api/v1/leads".to_string()] {
        let resp = app
            .http
            .get(format!("{}{path}", app.base))
            .bearer_auth("op")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}: the operator's own view");
        let text = resp.text().await.unwrap();
        let view: serde_json::Value = serde_json::from_str(&text).unwrap();
        let lead = if view["leads"].is_array() {
            view["leads"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["id"] == a)
                .unwrap()
                .clone()
        } else {
            view
        };
        assert_eq!(lead["id"], a, "{path}: {lead}");
        assert!(
            lead.get("chat_token").is_none(),
            "{path}: never shown in operator views: {lead}"
        );
        assert!(!text.contains(&a_token), "{path}: the token is nowhere in it: {text}");
        assert!(!text.contains(&b_token), "{path}: the token is nowhere in it: {text}");
    }
    // A repeat of the intake does not hand the token out again.
    let (code, again) = app
        .post(
            "/api/v1/leads",
            json!({"source": "site", "external_id": "ct1", "channel": "webchat"}),
        )
        .await;
    assert_eq!(code, 200);
    assert!(again.get("chat_token").is_none());
    app.stop().await;
}

/// Makes the first `sent` mark of a notification row get lost, as if the process died between
/// the receiver's 200 and that write; the row stays pending and claimed by its (dead) epoch.
async fn lose_the_first_sent_mark(raw: &RawDb) {
    match raw {
        // The update fails; a sequence counts the attempt (it survives the rollback).
        RawDb::Pg(_) => {
            raw.script(
                "CREATE SEQUENCE sent_writes;
                 CREATE FUNCTION fail_first_sent() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                     IF nextval('sent_writes') = 1 THEN
                         RAISE EXCEPTION 'injected: lost before the sent mark';
                     END IF;
                     RETURN NEW;
                 END $$;
                 CREATE TRIGGER fail_first_sent BEFORE UPDATE ON outbox FOR EACH ROW
                     WHEN (NEW.status = 'sent' AND OLD.status <> 'sent' AND NEW.kind = 'notification')
                     EXECUTE FUNCTION fail_first_sent();",
            )
            .await
        }
        // SQLite rolls a failed statement's own writes back, counter included: instead the
        // update is undone (every column it set, claim included) and the attempt recorded.
        RawDb::Lite(_) => {
            raw.script(
                "CREATE TABLE sent_writes (n INTEGER);
                 CREATE TRIGGER lose_first_sent AFTER UPDATE ON outbox FOR EACH ROW
                     WHEN NEW.status = 'sent' AND OLD.status <> 'sent' AND NEW.kind = 'notification'
                          AND (SELECT count(*) FROM sent_writes) = 0
                 BEGIN
                     UPDATE outbox SET status = OLD.status, sent_at = OLD.sent_at, last_error = OLD.last_error,
                         claimed_by = OLD.claimed_by
                     WHERE id = NEW.id;
                     INSERT INTO sent_writes VALUES (1);
                 END;",
            )
            .await
        }
    }
}

/// How many `sent` marks were lost (attempted) so far.
async fn sent_marks_lost(raw: &RawDb) -> i64 {
    match raw {
        RawDb::Pg(_) => {
            raw.i64(
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sent_writes",
                &[],
            )
            .await
        }
        RawDb::Lite(_) => raw.i64("SELECT count(*) FROM sent_writes", &[]).await,
    }
}

crate::on_both_stores!(
    success_path_assigns_a_manager_and_notifies_once,
    faq_then_phone,
    refusal_twice_is_low_quality,
    invalid_then_valid_number,
    number_split_over_two_messages,
    no_answer_reasks_then_low_quality,
    needs_review_instead_of_low_quality_when_configured,
    duplicate_intake_returns_the_same_lead,
    lead_with_phone_is_assigned_without_a_dialog_round_robin,
    keyword_rule_routes_to_its_group,
    lead_from_a_channel_we_cannot_talk_on_needs_review,
    bad_input_gets_a_clear_4xx,
    repeated_message_id_is_applied_once,
    failed_notification_is_retried_until_delivered,
    delivered_but_not_marked_sent_is_delivered_again_with_the_same_key,
    restart_api_resumes_from_the_snapshot,
    a_failed_step_restarts_the_lead_without_losing_the_message,
    a_lead_that_keeps_crashing_is_parked_and_others_go_on,
    list_filters_by_status_and_operator_token_guards_the_operator_api,
    health_ready_metrics_and_chat_page,
    idle_leads_passivate_and_timers_or_messages_reactivate_them,
    the_client_side_of_a_lead_needs_its_chat_token,
);
