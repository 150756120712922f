//! Telegram end to end: the real update payloads posted to leadbot's webhook, a local Bot API
//! server (tests/common/fake_telegram.rs) behind the production client.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::fake_telegram::{FakeTelegram, TOKEN};
use common::TestApp;
use leadbot::channels::telegram::update::User;
use leadbot::channels::telegram::BotApi;
use leadbot::config::TelegramSettings;
use leadbot::domain::Claim;
use leadbot::jobs::{JobBoard, JobBoardParts};
use serde_json::{json, Value};

const SECRET: &str = "5f0c2d1e_example-secret";
const CLIENT: i64 = 123456789;
const GROUP: i64 = -1001234567890;
const WAIT: Duration = Duration::from_secs(10);

fn settings(fake: &FakeTelegram) -> TelegramSettings {
    let mut s: TelegramSettings = toml::from_str(&format!(
        r#"
bot = "lead_demo_bot"
api_base = "{}"
[limits]
per_chat_per_sec = 20.0
global_per_sec = 100.0
group_per_min = 600.0
[jobs]
group_chat_id = {GROUP}
template = "Заказ {{deal_id}}: {{title}}\nУсловия: {{conditions}}\nОплата: {{pay}}"
[[executors]]
telegram_id = 555000111
crm_user_id = "42"
name = "Пётр Мастер"
"#,
        fake.base
    ))
    .unwrap();
    s.token = Some(TOKEN.into());
    s.webhook_secret = Some(SECRET.into());
    s
}

async fn start(fake: &FakeTelegram) -> TestApp {
    let s = settings(fake);
    TestApp::spawn_with(move |c| c.telegram = Some(s)).await
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("tests/fixtures/telegram/{name}")).unwrap()).unwrap()
}

/// The teloxide private-text sample, from our test client, with another update id and text.
fn text_update(update_id: i64, text: &str) -> Value {
    let mut u = fixture("update_message_private_text.teloxide.json");
    u["update_id"] = json!(update_id);
    u["message"]["text"] = json!(text);
    u["message"]["from"]["id"] = json!(CLIENT);
    u["message"]["chat"]["id"] = json!(CLIENT);
    u
}

