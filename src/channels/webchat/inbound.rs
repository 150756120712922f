use crate::domain::secret::constant_time_eq;
use crate::domain::{EventKey, LeadId, LeadRecord};

/// The inbox source of web-chat messages.
pub const SOURCE: &str = "api";

/// The client side of a lead proves itself with the lead's chat token (constant time).
pub fn verify_chat_token(lead: &LeadRecord, given: &str) -> bool {
    verify_token(lead.chat_token.as_deref(), given)
}

/// [`verify_chat_token`] against a lead's token known already (`None`: the lead has none).
pub fn verify_token(expected: Option<&str>, given: &str) -> bool {
    match expected {
        Some(expected) => !given.is_empty() && constant_time_eq(given.as_bytes(), expected.as_bytes()),
        None => false,
    }
}

/// The dedupe key of a client's message: its own `message_id` (a retry is stored once), or a
/// random one when the client sent none.
pub fn message_key(lead: LeadId, message_id: Option<&str>) -> EventKey {
    let id = match message_id {
        Some(m) => m.to_string(),
        None => format!("{:032x}", rand::random::<u128>()),
    };
    EventKey::new(SOURCE, format!("{lead}:{id}"))
}
