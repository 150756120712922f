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

/// A deal event: the card as it is now goes to the robots.
pub(super) async fn deal_seen(
    inb: &Bitrix24Inbound,
    feed: &RobotFeed,
    deal_id: &str,
    key: &str,
) -> Result<(), Failure> {
    let bx = &inb.bx;
    let deal = bx.client.call("crm.deal.get", json!({ "id": deal_id })).await?;
    if let Some(pipeline) = &feed.mapping.pipeline {
        let category = match text(&deal, "CATEGORY_ID") {
            c if c.is_empty() => "0".to_string(),
            c => c,
        };
        if &category != pipeline {
            return Ok(()); // another pipeline: not tracked
        }
    }
    let facts = facts_of(inb, feed, deal_id, &deal).await?;
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
