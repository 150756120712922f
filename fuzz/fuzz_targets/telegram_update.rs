//! Telegram webhook bodies: bytes → JSON (as the webhook does) → `update::parse`.
#![no_main]

use leadbot::channels::telegram::update::{parse, Update};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let first = parse(&v);
    assert_eq!(first, parse(&v), "parse is deterministic");
    // The same update re-serialized means the same thing (ids and strings survive JSON).
    let reparsed: Value = serde_json::from_str(&v.to_string()).expect("a Value re-parses");
    assert_eq!(parse(&reparsed), first);

    let Some((update_id, update)) = first else {
        // Only a known kind with missing parts is refused once the update has its id.
        if v.get("update_id").and_then(Value::as_i64).is_some() {
            assert!(["message", "callback_query", "my_chat_member"]
                .iter()
                .any(|k| v.get(k).is_some()));
        }
        return;
    };
    assert_eq!(v.get("update_id").and_then(Value::as_i64), Some(update_id));
    // Every string it carries is storable (PostgreSQL refuses NUL in text).
    let strings: Vec<&str> = match &update {
        Update::Private {
            from, text, contact, ..
        } => [Some(&from.name), from.username.as_ref(), text.as_ref()]
            .into_iter()
            .flatten()
            .chain(contact.as_ref().map(|c| &c.phone))
            .map(String::as_str)
            .collect(),
        Update::Callback { id, from, data, .. } => [Some(id), Some(&from.name), from.username.as_ref(), Some(data)]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect(),
        Update::Blocked { .. } | Update::Other => vec![],
    };
    assert!(strings.iter().all(|s| !s.contains('\0')), "{update:?}");
    match update {
        Update::Private {
            chat_id, from, contact, ..
        } => {
            let m = &v["message"];
            assert_eq!(m.pointer("/chat/type").and_then(Value::as_str), Some("private"));
            assert_eq!(m.pointer("/chat/id").and_then(Value::as_i64), Some(chat_id));
            assert_eq!(m.pointer("/from/id").and_then(Value::as_i64), Some(from.id));
            assert_eq!(from.name, from.name.trim());
            if let Some(c) = contact {
                // Only the sender's own, not forwarded, contact is verified.
                if c.own {
                    assert_eq!(m.pointer("/contact/user_id").and_then(Value::as_i64), Some(from.id));
                    assert!(m.get("forward_origin").is_none() && m.get("forward_from").is_none());
                }
            }
        }
        Update::Callback { from, .. } => {
            assert!(v.get("message").is_none());
            assert_eq!(
                v.pointer("/callback_query/from/id").and_then(Value::as_i64),
                Some(from.id)
            );
        }
        Update::Blocked { chat_id } => {
            assert_eq!(
                v.pointer("/my_chat_member/chat/id").and_then(Value::as_i64),
                Some(chat_id)
            );
            assert_eq!(
                v.pointer("/my_chat_member/new_chat_member/status")
                    .and_then(Value::as_str),
                Some("kicked")
            );
        }
        Update::Other => {}
    }
});