async fn post_update(app: &TestApp, update: &Value, secret: Option<&str>) -> u16 {
    let mut req = app
        .http
        .post(format!("{}/webhooks/telegram/lead_demo_bot", app.base))
        .json(update);
    if let Some(s) = secret {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn telegram_lead(app: &TestApp) -> Option<Value> {
    let (_, list) = app.get("/api/v1/leads?limit=1000").await;
    let id = list["leads"].as_array()?.iter().find(|l| l["source"] == "telegram")?["id"].as_i64()?;
    Some(app.lead(id).await)
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

fn sent_to(fake: &FakeTelegram, chat: i64) -> Vec<Value> {
    fake.calls("sendMessage")
        .into_iter()
        .filter(|c| c.body["chat_id"] == chat)
        .map(|c| c.body)
        .collect()
}

#[tokio::test]
async fn a_client_conversation_ends_in_a_verified_contact() {
    let fake = FakeTelegram::start().await;
    let app = start(&fake).await;
    assert_eq!(
        post_update(
            &app,
            &text_update(1, "Здравствуйте, сколько стоит доставка?"),
            Some(SECRET)
        )
        .await,
        200
    );
    let lead = wait("the lead", async || {
        telegram_lead(&app).await.filter(|l| l["status"] == "bot_processing")
    })
    .await;
    assert_eq!(lead["channel"], "telegram");
    let sent = wait("the greeting", async || {
        Some(sent_to(&fake, CLIENT)).filter(|s| s.len() >= 3)
    })
    .await;
    assert!(
        sent[0]["text"].as_str().unwrap().starts_with("Здравствуйте"),
        "{sent:?}"
    );
    assert_eq!(
        sent[0]["reply_markup"]["keyboard"][0][0]["request_contact"], true,
        "the share-number button"
    );

    assert_eq!(
        post_update(
            &app,
            &fixture("telegram_update_message_contact_own.synth.json"),
            Some(SECRET)
        )
        .await,
        200
    );
    let lead = wait("assigned", async || {
        telegram_lead(&app).await.filter(|l| l["status"] == "assigned")
    })
    .await;
    assert_eq!(lead["phone"], "+79161234567");
    let last = wait("thanks", async || {
        sent_to(&fake, CLIENT)
            .into_iter()
            .find(|m| m["text"].as_str().unwrap().contains("Спасибо"))
    })
    .await;
    assert_eq!(
        last["reply_markup"]["remove_keyboard"], true,
        "the button goes away once the phone is known"
    );
    app.stop().await;
}

#[tokio::test]
async fn someone_elses_contact_is_refused_and_the_clients_own_is_asked_for() {
    let fake = FakeTelegram::start().await;
    let app = start(&fake).await;
    post_update(&app, &text_update(1, "/start"), Some(SECRET)).await;
    wait("the lead", async || {
        telegram_lead(&app).await.filter(|l| l["status"] == "bot_processing")
    })
    .await;
    post_update(
        &app,
        &fixture("telegram_update_message_contact_foreign.synth.json"),
        Some(SECRET),
    )
    .await;
    let reply = wait("the refusal", async || {
        sent_to(&fake, CLIENT)
            .into_iter()
            .find(|m| m["text"].as_str().unwrap().contains("чужой контакт"))
    })
    .await;
    assert_eq!(reply["reply_markup"]["keyboard"][0][0]["request_contact"], true);
    let lead = telegram_lead(&app).await.unwrap();
    assert_eq!(lead["status"], "bot_processing");
    assert!(lead["phone"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn wrong_secret_unknown_bot_and_garbage_are_refused() {
    let fake = FakeTelegram::start().await;
    let app = start(&fake).await;
    assert_eq!(post_update(&app, &text_update(1, "hi"), Some("wrong")).await, 401);
    assert_eq!(post_update(&app, &text_update(1, "hi"), None).await, 401);
    let r = app
        .http
        .post(format!("{}/webhooks/telegram/other_bot", app.base))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(&text_update(1, "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(post_update(&app, &json!({"no": "update"}), Some(SECRET)).await, 400);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(telegram_lead(&app).await.is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_duplicate_update_id_is_processed_once() {
    let fake = FakeTelegram::start().await;
    let app = start(&fake).await;
    post_update(&app, &text_update(1, "/start"), Some(SECRET)).await;
    wait("the lead", async || {
        telegram_lead(&app).await.filter(|l| l["status"] == "bot_processing")
    })
    .await;
    post_update(&app, &text_update(2, "не дам"), Some(SECRET)).await;
    post_update(&app, &text_update(2, "не дам"), Some(SECRET)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lead = telegram_lead(&app).await.unwrap();
    assert_eq!(lead["status"], "bot_processing", "one refusal, not two");
    let ins = lead["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["direction"] == "in")
        .count();
    assert_eq!(ins, 1);
    app.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fake = FakeTelegram::start().await;
    let mut too_many = fixture("telegram_response_429.synth.json");
    too_many["parameters"]["retry_after"] = json!(1);
    too_many["description"] = json!("Too Many Requests: retry after 1");
    fake.fail_next("sendMessage", 429, too_many);
    let app = start(&fake).await;
    post_update(&app, &text_update(1, "/start"), Some(SECRET)).await;
    wait("two sends", async || {
        Some(fake.calls("sendMessage")).filter(|c| c.len() >= 2)
    })
    .await;
    let calls = fake.calls("sendMessage");
    let gap = calls[1].at.duration_since(calls[0].at);
    assert!(gap >= Duration::from_millis(950), "waited retry_after: {gap:?}");
    assert_eq!(calls[0].body, calls[1].body, "the same message again");
    app.stop().await;
}

/// A flood-limited chat waits out its retry_after without holding up anyone else: another
/// client's greeting goes out at once, and the limited client still reads the bot in order.
#[tokio::test]
async fn a_flood_limited_chat_does_not_hold_up_other_clients() {
    let fake = FakeTelegram::start().await;
    let mut too_many = fixture("telegram_response_429.synth.json");
    too_many["parameters"]["retry_after"] = json!(3);
    too_many["description"] = json!("Too Many Requests: retry after 3");
    fake.fail_next("sendMessage", 429, too_many);
    let app = start(&fake).await;
    post_update(&app, &text_update(1, "/start"), Some(SECRET)).await;
    wait("the refused greeting", async || {
        Some(()).filter(|_| !fake.calls("sendMessage").is_empty())
    })
    .await;
    let other: i64 = 42424242;
    let mut u = text_update(2, "Здравствуйте");
    u["message"]["from"]["id"] = json!(other);
    u["message"]["chat"]["id"] = json!(other);
    let asked = std::time::Instant::now();
    post_update(&app, &u, Some(SECRET)).await;
    wait("the other client's greeting", async || {
        Some(()).filter(|_| !sent_to(&fake, other).is_empty())
    })
    .await;
    assert!(
        asked.elapsed() < Duration::from_millis(2000),
        "another client waited {:?} behind a 3 s retry_after",
        asked.elapsed()
    );
    let calls = wait("the limited client's messages", async || {
        let to_client: Vec<_> = fake
            .calls("sendMessage")
            .into_iter()
            .filter(|c| c.body["chat_id"] == CLIENT)
            .collect();
        Some(to_client).filter(|c| c.len() >= 3)
    })
    .await;
    assert!(calls[1].at.duration_since(calls[0].at) >= Duration::from_millis(2950));
    assert_eq!(calls[0].body, calls[1].body, "the refused greeting goes first");
    assert_ne!(calls[1].body, calls[2].body);
    app.stop().await;
}

#[tokio::test]
async fn a_client_who_blocked_the_bot_gets_the_fallback() {
    let fake = FakeTelegram::start().await;
    fake.fail_next("sendMessage", 403, fixture("telegram_response_403_blocked.synth.json"));
    let app = start(&fake).await;
    post_update(&app, &text_update(1, "/start"), Some(SECRET)).await;
    let lead = wait("review", async || {
        telegram_lead(&app).await.filter(|l| l["status"] == "needs_review")
    })
    .await;
    assert_eq!(lead["reason"], "no_channel");
    app.stop().await;

    // The same through a my_chat_member "kicked" update.
    let fake = FakeTelegram::start().await;
    let app = start(&fake).await;
    post_update(&app, &text_update(1, "/start"), Some(SECRET)).await;
    wait("the lead", async || {
        telegram_lead(&app).await.filter(|l| l["status"] == "bot_processing")
    })
    .await;
    let mut kicked = fixture("update_my_chat_member_bot_blocked.teloxide.json");
    kicked["update_id"] = json!(5);
    kicked["my_chat_member"]["chat"]["id"] = json!(CLIENT);
    assert_eq!(post_update(&app, &kicked, Some(SECRET)).await, 200);
    let lead = wait("review", async || {
        telegram_lead(&app).await.filter(|l| l["status"] == "needs_review")
    })
    .await;
    assert_eq!(lead["reason"], "no_channel");
    app.stop().await;
}

fn claim_update(update_id: i64, user: i64, data: &str) -> Value {
    let mut u = fixture("telegram_update_callback_query_group_claim.synth.json");
    u["update_id"] = json!(update_id);
    u["callback_query"]["id"] = json!(format!("cq{update_id}"));
    u["callback_query"]["from"]["id"] = json!(user);
    u["callback_query"]["from"]["username"] = json!(format!("user{user}"));
    u["callback_query"]["data"] = json!(data);
    u
}

#[tokio::test]
async fn the_job_board_posts_reveals_privately_and_exactly_one_executor_wins() {
    let fake = FakeTelegram::start().await;
    let app = start(&fake).await;
    let (code, body) = app
        .post(
            "/api/v1/deals/D-1042/dispatch",
            json!({"title": "Ремонт стиральной машины", "conditions": "м. Сокол", "pay": "3000 ₽",
                   "client_name": "Ирина", "client_phone": "+79161112233", "manager_id": "1"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let job = body["job_id"].as_i64().unwrap();
    // Posted by the board's poster (the request does not wait for the messenger's pace).
    let post = wait("the group post", async || sent_to(&fake, GROUP).pop()).await;
    assert!(post["text"]
        .as_str()
        .unwrap()
        .starts_with("Заказ D-1042: Ремонт стиральной машины"));
    let buttons = post["reply_markup"]["inline_keyboard"][0].as_array().unwrap().clone();
    for b in &buttons {
        assert!(b["callback_data"].as_str().unwrap().len() <= 64);
    }
    assert_eq!(buttons[1]["callback_data"], format!("tk:{job}"));
    // Posting the same deal again does not post twice.
    app.post(
        "/api/v1/deals/D-1042/dispatch",
        json!({"title": "Ремонт стиральной машины", "client_phone": "+79161112233"}),
    )
    .await;
    assert_eq!(sent_to(&fake, GROUP).len(), 1);

    // An executor who never wrote to the bot sees the phone in an alert only they see.
    assert_eq!(
        post_update(&app, &claim_update(10, 777, &format!("ph:{job}")), Some(SECRET)).await,
        200
    );
    let alert = fake.calls("answerCallbackQuery").pop().unwrap().body;
    assert_eq!(alert["show_alert"], true);
    assert!(alert["text"].as_str().unwrap().contains("+79161112233"));

    // 50 executors click "take" at once; Telegram also redelivers some clicks.
    let mut clicks = vec![];
    for i in 0..50 {
        let u = claim_update(100 + i, 555000000 + i, &format!("tk:{job}"));
        clicks.push(u.clone());
        if i % 10 == 0 {
            clicks.push(u);
        }
    }
    let tasks: Vec<_> = clicks
        .into_iter()
        .map(|u| {
            let http = app.http.clone();
            let url = format!("{}/webhooks/telegram/lead_demo_bot", app.base);
            tokio::spawn(async move {
                http.post(url)
                    .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
                    .json(&u)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let answers: Vec<Value> = fake.calls("answerCallbackQuery").into_iter().map(|c| c.body).collect();
    let won = answers
        .iter()
        .filter(|a| a["text"].as_str().unwrap().starts_with("Заказ ваш"))
        .count();
    let lost = answers
        .iter()
        .filter(|a| a["text"].as_str().unwrap().contains("уже забран"))
        .count();
    assert_eq!(won, 1, "{answers:?}");
    assert_eq!(lost, 49, "every other click is told, each once");
    let edits = fake.calls("editMessageText");
    assert_eq!(edits.len(), 1);
    assert!(edits[0].body["text"]
        .as_str()
        .unwrap()
        .starts_with("Исполнитель найден: "));
    assert_eq!(edits[0].body["reply_markup"]["inline_keyboard"], json!([]));
    let assigned: Vec<(String, String)> = sqlx::query_as("SELECT deal_id, executor FROM deal_assignments")
        .fetch_all(app.pool())
        .await
        .unwrap();
    assert_eq!(assigned.len(), 1, "one CRM update");
    let notes = app.wait_notifications(1, WAIT).await;
    assert_eq!(notes[0].1["deal_id"], "D-1042");
    let reveals: i64 = sqlx::query_scalar("SELECT count(*) FROM job_reveals")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(reveals, 1, "the reveal was recorded");
    // Once taken, another executor no longer gets the client's phone.
    post_update(&app, &claim_update(999, 777, &format!("ph:{job}")), Some(SECRET)).await;
    let last = fake.calls("answerCallbackQuery").pop().unwrap().body;
    assert!(last["text"].as_str().unwrap().contains("уже забран"), "{last}");
    assert!(!last["text"].as_str().unwrap().contains("+79161112233"));
    app.stop().await;
}

#[tokio::test]
async fn a_thousand_simultaneous_claims_a_hundred_times_yield_one_winner_each() {
    let fake = FakeTelegram::start().await;
    let app = start(&fake).await;
    let store = Arc::new(leadbot::store::PgStore::connect(&app.db.url(), 16).await.unwrap());
    let pool = store.pool().clone();
    let s = settings(&fake);
    let api = Arc::new(BotApi::new(&s.api_base, TOKEN, &s.limits).unwrap());
    let board = Arc::new(JobBoard::new(JobBoardParts {
        settings: s.jobs.clone().unwrap(),
        texts: s.texts.clone(),
        executors: s.executors.clone(),
        jobs: store.clone(),
        chats: store.clone(),
        bot: s.bot.clone(),
        api,
        deals_crm: None,
        other_deal_crms: vec![],
        group_per_min: s.limits.group_per_min,
    }));
    for round in 0..100 {
        let job: i64 =
            sqlx::query_scalar("INSERT INTO jobs (deal_id, details, chat_id) VALUES ($1, '{}', $2) RETURNING id")
                .bind(format!("race-{round}"))
                .bind(GROUP)
                .fetch_one(&pool)
                .await
                .unwrap();
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let board = board.clone();
                tokio::spawn(async move {
                    let who = User {
                        id: 1_000_000 + i,
                        name: format!("E{i}"),
                        username: None,
                    };
                    board.claim(job, &who).await.unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), Claim::Won { .. }) {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
    pool.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_crm_lead_joins_its_telegram_chat_through_a_deep_link() {
    let fake = FakeTelegram::start().await;
    let app = start(&fake).await;
    // A lead from a web form: no chat, no phone → review with "no channel".
    let (_, body) = app
        .post(
            "/api/v1/leads",
            json!({"source": "crm", "external_id": "f1", "channel": "form", "name": "Ирина"}),
        )
        .await;
    let id = body["id"].as_i64().unwrap();
    assert_eq!(app.lead(id).await["reason"], "no_channel");
    let (code, link) = app.post(&format!("/api/v1/leads/{id}/telegram-link"), json!({})).await;
    assert_eq!(code, 200, "{link}");
    let link = link["link"].as_str().unwrap().to_string();
    let token = link
        .strip_prefix("https://t.me/lead_demo_bot?start=")
        .expect("a t.me deep link");
    assert!(token.len() <= 64, "Telegram's start parameter limit");

    // The client presses Start: the dialog begins in their chat.
    post_update(&app, &text_update(7, &format!("/start {token}")), Some(SECRET)).await;
    let lead = app.wait_for(id, WAIT, |l| l["status"] == "bot_processing").await;
    assert_eq!(lead["channel"], "telegram");
    let sent = wait("greeting", async || {
        Some(sent_to(&fake, CLIENT)).filter(|s| s.len() >= 2)
    })
    .await;
    assert!(sent[0]["text"].as_str().unwrap().contains("Ирина"), "{sent:?}");
    post_update(
        &app,
        &fixture("telegram_update_message_contact_own.synth.json"),
        Some(SECRET),
    )
    .await;
    let lead = app.wait_for(id, WAIT, |l| l["status"] == "assigned").await;
    assert_eq!(lead["phone"], "+79161234567");
    app.stop().await;
}

#[tokio::test]
async fn an_unclaimed_job_is_posted_again_after_its_deadline_and_the_manager_told() {
    let fake = FakeTelegram::start().await;
    let mut s = settings(&fake);
    if let Some(j) = s.jobs.as_mut() {
        j.repost_after = Some(Duration::from_millis(600));
    }
    let app = TestApp::spawn_with(move |c| c.telegram = Some(s)).await;
    let (code, _) = app
        .post(
            "/api/v1/deals/D-7/dispatch",
            json!({"title": "Покраска забора", "client_phone": "+79160000007", "manager_id": "1"}),
        )
        .await;
    assert_eq!(code, 201);
    wait("a second post", async || {
        Some(sent_to(&fake, GROUP)).filter(|p| p.len() >= 2)
    })
    .await;
    let notes = app.wait_notifications(1, WAIT).await;
    assert_eq!(notes[0].1["deal_id"], "D-7");
    assert!(notes[0].1["text"].as_str().unwrap().contains("никто не взял"));
    app.stop().await;
}

#[tokio::test]
async fn a_bitrix24_deal_entering_the_executor_stage_is_posted_and_its_responsible_set() {
    use common::fake_bitrix24::FakeBitrix24;
    let bitrix = FakeBitrix24::start().await;
    {
        let mut st = bitrix.inner.lock().unwrap();
        st.deals.insert(
            6675,
            json!({"ID": "6675", "TITLE": "Ремонт кондиционера", "STAGE_ID": "C1:NEW", "CONTACT_ID": "5",
                   "ASSIGNED_BY_ID": "1", "OPPORTUNITY": "4500.00", "CURRENCY_ID": "RUB", "COMMENTS": "Офис, 3 этаж"}),
        );
        st.contacts.insert(
            5,
            json!({"ID": "5", "NAME": "Ирина", "LAST_NAME": "К.",
            "PHONE": [{"ID": "1", "VALUE_TYPE": "WORK", "VALUE": "+79161112233", "TYPE_ID": "PHONE"}]}),
        );
    }
    let fake = FakeTelegram::start().await;
    let tg = settings(&fake);
    let mut bx: leadbot::config::Bitrix24Settings = toml::from_str(
        r#"
portal = "b24-46hovy.bitrix24.ru"
member_id = "a223c6b3710f85df22e9377d6c4f7553"
reconcile_every = "1h"
[statuses]
bot_processing = "IN_PROCESS"
assigned = "CONVERTED"
low_quality = "JUNK"
needs_review = "NEW"
[dispatch]
stage_id = "C1:PREPARATION"
[limits]
rate_per_sec = 50.0
burst = 50
"#,
    )
    .unwrap();
    bx.webhook_url = Some(bitrix.webhook_url());
    bx.application_token = Some("51856fefc120afa4b628cc82d3935cce".into());
    let app = TestApp::spawn_with(move |c| {
        c.telegram = Some(tg);
        c.bitrix24 = Some(bx);
    })
    .await;
    let event = |ts: u32| {
        let mut json = fixture_b24("event-ONCRMDEALUPDATE-app.json");
        json["data"]["FIELDS"]["ID"] = json!("6675");
        json["ts"] = json!(ts.to_string());
        json["auth"]["member_id"] = json!("a223c6b3710f85df22e9377d6c4f7553");
        json["auth"]["application_token"] = json!("51856fefc120afa4b628cc82d3935cce");
        json
    };
    let post = |body: Value| {
        let http = app.http.clone();
        let url = format!("{}/webhooks/bitrix24", app.base);
        async move { http.post(url).json(&body).send().await.unwrap().status().as_u16() }
    };
    // Still in another stage: nothing is posted.
    assert_eq!(post(event(1)).await, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(sent_to(&fake, GROUP).is_empty());
    bitrix.inner.lock().unwrap().deals.get_mut(&6675).unwrap()["STAGE_ID"] = json!("C1:PREPARATION");
    assert_eq!(post(event(2)).await, 200);
    let job_post = wait("the group post", async || sent_to(&fake, GROUP).pop()).await;
    assert!(
        job_post["text"]
            .as_str()
            .unwrap()
            .starts_with("Заказ 6675: Ремонт кондиционера"),
        "{job_post}"
    );
    assert!(job_post["text"].as_str().unwrap().contains("4500.00 RUB"));

    let data = job_post["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        post_update(&app, &claim_update(50, 555000111, &data), Some(SECRET)).await,
        200
    );
    wait("responsible in Bitrix24", async || {
        (bitrix.inner.lock().unwrap().deals[&6675]["ASSIGNED_BY_ID"] == "42").then_some(())
    })
    .await;
    // Our update echoes back as ONCRMDEALUPDATE: no second post.
    assert_eq!(post(event(3)).await, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(sent_to(&fake, GROUP).len(), 1);
    app.stop().await;
}

fn fixture_b24(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("tests/fixtures/bitrix24/{name}")).unwrap()).unwrap()
}

/// The update that creates a lead is stored under its `update_id`, like every later one: a
/// redelivery (Telegram resends when the answer is slow) or a concurrent duplicate is applied
/// once, and the bot answers once.
#[tokio::test]
async fn a_new_chats_first_message_redelivered_and_concurrent_is_applied_once() {
    let fake = FakeTelegram::start().await;
    let app = start(&fake).await;
    let first = text_update(7001, "Здравствуйте, сколько стоит доставка?");
    // Three copies at once, then a late redelivery.
    let posts: Vec<_> = (0..3)
        .map(|_| {
            let (http, url, body) = (
                app.http.clone(),
                format!("{}/webhooks/telegram/lead_demo_bot", app.base),
                first.clone(),
            );
            tokio::spawn(async move {
                http.post(url)
                    .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
                    .json(&body)
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
    let lead = wait("the lead", async || {
        telegram_lead(&app).await.filter(|l| l["status"] == "bot_processing")
    })
    .await;
    assert_eq!(post_update(&app, &first, Some(SECRET)).await, 200);
    // A later message shows the lead went on normally (its reply is the last thing sent).
    assert_eq!(
        post_update(&app, &text_update(7002, "а где вы находитесь?"), Some(SECRET)).await,
        200
    );
    let id = lead["id"].as_i64().unwrap();
    let lead = app
        .wait_for(id, WAIT, |l| {
            l["transcript"]
                .as_array()
                .is_some_and(|t| t.iter().any(|e| e["text"] == "а где вы находитесь?"))
        })
        .await;
    let client_lines: Vec<&str> = lead["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["direction"] == "in")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        client_lines,
        ["Здравствуйте, сколько стоит доставка?", "а где вы находитесь?"],
        "each client message once"
    );
    let (_, list) = app.get("/api/v1/leads?limit=1000").await;
    let telegram_leads = list["leads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["source"] == "telegram")
        .count();
    assert_eq!(telegram_leads, 1, "one lead for one chat");
    app.stop().await;
}

/// Each channel has its own delivery actor; the operator sees its health and can restart it,
/// and deliveries go on afterwards.
#[tokio::test]
async fn delivery_actors_are_listed_and_restartable() {
    let fake = FakeTelegram::start().await;
    let app = start(&fake).await;
    assert_eq!(
        post_update(&app, &text_update(8001, "Здравствуйте"), Some(SECRET)).await,
        200
    );
    wait("the greeting", async || sent_to(&fake, CLIENT).first().cloned()).await;
    let (code, sinks) = app.get("/api/v1/channels").await;
    assert_eq!(code, 200, "{sinks}");
    let tg = wait("telegram's sent count", async || {
        let (_, sinks) = app.get("/api/v1/channels").await;
        sinks
            .as_array()?
            .iter()
            .find(|s| s["name"] == "channel:telegram" && s["sent"].as_u64() >= Some(1))
            .cloned()
    })
    .await;
    assert_eq!(tg["kind"], "channel");
    assert_eq!(tg["state"], "up");
    let names: Vec<&str> = sinks
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for expected in ["channel:telegram", "channel:webchat", "notifier"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let (code, _) = app.post("/api/v1/channels/channel:telegram/restart", json!({})).await;
    assert_eq!(code, 202);
    let (code, _) = app.post("/api/v1/channels/channel:nope/restart", json!({})).await;
    assert_eq!(code, 404);
    let (_, sinks) = app.get("/api/v1/channels").await;
    let tg = sinks
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "channel:telegram")
        .unwrap()
        .clone();
    assert_eq!(tg["restarts"], 1);
    // The restarted actor delivers the next reply.
    let before = sent_to(&fake, CLIENT).len();
    assert_eq!(
        post_update(&app, &text_update(8002, "а где вы находитесь?"), Some(SECRET)).await,
        200
    );
    wait("a reply after the restart", async || {
        (sent_to(&fake, CLIENT).len() > before).then_some(())
    })
    .await;
    app.stop().await;
}

/// A reply created while an earlier message of the same lead waits out `retry_after` is sent
/// after it, never before: the client reads the bot in transcript order (the claim skips rows
/// behind a waiting one, whatever batch they are claimed in).
#[tokio::test]
async fn a_reply_never_overtakes_an_earlier_message_that_waits() {
    let fake = FakeTelegram::start().await;
    let mut too_many = fixture("telegram_response_429.synth.json");
    too_many["parameters"]["retry_after"] = json!(2);
    too_many["description"] = json!("Too Many Requests: retry after 2");
    fake.fail_next("sendMessage", 429, too_many);
    let app = start(&fake).await;
    post_update(&app, &text_update(1, "Здравствуйте"), Some(SECRET)).await;
    wait("the refused greeting", async || {
        Some(()).filter(|_| !fake.calls("sendMessage").is_empty())
    })
    .await;
    // While the greeting waits, the client asks something: its answer is created now.
    post_update(&app, &text_update(2, "где вы находитесь?"), Some(SECRET)).await;
    let lead = wait("the lead", async || telegram_lead(&app).await).await;
    let id = lead["id"].as_i64().unwrap();
    let lead = app
        .wait_for(id, WAIT, |l| {
            l["transcript"]
                .as_array()
                .is_some_and(|t| t.iter().any(|e| e["text"] == "где вы находитесь?"))
        })
        .await;
    let bot: Vec<String> = common::bot_texts(&lead);
    wait("every bot message delivered", async || {
        (sent_to(&fake, CLIENT).len() > bot.len()).then_some(())
    })
    .await;
    let delivered: Vec<String> = sent_to(&fake, CLIENT)
        .iter()
        .skip(1) // the refused attempt
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(delivered, bot, "delivered in transcript order");
    app.stop().await;
}

// ---- What leadbot sends, against the documented requests; the strict fake; polling ----

use common::{conforms, same_shape};

/// Every request leadbot makes in a client dialog and on the job board has the shape of the
/// documented one (same fields, same types, the keyboards built the same way), and the strict
/// fake refused none of them.
#[tokio::test]
async fn what_leadbot_sends_has_the_documented_shapes() {
    let fake = FakeTelegram::start().await;
    let app = start(&fake).await;
    post_update(&app, &text_update(1, "/start"), Some(SECRET)).await;
    let ask = wait("the contact request", async || {
        sent_to(&fake, CLIENT).into_iter().next()
    })
    .await;
    same_shape(
        &ask,
        &fixture("telegram_request_sendMessage_request_contact.synth.json"),
    )
    .unwrap();

    let (code, body) = app
        .post(
            "/api/v1/deals/D-1042/dispatch",
            json!({"title": "Ремонт стиральной машины", "conditions": "м. Сокол", "client_phone": "+79161112233", "manager_id": "1"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let job = body["job_id"].as_i64().unwrap();
    let post = wait("the group post", async || sent_to(&fake, GROUP).pop()).await;
    same_shape(&post, &fixture("telegram_request_sendMessage_group_job.synth.json")).unwrap();

    post_update(&app, &claim_update(10, 555000111, &format!("tk:{job}")), Some(SECRET)).await;
    post_update(&app, &claim_update(11, 555000222, &format!("tk:{job}")), Some(SECRET)).await;
    let edit = wait("the edit", async || fake.calls("editMessageText").pop())
        .await
        .body;
    same_shape(&edit, &fixture("telegram_request_editMessageText_taken.synth.json")).unwrap();
    let edited = (GROUP, edit["message_id"].as_i64().unwrap());
    assert!(
        fake.inner.lock().unwrap().messages.contains_key(&edited),
        "the edit names the message the post got: {edit}"
    );
    let lost = wait("the loser's answer", async || {
        fake.calls("answerCallbackQuery")
            .into_iter()
            .map(|c| c.body)
            .find(|b| b["callback_query_id"] == "cq11")
    })
    .await;
    same_shape(&lost, &fixture("telegram_request_answerCallbackQuery_lost.synth.json")).unwrap();
    assert_eq!(lost["show_alert"], true);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fake.refused(), [], "the strict fake refused nothing leadbot sent");
    app.stop().await;
}

async fn call_fake(fake: &FakeTelegram, method: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/bot{TOKEN}/{method}", fake.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// The fake answers like the Bot API: a `Message` for sendMessage (the documented sendContact
/// answer's fields), Telegram's error bodies for what Telegram refuses, 404 for no method.
#[tokio::test]
async fn the_fake_answers_and_refuses_like_the_bot_api() {
    let fake = FakeTelegram::start().await;
    let (code, sent) = call_fake(&fake, "sendMessage", json!({"chat_id": CLIENT, "text": "Здравствуйте"})).await;
    assert_eq!(code, 200);
    let mut documented = fixture("response_sendContact_message_with_contact.frankenstein.json");
    documented["result"].as_object_mut().unwrap().remove("contact");
    conforms(&sent, &documented).unwrap();
    let message_id = sent["result"]["message_id"].as_i64().unwrap();

    let not_found = fixture("response_error_chat_not_found.frankenstein.json");
    let refusals = [
        (
            "sendMessage",
            json!({"chat_id": CLIENT}),
            400,
            "Bad Request: message text is empty",
        ),
        (
            "sendMessage",
            json!({"chat_id": CLIENT, "text": "  "}),
            400,
            "Bad Request: message text is empty",
        ),
        (
            "sendMessage",
            json!({"text": "x"}),
            400,
            "Bad Request: chat_id is empty",
        ),
        (
            "sendMessage",
            json!({"chat_id": CLIENT, "text": "x".repeat(4097)}),
            400,
            "Bad Request: message is too long",
        ),
        (
            "sendMessage",
            json!({"chat_id": GROUP, "text": "x", "reply_markup": {"inline_keyboard": [[{"text": "b", "callback_data": "x".repeat(65)}]]}}),
            400,
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            "editMessageText",
            json!({"chat_id": CLIENT, "message_id": 1, "text": "x"}),
            400,
            "Bad Request: message to edit not found",
        ),
        (
            "answerCallbackQuery",
            json!({"text": "x"}),
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        ),
        (
            "sendMessages",
            json!({"chat_id": CLIENT, "text": "x"}),
            404,
            "Not Found",
        ),
    ];
    for (method, body, status, description) in refusals {
        let (code, answer) = call_fake(&fake, method, body.clone()).await;
        assert_eq!(code, status, "{method} {body}");
        same_shape(&answer, &not_found).unwrap();
        assert_eq!(
            answer,
            json!({"ok": false, "error_code": status, "description": description})
        );
    }
    let edit = json!({"chat_id": CLIENT, "message_id": message_id, "text": "Здравствуйте"});
    let (code, answer) = call_fake(&fake, "editMessageText", edit).await;
    assert_eq!(code, 400);
    assert!(answer["description"]
        .as_str()
        .unwrap()
        .starts_with("Bad Request: message is not modified"));
    let edit = json!({"chat_id": CLIENT, "message_id": message_id, "text": "Добрый день"});
    let (code, answer) = call_fake(&fake, "editMessageText", edit).await;
    assert_eq!((code, answer["result"]["text"].as_str()), (200, Some("Добрый день")));
    let (_, first) = call_fake(&fake, "answerCallbackQuery", json!({"callback_query_id": "q1"})).await;
    assert_eq!(first, json!({"ok": true, "result": true}));
    let (code, _) = call_fake(&fake, "answerCallbackQuery", json!({"callback_query_id": "q1"})).await;
    assert_eq!(code, 400, "a query is answered once");
}

/// A client the bot may not write to (403 "can't initiate") gets the fallback like one who
/// blocked it; a 400 "chat not found" is not sent again.
#[tokio::test]
async fn cant_initiate_is_a_lost_channel_and_chat_not_found_is_not_retried() {
    let fake = FakeTelegram::start().await;
    fake.fail_next(
        "sendMessage",
        403,
        fixture("telegram_response_403_cant_initiate.synth.json"),
    );
    let app = start(&fake).await;
    post_update(&app, &text_update(1, "/start"), Some(SECRET)).await;
    let lead = wait("review", async || {
        telegram_lead(&app).await.filter(|l| l["status"] == "needs_review")
    })
    .await;
    assert_eq!(lead["reason"], "no_channel");
    app.stop().await;

    let fake = FakeTelegram::start().await;
    fake.fail_next(
        "sendMessage",
        400,
        fixture("response_error_chat_not_found.frankenstein.json"),
    );
    let app = start(&fake).await;
    post_update(&app, &text_update(1, "/start"), Some(SECRET)).await;
    let first = wait("the refused message", async || {
        sent_to(&fake, CLIENT).into_iter().next()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = sent_to(&fake, CLIENT).iter().filter(|m| **m == first).count();
    assert_eq!(again, 1, "a permanent refusal is not retried");
    app.stop().await;
}

/// Long polling: the webhook is deleted first, the documented updates come through
/// `getUpdates` with a moving `offset`, and an update leadbot has no use for (a callback from
/// an inline message, no chat) does not stall the ones after it.
#[tokio::test]
async fn long_polling_takes_the_documented_updates_in_order() {
    let fake = FakeTelegram::start().await;
    let mut s = settings(&fake);
    s.polling = true;
    s.webhook_secret = None;
    let app = TestApp::spawn_with(move |c| c.telegram = Some(s)).await;
    let user: i64 = 1111111;
    fake.push_update(fixture("update_message_text.official-webhooks-guide.json"));
    let greeting = wait("the greeting", async || sent_to(&fake, user).into_iter().next()).await;
    assert!(
        greeting["text"].as_str().unwrap().starts_with("Здравствуйте"),
        "{greeting}"
    );
    let mut inline = fixture("update_callback_query_inline.official-webhooks-guide.json");
    inline["update_id"] = json!(10001);
    fake.push_update(inline);
    let mut next = fixture("update_message_text.official-webhooks-guide.json");
    next["update_id"] = json!(10002);
    next["message"]["message_id"] = json!(1366);
    next["message"]["text"] = json!("а где вы находитесь?");
    fake.push_update(next);
    let (_, list) = app.get("/api/v1/leads?limit=10").await;
    let id = list["leads"][0]["id"].as_i64().unwrap();
    app.wait_for(id, WAIT, |l| {
        l["transcript"]
            .as_array()
            .is_some_and(|t| t.iter().any(|e| e["text"] == "а где вы находитесь?"))
    })
    .await;
    let calls: Vec<String> = fake
        .inner
        .lock()
        .unwrap()
        .calls
        .iter()
        .map(|c| c.method.clone())
        .collect();
    assert_eq!(calls[0], "deleteWebhook", "{calls:?}");
    let offsets: Vec<i64> = fake
        .calls("getUpdates")
        .iter()
        .map(|c| c.body["offset"].as_i64().unwrap())
        .collect();
    assert!(offsets.contains(&10001) && offsets.contains(&10003), "{offsets:?}");
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "{offsets:?}");
    app.stop().await;
}
