//! The store contract: every method of `Store`, `CrmStore`, `ChatStore` and `JobStore`, written
//! once as generic functions over the traits and run against both implementations — PostgreSQL
//! (each test its own database) and the embedded SQLite file (each test its own temporary
//! file). A behaviour one store has and the other lacks fails here.

mod common;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{db_url, drop_db, fresh_db_name};
use leadbot::domain::{ChannelName, Claim, DealJob, EventKey, JobTaker, LeadId, LeadStatus, ManagerId, Phone, Role};
use leadbot::store::{
    ChatStore, CounterRow, CrmStore, DealCommit, DealRef, DealStore, DealTimerChange, Direction, InboxPayload,
    JobStore, NewLead, NewOutbox, NewUser, OAuthTokens, PgStore, Projection, ReportStore, SqliteStore, StepCommit,
    Store, StoreError, TimerChange, UserStore, ViolationRow,
};
use serde_json::json;

/// Everything a backend implements.
trait Backend: Store + CrmStore + ChatStore + JobStore + DealStore + UserStore + ReportStore + Clone {}
impl<T: Store + CrmStore + ChatStore + JobStore + DealStore + UserStore + ReportStore + Clone> Backend for T {}

// ---------------------------------------------------------------------------------------------
// The two stores, each on a fresh database.

struct Pg {
    db: String,
}

impl Pg {
    async fn open() -> (PgStore, Pg) {
        let db = fresh_db_name();
        let store = PgStore::connect(&db_url(&db), 8).await.expect("PostgreSQL store");
        (store, Pg { db })
    }

    async fn reopen(&self) -> PgStore {
        PgStore::connect(&db_url(&self.db), 8).await.expect("PostgreSQL store")
    }

    async fn done(self, store: PgStore) {
        store.pool().close().await;
        drop_db(&self.db).await;
    }
}

struct Lite {
    dir: tempfile::TempDir,
}

impl Lite {
    async fn open() -> (SqliteStore, Lite) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteStore::connect(&dir.path().join("leadbot.db"), 4)
            .await
            .expect("SQLite store");
        (store, Lite { dir })
    }

    async fn reopen(&self) -> SqliteStore {
        SqliteStore::connect(&self.dir.path().join("leadbot.db"), 4)
            .await
            .expect("SQLite store")
    }

    async fn done(self, store: SqliteStore) {
        store.close().await;
    }
}

/// Each listed generic test on each store.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, db) = super::Pg::open().await;
                    super::$name(&store).await;
                    db.done(store).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, db) = super::Lite::open().await;
                    super::$name(&store).await;
                    db.done(store).await;
                }
            )*
        }
    };
}

contract!(
    deal_events_are_deduplicated_and_applied_in_order,
    a_deal_step_is_fenced_and_keeps_timers_outbox_violations_and_counters,
    deal_timers_are_claimed_with_a_lease_and_fired_once,
    creation_is_idempotent_and_keeps_the_creators_key,
    inbox_rows_are_deduplicated_and_need_a_lead,
    a_step_is_all_or_nothing_and_fenced_by_its_version,
    a_stale_or_refused_step_fails_alone_in_a_shared_batch,
    timer_changes_fold_per_kind_and_claims_hold_a_lease,
    outbox_rows_go_out_in_order_per_lead_and_kind,
    outbox_rows_are_given_up_listed_and_requeued,
    a_stored_inbox_row_names_the_leads_row_before_it,
    delivered_rows_are_never_claimed_and_an_unchanged_card_is_left_alone,
    messages_of_a_channel_are_counted_since_a_moment,
    a_parked_lead_needs_review_and_its_timers_are_gone,
    leads_are_listed_found_and_counted,
    routing_state_survives_a_restart,
    generated_secrets_are_kept_and_replaced,
    crm_events_are_deduplicated_claimed_and_finished,
    crm_cursors_chat_links_and_tokens,
    the_refresh_token_compare_and_set_has_one_winner,
    chat_updates_links_and_users,
    a_job_has_exactly_one_taker_under_concurrency,
    jobs_are_posted_reposted_and_revealed,
    users_are_unique_and_the_first_one_is_made_once,
    sessions_expire_and_end_with_a_new_password,
    api_tokens_name_their_user_until_revoked,
    reports_read_a_periods_rows,
    a_scheduled_report_is_recorded_once_with_its_outbox_row,
);

// ---------------------------------------------------------------------------------------------
// Helpers.

fn new_lead(ext: &str) -> NewLead {
    NewLead {
        source: "contract".into(),
        external_id: ext.into(),
        channel: ChannelName::new("webchat"),
        name: Some("Ольга".into()),
        phone: None,
        text: Some("здравствуйте".into()),
        segment: None,
        first_event: None,
        creation_key: None,
    }
}

async fn lead<S: Backend>(s: &S, ext: &str) -> LeadId {
    s.create_lead(&new_lead(ext)).await.expect("lead").lead.id
}

fn step(lead: LeadId, expected_version: i64, tag: &str) -> StepCommit {
    StepCommit {
        lead,
        expected_version,
        state: json!({"tag": tag}),
        projection: Projection {
            channel: ChannelName::new("webchat"),
            status: LeadStatus::BotProcessing,
            phone: None,
            manager_id: None,
            reason: Some(tag.to_string()),
        },
        projection_unchanged: false,
        applied_inbox_id: None,
        author: None,
        transcript: vec![(Direction::Out, format!("{tag} out"))],
        outbox: vec![NewOutbox {
            kind: "message".into(),
            payload: json!({"text": format!("{tag} out")}),
            idempotency_key: format!("{tag}:{}", lead.0),
            delivered: false,
        }],
        timers: vec![],
    }
}

fn outbox(kind: &str, key: &str) -> NewOutbox {
    NewOutbox {
        kind: kind.into(),
        payload: json!({"key": key}),
        idempotency_key: key.into(),
        delivered: false,
    }
}

fn at(secs_from_now: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(secs_from_now)
}

/// A step that only changes timers (version `v` → `v + 1`).
async fn timers_step<S: Backend>(s: &S, lead: LeadId, v: i64, timers: Vec<TimerChange>) {
    let mut st = step(lead, v, &format!("timers{v}"));
    st.outbox.clear();
    st.transcript.clear();
    st.timers = timers;
    s.commit_step(&st).await.expect("timer step");
}

async fn pending_keys<S: Backend>(s: &S) -> Vec<String> {
    let now = Utc::now();
    s.claim_outbox(now, now, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.idempotency_key)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Store: leads, inbox, steps.

async fn creation_is_idempotent_and_keeps_the_creators_key<S: Backend>(s: &S) {
    let mut new = new_lead("c1");
    new.creation_key = Some("creator-key-0123456789".into());
    new.phone = Some("+79181234567".into());
    let first = s.create_lead(&new).await.unwrap();
    assert!(first.created);
    assert_eq!(first.lead.status, LeadStatus::New);
    assert_eq!(first.lead.creation_key.as_deref(), Some("creator-key-0123456789"));
    assert_eq!(first.lead.phone, Some(Phone::parse("+79181234567").unwrap()));
    let token = first.lead.chat_token.clone().expect("a chat token is generated");
    assert_eq!(token.len(), 32);

    // The same (source, external_id) again, even with other data: the stored lead, unchanged.
    let mut again = new.clone();
    again.name = Some("Пётр".into());
    again.creation_key = Some("another-creator-key-000".into());
    let second = s.create_lead(&again).await.unwrap();
    assert!(!second.created);
    assert_eq!(second.lead.id, first.lead.id);
    assert_eq!(second.lead.chat_token.as_deref(), Some(token.as_str()));
    assert_eq!(second.lead.creation_key.as_deref(), Some("creator-key-0123456789"));
    assert_eq!(second.lead.name.as_deref(), Some("Ольга"));

    // Exactly one intake row, carrying the raw phone and text for the dialog.
    let inbox = s.inbox_after(first.lead.id, 0, 10).await.unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        inbox[0].payload,
        InboxPayload::Intake {
            phone: Some("+79181234567".into()),
            text: Some("здравствуйте".into())
        }
    );
    // Its key makes a redelivery of the creating event a duplicate.
    let key = new.intake_key();
    let dup = s
        .enqueue_inbox(
            first.lead.id,
            &key.source,
            &key.key,
            &InboxPayload::Message { text: "x".into() },
        )
        .await
        .unwrap();
    assert_eq!(dup, None);

    // A provider's own first-event key is the intake row's key.
    // A raw phone that is not E.164 yet travels to the dialog but is not shown as the lead's.
    let mut raw = new_lead("c3");
    raw.phone = Some("8 918 123-45-67".into());
    let raw = s.create_lead(&raw).await.unwrap();
    assert_eq!(raw.lead.phone, None);
    assert_eq!(
        s.inbox_after(raw.lead.id, 0, 1).await.unwrap()[0].payload,
        InboxPayload::Intake {
            phone: Some("8 918 123-45-67".into()),
            text: Some("здравствуйте".into())
        }
    );

    let mut tg = new_lead("c2");
    tg.first_event = Some(EventKey::new("telegram", "update:77"));
    let created = s.create_lead(&tg).await.unwrap();
    let dup = s
        .enqueue_inbox(
            created.lead.id,
            "telegram",
            "update:77",
            &InboxPayload::Message { text: "x".into() },
        )
        .await
        .unwrap();
    assert_eq!(dup, None, "the creating event's redelivery is a duplicate");
    assert_ne!(created.lead.chat_token, first.lead.chat_token);

    assert!(matches!(
        s.get_lead(LeadId(9_999_999)).await,
        Err(StoreError::LeadNotFound(LeadId(9_999_999)))
    ));
    assert!(matches!(
        s.load_lead(LeadId(9_999_999)).await,
        Err(StoreError::LeadNotFound(_))
    ));
    let (record, snapshot) = s.load_lead(first.lead.id).await.unwrap();
    assert_eq!(record.id, first.lead.id);
    assert!(snapshot.is_none(), "no step yet");
    s.ping().await.unwrap();
}

