//! The holes hostile testing found (issue 10), each with the test that shows it closed.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{db_url, fresh_db_name, TestApp};
use leadbot::domain::{ChannelName, InboxPayload, NewLead};
use leadbot::store::{PgStore, Store};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

/// One NUL byte is refused with a reason, for that request alone.
#[tokio::test]
async fn a_nul_byte_is_a_4xx_and_never_fails_other_clients() {
    let app = TestApp::spawn().await;
    let (code, body) = app
        .post(
            "/api/v1/leads",
            json!({"source": "site", "external_id": "nul\u{0}1", "channel": "webchat"}),
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("NUL"), "{body}");
    let mut leads = vec![];
    for i in 0..20 {
        leads.push(app.new_lead(&format!("n{i}"), None).await.0);
    }
    // 200 innocent messages and 20 poisoned ones, all at once.
    let app = Arc::new(app);
    let mut tasks = vec![];
    for (i, lead) in leads.iter().copied().enumerate() {
        for j in 0..11 {
            let app = app.clone();
            let text = if j == 10 {
                format!("яд\u{0}{i}")
            } else {
                format!("вопрос {i}-{j}")
            };
            tasks.push(tokio::spawn(async move {
                let (code, _) = app
                    .post(
                        &format!("/api/v1/leads/{lead}/messages"),
                        json!({"text": text, "message_id": format!("m{j}")}),
                    )
                    .await;
                (j == 10, code)
            }));
        }
    }
    for t in tasks {
        let (poisoned, code) = t.await.unwrap();
        if poisoned {
            assert_eq!(code, 422);
        } else {
            assert_eq!(code, 202, "an innocent message failed");
        }
    }
    let (code, _) = app
        .post(
            &format!("/api/v1/leads/{}/messages", leads[0]),
            json!({"text": "ok", "message_id": "id\u{0}"}),
        )
        .await;
    assert_eq!(code, 422, "NUL in message_id");
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

/// Below the intake port: a batch the database refuses because of one row retries the others
/// one by one, so its neighbours are stored.
#[tokio::test]
async fn a_refused_row_in_a_group_commit_batch_does_not_fail_its_neighbours() {
    let db = fresh_db_name();
    let store = Arc::new(PgStore::connect(&db_url(&db), 8).await.unwrap());
    let mut leads = vec![];
    for i in 0..50 {
        let lead = store
            .create_lead(&NewLead {
                source: "t".into(),
                external_id: i.to_string(),
                channel: ChannelName::new("webchat"),
                name: None,
                phone: None,
                text: None,
                segment: None,
                first_event: None,
                creation_key: None,
            })
            .await
            .unwrap();
        leads.push(lead.lead.id);
    }
    let tasks: Vec<_> = leads
        .iter()
        .copied()
        .enumerate()
        .map(|(i, lead)| {
            let store = store.clone();
            tokio::spawn(async move {
                let text = if i == 25 {
                    "bad\u{0}".to_string()
                } else {
                    format!("good {i}")
                };
                let r = store
                    .enqueue_inbox(lead, "t", &format!("k{i}"), &InboxPayload::Message { text })
                    .await;
                (i, r.is_ok())
            })
        })
        .collect();
    for t in tasks {
        let (i, ok) = t.await.unwrap();
        assert_eq!(ok, i != 25, "row {i}");
    }
    store.pool().close().await;
    common::drop_db(&db).await;
}

/// Labels come from fixed sets: forged events and free-form sources do not grow `/metrics`.
#[tokio::test]
async fn forged_requests_do_not_grow_the_metrics() {
    let app = TestApp::spawn().await;
    for i in 0..200 {
        let (code, _) = app
            .post(
                "/api/v1/leads",
                json!({"source": format!("forged-source-{i}"), "external_id": format!("f{i}"), "channel": "form"}),
            )
            .await;
        assert_eq!(code, 201);
    }
    let (_, metrics) = app.get("/metrics").await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        !metrics.contains("forged-source-"),
        "a source from the request became a label"
    );
    assert!(metrics.contains("leadbot_leads_created_total{source=\"api\",channel=\"form\"}"));
    app.stop().await;
}

