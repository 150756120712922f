//! CRM adapters. A lead that came from a CRM gets its card kept in sync: the lead's actor
//! commits `CrmUpdate`s to the outbox with its state, and the dispatcher applies them through
//! the adapter registered for the lead's source.

pub mod bitrix24;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::delivery::DeliveryError;
use crate::domain::{LeadStatus, Outcome};
use crate::store::LeadRecord;

/// One change to make in the CRM card. Each is one outbox row, so a retry repeats only the
/// step that failed; non-idempotent ones (comments, notifications) are separate rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CrmUpdate {
    /// The bot took the lead: status "bot is processing", no manager.
    BotStarted,
    /// A valid phone was obtained: write it (once), set the responsible and the target status.
    HandedOver { phone: String, manager_id: String },
    /// No phone: the failure status with its reason.
    Failed { status: LeadStatus, outcome: Outcome },
    /// A timeline comment with the whole dialog.
    TranscriptComment,
    /// A timeline comment explaining why the bot gave up.
    FailureComment { outcome: Outcome },
    /// Tell the manager in the CRM's own notifications.
    NotifyManager { manager_id: String, text: String },
}

#[async_trait]
pub trait Crm: Send + Sync + 'static {
    /// The lead `source` this adapter owns (e.g. `bitrix24`).
    fn source(&self) -> &str;
    async fn apply(&self, lead: &LeadRecord, update: &CrmUpdate, idempotency_key: &str) -> Result<(), DeliveryError>;
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
    }
}