async fn inbox_rows_are_deduplicated_and_need_a_lead<S: Backend>(s: &S) {
    let a = lead(s, "i1").await;
    let b = lead(s, "i2").await;
    let msg = |t: &str| InboxPayload::Message { text: t.into() };
    let m1 = s
        .enqueue_inbox(a, "api", "m1", &msg("один"))
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(s.enqueue_inbox(a, "api", "m1", &msg("again")).await.unwrap(), None);
    // The key is per source.
    let other = s
        .enqueue_inbox(a, "telegram", "m1", &msg("два"))
        .await
        .unwrap()
        .expect("stored");
    assert!(other > m1, "ids only grow");
    assert!(matches!(
        s.enqueue_inbox(LeadId(9_999_999), "api", "m9", &msg("x")).await,
        Err(StoreError::LeadNotFound(LeadId(9_999_999)))
    ));

    // Many at once (one batch): each answered on its own, duplicates and strangers included.
    let mut tasks = vec![];
    for i in 0..30 {
        let s = s.clone();
        let (l, key) = match i % 3 {
            0 => (b, format!("b{i}")),
            1 => (b, "dup".to_string()),
            _ => (LeadId(8_888_000 + i), format!("x{i}")),
        };
        tasks.push(tokio::spawn(async move {
            (
                l,
                s.enqueue_inbox(l, "api", &key, &InboxPayload::Message { text: key.clone() })
                    .await,
            )
        }));
    }
    let (mut stored, mut dups, mut missing) = (0, 0, 0);
    for t in tasks {
        match t.await.unwrap() {
            (_, Ok(Some(_))) => stored += 1,
            (_, Ok(None)) => dups += 1,
            (l, Err(StoreError::LeadNotFound(x))) if l == x => missing += 1,
            (_, other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        (stored, dups, missing),
        (10 + 1, 9, 10),
        "one of the ten `dup`s is stored"
    );

    let rows = s.inbox_after(a, 0, 10).await.unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    assert_eq!(rows.len(), 3, "intake, m1, telegram m1");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
    assert_eq!(rows[1].payload, msg("один"));
    assert_eq!(s.inbox_after(a, m1, 10).await.unwrap().len(), 1);
    assert_eq!(s.inbox_after(a, 0, 2).await.unwrap().len(), 2, "limit");
    assert!(rows[0].received_at <= Utc::now());

    assert!(s.has_unapplied_inbox(a).await.unwrap());
    let waiting = s.leads_with_unapplied_inbox(10).await.unwrap();
    let leads: Vec<LeadId> = waiting.iter().map(|(l, _)| *l).collect();
    assert_eq!(leads, vec![a, b], "oldest unapplied row first");
    assert_eq!(s.leads_with_unapplied_inbox(1).await.unwrap().len(), 1);
}

async fn a_step_is_all_or_nothing_and_fenced_by_its_version<S: Backend>(s: &S) {
    let l = lead(s, "s1").await;
    let intake = s.inbox_after(l, 0, 1).await.unwrap()[0].id;
    let mut first = step(l, 0, "one");
    first.applied_inbox_id = Some(intake);
    first.transcript = vec![
        (Direction::Out, "Здравствуйте".into()),
        (Direction::Out, "Ваш номер?".into()),
    ];
    first.timers = vec![TimerChange::Arm {
        kind: "reask".into(),
        due_at: at(600),
        generation: 1,
    }];
    let stored = s.commit_step(&first).await.unwrap();

    let (record, snap) = s.load_lead(l).await.unwrap();
    let snap = snap.expect("snapshot");
    assert_eq!((snap.version, snap.state.clone()), (1, json!({"tag": "one"})));
    assert_eq!(snap.last_applied_inbox_id, intake);
    assert_eq!(record.status, LeadStatus::BotProcessing);
    assert_eq!(record.reason.as_deref(), Some("one"));
    assert!(
        !s.has_unapplied_inbox(l).await.unwrap(),
        "the intake row is applied with the step"
    );
    let lines = s.transcript(l, 0).await.unwrap();
    assert_eq!(
        lines
            .iter()
            .map(|e| (e.direction.as_str(), e.text.as_str()))
            .collect::<Vec<_>>(),
        [("out", "Здравствуйте"), ("out", "Ваш номер?")]
    );
    // The step hands back the lines as stored (the actor answers the client with them).
    assert_eq!(
        stored
            .iter()
            .map(|e| (e.id, e.direction.as_str(), e.text.as_str(), e.at.timestamp()))
            .collect::<Vec<_>>(),
        lines
            .iter()
            .map(|e| (e.id, e.direction.as_str(), e.text.as_str(), e.at.timestamp()))
            .collect::<Vec<_>>()
    );
    assert_eq!(s.transcript(l, lines[0].id).await.unwrap().len(), 1);
    assert_eq!(s.timers(l).await.unwrap().len(), 1);
    assert_eq!(s.outbox_pending().await.unwrap(), 1);

    // Stale writers are fenced: nothing of theirs is written.
    for stale in [step(l, 0, "stale0"), step(l, 5, "stale5")] {
        match s.commit_step(&stale).await {
            Err(StoreError::VersionConflict { lead, expected }) => {
                assert_eq!((lead, expected), (l, stale.expected_version))
            }
            other => panic!("expected a version conflict, got {other:?}"),
        }
    }
    assert_eq!(s.load_lead(l).await.unwrap().1.unwrap().version, 1);
    assert_eq!(s.transcript(l, 0).await.unwrap().len(), 2);
    assert_eq!(s.outbox_pending().await.unwrap(), 1);

    // The next version, with a phone and a manager; an outbox key seen before is not re-added.
    let mut second = step(l, 1, "two");
    second.projection.status = LeadStatus::Assigned;
    second.projection.phone = Some(Phone::parse("+79181234567").unwrap());
    second.projection.manager_id = Some(ManagerId::parse("7").unwrap());
    second.outbox.push(outbox("message", &format!("one:{}", l.0)));
    s.commit_step(&second).await.unwrap();
    let (record, snap) = s.load_lead(l).await.unwrap();
    assert_eq!(snap.unwrap().version, 2);
    assert_eq!(record.status, LeadStatus::Assigned);
    assert_eq!(record.phone.as_ref().map(|p| p.as_str()), Some("+79181234567"));
    assert_eq!(record.manager_id.as_ref().map(|m| m.as_str()), Some("7"));
    assert!(record.updated_at >= record.created_at);
    let keys: HashSet<String> = pending_keys(s).await.into_iter().collect();
    assert_eq!(
        keys,
        HashSet::from([format!("one:{}", l.0), format!("two:{}", l.0)]),
        "idempotency keys are unique"
    );
    // A step for a lead that does not exist is refused (not transient).
    let err = s.commit_step(&step(LeadId(9_999_999), 0, "ghost")).await.unwrap_err();
    assert!(!err.is_transient(), "{err:?}");
}

async fn a_stale_or_refused_step_fails_alone_in_a_shared_batch<S: Backend>(s: &S) {
    let mut good = vec![];
    for i in 0..24 {
        let l = lead(s, &format!("g{i}")).await;
        s.commit_step(&step(l, 0, "before")).await.unwrap();
        good.push(l);
    }
    let stale = lead(s, "stale").await;
    s.commit_step(&step(stale, 0, "before")).await.unwrap();
    s.commit_step(&step(stale, 1, "other_writer")).await.unwrap();
    let ghost = LeadId(9_999_999);

    // Every step is submitted before the writer runs again (the test runtime is single-threaded
    // and the writer is woken behind the submitting tasks), so they share one batch: the stale
    // one meets the version fence, the ghost's snapshot its foreign key, and the batch is
    // retried step by step — the others must not notice.
    let mut tasks = vec![];
    for l in good.iter().copied().chain([stale, ghost]) {
        let s = s.clone();
        let expected = if l == ghost { 0 } else { 1 };
        tasks.push((
            l,
            tokio::spawn(async move { s.commit_step(&step(l, expected, "batch")).await }),
        ));
    }
    for (l, t) in tasks {
        let r = t.await.unwrap();
        if l == stale {
            assert!(
                matches!(r, Err(StoreError::VersionConflict { lead, expected: 1 }) if lead == stale),
                "{r:?}"
            );
        } else if l == ghost {
            assert!(matches!(&r, Err(e) if !e.is_transient()), "{r:?}");
        } else {
            assert!(r.is_ok(), "{l}: {r:?}");
            let (rec, snap) = s.load_lead(l).await.unwrap();
            assert_eq!(snap.map(|x| (x.version, x.state)), Some((2, json!({"tag": "batch"}))));
            assert_eq!(rec.reason.as_deref(), Some("batch"));
            assert_eq!(s.transcript(l, 0).await.unwrap().len(), 2);
        }
    }
    let (rec, snap) = s.load_lead(stale).await.unwrap();
    assert_eq!(
        snap.map(|x| (x.version, x.state)),
        Some((2, json!({"tag": "other_writer"})))
    );
    assert_eq!(rec.reason.as_deref(), Some("other_writer"));
    let texts: Vec<String> = s
        .transcript(stale, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.text)
        .collect();
    assert_eq!(texts, ["before out", "other_writer out"], "nothing of the stale step");
    let keys = pending_keys(s).await;
    assert!(!keys.contains(&format!("batch:{}", stale.0)));
    assert_eq!(keys.iter().filter(|k| k.starts_with("batch:")).count(), good.len());
}

async fn timer_changes_fold_per_kind_and_claims_hold_a_lease<S: Backend>(s: &S) {
    let l = lead(s, "t1").await;
    let other = lead(s, "t2").await;
    assert_eq!(s.next_timer_due().await.unwrap(), None);
    let arm = |kind: &str, due: DateTime<Utc>, generation: i64| TimerChange::Arm {
        kind: kind.into(),
        due_at: due,
        generation,
    };
    // Armed, re-armed in the same step (the last wins), one cancelled after being armed.
    timers_step(
        s,
        l,
        0,
        vec![
            arm("reask", at(600), 1),
            arm("reask", at(-5), 2),
            arm("no_answer", at(-1), 3),
            arm("gone", at(-1), 4),
            TimerChange::Cancel { kind: "gone".into() },
        ],
    )
    .await;
    timers_step(s, other, 0, vec![arm("reask", at(3600), 1)]).await;
    let rows = s.timers(l).await.unwrap();
    assert_eq!(
        rows.iter().map(|t| (t.kind.as_str(), t.generation)).collect::<Vec<_>>(),
        [("reask", 2), ("no_answer", 3)],
        "earliest due first"
    );
    let next = s.next_timer_due().await.unwrap().expect("a timer");
    assert!(next <= Utc::now() - chrono::Duration::seconds(4), "{next}");

    // Claimed once, hidden until the lease lapses, earliest first, limited.
    let now = Utc::now();
    let one = s.claim_due_timers(now, at(60), 1).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].lead, one[0].kind.as_str(), one[0].generation), (l, "reask", 2));
    let rest = s.claim_due_timers(now, at(60), 10).await.unwrap();
    assert_eq!(rest.iter().map(|t| t.kind.as_str()).collect::<Vec<_>>(), ["no_answer"]);
    assert!(s.claim_due_timers(Utc::now(), at(60), 10).await.unwrap().is_empty());
    // A claimed timer is due again when its lease is over.
    assert!(s.next_timer_due().await.unwrap().unwrap() > Utc::now() + chrono::Duration::seconds(50));
    let later = s.claim_due_timers(at(61), at(120), 10).await.unwrap();
    assert_eq!(later.len(), 2, "both leases lapsed");

    // Fired with its generation: deleted; with a stale one (re-armed since): kept, and re-arming
    // clears the claim.
    timers_step(
        s,
        l,
        1,
        vec![
            TimerChange::Fired {
                kind: "reask".into(),
                generation: 2,
            },
            TimerChange::Fired {
                kind: "no_answer".into(),
                generation: 1,
            },
        ],
    )
    .await;
    assert_eq!(
        s.timers(l)
            .await
            .unwrap()
            .iter()
            .map(|t| t.kind.as_str())
            .collect::<Vec<_>>(),
        ["no_answer"]
    );
    timers_step(
        s,
        l,
        2,
        vec![
            arm("no_answer", at(-1), 5),
            TimerChange::Fired {
                kind: "no_answer".into(),
                generation: 3,
            },
        ],
    )
    .await;
    let again = s.claim_due_timers(Utc::now(), at(60), 10).await.unwrap();
    assert_eq!(
        again
            .iter()
            .map(|t| (t.kind.as_str(), t.generation))
            .collect::<Vec<_>>(),
        [("no_answer", 5)],
        "a re-arm in the same step wins over a fired stale generation and is claimable at once"
    );
    assert_eq!(
        s.timers(other).await.unwrap().len(),
        1,
        "another lead's timer untouched"
    );
}

