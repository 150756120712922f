//! Bitrix24 lead cards (`crm.lead.get` / `crm.lead.list` items) and what leadbot makes of them.
#![no_main]

use std::sync::OnceLock;

use leadbot::config::Bitrix24Settings;
use leadbot::crm::bitrix24::{Card, OPENLINES_CHANNEL, SOURCE};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fn settings() -> &'static Bitrix24Settings {
    static S: OnceLock<Bitrix24Settings> = OnceLock::new();
    S.get_or_init(|| {
        serde_json::from_value(json!({
            "portal": "b24-46hovy.bitrix24.ru",
            "member_id": leadbot_fuzz::MEMBER,
            "take_statuses": ["NEW", "IN_PROCESS"],
            "statuses": {"bot_processing": "IN_PROCESS", "assigned": "CONVERTED", "low_quality": "JUNK", "needs_review": "NEW"},
            "channels": {"WEB": "webchat", "CALL": "phone"},
        }))
        .expect("test settings")
    })
}

fn check(v: &Value) {
    let card = Card::from_json(v);
    assert_eq!(card, Card::from_json(v), "from_json is deterministic");
    let Some(card) = card else { return };
    let phones = v.get("PHONE").and_then(Value::as_array).map_or(0, Vec::len);
    assert!(card.phones.len() <= phones);
    assert!(card.name.as_ref().is_none_or(|n| !n.is_empty()));
    for open_lines in [false, true] {
        let Some(lead) = card.to_new_lead(settings(), open_lines) else {
            assert!(!settings().take_statuses.contains(&card.status_id));
            continue;
        };
        assert!(settings().take_statuses.contains(&card.status_id));
        assert_eq!(lead.source, SOURCE);
        assert_eq!(lead.external_id, card.id.to_string());
        assert_eq!(lead.phone, card.phones.first().cloned());
        let channel = lead.channel.as_str();
        if open_lines && card.openline.is_some() {
            assert_eq!(channel, OPENLINES_CHANNEL);
        } else {
            assert!(["webchat", "phone", "other"].contains(&channel), "{channel}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // A card itself, `crm.lead.get`'s `result`, or every item of `crm.lead.list`'s.
    check(&v);
    match v.get("result") {
        Some(Value::Array(items)) => items.iter().for_each(check),
        Some(one) => check(one),
        None => {}
    }
});
