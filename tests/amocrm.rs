//! amoCRM end to end: the real webhook bodies posted to leadbot, a local amoCRM API v4 server
//! (tests/common/fake_amocrm.rs) behind the production client.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fake_amocrm::{FakeAmo, ASSIGNED, BOT, DEALS_PIPELINE, LOOKING, NEW, PIPELINE, REVIEW};
use common::TestApp;
use leadbot::config::AmoCrmSettings;
use serde_json::{json, Value};

const SECRET: &str = "amo-hook-secret-0123456789";
const ACCOUNT: u64 = 32427762;
/// The real 2025 lead-creation body: lead 32966269 in status 76789230 of pipeline 9621010.
const RAW_ADD: &str = include_str!("fixtures/amocrm/raw-webhook-leads-create-2025.form.txt");
const RAW_SHORT_STATUS: &str = include_str!("fixtures/amocrm/raw-webhook-short-leads-status.form.txt");
const RAW_MESSAGE: &str = include_str!("fixtures/amocrm/raw-webhook-message-add.synth.form.txt");
const LEAD: u64 = 32966269;
const WAIT: Duration = Duration::from_secs(20);

fn settings(fake: &FakeAmo, extra: &str) -> AmoCrmSettings {
    let mut s: AmoCrmSettings = toml::from_str(&format!(
        r#"
subdomain = "etesttask"
account_id = {ACCOUNT}
base_url = "{}"
{extra}
[pipeline]
id = {PIPELINE}
take_statuses = [{NEW}]
bot_processing = {BOT}
assigned = {ASSIGNED}
low_quality = 143
needs_review = {REVIEW}
[channels]
by_tag = {{ "Онлайн-чат" = "webchat" }}
[limits]
rate_per_sec = 6.0
block_pause = "2s"
"#,
        fake.base
    ))
    .unwrap();
    s.webhook_secret = Some(SECRET.into());
    s.token = Some(common::fake_amocrm::TOKEN.into());
    s
}

async fn app_with(fake: &FakeAmo, extra: &str) -> TestApp {
    let s = settings(fake, extra);
    TestApp::spawn_with(move |c| c.amocrm = Some(s)).await
}

