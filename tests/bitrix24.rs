//! Bitrix24 end to end: the real event bodies posted to leadbot, a local Bitrix24 REST server
//! (tests/common/fake_bitrix24.rs) behind the production client.

mod common;

use std::time::{Duration, Instant};

use common::fake_bitrix24::FakeBitrix24;
use common::TestApp;
use leadbot::config::Bitrix24Settings;
use serde_json::{json, Value};

const TOKEN: &str = "o8kfcne3du24sfvoeahh43uf9oygu2x3";
const MEMBER: &str = "1b87798bc2d16c4b7f2a604e0c899a34";
/// The real 2018 outgoing-webhook body (lead 365, the token and member_id above).
const RAW_ADD: &str = include_str!("fixtures/bitrix24/raw-ONCRMLEADADD-outgoing-webhook-2018.form.txt");
const WAIT: Duration = Duration::from_secs(15);

fn settings(fake: &FakeBitrix24, extra: &str) -> Bitrix24Settings {
    let mut s: Bitrix24Settings = toml::from_str(&format!(
        r#"
portal = "b24-46hovy.bitrix24.ru"
member_id = "{MEMBER}"
reconcile_every = "200ms"
bot_user_id = 99
{extra}
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
"#
    ))
    .unwrap();
    s.webhook_url = Some(fake.webhook_url());
    s.application_token = Some(TOKEN.into());
    s
}

async fn app_with(fake: &FakeBitrix24, extra: &str) -> TestApp {
    let s = settings(fake, extra);
    TestApp::spawn_with(move |c| c.bitrix24 = Some(s)).await
}

/// The real ONCRMLEADADD body with another lead id.
fn add_event(id: u64) -> String {
    RAW_ADD.trim().replace(
        "data%5BFIELDS%5D%5BID%5D=365",
        &format!("data%5BFIELDS%5D%5BID%5D={id}"),
    )
}

