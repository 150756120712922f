//! SLA robots end to end on Bitrix24: deal events posted to leadbot's webhook, the local
//! Bitrix24 REST server (tests/common/fake_bitrix24.rs) behind the production client, the
//! robots of a test robots.toml with the document's thresholds shortened to seconds.

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::fake_amocrm::FakeAmo;
use common::fake_bitrix24::FakeBitrix24;
use common::{StoreKind, TestApp, TestDb};
use leadbot::config::{AmoCrmSettings, Bitrix24Settings, ConfigIssues, RobotsSettings};
use serde_json::{json, Value};

const TOKEN: &str = "51856fefc120afa4b628cc82d3935cce";
const WAIT: Duration = Duration::from_secs(20);

/// The document's robots of «Неразобранное» and «Квалифицирован», 15 / 30 min as 3 / 5 s.
const ROBOTS: &str = r#"
time_zone = "Europe/Moscow"
[calendar]
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start = "00:00:00"
end = "23:59:59"
[crm.bitrix24.stages]
"Неразобранное" = "NEW"
"Квалификация" = "PREPARATION"
"Квалифицирован" = "PREPAYMENT_INVOICE"
"Назначено" = "EXECUTING"
"Срыв визита" = "FINAL_INVOICE"
"Успешно" = "WON"
[crm.bitrix24.fields]
visit_at = "UF_CRM_VISIT_AT"
return = "UF_CRM_RETURN"
# Bitrix24 deals have no tags: a list field holds them.
tags = "UF_CRM_TAGS"
[crm.amocrm]
pipeline = "9621099"
[crm.amocrm.stages]
"Неразобранное" = "76789301"
"Квалификация" = "76789302"
"Квалифицирован" = "76789303"
"Назначено" = "76789304"
"Срыв визита" = "76789305"
"Успешно" = "142"
[crm.amocrm.fields]
source = "735703"
visit_at = "735704"
return = "735700"

[[robot]]
id = "first_contact_tag"
on = "entered_stage"
stages = ["Неразобранное"]
after = "3s"
when = { no_touch = true }
actions = [{ tag = "Жёлтое предупреждение" }]

[[robot]]
id = "first_contact_yellow"
on = "entered_stage"
stages = ["Неразобранное"]
after = "3s"
when = { no_touch = true }
actions = [{ comment = "Жёлтое предупреждение: нет контакта с клиентом" }, "violation"]

[[robot]]
id = "first_contact_urgent"
on = "entered_stage"
stages = ["Неразобранное"]
after = "5s"
when = { no_touch = true }
actions = [
  { task = { title = "Срочно связаться", due_in = "15m" } },
  { notify_head = "Сделка «{deal}»: нет контакта с клиентом {elapsed}" },
  "violation",
]

[[robot]]
id = "visit_confirm_task"
on = "field_date"
field = "visit_at"
stages = ["Назначено"]
after = "-24h"
actions = [{ task = { title = "Подтвердить визит", due_in = "20h" } }]

[[robot]]
id = "visit_no_show"
on = "field_date"
field = "visit_at"
stages = ["Назначено"]
after = "2s"
actions = [{ move = "Срыв визита" }]

[[robot]]
id = "return_after_no_show"
on = "entered_stage"
stages = ["Назначено", "Успешно"]
once = true
when = { was_in = "Срыв визита" }
actions = [{ set_field = { field = "return", value = "Да" } }, { count = { counter = "returns" } }]

[[robot]]
id = "qualified_required_fields"
on = "entered_stage"
stages = ["Квалифицирован"]
when = { missing_fields = ["name", "phone", "source", "comment", "task", "crm_required"] }
actions = ["move_back", { comment = "Сделку нельзя перевести в «Квалифицирован»: не заполнены {missing}" }, "violation"]
"#;

fn robots() -> RobotsSettings {
    robots_with("")
}

/// The test robots with more robots or people appended.
fn robots_with(extra: &str) -> RobotsSettings {
    let mut issues = ConfigIssues::default();
    let r = RobotsSettings::parse("robots.toml", &format!("{ROBOTS}{extra}"), &mut issues);
    assert!(issues.is_empty(), "{issues}");
    r.unwrap()
}

fn settings(fake: &FakeBitrix24) -> Bitrix24Settings {
    let mut s: Bitrix24Settings = toml::from_str(
        r#"
portal = "some-domain.bitrix24.com"
member_id = "a223c6b3710f85df22e9377d6c4f7553"
reconcile_every = "1h"
[statuses]
bot_processing = "IN_PROCESS"
assigned = "CONVERTED"
low_quality = "JUNK"
needs_review = "NEW"
[limits]
rate_per_sec = 50.0
burst = 50
"#,
    )
    .unwrap();
    s.webhook_url = Some(fake.webhook_url());
    s.application_token = Some(TOKEN.into());
    s
}

