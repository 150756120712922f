//! Test harness: the whole app in-process on port 0 against a fresh database per test — a
//! PostgreSQL database or an embedded SQLite file (`StoreKind`) — plus a local HTTP server
//! standing in for the manager-notification webhook.

#![allow(dead_code)]

pub mod fake_amocrm;
pub mod fake_avito;
pub mod fake_bitrix24;
pub mod fake_graph;
pub mod fake_sms;
pub mod fake_telegram;
pub mod fake_vk;
pub mod fake_voice;
pub mod smtp;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use leadbot::config::Config;
use serde_json::{json, Value};

/// The server's base URL (`DATABASE_URL`'s server, or the local default) with `db` as database.
pub fn db_url(db: &str) -> String {
    let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut url = reqwest::Url::parse(&base).expect("DATABASE_URL is a URL");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

/// A database name unique to this test run.
pub fn fresh_db_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "leadbot_test_{}_{}_{:08x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    )
}

pub async fn drop_db(name: &str) {
    if let Ok(pool) = sqlx::PgPool::connect(&db_url("postgres")).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&pool)
            .await;
    }
}

/// Which store a test runs on. Suites that run on both instantiate each test for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Postgres,
    Sqlite,
}

/// A test's own database: a fresh PostgreSQL database, or a SQLite file in a fresh temporary
/// directory (removed when the last clone is dropped).
#[derive(Debug, Clone)]
pub enum TestDb {
    Postgres(String),
    Sqlite(Arc<tempfile::TempDir>),
}

impl TestDb {
    pub fn fresh(kind: StoreKind) -> TestDb {
        match kind {
            StoreKind::Postgres => TestDb::Postgres(fresh_db_name()),
            StoreKind::Sqlite => TestDb::Sqlite(Arc::new(tempfile::tempdir().expect("a temporary directory"))),
        }
    }

    pub fn kind(&self) -> StoreKind {
        match self {
            TestDb::Postgres(_) => StoreKind::Postgres,
            TestDb::Sqlite(_) => StoreKind::Sqlite,
        }
    }

    /// The SQLite file (in a directory the store has to create: as on a first start).
    pub fn path(&self) -> Option<std::path::PathBuf> {
        match self {
            TestDb::Sqlite(dir) => Some(dir.path().join("data").join("leadbot.db")),
            TestDb::Postgres(_) => None,
        }
    }

    /// What `DATABASE_URL` / `database.url` is set to.
    pub fn url(&self) -> String {
        match self {
            TestDb::Postgres(name) => db_url(name),
            TestDb::Sqlite(_) => format!("sqlite://{}", self.path().unwrap_or_default().display()),
        }
    }

    /// A connection of the test's own, beside the app's (to change rows behind its back).
    pub async fn connect(&self) -> RawDb {
        match self {
            TestDb::Postgres(name) => RawDb::Pg(sqlx::PgPool::connect(&db_url(name)).await.expect("PostgreSQL")),
            TestDb::Sqlite(_) => {
                let opts = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(self.path().unwrap_or_default())
                    .busy_timeout(Duration::from_secs(10));
                RawDb::Lite(sqlx::SqlitePool::connect_with(opts).await.expect("SQLite file"))
            }
        }
    }

    pub async fn drop_db(&self) {
        if let TestDb::Postgres(name) = self {
            drop_db(name).await;
        }
    }
}

impl From<String> for TestDb {
    fn from(name: String) -> TestDb {
        TestDb::Postgres(name)
    }
}

/// Raw SQL against either store, for what a test does behind the app's back. The statements
/// are written to run on both (`$1` binds, standard SQL) unless a test says otherwise.
#[derive(Debug, Clone)]
pub enum RawDb {
    Pg(sqlx::PgPool),
    Lite(sqlx::SqlitePool),
}

