//! `leadbot-load`: drives a running leadbot's client-message endpoint
//! (`POST /api/v1/leads/{id}/messages`, the web chat's) and reports, in one run:
//! - the raw PostgreSQL reference: 100-row jsonb upserts with `--pg-clients` clients (rows/s);
//! - a closed loop with `--connections` connections: messages/s, p50/p99;
//! - an open loop at `--rate` messages/s: p50/p99 measured from each message's intended send
//!   time (so a stalled server shows up as latency, not as a lower offered rate);
//! - the ratio of the closed loop's messages/s to the raw upsert rate (the box is noisy; the
//!   ratio travels better than either figure).
//!
//! Setup creates `--leads` web-chat leads (each with a first text, so the bot has answered)
//! and `--history` more messages per lead. With `--check-db` (the leadbot's own PostgreSQL) it
//! counts, at the end, inbox rows not applied: every 202 must have been applied.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures_util::future::join_all;
use serde_json::{json, Value};

#[derive(Parser, Clone)]
#[command(name = "leadbot-load")]
struct Args {
    /// The running leadbot.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Leads created in setup.
    #[arg(long, default_value_t = 20_000)]
    leads: usize,
    /// Messages per lead sent in setup (its history), besides the first text.
    #[arg(long, default_value_t = 2)]
    history: usize,
    /// Concurrent connections of the setup and the closed loop.
    #[arg(long, default_value_t = 256)]
    connections: usize,
    /// Seconds of the closed loop (0: skip).
    #[arg(long, default_value_t = 15)]
    closed_secs: u64,
    /// Offered messages/s of the open loop (0: skip).
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Seconds of the open loop.
    #[arg(long, default_value_t = 10)]
    open_secs: u64,
    /// A PostgreSQL server for the raw reference (a scratch database `leadbot_load_raw` is
    /// created on it); none: no reference, no ratio.
    #[arg(long, env = "LOAD_PG_URL")]
    pg_url: Option<String>,
    #[arg(long, default_value_t = 8)]
    pg_clients: usize,
    #[arg(long, default_value_t = 5)]
    pg_secs: u64,
    /// The leadbot's own PostgreSQL database: unapplied inbox rows are counted at the end.
    #[arg(long)]
    check_db: Option<String>,
    /// A tag that keeps this run's leads apart from earlier runs' (default: the time).
    #[arg(long)]
    run: Option<String>,
}

struct Lead {
    id: i64,
    token: String,
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let run = args.run.clone().unwrap_or_else(|| {
        format!(
            "{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs()
        )
    });
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections.max(1024))
        .timeout(Duration::from_secs(30))
        .build()?;

    println!(
        "# leadbot-load run {run}: {} leads, {} history messages each, {} connections",
        args.leads, args.history, args.connections
    );
    let started = Instant::now();
    let leads = Arc::new(create_leads(&http, &args, &run).await?);
    println!(
        "setup: {} leads created in {:.1}s",
        leads.len(),
        started.elapsed().as_secs_f64()
    );
    if args.history > 0 {
        let t = Instant::now();
        let (n, failed) = history(&http, &args, &leads).await;
        println!(
            "setup: {n} history messages in {:.1}s ({:.0} msg/s, {failed} failed)",
            t.elapsed().as_secs_f64(),
            n as f64 / t.elapsed().as_secs_f64()
        );
    }

    let raw = match &args.pg_url {
        Some(url) => Some(raw_pg(url, args.pg_clients, Duration::from_secs(args.pg_secs)).await?),
        None => None,
    };
    if let Some(r) = raw {
        println!(
            "raw PostgreSQL: {r:.0} rows/s (100-row jsonb upserts, {} clients, {}s)",
            args.pg_clients, args.pg_secs
        );
    }

    let mut closed_rate = None;
    if args.closed_secs > 0 {
        let (rate, lat, failed) = closed_loop(&http, &args, &leads, Duration::from_secs(args.closed_secs)).await;
        println!(
            "closed loop, {} connections, {}s: {rate:.0} msg/s, p50 {:.1} ms, p99 {:.1} ms, {failed} failed",
            args.connections,
            args.closed_secs,
            pct(&lat, 0.50),
            pct(&lat, 0.99)
        );
        closed_rate = Some(rate);
    }
    if let (Some(c), Some(r)) = (closed_rate, raw) {
        println!("ratio to raw PostgreSQL: {:.3}", c / r);
    }
    if args.rate > 0 {
        let (done, lat, failed) = open_loop(&http, &args, &leads, args.rate, Duration::from_secs(args.open_secs)).await;
        println!(
            "open loop, {} msg/s offered, {}s: {done} answered, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {failed} failed",
            args.rate,
            args.open_secs,
            pct(&lat, 0.50),
            pct(&lat, 0.99),
            pct(&lat, 1.0)
        );
    }
    if let Some(db) = &args.check_db {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(db)
            .await?;
        let (unapplied,): (i64,) = sqlx::query_as("SELECT count(*) FROM inbox WHERE applied_at IS NULL")
            .fetch_one(&pool)
            .await?;
        println!("inbox rows not applied: {unapplied}");
    }
    Ok(())
}

