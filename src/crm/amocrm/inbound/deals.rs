//! A lead that enters the "Поиск исполнителя" status goes to the executor job board (amoCRM has
//! no separate deals: a deal is a lead in a sales pipeline). The job is read from the lead's
//! name, price and configured fields; the client's phone, for the private reveal, from its
//! contact. Posting is idempotent per lead, so a webhook and the reconciliation seeing the same
//! move post it once.

use chrono::TimeZone;

use super::AmoInbound;
use crate::crm::amocrm::api::AmoError;
use crate::crm::amocrm::card::{AmoContact, AmoLead, SOURCE};
use crate::crm::failure::Failure;
use crate::domain::DealJob;

pub(super) async fn dispatch(inb: &AmoInbound, lead_id: &str) -> Result<(), Failure> {
    let query = [("with".to_string(), "contacts".to_string())];
    let answer = match inb.acc.client.get(&format!("/api/v4/leads/{lead_id}"), &query).await {
        Ok(a) => a,
        Err(AmoError::Api { status: 404, .. }) => return Ok(()), // deleted meanwhile
        Err(e) => return Err(e.into()),
    };
    let lead = answer
        .as_ref()
        .and_then(AmoLead::from_json)
        .ok_or_else(|| Failure::GiveUp(format!("lead {lead_id}: unreadable answer")))?;
    dispatch_lead(inb, &lead).await
}

pub(super) async fn dispatch_lead(inb: &AmoInbound, lead: &AmoLead) -> Result<(), Failure> {
    let (Some(d), Some(jobs)) = (&inb.acc.settings.dispatch, &inb.deals) else {
        return Ok(());
    };
    if lead.pipeline_id != d.pipeline_id || lead.status_id != d.status_id {
        return Ok(()); // moved on before we read it
    }
    let contact = match lead.contact_id {
        Some(c) => {
            let answer = inb.acc.client.get(&format!("/api/v4/contacts/{c}"), &[]).await?;
            answer.as_ref().and_then(AmoContact::from_json)
        }
        None => None,
    };
    let tz = inb.acc.settings.tz();
    let date = |field: u64| {
        lead.field(field).map(|v| match v.parse::<i64>() {
            Ok(ts) => tz
                .timestamp_opt(ts, 0)
                .single()
                .map_or(v.to_string(), |t| t.format("%d.%m.%Y").to_string()),
            Err(_) => v.to_string(),
        })
    };
    let job = DealJob {
        title: lead.name.clone().unwrap_or_else(|| format!("Сделка №{}", lead.id)),
        conditions: d
            .conditions_field_id
            .and_then(|f| lead.field(f))
            .unwrap_or_default()
            .to_string(),
        dates: d
            .dates_field_ids
            .iter()
            .filter_map(|f| date(*f))
            .collect::<Vec<_>>()
            .join(" — "),
        pay: lead
            .price
            .filter(|p| *p > 0)
            .map(|p| format!("{p} ₽"))
            .unwrap_or_default(),
        skills: d
            .skills_field_id
            .and_then(|f| lead.field(f))
            .unwrap_or_default()
            .to_string(),
        client_name: contact.as_ref().and_then(|c| c.name.clone()).unwrap_or_default(),
        client_phone: contact
            .as_ref()
            .and_then(|c| c.phones.first().cloned())
            .unwrap_or_default(),
        manager_id: lead.responsible_user_id.map(|u| u.to_string()),
    };
    jobs.dispatch(SOURCE, &lead.id.to_string(), &job)
        .await
        .map_err(|e| Failure::Retry(format!("posting lead {}: {e}", lead.id)))?;
    Ok(())
}
