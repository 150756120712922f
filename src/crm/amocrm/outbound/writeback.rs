//! Results back into the amoCRM card. Each `CrmUpdate` is its own outbox row, committed with
//! the lead's state. Status, responsible and tags go through the bulk lead updates; tags are
//! added with `tags_to_add` (a plain `_embedded.tags` would replace the card's own tags). The
//! phone goes onto the lead's main contact — read first and added only when it is not there
//! (a retry never writes it twice), a contact created and linked when the lead has none (found
//! by the phone first, so a retry after a lost answer links the one created before). The
//! manager is told with a task ("Связаться с клиентом", due now), amoCRM's way to notify a
//! user; an identical open task is not added again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::crm::amocrm::api::{as_u64, AmoError};
use crate::crm::amocrm::card::{AmoContact, AmoLead, SOURCE};
use crate::crm::amocrm::AmoCrmAccount;
use crate::crm::{outcome_text, same_phone, transcript_text, Crm, CrmUpdate, DealUpdate};
use crate::domain::{LeadRecord, LeadStatus};
use crate::outbox::DeliveryError;
use crate::store::Store;

/// The phone's enum code on a contact amoCRM creates for us.
const PHONE_ENUM: &str = "MOB";

pub struct AmoCrm {
    pub acc: Arc<AmoCrmAccount>,
    /// The lead's transcript, for the note.
    pub store: Arc<dyn Store>,
    /// The SLA robots' names for this account's statuses and fields (robots.toml).
    pub robots: Option<Arc<crate::config::CrmMapping>>,
}

/// How an amoCRM failure looks to the delivery actor: a blocked account holds the sink (the
/// rows stay queued, never given up), limits and outages are retried, the rest is permanent.
pub fn delivery_error(e: AmoError) -> DeliveryError {
    match e {
        AmoError::Blocked { retry_in } => DeliveryError::Throttled(retry_in.max(Duration::from_secs(1))),
        AmoError::RateLimited => DeliveryError::Throttled(Duration::from_secs(5)),
        e if e.is_retryable() => DeliveryError::Retryable(e.to_string()),
        e => DeliveryError::Permanent(e.to_string()),
    }
}

fn user_id(id: &str) -> Result<u64, DeliveryError> {
    id.trim()
        .parse()
        .map_err(|_| DeliveryError::Permanent(format!("`{id}` is not an amoCRM user id")))
}

fn lead_id(lead: &LeadRecord) -> Result<u64, DeliveryError> {
    lead.external_id
        .parse()
        .map_err(|_| DeliveryError::Permanent(format!("`{}` is not an amoCRM lead id", lead.external_id)))
}

impl AmoCrm {
    fn status_id(&self, status: LeadStatus) -> u64 {
        let p = &self.acc.settings.pipeline;
        match status {
            LeadStatus::Assigned | LeadStatus::Closed => p.assigned,
            LeadStatus::LowQuality => p.low_quality,
            LeadStatus::NeedsReview => p.needs_review,
            LeadStatus::New | LeadStatus::BotProcessing | LeadStatus::Queued => p.bot_processing,
        }
    }

    async fn patch(&self, patch: Value) -> Result<(), DeliveryError> {
        self.acc.patches.patch(patch).await.map_err(delivery_error)
    }

    fn status_patch(&self, id: u64, status: LeadStatus, tag: &str) -> Value {
        let mut patch = json!({
            "id": id,
            "pipeline_id": self.acc.settings.pipeline.id,
            "status_id": self.status_id(status),
        });
        if !tag.is_empty() {
            patch["tags_to_add"] = json!([{"name": tag}]);
        }
        patch
    }

    async fn note(&self, lead: u64, text: &str) -> Result<(), DeliveryError> {
        let body = json!([{"entity_id": lead, "note_type": "common", "params": {"text": text}}]);
        self.acc
            .client
            .post("/api/v4/leads/notes", &body)
            .await
            .map_err(delivery_error)?;
        Ok(())
    }

    /// A task for `user` on the lead, due now — unless the same open task is there already.
    async fn task(&self, lead: u64, user: u64, text: &str) -> Result<(), DeliveryError> {
        let query = [
            ("filter[entity_type]".to_string(), "leads".to_string()),
            ("filter[entity_id][]".to_string(), lead.to_string()),
            ("filter[is_completed]".to_string(), "0".to_string()),
            ("filter[responsible_user_id][]".to_string(), user.to_string()),
        ];
        let open = self
            .acc
            .client
            .get("/api/v4/tasks", &query)
            .await
            .map_err(delivery_error)?;
        let exists = open
            .as_ref()
            .and_then(|a| a.pointer("/_embedded/tasks"))
            .and_then(Value::as_array)
            .is_some_and(|tasks| {
                tasks
                    .iter()
                    .any(|t| t.get("text").and_then(Value::as_str) == Some(text))
            });
        if exists {
            return Ok(());
        }
        let body = json!([{
            "text": text,
            "complete_till": chrono::Utc::now().timestamp(),
            "entity_id": lead,
            "entity_type": "leads",
            "task_type_id": 1,
            "responsible_user_id": user,
        }]);
        self.acc
            .client
            .post("/api/v4/tasks", &body)
            .await
            .map_err(delivery_error)?;
        Ok(())
    }

