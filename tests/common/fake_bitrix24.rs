//! A local Bitrix24 REST server speaking the documented wire format (answers shaped like the
//! fixtures in tests/fixtures/bitrix24), recording every call. It keeps its own leaky bucket
//! and answers 503 QUERY_LIMIT_EXCEEDED when a client overruns it.
//!
//! As strict as the portal where leadbot can get it wrong:
//! - `crm.lead.list` honours `select` (a field not selected is absent; no `select` means `*`,
//!   all fields but the multifields PHONE/EMAIL/WEB/IM and `UF_*`), `order`, the `>ID`/`>=ID`/
//!   `<ID`/`STATUS_ID` filters, and pages of 50: with `start` ≥ 0 it adds `total` and, while
//!   more follow, `next`; with `start: -1` (the documented fast mode) neither;
//! - `crm.lead.get` takes only `id` and returns the whole card, multifields included (the
//!   method has no `select`);
//! - the OAuth server rotates the refresh token: a refresh token used once is refused with
//!   400 `invalid_grant` (see `oauth_delay` to widen a race);
//! - it can be told to answer the next N calls with a [`Fault`]: a 5xx with an error body, an
//!   HTML error page, or HTTP 200 with an `error` body.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Call {
    pub at: Instant,
    pub method: String,
    pub params: Value,
}

#[derive(Default)]
pub struct Inner {
    pub leads: BTreeMap<u64, Value>,
    pub deals: BTreeMap<u64, Value>,
    pub contacts: BTreeMap<u64, Value>,
    pub calls: Vec<Call>,
    pub comments: Vec<(String, String)>,
    /// Timeline comments as `crm.timeline.comment.list` shows them (with ENTITY_TYPE).
    pub timeline: Vec<Value>,
    /// CRM activities (calls, to-dos, Open Lines sessions) by id.
    pub activities: BTreeMap<u64, Value>,
    pub notifications: Vec<(String, String)>,
    pub chat_messages: Vec<(String, String)>,
    pub transfers: Vec<(String, String)>,
    /// The portal's bucket: (capacity, drain per second); `None` = unlimited.
    pub bucket: Option<(f64, f64)>,
    level: f64,
    last: Option<Instant>,
    /// Answer this many next requests with QUERY_LIMIT_EXCEEDED regardless of the bucket.
    pub force_limit: usize,
    pub limited: usize,
    next_multi_id: u64,
    /// OAuth: the valid access token; calls with another one get 401 expired_token.
    pub access_token: Option<String>,
    pub refreshes: Vec<String>,
    /// Requests that hit the old (moved) portal address.
    pub redirected: usize,
    /// Answer the next call of this method with OPERATION_TIME_LIMIT, resetting in 1 s.
    pub operation_limit_once: Option<String>,
    /// Faults answered instead of the next calls (of the method, when one is named), in order.
    pub faults: VecDeque<(Option<String>, Fault)>,
    /// Faults answered so far: (method, fault).
    pub faulted: Vec<(String, Fault)>,
    /// Refresh tokens exchanged already (the OAuth server refuses them again).
    pub used_refresh: HashSet<String>,
    /// Refreshes the OAuth server refused (stale refresh token, bad client).
    pub refused_refreshes: Vec<String>,
    /// How long the OAuth server takes to answer.
    pub oauth_delay: Duration,
}

/// A failure the portal can answer with instead of doing the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// This HTTP status with `{"error": code, "error_description": ...}` (e.g. 500
    /// INTERNAL_SERVER_ERROR, 503 QUERY_LIMIT_EXCEEDED).
    Status(u16, &'static str, &'static str),
    /// A web server's HTML error page with this status (a 502/503 from the portal's front).
    Html(u16),
    /// HTTP 200 with an `error` body (the portal does this for limits, too).
    ErrorAt200(&'static str, &'static str),
    /// This status and exactly this JSON body (a documented answer, verbatim).
    Verbatim(u16, &'static str),
}

impl Fault {
    pub fn internal_error() -> Fault {
        Fault::Status(500, "INTERNAL_SERVER_ERROR", "Internal server error")
    }
    pub fn query_limit_at_200() -> Fault {
        Fault::ErrorAt200("QUERY_LIMIT_EXCEEDED", "Too many requests")
    }

