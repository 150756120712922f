//! The SLA robots' feed from amoCRM (where the deal is the lead): every lead event's lead, read
//! with its main contact, open tasks and notes — a burst in four requests — goes to the deal
//! intake port; chat messages and call notes are touches. Calls also come from a poll of the
//! account's call notes (`call_in` / `call_out`), so one a webhook missed still stops a clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use super::ingest::{embedded, fetch_leads};
use super::AmoInbound;
use crate::crm::amocrm::api::as_u64;
use crate::crm::amocrm::card::{AmoContact, AmoLead, SOURCE};
use crate::crm::amocrm::schema::{self, LeadField};
use crate::crm::failure::Failure;
use crate::crm::robots::{is_ours, parse_time, rfc3339, stage_name, RobotFeed};
use crate::sla::{DealEvent, DealFacts, DealTask, TouchKind};
use crate::store::StoredEvent;

const PAGE: usize = 250;
/// The poll of call notes keeps its place here (Unix seconds of the last `updated_at` seen).
const CALLS_CURSOR: &str = "amocrm:robots:calls_updated_at";

fn field<'a>(ev: &'a StoredEvent, key: &str) -> Option<&'a str> {
    ev.payload.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The leads of these events as the robots see them; each event's outcome by its id.
pub(super) async fn observe(
    inb: &AmoInbound,
    feed: &RobotFeed,
    events: &[&StoredEvent],
) -> HashMap<i64, Result<(), Failure>> {
    let mut out = HashMap::new();
    let ids: Vec<u64> = events.iter().filter_map(|e| e.entity_id.parse().ok()).collect();
    if ids.is_empty() {
        return out;
    }
    let fetched = async {
        let leads = fetch_leads(&inb.acc, &ids).await?;
        let tasks = open_tasks(inb, &ids).await?;
        let notes = comment_counts(inb, &ids).await?;
        let required = required_fields(inb).await?;
        Ok::<_, Failure>((leads, tasks, notes, required))
    }
    .await;
    let (leads, tasks, notes, required) = match fetched {
        Ok(f) => f,
        Err(e) => {
            for ev in events {
                out.insert(ev.id, Err(e.clone()));
            }
            return out;
        }
    };
    let pipeline = feed.mapping.pipeline.as_deref().and_then(|p| p.parse::<u64>().ok());
    for ev in events {
        let Some(id) = ev.entity_id.parse::<u64>().ok() else {
            out.insert(ev.id, Ok(()));
            continue;
        };
        let result = match leads.get(&id) {
            // Deleted meanwhile, or never visible to our user.
            None => Ok(()),
            Some((lead, _)) if pipeline.is_some_and(|p| p != lead.pipeline_id) => Ok(()),
            Some((lead, contact)) => {
                let mut facts = facts_of(
                    feed,
                    lead,
                    contact.as_ref(),
                    tasks.get(&id).cloned().unwrap_or_default(),
                    notes.get(&id).copied().unwrap_or(0),
                );
                facts.crm_required_missing = required.missing(lead);
                feed.intake
                    .push(
                        SOURCE,
                        &ev.entity_id,
                        &format!("amocrm:ev:{}", ev.id),
                        &DealEvent::Observed { facts },
                    )
                    .await
                    .map(|_| ())
                    .map_err(|e| Failure::Retry(format!("lead {id} to the robots: {e}")))
            }
        };
        out.insert(ev.id, result);
    }
    out
}

fn facts_of(
    feed: &RobotFeed,
    lead: &AmoLead,
    contact: Option<&AmoContact>,
    tasks: Vec<DealTask>,
    comments: u32,
) -> DealFacts {
    let map = &feed.mapping;
    let mut fields = BTreeMap::new();
    if let Some(c) = contact {
        fields.insert("name".to_string(), c.name.clone().unwrap_or_default());
        fields.insert("phone".to_string(), c.phones.first().cloned().unwrap_or_default());
    }
    for (logical, id) in &map.fields {
        let Ok(id) = id.parse::<u64>() else { continue };
        let v = lead
            .fields
            .iter()
            .find(|(f, _)| *f == id)
            .map(|(_, values)| values.join(", "))
            .unwrap_or_default();
        let v = if logical.ends_with("_at") {
            rfc3339(&v).unwrap_or_default()
        } else {
            v
        };
        fields.insert(logical.clone(), v);
    }
    fields.retain(|_, v| !v.trim().is_empty());
    DealFacts {
        title: lead.name.clone().unwrap_or_else(|| format!("Сделка #{}", lead.id)),
        stage: stage_name(map, &lead.status_id.to_string()),
        stage_since: None,
        responsible: lead.responsible_user_id.map(|u| u.to_string()),
        created_at: lead
            .created_at
            .and_then(|t| chrono::DateTime::from_timestamp(t as i64, 0))
            .unwrap_or_else(Utc::now),
        fields,
        tags: lead.tags.iter().cloned().collect::<BTreeSet<_>>(),
        tasks,
        comments,
        amount: lead.price.map(|p| p as f64),
        modified_at: lead
            .updated_at
            .and_then(|t| chrono::DateTime::from_timestamp(t as i64, 0)),
        crm_required_missing: Vec::new(),
    }
}