    async fn get(&self, path: &str, query: &[(String, String)]) -> Result<Option<Value>, DeliveryError> {
        self.acc.client.get(path, query).await.map_err(delivery_error)
    }

    /// The client corrected their number: `new` replaces `old` among the main contact's numbers
    /// (read first; a retry finds `new` there and does nothing).
    async fn correct_phone(&self, lead: &LeadRecord, id: u64, old: &str, new: &str) -> Result<(), DeliveryError> {
        let card = self
            .get(&format!("/api/v4/leads/{id}"), &[("with".into(), "contacts".into())])
            .await?
            .as_ref()
            .and_then(AmoLead::from_json)
            .ok_or_else(|| DeliveryError::Permanent(format!("lead {id}: unreadable answer")))?;
        let Some(contact_id) = card.contact_id else {
            return self.ensure_phone(lead, id, new).await;
        };
        let contact = self
            .get(&format!("/api/v4/contacts/{contact_id}"), &[])
            .await?
            .as_ref()
            .and_then(AmoContact::from_json)
            .ok_or_else(|| DeliveryError::Permanent(format!("contact {contact_id}: unreadable answer")))?;
        if contact.phones.iter().any(|p| same_phone(p, new)) {
            return Ok(());
        }
        let value = |v: &Value| v.get("value").and_then(Value::as_str).unwrap_or("").to_string();
        let mut values: Vec<Value> = contact
            .phone_values
            .iter()
            .filter(|v| !same_phone(&value(v), old))
            .cloned()
            .collect();
        values.push(json!({"value": new, "enum_code": PHONE_ENUM}));
        let field = match contact.phone_field_id {
            Some(f) => json!({"field_id": f, "values": values}),
            None => json!({"field_code": "PHONE", "values": values}),
        };
        self.acc
            .client
            .patch(
                &format!("/api/v4/contacts/{contact_id}"),
                &json!({"custom_fields_values": [field]}),
            )
            .await
            .map_err(delivery_error)?;
        Ok(())
    }

    /// Puts `phone` on the lead's main contact, once.
    async fn ensure_phone(&self, lead: &LeadRecord, id: u64, phone: &str) -> Result<(), DeliveryError> {
        let card = self
            .get(&format!("/api/v4/leads/{id}"), &[("with".into(), "contacts".into())])
            .await?
            .as_ref()
            .and_then(AmoLead::from_json)
            .ok_or_else(|| DeliveryError::Permanent(format!("lead {id}: unreadable answer")))?;
        if let Some(contact_id) = card.contact_id {
            let contact = self
                .get(&format!("/api/v4/contacts/{contact_id}"), &[])
                .await?
                .as_ref()
                .and_then(AmoContact::from_json)
                .ok_or_else(|| DeliveryError::Permanent(format!("contact {contact_id}: unreadable answer")))?;
            if contact.phones.iter().any(|p| same_phone(p, phone)) {
                return Ok(());
            }
            // The values sent are the field's new set: the numbers it has, and ours.
            let mut values = contact.phone_values.clone();
            values.push(json!({"value": phone, "enum_code": PHONE_ENUM}));
            let field = match contact.phone_field_id {
                Some(id) => json!({"field_id": id, "values": values}),
                None => json!({"field_code": "PHONE", "values": values}),
            };
            self.acc
                .client
                .patch(
                    &format!("/api/v4/contacts/{contact_id}"),
                    &json!({"custom_fields_values": [field]}),
                )
                .await
                .map_err(delivery_error)?;
            return Ok(());
        }
        // No contact: one with this phone may exist (ours from an attempt whose answer was lost).
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        let found = self
            .get("/api/v4/contacts", &[("query".into(), digits)])
            .await?
            .as_ref()
            .and_then(|a| a.pointer("/_embedded/contacts"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(AmoContact::from_json)
            .find(|c| c.phones.iter().any(|p| same_phone(p, phone)));
        let contact_id = match found {
            Some(c) => c.id,
            None => {
                let name = lead.name.clone().unwrap_or_else(|| "Клиент".into());
                let body = json!([{
                    "name": name,
                    "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": phone, "enum_code": PHONE_ENUM}]}],
                }]);
                let created = self
                    .acc
                    .client
                    .post("/api/v4/contacts", &body)
                    .await
                    .map_err(delivery_error)?;
                created
                    .as_ref()
                    .and_then(|a| a.pointer("/_embedded/contacts/0/id"))
                    .and_then(as_u64)
                    .ok_or_else(|| DeliveryError::Retryable("contact created without an id in the answer".into()))?
            }
        };
        let link = json!([{"to_entity_id": contact_id, "to_entity_type": "contacts", "metadata": {"is_main": true}}]);
        self.acc
            .client
            .post(&format!("/api/v4/leads/{id}/link"), &link)
            .await
            .map_err(delivery_error)?;
        Ok(())
    }
}

