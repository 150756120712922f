//! The booking store's contract (`BookingStore`), written once as generic functions and run on
//! both stores — PostgreSQL (each test its own database) and the embedded SQLite file (each
//! test its own temporary file): the cell compare-and-set for equal and overlapping intervals,
//! idempotent keys, cancel and reschedule, the busy read, client history and CSAT — and the
//! race of two clients booking one resource at the same instant.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{db_url, drop_db, fresh_db_name};
use leadbot::domain::{ChannelName, LeadId};
use leadbot::store::{
    BookOutcome, BookingRow, BookingStore, CsatSummary, NewBooking, NewCsat, NewLead, PgStore, SqliteStore, Store,
};

trait Backend: Store + BookingStore + Clone {}
impl<T: Store + BookingStore + Clone> Backend for T {}

struct Pg {
    db: String,
}

impl Pg {
    async fn open() -> (PgStore, Pg) {
        let db = fresh_db_name();
        let store = PgStore::connect(&db_url(&db), 8).await.expect("PostgreSQL store");
        (store, Pg { db })
    }

    async fn done(self, store: PgStore) {
        store.pool().close().await;
        drop_db(&self.db).await;
    }
}

struct Lite {
    _dir: tempfile::TempDir,
}

impl Lite {
    async fn open() -> (SqliteStore, Lite) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteStore::connect(&dir.path().join("leadbot.db"), 4)
            .await
            .expect("SQLite store");
        (store, Lite { _dir: dir })
    }

    async fn done(self, store: SqliteStore) {
        store.close().await;
    }
}

/// Each listed generic test on each store; multi-threaded, so the race runs on two threads.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, db) = super::Pg::open().await;
                    super::$name(&store).await;
                    db.done(store).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    a_booking_is_made_once_per_key_and_blocks_equal_and_overlapping_intervals,
    resources_do_not_clash_and_a_cancel_frees_at_once,
    a_reschedule_is_atomic,
    busy_is_ordered_and_filtered_by_overlap,
    client_history_is_the_latest_visit_of_another_lead,
    csat_is_stored_once_with_a_comment_and_summed,
    two_clients_racing_for_one_slot_get_one_booking,
    one_key_booked_twice_at_once_is_one_booking,
);

// ---------------------------------------------------------------------------------------------
// Helpers.

async fn lead<S: Backend>(s: &S, ext: &str) -> LeadId {
    s.create_lead(&NewLead {
        source: "booking".into(),
        external_id: ext.into(),
        channel: ChannelName::new("webchat"),
        name: None,
        phone: None,
        text: None,
        segment: None,
        first_event: None,
        creation_key: None,
    })
    .await
    .expect("lead")
    .lead
    .id
}

/// Monday 7 December 2026, `h:m` UTC.
fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).unwrap()
}

/// A visit of `minutes` at `start` with a 10-minute buffer, on the 15-minute grid.
fn visit(lead: LeadId, key: &str, resource: &str, start: DateTime<Utc>, minutes: i64) -> NewBooking {
    let ends_at = start + Duration::minutes(minutes);
    NewBooking {
        lead,
        key: key.into(),
        resource: resource.into(),
        service: "haircut".into(),
        starts_at: start,
        ends_at,
        busy_until: ends_at + Duration::minutes(10),
        cell_seconds: 900,
        channel: "webchat".into(),
        client_name: Some("Ольга".into()),
        phone: Some("+79181234567".into()),
        manager_id: Some("1".into()),
    }
}