/// The `p`-quantile in milliseconds of latencies in microseconds (sorted).
fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

async fn create_leads(http: &reqwest::Client, args: &Args, run: &str) -> anyhow::Result<Vec<Lead>> {
    let next = Arc::new(AtomicUsize::new(0));
    let workers = (0..args.connections.max(1)).map(|_| {
        let (http, next, url, run) = (http.clone(), next.clone(), args.url.clone(), run.to_string());
        let n = args.leads;
        async move {
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(mine);
                }
                let body = json!({
                    "source": "load",
                    "external_id": format!("{run}-{i}"),
                    "channel": "webchat",
                    "name": format!("Клиент {i}"),
                    "text": "Здравствуйте, хочу узнать про доставку",
                });
                let resp = http.post(format!("{url}/api/v1/leads")).json(&body).send().await?;
                let code = resp.status();
                let v: Value = resp.json().await.context("lead creation answer")?;
                if !code.is_success() {
                    bail!("creating a lead: {code} {v}");
                }
                let (Some(id), Some(token)) = (v["id"].as_i64(), v["chat_token"].as_str()) else {
                    bail!("lead creation answered without id/chat_token (run tag reused?): {v}");
                };
                mine.push(Lead {
                    id,
                    token: token.to_string(),
                });
            }
        }
    });
    let mut all = Vec::with_capacity(args.leads);
    for r in join_all(workers).await {
        all.extend(r?);
    }
    Ok(all)
}

