//! A local Bitrix24 REST server speaking the documented wire format (answers shaped like the
//! fixtures in tests/fixtures/bitrix24), recording every call. It keeps its own leaky bucket
//! and answers 503 QUERY_LIMIT_EXCEEDED when a client overruns it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
}

#[derive(Clone, Default)]
pub struct FakeBitrix24 {
    pub inner: Arc<Mutex<Inner>>,
    pub base: String,
}

fn ok(result: Value) -> Response {
    Json(json!({"result": result, "time": {"start": 0.0, "finish": 0.01, "duration": 0.01, "operating": 0}}))
        .into_response()
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
                let after = params["filter"][">ID"].as_u64().unwrap_or(0);
                let desc = params["order"]["ID"] == "DESC";
                let mut items: Vec<Value> = st
                    .leads
                    .range(after + 1..)
                    .map(|(_, c)| {
                        let mut c = c.clone();
                        c.as_object_mut().map(|o| o.remove("CHAT"));
                        c
                    })
                    .collect();
                if desc {
                    items.reverse();
                }
                items.truncate(50);
                let total = items.len();
                Json(json!({"result": items, "total": total})).into_response()
            }
            "crm.timeline.comment.add" => {
                let f = &params["fields"];
                st.comments.push((
                    text_of(&f["ENTITY_ID"]),
                    f["COMMENT"].as_str().unwrap_or("").to_string(),
                ));
                ok(json!(st.comments.len() + 990))
            }
            "im.notify.system.add" => {
                st.notifications.push((
                    text_of(&params["USER_ID"]),
                    params["MESSAGE"].as_str().unwrap_or("").to_string(),
                ));
                ok(json!(12345))
            }
            "crm.status.list" => ok(serde_json::from_str::<Value>(include_str!(
                "../fixtures/bitrix24/crm.status.list-STATUS-response.excerpt.json"
            ))
            .unwrap()["result"]
                .clone()),
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
                for (key, cmd) in params["cmd"].as_object().cloned().unwrap_or_default() {
                    let cmd = cmd.as_str().unwrap_or("");
                    let (m, q) = cmd.split_once('?').unwrap_or((cmd, ""));
                    let args: Value = serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect::<serde_json::Map<_, _>>()
                        .into();
                    let resp = self.handle_inner(m, &args);
                    match resp {
                        Ok(v) => {
                            results.insert(key, v);
                        }
                        Err(e) => {
                            errors.insert(key, json!({"error": "", "error_description": e}));
                        }
                    }
                }
                let errors = if errors.is_empty() {
                    json!([])
                } else {
                    Value::Object(errors)
                };
                ok(
                    json!({"result": results, "result_error": errors, "result_total": [], "result_next": [], "result_time": []}),
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

/// The OAuth server: a refresh hands out new tokens (shaped like the documented answer).
async fn oauth_token(
    State(fake): State<FakeBitrix24>,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
) -> Response {
    let mut st = fake.inner.lock().unwrap();
    let n = st.refreshes.len() + 1;
    st.refreshes.push(q.get("refresh_token").cloned().unwrap_or_default());
    let access = format!("access-{n}");
    st.access_token = Some(access.clone());
    let mut answer: Value =
        serde_json::from_str(include_str!("../fixtures/bitrix24/oauth-token-refresh-response.json")).unwrap();
    answer["access_token"] = json!(access);
    answer["refresh_token"] = json!(format!("refresh-{n}"));
    answer["client_endpoint"] = json!(format!("{}/rest/", fake.base));
    Json(answer).into_response()
}