fn booked(o: BookOutcome) -> BookingRow {
    match o {
        BookOutcome::Booked(row) => row,
        other => panic!("expected Booked, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The tests.

async fn a_booking_is_made_once_per_key_and_blocks_equal_and_overlapping_intervals<S: Backend>(s: &S) {
    let (a, b) = (lead(s, "a").await, lead(s, "b").await);
    let first = booked(s.book(&visit(a, "a:1", "anna", t(18, 0), 60)).await.unwrap());
    assert_eq!(
        (first.lead, first.status.as_str(), first.starts_at, first.busy_until),
        (a, "booked", t(18, 0), t(19, 10))
    );
    assert_eq!(first.cancelled_at, None);
    assert_eq!(s.get_booking(first.id).await.unwrap().as_ref(), Some(&first));

    // The same key again (even with another interval): the stored booking, nothing new.
    assert_eq!(
        s.book(&visit(a, "a:1", "anna", t(12, 0), 30)).await.unwrap(),
        BookOutcome::AlreadyBooked(first.clone())
    );
    // Equal and overlapping intervals of the same resource are taken, and write nothing.
    assert_eq!(
        s.book(&visit(b, "b:1", "anna", t(18, 0), 60)).await.unwrap(),
        BookOutcome::Taken
    );
    assert_eq!(
        s.book(&visit(b, "b:2", "anna", t(18, 30), 60)).await.unwrap(),
        BookOutcome::Taken
    );
    assert_eq!(
        s.book(&visit(b, "b:3", "anna", t(17, 30), 31)).await.unwrap(),
        BookOutcome::Taken
    );
    // 19:00 is inside the buffer (busy until 19:10).
    assert_eq!(
        s.book(&visit(b, "b:4", "anna", t(19, 0), 30)).await.unwrap(),
        BookOutcome::Taken
    );
    assert!(s.bookings_of(b).await.unwrap().is_empty(), "a Taken wrote nothing");
    // Right before and right after (the next grid cell past the buffer) are free.
    // 17:00–17:50 plus the buffer ends right at 18:00.
    booked(s.book(&visit(b, "b:5", "anna", t(17, 0), 50)).await.unwrap());
    booked(s.book(&visit(b, "b:6", "anna", t(19, 15), 30)).await.unwrap());
    // A key refused as Taken is free to book elsewhere later.
    booked(s.book(&visit(b, "b:1", "anna", t(10, 0), 30)).await.unwrap());
    let keys: Vec<String> = s.bookings_of(b).await.unwrap().into_iter().map(|r| r.key).collect();
    assert_eq!(keys, ["b:5", "b:6", "b:1"], "oldest first");
}

async fn resources_do_not_clash_and_a_cancel_frees_at_once<S: Backend>(s: &S) {
    let (a, b) = (lead(s, "a").await, lead(s, "b").await);
    let anna = booked(s.book(&visit(a, "a:1", "anna", t(18, 0), 60)).await.unwrap());
    booked(s.book(&visit(b, "b:1", "room2", t(18, 0), 60)).await.unwrap());

    // Only the lead's own booking can be cancelled, and once.
    assert!(!s.cancel_booking(b, anna.id, t(12, 0)).await.unwrap());
    assert!(s.cancel_booking(a, anna.id, t(12, 0)).await.unwrap());
    assert!(!s.cancel_booking(a, anna.id, t(12, 1)).await.unwrap());
    let row = s.get_booking(anna.id).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.cancelled_at), ("cancelled", Some(t(12, 0))));
    // The time is free at once.
    let again = booked(s.book(&visit(b, "b:2", "anna", t(18, 30), 30)).await.unwrap());
    assert_eq!(again.lead, b);
    // The cancelled key still names its booking.
    assert_eq!(
        s.book(&visit(a, "a:1", "anna", t(18, 0), 60)).await.unwrap(),
        BookOutcome::AlreadyBooked(row)
    );
}

async fn a_reschedule_is_atomic<S: Backend>(s: &S) {
    let (a, b) = (lead(s, "a").await, lead(s, "b").await);
    let old = booked(s.book(&visit(a, "a:1", "anna", t(18, 0), 60)).await.unwrap());
    let other = booked(s.book(&visit(b, "b:1", "anna", t(20, 0), 60)).await.unwrap());

    // Onto someone else's time: Taken, and the old booking stays with its cells.
    assert_eq!(
        s.reschedule(a, old.id, &visit(a, "a:2", "anna", t(20, 30), 60), t(12, 0))
            .await
            .unwrap(),
        BookOutcome::Taken
    );
    assert_eq!(s.get_booking(old.id).await.unwrap().unwrap().status, "booked");
    assert_eq!(
        s.book(&visit(b, "b:2", "anna", t(18, 0), 30)).await.unwrap(),
        BookOutcome::Taken
    );

    // Half an hour later overlaps the old visit: the old cells are freed in the same move.
    let new = booked(
        s.reschedule(a, old.id, &visit(a, "a:2", "anna", t(18, 30), 60), t(12, 0))
            .await
            .unwrap(),
    );
    assert_eq!(new.starts_at, t(18, 30));
    let old_now = s.get_booking(old.id).await.unwrap().unwrap();
    assert_eq!(
        (old_now.status.as_str(), old_now.cancelled_at),
        ("cancelled", Some(t(12, 0)))
    );
    // 18:00–18:30 is free again; 18:30 onwards is the new visit's.
    booked(s.book(&visit(b, "b:3", "anna", t(18, 0), 20)).await.unwrap());
    assert_eq!(
        s.book(&visit(b, "b:4", "anna", t(19, 0), 15)).await.unwrap(),
        BookOutcome::Taken
    );
    // The same move redone: the new key's booking, and nothing else changes.
    assert_eq!(
        s.reschedule(a, old.id, &visit(a, "a:2", "anna", t(18, 30), 60), t(12, 5))
            .await
            .unwrap(),
        BookOutcome::AlreadyBooked(new)
    );
    assert_eq!(s.get_booking(other.id).await.unwrap().unwrap().status, "booked");
}

async fn busy_is_ordered_and_filtered_by_overlap<S: Backend>(s: &S) {
    let a = lead(s, "a").await;
    booked(s.book(&visit(a, "1", "room2", t(12, 0), 30)).await.unwrap());
    booked(s.book(&visit(a, "2", "anna", t(15, 0), 30)).await.unwrap());
    booked(s.book(&visit(a, "3", "anna", t(10, 0), 30)).await.unwrap());
    booked(s.book(&visit(a, "4", "boris", t(11, 0), 30)).await.unwrap());
    let gone = booked(s.book(&visit(a, "5", "anna", t(12, 0), 30)).await.unwrap());
    s.cancel_booking(a, gone.id, t(9, 0)).await.unwrap();

    let resources = ["room2".to_string(), "anna".to_string()];
    let busy = s.busy(&resources, t(0, 0), t(23, 0)).await.unwrap();
    let got: Vec<(&str, DateTime<Utc>, DateTime<Utc>)> =
        busy.iter().map(|b| (b.resource.as_str(), b.from, b.until)).collect();
    assert_eq!(
        got,
        [
            ("anna", t(10, 0), t(10, 40)),
            ("anna", t(15, 0), t(15, 40)),
            ("room2", t(12, 0), t(12, 40)),
        ],
        "by resource then start; cancelled and unasked resources left out"
    );
    // Overlap, half-open: touching the window's ends is outside it.
    let busy = s.busy(&resources, t(10, 40), t(15, 0)).await.unwrap();
    assert_eq!(busy.len(), 1, "{busy:?}");
    assert_eq!(busy[0].resource, "room2");
    let busy = s.busy(&resources, t(10, 39), t(15, 1)).await.unwrap();
    assert_eq!(busy.len(), 3, "{busy:?}");
    assert!(s.busy(&[], t(0, 0), t(23, 0)).await.unwrap().is_empty());
    // Bookings by start, any status.
    let between: Vec<String> = s
        .bookings_between(t(10, 0), t(12, 1))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(between, ["3", "4", "1", "5"]);
}

async fn client_history_is_the_latest_visit_of_another_lead<S: Backend>(s: &S) {
    let (old, older, now) = (lead(s, "old").await, lead(s, "older").await, lead(s, "now").await);
    assert_eq!(s.client_history("+79181234567", now).await.unwrap(), None);
    let mut first = visit(older, "1", "anna", t(9, 0), 30);
    first.service = "color".into();
    booked(s.book(&first).await.unwrap());
    let mut latest = visit(old, "2", "boris", t(11, 0), 30);
    latest.client_name = Some("Оля".into());
    latest.manager_id = Some("2".into());
    booked(s.book(&latest).await.unwrap());
    // Later, but cancelled: not a visit.
    let gone = booked(s.book(&visit(old, "3", "anna", t(16, 0), 30)).await.unwrap());
    s.cancel_booking(old, gone.id, t(8, 0)).await.unwrap();
    // The asking lead's own booking is not history.
    booked(s.book(&visit(now, "4", "anna", t(20, 0), 30)).await.unwrap());
    // Another phone.
    let mut stranger = visit(old, "5", "anna", t(21, 0), 30);
    stranger.phone = Some("+79990000000".into());
    booked(s.book(&stranger).await.unwrap());

    let h = s.client_history("+79181234567", now).await.unwrap().expect("history");
    assert_eq!(
        (
            h.client_name.as_deref(),
            h.service.as_str(),
            h.resource.as_str(),
            h.manager_id.as_deref(),
            h.starts_at,
            h.visits
        ),
        (Some("Оля"), "haircut", "boris", Some("2"), t(11, 0), 2)
    );
}

async fn csat_is_stored_once_with_a_comment_and_summed<S: Backend>(s: &S) {
    let (a, b) = (lead(s, "a").await, lead(s, "b").await);
    let score =
        |lead: LeadId, key: &str, score: i16, channel: &str, manager: Option<&str>, at: DateTime<Utc>| NewCsat {
            lead,
            key: key.into(),
            score,
            channel: channel.into(),
            manager_id: manager.map(String::from),
            service: Some("haircut".into()),
            booking_id: None,
            at,
        };
    assert!(s
        .record_csat(&score(a, "a:v1", 5, "webchat", Some("1"), t(10, 0)))
        .await
        .unwrap());
    assert!(
        !s.record_csat(&score(a, "a:v1", 1, "webchat", Some("1"), t(10, 5)))
            .await
            .unwrap(),
        "once per key"
    );
    assert!(s
        .record_csat(&score(b, "b:v1", 3, "webchat", Some("1"), t(11, 0)))
        .await
        .unwrap());
    assert!(s
        .record_csat(&score(b, "b:v2", 4, "webchat", None, t(12, 0)))
        .await
        .unwrap());
    assert!(s
        .record_csat(&score(b, "b:v3", 2, "telegram", Some("1"), t(13, 0)))
        .await
        .unwrap());
    // Outside the period.
    assert!(s
        .record_csat(&score(b, "b:v4", 1, "webchat", Some("1"), t(23, 0)))
        .await
        .unwrap());
    s.csat_comment(a, "a:v1", "всё хорошо").await.unwrap();
    s.csat_comment(a, "a:v1", "всё отлично").await.unwrap();
    // Not this lead's score: nothing changes.
    s.csat_comment(b, "a:v1", "чужой").await.unwrap();

    let summary = s.csat_summary(t(0, 0), t(22, 0)).await.unwrap();
    let row = |channel: &str, manager: Option<&str>, count: i64, sum: i64| CsatSummary {
        channel: channel.into(),
        manager_id: manager.map(String::from),
        service: Some("haircut".into()),
        count,
        sum,
    };
    assert_eq!(
        summary,
        [
            row("telegram", Some("1"), 1, 2),
            row("webchat", None, 1, 4),
            row("webchat", Some("1"), 2, 8),
        ]
    );
    assert!(s.csat_summary(t(0, 0), t(9, 0)).await.unwrap().is_empty());
}

/// Two clients (two tasks, two connections) book overlapping intervals of one resource at the
/// same instant, round after round: exactly one wins each round.
async fn two_clients_racing_for_one_slot_get_one_booking<S: Backend>(s: &S) {
    let (a, b) = (lead(s, "a").await, lead(s, "b").await);
    let store = Arc::new(s.clone());
    for round in 0..100i64 {
        // Each round on its own day, so earlier rounds do not decide later ones.
        let day = t(10, 0) + Duration::days(round);
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let race = |lead: LeadId, key: String, start: DateTime<Utc>| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                let booking = visit(lead, &key, "anna", start, 60);
                barrier.wait().await;
                store.book(&booking).await.expect("book")
            })
        };
        let one = race(a, format!("a:{round}"), day);
        let two = race(b, format!("b:{round}"), day + Duration::minutes(30));
        let outcomes = [one.await.unwrap(), two.await.unwrap()];
        let won = outcomes.iter().filter(|o| matches!(o, BookOutcome::Booked(_))).count();
        let lost = outcomes.iter().filter(|o| matches!(o, BookOutcome::Taken)).count();
        assert_eq!((won, lost), (1, 1), "round {round}: {outcomes:?}");
        let busy = s
            .busy(
                &["anna".to_string()],
                day - Duration::hours(1),
                day + Duration::hours(3),
            )
            .await
            .unwrap();
        assert_eq!(busy.len(), 1, "round {round}: {busy:?}");
    }
}

/// A step redone while the first run is still booking (two tasks, one key, the same instant):
/// one books, the other gets that same booking back.
async fn one_key_booked_twice_at_once_is_one_booking<S: Backend>(s: &S) {
    let a = lead(s, "a").await;
    let store = Arc::new(s.clone());
    for round in 0..50i64 {
        let booking = visit(a, &format!("a:{round}"), "anna", t(10, 0) + Duration::days(round), 60);
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let race = || {
            let (store, barrier, booking) = (store.clone(), barrier.clone(), booking.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.book(&booking).await.expect("book")
            })
        };
        let (one, two) = (race(), race());
        let outcomes = [one.await.unwrap(), two.await.unwrap()];
        let rows: Vec<&BookingRow> = outcomes
            .iter()
            .filter_map(|o| match o {
                BookOutcome::Booked(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(rows.len(), 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes.contains(&BookOutcome::AlreadyBooked(rows[0].clone())),
            "round {round}: {outcomes:?}"
        );
    }
    assert_eq!(s.bookings_of(a).await.unwrap().len(), 50);
}
