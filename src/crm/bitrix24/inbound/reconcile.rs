//! Bitrix24 never re-sends an event the handler missed, so a poller walks `crm.lead.list` by
//! ascending ID from the last one seen and takes any lead the events did not bring.

use std::sync::Arc;

use serde_json::{json, Value};

use super::ingest::take_card;
use super::Bitrix24Inbound;
use crate::crm::bitrix24::api::as_u64;
use crate::crm::bitrix24::card::Card;
use crate::crm::bitrix24::Bitrix24Error;
use crate::telemetry;

const CURSOR: &str = "bitrix24:lead_id";
const SELECT: [&str; 8] = [
    "ID",
    "STATUS_ID",
    "NAME",
    "LAST_NAME",
    "SOURCE_ID",
    "COMMENTS",
    "PHONE",
    "IM",
];

pub async fn run(inb: Arc<Bitrix24Inbound>) {
    loop {
        match reconcile_once(&inb).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(caught = n, "Bitrix24 reconciliation found leads whose events were lost"),
            Err(e) => tracing::warn!(error = %e, "Bitrix24 reconciliation failed"),
        }
        tokio::time::sleep(inb.bx.settings.reconcile_every).await;
    }
}

/// One pass; returns how many leads it created.
pub async fn reconcile_once(inb: &Bitrix24Inbound) -> Result<usize, Bitrix24Error> {
    let bx = &inb.bx;
    let cursor = match bx.store.cursor(CURSOR).await? {
        Some(c) => c.parse::<u64>().unwrap_or(0),
        None => {
            // First run: start from the newest lead, so history from before leadbot is left alone.
            let newest = bx
                .client
                .call_full(
                    "crm.lead.list",
                    json!({"order": {"ID": "DESC"}, "select": ["ID"], "start": -1}),
                )
                .await?;
            let top = newest
                .result
                .as_array()
                .and_then(|a| a.first())
                .and_then(|l| l.get("ID"))
                .and_then(as_u64);
            let start = top.unwrap_or(0);
            bx.store.set_cursor(CURSOR, &start.to_string()).await?;
            return Ok(0);
        }
    };
    let mut caught = 0;
    let mut last = cursor;
    loop {
        let answer = bx
            .client
            .call_full(
                "crm.lead.list",
                json!({
                    "order": {"ID": "ASC"},
                    "filter": {">ID": last},
                    "select": SELECT,
                    "start": -1,
                }),
            )
            .await?;
        let items: Vec<Value> = answer.result.as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        for item in &items {
            let Some(card) = Card::from_json(item) else { continue };
            last = last.max(card.id);
            match take_card(inb, &card).await {
                Ok(true) => {
                    caught += 1;
                    metrics::counter!(telemetry::CRM_RECONCILED, "crm" => "bitrix24").increment(1);
                }
                Ok(false) => {}
                Err(_) => {
                    // Stop before this lead: the next pass retries from here.
                    bx.store
                        .set_cursor(CURSOR, &(card.id - 1).max(cursor).to_string())
                        .await?;
                    return Ok(caught);
                }
            }
        }
        bx.store.set_cursor(CURSOR, &last.to_string()).await?;
        if items.len() < 50 {
            break;
        }
    }
    Ok(caught)
}
