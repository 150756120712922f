//! A local amoCRM API v4 server speaking the documented wire format, recording every request.
//!
//! As strict as amoCRM where leadbot can get it wrong:
//! - HAL+JSON collections under `_embedded`, and **204 No Content with an empty body** when a
//!   list is empty; `limit` ≤ 250; a lead's contacts only with `with=contacts`;
//! - problem+json errors (`title`, `type`, `status`, `detail`), 400 `validation-errors` naming
//!   the element (`request_id`) that failed: a status that is not in the pipeline, a bulk PATCH
//!   over 50 leads, a task without `text`/`complete_till`;
//! - `_embedded.tags` in a PATCH replaces all the card's tags; `tags_to_add` adds;
//! - a contact field's `values` in a PATCH are the field's new set;
//! - its own limit: more than `rate_limit` requests in any second answer 429 (an HTML body, as
//!   amoCRM's front does); `block()` makes every request a 403 nginx HTML page;
//! - OAuth: `POST /oauth2/access_token` with single-use refresh tokens (a used one gets the
//!   documented 401 "Token has been revoked"), authorization codes good once; a request whose
//!   bearer is not a valid access token gets 401.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

const REVOKED: &str = include_str!("../fixtures/amocrm/error-401-oauth-refresh-token-revoked.json");
const UNAUTHORIZED: &str = include_str!("../fixtures/amocrm/error-401-unauthorized.json");

#[derive(Debug, Clone)]
pub struct Request {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Value,
    /// What the fake answered.
    pub status: u16,
}

pub struct Inner {
    pub leads: BTreeMap<u64, Value>,
    pub contacts: BTreeMap<u64, Value>,
    pub notes: Vec<(u64, String)>,
    /// Call notes (`call_in` / `call_out`) as `GET /api/v4/leads/notes` shows them.
    pub call_notes: Vec<Value>,
    pub tasks: Vec<Value>,
    pub requests: Vec<Request>,
    /// (pipeline id, its status ids).
    pub pipelines: Vec<(u64, Vec<u64>)>,
    pub lead_fields: Vec<u64>,
    /// Lead fields amoCRM requires in a status: (field id, pipeline id, status id), shown as
    /// the field's `required_statuses`.
    pub required_fields: Vec<(u64, u64, u64)>,
    /// More than this many requests in any one second → 429.
    pub rate_limit: usize,
    pub blocked: bool,
    /// Bearer tokens accepted.
    pub access_tokens: HashSet<String>,
    /// The refresh token that may be exchanged now (single use).
    pub refresh_token: Option<String>,
    pub used_refresh: HashSet<String>,
    pub auth_codes: HashSet<String>,
    pub refreshes: usize,
    pub refused_refreshes: usize,
    /// Leads whose updates fail validation (as a lead with a required field missing would).
    pub rejected_leads: HashSet<u64>,
    next_id: u64,
    next_token: u64,
}

#[derive(Clone)]
pub struct FakeAmo {
    pub base: String,
    pub inner: Arc<Mutex<Inner>>,
}

pub const PIPELINE: u64 = 9621010;
pub const NEW: u64 = 76789230;
pub const BOT: u64 = 76789231;
pub const ASSIGNED: u64 = 76789232;
pub const REVIEW: u64 = 76789233;
pub const LOST: u64 = 143;
pub const DEALS_PIPELINE: u64 = 9621011;
pub const LOOKING: u64 = 76789240;
pub const TOKEN: &str = "long-lived-token";

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

fn problem(status: u16, title: &str, detail: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
        json!({"title": title, "type": format!("https://httpstatus.es/{status}"), "status": status, "detail": detail})
            .to_string(),
    )
        .into_response()
}

fn validation(errors: Vec<(String, &str, String, &str)>) -> Response {
    let mut by_request: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (request_id, code, path, detail) in errors {
        by_request
            .entry(request_id)
            .or_default()
            .push(json!({"code": code, "path": path, "detail": detail}));
    }
    let groups: Vec<Value> = by_request
        .into_iter()
        .map(|(r, e)| json!({"request_id": r, "errors": e}))
        .collect();
    (
        StatusCode::BAD_REQUEST,
        [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
        json!({"validation-errors": groups, "title": "Bad Request", "type": "https://httpstatus.es/400", "status": 400, "detail": "Request validation failed"}).to_string(),
    )
        .into_response()
}

fn hal(name: &str, items: Vec<Value>) -> Response {
    if items.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/hal+json")],
        json!({"_page": 1, "_links": {"self": {"href": "…"}}, "_embedded": {name: items}}).to_string(),
    )
        .into_response()
}