async fn spawn(db: TestDb, fake: &FakeBitrix24) -> TestApp {
    let s = settings(fake);
    TestApp::spawn_on(db, move |c| {
        c.bitrix24 = Some(s);
        c.robots = Some(robots());
    })
    .await
}

/// The documented app event (tests/fixtures/bitrix24/event-ONCRMDEALUPDATE-app.json) for
/// another entity; activity events have the same documented shape (`data[FIELDS][ID]`).
fn event(name: &str, id: u64, ts: u64) -> Value {
    let mut e: Value = serde_json::from_str(include_str!("fixtures/bitrix24/event-ONCRMDEALUPDATE-app.json")).unwrap();
    e["event"] = json!(name);
    e["data"]["FIELDS"]["ID"] = json!(id.to_string());
    e["ts"] = json!(ts.to_string());
    e
}

async fn post(app: &TestApp, body: Value) -> u16 {
    app.http
        .post(format!("{}/webhooks/bitrix24", app.base))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn wait_until<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ours(comments: &[String], needle: &str) -> usize {
    comments
        .iter()
        .filter(|c| c.starts_with("[leadbot] ") && c.contains(needle))
        .count()
}

async fn violations(app: &TestApp, robot: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM sla_violations WHERE robot = '{robot}'");
    app.raw().i64(&sql, &[]).await
}

async fn an_untouched_deal_gets_the_warning_then_the_task_and_the_heads_notice(kind: StoreKind) {
    let fake = FakeBitrix24::start().await;
    // The deal's clock starts when the CRM says it entered the stage (MOVED_TIME).
    let created = Instant::now();
    fake.add_deal(501, "NEW", "7", &Utc::now().to_rfc3339());
    let app = spawn(TestDb::fresh(kind), &fake).await;
    assert_eq!(post(&app, event("ONCRMDEALADD", 501, 1)).await, 200);

    wait_until("the yellow warning", WAIT, || {
        (ours(&fake.deal_comments(501), "Жёлтое предупреждение") == 1).then_some(())
    })
    .await;
    let yellow_at = created.elapsed();
    // MOVED_TIME has whole seconds: up to one second early by the test's clock.
    assert!(yellow_at >= Duration::from_secs(2), "fired early: {yellow_at:?}");
    assert!(yellow_at < Duration::from_secs(5), "fired late: {yellow_at:?}");
    // Not yet the second step.
    assert!(fake.deal_todos(501, "Срочно связаться").is_empty());

    let todo = wait_until("the urgent task", WAIT, || {
        fake.deal_todos(501, "Срочно связаться").pop()
    })
    .await;
    assert!(created.elapsed() >= Duration::from_secs(4));
    assert_eq!(todo["RESPONSIBLE_ID"], "7");
    let notice = wait_until("the head's notice", WAIT, || {
        app.capture
            .all()
            .into_iter()
            .map(|(_, b)| b)
            .find(|b| b["robot"] == "first_contact_urgent")
    })
    .await;
    assert_eq!(notice["recipient"], "head");
    assert_eq!(notice["via"], "webhook");
    assert!(notice["text"].as_str().unwrap().contains("Сделка #501"), "{notice}");

    // Each robot fired once, its violation stored once; a redelivered event changes nothing.
    assert_eq!(post(&app, event("ONCRMDEALUPDATE", 501, 1)).await, 200);
    assert_eq!(post(&app, event("ONCRMDEALUPDATE", 501, 2)).await, 200);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(ours(&fake.deal_comments(501), "Жёлтое предупреждение"), 1);
    assert_eq!(fake.deal_todos(501, "Срочно связаться").len(), 1);
    assert_eq!(violations(&app, "first_contact_yellow").await, 1);
    assert_eq!(violations(&app, "first_contact_urgent").await, 1);
    // (The recorder is the process's: the other store's run of this test counts there too.)
    let m = app.metrics().await;
    assert!(m.value("leadbot_sla_violations_total", &[("robot", "first_contact_urgent")]) >= 1.0);
    app.stop().await;
}

async fn a_call_before_the_first_threshold_stops_the_clock(kind: StoreKind) {
    let fake = FakeBitrix24::start().await;
    fake.add_deal(502, "NEW", "7", &Utc::now().to_rfc3339());
    let app = spawn(TestDb::fresh(kind), &fake).await;
    assert_eq!(post(&app, event("ONCRMDEALADD", 502, 1)).await, 200);
    // The manager calls the client right after: an outgoing call on the deal.
    tokio::time::sleep(Duration::from_millis(300)).await;
    fake.add_activity(
        9001,
        json!({"ID": "9001", "OWNER_ID": "502", "OWNER_TYPE_ID": "2", "TYPE_ID": "2", "PROVIDER_ID": "VOXIMPLANT_CALL",
               "DIRECTION": "2", "COMPLETED": "Y", "SUBJECT": "Исходящий звонок", "START_TIME": Utc::now().to_rfc3339()}),
    );
    assert_eq!(post(&app, event("ONCRMACTIVITYADD", 9001, 2)).await, 200);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        ours(&fake.deal_comments(502), "Жёлтое"),
        0,
        "{:?}",
        fake.deal_comments(502)
    );
    assert!(fake.deal_todos(502, "Срочно связаться").is_empty());
    assert_eq!(violations(&app, "first_contact_yellow").await, 0);
    app.stop().await;
}

