//! Group commit (src/store/batch.rs, src/store/sqlite/batch.rs) against each store directly: a
//! stale step inside a batch of many fails alone — nothing of it is written — and every other
//! step of the batch is, all in one batch (one transaction, one fsync).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{db_url, drop_db, fresh_db_name, Metrics};
use leadbot::domain::{ChannelName, LeadId, LeadStatus};
use leadbot::store::{
    Direction, InboxPayload, NewLead, NewOutbox, PgStore, Projection, SqliteStore, StepCommit, Store, StoreError,
    TimerChange,
};
use serde_json::json;

const GOOD: usize = 40;

fn step(lead: LeadId, expected_version: i64, tag: &str, inbox: Option<i64>) -> StepCommit {
    StepCommit {
        lead,
        expected_version,
        state: json!({"tag": tag, "lead": lead.0}),
        projection: Projection {
            channel: ChannelName::new("webchat"),
            status: LeadStatus::BotProcessing,
            phone: None,
            manager_id: None,
            reason: Some(tag.to_string()),
        },
        applied_inbox_id: inbox,
        projection_unchanged: false,
        author: None,
        transcript: vec![
            (Direction::In, format!("{tag} in")),
            (Direction::Out, format!("{tag} out")),
        ],
        outbox: vec![NewOutbox {
            kind: "message".into(),
            payload: json!({"channel": "webchat", "text": format!("{tag} out")}),
            idempotency_key: format!("{tag}:{}", lead.0),
            delivered: false,
        }],
        timers: vec![TimerChange::Arm {
            kind: format!("{tag}_timer"),
            due_at: Utc::now() + chrono::Duration::minutes(10),
            generation: 7,
        }],
    }
}

/// The batch-size histogram is this process's: the two tests here take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn lead<S: Store + ?Sized>(store: &S, ext: &str) -> LeadId {
    let new = NewLead {
        source: "batch-test".into(),
        external_id: ext.into(),
        channel: ChannelName::new("webchat"),
        name: None,
        phone: None,
        text: None,
        segment: None,
        first_event: None,
        creation_key: None,
    };
    store.create_lead(&new).await.unwrap().lead.id
}

/// What of `tag`'s step is in the database for `lead`: snapshot version and tag, projection
/// reason, inbox row applied, transcript lines, outbox rows, timers.
async fn written(
    store: &PgStore,
    lead: LeadId,
    tag: &str,
    inbox: i64,
) -> (i64, Option<String>, Option<String>, bool, i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT version FROM lead_snapshots WHERE lead_id = $1),
                (SELECT state->>'tag' FROM lead_snapshots WHERE lead_id = $1),
                (SELECT reason FROM leads WHERE id = $1),
                (SELECT applied_at IS NOT NULL FROM inbox WHERE id = $3),
                (SELECT count(*) FROM transcript WHERE lead_id = $1 AND text LIKE $2 || ' %'),
                (SELECT count(*) FROM outbox WHERE lead_id = $1 AND idempotency_key = $2 || ':' || $1),
                (SELECT count(*) FROM lead_timers WHERE lead_id = $1 AND kind = $2 || '_timer')",
    )
    .bind(lead.0)
    .bind(tag)
    .bind(inbox)
    .fetch_one(store.pool())
    .await
    .unwrap()
}

fn batch_sizes() -> (f64, f64) {
    let m = Metrics(leadbot::telemetry::metrics_handle().render());
    let labels = [("writer", "steps")];
    (
        m.value("leadbot_write_batch_size_count", &labels),
        m.value("leadbot_write_batch_size_sum", &labels),
    )
}

