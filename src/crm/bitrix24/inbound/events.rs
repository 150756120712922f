//! Bitrix24 event bodies: form-encoded with PHP bracket keys (`data[FIELDS][ID]=365`), or JSON
//! for some bot events. Both become one flat map of bracket keys. Authenticity is the
//! `auth[application_token]` the portal was configured with (there is no signature).
//!
//! Read leniently, but always storable: invalid UTF-8 in a form body and NUL characters
//! anywhere (which PostgreSQL refuses in text and JSON) become U+FFFD.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::domain::secret::constant_time_eq;

/// At most this many bytes of keys and values from one JSON body: nesting repeats every
/// key's prefix, so without a bound a 64 KiB body could flatten to hundreds of MiB.
pub const MAX_FLAT_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Upper-case event code, e.g. `ONCRMLEADADD`.
    pub name: String,
    /// Every field by its bracket key: `data[FIELDS][ID]`, `auth[member_id]`, ...
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("body is not a Bitrix24 event: {0}")]
    Malformed(String),
    #[error("no `event` field")]
    NoEventName,
}

/// The events leadbot acts on; any other name is counted as `other` (metric labels come from a
/// fixed set, never from the request).
pub const KNOWN_EVENTS: &[&str] = &[
    "ONCRMLEADADD",
    "ONCRMLEADUPDATE",
    "ONCRMDEALADD",
    "ONCRMDEALUPDATE",
    "ONCRMDEALMOVETOCATEGORY",
    "ONCRMACTIVITYADD",
    "ONCRMACTIVITYUPDATE",
    "ONIMBOTV2MESSAGEADD",
    "ONIMBOTMESSAGEADD",
    "ONAPPINSTALL",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("auth[application_token] is missing")]
    MissingToken,
    #[error("auth[application_token] does not match")]
    WrongToken,
    #[error("auth[member_id] is not the configured portal")]
    UnknownPortal,
}

impl AuthError {
    pub fn label(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::WrongToken => "wrong_token",
            AuthError::UnknownPortal => "unknown_portal",
        }
    }
}

impl Event {
    /// The event's name as a metric label.
    pub fn label(&self) -> &'static str {
        KNOWN_EVENTS
            .iter()
            .find(|e| **e == self.name)
            .copied()
            .unwrap_or("other")
    }

    pub fn parse(content_type: &str, body: &[u8]) -> Result<Event, EventError> {
        let fields = if content_type.starts_with("application/json") {
            let v: Value = serde_json::from_slice(body).map_err(|e| EventError::Malformed(e.to_string()))?;
            let mut out = BTreeMap::new();
            let mut budget = MAX_FLAT_BYTES;
            flatten("", &v, &mut out, &mut budget)?;
            out
        } else {
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
                .map_err(|e| EventError::Malformed(e.to_string()))?
                .into_iter()
                .map(|(k, v)| (storable(k), storable(v)))
                .collect()
        };
        let name = fields
            .get("event")
            .map(|e| e.trim().to_uppercase())
            .filter(|e| !e.is_empty())
            .ok_or(EventError::NoEventName)?;
        Ok(Event { name, fields })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// `data[FIELDS][ID]`: the CRM entity the event is about.
    pub fn entity_id(&self) -> Option<&str> {
        self.get("data[FIELDS][ID]")
    }

    /// Checks the application token (constant time) and the portal.
    pub fn verify(&self, application_token: &str, member_id: &str) -> Result<(), AuthError> {
        let token = self.get("auth[application_token]").ok_or(AuthError::MissingToken)?;
        if !constant_time_eq(token.as_bytes(), application_token.as_bytes()) {
            return Err(AuthError::WrongToken);
        }
        if self.get("auth[member_id]") != Some(member_id) {
            return Err(AuthError::UnknownPortal);
        }
        Ok(())
    }

    /// The fields worth keeping: everything but `auth[...]` (the application token, OAuth
    /// tokens), which is checked or taken at once and never stored.
    pub fn stored_fields(&self) -> BTreeMap<&str, &str> {
        self.fields
            .iter()
            .filter(|(k, _)| !k.starts_with("auth["))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// A key that is the same when the portal delivers the same event twice.
    pub fn dedupe_key(&self) -> String {
        let message = self
            .get("data[message][id]")
            .or_else(|| self.get("data[PARAMS][MESSAGE_ID]"));
        match message {
            Some(id) => format!("{}:{}", self.name, id),
            None => format!(
                "{}:{}:{}",
                self.name,
                self.entity_id().unwrap_or("-"),
                self.get("ts").unwrap_or("-")
            ),
        }
    }
}

/// NUL can never be stored (PostgreSQL text and JSON refuse it): U+FFFD instead.
fn storable(s: String) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{fffd}")
    } else {
        s
    }
}

