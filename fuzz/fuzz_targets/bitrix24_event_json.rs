//! Bitrix24 event bodies as JSON (some bot events), flattened to bracket keys.
#![no_main]

use leadbot::crm::bitrix24::Event;
use leadbot_fuzz::check_event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check_event("application/json", data);
    let parsed = Event::parse("application/json", data);
    assert_eq!(Event::parse("application/json; charset=utf-8", data), parsed);
    if serde_json::from_slice::<serde_json::Value>(data).is_err() {
        assert!(parsed.is_err(), "a body that is not JSON is no event");
    }
});