async fn outbox_rows_go_out_in_order_per_lead_and_kind<S: Backend>(s: &S) {
    let a = lead(s, "o1").await;
    let b = lead(s, "o2").await;
    let mut st = step(a, 0, "a");
    st.outbox = vec![
        outbox("message", "a-m1"),
        outbox("message", "a-m2"),
        outbox("notification", "a-n1"),
    ];
    s.commit_step(&st).await.unwrap();
    let mut st = step(b, 0, "b");
    st.outbox = vec![outbox("message", "b-m1")];
    s.commit_step(&st).await.unwrap();
    s.enqueue_effects(&[outbox("deal", "d1"), outbox("deal", "d1")])
        .await
        .unwrap();
    assert_eq!(s.outbox_pending().await.unwrap(), 5, "an effect's key once");

    let now = Utc::now();
    let claimed = s.claim_outbox(now, at(60), 100).await.unwrap();
    let keys: Vec<&str> = claimed.iter().map(|i| i.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["a-m1", "a-m2", "a-n1", "b-m1", "d1"], "all due, by id");
    assert!(claimed.iter().all(|i| i.attempts == 1));
    assert_eq!(claimed[0].lead, Some(a));
    assert_eq!(claimed[4].lead, None, "an effect belongs to no lead");
    assert_eq!(claimed[0].payload, json!({"key": "a-m1"}));
    let id = |k: &str| claimed.iter().find(|i| i.idempotency_key == k).unwrap().id;
    assert!(
        s.claim_outbox(Utc::now(), at(60), 100).await.unwrap().is_empty(),
        "claimed rows are leased"
    );

    // a-m1 fails and waits for its retry: a-m2 (due again once its own lease is over) must not
    // overtake it; the notification and the other lead's rows are not held back.
    s.outbox_retry(id("a-m1"), "503", at(300)).await.unwrap();
    s.outbox_retry(id("a-m2"), "requeued", Utc::now()).await.unwrap();
    s.outbox_retry(id("a-n1"), "requeued", Utc::now()).await.unwrap();
    s.outbox_retry(id("b-m1"), "requeued", Utc::now()).await.unwrap();
    let claimed = s.claim_outbox(Utc::now(), at(60), 100).await.unwrap();
    let keys: Vec<&str> = claimed.iter().map(|i| i.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["a-n1", "b-m1"], "a-m2 waits behind a-m1");
    assert_eq!(claimed[0].attempts, 2);

    // Once a-m1 is sent, a-m2 goes.
    s.outbox_sent(id("a-m1")).await.unwrap();
    let claimed = s.claim_outbox(Utc::now(), at(60), 100).await.unwrap();
    assert_eq!(
        claimed.iter().map(|i| i.idempotency_key.as_str()).collect::<Vec<_>>(),
        ["a-m2"]
    );
    // The limit takes the oldest.
    s.outbox_retry(id("a-m2"), "x", Utc::now()).await.unwrap();
    s.outbox_retry(id("d1"), "x", Utc::now()).await.unwrap();
    let one = s.claim_outbox(Utc::now(), at(60), 1).await.unwrap();
    assert_eq!(one[0].idempotency_key, "a-m2");
}

async fn outbox_rows_are_given_up_listed_and_requeued<S: Backend>(s: &S) {
    s.enqueue_effects(&[outbox("notification", "n1"), outbox("notification", "n2")])
        .await
        .unwrap();
    let claimed = s.claim_outbox(Utc::now(), at(60), 10).await.unwrap();
    let (n1, n2) = (claimed[0].id, claimed[1].id);
    s.outbox_failed(n1, "400 bad request").await.unwrap();
    s.outbox_sent(n2).await.unwrap();
    assert_eq!(s.outbox_failed_count().await.unwrap(), 1);
    assert_eq!(s.outbox_pending().await.unwrap(), 0);
    let failed = s.outbox_rows("failed", 0, 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (
            failed[0].id,
            failed[0].status.as_str(),
            failed[0].last_error.as_deref(),
            failed[0].attempts
        ),
        (n1, "failed", Some("400 bad request"), 1)
    );
    let sent = s.outbox_rows("sent", 0, 10).await.unwrap();
    assert_eq!(sent.iter().map(|r| r.id).collect::<Vec<_>>(), [n2]);
    assert_eq!(sent[0].last_error, None);
    assert!(s.outbox_rows("sent", n2, 10).await.unwrap().is_empty(), "after_id");

    assert!(!s.outbox_requeue(n2).await.unwrap(), "only a failed row is requeued");
    assert!(s.outbox_requeue(n1).await.unwrap());
    assert!(!s.outbox_requeue(n1).await.unwrap());
    let again = s.claim_outbox(Utc::now(), at(60), 10).await.unwrap();
    assert_eq!(
        (again.len(), again[0].id, again[0].attempts),
        (1, n1, 1),
        "fresh attempts"
    );
    assert_eq!(s.outbox_failed_count().await.unwrap(), 0);
}