/// JSON → bracket keys, the way PHP would have form-encoded it. Every key built and every
/// value kept is paid for from `budget`.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>, budget: &mut usize) -> Result<(), EventError> {
    let mut pay = |n: usize| {
        *budget = budget
            .checked_sub(n)
            .ok_or_else(|| EventError::Malformed(format!("more than {MAX_FLAT_BYTES} bytes of fields")))?;
        Ok::<(), EventError>(())
    };
    pay(prefix.len())?;
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}[{k}]")
        }
    };
    match v {
        Value::Object(map) => map.iter().try_for_each(|(k, v)| flatten(&key(k), v, out, budget)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| flatten(&key(&i.to_string()), v, out, budget)),
        Value::Null => Ok(()),
        leaf => {
            let value = match leaf {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            pay(value.len())?;
            out.insert(storable(prefix.to_string()), storable(value));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW_2018: &str =
        include_str!("../../../../tests/fixtures/bitrix24/raw-ONCRMLEADADD-outgoing-webhook-2018.form.txt");

    #[test]
    fn parses_a_real_outgoing_webhook_body() {
        let e = Event::parse("application/x-www-form-urlencoded", RAW_2018.trim().as_bytes()).unwrap();
        assert_eq!(e.name, "ONCRMLEADADD");
        assert_eq!(e.entity_id(), Some("365"));
        assert_eq!(e.get("auth[domain]"), Some("b24-46hovy.bitrix24.ru"));
        assert!(e
            .verify("o8kfcne3du24sfvoeahh43uf9oygu2x3", "1b87798bc2d16c4b7f2a604e0c899a34")
            .is_ok());
        assert_eq!(
            e.verify("o8kfcne3du24sfvoeahh43uf9oygu2x4", "1b87798bc2d16c4b7f2a604e0c899a34"),
            Err(AuthError::WrongToken)
        );
        assert_eq!(
            e.verify("o8kfcne3du24sfvoeahh43uf9oygu2x3", "other"),
            Err(AuthError::UnknownPortal)
        );
        assert_eq!(e.dedupe_key(), "ONCRMLEADADD:365:1545851621");
    }

    #[test]
    fn json_bodies_become_bracket_keys() {
        let e = Event::parse(
            "application/json",
            br#"{"event":"ONIMBOTV2MESSAGEADD","data":{"chat":{"id":112,"entityType":"LINES"},"message":{"id":"9","text":"hi"}}}"#,
        )
        .unwrap();
        assert_eq!(e.get("data[chat][id]"), Some("112"));
        assert_eq!(e.get("data[message][text]"), Some("hi"));
        assert_eq!(e.dedupe_key(), "ONIMBOTV2MESSAGEADD:9");
    }

    #[test]
    fn nul_becomes_a_replacement_character_in_form_and_json_bodies() {
        let form = Event::parse("application/x-www-form-urlencoded", b"event=X&data%00=a%00b").unwrap();
        assert_eq!(form.get("data\u{fffd}"), Some("a\u{fffd}b"));
        let json = Event::parse("application/json", br#"{"event":"X","d\u0000":{"k":"a\u0000b"}}"#).unwrap();
        assert_eq!(json.get("d\u{fffd}[k]"), Some("a\u{fffd}b"));
    }

    #[test]
    fn a_small_json_body_cannot_flatten_to_a_huge_map() {
        // 40 KiB of key repeated for each of 10 000 items would be 400 MB of bracket keys.
        let body = format!(r#"{{"event":"X","{}":[{}0]}}"#, "k".repeat(40_000), "0,".repeat(10_000));
        assert!(matches!(
            Event::parse("application/json", body.as_bytes()),
            Err(EventError::Malformed(_))
        ));
    }

    #[test]
    fn garbage_is_rejected_with_a_reason() {
        assert_eq!(
            Event::parse("application/x-www-form-urlencoded", b"x=1"),
            Err(EventError::NoEventName)
        );
        assert!(matches!(
            Event::parse("application/json", b"{"),
            Err(EventError::Malformed(_))
        ));
    }
}
