//! A deal that enters the "looking for an executor" stage goes to the executor job board.
//! Our own `crm.deal.update` after a take echoes back; posting is idempotent per deal.

use serde_json::{json, Value};

use super::failure::Failure;
use super::Bitrix24Inbound;
use crate::crm::bitrix24::api::as_u64;
use crate::domain::DealJob;

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").trim().to_string()
}

/// Whether deal events matter to the job board (a dispatch stage and a board configured).
pub(super) fn dispatching(inb: &Bitrix24Inbound) -> bool {
    inb.bx.settings.dispatch.is_some() && inb.deals.is_some()
}

/// `deal` is the card as `crm.deal.get` answered (read once per event for every consumer).
pub(super) async fn deal_changed(inb: &Bitrix24Inbound, deal_id: &str, deal: &Value) -> Result<(), Failure> {
    let bx = &inb.bx;
    let (Some(dispatch), Some(jobs)) = (&bx.settings.dispatch, &inb.deals) else {
        return Ok(()); // not used without a job board
    };
    let deal = deal.clone();
    if text(&deal, "STAGE_ID") != dispatch.stage_id {
        return Ok(());
    }
    let (client_name, client_phone) = match deal.get("CONTACT_ID").and_then(as_u64) {
        Some(contact) if contact > 0 => {
            let c = bx.client.call("crm.contact.get", json!({"id": contact})).await?;
            let phone = c
                .get("PHONE")
                .and_then(Value::as_array)
                .and_then(|p| p.first())
                .map(|p| text(p, "VALUE"))
                .unwrap_or_default();
            (
                format!("{} {}", text(&c, "NAME"), text(&c, "LAST_NAME"))
                    .trim()
                    .to_string(),
                phone,
            )
        }
        _ => (String::new(), String::new()),
    };
    let pay = match (text(&deal, "OPPORTUNITY"), text(&deal, "CURRENCY_ID")) {
        (a, c) if !a.is_empty() && a != "0.00" => format!("{a} {c}").trim().to_string(),
        _ => String::new(),
    };
    let job = DealJob {
        title: text(&deal, "TITLE"),
        conditions: text(&deal, "COMMENTS"),
        dates: [text(&deal, "BEGINDATE"), text(&deal, "CLOSEDATE")]
            .into_iter()
            .filter(|d| !d.is_empty())
            .map(|d| d.chars().take(10).collect::<String>())
            .collect::<Vec<_>>()
            .join(" — "),
        pay,
        skills: String::new(),
        client_name,
        client_phone,
        manager_id: Some(text(&deal, "ASSIGNED_BY_ID")).filter(|m| !m.is_empty()),
    };
    jobs.dispatch(crate::crm::bitrix24::SOURCE, deal_id, &job)
        .await
        .map_err(|e| Failure::Retry(format!("posting deal {deal_id}: {e}")))?;
    Ok(())
}
