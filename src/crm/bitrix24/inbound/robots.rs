//! The SLA robots' feed from Bitrix24: a deal's card (with its contact, open activities and
//! comments) after every deal event, and touches from activity events (calls, Open Lines and
//! SMS messages). Everything goes to the deal intake port; the robots decide.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use serde_json::{json, Value};

use super::failure::Failure;
use super::Bitrix24Inbound;
use crate::crm::bitrix24::api::as_u64;
use crate::crm::bitrix24::SOURCE;
use crate::crm::robots::{is_ours, parse_time, rfc3339, stage_name, RobotFeed};
use crate::sla::{DealEvent, DealFacts, DealTask, TouchKind};

/// `crm.activity` owner type of a deal.
const OWNER_DEAL: u64 = 2;

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// A deal the robots should look at again: read it, then as [`card_seen`].
pub(super) async fn deal_seen(
    inb: &Bitrix24Inbound,
    feed: &RobotFeed,
    deal_id: &str,
    key: &str,
) -> Result<(), Failure> {
    let deal = inb.bx.client.call("crm.deal.get", json!({ "id": deal_id })).await?;
    card_seen(inb, feed, deal_id, &deal, key).await
}

/// A deal's card as it is now goes to the robots (`deal`: the `crm.deal.get` answer).
pub(super) async fn card_seen(
    inb: &Bitrix24Inbound,
    feed: &RobotFeed,
    deal_id: &str,
    deal: &Value,
    key: &str,
) -> Result<(), Failure> {
    if let Some(pipeline) = &feed.mapping.pipeline {
        let category = match text(deal, "CATEGORY_ID") {
            c if c.is_empty() => "0".to_string(),
            c => c,
        };
        if &category != pipeline {
            return Ok(()); // another pipeline: not tracked
        }
    }
    let facts = facts_of(inb, feed, deal_id, deal).await?;
    feed.intake
        .push(
            SOURCE,
            deal_id,
            &format!("bitrix24:{key}"),
            &DealEvent::Observed { facts },
        )
        .await
        .map_err(|e| Failure::Retry(format!("deal {deal_id} to the robots: {e}")))?;
    Ok(())
}

async fn facts_of(inb: &Bitrix24Inbound, feed: &RobotFeed, deal_id: &str, deal: &Value) -> Result<DealFacts, Failure> {
    let bx = &inb.bx;
    let map = &feed.mapping;
    let mut fields = BTreeMap::new();
    if let Some(contact) = deal.get("CONTACT_ID").and_then(as_u64).filter(|c| *c > 0) {
        let c = bx.client.call("crm.contact.get", json!({ "id": contact })).await?;
        let name = format!("{} {}", text(&c, "NAME"), text(&c, "LAST_NAME"))
            .trim()
            .to_string();
        fields.insert("name".to_string(), name);
        let phone = c
            .get("PHONE")
            .and_then(Value::as_array)
            .and_then(|p| p.first())
            .map(|p| text(p, "VALUE"))
            .unwrap_or_default();
        fields.insert("phone".to_string(), phone);
    }
    fields.insert("source".to_string(), text(deal, "SOURCE_ID"));
    for (logical, field) in &map.fields {
        let v = text(deal, field);
        let v = if logical.ends_with("_at") {
            rfc3339(&v).unwrap_or_default()
        } else {
            v
        };
        fields.insert(logical.clone(), v);
    }
    fields.retain(|_, v| !v.is_empty());
    let tags: BTreeSet<String> = match map.field_id("tags") {
        Some(f) => deal
            .get(f)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default(),
        None => BTreeSet::new(),
    };
    fields.remove("tags");
    let activities = bx
        .client
        .call(
            "crm.activity.list",
            json!({
                "filter": {"OWNER_TYPE_ID": OWNER_DEAL, "OWNER_ID": deal_id, "COMPLETED": "N"},
                "select": ["ID", "SUBJECT", "DEADLINE", "TYPE_ID", "PROVIDER_ID"],
            }),
        )
        .await?;
    let tasks = activities
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| DealTask {
                    id: text(t, "ID"),
                    title: text(t, "SUBJECT"),
                    due: parse_time(&text(t, "DEADLINE")),
                })
                .collect()
        })
        .unwrap_or_default();
    let comments = bx
        .client
        .call(
            "crm.timeline.comment.list",
            json!({
                "filter": {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal"},
                "select": ["ID", "COMMENT"],
            }),
        )
        .await?;
    let comments = comments
        .as_array()
        .map(|a| a.iter().filter(|c| !is_ours(&text(c, "COMMENT"))).count() as u32)
        .unwrap_or(0);
    Ok(DealFacts {
        title: text(deal, "TITLE"),
        stage: stage_name(map, &text(deal, "STAGE_ID")),
        stage_since: parse_time(&text(deal, "MOVED_TIME")),
        responsible: Some(text(deal, "ASSIGNED_BY_ID")).filter(|r| !r.is_empty() && r != "0"),
        created_at: parse_time(&text(deal, "DATE_CREATE")).unwrap_or_else(Utc::now),
        fields,
        tags,
        tasks,
        comments,
        amount: text(deal, "OPPORTUNITY").parse().ok(),
        modified_at: parse_time(&text(deal, "DATE_MODIFY")),
        // Bitrix24's REST API does not expose its per-stage required fields (only a global
        // `isRequired`, which its interface enforces on every save anyway).
        crm_required_missing: Vec::new(),
    })
}

