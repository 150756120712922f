//! A Bitrix24 lead card as `crm.lead.get` / `crm.lead.list` return it, read leniently (ids as
//! strings or numbers, multifields present only when set), and what leadbot makes of it.

use serde_json::Value;

use super::api::as_u64;
use crate::config::Bitrix24Settings;
use crate::domain::{ChannelName, NewLead};

/// The lead source leadbot records for Bitrix24 leads.
pub const SOURCE: &str = "bitrix24";
/// The channel of a lead whose client writes in a Bitrix24 open line.
pub const OPENLINES_CHANNEL: &str = "openlines";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub id: u64,
    pub status_id: String,
    pub name: Option<String>,
    /// `PHONE` multifield values.
    pub phones: Vec<String>,
    /// `imol|connector|line|chat|user` when the lead came from an open line.
    pub openline: Option<String>,
    pub source_id: Option<String>,
    pub comments: Option<String>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Card {
    pub fn from_json(v: &Value) -> Option<Card> {
        let id = v.get("ID").and_then(as_u64)?;
        let multi = |key: &str| -> Vec<(String, String)> {
            v.get(key)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| {
                            Some((
                                i.get("VALUE_TYPE").and_then(Value::as_str).unwrap_or("").to_string(),
                                i.get("VALUE").and_then(Value::as_str)?.to_string(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let name = [text(v, "NAME"), text(v, "LAST_NAME")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Some(Card {
            id,
            status_id: text(v, "STATUS_ID").unwrap_or_default(),
            name: Some(name).filter(|n| !n.is_empty()),
            phones: multi("PHONE").into_iter().map(|(_, value)| value).collect(),
            openline: multi("IM")
                .into_iter()
                .find(|(kind, value)| kind == "OPENLINE" || value.starts_with("imol|"))
                .map(|(_, value)| value),
            source_id: text(v, "SOURCE_ID"),
            comments: text(v, "COMMENTS"),
        })
    }

    /// The leadbot lead for this card, or `None` when the bot must not take it (its status is
    /// not one the bot takes: a manager already works on it).
    pub fn to_new_lead(&self, settings: &Bitrix24Settings, openlines_bot: bool) -> Option<NewLead> {
        if !settings.take_statuses.iter().any(|s| s == &self.status_id) {
            return None;
        }
        let channel = match (&self.openline, openlines_bot) {
            (Some(_), true) => ChannelName::new(OPENLINES_CHANNEL),
            _ => ChannelName::new(
                self.source_id
                    .as_ref()
                    .and_then(|s| settings.channels.get(s))
                    .map_or("other", String::as_str),
            ),
        };
        Some(NewLead {
            source: SOURCE.into(),
            external_id: self.id.to_string(),
            channel,
            name: self.name.clone(),
            phone: self.phones.first().cloned(),
            text: self.comments.clone(),
            segment: None,
            first_event: None,
            creation_key: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_crm_lead_get_answer() {
        let body: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/bitrix24/crm.lead.get-response.json"
        ))
        .unwrap();
        let card = Card::from_json(&body["result"]).unwrap();
        assert_eq!(card.id, 123);
        assert_eq!(card.status_id, "IN_PROCESS");
        assert_eq!(card.phones, ["+15454777777"]);
        assert_eq!(card.openline.as_deref(), Some("imol|livechat|1|67|21"));
        assert_eq!(card.name, None, "NAME is empty in the sample");
    }

    #[test]
    fn reads_list_items() {
        let body: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/bitrix24/crm.lead.list-response.json"
        ))
        .unwrap();
        let cards: Vec<Card> = body["result"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Card::from_json)
            .collect();
        assert!(!cards.is_empty());
        assert_eq!(cards[0].name.as_deref(), Some("Erasmus Golden of Ireland"));
    }
}
