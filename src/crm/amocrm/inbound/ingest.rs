//! Processes stored amoCRM events. New leads of a whole burst are read in one request
//! (`GET /api/v4/leads?filter[id][]=…&with=contacts`) and their contacts in another, then handed
//! to the bot; chat messages amoCRM received go to their lead's inbox. Our own card updates echo
//! back as `leads:update` / `leads:status`: a lead leadbot already has is skipped without an API
//! call, and so is a lead whose webhook already says it is not in a status the bot takes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use super::{AmoInbound, CRM};
use crate::crm::amocrm::api::AmoError;
use crate::crm::amocrm::card::{AmoContact, AmoLead, SOURCE};
use crate::crm::amocrm::AmoCrmAccount;
use crate::crm::failure::{finish, Failure};
use crate::domain::{EventKey, InboxPayload};
use crate::store::{StoreError, StoredEvent};

const BATCH: i64 = 100;
const LEASE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_secs(2);
/// Most ids in one `filter[id][]` list (amoCRM's page limit).
const PAGE: usize = 250;

impl From<AmoError> for Failure {
    fn from(e: AmoError) -> Self {
        if e.is_retryable() {
            Failure::Retry(e.to_string())
        } else {
            Failure::GiveUp(e.to_string())
        }
    }
}

pub async fn run(inb: Arc<AmoInbound>) {
    loop {
        match process_due(&inb).await {
            Ok(n) if n as i64 == BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "amoCRM event processing failed"),
        }
        tokio::select! {
            _ = inb.wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

fn field<'a>(ev: &'a StoredEvent, key: &str) -> Option<&'a str> {
    ev.payload.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn num(ev: &StoredEvent, key: &str) -> Option<u64> {
    field(ev, key).and_then(|s| s.trim().parse().ok())
}

async fn process_due(inb: &AmoInbound) -> Result<usize, StoreError> {
    let acc = &inb.acc;
    let store = acc.store.as_ref();
    let now = Utc::now();
    let lease = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
    let events = store.claim_events(CRM, now, lease, BATCH).await?;
    let n = events.len();
    let p = &acc.settings.pipeline;

    // The SLA robots see every lead event first (one batched read for the burst); an event
    // whose lead could not be read for them is retried whole.
    let robot_results = match &inb.robots {
        Some(feed) => {
            let lead_events: Vec<&StoredEvent> = events
                .iter()
                .filter(|ev| {
                    matches!(
                        ev.event.as_str(),
                        "leads:add" | "leads:update" | "leads:status" | "leads:restore" | "leads:responsible"
                    )
                })
                .collect();
            super::robots::observe(inb, feed, &lead_events).await
        }
        None => HashMap::new(),
    };
    let mut new_leads: Vec<&StoredEvent> = vec![];
    let mut deals: Vec<&StoredEvent> = vec![];
    for ev in &events {
        if let Some(Err(f)) = robot_results.get(&ev.id) {
            finish(store, CRM, ev, Err(f.clone())).await?;
            continue;
        }
        let Some((kind, action)) = ev.event.split_once(':') else {
            finish(store, CRM, ev, Ok(())).await?;
            continue;
        };
        match (kind, action) {
            ("leads", "add" | "update" | "status" | "restore") => {
                if entering_dispatch(inb, ev) {
                    deals.push(ev);
                    continue;
                }
                // The webhook already says where the lead is: no call for one the bot does not take.
                let elsewhere = match (num(ev, "pipeline_id"), num(ev, "status_id")) {
                    (Some(pipeline), Some(status)) => pipeline != p.id || !p.take_statuses.contains(&status),
                    (None, Some(status)) => !p.take_statuses.contains(&status),
                    _ => false,
                };
                if elsewhere {
                    finish(store, CRM, ev, Ok(())).await?;
                    continue;
                }
                match inb.leads.find_lead(SOURCE, &ev.entity_id).await {
                    Ok(Some(_)) => finish(store, CRM, ev, Ok(())).await?, // ours already, or our own echo
                    Ok(None) => new_leads.push(ev),
                    Err(e) => finish(store, CRM, ev, Err(e.into())).await?,
                }
            }
            ("message", "add") => {
                let touched = match &inb.robots {
                    Some(feed) => super::robots::message(feed, ev).await,
                    None => Ok(()),
                };
                let result = match touched {
                    Ok(()) => chat_message(inb, ev).await,
                    Err(e) => Err(e),
                };
                finish(store, CRM, ev, result).await?;
            }
            ("leads", "note") if inb.robots.is_some() => {
                let result = match &inb.robots {
                    Some(feed) => match super::robots::note(feed, ev).await {
                        // A note may be the comment a required field wants: read the lead again.
                        Ok(Some(lead)) => {
                            let fake = StoredEvent {
                                entity_id: lead,
                                ..ev.clone()
                            };
                            super::robots::observe(inb, feed, &[&fake])
                                .await
                                .remove(&ev.id)
                                .unwrap_or(Ok(()))
                        }
                        Ok(None) => Ok(()),
                        Err(e) => Err(e),
                    },
                    None => Ok(()),
                };
                finish(store, CRM, ev, result).await?;
            }
            _ => {
                tracing::debug!(event = %ev.event, "amoCRM event not used");
                finish(store, CRM, ev, Ok(())).await?;
            }
        }
    }

    let ids: Vec<u64> = new_leads.iter().filter_map(|ev| ev.entity_id.parse().ok()).collect();
    let fetched = fetch_leads(acc, &ids).await;
    for ev in &new_leads {
        let result = match &fetched {
            Ok(found) => match ev.entity_id.parse::<u64>().ok().and_then(|id| found.get(&id)) {
                Some((lead, contact)) => take_lead(inb, lead, contact.as_ref()).await.map(|_| ()),
                None => Ok(()), // deleted meanwhile, or never visible to our user
            },
            Err(f) => Err(f.clone()),
        };
        finish(store, CRM, ev, result).await?;
    }
    for ev in &deals {
        let result = super::deals::dispatch(inb, &ev.entity_id).await;
        finish(store, CRM, ev, result).await?;
    }
    Ok(n)
}

fn entering_dispatch(inb: &AmoInbound, ev: &StoredEvent) -> bool {
    let Some(d) = &inb.acc.settings.dispatch else {
        return false;
    };
    inb.deals.is_some()
        && !ev.event.ends_with(":update")
        && num(ev, "status_id") == Some(d.status_id)
        && num(ev, "pipeline_id").is_none_or(|p| p == d.pipeline_id)
}

/// Leads by id with their main contacts: two requests for up to 250 leads.
pub(super) async fn fetch_leads(
    acc: &AmoCrmAccount,
    ids: &[u64],
) -> Result<HashMap<u64, (AmoLead, Option<AmoContact>)>, Failure> {
    let mut out = HashMap::new();
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(PAGE) {
        let mut query: Vec<(String, String)> = chunk.iter().map(|id| ("filter[id][]".into(), id.to_string())).collect();
        query.push(("with".into(), "contacts".into()));
        query.push(("limit".into(), PAGE.to_string()));
        let answer = acc.client.get("/api/v4/leads", &query).await?;
        let leads: Vec<AmoLead> = embedded(answer.as_ref(), "leads")
            .iter()
            .filter_map(AmoLead::from_json)
            .collect();
        let contacts = fetch_contacts(acc, &leads.iter().filter_map(|l| l.contact_id).collect::<Vec<_>>()).await?;
        for lead in leads {
            let contact = lead.contact_id.and_then(|c| contacts.get(&c).cloned());
            out.insert(lead.id, (lead, contact));
        }
    }
    Ok(out)
}

pub(super) async fn fetch_contacts(acc: &AmoCrmAccount, ids: &[u64]) -> Result<HashMap<u64, AmoContact>, Failure> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(PAGE) {
        let mut query: Vec<(String, String)> = chunk.iter().map(|id| ("filter[id][]".into(), id.to_string())).collect();
        query.push(("limit".into(), PAGE.to_string()));
        let answer = acc.client.get("/api/v4/contacts", &query).await?;
        for c in embedded(answer.as_ref(), "contacts")
            .iter()
            .filter_map(AmoContact::from_json)
        {
            out.insert(c.id, c);
        }
    }
    Ok(out)
}

