//! The Google Calendar side of bookings against a local server speaking Google's wire format
//! (OAuth2 token endpoint, `freeBusy.query`, `events.insert`, `events.delete`, bodies as
//! documented at developers.google.com/calendar/api/v3/reference), over the real embedded
//! store: free/busy merged with our bookings, one token refresh reused, an event created once
//! under the booking's derived id even when the first attempt is answered 503, a cancel
//! deleting it, and Google being down leaving the store's busy time.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use chrono::{DateTime, TimeZone, Utc};
use leadbot::calendar::{event_id, Calendar, GoogleCalendar, MirrorRetry, StoreCalendar};
use leadbot::config::{BookingResource, GoogleCalendarSettings};
use leadbot::domain::{ChannelName, LeadId};
use leadbot::store::{BookOutcome, BookingStore, NewBooking, NewLead, SqliteStore, Store};
use serde_json::{json, Value};

const CLIENT_ID: &str = "client-id.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "client-secret";
const REFRESH_TOKEN: &str = "1//refresh-token";
const ANNA_CAL: &str = "anna@example.com";

type Periods = Vec<(DateTime<Utc>, DateTime<Utc>)>;

#[derive(Default)]
struct Google {
    refreshes: usize,
    /// Busy periods per calendar id.
    busy: HashMap<String, Periods>,
    /// Every free/busy request body.
    free_busy_asked: Vec<Value>,
    /// Every insert attempt: (calendar, body).
    inserts: Vec<(String, Value)>,
    /// Insert attempts to answer 503 before accepting.
    fail_inserts: usize,
    /// Events by (calendar, id).
    events: BTreeMap<(String, String), Value>,
    deletes: Vec<(String, String)>,
    /// Everything but the token endpoint answers 503.
    down: bool,
    /// Tokens numbered below this are refused (revoked): 401.
    min_token: usize,
}

type Fake = Arc<Mutex<Google>>;

fn google_error(status: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({"error": {"errors": [{"domain": "global", "reason": reason, "message": message}],
                               "code": status.as_u16(), "message": message}});
    (status, Json(body)).into_response()
}

fn authorized(headers: &HeaderMap, g: &Google) -> bool {
    let want = format!("Bearer ya29.token-{}", g.refreshes);
    g.refreshes >= g.min_token && headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str())
}

async fn token(State(fake): State<Fake>, body: Bytes) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let ok = form.get("grant_type").map(String::as_str) == Some("refresh_token")
        && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        && form.get("refresh_token").map(String::as_str) == Some(REFRESH_TOKEN);
    if !ok {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "Bad Request"})),
        )
            .into_response();
    }
    let mut g = fake.lock().unwrap();
    g.refreshes += 1;
    Json(json!({
        "access_token": format!("ya29.token-{}", g.refreshes),
        "expires_in": 3599,
        "scope": "https://www.googleapis.com/auth/calendar",
        "token_type": "Bearer"
    }))
    .into_response()
}

async fn free_busy(State(fake): State<Fake>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut g = fake.lock().unwrap();
    if g.down {
        return google_error(StatusCode::SERVICE_UNAVAILABLE, "backendError", "Backend Error");
    }
    if !authorized(&headers, &g) {
        return google_error(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials");
    }
    g.free_busy_asked.push(body.clone());
    let mut calendars = serde_json::Map::new();
    for item in body["items"].as_array().cloned().unwrap_or_default() {
        let id = item["id"].as_str().unwrap_or_default().to_string();
        let entry = match g.busy.get(&id) {
            Some(periods) => json!({"busy": periods.iter().map(|(s, e)| json!({
                "start": s.to_rfc3339(), "end": e.to_rfc3339()})).collect::<Vec<_>>()}),
            None => json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}),
        };
        calendars.insert(id, entry);
    }
    Json(json!({
        "kind": "calendar#freeBusy",
        "timeMin": body["timeMin"],
        "timeMax": body["timeMax"],
        "calendars": calendars
    }))
    .into_response()
}

