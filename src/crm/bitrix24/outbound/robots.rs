//! The SLA robots' actions on a Bitrix24 deal. Each is one outbox row and safe to repeat: a
//! comment or a to-do that is already on the deal (a retry after a lost answer) is not added
//! again; a stage or field is set, not toggled. Bitrix24 deals have no tags: a tag goes into
//! the deal's `tags` list field when robots.toml maps one, else it is written as a comment.
//! A notice for a manager without a Telegram chat or e-mail is a Bitrix24 notification.

use serde_json::{json, Value};

use super::openlines::delivery_error;
use crate::config::CrmMapping;
use crate::crm::bitrix24::Bitrix24;
use crate::crm::robots::COMMENT_MARK;
use crate::outbox::{DealActionRow, DeliveryError};
use crate::sla::CrmAction;

const OWNER_DEAL: u64 = 2;

pub async fn apply(bx: &Bitrix24, map: &CrmMapping, row: &DealActionRow, key: &str) -> Result<(), DeliveryError> {
    let id = &row.deal_id;
    match &row.action {
        CrmAction::Comment { text } => comment(bx, id, text).await,
        CrmAction::AddTag { tag } => match map.field_id("tags") {
            Some(field) => {
                let deal = bx
                    .client
                    .call("crm.deal.get", json!({ "id": id }))
                    .await
                    .map_err(delivery_error)?;
                let mut tags: Vec<Value> = deal.get(field).and_then(Value::as_array).cloned().unwrap_or_default();
                if tags.iter().any(|t| t.as_str() == Some(tag)) {
                    return Ok(());
                }
                tags.push(json!(tag));
                update(bx, id, json!({ field: tags })).await
            }
            None => comment(bx, id, tag).await,
        },
        CrmAction::Task {
            title,
            due,
            responsible,
        } => {
            let open = bx
                .client
                .call(
                    "crm.activity.list",
                    json!({
                        "filter": {"OWNER_TYPE_ID": OWNER_DEAL, "OWNER_ID": id, "COMPLETED": "N"},
                        "select": ["ID", "SUBJECT"],
                    }),
                )
                .await
                .map_err(delivery_error)?;
            let exists = open.as_array().is_some_and(|a| {
                a.iter()
                    .any(|t| t.get("SUBJECT").and_then(Value::as_str) == Some(title))
            });
            if exists {
                return Ok(());
            }
            let mut params = json!({
                "ownerTypeId": OWNER_DEAL,
                "ownerId": id,
                "deadline": due.to_rfc3339(),
                "title": title,
                "description": format!("{COMMENT_MARK}{title}"),
            });
            if let Some(r) = responsible {
                params["responsibleId"] = json!(r);
            }
            bx.client
                .call("crm.activity.todo.add", params)
                .await
                .map_err(delivery_error)?;
            Ok(())
        }
        CrmAction::MoveStage { stage } => {
            let Some(stage_id) = map.stage_id(stage) else {
                return Err(DeliveryError::Permanent(format!(
                    "stage «{stage}» is not mapped for bitrix24"
                )));
            };
            update(bx, id, json!({ "STAGE_ID": stage_id })).await
        }
        CrmAction::SetField { field, value } => {
            let Some(uf) = map.field_id(field) else {
                return Err(DeliveryError::Permanent(format!(
                    "field `{field}` is not mapped for bitrix24"
                )));
            };
            update(bx, id, json!({ uf: value })).await
        }
        // TAG: a notification with the same tag replaces the earlier one, so a retry after a
        // lost answer shows one notification, not two.
        CrmAction::NotifyUser { user, text } => {
            bx.client
                .call(
                    "im.notify.system.add",
                    json!({"USER_ID": user, "MESSAGE": text, "TAG": format!("leadbot:{key}")}),
                )
                .await
                .map_err(delivery_error)?;
            Ok(())
        }
    }
}

async fn update(bx: &Bitrix24, id: &str, fields: Value) -> Result<(), DeliveryError> {
    bx.client
        .call(
            "crm.deal.update",
            json!({"id": id, "fields": fields, "params": {"REGISTER_SONET_EVENT": "Y"}}),
        )
        .await
        .map_err(delivery_error)?;
    Ok(())
}

async fn comment(bx: &Bitrix24, id: &str, text: &str) -> Result<(), DeliveryError> {
    let body = format!("{COMMENT_MARK}{text}");
    let existing = bx
        .client
        .call(
            "crm.timeline.comment.list",
            json!({"filter": {"ENTITY_ID": id, "ENTITY_TYPE": "deal"}, "select": ["ID", "COMMENT"]}),
        )
        .await
        .map_err(delivery_error)?;
    if existing.as_array().is_some_and(|a| {
        a.iter()
            .any(|c| c.get("COMMENT").and_then(Value::as_str) == Some(body.as_str()))
    }) {
        return Ok(());
    }
    bx.client
        .call(
            "crm.timeline.comment.add",
            json!({"fields": {"ENTITY_ID": id, "ENTITY_TYPE": "deal", "COMMENT": body}}),
        )
        .await
        .map_err(delivery_error)?;
    Ok(())
}
