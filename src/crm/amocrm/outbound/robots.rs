//! The SLA robots' actions on an amoCRM lead. Each is one outbox row and safe to repeat: a tag
//! goes in with `tags_to_add` (the lead's own tags stay, a second add is a no-op), a note or a
//! task already on the lead (a retry after a lost answer) is not added again, a status or a
//! field is set, not toggled.

use serde_json::{json, Value};

use super::writeback::delivery_error;
use crate::config::CrmMapping;
use crate::crm::amocrm::AmoCrmAccount;
use crate::crm::robots::COMMENT_MARK;
use crate::outbox::{DealActionRow, DeliveryError};
use crate::sla::CrmAction;

pub async fn apply(acc: &AmoCrmAccount, map: &CrmMapping, row: &DealActionRow) -> Result<(), DeliveryError> {
    let id: u64 = row
        .deal_id
        .parse()
        .map_err(|_| DeliveryError::Permanent(format!("`{}` is not an amoCRM lead id", row.deal_id)))?;
    let path = format!("/api/v4/leads/{id}");
    match &row.action {
        CrmAction::AddTag { tag } => {
            let body = json!({"tags_to_add": [{"name": tag}]});
            acc.client.patch(&path, &body).await.map_err(delivery_error)?;
            Ok(())
        }
        CrmAction::Comment { text } => note(acc, id, text).await,
        // amoCRM has no notifications API for users: the notice is a note on the lead, which
        // the responsible sees in the card's feed.
        CrmAction::NotifyUser { text, .. } => note(acc, id, &format!("Уведомление менеджеру: {text}")).await,
        CrmAction::Task {
            title,
            due,
            responsible,
        } => {
            let q = vec![
                ("filter[entity_type]".to_string(), "leads".to_string()),
                ("filter[entity_id][]".to_string(), id.to_string()),
                ("filter[is_completed]".to_string(), "0".to_string()),
            ];
            let open = acc.client.get("/api/v4/tasks", &q).await.map_err(delivery_error)?;
            let exists = open
                .as_ref()
                .and_then(|a| a.pointer("/_embedded/tasks"))
                .and_then(Value::as_array)
                .is_some_and(|tasks| {
                    tasks
                        .iter()
                        .any(|t| t.get("text").and_then(Value::as_str) == Some(title))
                });
            if exists {
                return Ok(());
            }
            let mut task = json!({
                "text": title,
                "complete_till": due.timestamp(),
                "entity_id": id,
                "entity_type": "leads",
                "task_type_id": 1,
            });
            if let Some(user) = responsible.as_ref().and_then(|r| r.parse::<u64>().ok()) {
                task["responsible_user_id"] = json!(user);
            }
            acc.client
                .post("/api/v4/tasks", &json!([task]))
                .await
                .map_err(delivery_error)?;
            Ok(())
        }
        CrmAction::MoveStage { stage } => {
            let status = map
                .stage_id(stage)
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| DeliveryError::Permanent(format!("stage «{stage}» is not mapped for amocrm")))?;
            let mut body = json!({"status_id": status});
            if let Some(p) = map.pipeline.as_deref().and_then(|p| p.parse::<u64>().ok()) {
                body["pipeline_id"] = json!(p);
            }
            acc.client.patch(&path, &body).await.map_err(delivery_error)?;
            Ok(())
        }
        CrmAction::SetField { field, value } => {
            let field_id = map
                .field_id(field)
                .and_then(|f| f.parse::<u64>().ok())
                .ok_or_else(|| DeliveryError::Permanent(format!("field `{field}` is not mapped for amocrm")))?;
            let body = json!({"custom_fields_values": [{"field_id": field_id, "values": [{"value": value}]}]});
            acc.client.patch(&path, &body).await.map_err(delivery_error)?;
            Ok(())
        }
    }
}

/// A note on the lead, unless the same note is there already (a retry after a lost answer).
async fn note(acc: &AmoCrmAccount, id: u64, text: &str) -> Result<(), DeliveryError> {
    let text = format!("{COMMENT_MARK}{text}");
    let q = vec![
        ("filter[entity_id][]".to_string(), id.to_string()),
        ("filter[note_type]".to_string(), "common".to_string()),
        ("limit".to_string(), "250".to_string()),
    ];
    let existing = acc
        .client
        .get("/api/v4/leads/notes", &q)
        .await
        .map_err(delivery_error)?;
    let there = existing
        .as_ref()
        .and_then(|a| a.pointer("/_embedded/notes"))
        .and_then(Value::as_array)
        .is_some_and(|notes| {
            notes
                .iter()
                .any(|n| n.pointer("/params/text").and_then(Value::as_str) == Some(text.as_str()))
        });
    if there {
        return Ok(());
    }
    let body = json!([{"entity_id": id, "note_type": "common", "params": {"text": text}}]);
    acc.client
        .post("/api/v4/leads/notes", &body)
        .await
        .map_err(delivery_error)?;
    Ok(())
}
