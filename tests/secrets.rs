//! No configured secret ever reaches a log line or the database: the real binary runs with
//! debug logs, Bitrix24 unreachable (transport errors carry URLs, and a webhook URL is a
//! secret), a Bitrix24 portal that moved (302), forged and genuine events with the application
//! token, a Telegram bot; then its whole output and a `pg_dump` of its database are searched
//! for every secret.

mod common;

use common::free_port;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use common::{db_url, drop_db, fresh_db_name, start_capture, Capture};
use serde_json::json;

const WEBHOOK_CODE: &str = "w3bh00ks3cr3tc0d3x9";
const APP_TOKEN: &str = "appt0k3nf0rth3p0rtal42";
const TG_TOKEN: &str = "123456:TGs3cr3tT0k3nVALUE";
const TG_SECRET: &str = "tgw3bh00ks3cr3tvalue";
const OPERATOR: &str = "0p3rat0rt0k3nv4lue0123456789";
const MEMBER: &str = "1b87798bc2d16c4b7f2a604e0c899a34";
const AMO_SECRET: &str = "am0w3bh00kpath5ecret77";
const AMO_TOKEN: &str = "am0l0ngl1v3dt0k3nvalue";

#[tokio::test]
async fn no_secret_reaches_a_log_line_or_the_database() {
    // A portal that answers every call with "moved" to an address where nobody listens: the
    // client follows the 302, then fails with a transport error for the new URL.
    let dead = free_port();
    let moved = Router::new().fallback(post(move |uri: axum::http::Uri| async move {
        (
            axum::http::StatusCode::FOUND,
            [(
                axum::http::header::LOCATION,
                format!("http://127.0.0.1:{dead}{}", uri.path()),
            )],
        )
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let portal = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, moved).await });

    let manifest = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    for f in ["leadbot.toml", "routing.toml", "dialog.toml"] {
        std::fs::copy(format!("{manifest}/config/{f}"), dir.path().join(f)).unwrap();
    }
    std::fs::write(
        dir.path().join("bitrix24.toml"),
        format!(
            "portal = \"b24-46hovy.bitrix24.ru\"\nmember_id = \"{MEMBER}\"\nreconcile_every = \"300ms\"\n\
             [statuses]\nbot_processing = \"IN_PROCESS\"\nassigned = \"CONVERTED\"\nlow_quality = \"JUNK\"\nneeds_review = \"NEW\"\n\
             [limits]\nrate_per_sec = 50.0\nburst = 50\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("amocrm.toml"),
        format!(
            "subdomain = \"etesttask\"\naccount_id = 32427762\nbase_url = \"http://127.0.0.1:{dead}\"\nreconcile_every = \"300ms\"\n\
             [pipeline]\nid = 9621010\ntake_statuses = [76789230]\nbot_processing = 1\nassigned = 2\nlow_quality = 143\nneeds_review = 3\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("telegram.toml"),
        format!("bot = \"sec_bot\"\napi_base = \"http://127.0.0.1:{dead}\"\n"),
    )
    .unwrap();
    let capture = Capture::default();
    let notify = start_capture(capture.clone()).await;
    let db = fresh_db_name();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadbot"))
        .arg("serve")
        .env("LEADBOT_CONFIG_DIR", dir.path())
        .env("DATABASE_URL", db_url(&db))
        .env("LEADBOT_LISTEN", format!("127.0.0.1:{port}"))
        .env("LEADBOT_NOTIFY_URL", &notify)
        .env("LEADBOT_OPERATOR_TOKEN", OPERATOR)
        .env(
            "LEADBOT_BITRIX24_WEBHOOK_URL",
            format!("http://{portal}/rest/1/{WEBHOOK_CODE}/"),
        )
        .env("LEADBOT_BITRIX24_APP_TOKEN", APP_TOKEN)
        .env("LEADBOT_AMOCRM_WEBHOOK_SECRET", AMO_SECRET)
        .env("LEADBOT_AMOCRM_TOKEN", AMO_TOKEN)
        .env("LEADBOT_TELEGRAM_TOKEN", TG_TOKEN)
        .env("LEADBOT_TELEGRAM_WEBHOOK_SECRET", TG_SECRET)
        .env("RUST_LOG", "debug")
        .stdout(log.reopen().unwrap())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "leadbot did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let event = |token: &str, id: u32| {
        format!(
            "event=ONCRMLEADADD&data%5BFIELDS%5D%5BID%5D={id}&ts=1545851621&auth%5Bdomain%5D=b24-46hovy.bitrix24.ru\
             &auth%5Bmember_id%5D={MEMBER}&auth%5Bapplication_token%5D={token}"
        )
    };
    for (token, id, want) in [(APP_TOKEN, 1, 200), ("forged-token", 2, 401), (APP_TOKEN, 3, 200)] {
        let r = http
            .post(format!("{base}/webhooks/bitrix24"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(event(token, id))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want);
    }
    // amoCRM webhooks: the secret is a path segment of the URL (access logs must not print it).
    let amo = include_str!("fixtures/amocrm/raw-webhook-leads-create-2025.form.txt").trim();
    for (secret, want) in [(AMO_SECRET, 200), ("forged-secret-path-0000", 401)] {
        let r = http
            .post(format!("{base}/webhooks/amocrm/{secret}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(amo)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want);
        assert!(
            r.headers().contains_key("x-request-id"),
            "every answer carries its request id"
        );
    }
    // A Telegram client whose reply cannot be sent (the API is unreachable).
    let update = json!({"update_id": 5, "message": {"message_id": 5, "date": 1_700_000_000,
        "chat": {"id": 77, "type": "private", "first_name": "К"}, "from": {"id": 77, "is_bot": false, "first_name": "К"},
        "text": "Здравствуйте"}});
    let r = http
        .post(format!("{base}/webhooks/telegram/sec_bot"))
        .header("X-Telegram-Bot-Api-Secret-Token", TG_SECRET)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{base}/api/v1/leads"))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{base}/api/v1/leads"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Let the event worker, reconciliation and delivery fail a few times against the portal.
    let pool = sqlx::PgPool::connect(&db_url(&db)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let errors: i64 = sqlx::query_scalar("SELECT count(*) FROM crm_events WHERE last_error IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
        if errors >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the events never failed against the portal");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = child.kill();
    let _ = child.wait();
    pool.close().await;

    let mut output = String::new();
    std::fs::File::open(log.path())
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    assert!(
        output.contains("DEBUG") || output.contains("INFO"),
        "the log was captured"
    );
    assert!(
        output.contains("transport") || output.contains("error"),
        "the failures were logged:\n{}",
        &output[..output.len().min(2000)]
    );
    let dump = Command::new("pg_dump")
        .arg("--data-only")
        .arg(db_url(&db))
        .stderr(Stdio::inherit())
        .output()
        .expect("pg_dump runs");
    assert!(dump.status.success());
    let dump = String::from_utf8_lossy(&dump.stdout).to_string();
    assert!(dump.contains("ONCRMLEADADD"), "the events are in the dump");
    let plain = strip_ansi(&output);
    assert!(
        plain.contains("route=\"/webhooks/amocrm/{secret}\""),
        "the access log names the route's pattern:\n{}",
        plain
            .lines()
            .filter(|l| l.contains("http"))
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    for secret in [
        WEBHOOK_CODE,
        APP_TOKEN,
        TG_TOKEN,
        TG_SECRET,
        OPERATOR,
        "TGs3cr3tT0k3n",
        AMO_SECRET,
        AMO_TOKEN,
    ] {
        let at = output
            .find(secret)
            .map(|i| &output[i.saturating_sub(300)..(i + 100).min(output.len())]);
        assert!(at.is_none(), "`{secret}` is in the log: …{}…", at.unwrap_or_default());
        assert!(!dump.contains(secret), "`{secret}` is in the database");
    }
    drop_db(&db).await;
}

/// The log without terminal colour codes.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
