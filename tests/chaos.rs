//! The chaos suite: the real binary under concurrent load, killed with SIGKILL at random moments,
//! its PostgreSQL restarted (immediate mode, a crash for the clients), every webhook redelivered
//! and duplicated concurrently; then the invariants are checked against the database and the
//! fake providers.
//!
//! Bounded in time and size. CI runs it small; by hand, larger:
//! `LEADBOT_CHAOS_LEADS=300 LEADBOT_CHAOS_KILLS=5 cargo test --release --test chaos -- --nocapture`.
//!
//! It runs its own PostgreSQL (initdb from the machine's binaries, on a free port) so that
//! restarting it disturbs no other test.

mod common;

use common::free_port;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::fake_bitrix24::FakeBitrix24;
use common::fake_telegram::FakeTelegram;
use common::{start_capture, Capture, TEST_OPERATOR_TOKEN};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const BOT: &str = "chaos_bot";
const SECRET: &str = "chaos-webhook-secret";
const NO_ANSWER_SECS: i64 = 3;
const B24_TOKEN: &str = "chaos-bitrix24-application-token";
const B24_MEMBER: &str = "1b87798bc2d16c4b7f2a604e0c899a34";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A throwaway PostgreSQL server (as the `postgres` user when we are root: initdb refuses root).
struct Pg {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    root: bool,
}

impl Pg {
    fn start() -> Option<Pg> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()?;
        let dir = tempfile::tempdir().ok()?;
        let root = is_root();
        if root {
            Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .ok()?;
        }
        let pg = Pg {
            bin,
            dir,
            port: free_port(),
            root,
        };
        let data = pg.data();
        let ok = pg
            .run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
            .success();
        assert!(ok, "initdb failed");
        pg.up();
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) -> std::process::ExitStatus {
        let exe = self.bin.join(tool);
        let mut cmd = if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("PostgreSQL tool runs")
    }

    fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        assert!(self
            .run("pg_ctl", &["-D", &self.data(), "-o", &opts, "-w", "start"])
            .success());
    }

    /// A crash as clients see it: every connection dropped, nothing shut down cleanly.
    fn restart(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
        self.up();
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
    }
}

