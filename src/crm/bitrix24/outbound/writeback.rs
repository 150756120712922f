//! Results back into the Bitrix24 card. Each `CrmUpdate` is one outbox row; the update of the
//! card is idempotent (the phone is appended only when the card does not have it yet, so a
//! retry never adds it twice); comments and notifications are their own rows.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::openlines::{delivery_error, OpenLines};
use crate::crm::bitrix24::card::{Card, SOURCE};
use crate::crm::bitrix24::Bitrix24;
use crate::crm::{outcome_text, same_phone, transcript_text, Crm, CrmUpdate, DealUpdate};
use crate::domain::{LeadRecord, LeadStatus};
use crate::outbox::DeliveryError;
use crate::store::Store;

pub struct Bitrix24Crm {
    pub bx: Arc<Bitrix24>,
    /// The lead's transcript, for the timeline comment.
    pub store: Arc<dyn Store>,
    /// The SLA robots' names for this portal's stages and fields (robots.toml).
    pub robots: Option<Arc<crate::config::CrmMapping>>,
}

impl Bitrix24Crm {
    async fn update(&self, lead: &LeadRecord, fields: Value) -> Result<(), DeliveryError> {
        self.bx
            .client
            .call(
                "crm.lead.update",
                json!({"id": lead.external_id, "fields": fields, "params": {"REGISTER_SONET_EVENT": "Y"}}),
            )
            .await
            .map_err(delivery_error)?;
        Ok(())
    }

    async fn comment(&self, lead: &LeadRecord, text: &str) -> Result<(), DeliveryError> {
        self.bx
            .client
            .call(
                "crm.timeline.comment.add",
                json!({"fields": {"ENTITY_ID": lead.external_id, "ENTITY_TYPE": "lead", "COMMENT": text}}),
            )
            .await
            .map_err(delivery_error)?;
        Ok(())
    }

    fn status_id(&self, status: LeadStatus) -> &str {
        let s = &self.bx.settings.statuses;
        match status {
            LeadStatus::Assigned | LeadStatus::Closed => &s.assigned,
            LeadStatus::LowQuality => &s.low_quality,
            LeadStatus::NeedsReview => &s.needs_review,
            LeadStatus::New | LeadStatus::BotProcessing | LeadStatus::Queued => &s.bot_processing,
        }
    }
}

#[async_trait]
impl Crm for Bitrix24Crm {
    fn source(&self) -> &str {
        SOURCE
    }

    async fn apply(&self, lead: &LeadRecord, update: &CrmUpdate, _key: &str) -> Result<(), DeliveryError> {
        match update {
            CrmUpdate::BotStarted => {
                let mut fields = json!({"STATUS_ID": self.status_id(LeadStatus::BotProcessing)});
                if let Some(bot) = self.bx.settings.bot_user_id {
                    fields["ASSIGNED_BY_ID"] = json!(bot);
                }
                self.update(lead, fields).await
            }
            CrmUpdate::HandedOver { phone, manager_id } => {
                // Read first: append the phone only if the card does not have it (retries!).
                let current = self
                    .bx
                    .client
                    .call("crm.lead.get", json!({"id": lead.external_id}))
                    .await
                    .map_err(delivery_error)?;
                let card =
                    Card::from_json(&current).ok_or_else(|| DeliveryError::Permanent("unreadable lead card".into()))?;
                let mut fields = json!({
                    "ASSIGNED_BY_ID": manager_id,
                    "STATUS_ID": self.status_id(LeadStatus::Assigned),
                });
                if !card.phones.iter().any(|p| same_phone(p, phone.as_str())) {
                    fields["PHONE"] = json!([{"VALUE": phone, "VALUE_TYPE": "MOBILE"}]);
                }
                self.update(lead, fields).await?;
                if lead.channel == crate::crm::bitrix24::OPENLINES_CHANNEL && self.bx.openlines_bot() {
                    OpenLines { bx: self.bx.clone() }
                        .transfer(lead, manager_id)
                        .await
                        .map_err(delivery_error)?;
                }
                Ok(())
            }
            CrmUpdate::Failed { status, .. } => self.update(lead, json!({"STATUS_ID": self.status_id(*status)})).await,
            CrmUpdate::TranscriptComment => {
                let text = transcript_text(self.store.as_ref(), lead).await?;
                self.comment(lead, &text).await
            }
            CrmUpdate::FailureComment { outcome } => {
                self.comment(lead, &format!("Бот не получил телефон: {}.", outcome_text(*outcome)))
                    .await
            }
            CrmUpdate::PhoneCorrected { old, new } => {
                // Read first: the old number's multifield ID is updated in place (a value with
                // an ID replaces that value), so the card does not keep the wrong number.
                let current = self
                    .bx
                    .client
                    .call("crm.lead.get", json!({"id": lead.external_id}))
                    .await
                    .map_err(delivery_error)?;
                let entries = current
                    .get("PHONE")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let value = |e: &Value| e.get("VALUE").and_then(Value::as_str).unwrap_or("").to_string();
                if entries.iter().any(|e| same_phone(&value(e), new.as_str())) {
                    return Ok(()); // done already (a retry), or the client repeated a number it has
                }
                let item = match entries.iter().find(|e| same_phone(&value(e), old.as_str())) {
                    Some(e) => {
                        json!({"ID": e.get("ID").cloned().unwrap_or(Value::Null), "VALUE": new, "VALUE_TYPE": "MOBILE"})
                    }
                    None => json!({"VALUE": new, "VALUE_TYPE": "MOBILE"}),
                };
                self.update(lead, json!({"PHONE": [item]})).await
            }
            CrmUpdate::Visit(v) => {
                if let Some(field) = &self.bx.settings.visit_field {
                    let value = if v.change == "cancelled" {
                        json!("")
                    } else {
                        json!(v.starts_at.to_rfc3339())
                    };
                    self.update(lead, json!({ field.as_str(): value })).await?;
                }
                self.comment(lead, &v.text()).await
            }
            CrmUpdate::NotifyManager { manager_id, text } => {
                let link = format!(
                    "[URL=https://{}/crm/lead/details/{}/]лид №{}[/URL]",
                    self.bx.settings.portal, lead.external_id, lead.external_id
                );
                self.bx
                    .client
                    .call(
                        "im.notify.system.add",
                        json!({"USER_ID": manager_id, "MESSAGE": format!("{text} {link}")}),
                    )
                    .await
                    .map_err(delivery_error)?;
                Ok(())
            }
        }
    }

    /// The job board's winner becomes the deal's responsible person.
    async fn update_deal(&self, d: &DealUpdate, _key: &str) -> Result<(), DeliveryError> {
        let mut fields = json!({"COMMENTS": format!("Исполнитель: {}", d.executor)});
        if let Some(user) = &d.crm_user_id {
            fields["ASSIGNED_BY_ID"] = json!(user);
        }
        self.bx
            .client
            .call(
                "crm.deal.update",
                json!({"id": d.deal_id, "fields": fields, "params": {"REGISTER_SONET_EVENT": "Y"}}),
            )
            .await
            .map_err(delivery_error)?;
        Ok(())
    }

    async fn deal_action(&self, row: &crate::outbox::DealActionRow, key: &str) -> Result<(), DeliveryError> {
        let Some(map) = &self.robots else {
            return Err(DeliveryError::Permanent(
                "a robot action for Bitrix24, but robots.toml does not map it".into(),
            ));
        };
        super::robots::apply(&self.bx, map, row, key).await
    }
}