/// One client message; the latency in microseconds from `since`, or `None` if not a 202.
async fn send(http: &reqwest::Client, url: &str, lead: &Lead, seq: u64, since: Instant) -> Option<u64> {
    let body = json!({ "text": "А сколько стоит доставка в Казань?", "message_id": format!("m{seq}") });
    let resp = http
        .post(format!("{url}/api/v1/leads/{}/messages", lead.id))
        .header("x-chat-token", &lead.token)
        .json(&body)
        .send()
        .await
        .ok()?;
    let ok = resp.status() == reqwest::StatusCode::ACCEPTED;
    let _ = resp.bytes().await;
    ok.then(|| since.elapsed().as_micros() as u64)
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn seq() -> u64 {
    // Unique per process and run: the message ids must never collide with an earlier run's.
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    (base << 20) + SEQ.fetch_add(1, Ordering::Relaxed)
}

async fn history(http: &reqwest::Client, args: &Args, leads: &Arc<Vec<Lead>>) -> (u64, u64) {
    let total = leads.len() * args.history;
    let next = Arc::new(AtomicUsize::new(0));
    let counts = Arc::new(Counts::default());
    let workers = (0..args.connections.max(1)).map(|_| {
        let (http, next, url, leads, counts) = (
            http.clone(),
            next.clone(),
            args.url.clone(),
            leads.clone(),
            counts.clone(),
        );
        async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let lead = &leads[i % leads.len()];
                match send(&http, &url, lead, seq(), Instant::now()).await {
                    Some(_) => counts.ok.fetch_add(1, Ordering::Relaxed),
                    None => counts.failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }
    });
    join_all(workers).await;
    (counts.ok.load(Ordering::Relaxed), counts.failed.load(Ordering::Relaxed))
}

async fn closed_loop(http: &reqwest::Client, args: &Args, leads: &Arc<Vec<Lead>>, d: Duration) -> (f64, Vec<u64>, u64) {
    let start = Instant::now();
    let failed = Arc::new(AtomicU64::new(0));
    let workers = (0..args.connections.max(1)).map(|_| {
        let (http, url, leads, failed) = (http.clone(), args.url.clone(), leads.clone(), failed.clone());
        async move {
            let mut lat = Vec::new();
            while start.elapsed() < d {
                let lead = &leads[rand::random_range(0..leads.len())];
                match send(&http, &url, lead, seq(), Instant::now()).await {
                    Some(us) => lat.push(us),
                    None => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            lat
        }
    });
    let mut lat: Vec<u64> = join_all(workers).await.into_iter().flatten().collect();
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    (lat.len() as f64 / secs, lat, failed.load(Ordering::Relaxed))
}

async fn open_loop(
    http: &reqwest::Client,
    args: &Args,
    leads: &Arc<Vec<Lead>>,
    rate: u64,
    d: Duration,
) -> (usize, Vec<u64>, u64) {
    let start = Instant::now();
    let n = rate * d.as_secs();
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(n as usize);
    for i in 0..n {
        let intended = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        tokio::time::sleep_until(intended.into()).await;
        let (http, url, leads, failed) = (http.clone(), args.url.clone(), leads.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let lead = &leads[rand::random_range(0..leads.len())];
            let r = send(&http, &url, lead, seq(), intended).await;
            if r.is_none() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            r
        }));
    }
    let mut lat: Vec<u64> = join_all(tasks)
        .await
        .into_iter()
        .filter_map(|r| r.ok().flatten())
        .collect();
    lat.sort_unstable();
    (lat.len(), lat, failed.load(Ordering::Relaxed))
}

/// Raw PostgreSQL: `clients` connections each upserting 100 jsonb rows per statement (in
/// autocommit, so each is a durable transaction) for `d`; rows/s.
async fn raw_pg(url: &str, clients: usize, d: Duration) -> anyhow::Result<f64> {
    use sqlx::migrate::MigrateDatabase;
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    let db = format!("{base}/leadbot_load_raw");
    if !sqlx::Postgres::database_exists(&db).await? {
        sqlx::Postgres::create_database(&db).await?;
    }
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(clients as u32)
        .connect(&db)
        .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS raw_upsert (id bigint PRIMARY KEY, doc jsonb NOT NULL)")
        .execute(&pool)
        .await?;
    let start = Instant::now();
    let rows = Arc::new(AtomicU64::new(0));
    let workers = (0..clients).map(|c| {
        let (pool, rows) = (pool.clone(), rows.clone());
        async move {
            let mut round: i64 = 0;
            while start.elapsed() < d {
                // Keys spread over 100k rows per client: updates of existing rows, as a lead's.
                let ids: Vec<i64> = (0..100)
                    .map(|k| c as i64 * 1_000_000 + (round * 100 + k) % 100_000)
                    .collect();
                let docs: Vec<Value> = ids
                    .iter()
                    .map(|i| json!({ "id": i, "round": round, "text": "a jsonb document of a modest size" }))
                    .collect();
                sqlx::query(
                    "INSERT INTO raw_upsert (id, doc) SELECT * FROM UNNEST($1::bigint[], $2::jsonb[])
                     ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc",
                )
                .bind(&ids)
                .bind(&docs)
                .execute(&pool)
                .await?;
                rows.fetch_add(100, Ordering::Relaxed);
                round += 1;
            }
            Ok::<_, sqlx::Error>(())
        }
    });
    for r in join_all(workers).await {
        r?;
    }
    Ok(rows.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}
