//! Digital Pipeline webhooks are sent once with no retry, and account webhooks may be lost
//! while leadbot is down, so a poller asks for leads created since the last one seen in the
//! statuses the bot takes (`filter[created_at][from]`, oldest first) and takes any the
//! webhooks did not bring; and, with a job board, for leads moved into the dispatch status.

use std::sync::Arc;

use chrono::Utc;

use super::ingest::{embedded, fetch_contacts, take_lead};
use super::AmoInbound;
use crate::crm::amocrm::api::AmoError;
use crate::crm::amocrm::card::{AmoLead, SOURCE};
use crate::crm::failure::Failure;
use crate::telemetry;

const CURSOR: &str = "amocrm:created_at";
const DISPATCH_CURSOR: &str = "amocrm:dispatch_updated_at";
const PAGE: usize = 250;
/// Pages read in one pass at most (the rest waits for the next pass).
const MAX_PAGES: u32 = 20;

pub async fn run(inb: Arc<AmoInbound>) {
    loop {
        match reconcile_once(&inb).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(caught = n, "amoCRM reconciliation found leads whose webhooks were lost"),
            Err(e) => tracing::warn!(error = %e, "amoCRM reconciliation failed"),
        }
        tokio::time::sleep(inb.acc.settings.reconcile_every).await;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("{0}")]
    Api(#[from] AmoError),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0:?}")]
    Lead(Failure),
}

/// One pass; returns how many leads it created.
pub async fn reconcile_once(inb: &AmoInbound) -> Result<usize, ReconcileError> {
    let caught = new_leads(inb).await?;
    dispatch_leads(inb).await?;
    Ok(caught)
}

async fn cursor(inb: &AmoInbound, name: &str) -> Result<Option<u64>, ReconcileError> {
    let store = &inb.acc.store;
    match store.cursor(name).await? {
        Some(c) => Ok(Some(c.parse().unwrap_or(0))),
        None => {
            // First run: from now on, so history from before leadbot is left alone.
            store.set_cursor(name, &Utc::now().timestamp().to_string()).await?;
            Ok(None)
        }
    }
}

/// Leads in `(pipeline, statuses)` changed (`created_at` / `updated_at`) since `from`, oldest
/// first, page by page.
async fn list(
    inb: &AmoInbound,
    pipeline: u64,
    statuses: &[u64],
    by: &str,
    from: u64,
    page: u32,
) -> Result<Vec<AmoLead>, AmoError> {
    let mut query: Vec<(String, String)> = vec![(format!("filter[{by}][from]"), from.to_string())];
    for (i, s) in statuses.iter().enumerate() {
        query.push((format!("filter[statuses][{i}][pipeline_id]"), pipeline.to_string()));
        query.push((format!("filter[statuses][{i}][status_id]"), s.to_string()));
    }
    query.push((format!("order[{by}]"), "asc".into()));
    query.push(("with".into(), "contacts".into()));
    query.push(("limit".into(), PAGE.to_string()));
    query.push(("page".into(), page.to_string()));
    let answer = inb.acc.client.get("/api/v4/leads", &query).await?;
    Ok(embedded(answer.as_ref(), "leads")
        .iter()
        .filter_map(AmoLead::from_json)
        .collect())
}

async fn new_leads(inb: &AmoInbound) -> Result<usize, ReconcileError> {
    let Some(from) = cursor(inb, CURSOR).await? else {
        return Ok(0);
    };
    let p = &inb.acc.settings.pipeline;
    let mut caught = 0;
    let mut newest = from;
    for page in 1..=MAX_PAGES {
        let leads = list(inb, p.id, &p.take_statuses, "created_at", from, page).await?;
        let mut unknown = vec![];
        for lead in &leads {
            if inb.leads.find_lead(SOURCE, &lead.id.to_string()).await?.is_none() {
                unknown.push(lead);
            }
        }
        let contacts = fetch_contacts(
            &inb.acc,
            &unknown.iter().filter_map(|l| l.contact_id).collect::<Vec<_>>(),
        )
        .await
        .map_err(ReconcileError::Lead)?;
        for lead in unknown {
            let contact = lead.contact_id.and_then(|c| contacts.get(&c));
            if take_lead(inb, lead, contact).await.map_err(ReconcileError::Lead)? {
                caught += 1;
                metrics::counter!(telemetry::CRM_RECONCILED, "crm" => "amocrm").increment(1);
            }
        }
        // Same-second leads are seen again next time; taking a lead twice is a no-op.
        newest = leads.iter().filter_map(|l| l.created_at).fold(newest, u64::max);
        inb.acc.store.set_cursor(CURSOR, &newest.to_string()).await?;
        if leads.len() < PAGE {
            break;
        }
    }
    Ok(caught)
}

async fn dispatch_leads(inb: &AmoInbound) -> Result<(), ReconcileError> {
    let (Some(d), Some(_)) = (&inb.acc.settings.dispatch, &inb.deals) else {
        return Ok(());
    };
    let Some(from) = cursor(inb, DISPATCH_CURSOR).await? else {
        return Ok(());
    };
    let mut newest = from;
    for page in 1..=MAX_PAGES {
        let leads = list(inb, d.pipeline_id, &[d.status_id], "updated_at", from, page).await?;
        for lead in &leads {
            // Posting is idempotent per deal: a deal posted from its webhook is not posted again.
            super::deals::dispatch_lead(inb, lead)
                .await
                .map_err(ReconcileError::Lead)?;
        }
        newest = leads.iter().filter_map(|l| l.updated_at).fold(newest, u64::max);
        inb.acc.store.set_cursor(DISPATCH_CURSOR, &newest.to_string()).await?;
        if leads.len() < PAGE {
            break;
        }
    }
    Ok(())
}
