//! Routing end to end through HTTP: specialists, capacity and the queue, reassignment with the
//! head of sales told, the LLM classifier falling back to rules, the operator's manager API.

mod common;

use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use common::TestApp;
use leadbot::config::{Config, GroupConfig, ManagerConfig, SpecializationRule, Strategy};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

fn manager(id: &str, groups: &[&str], tags: &[&str], capacity: u32) -> ManagerConfig {
    ManagerConfig {
        id: id.into(),
        name: format!("Менеджер {id}"),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        capacity,
        weight: 1,
        timezone: None,
        hours: Default::default(),
        absences: vec![],
    }
}

/// Two sales managers (2 is the public-procurement specialist) and a head of sales.
fn routing(c: &mut Config, strategy: Strategy, capacity: u32) {
    let r = &mut c.routing;
    r.managers = vec![
        manager("1", &["sales"], &[], capacity),
        manager("2", &["sales"], &["госзакупки"], capacity),
        manager("9", &["heads"], &[], 0),
    ];
    r.groups = vec![GroupConfig {
        name: "sales".into(),
        strategy,
        head: Some("9".into()),
    }];
    r.rules = vec![];
    r.classifier.high_priority = vec!["тендер".into(), "срочно".into()];
    r.classifier.specializations = vec![SpecializationRule {
        tag: "госзакупки".into(),
        keywords: vec!["тендер".into(), "44-ФЗ".into()],
    }];
    r.reassign_after = Duration::from_secs(3600);
}