fn one(v: Value) -> Response {
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/hal+json")],
        v.to_string(),
    )
        .into_response()
}

fn html(status: u16) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [(axum::http::header::CONTENT_TYPE, "text/html")],
        format!("<html><head><title>{status} Forbidden</title></head><body><center><h1>{status} Forbidden</h1></center><hr><center>nginx</center></body></html>"),
    )
        .into_response()
}

fn q<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn qs<'a>(query: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    query
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn phones_of(contact: &Value) -> Vec<String> {
    contact["custom_fields_values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["field_code"] == "PHONE")
        .flat_map(|f| f["values"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v["value"].as_str().map(str::to_string))
        .collect()
}

impl FakeAmo {
    pub async fn start() -> FakeAmo {
        let inner = Arc::new(Mutex::new(Inner {
            leads: BTreeMap::new(),
            contacts: BTreeMap::new(),
            notes: vec![],
            call_notes: vec![],
            tasks: vec![],
            requests: vec![],
            pipelines: vec![
                (PIPELINE, vec![NEW, BOT, ASSIGNED, REVIEW, 142, LOST]),
                (DEALS_PIPELINE, vec![76789239, LOOKING, 142, LOST]),
            ],
            lead_fields: vec![735700, 735701, 735703, 735704],
            required_fields: vec![],
            rate_limit: 7,
            blocked: false,
            access_tokens: [TOKEN.to_string()].into_iter().collect(),
            refresh_token: None,
            used_refresh: HashSet::new(),
            auth_codes: HashSet::new(),
            refreshes: 0,
            refused_refreshes: 0,
            rejected_leads: HashSet::new(),
            next_id: 50_000_000,
            next_token: 1,
        }));
        let fake = FakeAmo {
            base: String::new(),
            inner,
        };
        let app = Router::new()
            .route("/oauth2/access_token", post(oauth))
            .route("/api/v4/leads/pipelines", get(pipelines))
            .route("/api/v4/leads/custom_fields", get(custom_fields))
            .route("/api/v4/leads", get(list_leads).patch(patch_leads))
            .route("/api/v4/leads/notes", get(list_notes).post(add_notes))
            .route("/api/v4/leads/{id}", get(get_lead).patch(patch_lead))
            .route("/api/v4/leads/{id}/link", post(link))
            .route("/api/v4/contacts", get(list_contacts).post(add_contacts))
            .route("/api/v4/contacts/{id}", get(get_contact).patch(patch_contact))
            .route("/api/v4/tasks", get(list_tasks).post(add_tasks))
            .layer(axum::middleware::from_fn_with_state(fake.clone(), gate))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeAmo { base, ..fake }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// A lead in `status` of the main pipeline, with a contact when `phone` or `contact_name`.
    pub fn add_lead(&self, id: u64, status: u64, contact_name: Option<&str>, phone: Option<&str>) -> Option<u64> {
        self.add_lead_in(id, PIPELINE, status, contact_name, phone, &[])
    }

    pub fn add_lead_in(
        &self,
        id: u64,
        pipeline: u64,
        status: u64,
        contact_name: Option<&str>,
        phone: Option<&str>,
        tags: &[&str],
    ) -> Option<u64> {
        let mut g = self.lock();
        let contact = (contact_name.is_some() || phone.is_some()).then(|| {
            g.next_id += 1;
            let cid = g.next_id;
            let fields = phone.map(|p| {
                json!([{"field_id": 735649, "field_name": "Телефон", "field_code": "PHONE", "field_type": "multitext",
                        "values": [{"value": p, "enum_id": 718321, "enum_code": "WORK"}]}])
            });
            g.contacts.insert(
                cid,
                json!({"id": cid, "name": contact_name.unwrap_or(""), "custom_fields_values": fields.unwrap_or(Value::Null)}),
            );
            cid
        });
        let contacts: Vec<Value> = contact.iter().map(|c| json!({"id": c, "is_main": true})).collect();
        let tags: Vec<Value> = tags
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"id": i + 1, "name": t}))
            .collect();
        // Created before the test's app started: history the reconciliation leaves alone.
        let t = now() - 3600;
        g.leads.insert(
            id,
            json!({"id": id, "name": format!("Заявка №{id}"), "price": 0, "responsible_user_id": 10000698,
                   "status_id": status, "pipeline_id": pipeline, "created_at": t, "updated_at": t,
                   "custom_fields_values": null,
                   "_embedded": {"tags": tags, "contacts": contacts}}),
        );
        contact
    }

    pub fn lead(&self, id: u64) -> Value {
        self.lock().leads.get(&id).cloned().unwrap_or(Value::Null)
    }

    pub fn contact_of(&self, lead: u64) -> Option<Value> {
        let g = self.lock();
        let cid = g.leads.get(&lead)?["_embedded"]["contacts"][0]["id"].as_u64()?;
        g.contacts.get(&cid).cloned()
    }

    pub fn phones_of_lead(&self, lead: u64) -> Vec<String> {
        self.contact_of(lead).map(|c| phones_of(&c)).unwrap_or_default()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// Requests of `method` to paths starting with `prefix`.
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .count()
    }

    /// The most requests that arrived within any one second.
    pub fn max_per_second(&self) -> usize {
        let times: Vec<Instant> = self.lock().requests.iter().map(|r| r.at).collect();
        let mut best = 0;
        for (i, t) in times.iter().enumerate() {
            let n = times[i..]
                .iter()
                .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
                .count();
            best = best.max(n);
        }
        best
    }

    pub fn block(&self, on: bool) {
        self.lock().blocked = on;
    }

    /// OAuth: an authorization code the token endpoint accepts once.
    pub fn issue_code(&self, code: &str) {
        self.lock().auth_codes.insert(code.to_string());
    }

    /// OAuth: the current access tokens stop working (as after their 24 h).
    pub fn expire_access_tokens(&self) {
        self.lock().access_tokens.clear();
    }
}

