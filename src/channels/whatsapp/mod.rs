//! WhatsApp Business Cloud API: the Meta webhook (`hub.challenge`, `X-Hub-Signature-256` over
//! the raw body), messages deduplicated on their `wamid`, replies through the Graph API with the
//! outbox row in `biz_opaque_callback_data` (so a later `failed` status marks that row), free-form
//! text inside the 24 h window and the configured template outside it (131047).
//!
//! - the Graph client and the webhook checks: `channels/meta`;
//! - `inbound.rs`: webhook bodies → the intake port; statuses → the outbox row;
//! - `outbound.rs`: the [`Channel`](crate::channels::Channel) impl;
//! - storage: [`ChatStore`] under `whatsapp:<phone_number_id>` (wa_id ↔ lead).

mod inbound;
mod outbound;

use std::sync::Arc;

use crate::channels::meta::GraphApi;
use crate::config::WhatsAppSettings;
use crate::store::ChatStore;
pub use inbound::{WaReject, WhatsAppInbound};

pub const CHANNEL: &str = "whatsapp";

pub struct WhatsApp {
    pub settings: WhatsAppSettings,
    pub api: GraphApi,
    pub chats: Arc<dyn ChatStore>,
}

impl WhatsApp {
    pub fn new(settings: WhatsAppSettings, chats: Arc<dyn ChatStore>) -> Result<Arc<WhatsApp>, reqwest::Error> {
        let token = settings.token.clone().unwrap_or_default();
        let api = GraphApi::new(&settings.api_base, &settings.api_version, &token)?;
        Ok(Arc::new(WhatsApp { settings, api, chats }))
    }

    /// The name this number's chats are kept under.
    pub fn bot(&self) -> String {
        format!("whatsapp:{}", self.settings.phone_number_id)
    }
}
