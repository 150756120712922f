//! The client channels leadbot can talk on, behind one trait. Each declares what it can do.
//!
//! Every channel adapter has the same shape (see docs/architecture.md, "How to add a channel"):
//! `api` (the provider's client), `inbound` (parse + verify → the intake port), `outbound`
//! (the [`Channel`] impl the runtime's delivery actor drives), and its storage through a store
//! trait in `src/store/`. Adapters never see the actor runtime or the web server.

pub mod avito;
pub mod instagram;
pub mod meta;
pub mod sms;
pub mod telegram;
pub mod vk;
pub mod voice;
pub mod webchat;
pub mod whatsapp;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::LeadRecord;
use crate::outbox::{DeliveryError, OutboundMessage};
pub use webchat::WebChat;

pub use crate::domain::capabilities::{Buttons, Capabilities, Initiate, PhoneShare};

#[async_trait]
pub trait Channel: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn capabilities(&self) -> Capabilities;
    /// The client reads the bot's messages from the transcript the lead's step stored (the web
    /// chat page): nothing is left to deliver, so the rows are written delivered and this
    /// channel's [`send`](Self::send) is never called for them.
    fn delivered_by_transcript(&self) -> bool {
        false
    }
    /// Delivers one bot message (already fitted to [`Capabilities`]: its text within
    /// `max_text_len`, buttons only where the channel has them); `idempotency_key` is stable
    /// across retries; `outbox_id` is the row's, for providers that report on a message later
    /// (delivery statuses).
    async fn send(
        &self,
        lead: &LeadRecord,
        msg: &OutboundMessage,
        idempotency_key: &str,
        outbox_id: i64,
    ) -> Result<(), DeliveryError>;
}

#[derive(Clone, Default)]
pub struct Channels {
    by_name: HashMap<&'static str, Arc<dyn Channel>>,
}

impl Channels {
    pub fn with_builtin() -> Channels {
        let mut c = Channels::default();
        c.register(Arc::new(WebChat));
        c
    }

    pub fn register(&mut self, channel: Arc<dyn Channel>) {
        self.by_name.insert(channel.name(), channel);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Channel>> {
        self.by_name.get(name)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Channel>> {
        self.by_name.values()
    }

    /// Whether the bot can hold a dialog with a lead that came from `name`.
    pub fn can_talk(&self, name: &str) -> bool {
        self.get(name).is_some_and(|c| c.capabilities().realtime)
    }

    /// Whether `name`'s messages reach the client through the transcript alone.
    pub fn delivered_by_transcript(&self, name: &str) -> bool {
        self.get(name).is_some_and(|c| c.delivered_by_transcript())
    }

    /// What the channel `name` can do, if leadbot has it.
    pub fn capabilities(&self, name: &str) -> Option<Capabilities> {
        self.get(name).map(|c| c.capabilities())
    }
}
