//! Kill -9 the real binary mid-dialog and start it again: nothing is lost, nothing is sent
//! twice, timers that fell due while it was down fire at once. On each store: PostgreSQL and
//! the embedded SQLite file (which the killed process leaves with its WAL and its lock).

mod common;

use common::free_port;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{bot_texts, start_capture, Capture, StoreKind, TestDb};
use serde_json::{json, Value};

struct Service {
    child: Child,
    base: String,
}

impl Drop for Service {
    /// A failing assertion must not leave the binary running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_service(config_dir: &std::path::Path, db: &TestDb, notify: &str, port: u16) -> Service {
    let child = Command::new(env!("CARGO_BIN_EXE_leadbot"))
        .arg("serve")
        .env("LEADBOT_CONFIG_DIR", config_dir)
        .env("DATABASE_URL", db.url())
        .env("LEADBOT_LISTEN", format!("127.0.0.1:{port}"))
        .env("LEADBOT_NOTIFY_URL", notify)
        .env("RUST_LOG", "warn")
        .env("LEADBOT_OPERATOR_TOKEN", common::TEST_OPERATOR_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("leadbot binary starts");
    // Owned by the guard from here on, so a timeout below still kills it.
    let svc = Service {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{}/readyz", svc.base)).send().await {
            if r.status().is_success() {
                return svc;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("leadbot did not become ready");
}

async fn post(base: &str, path: &str, body: Value) -> Value {
    post_as(base, path, body, "").await
}

async fn post_as(base: &str, path: &str, body: Value, chat_token: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("x-chat-token", chat_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

async fn get(base: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(common::TEST_OPERATOR_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A web-chat lead: its id and chat token.
async fn new_lead(base: &str, ext: &str) -> (i64, String) {
    let body = post(
        base,
        "/api/v1/leads",
        json!({"source": "site", "external_id": ext, "channel": "webchat"}),
    )
    .await;
    (
        body["id"].as_i64().unwrap(),
        body["chat_token"].as_str().unwrap().to_string(),
    )
}

async fn wait_status(base: &str, id: i64, status: &str) -> Value {
    for _ in 0..200 {
        let lead = get(base, &format!("/api/v1/leads/{id}")).await;
        if lead["status"] == status {
            return lead;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "lead {id} never became {status}: {}",
        get(base, &format!("/api/v1/leads/{id}")).await
    );
}

async fn kill_9_mid_dialog_loses_nothing_and_sends_nothing_twice(kind: StoreKind) {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    for f in ["leadbot.toml", "routing.toml"] {
        std::fs::copy(format!("{manifest}/config/{f}"), dir.path().join(f)).unwrap();
    }
    let service = std::fs::read_to_string(format!("{manifest}/config/leadbot.toml"))
        .unwrap()
        .replace("timer_poll = \"1s\"", "timer_poll = \"100ms\"")
        .replace("outbox_poll = \"1s\"", "outbox_poll = \"100ms\"")
        .replace("recovery_scan = \"5s\"", "recovery_scan = \"200ms\"")
        .replace("retry_base = \"1s\"", "retry_base = \"100ms\"")
        .replace("timeout = \"10s\"", "timeout = \"1s\"");
    std::fs::write(dir.path().join("leadbot.toml"), service).unwrap();
    let dialog = std::fs::read_to_string(format!("{manifest}/config/dialog.toml"))
        .unwrap()
        .replace("reask_after = [\"10m\", \"30m\"]", "reask_after = [\"1h\", \"2h\"]")
        .replace("no_answer_timeout = \"1h\"", "no_answer_timeout = \"2s\"");
    std::fs::write(dir.path().join("dialog.toml"), dialog).unwrap();

    let capture = Capture::default();
    let notify = start_capture(capture.clone()).await;
    let db = TestDb::fresh(kind);
    let port = free_port();
    let svc = start_service(dir.path(), &db, &notify, port).await;

    // A: mid-dialog, one refusal so far. B: gives a phone while the webhook is down.
    // C: silent; its no-answer timer falls due while the process is dead.
    let (a, a_token) = new_lead(&svc.base, "A").await;
    post_as(
        &svc.base,
        &format!("/api/v1/leads/{a}/messages"),
        json!({"text": "не дам"}),
        &a_token,
    )
    .await;
    capture.fail_first.store(usize::MAX / 2, Ordering::SeqCst);
    let (b, b_token) = new_lead(&svc.base, "B").await;
    post_as(
        &svc.base,
        &format!("/api/v1/leads/{b}/messages"),
        json!({"text": "89181112233"}),
        &b_token,
    )
    .await;
    wait_status(&svc.base, b, "assigned").await;
    let (c, _) = new_lead(&svc.base, "C").await;
    tokio::time::sleep(Duration::from_millis(300)).await; // B's notification is failing and retried

    drop(svc); // SIGKILL

    // While it is down: a message for A was accepted but never applied (crash between the
    // inbox commit and the actor), and C's timer falls due.
    let raw = db.connect().await;
    raw.exec(
        "INSERT INTO inbox (lead_id, source, dedupe_key, payload)
         VALUES ($1, 'api', 'while-down', '{\"type\": \"message\", \"text\": \"ладно, +7 918 765-43-21\"}')",
        &[a],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    capture.fail_first.store(0, Ordering::SeqCst);

    let svc = start_service(dir.path(), &db, &notify, port).await;
    let lead_c = wait_status(&svc.base, c, "low_quality").await;
    assert_eq!(lead_c["reason"], "no_answer");
    let lead_a = wait_status(&svc.base, a, "assigned").await;
    assert_eq!(lead_a["phone"], "+79187654321");
    let lead_b = get(&svc.base, &format!("/api/v1/leads/{b}")).await;
    assert_eq!(lead_b["status"], "assigned");

    // Both notifications arrive, each exactly once.
    for _ in 0..200 {
        if capture.all().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notes = capture.all();
    let leads: Vec<i64> = notes.iter().map(|(_, n)| n["lead_id"].as_i64().unwrap()).collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(leads.contains(&a) && leads.contains(&b), "{leads:?}");
    let keys: HashSet<_> = notes.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys.len(), 2);

    // No bot message was produced twice: one greeting per lead, A refused once.
    for (id, lead) in [(a, &lead_a), (c, &lead_c)] {
        let texts = bot_texts(lead);
        let greetings = texts.iter().filter(|t| t.starts_with("Здравствуйте")).count();
        assert_eq!(greetings, 1, "lead {id}: {texts:?}");
    }
    let second_attempts = bot_texts(&lead_a).iter().filter(|t| t.contains("не передаём")).count();
    assert_eq!(second_attempts, 1);
    let unsent = raw.i64("SELECT count(*) FROM outbox WHERE status <> 'sent'", &[]).await;
    assert_eq!(unsent, 0, "every outbox row was delivered");

    drop(svc);
    raw.close().await;
    db.drop_db().await;
}

crate::on_both_stores!(kill_9_mid_dialog_loses_nothing_and_sends_nothing_twice);
