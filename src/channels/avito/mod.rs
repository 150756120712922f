//! Avito Messenger: the buyers' chats of an Avito account. Webhook deliveries (v3) behind a
//! secret in the URL (Avito documents no signature), each message stored under its own id, our
//! own echoes (`author_id == user_id`) and system messages dropped; replies through
//! `POST /messenger/v1/accounts/{user_id}/chats/{chat_id}/messages` (≤ 1000 characters) with an
//! OAuth2 client-credentials token. Reply-only: the buyer opens the chat; the platform masks
//! phones, so the bot's task here is exactly the phone request.
//!
//! - `api.rs`: the client (token cache, error classes);
//! - `inbound.rs`: deliveries → the intake port;
//! - `outbound.rs`: the [`Channel`](crate::channels::Channel) impl;
//! - storage: [`ChatStore`] under `avito:<user_id>` (chat ↔ lead; Avito's chat ids are strings,
//!   kept as a stable 63-bit digest, and the lead's `external_id` carries the chat id itself).

mod api;
mod inbound;
mod outbound;

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::config::AvitoSettings;
use crate::store::ChatStore;
pub use api::{AvitoApi, AvitoError};
pub use inbound::{AvitoInbound, AvitoReject};

pub const CHANNEL: &str = "avito";

pub struct Avito {
    pub settings: AvitoSettings,
    pub api: AvitoApi,
    pub chats: Arc<dyn ChatStore>,
}

impl Avito {
    pub fn new(settings: AvitoSettings, chats: Arc<dyn ChatStore>) -> Result<Arc<Avito>, reqwest::Error> {
        let api = AvitoApi::new(&settings)?;
        Ok(Arc::new(Avito { settings, api, chats }))
    }

    pub fn bot(&self) -> String {
        format!("avito:{}", self.settings.user_id)
    }

    /// The lead's `external_id` for a chat: `<user_id>:<chat_id>`.
    pub fn external_id(&self, chat_id: &str) -> String {
        format!("{}:{chat_id}", self.settings.user_id)
    }
}

/// The chat store's key of an Avito chat id (a string): a stable 63-bit digest.
pub fn chat_key(chat_id: &str) -> i64 {
    let d = Sha256::digest(chat_id.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(b) & (i64::MAX as u64)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::DeliveryError;

    #[test]
    fn chat_keys_are_stable_and_positive() {
        let a = chat_key("u2i-AbCdEfGhIjKlMnOp");
        assert_eq!(a, chat_key("u2i-AbCdEfGhIjKlMnOp"));
        assert_ne!(a, chat_key("u2i-AbCdEfGhIjKlMnOq"));
        assert!(a >= 0);
    }

    #[test]
    fn errors_are_classified_by_status() {
        let st = |status, retry_after| AvitoError::Status {
            status,
            body: String::new(),
            retry_after,
        };
        assert_eq!(
            st(429, Some(7)).into_delivery(),
            DeliveryError::Throttled(std::time::Duration::from_secs(7))
        );
        assert!(matches!(
            st(403, None).into_delivery(),
            DeliveryError::CannotInitiate(_)
        ));
        assert!(matches!(st(502, None).into_delivery(), DeliveryError::Retryable(_)));
        assert!(matches!(st(400, None).into_delivery(), DeliveryError::Permanent(_)));
    }
}