async fn a_move_without_required_fields_is_moved_back_with_the_list(kind: StoreKind) {
    let fake = FakeBitrix24::start().await;
    fake.add_deal(503, "NEW", "7", &Utc::now().to_rfc3339());
    let app = spawn(TestDb::fresh(kind), &fake).await;
    assert_eq!(post(&app, event("ONCRMDEALADD", 503, 1)).await, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The manager drags it to «Квалифицирован» with no contact, source, comment or task.
    fake.inner.lock().unwrap().deals.get_mut(&503).unwrap()["STAGE_ID"] = json!("PREPAYMENT_INVOICE");
    assert_eq!(post(&app, event("ONCRMDEALUPDATE", 503, 2)).await, 200);
    wait_until("the move back", WAIT, || {
        (fake.deal(503)["STAGE_ID"] == "NEW").then_some(())
    })
    .await;
    let comment = wait_until("the list of missing fields", WAIT, || {
        fake.deal_comments(503)
            .into_iter()
            .find(|c| c.contains("нельзя перевести"))
    })
    .await;
    assert!(
        comment.ends_with("не заполнены ФИО, телефон, источник, комментарий, задача"),
        "{comment}"
    );
    // Our move echoes back: the first stay resumes, and its clock did not restart.
    assert_eq!(post(&app, event("ONCRMDEALUPDATE", 503, 3)).await, 200);
    wait_until("the yellow warning of the first stay", WAIT, || {
        (ours(&fake.deal_comments(503), "Жёлтое") == 1).then_some(())
    })
    .await;
    assert_eq!(violations(&app, "qualified_required_fields").await, 1);
    app.stop().await;
}

async fn timers_fire_after_a_restart_and_the_overdue_ones_at_once(kind: StoreKind) {
    let fake = FakeBitrix24::start().await;
    fake.add_deal(504, "NEW", "7", &Utc::now().to_rfc3339());
    let db = TestDb::fresh(kind);
    let mut app = spawn(db.clone(), &fake).await;
    assert_eq!(post(&app, event("ONCRMDEALADD", 504, 1)).await, 200);
    wait_until("the deal tracked", WAIT, || {
        Some(()).filter(|_| !fake.calls("crm.timeline.comment.list").is_empty())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.shutdown().await;
    // Down past both thresholds.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let app = spawn(db, &fake).await;
    let started = Instant::now();
    wait_until("both overdue steps", WAIT, || {
        (ours(&fake.deal_comments(504), "Жёлтое") == 1 && fake.deal_todos(504, "Срочно связаться").len() == 1)
            .then_some(())
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "overdue timers took {:?}",
        started.elapsed()
    );
    app.stop().await;
}

// ---- amoCRM (the deal is the lead) ------------------------------------------------------------

const AMO_SECRET: &str = "amo-hook-secret-0123456789";
const AMO_ACCOUNT: u64 = 32427762;
const SALES: u64 = 9621099;
const S_NEW: u64 = 76789301;
const S_QUALIFIED: u64 = 76789303;
const S_BOOKED: u64 = 76789304;
const S_NO_SHOW: u64 = 76789305;
/// The visit date and «Возврат» fields of the test mapping (`[crm.amocrm.fields]`).
const F_VISIT_AT: u64 = 735704;
const F_RETURN: u64 = 735700;

async fn amo_app(fake: &FakeAmo) -> TestApp {
    // A sales pipeline of its own; the first-contact pipeline (the bot's) is another one.
    fake.inner
        .lock()
        .unwrap()
        .pipelines
        .push((SALES, vec![S_NEW, 76789302, S_QUALIFIED, S_BOOKED, S_NO_SHOW, 142]));
    let mut s: AmoCrmSettings = toml::from_str(&format!(
        r#"
subdomain = "etesttask"
account_id = {AMO_ACCOUNT}
base_url = "{}"
reconcile_every = "300ms"
[pipeline]
id = {}
take_statuses = [{}]
bot_processing = {}
assigned = {}
low_quality = 143
needs_review = {}
[limits]
rate_per_sec = 7.0
"#,
        fake.base,
        common::fake_amocrm::PIPELINE,
        common::fake_amocrm::NEW,
        common::fake_amocrm::BOT,
        common::fake_amocrm::ASSIGNED,
        common::fake_amocrm::REVIEW,
    ))
    .unwrap();
    s.webhook_secret = Some(AMO_SECRET.into());
    s.token = Some(common::fake_amocrm::TOKEN.into());
    TestApp::spawn_with(move |c| {
        c.amocrm = Some(s);
        c.robots = Some(robots());
    })
    .await
}

/// A full-format `leads[{action}]` webhook (as tests/fixtures/amocrm/raw-webhook-leads-*.form.txt).
fn amo_leads(action: &str, id: u64, status: u64) -> String {
    let k = |f: &str| format!("leads[{action}][0][{f}]");
    let pairs = vec![
        (k("id"), id.to_string()),
        (k("status_id"), status.to_string()),
        (k("pipeline_id"), SALES.to_string()),
        (k("updated_at"), Utc::now().timestamp_micros().to_string()),
        ("account[subdomain]".to_string(), "etesttask".to_string()),
        ("account[id]".to_string(), AMO_ACCOUNT.to_string()),
    ];
    serde_urlencoded::to_string(pairs).unwrap()
}

async fn amo_post(app: &TestApp, body: String) -> u16 {
    app.http
        .post(format!("{}/webhooks/amocrm/{AMO_SECRET}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn amo_tags(fake: &FakeAmo, id: u64) -> Vec<String> {
    fake.lead(id)["_embedded"]["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn amo_tasks(fake: &FakeAmo, id: u64, text: &str) -> usize {
    fake.inner
        .lock()
        .unwrap()
        .tasks
        .iter()
        .filter(|t| t["entity_id"] == json!(id) && t["text"] == json!(text))
        .count()
}

#[tokio::test]
async fn amocrm_an_untouched_lead_gets_the_yellow_tag_then_the_urgent_task() {
    let fake = FakeAmo::start().await;
    fake.add_lead_in(700, SALES, S_NEW, Some("Иван"), None, &["Сайт"]);
    let app = amo_app(&fake).await;
    let sent = Instant::now();
    assert_eq!(amo_post(&app, amo_leads("add", 700, S_NEW)).await, 200);
    wait_until("the yellow tag", WAIT, || {
        amo_tags(&fake, 700)
            .contains(&"Жёлтое предупреждение".to_string())
            .then_some(())
    })
    .await;
    assert!(sent.elapsed() >= Duration::from_secs(2), "{:?}", sent.elapsed());
    assert!(violations(&app, "first_contact_yellow").await <= 1);
    // The lead's own tag stays.
    assert!(amo_tags(&fake, 700).contains(&"Сайт".to_string()));
    wait_until("the urgent task", WAIT, || {
        (amo_tasks(&fake, 700, "Срочно связаться") == 1).then_some(())
    })
    .await;
    let notes: Vec<String> = fake
        .inner
        .lock()
        .unwrap()
        .notes
        .iter()
        .filter(|(l, _)| *l == 700)
        .map(|(_, t)| t.clone())
        .collect();
    assert_eq!(
        notes
            .iter()
            .filter(|t| t.starts_with("[leadbot] Жёлтое предупреждение"))
            .count(),
        1,
        "{notes:?}"
    );
    // Our own changes echo back as webhooks: nothing is added twice.
    assert_eq!(amo_post(&app, amo_leads("update", 700, S_NEW)).await, 200);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(amo_tasks(&fake, 700, "Срочно связаться"), 1);
    assert_eq!(violations(&app, "first_contact_urgent").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn amocrm_a_call_note_stops_the_clock() {
    let fake = FakeAmo::start().await;
    fake.add_lead_in(701, SALES, S_NEW, Some("Пётр"), None, &[]);
    let app = amo_app(&fake).await;
    assert_eq!(amo_post(&app, amo_leads("add", 701, S_NEW)).await, 200);
    // Once the robots track the lead (its first stay began):
    let start = Instant::now();
    while app
        .raw()
        .i64("SELECT count(*) FROM deals WHERE deal_id = '701'", &[])
        .await
        == 0
    {
        assert!(start.elapsed() < WAIT, "the lead was never tracked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The manager calls; amoCRM records a call note (found by the poll of call notes).
    let now = Utc::now().timestamp();
    fake.inner.lock().unwrap().call_notes.push(json!({
        "id": 880001, "entity_id": 701, "note_type": "call_out", "created_at": now, "updated_at": now,
        "params": {"uniq": "8f52d38a-5fb3-406d-93a3-a4832dc28f8b", "duration": 60, "source": "onlinePBX", "phone": "+79001234567"}
    }));
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(!amo_tags(&fake, 701).contains(&"Жёлтое предупреждение".to_string()));
    assert_eq!(amo_tasks(&fake, 701, "Срочно связаться"), 0);
    app.stop().await;
}

#[tokio::test]
async fn amocrm_a_move_without_required_fields_is_moved_back() {
    let fake = FakeAmo::start().await;
    fake.add_lead_in(702, SALES, S_NEW, None, None, &[]);
    // amoCRM itself requires field 735701 in «Квалифицирован» (enforced only in its interface).
    fake.inner
        .lock()
        .unwrap()
        .required_fields
        .push((735701, SALES, S_QUALIFIED));
    let app = amo_app(&fake).await;
    assert_eq!(amo_post(&app, amo_leads("add", 702, S_NEW)).await, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    fake.inner.lock().unwrap().leads.get_mut(&702).unwrap()["status_id"] = json!(S_QUALIFIED);
    assert_eq!(amo_post(&app, amo_leads("status", 702, S_QUALIFIED)).await, 200);
    wait_until("the move back", WAIT, || {
        (fake.lead(702)["status_id"] == json!(S_NEW)).then_some(())
    })
    .await;
    let note = wait_until("the note with the missing fields", WAIT, || {
        let g = fake.inner.lock().unwrap();
        g.notes
            .iter()
            .find(|(l, t)| *l == 702 && t.contains("нельзя перевести"))
            .map(|(_, t)| t.clone())
    })
    .await;
    assert!(
        note.ends_with("не заполнены ФИО, телефон, источник, комментарий, задача, field 735701"),
        "{note}"
    );
    app.stop().await;
}

/// Sets an amoCRM lead's custom field the way amoCRM returns it (a date field is a unix time).
fn amo_set_field(fake: &FakeAmo, id: u64, field: u64, value: Value) {
    let mut g = fake.inner.lock().unwrap();
    let lead = g.leads.get_mut(&id).unwrap();
    let mut current = lead["custom_fields_values"].as_array().cloned().unwrap_or_default();
    current.retain(|f| f["field_id"] != json!(field));
    current.push(
        json!({"field_id": field, "field_name": "Поле", "field_type": "date_time", "values": [{"value": value}]}),
    );
    lead["custom_fields_values"] = json!(current);
}

fn amo_field(fake: &FakeAmo, id: u64, field: u64) -> Option<Value> {
    fake.lead(id)["custom_fields_values"]
        .as_array()?
        .iter()
        .find(|f| f["field_id"] == json!(field))
        .map(|f| f["values"][0]["value"].clone())
}

fn amo_set_status(fake: &FakeAmo, id: u64, status: u64) {
    fake.inner.lock().unwrap().leads.get_mut(&id).unwrap()["status_id"] = json!(status);
}

#[tokio::test]
async fn amocrm_a_visit_gets_its_confirmation_task_a_no_show_is_moved_and_a_return_counts_once() {
    let fake = FakeAmo::start().await;
    let now = Utc::now().timestamp();
    // A visit tomorrow at this time (+3 s): the confirmation task is due in 3 s.
    fake.add_lead_in(720, SALES, S_BOOKED, Some("Анна"), None, &[]);
    amo_set_field(&fake, 720, F_VISIT_AT, json!(now + 24 * 3600 + 3));
    // A visit that is just now: its no-show move is due in 2 s.
    fake.add_lead_in(721, SALES, S_BOOKED, Some("Олег"), None, &[]);
    amo_set_field(&fake, 721, F_VISIT_AT, json!(now));
    let app = amo_app(&fake).await;
    assert_eq!(amo_post(&app, amo_leads("add", 720, S_BOOKED)).await, 200);
    assert_eq!(amo_post(&app, amo_leads("add", 721, S_BOOKED)).await, 200);

    let task = wait_until("the confirmation task", WAIT, || {
        let g = fake.inner.lock().unwrap();
        g.tasks
            .iter()
            .find(|t| t["entity_id"] == json!(720) && t["text"] == json!("Подтвердить визит"))
            .cloned()
    })
    .await;
    assert_eq!(task["responsible_user_id"], json!(10000698), "{task}");
    assert_eq!(task["entity_type"], json!("leads"), "{task}");
    wait_until("the no-show move", WAIT, || {
        (fake.lead(721)["status_id"] == json!(S_NO_SHOW)).then_some(())
    })
    .await;
    assert_eq!(
        fake.lead(720)["status_id"],
        json!(S_BOOKED),
        "the other visit is not due"
    );

    // The move echoes back; then the manager books the client again: a return.
    assert_eq!(amo_post(&app, amo_leads("status", 721, S_NO_SHOW)).await, 200);
    robots_see(&app, 721, "Срыв визита").await;
    amo_set_status(&fake, 721, S_BOOKED);
    assert_eq!(amo_post(&app, amo_leads("status", 721, S_BOOKED)).await, 200);
    wait_until("«Возврат = Да»", WAIT, || {
        (amo_field(&fake, 721, F_RETURN) == Some(json!("Да"))).then_some(())
    })
    .await;
    // Another no-show and return of the same lead is not a second return.
    amo_set_status(&fake, 721, S_NO_SHOW);
    assert_eq!(amo_post(&app, amo_leads("status", 721, S_NO_SHOW)).await, 200);
    robots_see(&app, 721, "Срыв визита").await;
    amo_set_status(&fake, 721, 142);
    assert_eq!(amo_post(&app, amo_leads("status", 721, 142)).await, 200);
    robots_see(&app, 721, "Успешно").await;
    let returns = app
        .raw()
        .i64(
            "SELECT count(*) FROM sla_counters WHERE counter = 'returns' AND deal_id = '721'",
            &[],
        )
        .await;
    assert_eq!(returns, 1);
    // One confirmation task, however many webhooks the lead had.
    let tasks = amo_tasks(&fake, 720, "Подтвердить визит");
    assert_eq!(tasks, 1);
    app.stop().await;
}

/// Waits until the robots' state of the deal (PostgreSQL) is in this stage.
async fn robots_see(app: &TestApp, deal: u64, stage: &str) {
    let sql = format!("SELECT count(*) FROM deals WHERE deal_id = '{deal}' AND state->'visit'->>'stage' = '{stage}'");
    let start = Instant::now();
    while app.raw().i64(&sql, &[]).await == 0 {
        assert!(start.elapsed() < WAIT, "the robots never saw deal {deal} in «{stage}»");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_visit_gets_its_confirmation_task_a_no_show_is_moved_and_a_return_counts_once() {
    let fake = FakeBitrix24::start().await;
    let now = Utc::now();
    // A visit tomorrow at this time (+3 s): the confirmation task is due in 3 s.
    fake.add_deal(510, "EXECUTING", "7", &now.to_rfc3339());
    fake.inner.lock().unwrap().deals.get_mut(&510).unwrap()["UF_CRM_VISIT_AT"] =
        json!((now + chrono::Duration::hours(24) + chrono::Duration::seconds(3)).to_rfc3339());
    // A visit that is just now: its no-show move is due in 2 s.
    fake.add_deal(511, "EXECUTING", "7", &now.to_rfc3339());
    fake.inner.lock().unwrap().deals.get_mut(&511).unwrap()["UF_CRM_VISIT_AT"] = json!(now.to_rfc3339());
    let app = spawn(TestDb::fresh(StoreKind::Postgres), &fake).await;
    assert_eq!(post(&app, event("ONCRMDEALADD", 510, 1)).await, 200);
    assert_eq!(post(&app, event("ONCRMDEALADD", 511, 1)).await, 200);

    let task = wait_until("the confirmation task", WAIT, || {
        fake.deal_todos(510, "Подтвердить визит").pop()
    })
    .await;
    assert_eq!(task["RESPONSIBLE_ID"], "7");
    wait_until("the no-show move", WAIT, || {
        (fake.deal(511)["STAGE_ID"] == "FINAL_INVOICE").then_some(())
    })
    .await;
    assert_eq!(fake.deal(510)["STAGE_ID"], "EXECUTING", "the other visit is not due");

    // The move echoes back; then the manager books the client again: a return.
    assert_eq!(post(&app, event("ONCRMDEALUPDATE", 511, 2)).await, 200);
    robots_see(&app, 511, "Срыв визита").await;
    fake.inner.lock().unwrap().deals.get_mut(&511).unwrap()["STAGE_ID"] = json!("EXECUTING");
    assert_eq!(post(&app, event("ONCRMDEALUPDATE", 511, 3)).await, 200);
    wait_until("«Возврат = Да»", WAIT, || {
        (fake.deal(511)["UF_CRM_RETURN"] == "Да").then_some(())
    })
    .await;
    // Another no-show and return of the same deal is not a second return.
    fake.inner.lock().unwrap().deals.get_mut(&511).unwrap()["STAGE_ID"] = json!("FINAL_INVOICE");
    assert_eq!(post(&app, event("ONCRMDEALUPDATE", 511, 4)).await, 200);
    robots_see(&app, 511, "Срыв визита").await;
    fake.inner.lock().unwrap().deals.get_mut(&511).unwrap()["STAGE_ID"] = json!("WON");
    assert_eq!(post(&app, event("ONCRMDEALUPDATE", 511, 5)).await, 200);
    robots_see(&app, 511, "Успешно").await;
    let returns = app
        .raw()
        .i64(
            "SELECT count(*) FROM sla_counters WHERE counter = 'returns' AND deal_id = '511'",
            &[],
        )
        .await;
    assert_eq!(returns, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_deal_whose_event_was_lost_is_found_by_reconciliation() {
    let fake = FakeBitrix24::start().await;
    let mut s = settings(&fake);
    s.reconcile_every = Duration::from_millis(300);
    let app = TestApp::spawn_on(TestDb::fresh(StoreKind::Postgres), move |c| {
        c.bitrix24 = Some(s);
        c.robots = Some(robots());
    })
    .await;
    // The first pass takes its starting point; the deal comes after, and its event is lost.
    tokio::time::sleep(Duration::from_millis(700)).await;
    fake.add_deal(505, "NEW", "7", &Utc::now().to_rfc3339());
    wait_until("the yellow warning of a deal no event announced", WAIT, || {
        (ours(&fake.deal_comments(505), "Жёлтое") == 1).then_some(())
    })
    .await;
    // Passes after it do not read the deal again (nothing changed since).
    let reads = fake.calls("crm.deal.get").len();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(fake.calls("crm.deal.get").len(), reads);
    app.stop().await;
}

#[tokio::test]
async fn the_heads_notice_arrives_by_email_once_even_when_the_server_refused_it_first() {
    let fake = FakeBitrix24::start().await;
    let smtp = common::smtp::SmtpSink::start().await;
    smtp.refuse_next.store(1, std::sync::atomic::Ordering::SeqCst);
    fake.add_deal(601, "NEW", "7", &Utc::now().to_rfc3339());
    let s = settings(&fake);
    let mut r = robots();
    r.head.name = "Ольга Руководитель".into();
    r.head.email = Some("rop@example.com".into());
    let port = smtp.port;
    let app = TestApp::spawn_on(TestDb::fresh(StoreKind::Postgres), move |c| {
        c.bitrix24 = Some(s);
        c.robots = Some(r);
        c.service.notify.smtp = Some(leadbot::config::SmtpSettings {
            host: "127.0.0.1".into(),
            port: Some(port),
            security: leadbot::config::SmtpSecurity::None,
            from: "leadbot <robot@example.com>".into(),
            username: None,
            password: None,
        });
    })
    .await;
    assert_eq!(post(&app, event("ONCRMDEALADD", 601, 1)).await, 200);
    let mail = wait_until("the e-mail to the head", WAIT, || smtp.mails().pop()).await;
    assert_eq!(mail.to, vec!["<rop@example.com>".to_string()]);
    let parsed = mailparse::parse_mail(mail.data.as_bytes()).unwrap();
    use mailparse::MailHeaderMap;
    assert_eq!(
        parsed.headers.get_first_value("Subject").unwrap(),
        "leadbot: Сделка #601"
    );
    assert!(parsed
        .headers
        .get_first_value("To")
        .unwrap()
        .contains("rop@example.com"));
    let body = parsed.get_body().unwrap();
    assert!(body.contains("Сделка «Сделка #601»: нет контакта с клиентом"), "{body}");
    // The first attempt was refused (451) and retried; it is delivered once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.mails().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn notices_reach_the_manager_and_the_head_in_telegram_once_even_after_a_429() {
    let fake = FakeBitrix24::start().await;
    let tg = common::fake_telegram::FakeTelegram::start().await;
    // Telegram's flood control answers the first notice with 429 and a retry_after.
    tg.fail_next(
        "sendMessage",
        429,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1",
               "parameters": {"retry_after": 1}}),
    );
    fake.add_deal(603, "NEW", "7", &Utc::now().to_rfc3339());
    let extra = r#"
[[robot]]
id = "first_contact_manager"
on = "entered_stage"
stages = ["Неразобранное"]
after = "3s"
when = { no_touch = true }
actions = [{ notify_manager = "Сделка «{deal}»: свяжитесь с клиентом" }]

[head]
name = "Ольга Руководитель"
telegram_chat_id = 777000

[managers."bitrix24:7"]
name = "Иван Менеджер"
telegram_chat_id = 777007
"#;
    let r = robots_with(extra);
    let s = settings(&fake);
    let mut t: leadbot::config::TelegramSettings =
        toml::from_str(&format!("bot = \"lead_demo_bot\"\napi_base = \"{}\"\n", tg.base)).unwrap();
    t.token = Some(common::fake_telegram::TOKEN.into());
    t.webhook_secret = Some("tg-secret-0123456789".into());
    let app = TestApp::spawn_on(TestDb::fresh(StoreKind::Postgres), move |c| {
        c.bitrix24 = Some(s);
        c.robots = Some(r);
        c.telegram = Some(t);
    })
    .await;
    assert_eq!(post(&app, event("ONCRMDEALADD", 603, 1)).await, 200);
    let to = |chat: i64| -> Vec<String> {
        tg.calls("sendMessage")
            .into_iter()
            .filter(|c| c.body["chat_id"] == json!(chat))
            .filter_map(|c| c.body["text"].as_str().map(str::to_string))
            .collect()
    };
    let manager = wait_until("the manager's notice", WAIT, || to(777007).pop()).await;
    assert!(
        manager.starts_with("Сделка «Сделка #603»: свяжитесь с клиентом"),
        "{manager}"
    );
    assert!(manager.contains("bitrix24 · сделка 603"), "{manager}");
    let head = wait_until("the head's notice", WAIT, || to(777000).pop()).await;
    assert!(head.contains("нет контакта с клиентом"), "{head}");
    // One refused attempt, then one delivery each: nothing twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        to(777007).len() + to(777000).len(),
        3,
        "{:?} {:?}",
        to(777007),
        to(777000)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_manager_without_a_chat_or_email_is_told_by_a_bitrix24_notification_once() {
    let fake = FakeBitrix24::start().await;
    fake.add_deal(604, "NEW", "7", &Utc::now().to_rfc3339());
    let extra = r#"
[[robot]]
id = "first_contact_manager"
on = "entered_stage"
stages = ["Неразобранное"]
after = "2s"
when = { no_touch = true }
actions = [{ notify_manager = "Сделка «{deal}»: свяжитесь с клиентом" }]
"#;
    let r = robots_with(extra);
    let s = settings(&fake);
    let app = TestApp::spawn_on(TestDb::fresh(StoreKind::Postgres), move |c| {
        c.bitrix24 = Some(s);
        c.robots = Some(r);
    })
    .await;
    assert_eq!(post(&app, event("ONCRMDEALADD", 604, 1)).await, 200);
    let note = wait_until("the Bitrix24 notification", WAIT, || {
        fake.inner.lock().unwrap().notifications.first().cloned()
    })
    .await;
    assert_eq!(note.0, "7");
    assert_eq!(note.1, "Сделка «Сделка #604»: свяжитесь с клиентом");
    let tagged = fake.calls("im.notify.system.add");
    assert!(
        tagged[0].params["TAG"]
            .as_str()
            .is_some_and(|t| t.starts_with("leadbot:")),
        "{:?}",
        tagged[0].params
    );
    // An echo of the deal changes nothing: one notification.
    assert_eq!(post(&app, event("ONCRMDEALUPDATE", 604, 2)).await, 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fake.inner.lock().unwrap().notifications.len(), 1);
    app.stop().await;
}

/// `check-config --online` with robots.toml: the robots' stage and field ids of each CRM are
/// checked against the portal / account (a typo would otherwise be robots that never fire).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_online_checks_the_robots_stages_and_fields_on_both_crms() {
    let bx = FakeBitrix24::start().await;
    let amo = FakeAmo::start().await;
    amo.inner
        .lock()
        .unwrap()
        .pipelines
        .push((SALES, vec![S_NEW, 76789302, S_QUALIFIED, S_BOOKED, S_NO_SHOW, 142]));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bitrix24.toml"),
        "portal = \"some-domain.bitrix24.com\"\nmember_id = \"a223c6b3710f85df22e9377d6c4f7553\"\n[statuses]\nbot_processing = \"NEW\"\nassigned = \"CONVERTED\"\nlow_quality = \"JUNK\"\nneeds_review = \"NEW\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("amocrm.toml"),
        format!(
            "subdomain = \"etesttask\"\naccount_id = {AMO_ACCOUNT}\nbase_url = \"{}\"\n[pipeline]\nid = {}\ntake_statuses = [{}]\nbot_processing = {}\nassigned = {}\nlow_quality = 143\nneeds_review = {}\n",
            amo.base,
            common::fake_amocrm::PIPELINE,
            common::fake_amocrm::NEW,
            common::fake_amocrm::BOT,
            common::fake_amocrm::ASSIGNED,
            common::fake_amocrm::REVIEW,
        ),
    )
    .unwrap();
    let run = |robots: &str| {
        std::fs::write(dir.path().join("robots.toml"), robots).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_leadbot"))
            .args(["check-config", "--online", "--config", dir.path().to_str().unwrap()])
            .env("LEADBOT_BITRIX24_WEBHOOK_URL", bx.webhook_url())
            .env("LEADBOT_BITRIX24_APP_TOKEN", TOKEN)
            .env("LEADBOT_AMOCRM_WEBHOOK_SECRET", AMO_SECRET)
            .env("LEADBOT_AMOCRM_TOKEN", common::fake_amocrm::TOKEN)
            .output()
            .unwrap()
    };
    let ok = run(ROBOTS);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(bx.calls("crm.deal.fields").len(), 1);

    let typos = ROBOTS
        .replace("\"Назначено\" = \"EXECUTING\"", "\"Назначено\" = \"EXECUTNG\"")
        .replace("visit_at = \"UF_CRM_VISIT_AT\"", "visit_at = \"UF_CRM_VISITAT\"")
        .replace("\"Срыв визита\" = \"76789305\"", "\"Срыв визита\" = \"76789399\"")
        .replace("return = \"735700\"", "return = \"735799\"");
    let bad = run(&typos);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    for want in [
        "robots.toml:crm.bitrix24.stages.Назначено: deal category 0 has no stage `EXECUTNG`",
        "robots.toml:crm.bitrix24.fields.visit_at: deals have no field `UF_CRM_VISITAT`",
        "robots.toml:crm.amocrm.stages.Срыв визита: pipeline 9621099 has no status `76789399`",
        "robots.toml:crm.amocrm.fields.return: the account has no lead field `735799`",
    ] {
        assert!(err.contains(want), "missing «{want}» in:\n{err}");
    }
    assert_eq!(err.lines().count(), 4, "{err}");
}

on_both_stores!(
    an_untouched_deal_gets_the_warning_then_the_task_and_the_heads_notice,
    a_call_before_the_first_threshold_stops_the_clock,
    a_move_without_required_fields_is_moved_back_with_the_list,
    timers_fire_after_a_restart_and_the_overdue_ones_at_once,
);