/// The lead's owner applies a handed-over row without reading the inbox only when it has
/// applied the row before it: where a store names that row, it must be the right one, also
/// for rows of one lead stored together in one batch.
async fn a_stored_inbox_row_names_the_leads_row_before_it<S: Backend>(s: &S) {
    let l = lead(s, "prev").await;
    let intake = s.inbox_after(l, 0, 10).await.unwrap()[0].id;
    let msg = |t: &str| InboxPayload::Message { text: t.into() };
    let first = s
        .enqueue_inbox_row(l, "api", "p1", &msg("один"))
        .await
        .unwrap()
        .expect("stored");
    let knows = first.prev.is_some();
    // PostgreSQL's writer names it; the embedded store may leave it to the owner's read.
    assert!(
        knows || !std::any::type_name::<S>().contains("Pg"),
        "PostgreSQL names the row before"
    );
    if knows {
        assert_eq!(first.prev, Some(intake));
    }
    assert_eq!(s.enqueue_inbox_row(l, "api", "p1", &msg("again")).await.unwrap(), None);
    let mut tasks = vec![];
    for i in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.enqueue_inbox_row(
                l,
                "api",
                &format!("b{i}"),
                &InboxPayload::Message { text: format!("b{i}") },
            )
            .await
            .unwrap()
            .expect("stored")
        }));
    }
    let mut rows = vec![];
    for t in tasks {
        rows.push(t.await.unwrap());
    }
    rows.sort_by_key(|r| r.id);
    let mut before = first.id;
    for r in &rows {
        if knows {
            assert_eq!(r.prev, Some(before), "row {} follows {before}", r.id);
        }
        before = r.id;
    }
    let stored = s.inbox_after(l, 0, 100).await.unwrap();
    assert_eq!(stored.len(), 22);
    let last = stored.last().unwrap();
    assert_eq!(last.id, rows[19].id);
    if knows {
        assert_eq!(last.received_at, rows[19].received_at, "the stored time");
    }
}

/// A message its channel delivers by the transcript (the web chat) is kept as sent and never
/// handed to delivery; a step whose card columns did not change leaves the lead's row alone.
async fn delivered_rows_are_never_claimed_and_an_unchanged_card_is_left_alone<S: Backend>(s: &S) {
    let l = lead(s, "delivered").await;
    let mut first = step(l, 0, "one");
    first.outbox[0].delivered = true;
    s.commit_step(&first).await.unwrap();
    assert_eq!(s.outbox_pending().await.unwrap(), 0);
    assert!(s.claim_outbox(Utc::now(), at(60), 10).await.unwrap().is_empty());
    let sent = s.outbox_rows("sent", 0, 10).await.unwrap();
    assert_eq!(sent.len(), 1, "kept for the record, as sent");
    assert_eq!(sent[0].attempts, 0);

    let mut second = step(l, 1, "two");
    second.projection.status = LeadStatus::Assigned;
    second.projection_unchanged = true;
    s.commit_step(&second).await.unwrap();
    let (record, snap) = s.load_lead(l).await.unwrap();
    assert_eq!(snap.unwrap().version, 2, "the step itself is stored");
    assert_eq!(record.status, LeadStatus::BotProcessing, "the card is not written");
    assert_eq!(record.reason.as_deref(), Some("one"));
    assert_eq!(s.outbox_pending().await.unwrap(), 1, "its own row is pending as usual");
}

/// The per-day caps of SMS and calls: every lead's messages to one channel since a moment,
/// rows given up not counted.
async fn messages_of_a_channel_are_counted_since_a_moment<S: Backend>(s: &S) {
    let since = Utc::now() - chrono::Duration::seconds(1);
    for (i, ext) in ["c1", "c2"].into_iter().enumerate() {
        let l = lead(s, ext).await;
        let mut st = step(l, 0, ext);
        st.outbox = ["sms", "sms", "voice", "telegram"]
            .into_iter()
            .enumerate()
            .map(|(j, ch)| NewOutbox {
                kind: "message".into(),
                payload: json!({"channel": ch, "text": "t"}),
                idempotency_key: format!("count:{i}:{j}"),
                delivered: false,
            })
            .collect();
        st.outbox.push(NewOutbox {
            kind: "notification".into(),
            payload: json!({"channel": "sms"}),
            idempotency_key: format!("count:{i}:n"),
            delivered: false,
        });
        s.commit_step(&st).await.unwrap();
    }
    assert_eq!(s.messages_since("sms", since).await.unwrap(), 4);
    assert_eq!(s.messages_since("voice", since).await.unwrap(), 2);
    assert_eq!(s.messages_since("vk", since).await.unwrap(), 0);
    assert_eq!(
        s.messages_since("sms", at(60)).await.unwrap(),
        0,
        "none after a later moment"
    );
    let claimed = s.claim_outbox(Utc::now(), at(60), 100).await.unwrap();
    let first_sms = claimed
        .iter()
        .find(|r| r.payload["channel"] == "sms" && r.kind == "message")
        .unwrap()
        .id;
    s.outbox_failed(first_sms, "refused").await.unwrap();
    assert_eq!(
        s.messages_since("sms", since).await.unwrap(),
        3,
        "a given-up SMS is not billed"
    );
}

async fn a_parked_lead_needs_review_and_its_timers_are_gone<S: Backend>(s: &S) {
    let l = lead(s, "p1").await;
    let mut st = step(l, 0, "one");
    st.state = json!({"status": "bot_processing", "refusals": 1});
    st.timers = vec![TimerChange::Arm {
        kind: "reask".into(),
        due_at: at(60),
        generation: 1,
    }];
    s.commit_step(&st).await.unwrap();
    s.enqueue_inbox(l, "api", "late", &InboxPayload::Message { text: "x".into() })
        .await
        .unwrap();
    s.park_lead(l, "crash_loop").await.unwrap();
    let (record, snap) = s.load_lead(l).await.unwrap();
    assert_eq!(record.status, LeadStatus::NeedsReview);
    assert_eq!(record.reason.as_deref(), Some("crash_loop"));
    let snap = snap.unwrap();
    assert_eq!(snap.version, 2, "a parked lead's old incarnation is fenced off");
    assert_eq!(
        snap.state,
        json!({"status": "needs_review", "outcome": "crash_loop", "refusals": 1})
    );
    assert!(s.timers(l).await.unwrap().is_empty());
    assert!(!s.has_unapplied_inbox(l).await.unwrap(), "its inbox is not replayed");
    assert_eq!(s.inbox_after(l, 0, 10).await.unwrap().len(), 2, "but kept");
}

async fn leads_are_listed_found_and_counted<S: Backend>(s: &S) {
    let a = lead(s, "l1").await;
    let b = lead(s, "l2").await;
    let c = lead(s, "l3").await;
    let mut st = step(b, 0, "x");
    st.projection.status = LeadStatus::LowQuality;
    s.commit_step(&st).await.unwrap();
    let all: Vec<LeadId> = s.list_leads(None, 0, 10).await.unwrap().iter().map(|l| l.id).collect();
    assert_eq!(all, [a, b, c]);
    let page: Vec<LeadId> = s.list_leads(None, a.0, 1).await.unwrap().iter().map(|l| l.id).collect();
    assert_eq!(page, [b]);
    let low: Vec<LeadId> = s
        .list_leads(Some(LeadStatus::LowQuality), 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(low, [b]);
    assert_eq!(
        s.count_open_leads().await.unwrap(),
        2,
        "new, new; low_quality is not open"
    );
    assert_eq!(s.find_lead("contract", "l3").await.unwrap().map(|l| l.id), Some(c));
    assert!(s.find_lead("contract", "nope").await.unwrap().is_none());
    assert!(s.find_lead("other", "l3").await.unwrap().is_none());
}

async fn routing_state_survives_a_restart<S: Backend>(s: &S) {
    let assigned = |l: LeadId, v: i64, manager: &str, phone: &str| {
        let mut st = step(l, v, "assign");
        st.outbox.clear();
        st.projection.status = LeadStatus::Assigned;
        st.projection.manager_id = Some(ManagerId::parse(manager).unwrap());
        st.projection.phone = Some(Phone::parse(phone).unwrap());
        st
    };
    let (a, b, c) = (lead(s, "r1").await, lead(s, "r2").await, lead(s, "r3").await);
    s.commit_step(&assigned(a, 0, "7", "+79180000001")).await.unwrap();
    s.commit_step(&assigned(b, 0, "7", "+79180000002")).await.unwrap();
    s.commit_step(&assigned(c, 0, "8", "+79180000001")).await.unwrap();
    s.queue_put(a, &json!({"lead": a.0, "n": 1})).await.unwrap();
    s.queue_put(b, &json!({"lead": b.0})).await.unwrap();
    s.queue_put(a, &json!({"lead": a.0, "n": 2})).await.unwrap();
    s.queue_remove(b).await.unwrap();
    s.set_paused("7", true).await.unwrap();
    s.set_paused("8", true).await.unwrap();
    s.set_paused("8", false).await.unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2027, 1, 9).unwrap();
    s.set_absent_until("9", Some(day)).await.unwrap();
    s.set_absent_until("7", Some(day)).await.unwrap();
    s.set_absent_until("7", None).await.unwrap();
    s.save_cursor("sales", 3).await.unwrap();
    s.save_cursor("sales", 4).await.unwrap();
    s.save_cursor("service", 1).await.unwrap();

    let state = s.routing_state().await.unwrap();
    let mut load = state.load.clone();
    load.sort();
    assert_eq!(load, [("7".to_string(), 2), ("8".to_string(), 1)]);
    assert_eq!(state.paused, ["7"]);
    assert_eq!(state.absent_until, [("9".to_string(), day)]);
    assert_eq!(state.queue, [json!({"lead": a.0, "n": 2})]);
    let mut cursors = s.load_cursors().await.unwrap();
    cursors.sort();
    assert_eq!(cursors, [("sales".to_string(), 4), ("service".to_string(), 1)]);
    let mut in_state = state.cursors.clone();
    in_state.sort();
    assert_eq!(in_state, cursors);

    // A returning client: the manager of the phone's latest other lead.
    assert_eq!(
        s.previous_owner("+79180000001", a)
            .await
            .unwrap()
            .map(|m| m.as_str().to_string()),
        Some("8".into())
    );
    assert_eq!(
        s.previous_owner("+79180000001", c)
            .await
            .unwrap()
            .map(|m| m.as_str().to_string()),
        Some("7".into())
    );
    assert_eq!(s.previous_owner("+79180000009", a).await.unwrap(), None);
}