/// Logs every request; refuses it when blocked, over the limit or unauthorised.
async fn gate(State(fake): State<FakeAmo>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let method = parts.method.to_string();
    let at = Instant::now();
    let refusal = {
        let g = fake.lock();
        let recent = g
            .requests
            .iter()
            .rev()
            .take_while(|r| at.duration_since(r.at) < Duration::from_secs(1))
            .count();
        let bearer = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        if g.blocked {
            Some(html(403))
        } else if recent >= g.rate_limit {
            Some(html(429))
        } else if path.starts_with("/api/") && !bearer.is_some_and(|b| g.access_tokens.contains(&b)) {
            Some(
                (
                    StatusCode::UNAUTHORIZED,
                    [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
                    UNAUTHORIZED.to_string(),
                )
                    .into_response(),
            )
        } else {
            None
        }
    };
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let response = match refusal {
        Some(r) => r,
        None => {
            let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
            next.run(req).await
        }
    };
    fake.lock().requests.push(Request {
        at,
        method,
        path,
        query,
        body,
        status: response.status().as_u16(),
    });
    response
}

async fn oauth(State(fake): State<FakeAmo>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut g = fake.lock();
    let ok = match v["grant_type"].as_str() {
        Some("authorization_code") => v["code"].as_str().is_some_and(|c| g.auth_codes.remove(c)),
        Some("refresh_token") => {
            let given = v["refresh_token"].as_str().unwrap_or("");
            let ok = g.refresh_token.as_deref() == Some(given) && !g.used_refresh.contains(given);
            g.used_refresh.insert(given.to_string());
            if ok {
                g.refreshes += 1;
            } else {
                g.refused_refreshes += 1;
            }
            ok
        }
        _ => false,
    };
    if !ok || v["client_id"].as_str().is_none() || v["redirect_uri"].as_str().is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
            REVOKED.to_string(),
        )
            .into_response();
    }
    g.next_token += 1;
    let n = g.next_token;
    let access = format!("access-{n}");
    let refresh = format!("refresh-{n}");
    g.access_tokens.insert(access.clone());
    g.refresh_token = Some(refresh.clone());
    one(json!({"token_type": "Bearer", "expires_in": 86400, "access_token": access, "refresh_token": refresh}))
}