async fn post_hook(app: &TestApp, secret: &str, body: &str) -> u16 {
    app.http
        .post(format!("{}/webhooks/amocrm/{secret}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("user-agent", "amoCRM-Webhooks/3.0")
        .body(body.trim().to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A form body from bracket-key pairs, encoded as amoCRM does.
fn form(pairs: &[(String, String)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

/// `leads[{action}][i]` entities (id, status, pipeline) with the account.
fn leads_body(action: &str, leads: &[(u64, u64, u64)]) -> String {
    let mut pairs = vec![];
    for (i, (id, status, pipeline)) in leads.iter().enumerate() {
        let k = |f: &str| format!("leads[{action}][{i}][{f}]");
        pairs.push((k("id"), id.to_string()));
        pairs.push((k("status_id"), status.to_string()));
        pairs.push((k("pipeline_id"), pipeline.to_string()));
        pairs.push((k("updated_at"), "1748268669".into()));
    }
    pairs.push(("account[subdomain]".into(), "etesttask".into()));
    pairs.push(("account[id]".into(), ACCOUNT.to_string()));
    form(&pairs)
}

/// The `message[add]` body for a client message on `lead`.
fn message_body(lead: u64, id: &str, text: &str) -> String {
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(RAW_MESSAGE.trim()).unwrap();
    for (k, v) in pairs.iter_mut() {
        match k.as_str() {
            "message[add][0][id]" => *v = id.into(),
            "message[add][0][text]" => *v = text.into(),
            "message[add][0][element_id]" | "message[add][0][entity_id]" => *v = lead.to_string(),
            _ => {}
        }
    }
    form(&pairs)
}

async fn lead_by_crm_id(app: &TestApp, crm_id: u64) -> Option<Value> {
    let (_, list) = app.get("/api/v1/leads?limit=1000").await;
    let id = list["leads"]
        .as_array()?
        .iter()
        .find(|l| l["source"] == "amocrm" && l["external_id"].as_str() == Some(crm_id.to_string().as_str()))?["id"]
        .as_i64()?;
    Some(app.lead(id).await)
}

async fn count_leads(app: &TestApp) -> usize {
    let (_, list) = app.get("/api/v1/leads?limit=1000").await;
    list["leads"]
        .as_array()
        .map_or(0, |l| l.iter().filter(|l| l["source"] == "amocrm").count())
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

fn tags(lead: &Value) -> Vec<String> {
    lead["_embedded"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_lead_without_a_phone_gets_the_bot_and_ends_in_a_completed_card() {
    let fake = FakeAmo::start().await;
    fake.add_lead_in(LEAD, PIPELINE, NEW, Some("Ольга"), None, &["Онлайн-чат", "VIP"]);
    let app = app_with(&fake, "bot_user_id = 777").await;

    assert_eq!(post_hook(&app, SECRET, RAW_ADD).await, 200);
    let lead = wait_until("the lead", async || {
        lead_by_crm_id(&app, LEAD)
            .await
            .filter(|l| l["status"] == "bot_processing")
    })
    .await;
    assert_eq!(lead["channel"], "webchat");
    wait_until("bot status in the card", async || {
        (fake.lead(LEAD)["status_id"] == BOT).then_some(())
    })
    .await;
    let card = fake.lead(LEAD);
    assert_eq!(card["responsible_user_id"], 777);
    // The tag is added; the card's own tags stay.
    assert_eq!(tags(&card), ["Онлайн-чат", "VIP", "leadbot"]);

    // The client answers in an amoCRM chat; amoCRM redelivers the message.
    let msg = message_body(LEAD, "m-1", "мой номер 8 918 123-45-67");
    assert_eq!(post_hook(&app, SECRET, &msg).await, 200);
    assert_eq!(post_hook(&app, SECRET, &msg).await, 200);
    wait_until("assigned card", async || {
        (fake.lead(LEAD)["status_id"] == ASSIGNED).then_some(())
    })
    .await;
    app.wait_idle(WAIT).await;
    let card = fake.lead(LEAD);
    let manager = card["responsible_user_id"].as_u64().unwrap();
    assert!(manager == 1 || manager == 2, "{card}");
    assert_eq!(
        fake.phones_of_lead(LEAD),
        ["+79181234567"],
        "the phone on the contact, once"
    );
    let (notes, tasks) = {
        let g = fake.lock();
        (g.notes.clone(), g.tasks.clone())
    };
    let transcript: Vec<_> = notes
        .iter()
        .filter(|(l, t)| *l == LEAD && t.starts_with("Диалог бота"))
        .collect();
    assert_eq!(transcript.len(), 1, "{notes:?}");
    assert!(transcript[0].1.contains("Клиент: мой номер 8 918 123-45-67"));
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["responsible_user_id"], manager);
    assert_eq!(tasks[0]["entity_type"], "leads");
    assert!(tasks[0]["text"].as_str().unwrap().starts_with("Связаться с клиентом"));
    let lead = lead_by_crm_id(&app, LEAD).await.unwrap();
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
async fn a_lead_whose_contact_has_a_phone_is_assigned_at_once() {
    let fake = FakeAmo::start().await;
    fake.add_lead(LEAD, NEW, Some("Иван"), Some("+7 916 123-45-67"));
    let app = app_with(&fake, "").await;
    assert_eq!(post_hook(&app, SECRET, RAW_ADD).await, 200);
    wait_until("assigned card", async || {
        (fake.lead(LEAD)["status_id"] == ASSIGNED).then_some(())
    })
    .await;
    app.wait_idle(WAIT).await;
    let lead = lead_by_crm_id(&app, LEAD).await.unwrap();
    assert_eq!(lead["status"], "assigned");
    assert_eq!(lead["phone"], "+79161234567");
    // The number was there already: the contact is not touched.
    assert_eq!(fake.phones_of_lead(LEAD), ["+7 916 123-45-67"]);
    assert_eq!(fake.count("PATCH", "/api/v4/contacts"), 0);
    assert_eq!(fake.lock().tasks.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_lead_without_a_contact_gets_one_created_and_linked() {
    let fake = FakeAmo::start().await;
    fake.add_lead_in(LEAD, PIPELINE, NEW, None, None, &["Онлайн-чат"]);
    let app = app_with(&fake, "").await;
    assert_eq!(post_hook(&app, SECRET, RAW_ADD).await, 200);
    wait_until("bot status", async || {
        (fake.lead(LEAD)["status_id"] == BOT).then_some(())
    })
    .await;
    assert_eq!(
        post_hook(&app, SECRET, &message_body(LEAD, "m-2", "+7 903 555-11-22")).await,
        200
    );
    wait_until("assigned card", async || {
        (fake.lead(LEAD)["status_id"] == ASSIGNED).then_some(())
    })
    .await;
    app.wait_idle(WAIT).await;
    assert_eq!(fake.phones_of_lead(LEAD), ["+79035551122"]);
    assert_eq!(fake.count("POST", "/api/v4/contacts"), 1);
    assert_eq!(fake.lead(LEAD)["_embedded"]["contacts"][0]["is_main"], true);
    app.stop().await;
}

#[tokio::test]
async fn a_forged_secret_or_another_account_is_refused_and_nothing_is_stored() {
    let fake = FakeAmo::start().await;
    fake.add_lead(LEAD, NEW, None, Some("+79161234567"));
    let app = app_with(&fake, "").await;
    assert_eq!(post_hook(&app, "amo-hook-secret-0123456780", RAW_ADD).await, 401);
    assert_eq!(post_hook(&app, "x", RAW_ADD).await, 401);
    let other_account = RAW_ADD.replace("32427762", "32427763");
    assert_eq!(post_hook(&app, SECRET, &other_account).await, 401);
    let other_sub = RAW_ADD.replace("account%5Bsubdomain%5D=etesttask", "account%5Bsubdomain%5D=attacker");
    assert_ne!(other_sub, RAW_ADD, "the fixture's key encoding");
    assert_eq!(post_hook(&app, SECRET, &other_sub).await, 401);
    assert_eq!(post_hook(&app, SECRET, "not a webhook").await, 400);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM crm_events")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count_leads(&app).await, 0);
    assert_eq!(fake.count("GET", "/api/v4/leads"), 0, "no call for a refused webhook");
    app.stop().await;
}

#[tokio::test]
async fn every_entity_of_a_mixed_webhook_is_processed_in_one_read() {
    let fake = FakeAmo::start().await;
    fake.add_lead_in(101, PIPELINE, NEW, None, None, &["Онлайн-чат"]);
    fake.add_lead_in(102, PIPELINE, NEW, Some("Пётр"), Some("+79160000002"), &[]);
    fake.add_lead_in(103, PIPELINE, ASSIGNED, None, None, &[]);
    let app = app_with(&fake, "").await;
    // Two new leads, a status change of a lead a manager has, and a contact update — one POST.
    let mut body = leads_body("add", &[(101, NEW, PIPELINE), (102, NEW, PIPELINE)]);
    body.push('&');
    body.push_str(
        &leads_body("status", &[(103, ASSIGNED, PIPELINE)])
            .split('&')
            .filter(|p| !p.starts_with("account"))
            .collect::<Vec<_>>()
            .join("&"),
    );
    body.push_str("&contacts%5Bupdate%5D%5B0%5D%5Bid%5D=9&contacts%5Bupdate%5D%5B0%5D%5Bname%5D=X");
    assert_eq!(post_hook(&app, SECRET, &body).await, 200);
    wait_until("both leads", async || (count_leads(&app).await == 2).then_some(())).await;
    app.wait_idle(WAIT).await;
    assert!(
        lead_by_crm_id(&app, 103).await.is_none(),
        "a manager's lead is left alone"
    );
    // One collection read for both leads, none per lead.
    let reads: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/api/v4/leads")
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    for id in [101, 102, 103] {
        assert_eq!(
            fake.count("GET", &format!("/api/v4/leads/{id}")),
            usize::from(id == 102),
            "only the lead with a phone is read again, to write its card"
        );
    }
    let events: Vec<String> = sqlx::query_scalar("SELECT event FROM crm_events ORDER BY id")
        .fetch_all(app.pool())
        .await
        .unwrap();
    assert_eq!(events, ["leads:add", "leads:add", "leads:status", "contacts:update"]);
    app.stop().await;
}

#[tokio::test]
async fn duplicates_and_our_own_echoes_cost_no_api_call() {
    let fake = FakeAmo::start().await;
    fake.add_lead_in(LEAD, PIPELINE, NEW, None, None, &["Онлайн-чат"]);
    let app = app_with(&fake, "").await;
    assert_eq!(post_hook(&app, SECRET, RAW_ADD).await, 200);
    assert_eq!(post_hook(&app, SECRET, RAW_ADD).await, 200);
    wait_until("bot status", async || {
        (fake.lead(LEAD)["status_id"] == BOT).then_some(())
    })
    .await;
    app.wait_idle(WAIT).await;
    let before = fake.requests().len();
    // amoCRM echoes our own change as a full status webhook and a short (Digital Pipeline) one.
    assert_eq!(
        post_hook(&app, SECRET, &leads_body("status", &[(LEAD, BOT, PIPELINE)])).await,
        200
    );
    assert_eq!(
        post_hook(&app, SECRET, &leads_body("update", &[(LEAD, BOT, PIPELINE)])).await,
        200
    );
    let short = RAW_SHORT_STATUS
        .replace("3029903", &LEAD.to_string())
        .replace("30519919", &ACCOUNT.to_string())
        .replace("archibiz", "etesttask");
    assert_eq!(post_hook(&app, SECRET, &short).await, 200);
    app.wait_idle(WAIT).await;
    assert_eq!(fake.requests().len(), before, "{:?}", &fake.requests()[before..]);
    assert_eq!(count_leads(&app).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_lead_whose_webhook_was_lost_is_found_by_reconciliation() {
    let fake = FakeAmo::start().await;
    let app = app_with(&fake, "reconcile_every = \"200ms\"").await;
    // The first pass only marks where history ends.
    wait_until("the first pass", async || {
        let c: Option<String> = sqlx::query_scalar("SELECT value FROM crm_cursors WHERE name = 'amocrm:created_at'")
            .fetch_optional(app.pool())
            .await
            .ok()
            .flatten();
        c
    })
    .await;
    fake.add_lead_in(201, PIPELINE, NEW, Some("Анна"), Some("+79160000201"), &[]);
    fake.add_lead_in(202, PIPELINE, ASSIGNED, None, None, &[]);
    for id in [201, 202] {
        fake.lock().leads.get_mut(&id).unwrap()["created_at"] = json!(chrono::Utc::now().timestamp() + 1);
    }
    let lead = wait_until("the lost lead", async || lead_by_crm_id(&app, 201).await).await;
    assert_eq!(lead["phone"], "+79160000201");
    wait_until("assigned card", async || {
        (fake.lead(201)["status_id"] == ASSIGNED).then_some(())
    })
    .await;
    assert!(lead_by_crm_id(&app, 202).await.is_none());
    let caught = app
        .metrics()
        .await
        .value("leadbot_crm_reconciliation_catches_total", &[("crm", "amocrm")]);
    assert_eq!(caught, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn a_burst_of_a_hundred_leads_never_exceeds_the_rate_limit() {
    let fake = FakeAmo::start().await;
    for i in 0..100 {
        fake.add_lead_in(1000 + i, PIPELINE, NEW, Some("Клиент"), None, &["Онлайн-чат"]);
    }
    let app = app_with(&fake, "").await;
    // Ten webhooks of ten leads each, all at once.
    let posts: Vec<_> = (0..10)
        .map(|b| {
            let leads: Vec<(u64, u64, u64)> = (0..10).map(|i| (1000 + b * 10 + i, NEW, PIPELINE)).collect();
            let body = leads_body("add", &leads);
            let http = app.http.clone();
            let url = format!("{}/webhooks/amocrm/{SECRET}", app.base);
            tokio::spawn(async move {
                http.post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for p in posts {
        assert_eq!(p.await.unwrap(), 200);
    }
    wait_until("every card in the bot's status", async || {
        let g = fake.lock();
        g.leads.values().all(|l| l["status_id"] == BOT).then_some(())
    })
    .await;
    let requests = fake.requests();
    assert!(
        requests.iter().all(|r| r.status != 429),
        "the fake had to refuse requests"
    );
    assert!(
        fake.max_per_second() <= 7,
        "{} requests in one second",
        fake.max_per_second()
    );
    // Reads and updates in bulk: far fewer requests than leads (how many leads share a bulk
    // update depends on how fast the lead actors commit them; the delivery actor keeps at most
    // 16 rows of a sink in flight, so 7 is the floor and a loaded machine gets more).
    let patches = fake.count("PATCH", "/api/v4/leads");
    assert!(patches <= 34, "{patches} bulk updates for 100 leads");
    assert!(requests.len() <= 60, "{} requests for 100 leads", requests.len());
    assert_eq!(count_leads(&app).await, 100);
    app.stop().await;
}

#[tokio::test]
async fn oauth_refreshes_once_rotates_the_refresh_token_and_stores_it_first() {
    let fake = FakeAmo::start().await;
    fake.issue_code("auth-code-1");
    fake.add_lead(LEAD, NEW, Some("Иван"), Some("+79161234567"));
    let mut s = settings(
        &fake,
        "auth = \"oauth\"\nredirect_uri = \"https://leadbot.example/oauth\"",
    );
    s.token = None;
    s.client_id = Some("client".into());
    s.client_secret = Some("secret".into());
    s.auth_code = Some("auth-code-1".into());
    let app = TestApp::spawn_with({
        let s = s.clone();
        move |c| c.amocrm = Some(s)
    })
    .await;
    let stored = |app: &TestApp| {
        let pool = app.pool().clone();
        async move {
            let (access, refresh): (String, String) = sqlx::query_as(
                "SELECT access_token, refresh_token FROM crm_oauth_tokens WHERE member_id = 'amocrm:32427762'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            (access, refresh)
        }
    };
    let (access1, refresh1) = stored(&app).await;
    assert_eq!(access1, "access-2");

    // The access token expires: the next call gets 401, refreshes once, and goes through.
    fake.expire_access_tokens();
    assert_eq!(post_hook(&app, SECRET, RAW_ADD).await, 200);
    wait_until("assigned card", async || {
        (fake.lead(LEAD)["status_id"] == ASSIGNED).then_some(())
    })
    .await;
    let (access2, refresh2) = stored(&app).await;
    assert_ne!(access2, access1);
    assert_ne!(refresh2, refresh1, "the new pair was stored");
    assert_eq!(fake.lock().refreshes, 1);
    // The old refresh token is dead now.
    let old = reqwest::Client::new()
        .post(format!("{}/oauth2/access_token", fake.base))
        .json(
            &json!({"client_id": "client", "client_secret": "secret", "grant_type": "refresh_token",
                      "refresh_token": refresh1, "redirect_uri": "https://leadbot.example/oauth"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401);
    assert!(old.text().await.unwrap().contains("Token has been revoked"));

    // Two nodes refresh ahead of time at the same moment: one exchange, both end on the winner's pair.
    let store: Arc<dyn leadbot::store::CrmStore> = app.crm_store();
    let node = |store: Arc<dyn leadbot::store::CrmStore>| {
        Arc::new(leadbot::crm::amocrm::api::TokenStore::new(
            store,
            "amocrm:32427762",
            &fake.base,
            "client",
            "secret",
            "https://leadbot.example/oauth",
        ))
    };
    let (a, b) = (node(store.clone()), node(store.clone()));
    let http = reqwest::Client::new();
    let ahead = Duration::from_secs(25 * 3600); // tokens live 24 h: due now
    let (ra, rb) = tokio::join!(a.refresh_if_due(&http, ahead), b.refresh_if_due(&http, ahead));
    ra.unwrap();
    rb.unwrap();
    assert_eq!(fake.lock().refreshes, 2, "exactly one more exchange");
    let (access3, refresh3) = stored(&app).await;
    assert_ne!(refresh3, refresh2);
    assert_eq!(a.current(&http).await.unwrap().access_token, access3);
    assert_eq!(b.current(&http).await.unwrap().access_token, access3);
    app.stop().await;
}

#[tokio::test]
async fn a_blocked_account_stops_all_calls_and_keeps_the_work_queued() {
    let fake = FakeAmo::start().await;
    fake.add_lead_in(LEAD, PIPELINE, NEW, None, None, &["Онлайн-чат"]);
    let app = app_with(&fake, "").await;
    assert_eq!(post_hook(&app, SECRET, RAW_ADD).await, 200);
    wait_until("bot status", async || {
        (fake.lead(LEAD)["status_id"] == BOT).then_some(())
    })
    .await;
    app.wait_idle(WAIT).await;

    fake.block(true);
    // The client leaves a phone: the card's update meets the block.
    assert_eq!(
        post_hook(&app, SECRET, &message_body(LEAD, "m-3", "89181234567")).await,
        200
    );
    wait_until("the block seen", async || {
        fake.requests().iter().any(|r| r.status == 403).then_some(())
    })
    .await;
    let blocked = app.metrics().await.value("leadbot_crm_blocked", &[("crm", "amocrm")]);
    assert_eq!(blocked, 1.0, "the operator sees the block");
    let first_403 = fake.requests().iter().position(|r| r.status == 403).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during: Vec<_> = fake.requests()[first_403..].to_vec();
    assert!(during.len() <= 2, "calls went on while blocked: {during:?}");
    // Nothing was given up.
    let (_, failed) = app.get("/api/v1/outbox?status=failed").await;
    assert_eq!(failed["rows"].as_array().map_or(0, Vec::len), 0, "{failed}");

    fake.block(false);
    wait_until("assigned card", async || {
        (fake.lead(LEAD)["status_id"] == ASSIGNED).then_some(())
    })
    .await;
    app.wait_idle(WAIT).await;
    assert_eq!(fake.phones_of_lead(LEAD), ["+79181234567"]);
    let blocked = app.metrics().await.value("leadbot_crm_blocked", &[("crm", "amocrm")]);
    assert_eq!(blocked, 0.0);
    app.stop().await;
}

#[tokio::test]
async fn a_deal_in_looking_for_an_executor_goes_through_the_job_board_to_a_responsible_user() {
    use common::fake_telegram::FakeTelegram;
    let tg_fake = FakeTelegram::start().await;
    let fake = FakeAmo::start().await;
    fake.add_lead_in(3001, DEALS_PIPELINE, LOOKING, Some("Ирина"), Some("+79161112233"), &[]);
    let mut tg: leadbot::config::TelegramSettings = toml::from_str(&format!(
        r#"
bot = "lead_demo_bot"
api_base = "{}"
[limits]
per_chat_per_sec = 20.0
global_per_sec = 100.0
group_per_min = 600.0
[jobs]
group_chat_id = -1001234567890
template = "Заказ {{deal_id}}: {{title}}"
[[executors]]
telegram_id = 555000111
crm_user_id = "4242"
name = "Пётр Мастер"
"#,
        tg_fake.base
    ))
    .unwrap();
    tg.token = Some(common::fake_telegram::TOKEN.into());
    tg.webhook_secret = Some("5f0c2d1e_example-secret".into());
    let amo = settings(
        &fake,
        &format!("[dispatch]\npipeline_id = {DEALS_PIPELINE}\nstatus_id = {LOOKING}\nexecutor_field_id = 735704\n"),
    );
    let app = TestApp::spawn_with(move |c| {
        c.amocrm = Some(amo);
        c.telegram = Some(tg);
    })
    .await;
    assert_eq!(
        post_hook(&app, SECRET, &leads_body("status", &[(3001, LOOKING, DEALS_PIPELINE)])).await,
        200
    );
    let post = wait_until("the group post", async || {
        tg_fake
            .calls("sendMessage")
            .into_iter()
            .find(|c| c.body["chat_id"] == -1001234567890i64)
    })
    .await;
    assert!(
        post.body["text"]
            .as_str()
            .unwrap()
            .starts_with("Заказ 3001: Заявка №3001"),
        "{:?}",
        post.body
    );
    let data = post.body["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    // The executor takes it.
    let mut click: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/telegram/telegram_update_callback_query_group_claim.synth.json")
            .unwrap(),
    )
    .unwrap();
    click["update_id"] = json!(77);
    click["callback_query"]["id"] = json!("cq77");
    click["callback_query"]["from"]["id"] = json!(555000111);
    click["callback_query"]["data"] = json!(data);
    let code = app
        .http
        .post(format!("{}/webhooks/telegram/lead_demo_bot", app.base))
        .header("X-Telegram-Bot-Api-Secret-Token", "5f0c2d1e_example-secret")
        .json(&click)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(code, 200);
    wait_until("the responsible", async || {
        (fake.lead(3001)["responsible_user_id"] == 4242).then_some(())
    })
    .await;
    app.wait_idle(WAIT).await;
    let (notes, tasks) = {
        let g = fake.lock();
        (g.notes.clone(), g.tasks.clone())
    };
    assert!(
        notes
            .iter()
            .any(|(l, t)| *l == 3001 && t.starts_with("Исполнитель: Пётр Мастер")),
        "{notes:?}"
    );
    // The deal's manager (its responsible before) gets a task.
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["responsible_user_id"], 10000698);
    assert!(tasks[0]["text"].as_str().unwrap().starts_with("Исполнитель найден"));
    // A second webhook for the same move does not post it again.
    assert_eq!(
        post_hook(&app, SECRET, &leads_body("status", &[(3001, LOOKING, DEALS_PIPELINE)])).await,
        200
    );
    app.wait_idle(WAIT).await;
    let posts = tg_fake
        .calls("sendMessage")
        .into_iter()
        .filter(|c| c.body["chat_id"] == -1001234567890i64)
        .count();
    assert_eq!(posts, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_online_checks_the_pipeline_against_the_account() {
    let fake = FakeAmo::start().await;
    let dir = tempfile::tempdir().unwrap();
    let write = |status: u64| {
        std::fs::write(
            dir.path().join("amocrm.toml"),
            format!(
                "subdomain = \"etesttask\"\naccount_id = {ACCOUNT}\nbase_url = \"{}\"\n[pipeline]\nid = {PIPELINE}\ntake_statuses = [{NEW}]\nbot_processing = {BOT}\nassigned = {status}\nlow_quality = 143\nneeds_review = {REVIEW}\n",
                fake.base
            ),
        )
        .unwrap();
    };
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_leadbot"))
            .args(["check-config", "--online", "--config", dir.path().to_str().unwrap()])
            .env("LEADBOT_AMOCRM_WEBHOOK_SECRET", SECRET)
            .env("LEADBOT_AMOCRM_TOKEN", common::fake_amocrm::TOKEN)
            .output()
            .unwrap()
    };
    write(ASSIGNED);
    let ok = run();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    write(99);
    let bad = run();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("amocrm.toml:pipeline.assigned: pipeline 9621010 has no status 99"),
        "{err}"
    );
}

#[tokio::test]
async fn a_bulk_update_refused_for_one_lead_fails_only_that_lead() {
    let fake = FakeAmo::start().await;
    for id in [401, 402, 403] {
        fake.add_lead_in(id, PIPELINE, NEW, None, None, &["Онлайн-чат"]);
    }
    fake.lock().rejected_leads.insert(402);
    let app = app_with(&fake, "").await;
    let body = leads_body(
        "add",
        &[(401, NEW, PIPELINE), (402, NEW, PIPELINE), (403, NEW, PIPELINE)],
    );
    assert_eq!(post_hook(&app, SECRET, &body).await, 200);
    wait_until("the others in the bot's status", async || {
        (fake.lead(401)["status_id"] == BOT && fake.lead(403)["status_id"] == BOT).then_some(())
    })
    .await;
    let failed = wait_until("the refused update given up", async || {
        let (_, rows) = app.get("/api/v1/outbox?status=failed").await;
        rows["rows"].as_array().filter(|r| !r.is_empty()).cloned()
    })
    .await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let error = failed[0]["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("FieldMissing") && error.contains("custom_fields_values"),
        "{failed:?}"
    );
    assert_eq!(fake.lead(402)["status_id"], NEW);
    app.stop().await;
}

#[tokio::test]
async fn a_number_corrected_after_the_hand_over_replaces_the_one_on_the_card() {
    let fake = FakeAmo::start().await;
    fake.add_lead_in(LEAD, PIPELINE, NEW, Some("Ольга"), None, &["Онлайн-чат"]);
    let app = app_with(&fake, "").await;
    assert_eq!(post_hook(&app, SECRET, RAW_ADD).await, 200);
    wait_until("bot status", async || {
        (fake.lead(LEAD)["status_id"] == BOT).then_some(())
    })
    .await;
    assert_eq!(
        post_hook(&app, SECRET, &message_body(LEAD, "c-1", "мой номер 8 918 123-45-67")).await,
        200
    );
    wait_until("assigned card", async || {
        (fake.lead(LEAD)["status_id"] == ASSIGNED).then_some(())
    })
    .await;
    app.wait_idle(WAIT).await;
    assert_eq!(fake.phones_of_lead(LEAD), ["+79181234567"]);
    assert_eq!(
        post_hook(
            &app,
            SECRET,
            &message_body(LEAD, "c-2", "ой, нет, правильный номер 8 918 765-43-21")
        )
        .await,
        200
    );
    wait_until("the corrected number", async || {
        (fake.phones_of_lead(LEAD) == ["+79187654321"]).then_some(())
    })
    .await;
    app.wait_idle(WAIT).await;
    assert_eq!(
        fake.phones_of_lead(LEAD),
        ["+79187654321"],
        "the wrong number is gone, once"
    );
    app.stop().await;
}