/// The creator who lost the 201 gets its chat token again with the same Idempotency-Key; no
/// one else does.
#[tokio::test]
async fn the_creator_gets_its_chat_token_again_with_its_idempotency_key() {
    let app = TestApp::spawn().await;
    let create = |key: Option<&'static str>| {
        let mut req = app
            .http
            .post(format!("{}/api/v1/leads", app.base))
            .json(&json!({"source": "site", "external_id": "ik1", "channel": "webchat"}));
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (code, first) = create(Some("creator-key-0123456789")).await;
    assert_eq!(code, 201);
    let token = first["chat_token"].as_str().unwrap().to_string();
    let (code, again) = create(Some("creator-key-0123456789")).await;
    assert_eq!(code, 200);
    assert_eq!(
        again["chat_token"],
        token.as_str(),
        "the same creator gets the token again"
    );
    let (_, other) = create(Some("someone-else-0123456789")).await;
    assert!(other.get("chat_token").is_none(), "{other}");
    let (_, none) = create(None).await;
    assert!(none.get("chat_token").is_none(), "{none}");
    let (code, _) = create(Some("short")).await;
    assert_eq!(code, 422);
    app.stop().await;
}

/// No anonymous operator access: without LEADBOT_OPERATOR_TOKEN a token is generated once and
/// kept; the API refuses requests without it.
#[tokio::test]
async fn the_operator_api_fails_closed_with_a_generated_token() {
    let db = fresh_db_name();
    let app = TestApp::spawn_on(db.clone(), |c| c.service.server.operator_token = None).await;
    let url = format!("{}/api/v1/leads", app.base);
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 401);
    let token: String = sqlx::query_scalar("SELECT value FROM generated_secrets WHERE name = 'operator_token'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert!(token.len() >= 32);
    let ok = app.http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let mut app = app;
    app.shutdown().await;
    // A restart keeps the same token.
    let again = TestApp::spawn_on(db, |c| c.service.server.operator_token = None).await;
    let url = format!("{}/api/v1/leads", again.base);
    assert_eq!(
        again.http.get(&url).bearer_auth(&token).send().await.unwrap().status(),
        200
    );
    again.stop().await;
}

/// A timer claimed by a process that died is due at once at the next start, not after the
/// claim's lease (the claim's epoch is nobody's any more).
#[tokio::test]
async fn timers_claimed_by_a_dead_process_fire_at_start() {
    let db = fresh_db_name();
    let mut app = TestApp::spawn_on(db.clone(), |_| {}).await;
    let (id, _) = app.new_lead("ep1", None).await;
    let said_before = app.lead(id).await["transcript"].as_array().unwrap().len();
    app.shutdown().await;
    // As a crashed process leaves it: due, and claimed for another hour by epoch 4242.
    let pool = sqlx::PgPool::connect(&db_url(&db)).await.unwrap();
    let n = sqlx::query(
        "UPDATE lead_timers SET due_at = now() - interval '1 second', claimed_until = now() + interval '1 hour',
             claimed_by = 4242
         WHERE lead_id = $1 AND kind = 'reask'",
    )
    .bind(id)
    .execute(&pool)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(n, 1, "the lead has its re-ask timer");
    pool.close().await;
    let started = Instant::now();
    let app = TestApp::spawn_on(db, |_| {}).await;
    // The re-ask is said: the timer fired.
    app.wait_for(id, WAIT, |l| {
        l["transcript"].as_array().is_some_and(|t| t.len() > said_before)
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "fired {:?} after start",
        started.elapsed()
    );
    app.stop().await;
}

/// A TCP forwarder to PostgreSQL that the test can cut, as a database outage.
struct Outage {
    port: u16,
    up: Arc<AtomicBool>,
}

impl Outage {
    async fn start() -> Outage {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let target = std::env::var("DATABASE_URL")
            .ok()
            .and_then(|u| reqwest::Url::parse(&u).ok())
            .map(|u| format!("{}:{}", u.host_str().unwrap_or("127.0.0.1"), u.port().unwrap_or(5432)))
            .unwrap_or_else(|| "127.0.0.1:5432".into());
        let flag = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let (flag, target) = (flag.clone(), target.clone());
                tokio::spawn(async move {
                    if !flag.load(Ordering::SeqCst) {
                        return; // refused: dropped at once
                    }
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut ri, mut wi) = inbound.split();
                    let (mut ro, mut wo) = outbound.split();
                    let watch = async {
                        while flag.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy(&mut ri, &mut wo) => {}
                        _ = tokio::io::copy(&mut ro, &mut wi) => {}
                        _ = watch => {}
                    }
                });
            }
        });
        Outage { port, up }
    }

    fn url(&self, db: &str) -> String {
        let mut u = reqwest::Url::parse(&db_url(db)).unwrap();
        u.set_host(Some("127.0.0.1")).unwrap();
        u.set_port(Some(self.port)).unwrap();
        u.to_string()
    }
}