/// An activity was added or changed: a call or a message is a touch; anything on a deal may
/// change its open tasks, so the deal is read again too.
pub(super) async fn activity(
    inb: &Bitrix24Inbound,
    feed: &RobotFeed,
    activity_id: &str,
    added: bool,
    key: &str,
) -> Result<(), Failure> {
    let a = match inb
        .bx
        .client
        .call("crm.activity.get", json!({ "id": activity_id }))
        .await
    {
        Ok(a) => a,
        // Deleted since: nothing to count.
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if a.get("OWNER_TYPE_ID").and_then(as_u64) != Some(OWNER_DEAL) {
        return Ok(());
    }
    let deal_id = text(&a, "OWNER_ID");
    if deal_id.is_empty() {
        return Ok(());
    }
    if added {
        let inbound = text(&a, "DIRECTION") == "1";
        let kind = match (text(&a, "TYPE_ID").as_str(), text(&a, "PROVIDER_ID").as_str()) {
            ("2", _) => Some(TouchKind::Call),
            ("4", _) => Some(TouchKind::Message),
            ("6", p) if p.starts_with("IMOPENLINES") || p.contains("SMS") || p.contains("WHATSAPP") => {
                Some(TouchKind::Message)
            }
            _ => None,
        };
        if let Some(kind) = kind {
            let at = parse_time(&text(&a, "START_TIME"))
                .or_else(|| parse_time(&text(&a, "CREATED")))
                .unwrap_or_else(Utc::now);
            feed.intake
                .push(
                    SOURCE,
                    &deal_id,
                    &format!("bitrix24:activity:{activity_id}"),
                    &DealEvent::Touch { kind, inbound, at },
                )
                .await
                .map_err(|e| Failure::Retry(format!("touch of deal {deal_id}: {e}")))?;
        }
    }
    deal_seen(inb, feed, &deal_id, key).await
}

/// Bitrix24 never re-sends an event the handler missed: deals changed since the last pass
/// (`DATE_MODIFY`) that the robots have not seen in that version are read again.
pub async fn run_deal_reconcile(inb: std::sync::Arc<Bitrix24Inbound>, feed: RobotFeed) {
    loop {
        match reconcile_deals(&inb, &feed).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                caught = n,
                "Bitrix24 deal reconciliation found changes whose events were lost"
            ),
            Err(e) => tracing::warn!(error = ?e, "Bitrix24 deal reconciliation failed"),
        }
        tokio::time::sleep(inb.bx.settings.reconcile_every).await;
    }
}

const DEALS_CURSOR: &str = "bitrix24:robots:deal_modified";
/// Pages of 50 per pass at most (the rest next time).
const MAX_PAGES: usize = 20;

async fn reconcile_deals(inb: &Bitrix24Inbound, feed: &RobotFeed) -> Result<usize, Failure> {
    let store = &inb.bx.store;
    let from = match store.cursor(DEALS_CURSOR).await? {
        Some(c) => c,
        // First pass: from now on (deals nobody touched since are not the robots' business yet).
        None => {
            let now = Utc::now().to_rfc3339();
            store.set_cursor(DEALS_CURSOR, &now).await?;
            return Ok(0);
        }
    };
    let mut cursor = from.clone();
    let mut caught = 0;
    for _ in 0..MAX_PAGES {
        let mut filter = json!({ ">=DATE_MODIFY": cursor });
        if let Some(p) = &feed.mapping.pipeline {
            filter["CATEGORY_ID"] = json!(p);
        }
        let page = inb
            .bx
            .client
            .call(
                "crm.deal.list",
                json!({"filter": filter, "order": {"DATE_MODIFY": "ASC", "ID": "ASC"}, "select": ["ID", "DATE_MODIFY"], "start": -1}),
            )
            .await?;
        let items = page.as_array().cloned().unwrap_or_default();
        let mut newest = cursor.clone();
        for d in &items {
            let (id, modified) = (text(d, "ID"), text(d, "DATE_MODIFY"));
            let Some(at) = parse_time(&modified) else { continue };
            newest = modified.clone();
            let seen = feed
                .intake
                .facts(SOURCE, &id)
                .await
                .map_err(|e| Failure::Retry(e.to_string()))?
                .and_then(|f| f.modified_at)
                .is_some_and(|m| m >= at);
            if !seen {
                caught += 1;
                deal_seen(inb, feed, &id, &format!("recon:{id}:{}", at.timestamp())).await?;
            }
        }
        let progressed = newest != cursor;
        cursor = newest;
        if items.len() < 50 || !progressed {
            break;
        }
    }
    if cursor != from {
        store.set_cursor(DEALS_CURSOR, &cursor).await?;
    }
    metrics::counter!(crate::telemetry::CRM_RECONCILED, "crm" => "bitrix24").increment(caught as u64);
    Ok(caught)
}