/// How long the account's field definitions are trusted: an administrator who makes a field
/// required sees the robots enforce it within minutes, and a burst of events costs one read.
const REQUIRED_FIELDS_TTL: Duration = Duration::from_secs(300);

/// The lead fields amoCRM itself requires in some statuses (`required_statuses` of
/// `GET /api/v4/leads/custom_fields`). amoCRM enforces them only on moves made in its
/// interface; the robots enforce them on API and automation moves too.
/// The lead fields amoCRM itself requires in some statuses (`required_statuses` of the
/// account's lead fields). amoCRM enforces them only on moves made in its interface; the robots
/// enforce them on API and automation moves too.
#[derive(Debug, Clone, Default)]
pub struct RequiredFields {
    read_at: Option<std::time::Instant>,
    fields: Vec<LeadField>,
}

impl RequiredFields {
    /// The names of the fields required in the lead's status that it leaves empty.
    pub fn missing(&self, lead: &AmoLead) -> Vec<String> {
        self.fields
            .iter()
            .filter(|f| f.required_in.contains(&(lead.pipeline_id, lead.status_id)))
            .filter(|f| {
                !lead
                    .fields
                    .iter()
                    .any(|(id, values)| *id == f.id && values.iter().any(|v| !v.trim().is_empty()))
            })
            .map(|f| {
                if f.name.is_empty() {
                    format!("поле {}", f.id)
                } else {
                    f.name.clone()
                }
            })
            .collect()
    }
}

/// The cached required fields, read again when older than the TTL. A failed read keeps the
/// last known set rather than failing the events.
async fn required_fields(inb: &AmoInbound) -> Result<RequiredFields, Failure> {
    let mut cached = inb.required.lock().await;
    if let Some(c) = cached.as_ref() {
        if c.read_at.is_some_and(|t| t.elapsed() < REQUIRED_FIELDS_TTL) {
            return Ok(c.clone());
        }
    }
    match schema::lead_fields(&inb.acc.client).await {
        Ok(all) => {
            let fresh = RequiredFields {
                read_at: Some(std::time::Instant::now()),
                fields: all.into_iter().filter(|f| !f.required_in.is_empty()).collect(),
            };
            *cached = Some(fresh.clone());
            Ok(fresh)
        }
        Err(e) => match cached.as_ref() {
            Some(c) => {
                tracing::warn!(error = ?e, "amoCRM lead fields could not be read again; the robots keep the last known required fields");
                Ok(c.clone())
            }
            None => Err(Failure::from(e)),
        },
    }
}

fn id_query(ids: &[u64], key: &str) -> Vec<(String, String)> {
    ids.iter().map(|id| (key.to_string(), id.to_string())).collect()
}

async fn open_tasks(inb: &AmoInbound, ids: &[u64]) -> Result<HashMap<u64, Vec<DealTask>>, Failure> {
    let mut out: HashMap<u64, Vec<DealTask>> = HashMap::new();
    for chunk in ids.chunks(PAGE) {
        let mut q = id_query(chunk, "filter[entity_id][]");
        q.push(("filter[entity_type]".into(), "leads".into()));
        q.push(("filter[is_completed]".into(), "0".into()));
        q.push(("limit".into(), PAGE.to_string()));
        let answer = inb.acc.client.get("/api/v4/tasks", &q).await?;
        for t in embedded(answer.as_ref(), "tasks") {
            let Some(lead) = t.get("entity_id").and_then(as_u64) else {
                continue;
            };
            out.entry(lead).or_default().push(DealTask {
                id: t.get("id").and_then(as_u64).unwrap_or(0).to_string(),
                title: t.get("text").and_then(Value::as_str).unwrap_or("").to_string(),
                due: t
                    .get("complete_till")
                    .and_then(Value::as_i64)
                    .and_then(|s| chrono::DateTime::from_timestamp(s, 0)),
            });
        }
    }
    Ok(out)
}

/// Common notes per lead, leadbot's own not counted.
async fn comment_counts(inb: &AmoInbound, ids: &[u64]) -> Result<HashMap<u64, u32>, Failure> {
    let mut out: HashMap<u64, u32> = HashMap::new();
    for chunk in ids.chunks(PAGE) {
        let mut q = id_query(chunk, "filter[entity_id][]");
        q.push(("filter[note_type]".into(), "common".into()));
        q.push(("limit".into(), PAGE.to_string()));
        let answer = inb.acc.client.get("/api/v4/leads/notes", &q).await?;
        for n in embedded(answer.as_ref(), "notes") {
            let Some(lead) = n.get("entity_id").and_then(as_u64) else {
                continue;
            };
            let text = n.pointer("/params/text").and_then(Value::as_str).unwrap_or("");
            if !is_ours(text) {
                *out.entry(lead).or_default() += 1;
            }
        }
    }
    Ok(out)
}

