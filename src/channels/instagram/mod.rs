//! Instagram Direct (Instagram Messaging): the same Meta webhook as WhatsApp (`hub.challenge`,
//! `X-Hub-Signature-256`), messages deduplicated on their `mid`, our own echoes dropped, replies
//! through the Send API within 24 h of the client's last message (the client writes first).
//!
//! - the Graph client and the webhook checks: `channels/meta`;
//! - `inbound.rs`: webhook bodies → the intake port;
//! - `outbound.rs`: the [`Channel`](crate::channels::Channel) impl;
//! - storage: [`ChatStore`] under `instagram:<account_id>` (IGSID ↔ lead).

mod inbound;
mod outbound;

use std::sync::Arc;

use crate::channels::meta::GraphApi;
use crate::config::InstagramSettings;
use crate::store::ChatStore;
pub use inbound::{IgReject, InstagramInbound};

pub const CHANNEL: &str = "instagram";

pub struct Instagram {
    pub settings: InstagramSettings,
    pub api: GraphApi,
    pub chats: Arc<dyn ChatStore>,
}

impl Instagram {
    pub fn new(settings: InstagramSettings, chats: Arc<dyn ChatStore>) -> Result<Arc<Instagram>, reqwest::Error> {
        let token = settings.token.clone().unwrap_or_default();
        let api = GraphApi::new(&settings.api_base, &settings.api_version, &token)?;
        Ok(Arc::new(Instagram { settings, api, chats }))
    }

    pub fn bot(&self) -> String {
        format!("instagram:{}", self.settings.account_id)
    }
}