#[tokio::test]
async fn a_stale_step_in_a_batch_fails_alone_and_writes_nothing() {
    let _serial = SERIAL.lock().await;
    // The recorder this process renders; the batch-size histogram shows how steps were batched.
    leadbot::telemetry::metrics_handle();
    let db = fresh_db_name();
    let store = Arc::new(PgStore::connect(&db_url(&db), 16).await.unwrap());

    // Good leads at version 1; `stale` at version 2 (its step expects 1); `fresh` at version 1
    // (its step expects 0: the "no snapshot yet" insert path); `blocker` holds the writer.
    let mut good = vec![];
    for i in 0..GOOD {
        let l = lead(store.as_ref(), &format!("g{i}")).await;
        store.commit_step(&step(l, 0, "before", None)).await.unwrap();
        good.push(l);
    }
    let stale = lead(store.as_ref(), "stale").await;
    store.commit_step(&step(stale, 0, "before", None)).await.unwrap();
    store.commit_step(&step(stale, 1, "other_writer", None)).await.unwrap();
    let fresh = lead(store.as_ref(), "fresh").await;
    store.commit_step(&step(fresh, 0, "before", None)).await.unwrap();
    let blocker = lead(store.as_ref(), "blocker").await;
    store.commit_step(&step(blocker, 0, "before", None)).await.unwrap();

    let mut inbox = std::collections::HashMap::new();
    for l in good.iter().chain([&stale, &fresh]) {
        let id = store
            .enqueue_inbox(
                *l,
                "batch-test",
                &format!("m{}", l.0),
                &InboxPayload::Message { text: "hi".into() },
            )
            .await
            .unwrap()
            .unwrap();
        inbox.insert(*l, id);
    }

    // Hold the writer inside a batch of the blocker's step alone: its snapshot row is locked.
    let mut lock = store.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM lead_snapshots WHERE lead_id = $1 FOR UPDATE")
        .bind(blocker.0)
        .execute(&mut *lock)
        .await
        .unwrap();
    let blocked = {
        let store = store.clone();
        tokio::spawn(async move { store.commit_step(&step(blocker, 1, "blocker", None)).await })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        if waiting == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the blocker's batch never waited on the lock"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (batches_before, steps_before) = batch_sizes();

    // Meanwhile every other step queues up for the next batch.
    let queued = Arc::new(AtomicUsize::new(0));
    let mut tasks = vec![];
    let mut steps: Vec<(LeadId, StepCommit)> = good
        .iter()
        .map(|l| (*l, step(*l, 1, "batch", Some(inbox[l]))))
        .collect();
    steps.push((stale, step(stale, 1, "batch", Some(inbox[&stale]))));
    steps.push((fresh, step(fresh, 0, "batch", Some(inbox[&fresh]))));
    let total = steps.len();
    for (l, s) in steps {
        let store = store.clone();
        let queued = queued.clone();
        tasks.push((
            l,
            tokio::spawn(async move {
                // The submit reaches the writer's queue in this same poll (the runtime is
                // single-threaded): counted here, queued before the test goes on.
                queued.fetch_add(1, Ordering::SeqCst);
                store.commit_step(&s).await
            }),
        ));
    }
    while queued.load(Ordering::SeqCst) < total {
        tokio::task::yield_now().await;
    }
    tokio::task::yield_now().await;
    lock.commit().await.unwrap();
    blocked.await.unwrap().unwrap();

    let mut results = std::collections::HashMap::new();
    for (l, t) in tasks {
        results.insert(l, t.await.unwrap());
    }
    let (batches_after, steps_after) = batch_sizes();
    assert_eq!(
        (batches_after - batches_before, steps_after - steps_before),
        (1.0, total as f64),
        "all {total} steps went in one batch"
    );

    for (l, expected) in [(stale, 1), (fresh, 0)] {
        match &results[&l] {
            Err(StoreError::VersionConflict { lead, expected: e }) => assert_eq!((*lead, *e), (l, expected)),
            other => panic!("{l}: expected a version conflict, got {other:?}"),
        }
    }
    let (version, tag, reason, applied, lines, rows, timers) = written(&store, stale, "batch", inbox[&stale]).await;
    assert_eq!(
        (version, tag.as_deref(), reason.as_deref(), applied, lines, rows, timers),
        (2, Some("other_writer"), Some("other_writer"), false, 0, 0, 0),
        "nothing of the stale step is written"
    );
    let (version, tag, reason, applied, lines, rows, timers) = written(&store, fresh, "batch", inbox[&fresh]).await;
    assert_eq!(
        (version, tag.as_deref(), reason.as_deref(), applied, lines, rows, timers),
        (1, Some("before"), Some("before"), false, 0, 0, 0),
        "nothing of the stale insert is written"
    );
    for l in &good {
        assert!(results[l].is_ok(), "{l}: {:?}", results[l]);
        let (version, tag, reason, applied, lines, rows, timers) = written(&store, *l, "batch", inbox[l]).await;
        assert_eq!(
            (version, tag.as_deref(), reason.as_deref(), applied, lines, rows, timers),
            (2, Some("batch"), Some("batch"), true, 2, 1, 1),
            "{l}: all of the step is written"
        );
    }
    // And the good ones were written by one transaction.
    let xmins: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT xmin::text) FROM lead_snapshots WHERE lead_id = ANY($1) AND state->>'tag' = 'batch'",
    )
    .bind(good.iter().map(|l| l.0).collect::<Vec<_>>())
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(xmins, 1);

    store.pool().close().await;
    drop_db(&db).await;
}

/// What of `tag`'s step is in the SQLite file for `lead` (as `written`).
async fn written_lite(
    store: &SqliteStore,
    lead: LeadId,
    tag: &str,
    inbox: i64,
) -> (i64, Option<String>, Option<String>, bool, i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT version FROM lead_snapshots WHERE lead_id = $1),
                (SELECT state ->> 'tag' FROM lead_snapshots WHERE lead_id = $1),
                (SELECT reason FROM leads WHERE id = $1),
                (SELECT applied_at IS NOT NULL FROM inbox WHERE id = $3),
                (SELECT count(*) FROM transcript WHERE lead_id = $1 AND text LIKE $2 || ' %'),
                (SELECT count(*) FROM outbox WHERE lead_id = $1 AND idempotency_key = $2 || ':' || $1),
                (SELECT count(*) FROM lead_timers WHERE lead_id = $1 AND kind = $2 || '_timer')",
    )
    .bind(lead.0)
    .bind(tag)
    .bind(inbox)
    .fetch_one(store.pool())
    .await
    .unwrap()
}