async fn generated_secrets_are_kept_and_replaced<S: Backend>(s: &S) {
    assert_eq!(
        s.generated_secret("operator_token", "first").await.unwrap(),
        ("first".to_string(), true)
    );
    assert_eq!(
        s.generated_secret("operator_token", "second").await.unwrap(),
        ("first".to_string(), false)
    );
    s.replace_generated_secret("operator_token", "rotated").await.unwrap();
    assert_eq!(
        s.generated_secret("operator_token", "third").await.unwrap(),
        ("rotated".to_string(), false)
    );
    s.replace_generated_secret("other", "new").await.unwrap();
    assert_eq!(
        s.generated_secret("other", "x").await.unwrap(),
        ("new".to_string(), false)
    );
}

// ---------------------------------------------------------------------------------------------
// CrmStore.

async fn crm_events_are_deduplicated_claimed_and_finished<S: Backend>(s: &S) {
    let p = json!({"FIELDS": {"ID": "1"}});
    assert!(s.store_event("bitrix24", "ONCRMLEADADD", "1", "k1", &p).await.unwrap());
    assert!(!s.store_event("bitrix24", "ONCRMLEADADD", "1", "k1", &p).await.unwrap());
    assert!(s
        .store_event("bitrix24", "ONCRMLEADUPDATE", "1", "k2", &p)
        .await
        .unwrap());
    assert!(s.store_event("amocrm", "leads.add", "5", "k3", &p).await.unwrap());

    let now = Utc::now();
    let first = s.claim_events("bitrix24", now, at(60), 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].event.as_str(), first[0].entity_id.as_str(), first[0].attempts),
        ("ONCRMLEADADD", "1", 1)
    );
    assert_eq!(first[0].payload, p);
    let rest = s.claim_events("bitrix24", now, at(60), 10).await.unwrap();
    assert_eq!(
        rest.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        ["ONCRMLEADUPDATE"]
    );
    assert!(
        s.claim_events("bitrix24", Utc::now(), at(60), 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );

    s.event_retry(first[0].id, "429", Utc::now()).await.unwrap();
    s.event_done(rest[0].id).await.unwrap();
    let again = s.claim_events("bitrix24", Utc::now(), at(60), 10).await.unwrap();
    assert_eq!((again.len(), again[0].id, again[0].attempts), (1, first[0].id, 2));
    s.event_failed(again[0].id, "gave up").await.unwrap();
    assert!(
        s.claim_events("bitrix24", at(3600), at(4000), 10)
            .await
            .unwrap()
            .is_empty(),
        "done and failed are final"
    );
    assert_eq!(
        s.claim_events("amocrm", Utc::now(), at(60), 10).await.unwrap().len(),
        1,
        "per CRM"
    );
}

async fn crm_cursors_chat_links_and_tokens<S: Backend>(s: &S) {
    assert_eq!(s.cursor("bitrix24:leads").await.unwrap(), None);
    s.set_cursor("bitrix24:leads", "100").await.unwrap();
    s.set_cursor("bitrix24:leads", "250").await.unwrap();
    assert_eq!(s.cursor("bitrix24:leads").await.unwrap().as_deref(), Some("250"));

    let (a, b) = (lead(s, "k1").await, lead(s, "k2").await);
    CrmStore::link_chat(s, "bitrix24", a, "chat1").await.unwrap();
    CrmStore::link_chat(s, "bitrix24", a, "chat2").await.unwrap();
    assert_eq!(s.chat_of(a).await.unwrap().as_deref(), Some("chat2"));
    assert_eq!(CrmStore::lead_of_chat(s, "bitrix24", "chat2").await.unwrap(), Some(a));
    assert_eq!(CrmStore::lead_of_chat(s, "bitrix24", "chat1").await.unwrap(), None);
    assert_eq!(CrmStore::lead_of_chat(s, "amocrm", "chat2").await.unwrap(), None);
    assert_eq!(s.chat_of(b).await.unwrap(), None);
    let taken = CrmStore::link_chat(s, "bitrix24", b, "chat2").await;
    assert!(
        matches!(&taken, Err(e) if !e.is_transient()),
        "a chat belongs to one lead: {taken:?}"
    );

    assert_eq!(s.load_tokens("member").await.unwrap(), None);
    let t1 = OAuthTokens {
        access_token: "a1".into(),
        refresh_token: "r1".into(),
        client_endpoint: "https://portal.example/rest/".into(),
        expires_at: DateTime::from_timestamp(1_900_000_000, 123_456_000).unwrap(),
    };
    s.install_tokens("member", &t1).await.unwrap();
    assert_eq!(
        s.load_tokens("member").await.unwrap(),
        Some(t1.clone()),
        "timestamps keep microseconds"
    );
    let t2 = OAuthTokens {
        access_token: "a2".into(),
        refresh_token: "r2".into(),
        ..t1.clone()
    };
    assert!(s.replace_tokens("member", "r1", &t2).await.unwrap());
    assert!(!s.replace_tokens("member", "r1", &t1).await.unwrap(), "r1 is spent");
    assert_eq!(s.load_tokens("member").await.unwrap(), Some(t2.clone()));
    s.install_tokens("member", &t1).await.unwrap();
    assert_eq!(s.load_tokens("member").await.unwrap(), Some(t1), "an install replaces");
}

