//! Invariants shared by the fuzz targets (each target is a thin `fuzz_target!` around these).

use std::collections::BTreeMap;

use leadbot::crm::bitrix24::{AuthError, Event};

/// The token and portal of the real 2018 outgoing-webhook fixture.
pub const TOKEN: &str = "o8kfcne3du24sfvoeahh43uf9oygu2x3";
pub const MEMBER: &str = "1b87798bc2d16c4b7f2a604e0c899a34";

/// What one Bitrix24 event body may flatten to, keys and values together (events.rs refuses
/// more: a 64 KiB body must not become hundreds of MiB of bracket keys).
pub const MAX_FLAT_BYTES: usize = 1 << 20;

/// `Event::parse` on any body, then everything the webhook does with the event.
pub fn check_event(content_type: &str, body: &[u8]) {
    let first = Event::parse(content_type, body);
    assert_eq!(first, Event::parse(content_type, body), "parse is deterministic");
    let Ok(e) = first else { return };

    let raw = e.fields.get("event").expect("an event has its `event` field");
    assert!(!e.name.is_empty());
    assert_eq!(e.name, raw.trim().to_uppercase());
    // Everything is storable: PostgreSQL refuses NUL in text and JSON.
    assert!(e.fields.iter().all(|(k, v)| !k.contains('\0') && !v.contains('\0')));
    let flat: usize = e.fields.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(
        flat <= MAX_FLAT_BYTES,
        "{flat} bytes of fields from a {} byte body",
        body.len()
    );

    // What is stored: every field but the credentials, unchanged.
    let stored = e.stored_fields();
    assert!(
        stored.keys().all(|k| !k.starts_with("auth[")),
        "auth[...] is never stored"
    );
    assert_eq!(
        stored.len(),
        e.fields.keys().filter(|k| !k.starts_with("auth[")).count()
    );
    for (k, v) in &stored {
        assert_eq!(e.get(k), Some(*v));
    }
    let payload = serde_json::to_string(&stored).expect("the stored payload serializes");
    let back: BTreeMap<String, String> = serde_json::from_str(&payload).expect("and reads back");
    assert_eq!(back.len(), stored.len());

    // The dedupe key: stable, prefixed by the event, blind to the auth block (a redelivery
    // with fresh tokens is the same event).
    let key = e.dedupe_key();
    assert_eq!(key, e.dedupe_key());
    assert!(key.starts_with(&format!("{}:", e.name)), "{key}");
    let without_auth = Event {
        name: e.name.clone(),
        fields: e
            .fields
            .iter()
            .filter(|(k, _)| !k.starts_with("auth["))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    assert_eq!(without_auth.dedupe_key(), key);
    assert_eq!(without_auth.verify(TOKEN, MEMBER), Err(AuthError::MissingToken));

    // verify() with a fixed token says exactly why.
    let token = e.get("auth[application_token]");
    let member = e.get("auth[member_id]");
    match e.verify(TOKEN, MEMBER) {
        Ok(()) => assert!(token == Some(TOKEN) && member == Some(MEMBER)),
        Err(AuthError::MissingToken) => assert_eq!(token, None),
        Err(AuthError::WrongToken) => assert!(token.is_some() && token != Some(TOKEN)),
        Err(AuthError::UnknownPortal) => assert!(token == Some(TOKEN) && member != Some(MEMBER)),
    }
    // An empty configured token never matches a non-empty one.
    if token.is_some_and(|t| !t.is_empty()) {
        assert!(e.verify("", MEMBER).is_err());
    }

    // The same fields form-encoded are the same event (JSON and form bodies agree).
    let form = serde_urlencoded::to_string(&e.fields).expect("fields form-encode");
    let again = Event::parse("application/x-www-form-urlencoded", form.as_bytes()).expect("and parse back");
    assert_eq!(again, e);
}