/// With the database away, requests are answered 503 with Retry-After within about two
/// seconds, and a write says it may have landed; once it is back, the same request succeeds.
#[tokio::test]
async fn a_database_outage_is_a_quick_503_and_the_retry_succeeds() {
    let outage = Outage::start().await;
    let db = fresh_db_name();
    let url = outage.url(&db);
    let app = TestApp::spawn_on(db, move |c| c.service.database.url = Some(url)).await;
    let (id, _) = app.new_lead("db1", None).await;
    outage.up.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let token = app.tokens.lock().unwrap()[&id].clone();
    let started = Instant::now();
    let r = app
        .http
        .post(format!("{}/api/v1/leads/{id}/messages", app.base))
        .header("x-chat-token", token)
        .json(&json!({"text": "89181234567", "message_id": "out-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(r.headers()["retry-after"], "2");
    let started = Instant::now();
    let ready = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(3));
    outage.up.store(true, Ordering::SeqCst);
    let lead = {
        let deadline = Instant::now() + WAIT;
        loop {
            let (code, body) = app
                .post(
                    &format!("/api/v1/leads/{id}/messages"),
                    json!({"text": "89181234567", "message_id": "out-1"}),
                )
                .await;
            if code == 202 {
                break body;
            }
            assert!(Instant::now() < deadline, "still {code} after the outage: {body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    assert_eq!(lead["id"], id);
    app.wait_for(id, WAIT, |l| l["status"] == "assigned").await;
    app.stop().await;
}

/// A notification given up after its last attempt is kept as failed, counted, listed for the
/// operator and can be sent again.
#[tokio::test]
async fn a_given_up_notification_is_listed_and_can_be_sent_again() {
    let app = TestApp::spawn_with(|c| c.service.notify.max_attempts = 2).await;
    app.capture.fail_first.store(2, Ordering::SeqCst);
    let (id, _) = app.new_lead("gu1", None).await;
    app.say(id, "89181234567").await;
    let deadline = Instant::now() + WAIT;
    let row = loop {
        let (_, body) = app.get("/api/v1/outbox?status=failed").await;
        if let Some(row) = body["rows"].as_array().and_then(|r| r.first()).cloned() {
            break row;
        }
        assert!(Instant::now() < deadline, "the notification was never given up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(row["kind"], "notification");
    assert_eq!(row["lead_id"], id);
    assert!(row["last_error"].as_str().unwrap().contains("503"), "{row}");
    let (code, _) = app
        .post(&format!("/api/v1/outbox/{}/retry", row["id"]), json!({}))
        .await;
    assert_eq!(code, 202);
    let notes = app.wait_notifications(1, WAIT).await;
    assert_eq!(notes.len(), 1, "delivered after the operator's retry");
    let (code, _) = app
        .post(&format!("/api/v1/outbox/{}/retry", row["id"]), json!({}))
        .await;
    assert_eq!(code, 404, "only failed rows are requeued");
    app.stop().await;
}

fn telegram_settings(api: &str, group_per_min: f64) -> leadbot::config::TelegramSettings {
    let mut s: leadbot::config::TelegramSettings = toml::from_str(&format!(
        r#"
bot = "rel_bot"
api_base = "{api}"
[limits]
per_chat_per_sec = 20.0
global_per_sec = 100.0
group_per_min = {group_per_min}
[jobs]
group_chat_id = -1001
template = "Заказ {{deal_id}}: {{title}}"
"#
    ))
    .unwrap();
    s.token = Some(common::fake_telegram::TOKEN.into());
    s.webhook_secret = Some("rel-secret".into());
    s
}

/// A flood of dispatch requests is answered at once — stored and posted in order by the board's
/// poster at the group's pace — and, past the backlog bound, refused with 429 and Retry-After;
/// a deal already taken in is still answered.
#[tokio::test]
async fn a_flood_of_dispatches_is_bounded_and_never_held_open() {
    let fake = common::fake_telegram::FakeTelegram::start().await;
    let s = telegram_settings(&fake.base, 2.0);
    let app = TestApp::spawn_with(move |c| c.telegram = Some(s)).await;
    let mut codes = vec![];
    let started = Instant::now();
    for i in 0..110 {
        let (code, _) = app
            .post(
                &format!("/api/v1/deals/F-{i}/dispatch"),
                json!({"title": format!("Заказ {i}"), "client_phone": "+79161112233"}),
            )
            .await;
        codes.push(code);
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "requests were held: {:?}",
        started.elapsed()
    );
    let created = codes.iter().filter(|c| **c == 201).count();
    let refused = codes.iter().filter(|c| **c == 429).count();
    assert!((100..=101).contains(&created), "created {created}: {codes:?}");
    assert_eq!(created + refused, 110, "{codes:?}");
    let r = app
        .http
        .post(format!("{}/api/v1/deals/F-109/dispatch", app.base))
        .bearer_auth(common::TEST_OPERATOR_TOKEN)
        .json(&json!({"title": "x", "client_phone": "+79161112233"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let after: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(after >= 1);
    // A deal the board already has is answered at once (the same job), backlog or not.
    let (code, body) = app
        .post(
            "/api/v1/deals/F-0/dispatch",
            json!({"title": "Заказ 0", "client_phone": "+79161112233"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    // The poster posts in order.
    let deadline = Instant::now() + WAIT;
    while fake.calls("sendMessage").is_empty() {
        assert!(Instant::now() < deadline, "nothing was posted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = fake.calls("sendMessage")[0].body["text"].as_str().unwrap().to_string();
    assert!(first.starts_with("Заказ F-0:"), "{first}");
    app.stop().await;
}

/// NUL in a deal is a 4xx with a reason; in a provider's webhook body (which its sender cannot
/// correct, and Bitrix24 never resends) it is kept as U+FFFD. Never a 5xx.
#[tokio::test]
async fn nul_in_webhook_bodies_and_deals_is_refused() {
    let fake = common::fake_telegram::FakeTelegram::start().await;
    let s = telegram_settings(&fake.base, 20.0);
    let app = TestApp::spawn_with(move |c| c.telegram = Some(s)).await;
    let update = json!({"update_id": 1, "message": {"message_id": 1, "date": 1,
        "chat": {"id": 5, "type": "private", "first_name": "К\u{0}"}, "from": {"id": 5, "is_bot": false, "first_name": "К\u{0}"},
        "text": "привет"}});
    let r = app
        .http
        .post(format!("{}/webhooks/telegram/rel_bot", app.base))
        .header("X-Telegram-Bot-Api-Secret-Token", "rel-secret")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "kept, the NUL as U+FFFD");
    let (code, body) = app
        .post(
            "/api/v1/deals/N-1/dispatch",
            json!({"title": "ремонт\u{0}", "client_phone": "+79161112233"}),
        )
        .await;
    assert_eq!(code, 422, "{body}");
    let (code, _) = app.get("/api/v1/leads").await;
    assert_eq!(code, 200, "still serving");
    app.stop().await;
}
