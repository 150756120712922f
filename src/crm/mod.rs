//! CRM adapters. A lead that came from a CRM gets its card kept in sync: the lead's actor
//! commits `CrmUpdate`s to the outbox with its state, and the CRM's delivery actor applies them
//! through the adapter registered for the lead's source.
//!
//! Every CRM adapter has the same shape as every channel (docs/architecture.md, "How to add a
//! CRM"): `api` (the client, its limiter, its errors, its auth), `inbound` (parse + verify the
//! webhook, then workers that hand leads and messages to the intake port; reconciliation for
//! what the webhooks missed), `outbound` (the [`Crm`] impl), storage through `CrmStore`.

pub mod amocrm;
pub mod bitrix24;
pub mod failure;
pub mod robots;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{DealJob, LeadRecord, Outcome};
use crate::outbox::DeliveryError;
pub use crate::outbox::{CrmUpdate, DealActionRow, DealUpdate};
use crate::store::Store;

#[async_trait]
pub trait Crm: Send + Sync + 'static {
    /// The lead `source` this adapter owns (e.g. `bitrix24`).
    fn source(&self) -> &str;
    async fn apply(&self, lead: &LeadRecord, update: &CrmUpdate, idempotency_key: &str) -> Result<(), DeliveryError>;
    /// A change to a deal (the job board's winner becomes its responsible).
    async fn update_deal(&self, update: &DealUpdate, _idempotency_key: &str) -> Result<(), DeliveryError> {
        Err(DeliveryError::Permanent(format!(
            "{} does not take deal updates (deal {})",
            self.source(),
            update.deal_id
        )))
    }
    /// An SLA robot's action on a deal (tag, comment, task, stage move, field).
    async fn deal_action(&self, row: &DealActionRow, _idempotency_key: &str) -> Result<(), DeliveryError> {
        Err(DeliveryError::Permanent(format!(
            "{} does not take robot actions (deal {})",
            self.source(),
            row.deal_id
        )))
    }
}

/// Where a CRM adapter sends a deal that needs an executor (the job board implements it).
#[async_trait]
pub trait DealDispatch: Send + Sync + 'static {
    /// Posts the deal of `crm` (its lead source name) once (the same deal again is the same
    /// job); returns the job id.
    async fn dispatch(&self, crm: &str, deal_id: &str, deal: &DealJob) -> Result<i64, String>;
}

/// The CRM adapters by lead source.
#[derive(Clone, Default)]
pub struct Crms {
    by_source: HashMap<String, Arc<dyn Crm>>,
}

impl Crms {
    pub fn register(&mut self, crm: Arc<dyn Crm>) {
        self.by_source.insert(crm.source().to_string(), crm);
    }

    pub fn get(&self, source: &str) -> Option<&Arc<dyn Crm>> {
        self.by_source.get(source)
    }

    pub fn handles(&self, source: &str) -> bool {
        self.by_source.contains_key(source)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Crm>> {
        self.by_source.values()
    }
}

/// What the bot tells the CRM about a failure, in the user's language.
pub fn outcome_text(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::PhoneInCard => "телефон уже был в карточке",
        Outcome::PhoneObtained => "клиент оставил телефон",
        Outcome::NoAnswer => "клиент не ответил в течение отведённого времени",
        Outcome::Refused => "клиент отказался оставить номер телефона",
        Outcome::NoChannel => "нет канала, чтобы связаться с клиентом",
        Outcome::NoManager => "нет менеджера, который может взять лид",
        Outcome::CrashLoop => "ошибка обработки лида, нужна ручная проверка",
        Outcome::MarkedByOperator => "оператор отметил лид как некачественный",
        Outcome::Booked => "клиент записался",
        Outcome::HandedOff => "клиент попросил живого человека",
    }
}

/// Same number whatever the formatting: digits only, a Russian 8 read as 7.
pub fn same_phone(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let d: String = s.chars().filter(char::is_ascii_digit).collect();
        match d.strip_prefix('8') {
            Some(rest) if d.len() == 11 => format!("7{rest}"),
            _ => d,
        }
    };
    norm(a) == norm(b)
}

/// The lead's dialog as a comment / note for the card.
pub async fn transcript_text(store: &dyn Store, lead: &LeadRecord) -> Result<String, DeliveryError> {
    let entries = store
        .transcript(lead.id, 0)
        .await
        .map_err(|e| DeliveryError::Retryable(e.to_string()))?;
    let mut text = String::from("Диалог бота с клиентом:\n");
    for e in entries {
        let who = if e.direction == "in" { "Клиент" } else { "Бот" };
        text.push_str(&format!("[{}] {who}: {}\n", e.at.format("%d.%m %H:%M"), e.text));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::same_phone;

    #[test]
    fn phones_compare_by_digits() {
        assert!(same_phone("+7 (918) 123-45-67", "+79181234567"));
        assert!(same_phone("89181234567", "+79181234567"));
        assert!(!same_phone("+79181234568", "+79181234567"));
    }
}
