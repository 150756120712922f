//! The durable write path: how many lead steps per second each store commits (snapshot +
//! projection + transcript + outbox + timers + inbox marker per step, each acknowledged only
//! once durable): PostgreSQL, and the embedded SQLite file (WAL, synchronous=FULL).
//! The PostgreSQL half needs a server (`DATABASE_URL`, else 127.0.0.1:5432) and creates and
//! drops its own database; the SQLite half writes a file in a temporary directory.
//! Run: `cargo bench --bench durable_step` (one store: `-- durable_step/sqlite`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leadbot::domain::{ChannelName, LeadId, LeadStatus};
use leadbot::store::{
    Direction, InboxPayload, NewLead, NewOutbox, PgStore, Projection, SqliteStore, StepCommit, Store, TimerChange,
};

fn db_url(db: &str) -> String {
    let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut url = reqwest::Url::parse(&base).expect("DATABASE_URL");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

const LEADS: usize = 512;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("durable_step");
    group.throughput(Throughput::Elements(LEADS as u64));
    group.measurement_time(Duration::from_secs(10));

    let db = format!("leadbot_bench_{}", std::process::id());
    let pg = Arc::new(rt.block_on(PgStore::connect(&db_url(&db), 16)).expect("database"));
    steps_of(&mut group, &rt, "postgres/512_leads_concurrently", pg.clone());
    rt.block_on(async {
        pg.pool().close().await;
        if let Ok(pool) = sqlx::PgPool::connect(&db_url("postgres")).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                .execute(&pool)
                .await;
        }
    });

    // On the disk the tests use (not a tmpfs), so the fsyncs cost what they cost.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary directory");
    let lite = Arc::new(
        rt.block_on(SqliteStore::connect(&dir.path().join("bench.db"), 4))
            .expect("SQLite file"),
    );
    steps_of(&mut group, &rt, "sqlite/512_leads_concurrently", lite.clone());
    rt.block_on(lite.close());
    group.finish();
}

/// 512 leads each commit one step concurrently (an inbox row, then the step that applies it).
fn steps_of<S: Store>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    store: Arc<S>,
) {
    let mut versions = vec![0i64; LEADS];
    let leads: Vec<LeadId> = rt.block_on(async {
        let mut ids = vec![];
        for i in 0..LEADS {
            let lead = NewLead {
                source: "bench".into(),
                external_id: i.to_string(),
                channel: ChannelName::new("webchat"),
                name: None,
                phone: None,
                text: None,
                segment: None,
                first_event: None,
                creation_key: None,
            };
            ids.push(store.create_lead(&lead).await.expect("lead").lead.id);
        }
        ids
    });
    let state = serde_json::json!({"status": "bot_processing", "recent": ["8918", "123"], "refusals": 1});
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                rt.block_on(async {
                    let mut tasks = vec![];
                    for (i, lead) in leads.iter().enumerate() {
                        let store = store.clone();
                        let lead = *lead;
                        let version = versions[i];
                        let state = state.clone();
                        tasks.push(tokio::spawn(async move {
                            let inbox = store
                                .enqueue_inbox(
                                    lead,
                                    "bench",
                                    &format!("{lead}:{version}"),
                                    &InboxPayload::Message {
                                        text: "не дам".into()
                                    },
                                )
                                .await
                                .expect("inbox");
                            let step = StepCommit {
                                lead,
                                expected_version: version,
                                state,
                                projection: Projection {
                                    channel: ChannelName::new("webchat"),
                                    status: LeadStatus::BotProcessing,
                                    phone: None,
                                    manager_id: None,
                                    reason: None,
                                },
                                applied_inbox_id: inbox,
                                projection_unchanged: false,
                                author: None,
                                transcript: vec![(Direction::In, "не дам".into()), (Direction::Out, "Понимаю…".into())],
                                outbox: vec![NewOutbox {
                                    kind: "message".into(),
                                    payload: serde_json::json!({"channel": "webchat", "text": "Понимаю…"}),
                                    idempotency_key: format!("bench:{lead}:{version}"),
                                    delivered: false,
                                }],
                                timers: vec![TimerChange::Arm {
                                    kind: "reask".into(),
                                    due_at: Utc::now() + chrono::Duration::minutes(10),
                                    generation: version + 1,
                                }],
                            };
                            store.commit_step(&step).await.expect("commit");
                        }));
                    }
                    for t in tasks {
                        t.await.expect("task");
                    }
                });
                for v in versions.iter_mut() {
                    *v += 1;
                }
            }
            start.elapsed()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
