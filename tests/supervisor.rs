//! The lead supervisor (src/actors/supervisor.rs) through a lead whose steps fail: a trigger in
//! the test database raises on that lead's transcript insert (every step writes one), with the
//! SQLSTATE the test chooses, and counts each attempt in a sequence (sequences survive the
//! rollback). Parked after more than `restart_limit` failures within `restart_window`, not when
//! they are spread wider, never for a transient error; restarts back off up to the cap.

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use leadbot::config::Config;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

/// Makes every step of `lead` fail with `sqlstate`; returns the name of its attempt counter.
async fn fail_steps(app: &TestApp, lead: i64, sqlstate: &str) -> String {
    let seq = format!("attempts_{lead}");
    sqlx::raw_sql(&format!(
        "CREATE SEQUENCE {seq};
         CREATE OR REPLACE FUNCTION fail_step() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             PERFORM nextval(TG_ARGV[0]::regclass);
             RAISE EXCEPTION 'injected step failure' USING ERRCODE = TG_ARGV[1];
         END $$;
         CREATE TRIGGER fail_step_{lead} BEFORE INSERT ON transcript FOR EACH ROW
             WHEN (NEW.lead_id = {lead}) EXECUTE FUNCTION fail_step('{seq}', '{sqlstate}');"
    ))
    .execute(app.pool())
    .await
    .unwrap();
    seq
}

async fn heal(app: &TestApp, lead: i64) {
    sqlx::raw_sql(&format!("DROP TRIGGER fail_step_{lead} ON transcript"))
        .execute(app.pool())
        .await
        .unwrap();
}

async fn attempts(app: &TestApp, seq: &str) -> i64 {
    let (value, called): (i64, bool) = sqlx::query_as(&format!("SELECT last_value, is_called FROM {seq}"))
        .fetch_one(app.pool())
        .await
        .unwrap();
    if called {
        value
    } else {
        0
    }
}

