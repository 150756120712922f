//! The JSON API bodies, read the way the handlers read them (axum's `Json`, which `ApiJson`
//! wraps): `POST /api/v1/leads`, `POST /api/v1/leads/{id}/messages`,
//! `POST /api/v1/deals/{id}/dispatch`.
#![no_main]

use axum::response::IntoResponse;
use axum::Json;
use leadbot::domain::{ChannelName, DealJob, LEAD_ORIGINS};
use leadbot::http::{CreateLead, PostMessage};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

/// Parses like the handler; a refusal is always the client's fault (4xx), never a panic.
fn read<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    match Json::<T>::from_bytes(data) {
        Ok(Json(v)) => Some(v),
        Err(rejection) => {
            let status = rejection.status();
            assert!(status.is_client_error(), "{status}");
            let _ = rejection.body_text();
            assert!(rejection.into_response().status().is_client_error());
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let plain_json = serde_json::from_slice::<serde_json::Value>(data).is_ok();
    if let Some(lead) = read::<CreateLead>(data) {
        assert!(plain_json);
        let origin = ChannelName::parse_origin(&lead.channel);
        assert_eq!(origin.is_ok(), LEAD_ORIGINS.contains(&lead.channel.as_str()));
        let optional = [&lead.name, &lead.phone, &lead.text, &lead.segment];
        let total = lead.source.len()
            + lead.external_id.len()
            + lead.channel.len()
            + optional
                .iter()
                .map(|f| f.as_ref().map_or(0, String::len))
                .sum::<usize>();
        assert!(total <= data.len());
    }
    if let Some(m) = read::<PostMessage>(data) {
        assert!(plain_json);
        // JSON escapes only ever shrink: no field is longer than the body it came in.
        assert!(m.text.len() + m.message_id.map_or(0, |id| id.len()) <= data.len());
    }
    if let Some(deal) = read::<DealJob>(data) {
        assert!(plain_json);
        // A deal is stored as JSON (the job board): it must read back the same.
        let stored = serde_json::to_string(&deal).expect("a DealJob serializes");
        assert_eq!(serde_json::from_str::<DealJob>(&stored).expect("and reads back"), deal);
    }
});
