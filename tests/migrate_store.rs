//! `leadbot migrate-store`: a populated embedded store moved to a fresh PostgreSQL database
//! loses nothing — every table's rows, ids and sequences — and the service started on the
//! target carries on with the same leads. Moved back into a new SQLite file, every row reads
//! exactly as in the original.

mod common;

use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use common::{db_url, drop_db, fresh_db_name, RawDb, StoreKind, TestApp, TestDb};
use leadbot::domain::{DealJob, JobTaker, LeadId, Role};
use leadbot::store::{
    BookingStore, ChatStore, CounterRow, CrmStore, DealCommit, DealRef, DealStore, DealTimerChange, JobStore,
    NewOutbox, NewUser, OAuthTokens, SqliteStore, Store, UserStore, ViolationRow,
};
use serde_json::json;

const TABLES: &[&str] = &[
    "leads",
    "lead_snapshots",
    "inbox",
    "outbox",
    "lead_timers",
    "transcript",
    "routing_cursors",
    "crm_events",
    "crm_oauth_tokens",
    "crm_cursors",
    "crm_chat_links",
    "routing_queue",
    "manager_overrides",
    "telegram_updates",
    "telegram_chats",
    "telegram_users",
    "jobs",
    "job_reveals",
    "deal_assignments",
    "telegram_links",
    "generated_secrets",
    "deals",
    "deal_inbox",
    "deal_timers",
    "sla_violations",
    "sla_counters",
    "report_sends",
    "console_users",
    "console_sessions",
    "console_api_tokens",
    "bookings",
    "booking_cells",
    "csat",
];

fn migrate_store(from: &str, to: &str, replace: bool) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbot"));
    cmd.args(["migrate-store", "--from", from, "--to", to]);
    if replace {
        cmd.arg("--replace");
    }
    cmd.env("RUST_LOG", "warn").output().expect("leadbot runs")
}