async fn pipelines(State(fake): State<FakeAmo>) -> Response {
    let g = fake.lock();
    let items: Vec<Value> = g
        .pipelines
        .iter()
        .map(|(id, statuses)| {
            let st: Vec<Value> = statuses
                .iter()
                .enumerate()
                .map(|(i, s)| json!({"id": s, "name": format!("status {s}"), "sort": i * 10, "pipeline_id": id, "type": if i == 0 {1} else {0}}))
                .collect();
            json!({"id": id, "name": format!("pipeline {id}"), "is_main": *id == PIPELINE, "_embedded": {"statuses": st}})
        })
        .collect();
    hal("pipelines", items)
}

async fn custom_fields(State(fake): State<FakeAmo>) -> Response {
    let g = fake.lock();
    let items = g
        .lead_fields
        .iter()
        .map(|id| {
            let required: Vec<Value> = g
                .required_fields
                .iter()
                .filter(|(f, _, _)| f == id)
                .map(|(_, p, s)| json!({"pipeline_id": p, "status_id": s}))
                .collect();
            json!({"id": id, "name": format!("field {id}"), "type": "text", "required_statuses": required})
        })
        .collect();
    hal("custom_fields", items)
}

/// `limit` (default 50); `None` when it is out of amoCRM's 1..=250.
fn limit_of(query: &[(String, String)]) -> Option<usize> {
    match q(query, "limit").map(str::parse::<usize>) {
        None => Some(50),
        Some(Ok(n)) if (1..=250).contains(&n) => Some(n),
        _ => None,
    }
}

fn bad_limit() -> Response {
    problem(400, "Bad Request", "limit must be 1..250")
}

fn lead_view(lead: &Value, with_contacts: bool) -> Value {
    let mut v = lead.clone();
    if !with_contacts {
        if let Some(e) = v["_embedded"].as_object_mut() {
            e.remove("contacts");
        }
    }
    v
}