async fn post_form(app: &TestApp, body: &str) -> u16 {
    app.http
        .post(format!("{}/webhooks/bitrix24", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// An open-line message from the client, shaped after the documented ONIMBOTV2MESSAGEADD
/// excerpt (tests/fixtures/bitrix24/event-ONIMBOTV2MESSAGEADD-openline-excerpt.json) plus the
/// message id and text, with the portal's auth block.
async fn post_chat_message(app: &TestApp, chat: u64, id: u64, text: &str) -> u16 {
    let body = json!({
        "event": "ONIMBOTV2MESSAGEADD",
        "data": {"message": {"chatId": chat, "id": id, "text": text}, "chat": {"id": chat, "entityType": "LINES"}},
        "auth": {"member_id": MEMBER, "application_token": TOKEN, "domain": "b24-46hovy.bitrix24.ru"},
    });
    app.http
        .post(format!("{}/webhooks/bitrix24", app.base))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn lead_by_crm_id(app: &TestApp, crm_id: u64) -> Option<Value> {
    let (_, list) = app.get("/api/v1/leads?limit=1000").await;
    let id = list["leads"]
        .as_array()?
        .iter()
        .find(|l| l["source"] == "bitrix24" && l["external_id"].as_str() == Some(crm_id.to_string().as_str()))?["id"]
        .as_i64()?;
    Some(app.lead(id).await)
}

async fn wait_until<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn new_lead_without_phone_gets_the_bot_in_its_open_line_then_the_card_is_completed() {
    let fake = FakeBitrix24::start().await;
    fake.add_lead(365, "NEW", "Ольга", None, Some(112));
    let app = app_with(&fake, "").await;

    assert_eq!(post_form(&app, &add_event(365)).await, 200);
    let lead = wait_until("the lead", async || {
        lead_by_crm_id(&app, 365)
            .await
            .filter(|l| l["status"] == "bot_processing")
    })
    .await;
    assert_eq!(lead["channel"], "openlines");
    // The card says "bot is processing" with the bot user responsible; the greeting is in the chat.
    wait_until("status in the card", async || {
        (fake.lead(365)["STATUS_ID"] == "IN_PROCESS").then_some(())
    })
    .await;
    assert_eq!(fake.lead(365)["ASSIGNED_BY_ID"], "99");
    wait_until("greeting", async || {
        let msgs = fake.inner.lock().unwrap().chat_messages.clone();
        (msgs.len() >= 2).then_some(())
    })
    .await;
    let greeting = fake.inner.lock().unwrap().chat_messages[0].clone();
    assert_eq!(greeting.0, "112");
    assert!(greeting.1.contains("Здравствуйте, Ольга"), "{greeting:?}");

    // The client answers in the chat.
    assert_eq!(
        post_chat_message(&app, 112, 501, "мой номер 8 918 123-45-67").await,
        200
    );
    assert_eq!(
        post_chat_message(&app, 112, 501, "мой номер 8 918 123-45-67").await,
        200,
        "redelivery"
    );
    wait_until("assigned card", async || {
        (fake.lead(365)["STATUS_ID"] == "CONVERTED").then_some(())
    })
    .await;
    let card = fake.lead(365);
    let phones: Vec<&str> = card["PHONE"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["VALUE"].as_str().unwrap())
        .collect();
    assert_eq!(phones, ["+79181234567"]);
    assert_eq!(card["PHONE"][0]["VALUE_TYPE"], "MOBILE");
    let manager = card["ASSIGNED_BY_ID"].as_str().unwrap().to_string();
    assert!(manager == "1" || manager == "2", "{card}");
    wait_until("notification, comment, transfer", async || {
        let st = fake.inner.lock().unwrap();
        (!st.notifications.is_empty() && !st.comments.is_empty() && !st.transfers.is_empty()).then_some(())
    })
    .await;
    // Once nothing is pending, a duplicate would have arrived: count then.
    app.wait_idle(WAIT).await;
    let (notifications, comments, transfers) = {
        let st = fake.inner.lock().unwrap();
        (st.notifications.clone(), st.comments.clone(), st.transfers.clone())
    };
    assert_eq!(notifications.len(), 1);
    assert_eq!(notifications[0].0, manager);
    assert!(
        notifications[0].1.starts_with("Вам назначен новый лид с контактом"),
        "{:?}",
        notifications
    );
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].1.contains("Клиент: мой номер 8 918 123-45-67"),
        "{:?}",
        comments
    );
    assert_eq!(transfers, [("112".to_string(), manager.clone())]);
    let lead = lead_by_crm_id(&app, 365).await.unwrap();
    assert_eq!(lead["status"], "assigned");
    let client_msgs = lead["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["direction"] == "in")
        .count();
    assert_eq!(client_msgs, 1, "the redelivered message was applied once");
    app.stop().await;
}

#[tokio::test]
async fn lead_with_phone_is_assigned_without_a_dialog_and_the_phone_is_not_duplicated() {
    let fake = FakeBitrix24::start().await;
    fake.add_lead(366, "NEW", "Иван", Some("+7 (918) 765-43-21"), None);
    let app = app_with(&fake, "").await;
    assert_eq!(post_form(&app, &add_event(366)).await, 200);
    wait_until("assigned card", async || {
        (fake.lead(366)["STATUS_ID"] == "CONVERTED").then_some(())
    })
    .await;
    let card = fake.lead(366);
    assert_eq!(
        card["PHONE"].as_array().unwrap().len(),
        1,
        "the card's phone is kept, not appended: {card}"
    );
    let lead = lead_by_crm_id(&app, 366).await.unwrap();
    assert_eq!(lead["reason"], "phone_in_card");
    assert!(fake.inner.lock().unwrap().chat_messages.is_empty());
    wait_until("notification", async || {
        (!fake.inner.lock().unwrap().notifications.is_empty()).then_some(())
    })
    .await;
    assert!(
        fake.inner.lock().unwrap().comments.is_empty(),
        "no dialog, no transcript comment"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_lead_from_a_form_with_no_chat_needs_review_with_reason_no_channel() {
    let fake = FakeBitrix24::start().await;
    fake.add_lead(367, "NEW", "Пётр", None, None);
    let app = app_with(&fake, "").await;
    post_form(&app, &add_event(367)).await;
    wait_until("needs review in the card", async || {
        (fake.lead(367)["STATUS_ID"] == "NEW" && !fake.inner.lock().unwrap().comments.is_empty()).then_some(())
    })
    .await;
    let lead = lead_by_crm_id(&app, 367).await.unwrap();
    assert_eq!(lead["status"], "needs_review");
    assert_eq!(lead["reason"], "no_channel");
    let comments = fake.inner.lock().unwrap().comments.clone();
    assert!(comments[0].1.contains("нет канала"), "{comments:?}");
    app.stop().await;
}

#[tokio::test]
async fn forged_token_or_unknown_portal_is_401_and_nothing_is_stored() {
    let fake = FakeBitrix24::start().await;
    fake.add_lead(365, "NEW", "Ольга", None, Some(112));
    let app = app_with(&fake, "").await;
    let forged = add_event(365).replace(TOKEN, "o8kfcne3du24sfvoeahh43uf9oygu2x4");
    assert_eq!(post_form(&app, &forged).await, 401);
    let other_portal = add_event(365).replace(MEMBER, "ffffffffffffffffffffffffffffffff");
    assert_eq!(post_form(&app, &other_portal).await, 401);
    assert_eq!(
        post_form(&app, "event=ONCRMLEADADD&data%5BFIELDS%5D%5BID%5D=365").await,
        401
    );
    assert_eq!(post_form(&app, "garbage").await, 400);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM crm_events")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0);
    app.wait_idle(WAIT).await;
    assert!(fake.calls("crm.lead.get").is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_same_event_twice_is_processed_once_and_our_own_echo_costs_no_call() {
    let fake = FakeBitrix24::start().await;
    fake.add_lead(365, "NEW", "Ольга", None, Some(112));
    let app = app_with(&fake, "").await;
    assert_eq!(post_form(&app, &add_event(365)).await, 200);
    assert_eq!(post_form(&app, &add_event(365)).await, 200);
    wait_until("status in the card", async || {
        (fake.lead(365)["STATUS_ID"] == "IN_PROCESS").then_some(())
    })
    .await;
    // Our update echoes back as ONCRMLEADUPDATE.
    let echo = add_event(365)
        .replace("ONCRMLEADADD", "ONCRMLEADUPDATE")
        .replace("ts=1545851621", "ts=1545851700");
    assert_eq!(post_form(&app, &echo).await, 200);
    // Every stored event (the duplicate is not stored, the echo is) processed, nothing pending.
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM crm_events")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(events, 2, "the event and the echo; the duplicate is not stored again");
    app.wait_idle(WAIT).await;
    assert_eq!(
        fake.calls("crm.lead.get").len(),
        1,
        "one read for the lead, none for the duplicate or the echo"
    );
    let (_, list) = app.get("/api/v1/leads").await;
    assert_eq!(list["leads"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_lost_event_is_found_by_reconciliation() {
    let fake = FakeBitrix24::start().await;
    fake.add_lead(100, "NEW", "Старый", None, None);
    let app = app_with(&fake, "").await;
    // The first pass only sets the starting point: history before leadbot is left alone.
    wait_until("cursor", async || {
        sqlx::query_scalar::<_, String>("SELECT value FROM crm_cursors")
            .fetch_optional(app.pool())
            .await
            .unwrap()
    })
    .await;
    fake.add_lead(101, "NEW", "Новый", Some("+79181112233"), None);
    fake.add_lead(102, "IN_PROCESS", "Уже в работе", None, None);
    let lead = wait_until("reconciled lead", async || {
        lead_by_crm_id(&app, 101).await.filter(|l| l["status"] == "assigned")
    })
    .await;
    assert_eq!(lead["reason"], "phone_in_card");
    // The pass that found 101 has looked at 102 too once the cursor is past it.
    wait_until("the cursor past 102", async || {
        let cursor: String = sqlx::query_scalar("SELECT value FROM crm_cursors")
            .fetch_one(app.pool())
            .await
            .unwrap();
        (cursor.parse::<u64>().unwrap() >= 102).then_some(())
    })
    .await;
    app.wait_idle(WAIT).await;
    assert!(lead_by_crm_id(&app, 100).await.is_none(), "history is not taken");
    assert!(
        lead_by_crm_id(&app, 102).await.is_none(),
        "a lead a manager already works on is not taken"
    );
    // The catch counter is checked in tests/metrics.rs (every test here reconciles).
    app.stop().await;
}

#[tokio::test]
async fn refusal_sets_the_low_quality_status_with_the_reason() {
    let fake = FakeBitrix24::start().await;
    fake.add_lead(368, "NEW", "Анна", None, Some(113));
    let app = app_with(&fake, "").await;
    post_form(&app, &add_event(368)).await;
    wait_until("bot started", async || {
        (fake.lead(368)["STATUS_ID"] == "IN_PROCESS").then_some(())
    })
    .await;
    wait_until("chat linked", async || {
        sqlx::query_scalar::<_, i64>("SELECT lead_id FROM crm_chat_links")
            .fetch_optional(app.pool())
            .await
            .unwrap()
    })
    .await;
    post_chat_message(&app, 113, 1, "не дам").await;
    post_chat_message(&app, 113, 2, "не дам номер").await;
    wait_until("junk", async || (fake.lead(368)["STATUS_ID"] == "JUNK").then_some(())).await;
    wait_until("comments", async || {
        (fake.inner.lock().unwrap().comments.len() == 2).then_some(())
    })
    .await;
    let comments = fake.inner.lock().unwrap().comments.clone();
    assert!(comments.iter().any(|c| c.1.contains("отказался")), "{comments:?}");
    assert_eq!(lead_by_crm_id(&app, 368).await.unwrap()["reason"], "refused");
    app.stop().await;
}

#[tokio::test]
async fn query_limit_bursts_are_retried_and_the_limiter_keeps_the_rate() {
    let fake = FakeBitrix24::start().await;
    {
        let mut st = fake.inner.lock().unwrap();
        st.bucket = Some((8.0, 10.0));
        st.force_limit = 3;
    }
    for id in 400..412 {
        fake.add_lead(id, "NEW", "Клиент", Some(&format!("+7918555{id:04}")), None);
    }
    let extra = "";
    let mut s = settings(&fake, extra);
    s.limits.rate_per_sec = 10.0;
    s.limits.burst = 8;
    let app = TestApp::spawn_with(move |c| c.bitrix24 = Some(s)).await;
    for id in 400..412 {
        assert_eq!(post_form(&app, &add_event(id)).await, 200);
    }
    wait_until("all cards assigned", async || {
        (400..412)
            .all(|id| fake.lead(id)["STATUS_ID"] == "CONVERTED")
            .then_some(())
    })
    .await;
    wait_until("all notifications", async || {
        (fake.inner.lock().unwrap().notifications.len() == 12).then_some(())
    })
    .await;
    let calls = fake.all_calls();
    // The client's limiter: in any window, no more than burst + rate × window requests.
    for (i, first) in calls.iter().enumerate() {
        for (j, later) in calls.iter().enumerate().skip(i) {
            let window = later.at.duration_since(first.at).as_secs_f64();
            let n = (j - i + 1) as f64;
            assert!(n <= 8.0 + 10.0 * window + 2.0, "{n} requests in {window:.3}s");
        }
    }
    let limited = fake.inner.lock().unwrap().limited;
    assert!(
        limited >= 3,
        "the forced QUERY_LIMIT_EXCEEDED answers were seen: {limited}"
    );
    app.stop().await;
}

#[tokio::test]
async fn check_statuses_against_the_portal() {
    let fake = FakeBitrix24::start().await;
    let app = app_with(&fake, "").await;
    let s = settings(&fake, "");
    let store = app.running.as_ref().unwrap().stores.crm.clone();
    let bx = leadbot::crm::bitrix24::Bitrix24::new(s, store).unwrap();
    let problems = bx.check_statuses().await.unwrap();
    // The documented excerpt has NEW, CONVERTED and JUNK only.
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("statuses.bot_processing: the portal has no lead status `IN_PROCESS`"));
    app.stop().await;
}

#[tokio::test]
async fn oauth_tokens_come_from_the_install_event_and_are_refreshed_on_expired_token() {
    let fake = FakeBitrix24::start().await;
    fake.add_lead(369, "NEW", "Олег", Some("+79187770000"), None);
    let mut s = settings(&fake, "auth = \"oauth\"");
    s.webhook_url = None;
    s.client_id = Some("local.app".into());
    s.client_secret = Some("secret".into());
    s.oauth_server = fake.base.clone();
    let app = TestApp::spawn_with(move |c| c.bitrix24 = Some(s)).await;
    // The portal's tokens have expired by the time we call: the fake knows only "access-1".
    fake.inner.lock().unwrap().access_token = Some("not-yet".into());
    let install = format!(
        "event=ONAPPINSTALL&data%5BVERSION%5D=1&ts=1696527000&auth%5Baccess_token%5D=old-access&auth%5Brefresh_token%5D=old-refresh&auth%5Bexpires_in%5D=3600&auth%5Bclient_endpoint%5D={}&auth%5Bmember_id%5D={MEMBER}&auth%5Bapplication_token%5D={TOKEN}",
        urlencode(&format!("{}/rest/", fake.base))
    );
    assert_eq!(post_form(&app, &install).await, 200);
    wait_until("tokens stored", async || {
        sqlx::query_scalar::<_, String>("SELECT refresh_token FROM crm_oauth_tokens")
            .fetch_optional(app.pool())
            .await
            .unwrap()
    })
    .await;
    post_form(&app, &add_event(369)).await;
    wait_until("assigned card", async || {
        (fake.lead(369)["STATUS_ID"] == "CONVERTED").then_some(())
    })
    .await;
    let refreshes = fake.inner.lock().unwrap().refreshes.clone();
    assert_eq!(
        refreshes,
        ["old-refresh"],
        "refreshed once, with the stored refresh token"
    );
    let stored: String = sqlx::query_scalar("SELECT refresh_token FROM crm_oauth_tokens")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(stored, "refresh-1", "the rotated refresh token was saved");
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)])
        .unwrap()
        .trim_start_matches("x=")
        .to_string()
}

#[tokio::test]
async fn a_moved_portal_is_followed_by_re_posting_and_operation_time_limit_is_waited_out() {
    let fake = FakeBitrix24::start().await;
    fake.add_lead(370, "NEW", "Вера", Some("+79180001122"), None);
    fake.inner.lock().unwrap().operation_limit_once = Some("crm.lead.update".into());
    let mut s = settings(&fake, "");
    s.webhook_url = Some(format!("{}/moved/rest/1/secret/", fake.base));
    let app = TestApp::spawn_with(move |c| c.bitrix24 = Some(s)).await;
    // Reconciliation's first call at start meets the move; wait for it, so that the event's
    // calls cannot race it to the old address (both would be redirected, rightly).
    wait_until("the first redirect", async || {
        (fake.inner.lock().unwrap().redirected >= 1).then_some(())
    })
    .await;
    post_form(&app, &add_event(370)).await;
    wait_until("assigned card", async || {
        (fake.lead(370)["STATUS_ID"] == "CONVERTED").then_some(())
    })
    .await;
    // POST bodies survived the redirect (the card was read and updated), and later calls went
    // straight to the new address.
    assert_eq!(fake.inner.lock().unwrap().redirected, 1);
    let updates = fake.calls("crm.lead.update");
    assert_eq!(updates.len(), 2, "blocked once, then done");
    let waited = updates[1].at.duration_since(updates[0].at);
    assert!(
        waited >= Duration::from_millis(800),
        "waited for operating_reset_at: {waited:?}"
    );
    app.stop().await;
}

/// The documented event bodies (rendered as JSON by the docs) form-encoded the way the portal
/// sends them.
fn to_form(v: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}[{k}]")
                };
                to_form(v, &key, out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[tokio::test]
async fn every_documented_event_body_is_accepted_and_stored_once() {
    let fake = FakeBitrix24::start().await;
    let mut s = settings(&fake, "");
    s.member_id = "a223c6b3710f85df22e9377d6c4f7553".into();
    s.application_token = Some("51856fefc120afa4b628cc82d3935cce".into());
    let app = TestApp::spawn_with(move |c| c.bitrix24 = Some(s)).await;
    for name in [
        "event-ONCRMLEADADD-app.json",
        "event-ONCRMLEADUPDATE-app.json",
        "event-ONCRMDEALADD-app.json",
        "event-ONCRMDEALUPDATE-app.json",
        "event-ONCRMDEALMOVETOCATEGORY-app.json",
    ] {
        let mut json: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("tests/fixtures/bitrix24/{name}")).unwrap()).unwrap();
        // The docs' samples come from two portals: present them all as the configured one.
        json["auth"]["member_id"] = json!("a223c6b3710f85df22e9377d6c4f7553");
        json["auth"]["application_token"] = json!("51856fefc120afa4b628cc82d3935cce");
        let mut pairs = vec![];
        to_form(&json, "", &mut pairs);
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        assert_eq!(post_form(&app, &body).await, 200, "{name}");
        assert_eq!(post_form(&app, &body).await, 200, "{name} again");
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM crm_events")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(stored, 5, "each event once");
    app.stop().await;
}

// ---- The portal's failures, paging, `select`, and the documented answers ----

use common::fake_bitrix24::Fault;
use common::{conforms, fixture};

/// The portal answers 500 with an error body, a 502 HTML page from its front, and HTTP 200 with
/// an `error` body (QUERY_LIMIT_EXCEEDED, INTERNAL_SERVER_ERROR): every call is retried and the
/// card ends up done once, the phone not duplicated, the manager told once.
#[tokio::test]
async fn server_errors_html_pages_and_errors_at_http_200_are_retried() {
    let fake = FakeBitrix24::start().await;
    fake.add_lead(380, "NEW", "Зоя", Some("+79185550380"), None);
    fake.fail_next(Some("crm.lead.get"), 1, Fault::internal_error());
    fake.fail_next(Some("crm.lead.get"), 1, Fault::Html(502));
    fake.fail_next(Some("crm.lead.update"), 1, Fault::Html(503));
    fake.fail_next(Some("crm.lead.update"), 1, Fault::query_limit_at_200());
    fake.fail_next(
        Some("im.notify.system.add"),
        1,
        Fault::ErrorAt200("INTERNAL_SERVER_ERROR", "Internal server error"),
    );
    let app = app_with(&fake, "").await;
    assert_eq!(post_form(&app, &add_event(380)).await, 200);
    wait_until("assigned card", async || {
        (fake.lead(380)["STATUS_ID"] == "CONVERTED").then_some(())
    })
    .await;
    wait_until("notification", async || {
        (!fake.inner.lock().unwrap().notifications.is_empty()).then_some(())
    })
    .await;
    app.wait_idle(WAIT).await;
    {
        let st = fake.inner.lock().unwrap();
        assert!(st.faults.is_empty(), "every fault was answered: {:?}", st.faults);
        assert_eq!(st.faulted.len(), 5, "{:?}", st.faulted);
        assert_eq!(st.notifications.len(), 1, "{:?}", st.notifications);
        assert_eq!(st.leads[&380]["PHONE"].as_array().unwrap().len(), 1);
    }
    let lead = lead_by_crm_id(&app, 380).await.unwrap();
    assert_eq!(
        (lead["status"].as_str(), lead["reason"].as_str()),
        (Some("assigned"), Some("phone_in_card"))
    );
    app.stop().await;
}

/// Reconciliation walks `crm.lead.list` past its first pages (50 a page) and asks for the
/// fields it reads: the fake returns only what is selected, so a missing PHONE would show as
/// a dialog instead of `phone_in_card`.
#[tokio::test]
async fn reconciliation_walks_every_page_and_selects_the_fields_it_reads() {
    let fake = FakeBitrix24::start().await;
    fake.add_lead(100, "NEW", "Старый", None, None);
    let app = app_with(&fake, "").await;
    wait_until("cursor", async || {
        sqlx::query_scalar::<_, String>("SELECT value FROM crm_cursors")
            .fetch_optional(app.pool())
            .await
            .unwrap()
    })
    .await;
    // 130 new cards; the ones a manager works on already fill the pages in between.
    for id in 101..=230 {
        if [150, 230].contains(&id) {
            fake.add_lead(id, "NEW", "Новый", Some(&format!("+7918000{id:04}")), None);
        } else {
            fake.add_lead(id, "IN_PROCESS", "В работе", None, None);
        }
    }
    for id in [150, 230] {
        let lead = wait_until("reconciled lead", async || {
            lead_by_crm_id(&app, id).await.filter(|l| l["status"] == "assigned")
        })
        .await;
        assert_eq!(
            lead["reason"], "phone_in_card",
            "{id}: the PHONE multifield was selected"
        );
    }
    let lists = fake.calls("crm.lead.list");
    let first = &lists[0].params;
    assert_eq!(first["order"], json!({"ID": "DESC"}));
    let walk: Vec<&Value> = lists.iter().skip(1).map(|c| &c.params).collect();
    for p in &walk {
        assert_eq!(p["order"], json!({"ID": "ASC"}), "{p}");
        let select: Vec<&str> = p["select"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        for needed in [
            "ID",
            "STATUS_ID",
            "NAME",
            "LAST_NAME",
            "SOURCE_ID",
            "COMMENTS",
            "PHONE",
            "IM",
        ] {
            assert!(select.contains(&needed), "{needed} not selected: {p}");
        }
    }
    let after: Vec<u64> = walk.iter().map(|p| p["filter"][">ID"].as_u64().unwrap()).collect();
    for page in [100, 150, 200] {
        assert!(after.contains(&page), "a page after ID {page}: {after:?}");
    }
    assert!(
        lead_by_crm_id(&app, 101).await.is_none(),
        "a card in work is left alone"
    );
    app.stop().await;
}

/// The fake's list is paged like the documented answer (`next`, `total`), and without a
/// `select` it leaves out the multifields, as the portal does.
#[tokio::test]
async fn the_fakes_lead_list_pages_and_selects_like_the_documented_answer() {
    let fake = FakeBitrix24::start().await;
    for id in 1..=120 {
        fake.add_lead(id, "NEW", "Клиент", Some("+79180000000"), None);
    }
    let documented = fixture("bitrix24/crm.lead.list-response.json");
    let (status, page) = fake.answer_to("crm.lead.list", &json!({"order": {"ID": "ASC"}, "start": 0}));
    assert_eq!(status, 200);
    let envelope = |v: &Value| json!({"next": v["next"], "total": v["total"], "time": v["time"], "result": []});
    // `time.operating_reset_at` is documented as optional: the fake may send it.
    conforms(&envelope(&page), &envelope(&documented)).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&page), keys(&documented));
    assert_eq!((page["next"].as_u64(), page["total"].as_u64()), (Some(50), Some(120)));
    assert_eq!(page["result"].as_array().unwrap().len(), 50);
    assert!(
        page["result"][0].get("PHONE").is_none(),
        "multifields only when selected"
    );
    let (_, last) = fake.answer_to("crm.lead.list", &json!({"start": 100, "select": ["ID", "PHONE"]}));
    assert!(last.get("next").is_none(), "no next on the last page: {}", last["next"]);
    assert_eq!(last["result"].as_array().unwrap().len(), 20);
    assert_eq!(
        last["result"][0],
        json!({"ID": "101", "PHONE": fake.lead(101)["PHONE"]})
    );
    let (_, fast) = fake.answer_to("crm.lead.list", &json!({"start": -1, "filter": {">ID": 60}}));
    assert!(
        fast.get("total").is_none() && fast.get("next").is_none(),
        "start=-1 does not count"
    );
    app_free_checks(&fake);
}

/// The fake's other answers against the documented ones, field by field (every documented
/// field there with its type; the `time` block's optional fields may be added).
fn app_free_checks(fake: &FakeBitrix24) {
    let (status, update) = fake.answer_to(
        "crm.lead.update",
        &json!({"id": 1, "fields": {"STATUS_ID": "IN_PROCESS"}}),
    );
    assert_eq!(status, 200);
    conforms(&update, &fixture("bitrix24/crm.lead.update-response.json")).unwrap();
    let (status, missing) = fake.answer_to("crm.lead.update", &json!({"id": 999999, "fields": {}}));
    assert_eq!(status, 400);
    assert_eq!(missing, fixture("bitrix24/crm.lead.update-error.json"));
    let (_, comment) = fake.answer_to(
        "crm.timeline.comment.add",
        &json!({"fields": {"ENTITY_ID": 1, "ENTITY_TYPE": "lead", "COMMENT": "x"}}),
    );
    conforms(&comment, &fixture("bitrix24/crm.timeline.comment.add-response.json")).unwrap();
    let (_, notify) = fake.answer_to("im.notify.system.add", &json!({"USER_ID": 1, "MESSAGE": "x"}));
    conforms(&notify, &fixture("bitrix24/im.notify.system.add-response.json")).unwrap();
    let (_, batch) = fake.answer_to(
        "batch",
        &json!({"halt": 0, "cmd": {"a": "crm.lead.get?id=1", "b": "crm.lead.get?id=2"}}),
    );
    let documented = fixture("bitrix24/batch-response.json");
    let envelope = |v: &Value| {
        let r = &v["result"];
        json!({"result": {"result": {}, "result_error": r["result_error"], "result_total": [], "result_next": r["result_next"]}, "time": v["time"]})
    };
    conforms(&envelope(&batch), &envelope(&documented)).unwrap();
    assert_eq!(
        batch["result"]["result_error"],
        json!([]),
        "no errors: PHP's empty array"
    );
    assert_eq!(batch["result"]["result"]["a"]["ID"], "1");
}

/// leadbot reads the documented answers themselves: the batch sample (PHP's `[]` for no
/// errors), and the QUERY_LIMIT_EXCEEDED body the fake's bucket answers with.
#[tokio::test]
async fn the_client_reads_the_documented_batch_answer_and_limit_error() {
    let fake = FakeBitrix24::start().await;
    fake.fail_next(
        Some("batch"),
        1,
        Fault::Verbatim(200, include_str!("fixtures/bitrix24/batch-response.json")),
    );
    let client = leadbot::crm::bitrix24::Bitrix24Client::new(
        leadbot::crm::bitrix24::Endpoint::Webhook(fake.webhook_url()),
        "b24-46hovy.bitrix24.ru",
        50.0,
        50,
    )
    .unwrap();
    let results = client
        .batch(&[
            ("get_user".into(), "user.get?ID=1".into()),
            ("get_department".into(), "department.get?ID=1".into()),
        ])
        .await
        .unwrap();
    assert_eq!(results["get_user"].as_ref().unwrap()["NAME"], "John");
    assert_eq!(results["get_department"].as_ref().unwrap()[0]["NAME"], "DEMO");
    let sent = &fake.calls("batch")[0].params;
    assert_eq!(sent["cmd"]["get_user"], "user.get?ID=1");
    assert_eq!(sent["halt"], 0);

    fake.inner.lock().unwrap().force_limit = 1;
    let resp = reqwest::Client::new()
        .post(format!("{}crm.lead.get.json", fake.webhook_url()))
        .json(&json!({"id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        fixture("bitrix24/error-QUERY_LIMIT_EXCEEDED.json")
    );
}

/// `crm.lead.get` takes only `id` (the method has no `select`: the whole card comes back,
/// multifields included); `crm.lead.update` carries `id`, `fields` and `params`.
#[tokio::test]
async fn the_card_reads_and_writes_carry_what_they_need() {
    let fake = FakeBitrix24::start().await;
    fake.add_lead(381, "NEW", "Лев", Some("+79185550381"), None);
    let app = app_with(&fake, "").await;
    post_form(&app, &add_event(381)).await;
    wait_until("assigned card", async || {
        (fake.lead(381)["STATUS_ID"] == "CONVERTED").then_some(())
    })
    .await;
    let gets = fake.calls("crm.lead.get");
    assert!(gets.len() >= 2, "read on the event and before the write-back: {gets:?}");
    for g in &gets {
        assert_eq!(g.params, json!({"id": "381"}), "only the id");
    }
    let update = &fake.calls("crm.lead.update")[0].params;
    assert_eq!(update["id"], "381");
    assert_eq!(update["params"], json!({"REGISTER_SONET_EVENT": "Y"}));
    assert_eq!(update["fields"]["STATUS_ID"], "CONVERTED");
    assert!(
        update["fields"].get("PHONE").is_none(),
        "the card has the phone already"
    );
    app.stop().await;
}

/// The documented outgoing-webhook deal event and a real app event captured by the PHP SDK are
/// accepted and stored without their `auth[...]` (the application token, the access token).
#[tokio::test]
async fn the_outgoing_webhook_deal_event_and_a_captured_app_event_are_stored_without_credentials() {
    let fake = FakeBitrix24::start().await;
    let mut s = settings(&fake, "");
    s.member_id = "d897063e1ce7c5eb9f04b9751eef5915".into();
    s.application_token = Some("jvh9y1ulvt2m6k5or90v9mg8nn32ozas".into());
    let app = TestApp::spawn_with(move |c| c.bitrix24 = Some(s)).await;
    let mut pairs = vec![];
    to_form(
        &fixture("bitrix24/event-ONCRMDEALADD-outgoing-webhook.json"),
        "",
        &mut pairs,
    );
    let body = serde_urlencoded::to_string(&pairs).unwrap();
    assert_eq!(post_form(&app, &body).await, 200);
    assert_eq!(post_form(&app, &body).await, 200, "again");
    let stored: Vec<(String, String, Value)> = sqlx::query_as("SELECT event, entity_id, payload FROM crm_events")
        .fetch_all(app.pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!((stored[0].0.as_str(), stored[0].1.as_str()), ("ONCRMDEALADD", "7405"));
    assert!(!stored[0].2.to_string().contains("jvh9y1ulvt2m6k5or90v9mg8nn32ozas"));
    app.stop().await;

    let mut s = settings(&fake, "");
    s.member_id = "010b6886ebc205e43ae65000ee00addb".into();
    s.application_token = Some("3c6c9248ec54af6bea1159b43ee0ab32".into());
    let app = TestApp::spawn_with(move |c| c.bitrix24 = Some(s)).await;
    let raw = include_str!("fixtures/bitrix24/raw-ONCRMCONTACTADD-app-b24phpsdk.form.txt").trim();
    assert_eq!(post_form(&app, raw).await, 200);
    assert_eq!(
        post_form(&app, &raw.replace(TOKEN_PHP, "0000")).await,
        401,
        "a forged token"
    );
    let payloads: Vec<Value> = sqlx::query_scalar("SELECT payload FROM crm_events")
        .fetch_all(app.pool())
        .await
        .unwrap();
    for p in &payloads {
        let text = p.to_string();
        assert!(
            !text.contains(TOKEN_PHP) && !text.contains("be45f066"),
            "credentials stored: {text}"
        );
    }
    assert!(payloads.len() <= 1, "{payloads:?}");
    app.stop().await;
}

const TOKEN_PHP: &str = "3c6c9248ec54af6bea1159b43ee0ab32";

/// The documented ONAPPINSTALL body, form-encoded as the portal sends it: its tokens are
/// stored, and not with the event.
#[tokio::test]
async fn the_documented_install_event_brings_the_oauth_tokens() {
    let fake = FakeBitrix24::start().await;
    let mut s = settings(&fake, "auth = \"oauth\"");
    s.member_id = "a223c6b3710f85df22e9377d6c4f7553".into();
    s.application_token = Some("51856fefc120afa4b628cc82d3935cce".into());
    s.webhook_url = None;
    s.client_id = Some("local.app".into());
    s.client_secret = Some("secret".into());
    s.oauth_server = fake.base.clone();
    let app = TestApp::spawn_with(move |c| c.bitrix24 = Some(s)).await;
    let mut pairs = vec![];
    to_form(&fixture("bitrix24/event-ONAPPINSTALL.json"), "", &mut pairs);
    let body = serde_urlencoded::to_string(&pairs).unwrap();
    assert_eq!(post_form(&app, &body).await, 200);
    let installed = wait_until("tokens stored", async || {
        sqlx::query_as::<_, (String, String, String)>(
            "SELECT access_token, refresh_token, client_endpoint FROM crm_oauth_tokens",
        )
        .fetch_optional(app.pool())
        .await
        .unwrap()
    })
    .await;
    assert_eq!(
        installed,
        (
            "s6p6eclrvim6da22ft9ch94ekreb52lv".into(),
            "4s386p3q0tr8dy89xvmt96234v3dljg8".into(),
            "https://some-domain.bitrix24.com/rest/".into()
        ),
        "the install event's tokens"
    );
    let with_tokens: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM crm_events WHERE payload::text LIKE '%s6p6eclrvim6%' OR payload::text LIKE '%4s386p3q%'",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(with_tokens, 0, "the tokens are not stored with the event");
    app.stop().await;
}

/// Ten calls on two nodes (two clients, each with its own token cache, over one database) all
/// meet `expired_token` at once. One refresh gets new tokens; a node whose refresh token the
/// other used first is refused (`invalid_grant`) and takes the winner's tokens from the store;
/// every call succeeds, nobody keeps a dead token, and the stored refresh token is the newest.
#[tokio::test]
async fn concurrent_expired_tokens_on_two_nodes_lead_to_one_refresh_and_live_tokens_everywhere() {
    use leadbot::crm::bitrix24::{Bitrix24Client, Endpoint, TokenStore};
    let fake = FakeBitrix24::start().await;
    fake.add_lead(390, "IN_PROCESS", "Ян", None, None);
    let member = "a223c6b3710f85df22e9377d6c4f7553";
    // The app only provides the database; its own client uses the webhook and stays idle.
    let mut s = settings(&fake, "");
    s.reconcile_every = Duration::from_secs(3600);
    let app = TestApp::spawn_with(move |c| c.bitrix24 = Some(s)).await;
    let tokens = || async {
        sqlx::query_as::<_, (String, String)>("SELECT access_token, refresh_token FROM crm_oauth_tokens")
            .fetch_optional(app.pool())
            .await
            .unwrap()
    };
    let mut nodes = vec![];
    let mut stores = vec![];
    for _ in 0..2 {
        let store = std::sync::Arc::new(leadbot::store::PgStore::connect(&app.db.url(), 4).await.unwrap());
        let tokens = std::sync::Arc::new(TokenStore::new(store, member, "local.app", "secret", &fake.base));
        stores.push(tokens.clone());
        nodes.push(std::sync::Arc::new(
            Bitrix24Client::new(Endpoint::OAuth(tokens), "some-domain.bitrix24.com", 100.0, 100).unwrap(),
        ));
    }
    stores[0]
        .install(&leadbot::store::OAuthTokens {
            access_token: "s6p6eclrvim6da22ft9ch94ekreb52lv".into(),
            refresh_token: "4s386p3q0tr8dy89xvmt96234v3dljg8".into(),
            client_endpoint: format!("{}/rest/", fake.base),
            expires_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    // Both nodes have read the installed tokens into their caches.
    for t in &stores {
        assert_eq!(
            t.current().await.unwrap().access_token,
            "s6p6eclrvim6da22ft9ch94ekreb52lv"
        );
    }
    // An hour later: the portal no longer takes the installed access token.
    {
        let mut st = fake.inner.lock().unwrap();
        st.access_token = Some("nobody-has-this-yet".into());
        st.oauth_delay = Duration::from_millis(300);
    }
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let node = nodes[i % 2].clone();
            tokio::spawn(async move { node.call("crm.lead.get", json!({"id": 390})).await })
        })
        .collect();
    for c in calls {
        let card = c.await.unwrap().expect("every call succeeds after the refresh");
        assert_eq!(card["ID"], "390");
    }
    let (refreshes, refused) = {
        let st = fake.inner.lock().unwrap();
        (st.refreshes.clone(), st.refused_refreshes.clone())
    };
    assert_eq!(
        refreshes.len() - refused.len(),
        1,
        "one refresh succeeded: {refreshes:?}, refused {refused:?}"
    );
    assert!(refreshes.len() <= 2, "at most one attempt per node: {refreshes:?}");
    assert!(
        refreshes.iter().all(|r| r == "4s386p3q0tr8dy89xvmt96234v3dljg8"),
        "{refreshes:?}"
    );
    assert_eq!(
        tokens().await.unwrap(),
        ("access-1".into(), "refresh-1".into()),
        "the newest tokens are stored"
    );
    // Nobody kept a dead token: the next calls on both nodes go through without a refresh.
    fake.inner.lock().unwrap().calls.clear();
    for node in &nodes {
        node.call("crm.lead.get", json!({"id": 390})).await.unwrap();
    }
    let calls = fake.calls("crm.lead.get");
    assert_eq!(calls.len(), 2, "no expired_token any more: {calls:?}");
    assert!(calls.iter().all(|c| c.params["auth"] == "access-1"));
    assert_eq!(fake.inner.lock().unwrap().refreshes.len(), refreshes.len());
    app.stop().await;
}

#[tokio::test]
async fn a_number_corrected_after_the_hand_over_replaces_the_one_on_the_card() {
    let fake = FakeBitrix24::start().await;
    fake.add_lead(366, "NEW", "Ольга", None, Some(113));
    let app = app_with(&fake, "").await;
    assert_eq!(post_form(&app, &add_event(366)).await, 200);
    wait_until("bot status", async || {
        (fake.lead(366)["STATUS_ID"] == "IN_PROCESS").then_some(())
    })
    .await;
    // Linked lazily before the greeting: wait until the bot wrote in the chat.
    wait_until("greeting", async || {
        (!fake.inner.lock().unwrap().chat_messages.is_empty()).then_some(())
    })
    .await;
    assert_eq!(
        post_chat_message(&app, 113, 601, "мой номер 8 918 123-45-67").await,
        200
    );
    wait_until("assigned card", async || {
        (fake.lead(366)["STATUS_ID"] == "CONVERTED").then_some(())
    })
    .await;
    app.wait_idle(WAIT).await;
    assert_eq!(
        post_chat_message(&app, 113, 602, "ой, нет, правильный номер 8 918 765-43-21").await,
        200
    );
    let phones = |fake: &FakeBitrix24| -> Vec<String> {
        fake.lead(366)["PHONE"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p["VALUE"].as_str().unwrap().to_string())
            .collect()
    };
    wait_until("the corrected number", async || {
        (phones(&fake) == ["+79187654321"]).then_some(())
    })
    .await;
    app.wait_idle(WAIT).await;
    assert_eq!(phones(&fake), ["+79187654321"], "updated in place, not appended");
    app.stop().await;
}
