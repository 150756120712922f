//! An amoCRM lead and contact as API v4 returns them (`GET /api/v4/leads?with=contacts`,
//! `GET /api/v4/contacts`), read leniently, and what leadbot makes of them. A lead never carries
//! the phone: it lives on the lead's (main) contact.

use serde_json::Value;

use super::api::as_u64;
use crate::config::AmoCrmSettings;
use crate::domain::{ChannelName, NewLead};

/// The lead source leadbot records for amoCRM leads.
pub const SOURCE: &str = "amocrm";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmoLead {
    pub id: u64,
    pub name: Option<String>,
    pub status_id: u64,
    pub pipeline_id: u64,
    pub responsible_user_id: Option<u64>,
    pub price: Option<u64>,
    pub tags: Vec<String>,
    /// `custom_fields_values` as (field id, the values' texts).
    pub fields: Vec<(u64, Vec<String>)>,
    /// The main contact (or the first one).
    pub contact_id: Option<u64>,
    /// Unix seconds.
    pub created_at: Option<u64>,
    pub updated_at: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmoContact {
    pub id: u64,
    pub name: Option<String>,
    /// The `PHONE` field's values, as entered.
    pub phones: Vec<String>,
    /// The `PHONE` field's values as they are (`value` + `enum_code`), to send back with a new one.
    pub phone_values: Vec<Value>,
    pub phone_field_id: Option<u64>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn value_text(v: &Value) -> Option<String> {
    match v.get("value").unwrap_or(v) {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `custom_fields_values` (null when the entity has none).
fn fields(v: &Value) -> Vec<(u64, Option<String>, Vec<Value>)> {
    v.get("custom_fields_values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| {
            Some((
                f.get("field_id").and_then(as_u64)?,
                text(f, "field_code"),
                f.get("values").and_then(Value::as_array).cloned().unwrap_or_default(),
            ))
        })
        .collect()
}

impl AmoLead {
    pub fn from_json(v: &Value) -> Option<AmoLead> {
        let embedded = v.get("_embedded");
        let contacts: Vec<(u64, bool)> = embedded
            .and_then(|e| e.get("contacts"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some((
                    c.get("id").and_then(as_u64)?,
                    c.get("is_main").and_then(Value::as_bool).unwrap_or(false),
                ))
            })
            .collect();
        let contact_id = contacts
            .iter()
            .find(|(_, main)| *main)
            .or(contacts.first())
            .map(|(id, _)| *id);
        Some(AmoLead {
            id: v.get("id").and_then(as_u64)?,
            name: text(v, "name"),
            status_id: v.get("status_id").and_then(as_u64).unwrap_or(0),
            pipeline_id: v.get("pipeline_id").and_then(as_u64).unwrap_or(0),
            responsible_user_id: v.get("responsible_user_id").and_then(as_u64),
            price: v.get("price").and_then(as_u64),
            tags: embedded
                .and_then(|e| e.get("tags"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|t| text(t, "name"))
                .collect(),
            fields: fields(v)
                .into_iter()
                .map(|(id, _, values)| (id, values.iter().filter_map(value_text).collect()))
                .collect(),
            contact_id,
            created_at: v.get("created_at").and_then(as_u64),
            updated_at: v.get("updated_at").and_then(as_u64),
        })
    }

    /// The first value of a field, as text.
    pub fn field(&self, id: u64) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| *f == id)
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }

    /// The channel the lead's client is on, from its tags or its channel field.
    pub fn channel(&self, settings: &AmoCrmSettings) -> ChannelName {
        let c = &settings.channels;
        let by_tag = self.tags.iter().find_map(|t| c.by_tag.get(t));
        let by_field = c.field_id.and_then(|f| self.field(f)).and_then(|v| c.by_value.get(v));
        ChannelName::new(by_tag.or(by_field).map_or("other", String::as_str))
    }

    /// The leadbot lead for this card, or `None` when the bot must not take it (not in a status
    /// the bot takes: a manager works on it already).
    pub fn to_new_lead(&self, contact: Option<&AmoContact>, settings: &AmoCrmSettings) -> Option<NewLead> {
        let p = &settings.pipeline;
        if self.pipeline_id != p.id || !p.take_statuses.contains(&self.status_id) {
            return None;
        }
        Some(NewLead {
            source: SOURCE.into(),
            external_id: self.id.to_string(),
            channel: self.channel(settings),
            name: contact.and_then(|c| c.name.clone()).or_else(|| self.name.clone()),
            phone: contact.and_then(|c| c.phones.first().cloned()),
            text: None,
            segment: None,
            first_event: None,
            creation_key: None,
        })
    }
}

impl AmoContact {
    pub fn from_json(v: &Value) -> Option<AmoContact> {
        let phone = fields(v)
            .into_iter()
            .find(|(_, code, _)| code.as_deref() == Some("PHONE"));
        let name = text(v, "name").or_else(|| {
            let full = [text(v, "first_name"), text(v, "last_name")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            Some(full).filter(|n| !n.is_empty())
        });
        let (phone_field_id, phone_values) = match phone {
            Some((id, _, values)) => (Some(id), values),
            None => (None, vec![]),
        };
        Some(AmoContact {
            id: v.get("id").and_then(as_u64)?,
            name,
            phones: phone_values.iter().filter_map(value_text).collect(),
            phone_values,
            phone_field_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_lead_with_its_contacts_and_tags() {
        let v = json!({
            "id": 32966269, "name": "Заявка с сайта", "status_id": 76789230, "pipeline_id": 9621010,
            "responsible_user_id": 10000698, "price": 999, "custom_fields_values": null,
            "_embedded": {"tags": [{"id": 1, "name": "telegram"}],
                          "contacts": [{"id": 5, "is_main": false}, {"id": 7, "is_main": true}]}
        });
        let lead = AmoLead::from_json(&v).unwrap();
        assert_eq!(lead.contact_id, Some(7));
        assert_eq!(lead.tags, ["telegram"]);
        assert_eq!(lead.price, Some(999));
        assert!(lead.fields.is_empty());
    }

    #[test]
    fn reads_the_phone_of_a_contact() {
        let v = json!({
            "id": 37054081, "name": "Абиба абибович",
            "custom_fields_values": [
                {"field_id": 735647, "field_code": "POSITION", "values": [{"value": "555"}]},
                {"field_id": 735649, "field_code": "PHONE", "values": [{"value": "+7 916 123-45-67", "enum_code": "WORK"}]}
            ]
        });
        let c = AmoContact::from_json(&v).unwrap();
        assert_eq!(c.phones, ["+7 916 123-45-67"]);
        assert_eq!(c.phone_field_id, Some(735649));
    }
}