/// `_embedded.{name}` of a HAL collection (204 No Content is an empty one).
pub(super) fn embedded(answer: Option<&Value>, name: &str) -> Vec<Value> {
    answer
        .and_then(|a| a.get("_embedded"))
        .and_then(|e| e.get(name))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Hands a lead to the bot if it should have it; `true` when a new lead was created.
pub(super) async fn take_lead(inb: &AmoInbound, lead: &AmoLead, contact: Option<&AmoContact>) -> Result<bool, Failure> {
    let Some(new) = lead.to_new_lead(contact, &inb.acc.settings) else {
        return Ok(false);
    };
    let created = inb.intake.create_lead(&new).await?;
    if let Some(c) = contact {
        // So the contact's chat messages without a lead id find the lead. A contact's chat is
        // linked to one lead only: an older lead of the same contact keeps it.
        let chat = format!("contact:{}", c.id);
        if inb.acc.store.lead_of_chat(CRM, &chat).await?.is_none() {
            if let Err(e) = inb.acc.store.link_chat(CRM, created.lead.id, &chat).await {
                tracing::warn!(lead_id = %created.lead.id, error = %e, "contact chat not linked");
            }
        }
    }
    if created.created {
        tracing::info!(lead_id = %created.lead.id, crm_id = lead.id, channel = %new.channel, has_phone = new.phone.is_some(), "amoCRM lead taken");
    }
    Ok(created.created)
}

/// A client's message that amoCRM received in one of its chats (`message[add]`), for the
/// lead's dialog. Outgoing messages (the manager's, the bot's) are not the client's.
async fn chat_message(inb: &AmoInbound, ev: &StoredEvent) -> Result<(), Failure> {
    if field(ev, "type").is_some_and(|t| t != "incoming") {
        return Ok(());
    }
    let Some(text) = field(ev, "text").map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(()); // a picture, a sticker
    };
    let on_lead = field(ev, "element_type") == Some("2") || field(ev, "entity_type") == Some("lead");
    let lead_crm_id = if on_lead {
        field(ev, "element_id").or_else(|| field(ev, "entity_id"))
    } else {
        None
    };
    let lead = match lead_crm_id {
        Some(id) => inb.leads.find_lead(SOURCE, id).await?.map(|l| l.id),
        None => match field(ev, "contact_id") {
            Some(c) => inb.acc.store.lead_of_chat(CRM, &format!("contact:{c}")).await?,
            None => None,
        },
    };
    let Some(lead) = lead else {
        return Ok(()); // a chat of a lead leadbot does not handle
    };
    let key = EventKey::new("amocrm-message", ev.entity_id.clone());
    inb.intake
        .push(lead, &key, &InboxPayload::Message { text: text.to_string() })
        .await?;
    Ok(())
}