/// Waits until the lead's steps failed `n` times; returns when each failure was seen.
async fn wait_attempts(app: &TestApp, seq: &str, n: i64) -> Vec<Instant> {
    let deadline = Instant::now() + WAIT;
    let mut seen = vec![];
    loop {
        let now = attempts(app, seq).await;
        while (seen.len() as i64) < now {
            seen.push(Instant::now());
        }
        if now >= n {
            return seen;
        }
        assert!(Instant::now() < deadline, "{now} attempts, expected {n}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A webchat lead in the dialog, then a message whose step fails with `sqlstate`.
async fn failing_lead(app: &TestApp, ext: &str, sqlstate: &str) -> (i64, String) {
    let (id, status) = app.new_lead(ext, None).await;
    assert_eq!(status, "bot_processing");
    let seq = fail_steps(app, id, sqlstate).await;
    // Whatever the answer (the step is not applied in time), the message is stored.
    app.post(&format!("/api/v1/leads/{id}/messages"), json!({"text": "89181234567"}))
        .await;
    (id, seq)
}

fn runtime(c: &mut Config, limit: u32, window: Duration, backoff: Duration, backoff_max: Duration) {
    let rt = &mut c.service.runtime;
    rt.restart_limit = limit;
    rt.restart_window = window;
    rt.restart_backoff = backoff;
    rt.restart_backoff_max = backoff_max;
}

#[tokio::test]
async fn more_than_restart_limit_failures_within_the_window_park_the_lead() {
    let app = TestApp::spawn_with(|c| {
        runtime(
            c,
            3,
            Duration::from_secs(60),
            Duration::from_millis(10),
            Duration::from_millis(50),
        )
    })
    .await;
    // P0001 (raise_exception): the database refuses the step, the same step fails again.
    let (id, seq) = failing_lead(&app, "w1", "P0001").await;
    let lead = app.wait_for(id, WAIT, |l| l["status"] == "needs_review").await;
    assert_eq!(lead["reason"], "crash_loop");
    // Parking dead-letters the message: nothing is left to replay, no attempt follows.
    app.wait_idle(WAIT).await;
    assert_eq!(
        attempts(&app, &seq).await,
        4,
        "the first failure and three restarts that failed: parked on the fourth"
    );
    let (_, body) = app.get(&format!("/api/v1/leads/{id}")).await;
    assert_eq!(body["phone"], serde_json::Value::Null, "the failed step wrote nothing");
    app.stop().await;
}

#[tokio::test]
async fn failures_spread_wider_than_the_window_never_park() {
    // Each restart waits 400ms; the window is 250ms: at most one failure is ever inside it.
    let app = TestApp::spawn_with(|c| {
        runtime(
            c,
            2,
            Duration::from_millis(250),
            Duration::from_millis(400),
            Duration::from_millis(400),
        )
    })
    .await;
    let (id, seq) = failing_lead(&app, "w2", "P0001").await;
    // Twice the failures that park a lead within one window (more than restart_limit = 2).
    wait_attempts(&app, &seq, 6).await;
    let lead = app.lead(id).await;
    assert_eq!(lead["status"], "bot_processing", "{lead}");
    assert!(lead["reason"].is_null(), "{lead}");
    // Once the fault is gone the next restart applies the message.
    heal(&app, id).await;
    let lead = app.wait_for(id, WAIT, |l| l["status"] == "assigned").await;
    assert_eq!(lead["phone"], "+79181234567");
    app.stop().await;
}

#[tokio::test]
async fn transient_database_errors_are_retried_and_never_park() {
    let app = TestApp::spawn_with(|c| {
        runtime(
            c,
            2,
            Duration::from_secs(60),
            Duration::from_millis(10),
            Duration::from_millis(50),
        )
    })
    .await;
    // 57P01 admin_shutdown and 08006 connection_failure: `StoreError::is_transient`.
    let (a, seq_a) = failing_lead(&app, "t1", "57P01").await;
    let (b, seq_b) = failing_lead(&app, "t2", "08006").await;
    // Far more than restart_limit + 1 = 3, which parks a lead failing for its own reasons.
    wait_attempts(&app, &seq_a, 12).await;
    wait_attempts(&app, &seq_b, 12).await;
    for id in [a, b] {
        let lead = app.lead(id).await;
        assert_eq!(lead["status"], "bot_processing", "{lead}");
        assert!(lead["reason"].is_null(), "{lead}");
        heal(&app, id).await;
    }
    for id in [a, b] {
        let lead = app.wait_for(id, WAIT, |l| l["status"] == "assigned").await;
        assert_eq!(lead["phone"], "+79181234567", "the message was kept through it all");
    }
    app.stop().await;
}

/// The gaps between consecutive attempts from the `from`th on.
fn gaps(seen: &[Instant], from: usize) -> Vec<Duration> {
    seen.windows(2).skip(from).map(|w| w[1] - w[0]).collect()
}

#[tokio::test]
async fn restart_backoff_doubles_up_to_its_cap_and_stays_there() {
    // 20, 40, 80, 160, then 200ms (uncapped it would go on: 320, 640, 1280ms).
    let app = TestApp::spawn_with(|c| {
        runtime(
            c,
            1000,
            Duration::from_secs(60),
            Duration::from_millis(20),
            Duration::from_millis(200),
        )
    })
    .await;
    let (id, seq) = failing_lead(&app, "b1", "P0001").await;
    let seen = wait_attempts(&app, &seq, 10).await;
    let all = gaps(&seen, 0);
    // Attempts are seen by polling every few ms: allow that much early, more for a busy host.
    let capped = gaps(&seen, 4);
    for g in &capped {
        assert!(*g >= Duration::from_millis(190), "waited the capped backoff: {all:?}");
        assert!(*g < Duration::from_millis(450), "never beyond the cap: {all:?}");
    }
    assert!(
        all[0] < Duration::from_millis(150),
        "the first restart is quick: {all:?}"
    );
    heal(&app, id).await;
    app.wait_for(id, WAIT, |l| l["status"] == "assigned").await;
    app.stop().await;
}

#[tokio::test]
async fn transient_failures_back_off_too() {
    let app = TestApp::spawn_with(|c| {
        runtime(
            c,
            2,
            Duration::from_secs(60),
            Duration::from_millis(20),
            Duration::from_millis(200),
        )
    })
    .await;
    let (id, seq) = failing_lead(&app, "b2", "57P01").await;
    let seen = wait_attempts(&app, &seq, 10).await;
    let all = gaps(&seen, 0);
    for g in gaps(&seen, 4) {
        assert!(g >= Duration::from_millis(190), "backed off to the cap: {all:?}");
    }
    heal(&app, id).await;
    app.wait_for(id, WAIT, |l| l["status"] == "assigned").await;
    app.stop().await;
}