/// Every row of `table`, each as one text line (SQLite's `quote()` of every column), by key.
async fn rows_of(raw: &RawDb, table: &str) -> Vec<String> {
    let RawDb::Lite(pool) = raw else {
        unreachable!("SQLite only")
    };
    let cols: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap();
    let expr = cols
        .iter()
        .map(|c| format!("quote({c})"))
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    sqlx::query_scalar(&format!("SELECT {expr} FROM {table} ORDER BY 1"))
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Fills the tables the web-chat dialog does not touch, through the store's own traits.
async fn fill_the_rest(store: &SqliteStore, lead: LeadId) {
    store
        .store_event(
            "bitrix24",
            "ONCRMLEADADD",
            "17",
            "bx:1",
            &json!({"FIELDS": {"ID": "17"}}),
        )
        .await
        .unwrap();
    store.set_cursor("bitrix24:leads", "17").await.unwrap();
    CrmStore::link_chat(store, "bitrix24", lead, "chat-9").await.unwrap();
    store
        .install_tokens(
            "member-1",
            &OAuthTokens {
                access_token: "a".into(),
                refresh_token: "r".into(),
                client_endpoint: "https://portal.example/rest/".into(),
                expires_at: Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await
        .unwrap();
    store.first_time("bot", 1001).await.unwrap();
    ChatStore::link_chat(store, "bot", 555, lead).await.unwrap();
    store.user_started("bot", 7, Some("olga")).await.unwrap();
    store.new_link("bot", lead, "deep-link-token").await.unwrap();
    store.use_link("bot", "deep-link-token").await.unwrap();
    let deal: DealJob = serde_json::from_value(json!({"title": "Монтаж", "client_phone": "+79181234567"})).unwrap();
    let job = store.upsert_job("D-1", &deal, -100).await.unwrap();
    store.job_posted(job.id, Some(42)).await.unwrap();
    let taker = JobTaker {
        user_id: 7,
        name: "Исполнитель".into(),
        login: Some("ex7".into()),
        crm_user_id: Some("u7".into()),
    };
    let effects = |j: &leadbot::store::JobRow| {
        vec![NewOutbox {
            kind: "deal".into(),
            payload: json!({"deal": j.deal_id}),
            idempotency_key: format!("job:{}:deal", j.id),
            delivered: false,
        }]
    };
    store.claim_job(job.id, &taker, "executor", &effects).await.unwrap();
    store.record_reveal(job.id, &taker, "button").await.unwrap();
    store.queue_put(lead, &json!({"lead": lead.0})).await.unwrap();
    let d = DealRef::new("bitrix24", "21");
    let applied = store
        .enqueue_deal_event(&d, "b24:ev1", &json!({"type": "timer", "key": "k"}))
        .await
        .unwrap();
    store
        .enqueue_deal_event(&d, "b24:ev2", &json!({"type": "timer", "key": "k2"}))
        .await
        .unwrap();
    let now = chrono::Utc::now();
    store
        .commit_deal_step(&DealCommit {
            deal: d.clone(),
            expected_version: 0,
            state: json!({"deal": "21"}),
            applied_inbox_id: applied,
            outbox: vec![],
            timers: vec![DealTimerChange::Arm {
                key: "yellow|entry1".into(),
                due_at: now + chrono::Duration::minutes(15),
            }],
            violations: vec![ViolationRow {
                key: "bitrix24:21|v".into(),
                crm: "bitrix24".into(),
                deal_id: "21".into(),
                robot: "first_contact_yellow".into(),
                manager: Some("7".into()),
                stage: None,
                started_at: now,
                due_at: now,
                detected_at: now,
            }],
            counters: vec![CounterRow {
                key: "bitrix24:21|c".into(),
                crm: "bitrix24".into(),
                deal_id: "21".into(),
                counter: "repeat_revenue".into(),
                manager: None,
                amount: 1500.5,
                at: now,
            }],
        })
        .await
        .unwrap();
    store.set_paused("2", true).await.unwrap();
    store
        .set_absent_until("1", chrono::NaiveDate::from_ymd_opt(2027, 1, 9))
        .await
        .unwrap();
    let user = store
        .create_user(&NewUser {
            username: "olga".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            role: Role::Manager,
            department: None,
            manager_id: Some(leadbot::domain::ManagerId::parse("1").unwrap()),
        })
        .await
        .unwrap()
        .unwrap();
    store
        .create_session("session-hash", user.id, "csrf", Utc::now() + chrono::Duration::hours(1))
        .await
        .unwrap();
    store.create_api_token(user.id, "crm", "token-hash").await.unwrap();
    leadbot::store::ReportStore::record_report_send(
        store,
        &leadbot::domain::ReportSend {
            key: "end_of_day|2026-12-02|head|mail".into(),
            kind: "end_of_day".into(),
            period_from: Utc::now() - chrono::Duration::hours(19),
            period_to: Utc::now() + chrono::Duration::hours(5),
            recipient: "head".into(),
        },
        &[],
    )
    .await
    .unwrap();
    // A visit booked (its cells) and another cancelled, and a score with a comment.
    let start = Utc::now() + chrono::Duration::days(1);
    let visit = |key: &str, hours: i64| leadbot::store::NewBooking {
        lead,
        key: key.into(),
        resource: "anna".into(),
        service: "haircut".into(),
        starts_at: start + chrono::Duration::hours(hours),
        ends_at: start + chrono::Duration::hours(hours) + chrono::Duration::minutes(60),
        busy_until: start + chrono::Duration::hours(hours) + chrono::Duration::minutes(70),
        cell_seconds: 900,
        channel: "webchat".into(),
        client_name: Some("Ольга".into()),
        phone: Some("+79181234567".into()),
        manager_id: Some("1".into()),
    };
    let leadbot::store::BookOutcome::Booked(kept) = store.book(&visit("visit-1", 0)).await.unwrap() else {
        panic!("booked")
    };
    let leadbot::store::BookOutcome::Booked(gone) = store.book(&visit("visit-2", 3)).await.unwrap() else {
        panic!("booked")
    };
    assert!(store.cancel_booking(lead, gone.id, Utc::now()).await.unwrap());
    store
        .record_csat(&leadbot::store::NewCsat {
            lead,
            key: "csat:visit-1".into(),
            score: 5,
            channel: "webchat".into(),
            manager_id: Some("1".into()),
            service: Some("haircut".into()),
            booking_id: Some(kept.id),
            at: Utc::now(),
        })
        .await
        .unwrap();
    store.csat_comment(lead, "csat:visit-1", "спасибо").await.unwrap();
}

#[tokio::test]
async fn an_embedded_store_moves_to_postgres_without_loss() {
    // A deployment on the embedded store: leads in every state, a dialog, notifications sent.
    let source = TestDb::fresh(StoreKind::Sqlite);
    let app = TestApp::spawn_on(source.clone(), |c| c.service.server.operator_token = None).await;
    let (talking, _) = app.new_lead("m1", None).await;
    app.say(talking, "не дам").await;
    let (assigned, _) = app.new_lead("m2", None).await;
    app.say(assigned, "мой номер +7 918 123-45-67").await;
    app.wait_notifications(1, Duration::from_secs(10)).await;
    app.wait_idle(Duration::from_secs(10)).await;
    let mut app = app;
    app.shutdown().await;
    let path = source.path().unwrap();
    let store = SqliteStore::connect(&path, 2).await.unwrap();
    fill_the_rest(&store, LeadId(talking)).await;
    // A row inserted and rolled back still advanced the sequence: the target must not reuse it.
    let ghost_id = {
        let mut tx = store.pool().begin().await.unwrap();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO transcript (lead_id, direction, text) VALUES ($1, 'out', 'x') RETURNING id",
        )
        .bind(talking)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        sqlx::query("DELETE FROM transcript WHERE id = $1")
            .bind(id)
            .execute(store.pool())
            .await
            .unwrap();
        id
    };
    store.close().await;
    let original = source.connect().await;
    for t in TABLES {
        assert!(
            original.i64(&format!("SELECT count(*) FROM {t}"), &[]).await > 0,
            "the test fills every table: {t} is empty"
        );
    }

    // While the source is in use, it is refused (its lock is held).
    let target = fresh_db_name();
    let running = SqliteStore::connect(&path, 2).await.unwrap();
    let busy = migrate_store(&source.url(), &db_url(&target), false);
    assert!(!busy.status.success());
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("another leadbot process"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    running.close().await;

    let out = migrate_store(&source.url(), &db_url(&target), false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("every table's count matches"), "{stdout}");
    let pg = TestDb::Postgres(target.clone()).connect().await;
    for t in TABLES {
        let q = format!("SELECT count(*) FROM {t}");
        let (a, b) = (original.i64(&q, &[]).await, pg.i64(&q, &[]).await);
        assert_eq!(a, b, "{t}");
        assert!(
            stdout
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == [*t, &b.to_string()]),
            "{t} {b} is reported: {stdout}"
        );
    }
    // A few contents, as PostgreSQL reads them.
    let RawDb::Pg(pool) = &pg else { unreachable!() };
    let (status, phone, manager): (String, String, String) =
        sqlx::query_as("SELECT status, phone, manager_id FROM leads WHERE id = $1")
            .bind(assigned)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), phone.as_str(), manager.as_str()),
        ("assigned", "+79181234567", "1")
    );
    let state: serde_json::Value = sqlx::query_scalar("SELECT state FROM lead_snapshots WHERE lead_id = $1")
        .bind(talking)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(state["status"], "bot_processing", "{state}");
    let paused: bool = sqlx::query_scalar("SELECT paused FROM manager_overrides WHERE manager_id = '2'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(paused);
    let next: i64 = sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('transcript', 'id'))")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(next, ghost_id + 1, "the sequence goes on where the source's did");

    // A second run onto the now populated target is refused unless told to replace it.
    let again = migrate_store(&source.url(), &db_url(&target), false);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--replace"));
    let replaced = migrate_store(&source.url(), &db_url(&target), true);
    assert!(
        replaced.status.success(),
        "{}",
        String::from_utf8_lossy(&replaced.stderr)
    );

    // And back into a new file: every row of every table reads exactly as in the original.
    let back = TestDb::fresh(StoreKind::Sqlite);
    let out = migrate_store(&db_url(&target), &back.url(), false);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let copy = back.connect().await;
    for t in TABLES {
        assert_eq!(rows_of(&original, t).await, rows_of(&copy, t).await, "{t}");
    }
    let seq = "SELECT seq FROM sqlite_sequence WHERE name = 'transcript'";
    assert_eq!(copy.i64(seq, &[]).await, original.i64(seq, &[]).await);
    original.close().await;
    copy.close().await;

    // The service started on the target sees the leads and carries on with them.
    let app = TestApp::spawn_on(TestDb::Postgres(target.clone()), |_| {}).await;
    let lead = app.lead(assigned).await;
    assert_eq!(lead["status"], "assigned");
    assert!(common::bot_texts(&lead).iter().any(|t| t.contains("Спасибо")), "{lead}");
    let replies = app.say(talking, "ладно, 89187654321").await;
    assert!(
        replies[0].contains("Спасибо"),
        "the dialog goes on from its snapshot: {replies:?}"
    );
    let (fresh, _) = app.new_lead("m3", None).await;
    assert!(fresh > assigned, "new ids follow the copied ones");
    pg.close().await;
    app.stop().await;
    drop_db(&target).await;
}

#[test]
fn the_same_file_is_not_copied_onto_itself() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    std::fs::write(dir.path().join("x.db"), b"").unwrap();
    let out = migrate_store(&url, &url, false);
    assert!(!out.status.success());
}
