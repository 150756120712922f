//! Bitrix24 event bodies, form-encoded (outgoing webhooks, application events).
#![no_main]

use leadbot::crm::bitrix24::Event;
use leadbot_fuzz::check_event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check_event("application/x-www-form-urlencoded", data);
    // Every content type that is not JSON is read as a form.
    let plain = Event::parse("application/x-www-form-urlencoded", data);
    assert_eq!(Event::parse("", data), plain);
    assert_eq!(
        Event::parse("application/x-www-form-urlencoded; charset=utf-8", data),
        plain
    );
});