/// The leadbot binary, killed with SIGKILL when dropped.
struct Bot {
    child: Child,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Setup {
    config: tempfile::TempDir,
    db_url: String,
    notify: String,
    port: u16,
    base: String,
    bitrix24: String,
}

impl Setup {
    async fn start_bot(&self) -> Bot {
        let child = Command::new(env!("CARGO_BIN_EXE_leadbot"))
            .arg("serve")
            .env("LEADBOT_CONFIG_DIR", self.config.path())
            .env("DATABASE_URL", &self.db_url)
            .env("LEADBOT_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("LEADBOT_NOTIFY_URL", &self.notify)
            .env("LEADBOT_OPERATOR_TOKEN", TEST_OPERATOR_TOKEN)
            .env("LEADBOT_TELEGRAM_TOKEN", common::fake_telegram::TOKEN)
            .env("LEADBOT_TELEGRAM_WEBHOOK_SECRET", SECRET)
            .env("LEADBOT_BITRIX24_WEBHOOK_URL", &self.bitrix24)
            .env("LEADBOT_BITRIX24_APP_TOKEN", B24_TOKEN)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("leadbot starts");
        let bot = Bot { child };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await {
                if r.status().is_success() {
                    return bot;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("leadbot did not become ready");
    }
}

fn write_config(dir: &Path, telegram_api: &str) {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let service = std::fs::read_to_string(format!("{manifest}/config/leadbot.toml"))
        .unwrap()
        .replace("timer_poll = \"1s\"", "timer_poll = \"100ms\"")
        .replace("outbox_poll = \"1s\"", "outbox_poll = \"100ms\"")
        .replace("recovery_scan = \"5s\"", "recovery_scan = \"300ms\"")
        .replace("retry_base = \"1s\"", "retry_base = \"100ms\"")
        .replace("timeout = \"10s\"", "timeout = \"2s\"");
    std::fs::write(dir.join("leadbot.toml"), service).unwrap();
    std::fs::copy(format!("{manifest}/config/routing.toml"), dir.join("routing.toml")).unwrap();
    let routing = std::fs::read_to_string(dir.join("routing.toml"))
        .unwrap()
        .replace("reassign_after = \"15m\"", "reassign_after = \"0s\"");
    std::fs::write(dir.join("routing.toml"), routing).unwrap();
    let dialog = std::fs::read_to_string(format!("{manifest}/config/dialog.toml"))
        .unwrap()
        .replace("reask_after = [\"10m\", \"30m\"]", "reask_after = [\"1h\", \"2h\"]")
        .replace(
            "no_answer_timeout = \"1h\"",
            &format!("no_answer_timeout = \"{NO_ANSWER_SECS}s\""),
        );
    std::fs::write(dir.join("dialog.toml"), dialog).unwrap();
    std::fs::write(
        dir.join("bitrix24.toml"),
        format!(
            "portal = \"b24-46hovy.bitrix24.ru\"\nmember_id = \"{B24_MEMBER}\"\nreconcile_every = \"1h\"\n\
             [statuses]\nbot_processing = \"IN_PROCESS\"\nassigned = \"CONVERTED\"\nlow_quality = \"JUNK\"\nneeds_review = \"NEW\"\n\
             [limits]\nrate_per_sec = 200.0\nburst = 200\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("telegram.toml"),
        format!(
            "bot = \"{BOT}\"\napi_base = \"{telegram_api}\"\n[limits]\nper_chat_per_sec = 50.0\nglobal_per_sec = 500.0\ngroup_per_min = 600.0\n"
        ),
    )
    .unwrap();
}

/// When the process was down: killed at, ready again at.
type Downtime = (DateTime<Utc>, DateTime<Utc>);
/// id, source, external_id, status, manager_id, created_at, updated_at
type LeadRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
);

/// What the clients were told was accepted, per lead (web chat) or chat (Telegram).
#[derive(Default)]
struct Ledger {
    web: HashMap<String, (i64, Vec<String>)>,
    telegram: HashMap<i64, Vec<String>>,
    silent: Vec<String>,
    /// Bitrix24 lead ids whose ONCRMLEADADD was accepted.
    bitrix24: Vec<u64>,
}

/// Sends until accepted: the client's own retry, with the same ids, through kills and outages.
async fn until_accepted(http: &reqwest::Client, req: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(r) = req(http).send().await {
            let code = r.status().as_u16();
            if (200..300).contains(&code) {
                return r.json().await.unwrap_or(Value::Null);
            }
            assert!(
                code >= 500 || code == 429,
                "a client request was refused with {code}: {}",
                r.text().await.unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "a request was never accepted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn tg_update(update_id: i64, chat: i64, text: &str) -> Value {
    json!({"update_id": update_id, "message": {"message_id": update_id, "date": 1_700_000_000,
        "chat": {"id": chat, "type": "private", "first_name": "Клиент"},
        "from": {"id": chat, "is_bot": false, "first_name": "Клиент"}, "text": text}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_service_survives_kills_and_database_restarts_under_load() {
    let leads = env_or("LEADBOT_CHAOS_LEADS", 24);
    let kills = env_or("LEADBOT_CHAOS_KILLS", 2);
    let seed = env_or("LEADBOT_CHAOS_SEED", 7) as u64;
    let Some(pg) = Pg::start() else {
        panic!("the chaos suite needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)");
    };
    let pg = Arc::new(pg);
    let fake = FakeTelegram::start().await;
    let b24 = FakeBitrix24::start().await;
    let capture = Capture::default();
    let notify = start_capture(capture.clone()).await;
    let config = tempfile::tempdir().unwrap();
    write_config(config.path(), &fake.base);
    let port = free_port();
    let setup = Arc::new(Setup {
        config,
        db_url: pg.url("leadbot_chaos"),
        notify,
        port,
        base: format!("http://127.0.0.1:{port}"),
        bitrix24: b24.webhook_url(),
    });
    let bot = Arc::new(Mutex::new(Some(setup.start_bot().await)));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let downtimes: Arc<Mutex<Vec<Downtime>>> = Arc::default();

    // The chaos: kills at random moments, one PostgreSQL restart in between.
    let done = Arc::new(AtomicBool::new(false));
    let chaos = {
        let (bot, setup, downtimes, done, pg) =
            (bot.clone(), setup.clone(), downtimes.clone(), done.clone(), pg.clone());
        tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            for k in 0..kills {
                tokio::time::sleep(Duration::from_millis(rng.random_range(300..1500))).await;
                let killed = Utc::now();
                drop(bot.lock().unwrap().take()); // SIGKILL
                if k == 0 {
                    pg.restart();
                }
                let fresh = setup.start_bot().await;
                *bot.lock().unwrap() = Some(fresh);
                downtimes.lock().unwrap().push((killed, Utc::now()));
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    // The load: web-chat leads talking, Telegram chats (every update delivered twice, at once),
    // silent leads whose no-answer timer must fire.
    let mut tasks = vec![];
    for i in 0..leads {
        let (http, setup, ledger) = (http.clone(), setup.clone(), ledger.clone());
        if i % 4 == 3 {
            // A Bitrix24 lead with a phone in its card: taken, assigned, written back.
            b24.add_lead(
                5000 + i as u64,
                "NEW",
                "Клиент",
                Some(&format!("+7 926 {:07}", 3_000_000 + i)),
                None,
            );
        }
        tasks.push(tokio::spawn(async move {
            let base = setup.base.clone();
            if i % 4 == 3 {
                let id = 5000 + i as u64;
                let body = format!(
                    "event=ONCRMLEADADD&data%5BFIELDS%5D%5BID%5D={id}&ts=1545851621&auth%5Bdomain%5D=b24-46hovy.bitrix24.ru\
                     &auth%5Bmember_id%5D={B24_MEMBER}&auth%5Bapplication_token%5D={B24_TOKEN}"
                );
                let post = |h: &reqwest::Client| {
                    h.post(format!("{base}/webhooks/bitrix24"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body.clone())
                };
                // The portal's redelivery, concurrent with the first delivery.
                tokio::join!(until_accepted(&http, post), until_accepted(&http, post));
                ledger.lock().unwrap().bitrix24.push(id);
                return;
            }
            match i % 3 {
                0 => {
                    let ext = format!("web-{i}");
                    let created = until_accepted(&http, |h| {
                        h.post(format!("{base}/api/v1/leads"))
                            .header("Idempotency-Key", format!("chaos-creator-{ext}"))
                            .json(&json!({"source": "site", "external_id": ext, "channel": "webchat"}))
                    })
                    .await;
                    let id = created["id"].as_i64().unwrap();
                    let token = created["chat_token"].as_str().map(str::to_string);
                    let token = token.expect("the creator gets its chat token (again, by its key)");
                    let texts = [
                        "сколько стоит доставка?".to_string(),
                        "не дам".to_string(),
                        format!("ладно, 8918{:07}", 1_000_000 + i),
                    ];
                    for (j, text) in texts.iter().enumerate() {
                        until_accepted(&http, |h| {
                            h.post(format!("{base}/api/v1/leads/{id}/messages"))
                                .header("x-chat-token", &token)
                                .json(&json!({"text": text, "message_id": format!("m{j}")}))
                        })
                        .await;
                        ledger
                            .lock()
                            .unwrap()
                            .web
                            .entry(ext.clone())
                            .or_insert((id, vec![]))
                            .1
                            .push(text.clone());
                    }
                }
                1 => {
                    let chat = 900_000 + i as i64;
                    let texts = [
                        "Здравствуйте, нужна консультация".to_string(),
                        format!("+7 916 {:07}", 2_000_000 + i),
                    ];
                    for (j, text) in texts.iter().enumerate() {
                        let update = tg_update(chat * 10 + j as i64, chat, text);
                        let post = |h: &reqwest::Client| {
                            h.post(format!("{base}/webhooks/telegram/{BOT}"))
                                .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
                                .json(&update)
                        };
                        // Redelivered concurrently, as Telegram does when an answer is slow.
                        let (a, b) = tokio::join!(until_accepted(&http, post), until_accepted(&http, post));
                        let _ = (a, b);
                        ledger
                            .lock()
                            .unwrap()
                            .telegram
                            .entry(chat)
                            .or_default()
                            .push(text.clone());
                    }
                }
                _ => {
                    let ext = format!("silent-{i}");
                    until_accepted(&http, |h| {
                        h.post(format!("{base}/api/v1/leads"))
                            .json(&json!({"source": "site", "external_id": ext, "channel": "webchat"}))
                    })
                    .await;
                    ledger.lock().unwrap().silent.push(ext);
                }
            }
        }));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    for t in tasks {
        t.await.expect("a client task panicked");
    }
    chaos.await.unwrap();
    assert!(done.load(Ordering::SeqCst));

    // Quiet: every lead finished, nothing left to send.
    let pool = sqlx::PgPool::connect(&setup.db_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let open: i64 =
            sqlx::query_scalar("SELECT count(*) FROM leads WHERE status IN ('new', 'bot_processing', 'queued')")
                .fetch_one(&pool)
                .await
                .unwrap();
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE status = 'pending'")
            .fetch_one(&pool)
            .await
            .unwrap();
        if open == 0 && pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not quiet: {open} open leads, {pending} pending outbox rows"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    let downtimes = downtimes.lock().unwrap().clone();

    // No lead lost, none created twice.
    let rows: Vec<LeadRow> = sqlx::query_as(
        "SELECT id, source, external_id, status, manager_id, created_at, updated_at FROM leads ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected = ledger.web.len() + ledger.telegram.len() + ledger.silent.len() + ledger.bitrix24.len();
    assert_eq!(rows.len(), expected, "one lead per client");
    let by_ext: HashMap<&str, &LeadRow> = rows.iter().map(|r| (r.2.as_str(), r)).collect();

    // No accepted message missing or applied twice: the transcript's client lines are exactly
    // what the clients were told was accepted, in order.
    let transcript = |lead: i64| {
        let pool = pool.clone();
        async move {
            let t: Vec<String> =
                sqlx::query_scalar("SELECT text FROM transcript WHERE lead_id = $1 AND direction = 'in' ORDER BY id")
                    .bind(lead)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            t
        }
    };
    for (ext, (id, sent)) in &ledger.web {
        assert_eq!(&transcript(*id).await, sent, "lead {ext}");
        let row = by_ext[ext.as_str()];
        assert_eq!(row.3, "assigned", "lead {ext} gave its phone");
        assert!(row.4.is_some(), "an assigned lead has its manager");
    }
    for (chat, sent) in &ledger.telegram {
        let row = by_ext[format!("{BOT}:{chat}").as_str()];
        assert_eq!(&transcript(row.0).await, sent, "chat {chat}: each update applied once");
        assert_eq!(row.3, "assigned");
        assert!(row.4.is_some());
    }

    // Bitrix24: each lead taken once, assigned, and its card written back: status, responsible,
    // and the manager notified in the portal.
    for id in &ledger.bitrix24 {
        let row = by_ext[id.to_string().as_str()];
        assert_eq!(row.1, "bitrix24");
        assert_eq!(row.3, "assigned", "Bitrix24 lead {id}");
        let card = b24.lead(*id);
        assert_eq!(card["STATUS_ID"], "CONVERTED", "lead {id}'s card: {card}");
        assert_eq!(
            card["ASSIGNED_BY_ID"].as_str(),
            row.4.as_deref(),
            "lead {id}'s responsible"
        );
    }
    let reads = b24.calls("crm.lead.get").len() + b24.calls("batch").len();
    assert!(
        reads <= ledger.bitrix24.len() * 3 + kills * 16,
        "{reads} card reads for {} leads: duplicates cost calls",
        ledger.bitrix24.len()
    );

    // Every manager notification delivered; a redelivery after a kill carries the same key, so
    // the receiver can tell it is one notification.
    let notes = capture.all();
    let mut keys_per_lead: HashMap<i64, HashSet<String>> = HashMap::new();
    for (key, body) in &notes {
        if let Some(lead) = body["lead_id"].as_i64() {
            keys_per_lead.entry(lead).or_default().insert(key.clone());
        }
    }
    for row in rows.iter().filter(|r| r.3 == "assigned") {
        let keys = keys_per_lead.get(&row.0).map_or(0, HashSet::len);
        assert_eq!(keys, 1, "lead {}: one notification (by key)", row.0);
    }
    let duplicates = notes.len() - keys_per_lead.values().map(HashSet::len).sum::<usize>();

    // Bot messages: every outbox row sent; Telegram has no idempotency key, so a kill between
    // "delivered" and "marked sent" may repeat the rows in flight, never more.
    let unsent: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT kind, status, last_error FROM outbox WHERE status <> 'sent' LIMIT 5")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(unsent.is_empty(), "every outbox row was delivered: {unsent:?}");
    let mut tg_repeats = 0;
    for chat in ledger.telegram.keys() {
        let row = by_ext[format!("{BOT}:{chat}").as_str()];
        let rows_sent: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE lead_id = $1 AND kind = 'message'")
            .bind(row.0)
            .fetch_one(&pool)
            .await
            .unwrap();
        let calls = fake
            .calls("sendMessage")
            .into_iter()
            .filter(|c| c.body["chat_id"] == *chat)
            .count() as i64;
        assert!(
            calls >= rows_sent,
            "chat {chat}: {calls} sends for {rows_sent} messages"
        );
        tg_repeats += calls - rows_sent;
    }
    assert!(
        tg_repeats <= (kills as i64) * 16,
        "{tg_repeats} repeated Telegram sends for {kills} kills"
    );

    // Timers: the silent leads were given up within 5 s of their due time, or of the restart
    // when they fell due while the process was down; no timer is left overdue.
    for ext in &ledger.silent {
        let row = by_ext[ext.as_str()];
        assert_eq!(row.3, "low_quality", "{ext}");
        let due = row.5 + chrono::Duration::seconds(NO_ANSWER_SECS);
        let back = downtimes
            .iter()
            .find(|(down, up)| *down <= due + chrono::Duration::seconds(1) && due <= *up)
            .map(|(_, up)| *up);
        let from = back.unwrap_or(due).max(due);
        let lag = (row.6 - from).num_milliseconds();
        assert!(
            lag <= 5_000,
            "{ext}: no-answer fired {lag} ms after it was due (or the restart)"
        );
    }
    let overdue: i64 =
        sqlx::query_scalar("SELECT count(*) FROM lead_timers WHERE due_at < now() - interval '5 seconds'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(overdue, 0, "no timer left overdue");
    eprintln!(
        "chaos: {expected} leads, {kills} kills, 1 PostgreSQL restart; {} notifications ({duplicates} redelivered with their key), {tg_repeats} repeated Telegram sends",
        notes.len()
    );
    pool.close().await;
    drop(bot.lock().unwrap().take());
}