async fn list_leads(State(fake): State<FakeAmo>, RawQuery(raw): RawQuery) -> Response {
    let query: Vec<(String, String)> = raw
        .map(|r| serde_urlencoded::from_str(&r).unwrap_or_default())
        .unwrap_or_default();
    let Some(limit) = limit_of(&query) else {
        return bad_limit();
    };
    let with_contacts = q(&query, "with").is_some_and(|w| w.split(',').any(|x| x == "contacts"));
    let ids: Vec<u64> = qs(&query, "filter[id][]")
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let num = |k: &str| q(&query, k).and_then(|s| s.parse::<u64>().ok());
    let created_from = num("filter[created_at][from]");
    let updated_from = num("filter[updated_at][from]");
    let mut statuses = vec![];
    for i in 0.. {
        match (
            num(&format!("filter[statuses][{i}][pipeline_id]")),
            num(&format!("filter[statuses][{i}][status_id]")),
        ) {
            (Some(p), Some(s)) => statuses.push((p, s)),
            _ => break,
        }
    }
    let page: usize = q(&query, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let g = fake.lock();
    let mut items: Vec<&Value> = g
        .leads
        .values()
        .filter(|l| ids.is_empty() || ids.contains(&l["id"].as_u64().unwrap_or(0)))
        .filter(|l| created_from.is_none_or(|f| l["created_at"].as_u64().unwrap_or(0) >= f))
        .filter(|l| updated_from.is_none_or(|f| l["updated_at"].as_u64().unwrap_or(0) >= f))
        .filter(|l| {
            statuses.is_empty()
                || statuses
                    .iter()
                    .any(|(p, s)| l["pipeline_id"].as_u64() == Some(*p) && l["status_id"].as_u64() == Some(*s))
        })
        .collect();
    if let Some(order) = query.iter().find(|(k, _)| k.starts_with("order[")) {
        let key = order.0.trim_start_matches("order[").trim_end_matches(']').to_string();
        items.sort_by_key(|l| (l[&key].as_u64().unwrap_or(0), l["id"].as_u64().unwrap_or(0)));
        if order.1 == "desc" {
            items.reverse();
        }
    }
    let items = items
        .into_iter()
        .skip((page.max(1) - 1) * limit)
        .take(limit)
        .map(|l| lead_view(l, with_contacts))
        .collect();
    hal("leads", items)
}

async fn get_lead(State(fake): State<FakeAmo>, Path(id): Path<u64>, RawQuery(raw): RawQuery) -> Response {
    let with_contacts = raw.is_some_and(|r| r.contains("with=contacts"));
    match fake.lock().leads.get(&id) {
        Some(l) => one(lead_view(l, with_contacts)),
        None => problem(404, "Not Found", "lead not found"),
    }
}

/// Applies one lead patch; `Err` is a validation error (code, path, detail).
fn apply_lead(g: &mut Inner, patch: &Value) -> Result<Value, (&'static str, String, &'static str)> {
    let id = patch["id"]
        .as_u64()
        .ok_or(("FieldMissing", "id".to_string(), "This field is missing."))?;
    if g.rejected_leads.contains(&id) {
        return Err((
            "FieldMissing",
            "custom_fields_values".into(),
            "A field required in this status is missing.",
        ));
    }
    let pipelines = g.pipelines.clone();
    let lead = g
        .leads
        .get_mut(&id)
        .ok_or(("NotFound", "id".to_string(), "Lead not found."))?;
    let pipeline = patch["pipeline_id"]
        .as_u64()
        .or(lead["pipeline_id"].as_u64())
        .unwrap_or(0);
    if let Some(status) = patch["status_id"].as_u64() {
        let ok = pipelines
            .iter()
            .any(|(p, statuses)| *p == pipeline && statuses.contains(&status));
        if !ok {
            return Err((
                "NotSupportedChoice",
                "status_id".into(),
                "The value you selected is not a valid choice.",
            ));
        }
        lead["status_id"] = json!(status);
        lead["pipeline_id"] = json!(pipeline);
    }
    if let Some(u) = patch.get("responsible_user_id") {
        if !u.is_u64() {
            return Err((
                "InvalidType",
                "responsible_user_id".into(),
                "This value should be of type int.",
            ));
        }
        lead["responsible_user_id"] = u.clone();
    }
    if let Some(tags) = patch.pointer("/_embedded/tags") {
        // Replaces every tag (the documented behaviour that loses the card's own tags).
        lead["_embedded"]["tags"] = tags.clone();
    }
    if let Some(add) = patch["tags_to_add"].as_array() {
        let tags = lead["_embedded"]["tags"].as_array_mut().unwrap();
        for t in add {
            if !tags.iter().any(|x| x["name"] == t["name"]) {
                let n = tags.len() + 100;
                tags.push(json!({"id": n, "name": t["name"]}));
            }
        }
    }
    if let Some(fields) = patch["custom_fields_values"].as_array() {
        let mut current = lead["custom_fields_values"].as_array().cloned().unwrap_or_default();
        for f in fields {
            current.retain(|c| c["field_id"] != f["field_id"]);
            current.push(f.clone());
        }
        lead["custom_fields_values"] = json!(current);
    }
    lead["updated_at"] = json!(now());
    Ok(json!({"id": id, "updated_at": now(), "request_id": patch["request_id"]}))
}

async fn patch_leads(State(fake): State<FakeAmo>, body: Bytes) -> Response {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
        return problem(400, "Bad Request", "an array of leads is expected");
    };
    if items.len() > 50 {
        return problem(400, "Bad Request", "no more than 50 leads per request");
    }
    let mut g = fake.lock();
    // Validate all first: a request with an invalid element changes nothing.
    let mut errors = vec![];
    for (i, item) in items.iter().enumerate() {
        let request_id = item["request_id"].as_str().map_or(i.to_string(), str::to_string);
        let mut probe = Inner { ..clone_inner(&g) };
        if let Err((code, path, detail)) = apply_lead(&mut probe, item) {
            errors.push((request_id, code, path, detail));
        }
    }
    if !errors.is_empty() {
        return validation(errors);
    }
    let done: Vec<Value> = items.iter().filter_map(|i| apply_lead(&mut g, i).ok()).collect();
    one(json!({"_links": {}, "_embedded": {"leads": done}}))
}

fn clone_inner(g: &Inner) -> Inner {
    Inner {
        leads: g.leads.clone(),
        contacts: BTreeMap::new(),
        notes: vec![],
        call_notes: vec![],
        tasks: vec![],
        requests: vec![],
        pipelines: g.pipelines.clone(),
        lead_fields: vec![],
        required_fields: vec![],
        rate_limit: 0,
        blocked: false,
        access_tokens: HashSet::new(),
        refresh_token: None,
        used_refresh: HashSet::new(),
        auth_codes: HashSet::new(),
        refreshes: 0,
        refused_refreshes: 0,
        rejected_leads: g.rejected_leads.clone(),
        next_id: 0,
        next_token: 0,
    }
}