    fn response(&self) -> Response {
        match self {
            Fault::Status(status, code, description) => err(StatusCode::from_u16(*status).unwrap(), code, description),
            Fault::Html(status) => (
                StatusCode::from_u16(*status).unwrap(),
                [(axum::http::header::CONTENT_TYPE, "text/html; charset=UTF-8")],
                format!(
                    "<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n<center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
                ),
            )
                .into_response(),
            Fault::ErrorAt200(code, description) => err(StatusCode::OK, code, description),
            Fault::Verbatim(status, body) => (
                StatusCode::from_u16(*status).unwrap(),
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response(),
        }
    }
}

/// The `time` block of an answer, with the documented fields.
pub fn time_block() -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    json!({
        "start": now, "finish": now + 0.01, "duration": 0.01, "processing": 0.005,
        "date_start": "2026-03-02T09:30:00+03:00", "date_finish": "2026-03-02T09:30:00+03:00",
        "operating_reset_at": (now as u64) + 600, "operating": 0
    })
}

/// Fields `crm.lead.list` returns only when named in `select`.
const MULTIFIELDS: [&str; 4] = ["PHONE", "EMAIL", "WEB", "IM"];
/// Fake-internal fields of a stored card, never part of an answer.
const INTERNAL: [&str; 1] = ["CHAT"];

/// A card as the portal shows it: without the fake's own bookkeeping.
fn public(card: &Value) -> Value {
    let mut c = card.clone();
    if let Some(o) = c.as_object_mut() {
        for k in INTERNAL {
            o.remove(k);
        }
    }
    c
}

/// The card with only the `select`ed fields (`*` = every field but multifields and `UF_*`).
pub fn apply_select(card: &Value, select: &Value) -> Value {
    let names: Vec<&str> = select
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let names = if names.is_empty() { vec!["*"] } else { names };
    let keep = |k: &str| {
        names.iter().any(|n| match *n {
            "*" => !MULTIFIELDS.contains(&k) && !k.starts_with("UF_"),
            "UF_*" => k.starts_with("UF_"),
            n => n == k,
        })
    };
    let out: serde_json::Map<String, Value> = public(card)
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Value::Object(out)
}

#[derive(Clone, Default)]
pub struct FakeBitrix24 {
    pub inner: Arc<Mutex<Inner>>,
    pub base: String,
}

fn ok(result: Value) -> Response {
    Json(json!({"result": result, "time": time_block()})).into_response()
}

fn err(status: StatusCode, code: &str, description: &str) -> Response {
    (status, Json(json!({"error": code, "error_description": description}))).into_response()
}