/// A chat message on a lead (either direction) is a touch.
pub(super) async fn message(feed: &RobotFeed, ev: &StoredEvent) -> Result<(), Failure> {
    let on_lead = field(ev, "element_type") == Some("2") || field(ev, "entity_type") == Some("lead");
    let Some(lead) = on_lead
        .then(|| field(ev, "element_id").or_else(|| field(ev, "entity_id")))
        .flatten()
    else {
        return Ok(());
    };
    let at = field(ev, "created_at").and_then(parse_time).unwrap_or_else(Utc::now);
    let touch = DealEvent::Touch {
        kind: TouchKind::Message,
        inbound: field(ev, "type") == Some("incoming"),
        at,
    };
    feed.intake
        .push(SOURCE, lead, &format!("amocrm:message:{}", ev.entity_id), &touch)
        .await
        .map(|_| ())
        .map_err(|e| Failure::Retry(format!("message touch of lead {lead}: {e}")))
}

/// A note added to a lead: a call note is a touch; any note may be a comment, so the lead is
/// read again by the caller.
pub(super) async fn note(feed: &RobotFeed, ev: &StoredEvent) -> Result<Option<String>, Failure> {
    let lead = field(ev, "note[element_id]").or_else(|| field(ev, "element_id"));
    let Some(lead) = lead.map(str::to_string) else {
        return Ok(None);
    };
    let kind = field(ev, "note[note_type]").or_else(|| field(ev, "note_type"));
    let inbound = match kind {
        Some("10" | "call_in") => Some(true),
        Some("11" | "call_out") => Some(false),
        _ => None,
    };
    if let Some(inbound) = inbound {
        let note_id = field(ev, "note[id]").unwrap_or(&ev.entity_id);
        let at = field(ev, "note[created_at]")
            .and_then(parse_time)
            .unwrap_or_else(Utc::now);
        let touch = DealEvent::Touch {
            kind: TouchKind::Call,
            inbound,
            at,
        };
        feed.intake
            .push(SOURCE, &lead, &format!("amocrm:note:{note_id}"), &touch)
            .await
            .map_err(|e| Failure::Retry(format!("call touch of lead {lead}: {e}")))?;
    }
    Ok(Some(lead))
}

/// Polls the account's call notes changed since the last poll: each is a touch (the same note
/// as a webhook's is the same touch).
pub async fn run_call_poll(inb: Arc<AmoInbound>, feed: RobotFeed, every: Duration) {
    loop {
        if let Err(e) = poll_calls(&inb, &feed).await {
            tracing::warn!(error = ?e, "amoCRM call-note poll failed");
        }
        tokio::time::sleep(every).await;
    }
}

async fn poll_calls(inb: &AmoInbound, feed: &RobotFeed) -> Result<(), Failure> {
    let store = &inb.acc.store;
    let from: i64 = match store.cursor(CALLS_CURSOR).await? {
        Some(c) => c.parse().unwrap_or(0),
        // First start: from now on (older calls belong to deals the robots never saw).
        None => Utc::now().timestamp() - 60,
    };
    let mut newest = from;
    let mut page = 1;
    loop {
        let q = vec![
            ("filter[note_type][]".to_string(), "call_in".to_string()),
            ("filter[note_type][]".to_string(), "call_out".to_string()),
            ("filter[updated_at][from]".to_string(), from.to_string()),
            ("order[updated_at]".to_string(), "asc".to_string()),
            ("limit".to_string(), PAGE.to_string()),
            ("page".to_string(), page.to_string()),
        ];
        let answer = inb.acc.client.get("/api/v4/leads/notes", &q).await?;
        let notes = embedded(answer.as_ref(), "notes");
        for n in &notes {
            let (Some(id), Some(lead)) = (n.get("id").and_then(as_u64), n.get("entity_id").and_then(as_u64)) else {
                continue;
            };
            let inbound = n.get("note_type").and_then(Value::as_str) == Some("call_in");
            let at = n
                .get("created_at")
                .and_then(Value::as_i64)
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .unwrap_or_else(Utc::now);
            let touch = DealEvent::Touch {
                kind: TouchKind::Call,
                inbound,
                at,
            };
            feed.intake
                .push(SOURCE, &lead.to_string(), &format!("amocrm:note:{id}"), &touch)
                .await
                .map_err(|e| Failure::Retry(format!("call touch of lead {lead}: {e}")))?;
            newest = newest.max(n.get("updated_at").and_then(Value::as_i64).unwrap_or(from));
        }
        if notes.len() < PAGE {
            break;
        }
        page += 1;
    }
    if newest > from {
        store.set_cursor(CALLS_CURSOR, &newest.to_string()).await?;
    }
    Ok(())
}
