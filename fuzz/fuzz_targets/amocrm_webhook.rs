//! amoCRM webhook bodies (form-encoded, bracket keys, many entities per body): never a panic,
//! every entity storable, and the parse is the same whatever is around it.
#![no_main]

use leadbot::crm::amocrm::Webhook;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(hook) = Webhook::parse(data) {
        assert!(hook.entities.len() <= leadbot::crm::amocrm::inbound::webhook_max_entities());
        for e in &hook.entities {
            // Stored as JSON text: no NUL may survive (PostgreSQL refuses it).
            assert!(!e.name().contains('\0'));
            for (k, v) in &e.fields {
                assert!(!k.contains('\0') && !v.contains('\0'));
            }
            let _ = e.dedupe_key();
            let _ = e.label();
        }
        let _ = hook.verify_account(32427762, "etesttask");
    }
});