async fn the_refresh_token_compare_and_set_has_one_winner<S: Backend>(s: &S) {
    let base = OAuthTokens {
        access_token: "a0".into(),
        refresh_token: "r0".into(),
        client_endpoint: "https://portal.example/rest/".into(),
        expires_at: at(3600),
    };
    s.install_tokens("m", &base).await.unwrap();
    let mut tasks = vec![];
    for i in 0..16 {
        let s = s.clone();
        let fresh = OAuthTokens {
            access_token: format!("a{i}"),
            refresh_token: format!("r-new-{i}"),
            ..base.clone()
        };
        tasks.push(tokio::spawn(async move {
            (i, s.replace_tokens("m", "r0", &fresh).await.unwrap())
        }));
    }
    let mut winners = vec![];
    for t in tasks {
        let (i, won) = t.await.unwrap();
        if won {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let stored = s.load_tokens("m").await.unwrap().unwrap();
    assert_eq!(stored.refresh_token, format!("r-new-{}", winners[0]));
}

// ---------------------------------------------------------------------------------------------
// ChatStore.

async fn chat_updates_links_and_users<S: Backend>(s: &S) {
    assert!(s.first_time("bot", 1).await.unwrap());
    assert!(!s.first_time("bot", 1).await.unwrap());
    assert!(s.first_time("other_bot", 1).await.unwrap(), "per bot");
    s.forget_update("bot", 1).await.unwrap();
    assert!(
        s.first_time("bot", 1).await.unwrap(),
        "a forgotten update is processed again"
    );

    let (a, b) = (lead(s, "tg1").await, lead(s, "tg2").await);
    assert_eq!(ChatStore::lead_of_chat(s, "bot", 42).await.unwrap(), None);
    ChatStore::link_chat(s, "bot", 42, a).await.unwrap();
    assert_eq!(ChatStore::lead_of_chat(s, "bot", 42).await.unwrap(), Some(a));
    assert_eq!(s.chat_of_lead("bot", a).await.unwrap(), Some(42));
    ChatStore::link_chat(s, "bot", 42, b).await.unwrap();
    assert_eq!(
        ChatStore::lead_of_chat(s, "bot", 42).await.unwrap(),
        Some(b),
        "relinked"
    );
    assert_eq!(s.chat_of_lead("bot", a).await.unwrap(), None);
    assert_eq!(ChatStore::lead_of_chat(s, "other_bot", 42).await.unwrap(), None);

    s.new_link("bot", a, "tok").await.unwrap();
    assert!(s.new_link("bot", b, "tok").await.is_err(), "a token is one lead's");
    assert_eq!(s.use_link("bot", "tok").await.unwrap(), Some(a));
    assert_eq!(
        s.use_link("bot", "tok").await.unwrap(),
        Some(a),
        "usable again (the same client)"
    );
    assert_eq!(s.use_link("other_bot", "tok").await.unwrap(), None);
    assert_eq!(s.use_link("bot", "nope").await.unwrap(), None);

    assert!(!s.has_started("bot", 7).await.unwrap());
    s.user_started("bot", 7, Some("olga")).await.unwrap();
    s.user_started("bot", 7, None).await.unwrap();
    assert!(s.has_started("bot", 7).await.unwrap());
    assert!(!s.has_started("other_bot", 7).await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// JobStore.

fn deal(title: &str) -> DealJob {
    serde_json::from_value(json!({"title": title, "client_phone": "+79181234567", "manager_id": "7"})).unwrap()
}

fn taker(id: i64) -> JobTaker {
    JobTaker {
        user_id: id,
        name: format!("executor {id}"),
        login: Some(format!("ex{id}")),
        crm_user_id: Some(format!("crm{id}")),
    }
}

async fn a_job_has_exactly_one_taker_under_concurrency<S: Backend>(s: &S) {
    let job = s.upsert_job("D-1", &deal("Монтаж"), -100).await.unwrap();
    assert_eq!(job.deal.as_ref().map(|d| d.title.as_str()), Some("Монтаж"));
    assert_eq!((job.taken_by, job.message_id), (None, None));
    let same = s.upsert_job("D-1", &deal("other title"), -100).await.unwrap();
    assert_eq!(same.id, job.id, "the same deal is the same job");
    assert_eq!(same.deal.as_ref().map(|d| d.title.as_str()), Some("Монтаж"));

    let effects = |j: &leadbot::store::JobRow| {
        vec![NewOutbox {
            kind: "notification".into(),
            payload: json!({"deal": j.deal_id, "taker": j.taken_by}),
            idempotency_key: format!("job:{}:taken", j.id),
            delivered: false,
        }]
    };
    let mut tasks = vec![];
    for user in 1..=16 {
        let s = s.clone();
        let id = job.id;
        tasks.push(tokio::spawn(async move {
            let f = |j: &leadbot::store::JobRow| {
                vec![NewOutbox {
                    kind: "notification".into(),
                    payload: json!({"deal": j.deal_id, "taker": j.taken_by}),
                    idempotency_key: format!("job:{}:taken", j.id),
                    delivered: false,
                }]
            };
            (user, s.claim_job(id, &taker(user), "executor", &f).await.unwrap())
        }));
    }
    let mut won = vec![];
    for t in tasks {
        match t.await.unwrap() {
            (user, Claim::Won { deal_id }) => {
                assert_eq!(deal_id, "D-1");
                won.push(user);
            }
            (_, Claim::Taken) => {}
            (user, other) => panic!("{user}: {other:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one winner: {won:?}");
    let winner = won[0];
    let row = s.job(job.id).await.unwrap().unwrap();
    assert_eq!(row.taken_by, Some(winner));
    assert_eq!(row.taken_by_name, Some(format!("executor {winner}")));
    assert_eq!(row.crm_user_id, Some(format!("crm{winner}")));
    assert_eq!(
        s.claim_job(job.id, &taker(winner), "executor", &effects).await.unwrap(),
        Claim::AlreadyYours
    );
    assert_eq!(
        s.claim_job(job.id, &taker(99), "executor", &effects).await.unwrap(),
        Claim::Taken
    );
    assert_eq!(
        s.claim_job(9_999_999, &taker(1), "executor", &effects).await.unwrap(),
        Claim::NoSuchJob
    );

    // The winner's effect was committed with the win, once.
    let rows = s.claim_outbox(Utc::now(), at(60), 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].lead, None);
    assert_eq!(rows[0].payload, json!({"deal": "D-1", "taker": winner}));
}

async fn jobs_are_posted_reposted_and_revealed<S: Backend>(s: &S) {
    let a = s.upsert_job("D-1", &deal("a"), -100).await.unwrap();
    let b = s.upsert_job("D-2", &deal("b"), -100).await.unwrap();
    let c = s.upsert_job("D-3", &deal("c"), -200).await.unwrap();
    assert_eq!(s.unposted_jobs(-100).await.unwrap(), 2);
    assert_eq!(s.job_of_deal("D-2").await.unwrap().map(|j| j.id), Some(b.id));
    assert!(s.job_of_deal("nope").await.unwrap().is_none());
    assert!(s.job(9_999_999).await.unwrap().is_none());

    let ids = |v: Vec<leadbot::store::JobRow>| v.into_iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.jobs_to_repost(-1.0, 10).await.unwrap()),
        [a.id, b.id, c.id],
        "never posted"
    );
    s.job_posted(a.id, Some(555)).await.unwrap();
    s.job_posted(b.id, Some(556)).await.unwrap();
    assert_eq!(s.job(a.id).await.unwrap().unwrap().message_id, Some(555));
    assert_eq!(s.unposted_jobs(-100).await.unwrap(), 0);
    assert_eq!(
        ids(s.jobs_to_repost(-1.0, 10).await.unwrap()),
        [c.id],
        "negative: never repost"
    );
    assert_eq!(
        ids(s.jobs_to_repost(3600.0, 10).await.unwrap()),
        [c.id],
        "not stale yet"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        ids(s.jobs_to_repost(0.01, 10).await.unwrap()),
        [a.id, b.id, c.id],
        "stale"
    );
    assert_eq!(ids(s.jobs_to_repost(0.01, 2).await.unwrap()), [a.id, b.id], "limit");
    let none = |_: &leadbot::store::JobRow| Vec::new();
    s.claim_job(a.id, &taker(1), "executor", &none).await.unwrap();
    assert_eq!(
        ids(s.jobs_to_repost(0.01, 10).await.unwrap()),
        [b.id, c.id],
        "a taken job is not reposted"
    );

    s.record_reveal(a.id, &taker(1), "button").await.unwrap();
    s.record_reveal(a.id, &taker(1), "button").await.unwrap();
    assert!(
        s.record_reveal(9_999_999, &taker(1), "button").await.is_err(),
        "a reveal needs its job"
    );
    // The console's job board: newest first, with who took each and every reveal.
    let board = s.recent_jobs(10).await.unwrap();
    assert_eq!(board.iter().map(|j| j.id).collect::<Vec<_>>(), [c.id, b.id, a.id]);
    assert_eq!(ids(s.recent_jobs(1).await.unwrap()), [c.id]);
    assert!(board[2].taken_by.is_some());
    let reveals = s.reveals(a.id).await.unwrap();
    assert_eq!(reveals.len(), 2);
    assert_eq!(reveals[0].via, "button");
    assert_eq!(reveals[0].user_id, taker(1).user_id);
    assert_eq!(reveals[0].user_name.as_deref(), Some(taker(1).name.as_str()));
    assert!((Utc::now() - reveals[0].at).num_seconds().abs() < 60);
    assert!(s.reveals(b.id).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Claims of a process that is gone (the two stores find the dead differently: PostgreSQL by
// advisory locks, SQLite by its one-process-per-file lock), one shared check.

async fn claims_of_a_gone_process_are_released<S, F, Fut>(first: S, reopen: F, close: impl Future<Output = ()>)
where
    S: Backend,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let l = lead(&first, "dead1").await;
    let mut st = step(l, 0, "x");
    st.timers = vec![TimerChange::Arm {
        kind: "reask".into(),
        due_at: at(-1),
        generation: 1,
    }];
    st.outbox = vec![outbox("message", "dead-m1")];
    first.commit_step(&st).await.unwrap();
    assert_eq!(first.claim_due_timers(Utc::now(), at(600), 10).await.unwrap().len(), 1);
    assert_eq!(first.claim_outbox(Utc::now(), at(600), 10).await.unwrap().len(), 1);
    assert_eq!(
        first.release_dead_claims().await.unwrap(),
        0,
        "its own claims are alive"
    );
    drop(first);
    close.await;

    let second = reopen().await;
    assert!(
        second
            .claim_due_timers(Utc::now(), at(600), 10)
            .await
            .unwrap()
            .is_empty(),
        "still leased"
    );
    assert_eq!(
        second.release_dead_claims().await.unwrap(),
        2,
        "the timer and the outbox row"
    );
    assert_eq!(second.claim_due_timers(Utc::now(), at(600), 10).await.unwrap().len(), 1);
    let rows = second.claim_outbox(Utc::now(), at(600), 10).await.unwrap();
    assert_eq!((rows.len(), rows[0].attempts), (1, 2));
    assert_eq!(
        second.release_dead_claims().await.unwrap(),
        0,
        "now they are the live process's"
    );
}

#[tokio::test]
async fn postgres_claims_of_a_gone_process_are_released() {
    let (first, db) = Pg::open().await;
    let pool = first.pool().clone();
    let db = Arc::new(db);
    let d = db.clone();
    // Dropping the store drops its epoch connection: PostgreSQL releases the advisory lock.
    claims_of_a_gone_process_are_released(
        first,
        move || {
            let d = d.clone();
            async move { d.reopen().await }
        },
        async move { pool.close().await },
    )
    .await;
    drop_db(&db.db).await;
}

#[tokio::test]
async fn sqlite_claims_of_a_gone_process_are_released() {
    let (first, db) = Lite::open().await;
    let closing = first.clone();
    let db = Arc::new(db);
    let d = db.clone();
    claims_of_a_gone_process_are_released(
        first,
        move || {
            let d = d.clone();
            async move { d.reopen().await }
        },
        async move { closing.close().await },
    )
    .await;
}

/// The embedded store is one process's: a second one on the same file is refused, and told why.
#[tokio::test]
async fn sqlite_a_second_process_on_the_same_file_is_refused() {
    let (first, db) = Lite::open().await;
    let path = db.dir.path().join("leadbot.db");
    let second = SqliteStore::connect(&path, 2).await;
    match second {
        Err(StoreError::Unavailable(why)) => {
            assert!(why.contains("another leadbot process"), "{why}");
            assert!(why.contains(&path.display().to_string()), "{why}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    first.close().await;
    let again = SqliteStore::connect(&path, 2)
        .await
        .expect("free once the first is closed");
    again.close().await;
}

/// A file that cannot be created says where and why.
#[tokio::test]
async fn sqlite_an_unwritable_directory_is_said_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let path = blocker.join("leadbot.db");
    match SqliteStore::connect(&path, 2).await {
        Err(StoreError::Unavailable(why)) => {
            assert!(why.starts_with("cannot create the"), "{why}");
            assert!(why.contains("not-a-dir"), "{why}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A write lock held outside the process (a `sqlite3` shell) past the busy timeout is
/// SQLITE_BUSY: transient (a 503 to the caller, a retry for an actor), never a parked lead.
#[tokio::test]
async fn sqlite_a_write_lock_held_elsewhere_is_a_transient_error() {
    let (store, db) = Lite::open().await;
    let l = lead(&store, "busy").await;
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(db.dir.path().join("leadbot.db"));
    let mut other = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&opts)
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();
    let err = store.commit_step(&step(l, 0, "blocked")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Unavailable(_)) && err.is_transient(),
        "{err:?}"
    );
    // Reads go on meanwhile (WAL), and once the lock is gone the same write succeeds.
    assert_eq!(store.get_lead(l).await.unwrap().id, l);
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    store.commit_step(&step(l, 0, "blocked")).await.unwrap();
    db.done(store).await;
}

// ---- SLA robots' deals -------------------------------------------------------------------------

fn deal_step(deal: &DealRef, v: i64, applied: Option<i64>) -> DealCommit {
    DealCommit {
        deal: deal.clone(),
        expected_version: v,
        state: json!({"v": v + 1}),
        applied_inbox_id: applied,
        outbox: vec![],
        timers: vec![],
        violations: vec![],
        counters: vec![],
    }
}

async fn deal_events_are_deduplicated_and_applied_in_order<S: Backend>(s: &S) {
    let d = DealRef::new("bitrix24", "21");
    let other = DealRef::new("amocrm", "21");
    let a = s
        .enqueue_deal_event(&d, "ev-1", &json!({"n": 1}))
        .await
        .unwrap()
        .unwrap();
    assert!(s
        .enqueue_deal_event(&d, "ev-1", &json!({"n": 1}))
        .await
        .unwrap()
        .is_none());
    let b = s
        .enqueue_deal_event(&d, "ev-2", &json!({"n": 2}))
        .await
        .unwrap()
        .unwrap();
    s.enqueue_deal_event(&other, "ev-3", &json!({"n": 3}))
        .await
        .unwrap()
        .unwrap();
    assert!(b > a);
    let items = s.deal_inbox_after(&d, 0, 10).await.unwrap();
    assert_eq!(items.iter().map(|i| i.id).collect::<Vec<_>>(), vec![a, b]);
    assert_eq!(items[1].event, json!({"n": 2}));
    assert!(s.has_unapplied_deal_events(&d).await.unwrap());
    let waiting = s.deals_with_unapplied_events(10).await.unwrap();
    assert_eq!(waiting, vec![d.clone(), other.clone()]);

    assert!(s.load_deal(&d).await.unwrap().is_none());
    s.commit_deal_step(&deal_step(&d, 0, Some(a))).await.unwrap();
    s.commit_deal_step(&deal_step(&d, 1, Some(b))).await.unwrap();
    let snap = s.load_deal(&d).await.unwrap().unwrap();
    assert_eq!((snap.version, snap.last_applied_id), (2, b));
    assert_eq!(snap.state, json!({"v": 2}));
    assert!(!s.has_unapplied_deal_events(&d).await.unwrap());
    assert_eq!(s.deals_with_unapplied_events(10).await.unwrap(), vec![other]);
    assert!(s.deal_inbox_after(&d, b, 10).await.unwrap().is_empty());
    assert_eq!(s.tracked_deals().await.unwrap(), 1);
}

async fn a_deal_step_is_fenced_and_keeps_timers_outbox_violations_and_counters<S: Backend>(s: &S) {
    let d = DealRef::new("amocrm", "7");
    let mut first = deal_step(&d, 0, None);
    first.timers = vec![
        DealTimerChange::Arm {
            key: "yellow|entry1".into(),
            due_at: at(900),
        },
        DealTimerChange::Arm {
            key: "urgent|entry1".into(),
            due_at: at(1800),
        },
    ];
    first.outbox = vec![outbox("deal_action", "amocrm:7|yellow|entry1|0")];
    let v = ViolationRow {
        key: "amocrm:7|yellow|entry1|2".into(),
        crm: "amocrm".into(),
        deal_id: "7".into(),
        robot: "yellow".into(),
        manager: Some("5".into()),
        stage: Some("Неразобранное".into()),
        started_at: at(-900),
        due_at: at(-1),
        detected_at: at(0),
    };
    first.violations = vec![v.clone()];
    first.counters = vec![CounterRow {
        key: "amocrm:7|c|0".into(),
        crm: "amocrm".into(),
        deal_id: "7".into(),
        counter: "returns".into(),
        manager: Some("5".into()),
        amount: 1.0,
        at: at(0),
    }];
    s.commit_deal_step(&first).await.unwrap();
    // A second writer with the same version loses, and writes nothing.
    let mut stale = deal_step(&d, 0, None);
    stale.violations = vec![ViolationRow {
        key: "other".into(),
        ..v.clone()
    }];
    assert!(matches!(
        s.commit_deal_step(&stale).await,
        Err(StoreError::DealVersionConflict { .. })
    ));
    // The same violation and counter again (a replayed step) are stored once.
    let mut again = deal_step(&d, 1, None);
    again.violations = first.violations.clone();
    again.counters = first.counters.clone();
    again.timers = vec![DealTimerChange::Cancel {
        key: "urgent|entry1".into(),
    }];
    s.commit_deal_step(&again).await.unwrap();
    let timers = s.deal_timers(&d).await.unwrap();
    assert_eq!(
        timers.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(),
        vec!["yellow|entry1"]
    );
    let vs = s.violations(at(-60), at(60)).await.unwrap();
    assert_eq!(vs.len(), 1);
    assert_eq!(vs[0].robot, "yellow");
    assert_eq!(vs[0].manager.as_deref(), Some("5"));
    assert_eq!(vs[0].started_at.timestamp(), v.started_at.timestamp());
    assert!(s.violations(at(60), at(120)).await.unwrap().is_empty());
    let cs = s.counters(at(-60), at(60)).await.unwrap();
    assert_eq!(cs.len(), 1);
    assert_eq!((cs[0].counter.as_str(), cs[0].amount), ("returns", 1.0));
    assert!(pending_keys(s).await.contains(&"amocrm:7|yellow|entry1|0".to_string()));
}

async fn deal_timers_are_claimed_with_a_lease_and_fired_once<S: Backend>(s: &S) {
    let d = DealRef::new("bitrix24", "9");
    let mut step = deal_step(&d, 0, None);
    step.timers = vec![
        DealTimerChange::Arm {
            key: "a".into(),
            due_at: at(-10),
        },
        DealTimerChange::Arm {
            key: "b".into(),
            due_at: at(-5),
        },
        DealTimerChange::Arm {
            key: "later".into(),
            due_at: at(3600),
        },
    ];
    s.commit_deal_step(&step).await.unwrap();
    let due = s.claim_due_deal_timers(at(0), at(30), 10).await.unwrap();
    assert_eq!(due.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(due[0].deal, d);
    // Claimed: hidden until the lease lapses.
    assert!(s.claim_due_deal_timers(at(1), at(30), 10).await.unwrap().is_empty());
    let next = s.next_deal_timer_due().await.unwrap().unwrap();
    assert!((next - at(30)).num_seconds().abs() <= 1, "{next}");
    // `a` handled; `b` re-armed for later before its firing is recorded: it stays.
    let mut handled = deal_step(&d, 1, None);
    handled.timers = vec![
        DealTimerChange::Fired {
            key: "a".into(),
            due_at: due[0].due_at,
        },
        DealTimerChange::Arm {
            key: "b".into(),
            due_at: at(600),
        },
        DealTimerChange::Fired {
            key: "b".into(),
            due_at: due[1].due_at,
        },
    ];
    s.commit_deal_step(&handled).await.unwrap();
    let left: Vec<String> = s.deal_timers(&d).await.unwrap().into_iter().map(|t| t.0).collect();
    assert_eq!(left, vec!["b", "later"]);
    // After the lease a crashed claim is offered again.
    let mut crash = deal_step(&d, 2, None);
    crash.timers = vec![DealTimerChange::Arm {
        key: "c".into(),
        due_at: at(-1),
    }];
    s.commit_deal_step(&crash).await.unwrap();
    assert_eq!(s.claim_due_deal_timers(at(0), at(5), 10).await.unwrap().len(), 1);
    assert_eq!(s.claim_due_deal_timers(at(6), at(30), 10).await.unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// UserStore.

fn new_user(name: &str, role: Role, department: Option<&str>, manager: Option<&str>) -> NewUser {
    NewUser {
        username: name.into(),
        password_hash: format!("$argon2id$hash-of-{name}"),
        role,
        department: department.map(str::to_string),
        manager_id: manager.map(|m| ManagerId::parse(m).unwrap()),
    }
}

async fn users_are_unique_and_the_first_one_is_made_once<S: Backend>(s: &S) {
    assert_eq!(s.count_users().await.unwrap(), 0);
    // Two setups at once: exactly one first user.
    let (first, second) = (
        new_user("admin", Role::Admin, None, None),
        new_user("admin2", Role::Admin, None, None),
    );
    let (a, b) = tokio::join!(s.create_first_user(&first), s.create_first_user(&second));
    let made: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].role, Role::Admin);
    assert!(s
        .create_first_user(&new_user("late", Role::Admin, None, None))
        .await
        .unwrap()
        .is_none());

    let olga = s
        .create_user(&new_user("olga", Role::Manager, None, Some("7")))
        .await
        .unwrap()
        .expect("a new name");
    assert_eq!(olga.manager_id.as_ref().map(|m| m.as_str()), Some("7"));
    assert!(s
        .create_user(&new_user("olga", Role::Head, Some("sales"), None))
        .await
        .unwrap()
        .is_none());
    let head = s
        .create_user(&new_user("ivan", Role::Head, Some("sales"), None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.department.as_deref(), Some("sales"));

    let (found, hash) = s.user_by_name("olga").await.unwrap().unwrap();
    assert_eq!(found, olga);
    assert_eq!(hash, "$argon2id$hash-of-olga");
    assert!(s.user_by_name("nobody").await.unwrap().is_none());
    assert_eq!(s.user(head.id).await.unwrap(), Some(head.clone()));
    assert_eq!(s.count_users().await.unwrap(), 3);
    let names: Vec<String> = s.list_users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names.len(), 3);
    assert_eq!(&names[1..], ["olga", "ivan"]);

    assert!(s.delete_user(head.id).await.unwrap());
    assert!(!s.delete_user(head.id).await.unwrap());
    assert!(s.user(head.id).await.unwrap().is_none());
}

async fn sessions_expire_and_end_with_a_new_password<S: Backend>(s: &S) {
    let u = s
        .create_user(&new_user("olga", Role::Manager, None, Some("7")))
        .await
        .unwrap()
        .unwrap();
    let now = Utc::now();
    s.create_session("h1", u.id, "csrf-1", now + chrono::Duration::hours(1))
        .await
        .unwrap();
    s.create_session("h2", u.id, "csrf-2", now + chrono::Duration::seconds(1))
        .await
        .unwrap();
    let live = s.session("h1", now).await.unwrap().expect("live session");
    assert_eq!(live.user, u);
    assert_eq!(live.csrf, "csrf-1");
    assert!(
        (live.expires_at - (now + chrono::Duration::hours(1)))
            .num_milliseconds()
            .abs()
            < 5
    );
    assert!(s.session("nope", now).await.unwrap().is_none());
    // Expired: not answered, and purged.
    let later = now + chrono::Duration::seconds(2);
    assert!(s.session("h2", later).await.unwrap().is_none());
    assert_eq!(s.purge_sessions(later).await.unwrap(), 1);
    assert!(s.session("h1", later).await.unwrap().is_some());
    // Logging out ends one session.
    s.delete_session("h1").await.unwrap();
    assert!(s.session("h1", now).await.unwrap().is_none());
    // A new password ends every session of the user.
    s.create_session("h3", u.id, "c", now + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert!(s.set_password(u.id, "$argon2id$new").await.unwrap());
    assert!(s.session("h3", now).await.unwrap().is_none());
    assert_eq!(s.user_by_name("olga").await.unwrap().unwrap().1, "$argon2id$new");
    assert!(!s.set_password(u.id + 100, "x").await.unwrap());
    // A deleted user's sessions go with them.
    s.create_session("h4", u.id, "c", now + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert!(s.delete_user(u.id).await.unwrap());
    assert!(s.session("h4", now).await.unwrap().is_none());
}

async fn api_tokens_name_their_user_until_revoked<S: Backend>(s: &S) {
    let u = s
        .create_user(&new_user("crm", Role::Head, Some("sales"), None))
        .await
        .unwrap()
        .unwrap();
    let id = s.create_api_token(u.id, "amo robot", "th1").await.unwrap();
    let other = s.create_api_token(u.id, "script", "th2").await.unwrap();
    assert_ne!(id, other);
    assert_eq!(s.user_by_api_token("th1").await.unwrap(), Some(u.clone()));
    assert!(s.user_by_api_token("th9").await.unwrap().is_none());
    let listed = s.api_tokens(u.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["amo robot", "script"]
    );
    assert!(listed.iter().all(|t| t.user_id == u.id));
    assert!(s.revoke_api_token(id).await.unwrap());
    assert!(!s.revoke_api_token(id).await.unwrap());
    assert!(s.user_by_api_token("th1").await.unwrap().is_none());
    // The same hash twice is refused (tokens are unique).
    assert!(s.create_api_token(u.id, "dup", "th2").await.is_err());
    assert!(s.delete_user(u.id).await.unwrap());
    assert!(s.user_by_api_token("th2").await.unwrap().is_none());
}

// ---- Reports -----------------------------------------------------------------------------------

async fn reports_read_a_periods_rows<S: Backend>(s: &S) {
    let a = lead(s, "rep-a").await;
    let b = lead(s, "rep-b").await;
    let mut first = step(a, 0, "r1");
    first.outbox.clear();
    first.transcript = vec![
        (Direction::In, "привет".into()),
        (Direction::Out, "здравствуйте".into()),
    ];
    s.commit_step(&first).await.unwrap();
    let mut by_person = step(a, 1, "r2");
    by_person.outbox.clear();
    by_person.author = Some("anna".into());
    by_person.transcript = vec![(Direction::Out, "менеджер на связи".into())];
    by_person.projection.phone = Some(Phone::parse("+79161234567").unwrap());
    by_person.projection.status = LeadStatus::Assigned;
    s.commit_step(&by_person).await.unwrap();
    let leads = s.report_leads(at(-60), at(60)).await.unwrap();
    assert_eq!(leads.iter().map(|l| l.id).collect::<Vec<_>>(), vec![a.0, b.0]);
    let la = &leads[0];
    assert_eq!(la.channel, "webchat");
    assert_eq!(la.status, "assigned");
    assert_eq!(la.phone.as_deref(), Some("+79161234567"));
    let tail: Vec<(bool, bool, &str)> = la.lines[la.lines.len() - 3..]
        .iter()
        .map(|l| (l.inbound, l.by_person, l.text.as_str()))
        .collect();
    assert_eq!(
        tail,
        vec![
            (true, false, "привет"),
            (false, false, "здравствуйте"),
            (false, true, "менеджер на связи")
        ]
    );
    assert!(la.lines.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(leads[1].lines.iter().all(|l| l.text != "привет"));
    assert!(s.report_leads(at(60), at(120)).await.unwrap().is_empty());

    let d = DealRef::new("bitrix24", "77");
    let mut deal = deal_step(&d, 0, None);
    deal.state = json!({"crm": "bitrix24", "deal_id": "77"});
    deal.violations = vec![ViolationRow {
        key: "bitrix24:77|v".into(),
        crm: "bitrix24".into(),
        deal_id: "77".into(),
        robot: "deal_speed_36h".into(),
        manager: Some("7".into()),
        stage: Some("Квалификация".into()),
        started_at: at(-3600),
        due_at: at(-10),
        detected_at: at(-5),
    }];
    deal.counters = vec![CounterRow {
        key: "bitrix24:77|c".into(),
        crm: "bitrix24".into(),
        deal_id: "77".into(),
        counter: "repeat_revenue".into(),
        manager: Some("7".into()),
        amount: 1_500_000.5,
        at: at(-5),
    }];
    s.commit_deal_step(&deal).await.unwrap();
    let deals = s.report_deals().await.unwrap();
    assert_eq!(deals.len(), 1);
    assert_eq!(deals[0].state, json!({"crm": "bitrix24", "deal_id": "77"}));
    let vs = s.report_violations(at(-60), at(60)).await.unwrap();
    assert_eq!(vs.len(), 1);
    assert_eq!(
        (vs[0].robot.as_str(), vs[0].manager.as_deref()),
        ("deal_speed_36h", Some("7"))
    );
    assert_eq!(vs[0].started_at.timestamp(), at(-3600).timestamp());
    assert!(s.report_violations(at(0), at(60)).await.unwrap().is_empty());
    let cs = s.report_counters(at(-60), at(60)).await.unwrap();
    assert_eq!((cs[0].counter.as_str(), cs[0].amount), ("repeat_revenue", 1_500_000.5));
    assert!(s.report_counters(at(0), at(60)).await.unwrap().is_empty());
}

async fn a_scheduled_report_is_recorded_once_with_its_outbox_row<S: Backend>(s: &S) {
    let send = leadbot::domain::ReportSend {
        key: "end_of_day|2026-12-02|head|mail".into(),
        kind: "end_of_day".into(),
        period_from: at(-3600),
        period_to: at(3600),
        recipient: "head".into(),
    };
    assert!(!s.report_send_exists(&send.key).await.unwrap());
    assert!(s
        .record_report_send(&send, &[outbox("report", "report:first")])
        .await
        .unwrap());
    // The same key again (a restart, a second instance): nothing written, not even its row.
    assert!(!s
        .record_report_send(&send, &[outbox("report", "report:second")])
        .await
        .unwrap());
    assert!(s.report_send_exists(&send.key).await.unwrap());
    let keys = pending_keys(s).await;
    assert_eq!(
        keys.iter().filter(|k| k.starts_with("report:")).collect::<Vec<_>>(),
        vec!["report:first"]
    );
}