/// The same on the embedded store: the writer is held by another connection's write lock (a
/// `sqlite3` shell would do the same) while the steps queue up behind it.
#[tokio::test]
async fn sqlite_a_stale_step_in_a_batch_fails_alone_and_the_rest_is_one_batch() {
    let _serial = SERIAL.lock().await;
    leadbot::telemetry::metrics_handle();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.db");
    let store = Arc::new(SqliteStore::connect(&path, 4).await.unwrap());
    let mut good = vec![];
    for i in 0..GOOD {
        let l = lead(store.as_ref(), &format!("g{i}")).await;
        store.commit_step(&step(l, 0, "before", None)).await.unwrap();
        good.push(l);
    }
    let stale = lead(store.as_ref(), "stale").await;
    store.commit_step(&step(stale, 0, "before", None)).await.unwrap();
    store.commit_step(&step(stale, 1, "other_writer", None)).await.unwrap();
    let fresh = lead(store.as_ref(), "fresh").await;
    store.commit_step(&step(fresh, 0, "before", None)).await.unwrap();
    let blocker = lead(store.as_ref(), "blocker").await;
    store.commit_step(&step(blocker, 0, "before", None)).await.unwrap();
    let mut inbox = std::collections::HashMap::new();
    for l in good.iter().chain([&stale, &fresh]) {
        let id = store
            .enqueue_inbox(
                *l,
                "batch-test",
                &format!("m{}", l.0),
                &InboxPayload::Message { text: "hi".into() },
            )
            .await
            .unwrap()
            .unwrap();
        inbox.insert(*l, id);
    }

    // Another connection holds the write lock; the blocker's batch is taken by the writer
    // (counted) and waits in SQLite's busy handler.
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
    let mut other = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&opts)
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();
    let (batches_at_start, _) = batch_sizes();
    let blocked = {
        let store = store.clone();
        tokio::spawn(async move { store.commit_step(&step(blocker, 1, "blocker", None)).await })
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    while batch_sizes().0 < batches_at_start + 1.0 {
        assert!(Instant::now() < deadline, "the writer never took the blocker's batch");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (batches_before, steps_before) = batch_sizes();

    let queued = Arc::new(AtomicUsize::new(0));
    let mut tasks = vec![];
    let mut steps: Vec<(LeadId, StepCommit)> = good
        .iter()
        .map(|l| (*l, step(*l, 1, "batch", Some(inbox[l]))))
        .collect();
    steps.push((stale, step(stale, 1, "batch", Some(inbox[&stale]))));
    steps.push((fresh, step(fresh, 0, "batch", Some(inbox[&fresh]))));
    let total = steps.len();
    for (l, s) in steps {
        let store = store.clone();
        let queued = queued.clone();
        tasks.push((
            l,
            tokio::spawn(async move {
                queued.fetch_add(1, Ordering::SeqCst);
                store.commit_step(&s).await
            }),
        ));
    }
    while queued.load(Ordering::SeqCst) < total {
        tokio::task::yield_now().await;
    }
    tokio::task::yield_now().await;
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    blocked.await.unwrap().unwrap();

    let mut results = std::collections::HashMap::new();
    for (l, t) in tasks {
        results.insert(l, t.await.unwrap());
    }
    let (batches_after, steps_after) = batch_sizes();
    assert_eq!(
        (batches_after - batches_before, steps_after - steps_before),
        (1.0, total as f64),
        "all {total} steps went in one batch"
    );
    for (l, expected) in [(stale, 1), (fresh, 0)] {
        match &results[&l] {
            Err(StoreError::VersionConflict { lead, expected: e }) => assert_eq!((*lead, *e), (l, expected)),
            other => panic!("{l}: expected a version conflict, got {other:?}"),
        }
    }
    assert_eq!(
        written_lite(&store, stale, "batch", inbox[&stale]).await,
        (
            2,
            Some("other_writer".into()),
            Some("other_writer".into()),
            false,
            0,
            0,
            0
        ),
        "nothing of the stale step is written"
    );
    assert_eq!(
        written_lite(&store, fresh, "batch", inbox[&fresh]).await,
        (1, Some("before".into()), Some("before".into()), false, 0, 0, 0),
        "nothing of the stale insert is written"
    );
    for l in &good {
        assert!(results[l].is_ok(), "{l}: {:?}", results[l]);
        assert_eq!(
            written_lite(&store, *l, "batch", inbox[l]).await,
            (2, Some("batch".into()), Some("batch".into()), true, 2, 1, 1),
            "{l}: all of the step is written"
        );
    }
    store.close().await;
}