async fn insert(
    State(fake): State<Fake>,
    Path(calendar): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut g = fake.lock().unwrap();
    if g.down {
        return google_error(StatusCode::SERVICE_UNAVAILABLE, "backendError", "Backend Error");
    }
    if !authorized(&headers, &g) {
        return google_error(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials");
    }
    g.inserts.push((calendar.clone(), body.clone()));
    if g.fail_inserts > 0 {
        g.fail_inserts -= 1;
        return google_error(StatusCode::SERVICE_UNAVAILABLE, "backendError", "Backend Error");
    }
    let id = body["id"].as_str().unwrap_or_default().to_string();
    let valid = (5..=1024).contains(&id.len()) && id.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9'));
    if !valid {
        return google_error(StatusCode::BAD_REQUEST, "invalid", "Invalid resource id value.");
    }
    let key = (calendar, id.clone());
    if g.events.contains_key(&key) {
        return google_error(
            StatusCode::CONFLICT,
            "duplicate",
            "The requested identifier already exists.",
        );
    }
    let event = json!({"kind": "calendar#event", "id": id, "status": "confirmed",
                       "summary": body["summary"], "start": body["start"], "end": body["end"]});
    g.events.insert(key, event.clone());
    Json(event).into_response()
}

async fn remove(
    State(fake): State<Fake>,
    Path((calendar, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut g = fake.lock().unwrap();
    if g.down {
        return google_error(StatusCode::SERVICE_UNAVAILABLE, "backendError", "Backend Error");
    }
    if !authorized(&headers, &g) {
        return google_error(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials");
    }
    g.deletes.push((calendar.clone(), id.clone()));
    match g.events.remove(&(calendar, id)) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => google_error(StatusCode::GONE, "deleted", "Resource has been deleted"),
    }
}

async fn spawn_google() -> (Fake, String) {
    let fake: Fake = Arc::default();
    let app = Router::new()
        .route("/token", post(token))
        .route("/calendar/v3/freeBusy", post(free_busy))
        .route("/calendar/v3/calendars/{calendar}/events", post(insert))
        .route("/calendar/v3/calendars/{calendar}/events/{id}", delete(remove))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (fake, base)
}

fn resource(id: &str, calendar: Option<&str>) -> BookingResource {
    BookingResource {
        id: id.into(),
        name: id.into(),
        hours: Default::default(),
        breaks: vec![],
        days_off: vec![],
        manager_id: None,
        google_calendar_id: calendar.map(String::from),
    }
}

struct Setup {
    fake: Fake,
    store: SqliteStore,
    calendar: GoogleCalendar,
    lead: LeadId,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let (fake, base) = spawn_google().await;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&dir.path().join("leadbot.db"), 2).await.unwrap();
    let lead = store
        .create_lead(&NewLead {
            source: "google".into(),
            external_id: "1".into(),
            channel: ChannelName::new("webchat"),
            name: None,
            phone: None,
            text: None,
            segment: None,
            first_event: None,
            creation_key: None,
        })
        .await
        .unwrap()
        .lead
        .id;
    let settings = GoogleCalendarSettings {
        base_url: base.clone(),
        token_url: format!("{base}/token"),
        timeout: Duration::from_secs(2),
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(CLIENT_SECRET.into()),
        refresh_token: Some(REFRESH_TOKEN.into()),
    };
    let bookings: Arc<dyn BookingStore> = Arc::new(store.clone());
    let calendar = GoogleCalendar::new(
        StoreCalendar::new(bookings),
        &settings,
        &[resource("anna", Some(ANNA_CAL)), resource("boris", None)],
    )
    .unwrap()
    .with_retry(MirrorRetry {
        attempts: 4,
        first_delay: Duration::from_millis(20),
    });
    Setup {
        fake,
        store,
        calendar,
        lead,
        _dir: dir,
    }
}

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).unwrap()
}

