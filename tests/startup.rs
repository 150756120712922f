//! Starting the real binary: on a machine with no database server it runs on the embedded
//! store; the startup line says where its config, its store and its integrations are; a start
//! that cannot open its store says what to do, once, without the error chain or colours.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{db_url, drop_db, free_port, fresh_db_name};

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn leadbot(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbot"));
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("LEADBOT_CONFIG_DIR")
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info");
    cmd
}

/// Runs `serve`, expecting it to fail; its exit code and stderr.
fn failed_start(dir: &std::path::Path, database_url: &str) -> (i32, String, String) {
    let out = leadbot(dir)
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("LEADBOT_LISTEN", format!("127.0.0.1:{}", free_port()))
        .output()
        .expect("leadbot runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `serve`, waits for `/readyz`, returns the service and its first log line.
async fn started(mut cmd: Command, port: u16) -> (Service, String) {
    let mut child = cmd
        .arg("serve")
        .env("LEADBOT_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("leadbot starts");
    let stdout = child.stdout.take().unwrap();
    let svc = Service(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("leadbot listening") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).expect("a startup line");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await {
            if r.status().is_success() {
                assert_eq!(r.text().await.unwrap().trim(), "ready");
                return (svc, line);
            }
        }
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn with_no_database_configured_it_runs_on_an_embedded_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (svc, line) = started(leadbot(dir.path()), port).await;
    assert!(line.contains("config=built-in defaults"), "{line}");
    assert!(line.contains("store=SQLite data/leadbot.db"), "{line}");
    assert!(line.contains("integrations=none"), "{line}");
    assert!(!line.contains('\u{1b}'), "no colours into a pipe: {line:?}");
    assert!(dir.path().join("data/leadbot.db").is_file());
    // The store works: a lead is created and kept.
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/leads"))
        .json(&serde_json::json!({"source": "site", "external_id": "e1", "channel": "webchat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A second process on the same file is refused and told why.
    let (code, _, err) = failed_start(dir.path(), "");
    assert_eq!(code, 1);
    assert!(
        err.contains("another leadbot process is using the database file"),
        "{err}"
    );
    drop(svc);
}

#[tokio::test]
async fn the_startup_line_names_the_config_the_store_without_its_password_and_the_integrations() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("conf");
    std::fs::create_dir(&config).unwrap();
    let manifest = env!("CARGO_MANIFEST_DIR");
    std::fs::copy(
        format!("{manifest}/config/examples/telegram.toml"),
        config.join("telegram.toml"),
    )
    .unwrap();
    let db = fresh_db_name();
    let mut url = reqwest::Url::parse(&db_url(&db)).unwrap();
    url.set_password(Some("s3cret-pw")).unwrap();
    let mut cmd = leadbot(dir.path());
    cmd.env("LEADBOT_CONFIG_DIR", &config)
        .env("DATABASE_URL", url.as_str())
        .env("LEADBOT_TELEGRAM_TOKEN", "123:abc")
        .env("LEADBOT_TELEGRAM_WEBHOOK_SECRET", "webhook-secret-0123456789");
    let (svc, line) = started(cmd, free_port()).await;
    assert!(line.contains(&format!("config={}", config.display())), "{line}");
    assert!(line.contains("store=PostgreSQL postgres://postgres:***@"), "{line}");
    assert!(!line.contains("s3cret-pw"), "{line}");
    assert!(line.contains("integrations=telegram (webhook), job board"), "{line}");
    drop(svc);
    drop_db(&db).await;
}

#[test]
fn no_postgresql_there_says_to_start_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (code, out, err) = failed_start(dir.path(), &format!("postgres://leadbot:pw@127.0.0.1:{port}/leadbot"));
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "said once: {err}");
    assert!(
        lines[0].starts_with(&format!(
            "leadbot: cannot reach PostgreSQL postgres://leadbot:***@127.0.0.1:{port}/leadbot: is PostgreSQL running at 127.0.0.1:{port}?"
        )),
        "{err}"
    );
    assert!(!err.contains("pw@"), "{err}");
    assert!(!err.contains("database unavailable"), "no error chain: {err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn a_database_file_that_cannot_be_created_says_where_and_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), b"not a directory").unwrap();
    let (code, _, err) = failed_start(dir.path(), "sqlite://file/leadbot.db");
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "leadbot: cannot create the directory at file: file exists",
        "{err}"
    );
    let blocked = dir.path().join("ro");
    std::fs::create_dir(&blocked).unwrap();
    std::fs::create_dir(blocked.join("leadbot.db")).unwrap();
    let (code, _, err) = failed_start(dir.path(), "sqlite://ro/leadbot.db");
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "leadbot: cannot create the database file at ro/leadbot.db: is a directory",
        "{err}"
    );
}

#[test]
fn check_config_accepts_both_stores_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["", "sqlite://data/x.db", "postgres://u:p@db/leadbot"] {
        let out = leadbot(dir.path())
            .arg("check-config")
            .env("DATABASE_URL", url)
            .output()
            .unwrap();
        assert!(out.status.success(), "{url}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = leadbot(dir.path())
        .arg("check-config")
        .env("DATABASE_URL", "mysql://u:secret@db/leadbot")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("database.url"), "{err}");
    assert!(err.contains("neither a postgres:// nor a sqlite:// URL"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}

/// The operator token is rotated beside a running service on the embedded file (which the
/// service holds): the new one works from the next start, the old one no longer.
#[tokio::test]
async fn the_operator_token_is_rotated_beside_a_running_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (svc, _) = started(leadbot(dir.path()), port).await;
    let out = leadbot(dir.path())
        .args(["operator-token", "--rotate"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(token.len(), 64, "{token}");
    drop(svc);
    let (svc, _) = started(leadbot(dir.path()), port).await;
    let leads = |t: String| async move {
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/api/v1/leads"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(leads(token).await, 200);
    assert_eq!(leads("not-the-token".into()).await, 401);
    drop(svc);
}