async fn lead_with_phone(app: &TestApp, ext: &str, text: &str, phone: &str) -> Value {
    let (code, body) = app
        .post(
            "/api/v1/leads",
            json!({"source": "crm", "external_id": ext, "channel": "form", "phone": phone, "text": text}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    app.lead(body["id"].as_i64().unwrap()).await
}

#[tokio::test]
async fn a_tender_reaches_the_specialist_despite_load() {
    let app = TestApp::spawn_with(|c| routing(c, Strategy::Specialization, 0)).await;
    // Load manager 2 (manager 1 paused meanwhile) so plain load balancing would prefer manager 1.
    app.post("/api/v1/managers/1/pause", json!({})).await;
    for i in 0..3 {
        let l = lead_with_phone(&app, &format!("x{i}"), "нужна консультация", &format!("+7918000000{i}")).await;
        assert_eq!(l["manager_id"], "2");
    }
    app.post("/api/v1/managers/1/unpause", json!({})).await;
    let plain = lead_with_phone(&app, "y1", "просто вопрос", "+79180000009").await;
    assert_eq!(plain["manager_id"], "1", "least loaded for ordinary leads");
    let tender = lead_with_phone(&app, "t1", "Участвуем в тендере, нужен расчёт", "+79180000003").await;
    assert_eq!(tender["manager_id"], "2", "{tender}");
    app.stop().await;
}

#[tokio::test]
async fn full_capacity_queues_and_a_closed_lead_frees_the_slot() {
    let app = TestApp::spawn_with(|c| routing(c, Strategy::RoundRobin, 1)).await;
    let a = lead_with_phone(&app, "c1", "", "+79180000011").await;
    let b = lead_with_phone(&app, "c2", "", "+79180000012").await;
    assert_eq!(a["status"], "assigned");
    assert_eq!(b["status"], "assigned");
    let c = lead_with_phone(&app, "c3", "", "+79180000013").await;
    assert_eq!(c["status"], "queued", "both managers are full: {c}");
    assert!(c["manager_id"].is_null());
    let (_, managers) = app.get("/api/v1/managers").await;
    assert_eq!(managers["queue_length"], 1);

    let (code, closed) = app.post(&format!("/api/v1/leads/{}/close", a["id"]), json!({})).await;
    assert_eq!(code, 202);
    assert_eq!(closed["status"], "closed");
    let c = app
        .wait_for(c["id"].as_i64().unwrap(), WAIT, |l| l["status"] == "assigned")
        .await;
    assert_eq!(
        c["manager_id"], a["manager_id"],
        "the freed manager takes the queued lead"
    );
    let (_, managers) = app.get("/api/v1/managers").await;
    assert_eq!(managers["queue_length"], 0);
    app.stop().await;
}

#[tokio::test]
async fn no_reaction_reassigns_and_tells_the_head_and_accepting_stops_it() {
    // Manager ids only this test uses, so the reassignment counter's delta is this app's own.
    let app = TestApp::spawn_with(|c| {
        routing(c, Strategy::RoundRobin, 0);
        c.routing.managers = vec![
            manager("31", &["sales"], &[], 0),
            manager("32", &["sales"], &[], 0),
            manager("39", &["heads"], &[], 0),
        ];
        c.routing.groups[0].head = Some("39".into());
        c.routing.reassign_after = Duration::from_millis(800);
        // Hops remain after one: only the accept can keep the accepted lead where it is.
        c.routing.max_hops = 2;
    })
    .await;
    let before = app.metrics().await;

    // Lead A is accepted at once, with both hops still to go.
    let a = lead_with_phone(&app, "r1", "", "+79180000021").await;
    let a_id = a["id"].as_i64().unwrap();
    let a_manager = a["manager_id"].as_str().unwrap().to_string();
    assert_eq!(a["timers"][0]["kind"], "accept_deadline", "{a}");
    let (code, _) = app.post(&format!("/api/v1/leads/{a_id}/accept"), json!({})).await;
    assert_eq!(code, 202);
    let accepted = app.lead(a_id).await;
    assert!(
        accepted["timers"].as_array().unwrap().is_empty(),
        "the accept cancels the deadline: {accepted}"
    );

    // The control: lead B, assigned after A and never accepted, moves once its deadline passes
    // (later than A's would have).
    let b = lead_with_phone(&app, "r2", "", "+79180000022").await;
    let b_id = b["id"].as_i64().unwrap();
    let first = b["manager_id"].as_str().unwrap().to_string();
    assert_ne!(first, a_manager, "round-robin");
    let moved = app
        .wait_for(b_id, WAIT, |l| l["manager_id"].as_str() != Some(&first))
        .await;
    let second = moved["manager_id"].as_str().unwrap().to_string();
    assert_eq!(second, a_manager, "the other sales manager, not the head (39)");
    // B's first manager, its second and the head were told.
    app.wait_notifications(4, WAIT).await;
    app.wait_idle(WAIT).await;
    let to = |id: i64| -> Vec<String> {
        let mut to: Vec<String> = app
            .capture
            .all()
            .iter()
            .filter(|(_, n)| n["lead_id"] == id)
            .map(|(_, n)| n["manager_id"].as_str().unwrap().to_string())
            .collect();
        to.sort();
        to
    };
    assert_eq!(to(a_id), std::slice::from_ref(&a_manager), "A: its manager, once");
    let b_to = to(b_id);
    assert!(
        b_to.contains(&first) && b_to.contains(&second) && b_to.contains(&"39".to_string()),
        "{b_to:?}"
    );
    let head = app
        .capture
        .all()
        .into_iter()
        .find(|(_, n)| n["manager_id"] == "39")
        .unwrap();
    assert!(head.1["text"].as_str().unwrap().contains("не взял лид"), "{head:?}");

    // A, whose deadline (had it not been cancelled) fell before B's, stayed.
    let a = app.lead(a_id).await;
    assert_eq!(a["manager_id"], a_manager.as_str(), "{a}");
    assert!(a["timers"].as_array().unwrap().is_empty(), "{a}");
    let (_, managers) = app.get("/api/v1/managers").await;
    let load = |id: &str| {
        managers["managers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap()["active"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(load(&first), 0, "B's first manager's slot was released");
    assert_eq!(load(&second), 2, "A and B");
    let after = app.metrics().await;
    let moves = |from: &str, to: &str| {
        let labels = [("from", from), ("manager", to)];
        after.value("leadbot_reassignments_total", &labels) - before.value("leadbot_reassignments_total", &labels)
    };
    assert_eq!(moves(&first, &second), 1.0, "B moved once");
    assert_eq!(moves(&a_manager, &first), 0.0, "A never moved");
    app.stop().await;
}

#[tokio::test]
async fn paused_or_absent_managers_get_nothing() {
    let app = TestApp::spawn_with(|c| routing(c, Strategy::RoundRobin, 0)).await;
    let (code, _) = app.post("/api/v1/managers/1/pause", json!({})).await;
    assert_eq!(code, 200);
    for i in 0..3 {
        let l = lead_with_phone(&app, &format!("p{i}"), "", &format!("+7918000003{i}")).await;
        assert_eq!(l["manager_id"], "2");
    }
    app.post("/api/v1/managers/1/unpause", json!({})).await;
    let (code, _) = app
        .post("/api/v1/managers/2/absence", json!({"until": "2099-01-01"}))
        .await;
    assert_eq!(code, 200);
    let l = lead_with_phone(&app, "p9", "", "+79180000039").await;
    assert_eq!(l["manager_id"], "1");
    let (_, managers) = app.get("/api/v1/managers").await;
    let m2 = managers["managers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "2")
        .unwrap()
        .clone();
    assert_eq!(m2["absent"], true);
    assert_eq!(m2["eligible"], false);
    assert_eq!(m2["active"], 3);
    let (code, body) = app.post("/api/v1/managers/77/pause", json!({})).await;
    assert_eq!(code, 404, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_returning_client_goes_back_to_their_manager() {
    let app = TestApp::spawn_with(|c| routing(c, Strategy::RoundRobin, 0)).await;
    let first = lead_with_phone(&app, "rc1", "", "+79185550000").await;
    lead_with_phone(&app, "rc2", "", "+79185550001").await;
    let again = lead_with_phone(&app, "rc3", "снова к вам", "+79185550000").await;
    assert_eq!(again["manager_id"], first["manager_id"]);
    app.stop().await;
}

/// A fake OpenAI-compatible server: answers after `delay` with `content` as the message.
async fn fake_llm(delay: Duration, content: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move |Json(_req): Json<Value>| async move {
            tokio::time::sleep(delay).await;
            Json(json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}))
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/v1")
}

fn with_llm(c: &mut Config, base_url: String) {
    routing(c, Strategy::Specialization, 0);
    c.routing.llm = Some(leadbot::config::LlmConfig {
        base_url,
        model: "test".into(),
        timeout: Duration::from_millis(300),
        api_key: None,
    });
}

#[tokio::test]
async fn the_llm_decides_when_it_answers_and_rules_decide_when_it_times_out() {
    // The LLM recognises procurement where no keyword is: its verdict routes to the specialist.
    let url = fake_llm(
        Duration::ZERO,
        r#"{"kind": "new_lead", "priority": "high", "tags": ["госзакупки"]}"#,
    )
    .await;
    let app = TestApp::spawn_with(move |c| with_llm(c, url)).await;
    lead_with_phone(&app, "l0", "", "+79180000040").await; // manager 1 or 2 gets one
    lead_with_phone(&app, "l1", "", "+79180000041").await;
    let l = lead_with_phone(&app, "l2", "Нужна поставка по контракту для школы", "+79180000042").await;
    assert_eq!(l["manager_id"], "2", "{l}");
    app.stop().await;

    // A timing-out LLM: the rules see "тендер" and decide the same.
    let url = fake_llm(
        Duration::from_secs(5),
        r#"{"kind": "complaint", "priority": "normal", "tags": []}"#,
    )
    .await;
    let app = TestApp::spawn_with(move |c| with_llm(c, url)).await;
    lead_with_phone(&app, "m0", "", "+79180000050").await;
    lead_with_phone(&app, "m1", "", "+79180000051").await;
    let started = std::time::Instant::now();
    let l = lead_with_phone(&app, "m2", "Объявлен тендер", "+79180000052").await;
    assert_eq!(l["manager_id"], "2", "{l}");
    assert!(started.elapsed() < Duration::from_secs(3), "the timeout was honoured");
    app.stop().await;
}

#[tokio::test]
async fn complaints_go_to_their_own_group_not_to_sales() {
    let app = TestApp::spawn_with(|c| {
        routing(c, Strategy::RoundRobin, 0);
        c.routing.managers.push(manager("5", &["support"], &[], 0));
        c.routing.classifier.complaint = vec!["жалоба".into(), "недоволен".into()];
        c.routing.classifier.complaint_group = Some("support".into());
    })
    .await;
    let l = lead_with_phone(&app, "k1", "Я недоволен качеством, это жалоба", "+79180000060").await;
    assert_eq!(l["manager_id"], "5", "{l}");
    let l = lead_with_phone(&app, "k2", "Хочу заказать", "+79180000061").await;
    assert_ne!(l["manager_id"], "5");
    app.stop().await;
}

#[tokio::test]
async fn live_load_pauses_and_the_queue_survive_a_restart() {
    let mut app = TestApp::spawn_with(|c| routing(c, Strategy::RoundRobin, 1)).await;
    lead_with_phone(&app, "s1", "", "+79180000071").await;
    lead_with_phone(&app, "s2", "", "+79180000072").await;
    let queued = lead_with_phone(&app, "s3", "", "+79180000073").await;
    assert_eq!(queued["status"], "queued");
    app.post("/api/v1/managers/2/pause", json!({})).await;
    let db = app.db.clone();
    app.shutdown().await;

    let app = TestApp::spawn_on(db, |c| routing(c, Strategy::RoundRobin, 1)).await;
    let (_, managers) = app.get("/api/v1/managers").await;
    let m = |id: &str| {
        managers["managers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(m("1")["active"], 1);
    assert_eq!(m("2")["active"], 1);
    assert_eq!(m("2")["paused"], true);
    assert_eq!(managers["queue_length"], 1);
    let first = app.lead(1).await;
    app.post(&format!("/api/v1/leads/{}/close", first["id"]), json!({}))
        .await;
    let q = app
        .wait_for(queued["id"].as_i64().unwrap(), WAIT, |l| l["status"] == "assigned")
        .await;
    assert_eq!(q["manager_id"], first["manager_id"]);
    app.stop().await;
}

#[tokio::test]
async fn round_robin_resumes_where_it_stopped_after_a_restart() {
    let mut app = TestApp::spawn_with(|c| routing(c, Strategy::RoundRobin, 0)).await;
    let first = lead_with_phone(&app, "rr1", "", "+79180000081").await;
    assert_eq!(first["manager_id"], "1");
    let db = app.db.clone();
    app.shutdown().await;

    // A restart must not hand the next lead to manager 1 again: the turn is manager 2's.
    let app = TestApp::spawn_on(db, |c| routing(c, Strategy::RoundRobin, 0)).await;
    let second = lead_with_phone(&app, "rr2", "", "+79180000082").await;
    assert_eq!(second["manager_id"], "2", "{second}");
    let third = lead_with_phone(&app, "rr3", "", "+79180000083").await;
    assert_eq!(third["manager_id"], "1", "{third}");
    app.stop().await;
}

async fn queue_length(app: &TestApp) -> u64 {
    let (_, managers) = app.get("/api/v1/managers").await;
    managers["queue_length"].as_u64().unwrap()
}

#[tokio::test]
async fn a_lead_closed_while_queued_leaves_the_queue() {
    let app = TestApp::spawn_with(|c| routing(c, Strategy::RoundRobin, 1)).await;
    let a = lead_with_phone(&app, "q1", "", "+79180000091").await;
    lead_with_phone(&app, "q2", "", "+79180000092").await;
    let gone = lead_with_phone(&app, "q3", "срочно", "+79180000093").await;
    let waiting = lead_with_phone(&app, "q4", "", "+79180000094").await;
    assert_eq!(gone["status"], "queued");
    assert_eq!(waiting["status"], "queued");
    assert_eq!(queue_length(&app).await, 2);

    let (code, body) = app
        .post(&format!("/api/v1/leads/{}/close", gone["id"]), json!({}))
        .await;
    assert_eq!(code, 202, "{body}");
    let deadline = tokio::time::Instant::now() + WAIT;
    while queue_length(&app).await != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed lead is still queued"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM routing_queue")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(rows, 1, "nor does it come back after a restart");

    // The freed slot goes to the lead still waiting, not to the closed (high-priority) one.
    app.post(&format!("/api/v1/leads/{}/close", a["id"]), json!({})).await;
    let w = app
        .wait_for(waiting["id"].as_i64().unwrap(), WAIT, |l| l["status"] == "assigned")
        .await;
    assert_eq!(w["manager_id"], a["manager_id"]);
    let gone = app.lead(gone["id"].as_i64().unwrap()).await;
    assert_eq!(gone["status"], "closed");
    assert!(gone["manager_id"].is_null(), "{gone}");
    app.stop().await;
}

#[tokio::test]
async fn an_a_segment_client_goes_before_older_ordinary_leads() {
    let app = TestApp::spawn_with(|c| {
        routing(c, Strategy::RoundRobin, 1);
        c.routing.classifier.high_priority_segments = vec!["A".into()];
    })
    .await;
    let a = lead_with_phone(&app, "g1", "", "+79180000101").await;
    lead_with_phone(&app, "g2", "", "+79180000102").await;
    let ordinary = lead_with_phone(&app, "g3", "", "+79180000103").await;
    let (code, body) = app
        .post(
            "/api/v1/leads",
            json!({"source": "crm", "external_id": "g4", "channel": "form", "phone": "+79180000104",
                   "text": "добрый день", "segment": "A"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let vip = body["id"].as_i64().unwrap();
    assert_eq!(app.lead(vip).await["status"], "queued");

    app.post(&format!("/api/v1/leads/{}/close", a["id"]), json!({})).await;
    let v = app.wait_for(vip, WAIT, |l| l["status"] == "assigned").await;
    assert_eq!(v["segment"], "A", "{v}");
    assert_eq!(v["manager_id"], a["manager_id"]);
    assert_eq!(app.lead(ordinary["id"].as_i64().unwrap()).await["status"], "queued");

    let (code, body) = app
        .post(
            "/api/v1/leads",
            json!({"source": "crm", "external_id": "g5", "channel": "form", "segment": " "}),
        )
        .await;
    assert_eq!(code, 422, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_database_error_does_not_stop_the_manager_pool() {
    let app = TestApp::spawn_with(|c| {
        routing(c, Strategy::RoundRobin, 1);
        // The failing lead retries until the table is back instead of being parked.
        c.service.runtime.restart_limit = 10_000;
    })
    .await;
    lead_with_phone(&app, "d1", "", "+79180000111").await;
    lead_with_phone(&app, "d2", "", "+79180000112").await;
    // The next lead must be queued, and queueing it fails.
    sqlx::query("ALTER TABLE routing_queue RENAME TO routing_queue_gone")
        .execute(app.pool())
        .await
        .unwrap();
    let (code, body) = app
        .post(
            "/api/v1/leads",
            json!({"source": "crm", "external_id": "d3", "channel": "form", "phone": "+79180000113"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    assert_ne!(body["status"], "assigned");
    let (code, managers) = app.get("/api/v1/managers").await;
    assert_eq!(code, 200, "the pool still answers: {managers}");
    assert_eq!(managers["managers"][0]["active"], 1);

    // Once the database is back, the lead's retried step queues it.
    sqlx::query("ALTER TABLE routing_queue_gone RENAME TO routing_queue")
        .execute(app.pool())
        .await
        .unwrap();
    let id = body["id"].as_i64().unwrap();
    let lead = app.wait_for(id, WAIT, |l| l["status"] == "queued").await;
    assert!(lead["manager_id"].is_null(), "{lead}");
    app.stop().await;
}