fn visit(lead: LeadId, key: &str, resource: &str, start: DateTime<Utc>) -> NewBooking {
    NewBooking {
        lead,
        key: key.into(),
        resource: resource.into(),
        service: "haircut".into(),
        starts_at: start,
        ends_at: start + chrono::Duration::minutes(60),
        busy_until: start + chrono::Duration::minutes(70),
        cell_seconds: 900,
        channel: "webchat".into(),
        client_name: Some("Ольга".into()),
        phone: Some("+79181234567".into()),
        manager_id: None,
    }
}

/// Waits for the background mirror to reach `done`.
async fn until(fake: &Fake, what: &str, done: impl Fn(&Google) -> bool) {
    for _ in 0..200 {
        if done(&fake.lock().unwrap()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn free_busy_merges_google_with_the_store_and_reuses_one_token() {
    let s = setup().await;
    s.fake
        .lock()
        .unwrap()
        .busy
        .insert(ANNA_CAL.into(), vec![(t(12, 0), t(13, 0)), (t(19, 30), t(20, 0))]);
    let BookOutcome::Booked(_) = s.calendar.book(&visit(s.lead, "k1", "anna", t(18, 0))).await.unwrap() else {
        panic!("booked")
    };
    let BookOutcome::Booked(_) = s.calendar.book(&visit(s.lead, "k2", "boris", t(9, 0))).await.unwrap() else {
        panic!("booked")
    };
    let shown = format!("{:?}", s.calendar);
    assert!(
        !shown.contains(CLIENT_SECRET) && !shown.contains(REFRESH_TOKEN),
        "{shown}"
    );
    let resources = ["anna".to_string(), "boris".to_string()];
    let busy = s.calendar.busy(&resources, t(0, 0), t(23, 0)).await.unwrap();
    let got: Vec<(&str, DateTime<Utc>, DateTime<Utc>)> =
        busy.iter().map(|b| (b.resource.as_str(), b.from, b.until)).collect();
    assert_eq!(
        got,
        [
            ("anna", t(12, 0), t(13, 0)),
            ("anna", t(18, 0), t(19, 10)),
            ("anna", t(19, 30), t(20, 0)),
            ("boris", t(9, 0), t(10, 10)),
        ]
    );
    let asked = s.fake.lock().unwrap().free_busy_asked[0].clone();
    assert_eq!(
        asked["items"],
        json!([{"id": ANNA_CAL}]),
        "only resources with a calendar"
    );
    assert_eq!(
        DateTime::parse_from_rfc3339(asked["timeMin"].as_str().unwrap()).unwrap(),
        t(0, 0)
    );
    assert_eq!(
        DateTime::parse_from_rfc3339(asked["timeMax"].as_str().unwrap()).unwrap(),
        t(23, 0)
    );
    for _ in 0..3 {
        s.calendar.busy(&resources, t(0, 0), t(23, 0)).await.unwrap();
    }
    until(&s.fake, "the mirrored event", |g| g.events.len() == 1).await;
    {
        let mut g = s.fake.lock().unwrap();
        assert_eq!(g.free_busy_asked.len(), 4);
        assert_eq!(g.refreshes, 1, "one refresh, the token reused by every call");
        // Google revokes the token early: the next call refreshes once and goes through.
        g.min_token = 2;
    }
    let busy = s.calendar.busy(&resources, t(0, 0), t(23, 0)).await.unwrap();
    assert_eq!(busy.len(), 4, "{busy:?}");
    {
        let g = s.fake.lock().unwrap();
        assert_eq!((g.refreshes, g.free_busy_asked.len()), (2, 5));
    }
    s.store.close().await;
}

#[tokio::test]
async fn an_event_is_created_once_under_the_bookings_id_even_after_a_503_and_a_cancel_deletes_it() {
    let s = setup().await;
    s.fake.lock().unwrap().fail_inserts = 1;
    let booking = visit(s.lead, "k1", "anna", t(18, 0));
    let BookOutcome::Booked(row) = s.calendar.book(&booking).await.unwrap() else {
        panic!("booked")
    };
    let id = event_id(&row);
    assert!((5..=1024).contains(&id.len()));
    assert!(id.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9')), "{id}");
    until(&s.fake, "the event", |g| g.events.len() == 1).await;
    {
        let g = s.fake.lock().unwrap();
        assert_eq!(g.inserts.len(), 2, "the 503 was retried");
        for (calendar, body) in &g.inserts {
            assert_eq!(calendar, ANNA_CAL);
            assert_eq!(body["id"], id.as_str(), "every attempt under the same id");
        }
        let event = &g.events[&(ANNA_CAL.to_string(), id.clone())];
        assert_eq!(event["summary"], "haircut (Ольга)");
        let start = DateTime::parse_from_rfc3339(event["start"]["dateTime"].as_str().unwrap()).unwrap();
        let end = DateTime::parse_from_rfc3339(event["end"]["dateTime"].as_str().unwrap()).unwrap();
        assert_eq!((start, end), (t(18, 0).into(), t(19, 0).into()));
    }
    // The step redone (same key): the same booking; the event is not made twice.
    assert_eq!(
        s.calendar.book(&booking).await.unwrap(),
        BookOutcome::AlreadyBooked(row.clone())
    );
    until(&s.fake, "the repeated insert", |g| g.inserts.len() == 3).await;
    assert_eq!(s.fake.lock().unwrap().events.len(), 1);

    // A resource without a calendar is the store's alone.
    let BookOutcome::Booked(_) = s.calendar.book(&visit(s.lead, "k2", "boris", t(18, 0))).await.unwrap() else {
        panic!("booked")
    };

    assert!(s.calendar.cancel(s.lead, row.id, t(12, 0)).await.unwrap());
    until(&s.fake, "the delete", |g| g.events.is_empty()).await;
    assert_eq!(s.fake.lock().unwrap().deletes, [(ANNA_CAL.to_string(), id.clone())]);
    assert!(!s.calendar.cancel(s.lead, row.id, t(12, 1)).await.unwrap());
    // The store freed the time at once.
    let BookOutcome::Booked(_) = s.calendar.book(&visit(s.lead, "k3", "anna", t(18, 0))).await.unwrap() else {
        panic!("booked again")
    };
    until(&s.fake, "the new event", |g| g.events.len() == 1).await;
    {
        let g = s.fake.lock().unwrap();
        assert_eq!(g.inserts.iter().filter(|(c, _)| c != ANNA_CAL).count(), 0);
        assert_eq!(g.refreshes, 1);
    }
    s.store.close().await;
}

#[tokio::test]
async fn with_google_down_the_store_still_books_and_its_busy_time_is_offered() {
    let s = setup().await;
    s.fake
        .lock()
        .unwrap()
        .busy
        .insert(ANNA_CAL.into(), vec![(t(12, 0), t(13, 0))]);
    s.fake.lock().unwrap().down = true;
    let BookOutcome::Booked(row) = s.calendar.book(&visit(s.lead, "k1", "anna", t(18, 0))).await.unwrap() else {
        panic!("booked")
    };
    let busy = s.calendar.busy(&["anna".to_string()], t(0, 0), t(23, 0)).await.unwrap();
    let got: Vec<(DateTime<Utc>, DateTime<Utc>)> = busy.iter().map(|b| (b.from, b.until)).collect();
    assert_eq!(got, [(t(18, 0), t(19, 10))], "the store's busy time alone");
    // The mirror gave up after its attempts; the booking stays.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(s.fake.lock().unwrap().events.is_empty());
    assert_eq!(s.store.get_booking(row.id).await.unwrap().unwrap().status, "booked");
    // Google back: busy merges again.
    s.fake.lock().unwrap().down = false;
    let busy = s.calendar.busy(&["anna".to_string()], t(0, 0), t(23, 0)).await.unwrap();
    assert_eq!(busy.len(), 2, "{busy:?}");
    s.store.close().await;
}