impl RawDb {
    pub async fn exec(&self, sql: &str, binds: &[i64]) {
        match self {
            RawDb::Pg(p) => {
                let mut q = sqlx::query(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.execute(p).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            RawDb::Lite(p) => {
                let mut q = sqlx::query(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.execute(p).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
    }

    /// Several statements, no binds (triggers and the like).
    pub async fn script(&self, sql: &str) {
        match self {
            RawDb::Pg(p) => drop(
                sqlx::raw_sql(sql)
                    .execute(p)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}")),
            ),
            RawDb::Lite(p) => drop(
                sqlx::raw_sql(sql)
                    .execute(p)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}")),
            ),
        }
    }

    pub async fn i64(&self, sql: &str, binds: &[i64]) -> i64 {
        match self {
            RawDb::Pg(p) => {
                let mut q = sqlx::query_scalar::<_, i64>(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_one(p).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            RawDb::Lite(p) => {
                let mut q = sqlx::query_scalar::<_, i64>(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_one(p).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
        }
    }

    pub async fn string(&self, sql: &str, binds: &[i64]) -> String {
        match self {
            RawDb::Pg(p) => {
                let mut q = sqlx::query_scalar::<_, String>(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_one(p).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            RawDb::Lite(p) => {
                let mut q = sqlx::query_scalar::<_, String>(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_one(p).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
        }
    }

    pub async fn close(&self) {
        match self {
            RawDb::Pg(p) => p.close().await,
            RawDb::Lite(p) => p.close().await,
        }
    }
}

/// Instantiates each listed `async fn name(kind: StoreKind)` as a test on each store:
/// `postgres::name` and `sqlite::name`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::StoreKind::Postgres).await
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::StoreKind::Sqlite).await
                }
            )*
        }
    };
}

/// Records what the notification webhook received; can fail the first N requests.
#[derive(Clone, Default)]
pub struct Capture {
    /// The notifications accepted (answered 200): idempotency key and body.
    pub received: Arc<Mutex<Vec<(String, Value)>>>,
    pub fail_first: Arc<AtomicUsize>,
    pub attempts: Arc<AtomicUsize>,
    /// Every attempt, failed ones included, in arrival order.
    pub log: Arc<Mutex<Vec<Attempt>>>,
}

/// One request to the notification webhook, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The `Idempotency-Key` header ("" when absent).
    pub key: String,
    /// What the receiver answered.
    pub status: u16,
    pub body: Value,
}

impl Capture {
    pub fn all(&self) -> Vec<(String, Value)> {
        self.received.lock().unwrap().clone()
    }

    /// Every attempt so far, failed ones included.
    pub fn attempt_log(&self) -> Vec<Attempt> {
        self.log.lock().unwrap().clone()
    }
}

async fn capture_handler(State(c): State<Capture>, headers: HeaderMap, body: String) -> StatusCode {
    c.attempts.fetch_add(1, Ordering::SeqCst);
    // The key and body are taken before deciding the answer, so failed attempts are seen too.
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let fail = c
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if fail {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    c.log.lock().unwrap().push(Attempt {
        key: key.clone(),
        status: status.as_u16(),
        body: body.clone(),
    });
    if !fail {
        c.received.lock().unwrap().push((key, body));
    }
    status
}

/// Starts the fake notification receiver; returns its URL.
pub async fn start_capture(capture: Capture) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/notify", post(capture_handler))
        .with_state(capture);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/notify")
}

/// Config for tests: defaults with short timings and the given database and webhook.
pub fn test_config(db: &TestDb, notify_url: &str) -> Config {
    let mut cfg = Config::load(None).expect("default config");
    // As a business that filled in its address and hours.
    for f in &mut cfg.script.faq {
        f.placeholder = false;
    }
    cfg.service.database.url = Some(db.url());
    cfg.service.database.max_connections = 5;
    cfg.service.notify.webhook_url = Some(notify_url.to_string());
    cfg.service.notify.retry_base = Duration::from_millis(50);
    cfg.service.runtime.timer_poll = Duration::from_millis(50);
    cfg.service.runtime.outbox_poll = Duration::from_millis(50);
    cfg.service.runtime.recovery_scan = Duration::from_millis(200);
    cfg.service.runtime.restart_backoff = Duration::from_millis(10);
    cfg.service.runtime.restart_backoff_max = Duration::from_millis(100);
    // The operator API never answers anonymously; `TestApp` sends this one on operator paths.
    cfg.service.server.operator_token = Some(TEST_OPERATOR_TOKEN.into());
    cfg
}

pub const TEST_OPERATOR_TOKEN: &str = "test-operator-token-0123456789";

pub struct TestApp {
    /// Chat tokens of the leads this app created through `post`, sent along to the client side.
    pub tokens: Mutex<std::collections::HashMap<i64, String>>,
    pub base: String,
    pub http: reqwest::Client,
    pub capture: Capture,
    pub db: TestDb,
    pub running: Option<leadbot::app::Running>,
    /// Sent as the operator's bearer token on operator paths (when the test kept the default).
    pub operator: Option<String>,
}

impl TestApp {
    /// On PostgreSQL (the suites that are about PostgreSQL itself).
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on(fresh_db_name(), tweak).await
    }

    /// On a fresh database of the given store.
    pub async fn spawn_in(kind: StoreKind) -> TestApp {
        Self::spawn_on(TestDb::fresh(kind), |_| {}).await
    }

    pub async fn spawn_in_with(kind: StoreKind, tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on(TestDb::fresh(kind), tweak).await
    }

    /// Starts on the given database (a second start on the same one is a restart).
    pub async fn spawn_on(db: impl Into<TestDb>, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let db = db.into();
        let capture = Capture::default();
        let notify_url = start_capture(capture.clone()).await;
        let mut cfg = test_config(&db, &notify_url);
        tweak(&mut cfg);
        let operator = cfg
            .service
            .server
            .operator_token
            .clone()
            .filter(|t| t == TEST_OPERATOR_TOKEN);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let running = leadbot::app::start(cfg, listener).await.expect("app starts");
        TestApp {
            tokens: Mutex::new(Default::default()),
            base: format!("http://{}", running.addr),
            http: reqwest::Client::new(),
            capture,
            db,
            running: Some(running),
            operator,
        }
    }

    pub async fn stop(mut self) {
        let db = self.db.clone();
        self.shutdown().await;
        db.drop_db().await;
    }

    /// Stops the app but keeps its database (to start it again with `spawn_on`).
    pub async fn shutdown(&mut self) {
        if let Some(r) = self.running.take() {
            r.stores.close().await;
            r.shutdown().await;
        }
    }

    /// The running app's CRM store (to drive a part directly, as a second node would).
    pub fn crm_store(&self) -> std::sync::Arc<dyn leadbot::store::CrmStore> {
        self.running.as_ref().unwrap().stores.crm.clone()
    }

    /// The PostgreSQL pool of an app on PostgreSQL (the PostgreSQL-only suites).
    pub fn pool(&self) -> &sqlx::PgPool {
        self.running
            .as_ref()
            .unwrap()
            .stores
            .pg_pool()
            .expect("this test runs on PostgreSQL")
    }

    /// Raw SQL on the app's own store, whichever it is (the embedded store's writer connection,
    /// so the test's writes queue with the app's instead of contending for the file).
    pub fn raw(&self) -> RawDb {
        let stores = &self.running.as_ref().expect("the app runs").stores;
        match (stores.pg_pool(), stores.sqlite()) {
            (Some(p), _) => RawDb::Pg(p.clone()),
            (None, Some(s)) => RawDb::Lite(s.pool().clone()),
            (None, None) => unreachable!("a store is PostgreSQL or SQLite"),
        }
    }

    /// The lead's chat token for a client-side path (`/api/v1/leads/{id}/messages|transcript`).
    fn token_for(&self, path: &str) -> Option<String> {
        let rest = path.strip_prefix("/api/v1/leads/")?;
        let (id, tail) = rest.split_once('/')?;
        if !(tail.starts_with("messages") || tail.starts_with("transcript")) {
            return None;
        }
        self.tokens.lock().unwrap().get(&id.parse().ok()?).cloned()
    }

    /// The operator's bearer token for operator paths (not the public and client-side ones).
    fn operator_for(&self, path: &str) -> Option<&str> {
        let public = !path.starts_with("/api/") || self.token_for(path).is_some();
        if public {
            None
        } else {
            self.operator.as_deref()
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = self.token_for(path) {
            req = req.header("x-chat-token", t);
        }
        if let Some(op) = self.operator_for(path) {
            req = req.bearer_auth(op);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if path == "/api/v1/leads" {
            if let (Some(id), Some(t)) = (body["id"].as_i64(), body["chat_token"].as_str()) {
                self.tokens.lock().unwrap().insert(id, t.to_string());
            }
        }
        (status, body)
    }

    pub async fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = self.token_for(path) {
            req = req.header("x-chat-token", t);
        }
        if let Some(op) = self.operator_for(path) {
            req = req.bearer_auth(op);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Creates a webchat lead; returns its id and status.
    pub async fn new_lead(&self, ext: &str, text: Option<&str>) -> (i64, String) {
        let (code, body) = self
            .post(
                "/api/v1/leads",
                json!({"source": "site", "external_id": ext, "channel": "webchat", "name": "Ольга", "text": text}),
            )
            .await;
        assert_eq!(code, 201, "{body}");
        (
            body["id"].as_i64().unwrap(),
            body["status"].as_str().unwrap().to_string(),
        )
    }

    /// Sends a client message; returns the bot's replies to it.
    pub async fn say(&self, lead: i64, text: &str) -> Vec<String> {
        let (code, body) = self
            .post(&format!("/api/v1/leads/{lead}/messages"), json!({ "text": text }))
            .await;
        assert_eq!(code, 202, "{body}");
        body["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["direction"] == "out")
            .map(|e| e["text"].as_str().unwrap().to_string())
            .collect()
    }

    pub async fn lead(&self, id: i64) -> Value {
        let (code, body) = self.get(&format!("/api/v1/leads/{id}")).await;
        assert_eq!(code, 200, "{body}");
        body
    }

    /// Polls the lead until `pred` holds (or panics after `within`).
    pub async fn wait_for(&self, id: i64, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let lead = self.lead(id).await;
            if pred(&lead) {
                return lead;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("condition not met within {within:?}; lead is {lead:#}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until nothing is left to do that could still deliver something: no outbox row
    /// pending (`GET /api/v1/outbox?status=pending`; a row in flight stays pending until it is
    /// marked sent), no inbox row waiting for its lead, no stored CRM event unprocessed. An
    /// "exactly once" assertion made after this sees a duplicate if there is one.
    pub async fn wait_idle(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let pending = self.pending_outbox().await;
            let raw = self.raw();
            let inbox = raw
                .i64("SELECT count(*) FROM inbox WHERE applied_at IS NULL", &[])
                .await;
            let events = raw
                .i64("SELECT count(*) FROM crm_events WHERE processed_at IS NULL", &[])
                .await;
            if pending.is_empty() && inbox == 0 && events == 0 {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "not idle within {within:?}: pending outbox {pending:?}, {inbox} inbox rows, {events} CRM events"
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The outbox rows still pending: through the operator API when this app has the test's
    /// operator token, else straight from the database.
    pub async fn pending_outbox(&self) -> Vec<Value> {
        if self.operator.is_some() {
            let (code, body) = self.get("/api/v1/outbox?status=pending&limit=1000").await;
            assert_eq!(code, 200, "{body}");
            return body["rows"].as_array().cloned().unwrap_or_default();
        }
        const PENDING: &str = "SELECT id, kind FROM outbox WHERE status = 'pending'";
        let rows: Vec<(i64, String)> = match self.raw() {
            RawDb::Pg(p) => sqlx::query_as(PENDING).fetch_all(&p).await.unwrap(),
            RawDb::Lite(p) => sqlx::query_as(PENDING).fetch_all(&p).await.unwrap(),
        };
        rows.into_iter()
            .map(|(id, kind)| json!({"id": id, "kind": kind}))
            .collect()
    }

    /// The `/metrics` text as this moment.
    pub async fn metrics(&self) -> Metrics {
        let (code, body) = self.get("/metrics").await;
        assert_eq!(code, 200);
        Metrics(body.as_str().expect("Prometheus text").to_string())
    }

    /// Waits until the notification webhook received `n` notifications.
    pub async fn wait_notifications(&self, n: usize, within: Duration) -> Vec<(String, Value)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.capture.all();
            if got.len() >= n {
                return got;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("expected {n} notifications, got {got:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

pub fn bot_texts(lead: &Value) -> Vec<String> {
    lead["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["direction"] == "out")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect()
}

/// A fixture from tests/fixtures/.
pub fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("tests/fixtures/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `actual` has every field of the `documented` sample, each of the same JSON type, all the
/// way down (array items against the sample's first item); extra fields are allowed.
pub fn conforms(actual: &Value, documented: &Value) -> Result<(), String> {
    fn walk(a: &Value, d: &Value, at: &str) -> Result<(), String> {
        match (a, d) {
            (Value::Object(a), Value::Object(d)) => {
                for (k, dv) in d {
                    let av = a.get(k).ok_or_else(|| format!("{at}.{k}: missing"))?;
                    walk(av, dv, &format!("{at}.{k}"))?;
                }
                Ok(())
            }
            (Value::Array(a), Value::Array(d)) => match d.first() {
                Some(sample) => a
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, av)| walk(av, sample, &format!("{at}[{i}]"))),
                None => Ok(()),
            },
            (a, d) if kind(a) == kind(d) => Ok(()),
            (a, d) => Err(format!("{at}: {} where the sample has {}", kind(a), kind(d))),
        }
    }
    walk(actual, documented, "")
}

/// Both conform to each other: the same fields with the same types (values may differ).
pub fn same_shape(a: &Value, b: &Value) -> Result<(), String> {
    conforms(a, b)?;
    conforms(b, a).map_err(|e| format!("extra field: {e}"))
}

/// A `/metrics` scrape, read as Prometheus text.
#[derive(Debug, Clone)]
pub struct Metrics(pub String);

impl Metrics {
    /// The sum of every series of `name` whose labels include all of `labels` (0 when none).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(parse_sample)
            .filter(|(n, ls, _)| n == name && labels.iter().all(|(k, v)| ls.iter().any(|(lk, lv)| lk == k && lv == v)))
            .map(|(_, _, v)| v)
            .sum()
    }
}

/// A sample: its name, its labels, its value.
type Sample = (String, Vec<(String, String)>, f64);

/// `name{k="v",...} value` → (name, labels, value).
fn parse_sample(line: &str) -> Option<Sample> {
    let (series, value) = line.trim().rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let Some((name, rest)) = series.split_once('{') else {
        return Some((series.to_string(), vec![], value));
    };
    let mut labels = vec![];
    let mut chars = rest.strip_suffix('}')?.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('"') {
            return None;
        }
        let mut val = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => val.extend(chars.next()),
                '"' => break,
                c => val.push(c),
            }
        }
        labels.push((key.trim_start_matches(',').to_string(), val));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    Some((name.to_string(), labels, value))
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