impl FakeBitrix24 {
    pub async fn start() -> FakeBitrix24 {
        let mut fake = FakeBitrix24::default();
        fake.inner.lock().unwrap().next_multi_id = 20000;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        fake.base = format!("http://{addr}");
        let app = Router::new()
            .route("/rest/1/secret/{method}", post(rest))
            .route("/rest/{method}", post(rest))
            .route("/moved/rest/1/secret/{method}", post(moved))
            .route("/oauth/token/", get(oauth_token))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    pub fn webhook_url(&self) -> String {
        format!("{}/rest/1/secret/", self.base)
    }

    /// Adds a lead card (the documented `crm.lead.get` shape).
    pub fn add_lead(&self, id: u64, status: &str, name: &str, phone: Option<&str>, openline_chat: Option<u64>) {
        let mut card = json!({
            "ID": id.to_string(), "TITLE": format!("Lead #{id}"), "NAME": name, "LAST_NAME": null,
            "STATUS_ID": status, "SOURCE_ID": "WEB", "ASSIGNED_BY_ID": "1", "COMMENTS": null,
            "HAS_PHONE": if phone.is_some() { "Y" } else { "N" },
        });
        if let Some(p) = phone {
            card["PHONE"] = json!([{"ID": "11658", "VALUE_TYPE": "WORK", "VALUE": p, "TYPE_ID": "PHONE"}]);
        }
        if let Some(chat) = openline_chat {
            card["IM"] = json!([{"ID": "11660", "VALUE_TYPE": "OPENLINE", "VALUE": format!("imol|telegrambot|1|{chat}|21"), "TYPE_ID": "IM"}]);
            card["CHAT"] = json!(chat);
        }
        self.inner.lock().unwrap().leads.insert(id, card);
    }

    /// Adds a deal card (the documented `crm.deal.get` shape).
    pub fn add_deal(&self, id: u64, stage: &str, assigned: &str, created: &str) {
        let card = json!({
            "ID": id.to_string(), "TITLE": format!("Сделка #{id}"), "CATEGORY_ID": "0", "STAGE_ID": stage,
            "ASSIGNED_BY_ID": assigned, "CONTACT_ID": null, "SOURCE_ID": "", "OPPORTUNITY": "0.00",
            "CURRENCY_ID": "RUB", "DATE_CREATE": created, "MOVED_TIME": created, "DATE_MODIFY": created,
            "COMMENTS": null,
        });
        self.inner.lock().unwrap().deals.insert(id, card);
    }

    pub fn deal(&self, id: u64) -> Value {
        self.inner
            .lock()
            .unwrap()
            .deals
            .get(&id)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Adds an activity (a call: TYPE_ID 2, DIRECTION 1 incoming / 2 outgoing).
    pub fn add_activity(&self, id: u64, activity: Value) {
        self.inner.lock().unwrap().activities.insert(id, activity);
    }

    /// The deal's timeline comments, oldest first.
    pub fn deal_comments(&self, deal: u64) -> Vec<String> {
        self.inner
            .lock()
            .unwrap()
            .timeline
            .iter()
            .filter(|c| c["ENTITY_TYPE"] == "deal" && c["ENTITY_ID"] == json!(deal.to_string()))
            .filter_map(|c| c["COMMENT"].as_str().map(str::to_string))
            .collect()
    }

    /// The deal's activities with this subject.
    pub fn deal_todos(&self, deal: u64, subject: &str) -> Vec<Value> {
        self.inner
            .lock()
            .unwrap()
            .activities
            .values()
            .filter(|a| a["OWNER_ID"] == json!(deal.to_string()) && a["SUBJECT"] == json!(subject))
            .cloned()
            .collect()
    }

    pub fn lead(&self, id: u64) -> Value {
        self.inner
            .lock()
            .unwrap()
            .leads
            .get(&id)
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    pub fn all_calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// Answers the next `n` calls (of `method`, or of any method) with `fault`.
    pub fn fail_next(&self, method: Option<&str>, n: usize, fault: Fault) {
        let mut st = self.inner.lock().unwrap();
        for _ in 0..n {
            st.faults.push_back((method.map(str::to_string), fault.clone()));
        }
    }

    /// The answer the portal gives to `method` with `params` (for comparing shapes with the
    /// documented answers), without recording a call.
    pub fn answer_to(&self, method: &str, params: &Value) -> (u16, Value) {
        let resp = self.handle(method, params);
        (resp.status().as_u16(), futures_body(resp))
    }

    fn handle(&self, method: &str, params: &Value) -> Response {
        let mut st = self.inner.lock().unwrap();
        match method {
            "crm.lead.get" => {
                let id = id_of(&params["id"]);
                match st.leads.get(&id) {
                    Some(card) => {
                        let mut card = card.clone();
                        card.as_object_mut().map(|o| o.remove("CHAT"));
                        ok(card)
                    }
                    None => err(StatusCode::BAD_REQUEST, "", "Not found"),
                }
            }
            "crm.deal.get" | "crm.contact.get" => {
                let id = id_of(&params["id"]);
                let found = if method == "crm.deal.get" {
                    st.deals.get(&id)
                } else {
                    st.contacts.get(&id)
                };
                match found {
                    Some(v) => ok(v.clone()),
                    None => err(StatusCode::BAD_REQUEST, "", "Not found"),
                }
            }
            "crm.deal.update" => {
                let id = id_of(&params["id"]);
                let Some(deal) = st.deals.get_mut(&id) else {
                    return err(StatusCode::BAD_REQUEST, "", "ID is not defined or invalid.");
                };
                for (k, v) in params["fields"].as_object().cloned().unwrap_or_default() {
                    deal[k.as_str()] = v;
                }
                ok(json!(true))
            }
            "crm.lead.update" => {
                let id = id_of(&params["id"]);
                let new_id = st.next_multi_id;
                let Some(card) = st.leads.get_mut(&id) else {
                    return err(StatusCode::BAD_REQUEST, "", "ID is not defined or invalid.");
                };
                let mut appended = 0;
                if let Some(fields) = params["fields"].as_object() {
                    for (k, v) in fields {
                        if k == "PHONE" {
                            let list = card["PHONE"].as_array().cloned().unwrap_or_default();
                            let mut list = list;
                            for item in v.as_array().cloned().unwrap_or_default() {
                                // Documented: a value with the ID of an existing one replaces
                                // it (an empty VALUE deletes it); one without an ID is appended.
                                if let Some(existing) = item.get("ID").filter(|i| !i.is_null()) {
                                    let existing = existing
                                        .as_str()
                                        .map(str::to_string)
                                        .unwrap_or_else(|| existing.to_string());
                                    if item["VALUE"].as_str().is_some_and(str::is_empty) {
                                        list.retain(|e| e["ID"] != json!(existing));
                                    } else if let Some(e) = list.iter_mut().find(|e| e["ID"] == json!(existing)) {
                                        e["VALUE"] = item["VALUE"].clone();
                                    }
                                    continue;
                                }
                                let mut item = item.clone();
                                item["ID"] = json!((new_id + appended).to_string());
                                item["TYPE_ID"] = json!("PHONE");
                                list.push(item);
                                appended += 1;
                            }
                            card["PHONE"] = json!(list);
                        } else {
                            card[k.as_str()] = match v {
                                Value::Number(n) => json!(n.to_string()),
                                other => other.clone(),
                            };
                        }
                    }
                }
                st.next_multi_id += appended;
                ok(json!(true))
            }
            "crm.lead.list" => {
                let f = &params["filter"];
                let bound = |k: &str| f.get(k).map(id_of);
                let desc = params["order"]["ID"]
                    .as_str()
                    .is_some_and(|o| o.eq_ignore_ascii_case("DESC"));
                let mut items: Vec<&Value> = st
                    .leads
                    .iter()
                    .filter(|(id, _)| bound(">ID").is_none_or(|b| **id > b))
                    .filter(|(id, _)| bound(">=ID").is_none_or(|b| **id >= b))
                    .filter(|(id, _)| bound("<ID").is_none_or(|b| **id < b))
                    .filter(|(_, c)| f.get("STATUS_ID").is_none_or(|s| c["STATUS_ID"] == *s))
                    .map(|(_, c)| c)
                    .collect();
                if desc {
                    items.reverse();
                }
                let total = items.len();
                // start = -1: no counting, so neither `total` nor `next` (the caller pages by ID).
                let start = match &params["start"] {
                    Value::Null => 0,
                    v => v
                        .as_i64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        .unwrap_or(0),
                };
                let offset = start.max(0) as usize;
                let page: Vec<Value> = items
                    .into_iter()
                    .skip(offset)
                    .take(50)
                    .map(|c| apply_select(c, &params["select"]))
                    .collect();
                let mut answer = json!({"result": page, "time": time_block()});
                if start >= 0 {
                    answer["total"] = json!(total);
                    if offset + 50 < total {
                        answer["next"] = json!(offset + 50);
                    }
                }
                Json(answer).into_response()
            }
            "crm.timeline.comment.add" => {
                let f = &params["fields"];
                st.comments.push((
                    text_of(&f["ENTITY_ID"]),
                    f["COMMENT"].as_str().unwrap_or("").to_string(),
                ));
                let id = st.comments.len() + 990;
                st.timeline.push(json!({
                    "ID": id.to_string(), "ENTITY_ID": text_of(&f["ENTITY_ID"]),
                    "ENTITY_TYPE": f["ENTITY_TYPE"].as_str().unwrap_or("lead").to_lowercase(),
                    "COMMENT": f["COMMENT"], "AUTHOR_ID": "1", "CREATED": "2026-12-02T10:00:00+03:00",
                }));
                ok(json!(id))
            }
            "crm.timeline.comment.list" => {
                let f = &params["filter"];
                let items: Vec<Value> = st
                    .timeline
                    .iter()
                    .filter(|c| {
                        f.get("ENTITY_ID")
                            .is_none_or(|e| text_of(e) == text_of(&c["ENTITY_ID"]))
                    })
                    .filter(|c| {
                        f.get("ENTITY_TYPE").is_none_or(|t| {
                            t.as_str().map(str::to_lowercase) == c["ENTITY_TYPE"].as_str().map(str::to_string)
                        })
                    })
                    .take(50)
                    .map(|c| apply_select(c, &params["select"]))
                    .collect();
                Json(json!({"result": items, "total": items.len(), "time": time_block()})).into_response()
            }
            "crm.deal.list" => {
                // `>=DATE_MODIFY` compares times (the portal's own format is ISO 8601 with offset).
                let f = &params["filter"];
                let since = f[">=DATE_MODIFY"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                let mut items: Vec<&Value> = st
                    .deals
                    .values()
                    .filter(|d| {
                        f.get("CATEGORY_ID")
                            .is_none_or(|c| text_of(c) == text_of(&d["CATEGORY_ID"]))
                    })
                    .filter(|d| {
                        let m = d["DATE_MODIFY"]
                            .as_str()
                            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                        since.is_none_or(|s| m.is_some_and(|m| m >= s))
                    })
                    .collect();
                items.sort_by_key(|d| d["DATE_MODIFY"].as_str().unwrap_or("").to_string());
                let page: Vec<Value> = items
                    .into_iter()
                    .take(50)
                    .map(|d| apply_select(d, &params["select"]))
                    .collect();
                Json(json!({"result": page, "time": time_block()})).into_response()
            }
            "crm.activity.get" => match st.activities.get(&id_of(&params["id"])) {
                Some(a) => ok(a.clone()),
                None => err(StatusCode::BAD_REQUEST, "", "Not found"),
            },
            "crm.activity.list" => {
                let f = &params["filter"];
                let items: Vec<Value> = st
                    .activities
                    .values()
                    .filter(|a| f.get("OWNER_ID").is_none_or(|o| text_of(o) == text_of(&a["OWNER_ID"])))
                    .filter(|a| {
                        f.get("OWNER_TYPE_ID")
                            .is_none_or(|o| text_of(o) == text_of(&a["OWNER_TYPE_ID"]))
                    })
                    .filter(|a| f.get("COMPLETED").is_none_or(|c| *c == a["COMPLETED"]))
                    .take(50)
                    .map(|a| apply_select(a, &params["select"]))
                    .collect();
                Json(json!({"result": items, "total": items.len(), "time": time_block()})).into_response()
            }
            "crm.activity.todo.add" => {
                let id = 7000 + st.activities.len() as u64;
                st.activities.insert(
                    id,
                    json!({
                        "ID": id.to_string(), "OWNER_ID": text_of(&params["ownerId"]),
                        "OWNER_TYPE_ID": text_of(&params["ownerTypeId"]), "TYPE_ID": "6",
                        "PROVIDER_ID": "CRM_TODO", "SUBJECT": params["title"], "DESCRIPTION": params["description"],
                        "DEADLINE": params["deadline"], "COMPLETED": "N",
                        "RESPONSIBLE_ID": text_of(&params["responsibleId"]), "DIRECTION": "0",
                    }),
                );
                ok(json!({"id": id}))
            }
            "im.notify.system.add" => {
                st.notifications.push((
                    text_of(&params["USER_ID"]),
                    params["MESSAGE"].as_str().unwrap_or("").to_string(),
                ));
                ok(json!(12345))
            }
            "crm.status.list" => {
                let stages = params["filter"]["ENTITY_ID"] == "DEAL_STAGE";
                let fixture = if stages {
                    include_str!("../fixtures/bitrix24/crm.status.list-DEAL_STAGE-response.json")
                } else {
                    include_str!("../fixtures/bitrix24/crm.status.list-STATUS-response.excerpt.json")
                };
                ok(serde_json::from_str::<Value>(fixture).unwrap()["result"].clone())
            }
            // Synthesized in the documented shape (field name → description): the standard
            // deal fields and the user fields the tests map.
            "crm.deal.fields" => {
                let mut fields = serde_json::Map::new();
                for (name, kind) in [
                    ("ID", "integer"),
                    ("TITLE", "string"),
                    ("CATEGORY_ID", "crm_category"),
                    ("STAGE_ID", "crm_status"),
                    ("ASSIGNED_BY_ID", "user"),
                    ("CONTACT_ID", "crm_contact"),
                    ("OPPORTUNITY", "double"),
                    ("COMMENTS", "string"),
                    ("DATE_CREATE", "datetime"),
                    ("DATE_MODIFY", "datetime"),
                    ("UF_CRM_VISIT_AT", "datetime"),
                    ("UF_CRM_RETURN", "string"),
                    ("UF_CRM_TAGS", "enumeration"),
                ] {
                    fields.insert(
                        name.into(),
                        json!({"type": kind, "isRequired": false, "isReadOnly": name == "ID",
                               "isImmutable": false, "isMultiple": name == "UF_CRM_TAGS",
                               "isDynamic": name.starts_with("UF_"), "title": name}),
                    );
                }
                ok(Value::Object(fields))
            }
            "imopenlines.crm.chat.getLastId" => {
                let id = id_of(&params["CRM_ENTITY"]);
                ok(st
                    .leads
                    .get(&id)
                    .and_then(|c| c.get("CHAT").cloned())
                    .unwrap_or(json!(0)))
            }
            "imopenlines.bot.session.message.send" => {
                st.chat_messages.push((
                    text_of(&params["CHAT_ID"]),
                    params["MESSAGE"].as_str().unwrap_or("").to_string(),
                ));
                ok(json!(true))
            }
            "imopenlines.bot.session.transfer" => {
                st.transfers
                    .push((text_of(&params["CHAT_ID"]), text_of(&params["USER_ID"])));
                ok(json!(true))
            }
            "batch" => {
                drop(st);
                let mut results = serde_json::Map::new();
                let mut errors = serde_json::Map::new();
                let mut times = serde_json::Map::new();
                let cmds = params["cmd"].as_object().cloned().unwrap_or_default();
                if cmds.len() > 50 {
                    return err(
                        StatusCode::BAD_REQUEST,
                        "ERROR_BATCH_LENGTH_EXCEEDED",
                        "Max batch length exceeded",
                    );
                }
                for (key, cmd) in cmds {
                    let cmd = cmd.as_str().unwrap_or("");
                    let (m, q) = cmd.split_once('?').unwrap_or((cmd, ""));
                    let args: Value = serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect::<serde_json::Map<_, _>>()
                        .into();
                    let resp = self.handle_inner(m, &args);
                    times.insert(key.clone(), time_block());
                    match resp {
                        Ok(v) => {
                            results.insert(key, v);
                        }
                        Err(e) => {
                            errors.insert(key, json!({"error": "", "error_description": e}));
                        }
                    }
                }
                // PHP's empty arrays are `[]`, also where an object is meant.
                let php = |m: serde_json::Map<String, Value>| if m.is_empty() { json!([]) } else { Value::Object(m) };
                ok(
                    json!({"result": php(results), "result_error": php(errors), "result_total": [], "result_next": [], "result_time": php(times)}),
                )
            }
            other => err(
                StatusCode::BAD_REQUEST,
                "ERROR_METHOD_NOT_FOUND",
                &format!("Method not found: {other}"),
            ),
        }
    }

    /// A batch sub-call: the `result` of the method or its error text.
    fn handle_inner(&self, method: &str, params: &Value) -> Result<Value, String> {
        let resp = self.handle(method, params);
        let status = resp.status();
        let body = futures_body(resp);
        if status.is_success() {
            Ok(body["result"].clone())
        } else {
            Err(body["error_description"].as_str().unwrap_or("error").to_string())
        }
    }
}

/// Reads a JSON response built by `ok`/`err` synchronously (they are always in-memory bodies).
fn futures_body(resp: Response) -> Value {
    let body = resp.into_body();
    let bytes = futures_lite_block_on(axum::body::to_bytes(body, usize::MAX)).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    // In-memory bodies are ready at once; a tiny executor is enough.
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn id_of(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn rest(State(fake): State<FakeBitrix24>, Path(method): Path<String>, Json(params): Json<Value>) -> Response {
    let method = method.trim_end_matches(".json").to_string();
    {
        let mut st = fake.inner.lock().unwrap();
        st.calls.push(Call {
            at: Instant::now(),
            method: method.clone(),
            params: params.clone(),
        });
        if st.operation_limit_once.as_deref() == Some(method.as_str()) {
            st.operation_limit_once = None;
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
                + 1.0;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked due to operation time limit.", "time": {"operating_reset_at": reset}})),
            )
                .into_response();
        }
        let fault = st
            .faults
            .iter()
            .position(|(m, _)| m.as_ref().is_none_or(|m| *m == method));
        if let Some((_, fault)) = fault.and_then(|i| st.faults.remove(i)) {
            st.faulted.push((method.clone(), fault.clone()));
            return fault.response();
        }
        if st.force_limit > 0 {
            st.force_limit -= 1;
            st.limited += 1;
            return err(
                StatusCode::SERVICE_UNAVAILABLE,
                "QUERY_LIMIT_EXCEEDED",
                "Too many requests",
            );
        }
        if let Some((capacity, rate)) = st.bucket {
            let now = Instant::now();
            let drained = st.last.map_or(0.0, |l| now.duration_since(l).as_secs_f64() * rate);
            st.level = (st.level - drained).max(0.0);
            st.last = Some(now);
            if st.level + 1.0 > capacity {
                st.limited += 1;
                return err(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "QUERY_LIMIT_EXCEEDED",
                    "Too many requests",
                );
            }
            st.level += 1.0;
        }
        if let Some(valid) = &st.access_token {
            if params["auth"].as_str() != Some(valid.as_str()) {
                return err(
                    StatusCode::UNAUTHORIZED,
                    "expired_token",
                    "The access token provided has expired.",
                );
            }
        }
    }
    fake.handle(&method, &params)
}

/// The portal's old address: Bitrix24 answers 302 to the new one.
async fn moved(State(fake): State<FakeBitrix24>, Path(method): Path<String>) -> Response {
    fake.inner.lock().unwrap().redirected += 1;
    (
        StatusCode::FOUND,
        [(
            axum::http::header::LOCATION,
            format!("{}/rest/1/secret/{method}", fake.base),
        )],
    )
        .into_response()
}

/// The OAuth server: a refresh hands out new tokens (shaped like the documented answer) and
/// retires the refresh token it was given: a second use is `invalid_grant`, as on
/// oauth.bitrix.info (the refresh token rotates on every refresh).
async fn oauth_token(
    State(fake): State<FakeBitrix24>,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
) -> Response {
    let delay = fake.inner.lock().unwrap().oauth_delay;
    tokio::time::sleep(delay).await;
    let mut st = fake.inner.lock().unwrap();
    let refresh = q.get("refresh_token").cloned().unwrap_or_default();
    st.refreshes.push(refresh.clone());
    let refuse = |st: &mut Inner, code: &str, description: &str| {
        st.refused_refreshes.push(refresh.clone());
        err(StatusCode::BAD_REQUEST, code, description)
    };
    if q.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return refuse(&mut st, "invalid_request", "Invalid grant_type");
    }
    if q.get("client_id").is_none_or(String::is_empty) || q.get("client_secret").is_none_or(String::is_empty) {
        return refuse(&mut st, "invalid_client", "Invalid client");
    }
    if refresh.is_empty() || !st.used_refresh.insert(refresh.clone()) {
        return refuse(&mut st, "invalid_grant", "Invalid grant");
    }
    let n = st.refreshes.len() - st.refused_refreshes.len();
    let access = format!("access-{n}");
    st.access_token = Some(access.clone());
    let mut answer: Value =
        serde_json::from_str(include_str!("../fixtures/bitrix24/oauth-token-refresh-response.json")).unwrap();
    answer["access_token"] = json!(access);
    answer["refresh_token"] = json!(format!("refresh-{n}"));
    answer["client_endpoint"] = json!(format!("{}/rest/", fake.base));
    Json(answer).into_response()
}