async fn patch_lead(State(fake): State<FakeAmo>, Path(id): Path<u64>, body: Bytes) -> Response {
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return problem(400, "Bad Request", "JSON expected");
    };
    v["id"] = json!(id);
    match apply_lead(&mut fake.lock(), &v) {
        Ok(done) => one(done),
        Err((code, path, detail)) => validation(vec![("0".into(), code, path, detail)]),
    }
}

async fn link(State(fake): State<FakeAmo>, Path(id): Path<u64>, body: Bytes) -> Response {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
        return problem(400, "Bad Request", "an array of links is expected");
    };
    let mut g = fake.lock();
    for l in &items {
        let cid = l["to_entity_id"].as_u64().unwrap_or(0);
        if l["to_entity_type"] != "contacts" || !g.contacts.contains_key(&cid) {
            return validation(vec![(
                "0".into(),
                "NotFound",
                "to_entity_id".into(),
                "Entity not found.",
            )]);
        }
        let Some(lead) = g.leads.get_mut(&id) else {
            return problem(404, "Not Found", "lead not found");
        };
        let contacts = lead["_embedded"]["contacts"].as_array_mut().unwrap();
        if !contacts.iter().any(|c| c["id"] == json!(cid)) {
            contacts.push(json!({"id": cid, "is_main": l["metadata"]["is_main"].as_bool().unwrap_or(false)}));
        }
    }
    one(json!({"_embedded": {"links": items}}))
}

/// `GET /api/v4/leads/notes`: the common notes and the call notes, by `filter[entity_id][]`,
/// `filter[note_type]` / `filter[note_type][]` and `filter[updated_at][from]`.
async fn list_notes(State(fake): State<FakeAmo>, RawQuery(raw): RawQuery) -> Response {
    let query: Vec<(String, String)> = raw
        .map(|r| serde_urlencoded::from_str(&r).unwrap_or_default())
        .unwrap_or_default();
    let entity: Vec<u64> = qs(&query, "filter[entity_id][]")
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let mut types: Vec<String> = qs(&query, "filter[note_type][]")
        .iter()
        .map(|s| s.to_string())
        .collect();
    types.extend(q(&query, "filter[note_type]").map(str::to_string));
    let from: i64 = q(&query, "filter[updated_at][from]")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let g = fake.lock();
    let mut all: Vec<Value> = g
        .notes
        .iter()
        .enumerate()
        .map(|(i, (entity, text))| {
            json!({"id": 5000 + i, "entity_id": entity, "note_type": "common", "params": {"text": text},
                   "created_at": now(), "updated_at": now()})
        })
        .collect();
    all.extend(g.call_notes.iter().cloned());
    let items: Vec<Value> = all
        .into_iter()
        .filter(|n| entity.is_empty() || entity.contains(&n["entity_id"].as_u64().unwrap_or(0)))
        .filter(|n| types.is_empty() || types.iter().any(|t| n["note_type"] == json!(t)))
        .filter(|n| n["updated_at"].as_i64().unwrap_or(0) >= from)
        .collect();
    hal("notes", items)
}

async fn add_notes(State(fake): State<FakeAmo>, body: Bytes) -> Response {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
        return problem(400, "Bad Request", "an array of notes is expected");
    };
    let mut g = fake.lock();
    let mut done = vec![];
    for (i, n) in items.iter().enumerate() {
        let (Some(entity), Some(text)) = (
            n["entity_id"].as_u64(),
            n.pointer("/params/text").and_then(Value::as_str),
        ) else {
            return validation(vec![(
                i.to_string(),
                "FieldMissing",
                "params.text".into(),
                "This field is missing.",
            )]);
        };
        if n["note_type"] != "common" {
            return validation(vec![(
                i.to_string(),
                "NotSupportedChoice",
                "note_type".into(),
                "Unknown note type.",
            )]);
        }
        g.notes.push((entity, text.to_string()));
        g.next_id += 1;
        done.push(json!({"id": g.next_id, "entity_id": entity}));
    }
    one(json!({"_embedded": {"notes": done}}))
}