#[async_trait]
impl Crm for AmoCrm {
    fn source(&self) -> &str {
        SOURCE
    }

    async fn apply(&self, lead: &LeadRecord, update: &CrmUpdate, _key: &str) -> Result<(), DeliveryError> {
        let id = lead_id(lead)?;
        let tags = &self.acc.settings.tags;
        match update {
            CrmUpdate::BotStarted => {
                let mut patch = self.status_patch(id, LeadStatus::BotProcessing, &tags.bot);
                if let Some(bot) = self.acc.settings.bot_user_id {
                    patch["responsible_user_id"] = json!(bot);
                }
                self.patch(patch).await
            }
            CrmUpdate::HandedOver { phone, manager_id } => {
                let manager = user_id(manager_id.as_str())?;
                self.ensure_phone(lead, id, phone.as_str()).await?;
                let mut patch = self.status_patch(id, LeadStatus::Assigned, "");
                patch["responsible_user_id"] = json!(manager);
                self.patch(patch).await
            }
            CrmUpdate::Failed { status, .. } => self.patch(self.status_patch(id, *status, &tags.failed)).await,
            CrmUpdate::TranscriptComment => {
                let text = transcript_text(self.store.as_ref(), lead).await?;
                self.note(id, &text).await
            }
            CrmUpdate::FailureComment { outcome } => {
                self.note(id, &format!("Бот не получил телефон: {}.", outcome_text(*outcome)))
                    .await
            }
            CrmUpdate::PhoneCorrected { old, new } => self.correct_phone(lead, id, old.as_str(), new.as_str()).await,
            CrmUpdate::NotifyManager { manager_id, text } => {
                let manager = user_id(manager_id.as_str())?;
                self.task(id, manager, &format!("Связаться с клиентом. {text}")).await
            }
            CrmUpdate::Visit(v) => {
                if let Some(field) = self.acc.settings.visit_field_id {
                    // amoCRM date-time fields take a Unix timestamp; a cancel empties the field.
                    let values = if v.change == "cancelled" {
                        json!(null)
                    } else {
                        json!([{"value": v.starts_at.timestamp()}])
                    };
                    self.patch(json!({"id": id, "custom_fields_values": [{"field_id": field, "values": values}]}))
                        .await?;
                }
                self.note(id, &v.text()).await
            }
        }
    }

    /// The job board's winner becomes the lead's responsible when they are an amoCRM user, else
    /// their name and login go into the configured field; a note says who it is either way, and
    /// the manager gets a task.
    async fn update_deal(&self, d: &DealUpdate, _key: &str) -> Result<(), DeliveryError> {
        let id: u64 = d
            .deal_id
            .parse()
            .map_err(|_| DeliveryError::Permanent(format!("`{}` is not an amoCRM lead id", d.deal_id)))?;
        let executor_user = d.crm_user_id.as_deref().map(user_id).transpose()?;
        let mut patch = json!({"id": id});
        match (
            executor_user,
            self.acc.settings.dispatch.as_ref().and_then(|x| x.executor_field_id),
        ) {
            (Some(user), _) => patch["responsible_user_id"] = json!(user),
            (None, Some(field)) => {
                patch["custom_fields_values"] = json!([{"field_id": field, "values": [{"value": d.executor}]}]);
            }
            (None, None) => {}
        }
        if patch.as_object().is_some_and(|o| o.len() > 1) {
            self.patch(patch).await?;
        }
        if let Some(manager) = d.manager_id.as_deref().and_then(|m| m.parse::<u64>().ok()) {
            self.task(id, manager, &format!("Исполнитель найден: {}", d.executor))
                .await?;
        }
        self.note(id, &format!("Исполнитель: {}", d.executor)).await
    }

    async fn deal_action(&self, row: &crate::outbox::DealActionRow, _key: &str) -> Result<(), DeliveryError> {
        let Some(map) = &self.robots else {
            return Err(DeliveryError::Permanent(
                "a robot action for amoCRM, but robots.toml does not map it".into(),
            ));
        };
        super::robots::apply(&self.acc, map, row).await
    }
}