async fn list_contacts(State(fake): State<FakeAmo>, RawQuery(raw): RawQuery) -> Response {
    let query: Vec<(String, String)> = raw
        .map(|r| serde_urlencoded::from_str(&r).unwrap_or_default())
        .unwrap_or_default();
    if limit_of(&query).is_none() {
        return bad_limit();
    }
    let ids: Vec<u64> = qs(&query, "filter[id][]")
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let search = q(&query, "query").map(str::to_string);
    let g = fake.lock();
    let items = g
        .contacts
        .values()
        .filter(|c| ids.is_empty() || ids.contains(&c["id"].as_u64().unwrap_or(0)))
        .filter(|c| {
            search.as_ref().is_none_or(|s| {
                phones_of(c).iter().any(|p| {
                    p.chars()
                        .filter(char::is_ascii_digit)
                        .collect::<String>()
                        .contains(s.as_str())
                })
            })
        })
        .cloned()
        .collect();
    hal("contacts", items)
}

async fn get_contact(State(fake): State<FakeAmo>, Path(id): Path<u64>) -> Response {
    match fake.lock().contacts.get(&id) {
        Some(c) => one(c.clone()),
        None => problem(404, "Not Found", "contact not found"),
    }
}

async fn patch_contact(State(fake): State<FakeAmo>, Path(id): Path<u64>, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return problem(400, "Bad Request", "JSON expected");
    };
    let mut g = fake.lock();
    let Some(contact) = g.contacts.get_mut(&id) else {
        return problem(404, "Not Found", "contact not found");
    };
    let mut current = contact["custom_fields_values"].as_array().cloned().unwrap_or_default();
    for f in v["custom_fields_values"].as_array().into_iter().flatten() {
        // The values sent are the field's new set.
        let same = |c: &Value| {
            (f.get("field_id").is_some() && c["field_id"] == f["field_id"])
                || (f.get("field_code").is_some() && c["field_code"] == f["field_code"])
        };
        let mut field = current
            .iter()
            .find(|c| same(c))
            .cloned()
            .unwrap_or(json!({"field_id": 735649, "field_code": "PHONE"}));
        field["values"] = f["values"].clone();
        current.retain(|c| !same(c));
        current.push(field);
    }
    contact["custom_fields_values"] = json!(current);
    one(json!({"id": id, "updated_at": now()}))
}

async fn add_contacts(State(fake): State<FakeAmo>, body: Bytes) -> Response {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
        return problem(400, "Bad Request", "an array of contacts is expected");
    };
    let mut g = fake.lock();
    let mut done = vec![];
    for c in items {
        g.next_id += 1;
        let id = g.next_id;
        let mut fields = c["custom_fields_values"].as_array().cloned().unwrap_or_default();
        for f in &mut fields {
            if f["field_code"] == "PHONE" {
                f["field_id"] = json!(735649);
            }
        }
        g.contacts.insert(
            id,
            json!({"id": id, "name": c["name"], "custom_fields_values": if fields.is_empty() { Value::Null } else { json!(fields) }}),
        );
        done.push(json!({"id": id, "request_id": c["request_id"]}));
    }
    one(json!({"_embedded": {"contacts": done}}))
}

async fn list_tasks(State(fake): State<FakeAmo>, RawQuery(raw): RawQuery) -> Response {
    let query: Vec<(String, String)> = raw
        .map(|r| serde_urlencoded::from_str(&r).unwrap_or_default())
        .unwrap_or_default();
    let entity: Vec<u64> = qs(&query, "filter[entity_id][]")
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let open_only = q(&query, "filter[is_completed]") == Some("0");
    let g = fake.lock();
    let items = g
        .tasks
        .iter()
        .filter(|t| entity.is_empty() || entity.contains(&t["entity_id"].as_u64().unwrap_or(0)))
        .filter(|t| !open_only || t["is_completed"] == false)
        .cloned()
        .collect();
    hal("tasks", items)
}

async fn add_tasks(State(fake): State<FakeAmo>, body: Bytes) -> Response {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
        return problem(400, "Bad Request", "an array of tasks is expected");
    };
    let mut g = fake.lock();
    let mut done = vec![];
    for (i, t) in items.iter().enumerate() {
        if t["text"].as_str().is_none_or(str::is_empty) || !t["complete_till"].is_i64() {
            return validation(vec![(
                i.to_string(),
                "FieldMissing",
                "text".into(),
                "This field is missing.",
            )]);
        }
        g.next_id += 1;
        let mut task = t.clone();
        task["id"] = json!(g.next_id);
        task["is_completed"] = json!(false);
        g.tasks.push(task);
        done.push(json!({"id": g.next_id}));
    }
    one(json!({"_embedded": {"tasks": done}}))
}
