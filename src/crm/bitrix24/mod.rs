//! Bitrix24: leads in (events + reconciliation), the bot in the lead's Open Lines chat, results
//! back into the card.

pub mod card;
pub mod client;
mod deals;
pub mod error;
pub mod events;
mod ingest;
mod limiter;
mod oauth;
mod openlines;
mod reconcile;
mod repo;
mod writeback;

use std::sync::Arc;

use ractor::ActorRef;
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::actors::SupervisorMsg;
use crate::config::{Bitrix24Auth, Bitrix24Settings};
use crate::store::Store;
pub use card::{Card, OPENLINES_CHANNEL, SOURCE};
pub use client::{Bitrix24Client, Endpoint};
pub use error::Bitrix24Error;
pub use events::{AuthError, Event, EventError};
pub use oauth::{TokenStore, Tokens};
pub use openlines::OpenLines;
pub use repo::Repo;
pub use writeback::{Bitrix24Crm, Bitrix24Deals};

/// One connected portal.
pub struct Bitrix24 {
    pub client: Arc<Bitrix24Client>,
    pub settings: Bitrix24Settings,
    pub repo: Repo,
    pub tokens: Option<Arc<TokenStore>>,
    /// Wakes the event worker when an event was stored.
    pub wake: Arc<Notify>,
    /// The executor job board, when Telegram's `[jobs]` is configured.
    pub jobs: std::sync::OnceLock<Arc<crate::dispatch::JobBoard>>,
}

/// What happened to an event the webhook received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    Stored,
    Duplicate,
}

impl Bitrix24 {
    pub fn new(settings: Bitrix24Settings, pool: PgPool) -> Result<Arc<Bitrix24>, Bitrix24Error> {
        let (endpoint, tokens) = match settings.auth {
            Bitrix24Auth::Webhook => {
                let url = settings
                    .webhook_url
                    .clone()
                    .ok_or_else(|| Bitrix24Error::OAuth("LEADBOT_BITRIX24_WEBHOOK_URL is not set".into()))?;
                (Endpoint::Webhook(url), None)
            }
            Bitrix24Auth::Oauth => {
                let (Some(id), Some(secret)) = (&settings.client_id, &settings.client_secret) else {
                    return Err(Bitrix24Error::OAuth("client id/secret are not set".into()));
                };
                let store = Arc::new(TokenStore::new(
                    pool.clone(),
                    &settings.member_id,
                    id,
                    secret,
                    &settings.oauth_server,
                ));
                (Endpoint::OAuth(store.clone()), Some(store))
            }
        };
        let client = Bitrix24Client::new(
            endpoint,
            &settings.portal,
            settings.limits.rate_per_sec,
            settings.limits.burst,
        )?;
        Ok(Arc::new(Bitrix24 {
            client: Arc::new(client),
            settings,
            repo: Repo::new(pool),
            tokens,
            wake: Arc::new(Notify::new()),
            jobs: std::sync::OnceLock::new(),
        }))
    }

    /// Whether leads from open lines get a dialog inside Bitrix24.
    pub fn openlines_bot(&self) -> bool {
        self.settings.openlines.bot_id.is_some()
    }

    /// Verifies and stores an event (the caller answers 200 right after).
    pub async fn receive(&self, event: &Event) -> Result<Received, ReceiveError> {
        let token = self
            .settings
            .application_token
            .as_deref()
            .ok_or(ReceiveError::Auth(AuthError::MissingToken))?;
        event
            .verify(token, &self.settings.member_id)
            .map_err(ReceiveError::Auth)?;
        let payload = json!(event.fields);
        let stored = self
            .repo
            .store_event(
                &event.name,
                event.entity_id().unwrap_or(""),
                &event.dedupe_key(),
                &payload,
            )
            .await?;
        if stored {
            self.wake.notify_one();
            Ok(Received::Stored)
        } else {
            Ok(Received::Duplicate)
        }
    }

    /// Starts the event worker and the reconciliation poller.
    pub fn spawn_workers(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        supervisor: ActorRef<SupervisorMsg>,
    ) -> Vec<JoinHandle<()>> {
        vec![
            tokio::spawn(ingest::run(self.clone(), store.clone(), supervisor.clone())),
            tokio::spawn(reconcile::run(self.clone(), store, supervisor)),
        ]
    }

    /// `check-config --online`: the configured status ids exist on the portal.
    pub async fn check_statuses(&self) -> Result<Vec<String>, Bitrix24Error> {
        let result = self
            .client
            .call(
                "crm.status.list",
                json!({"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": "STATUS"}}),
            )
            .await?;
        let known: Vec<String> = result
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.get("STATUS_ID").and_then(|s| s.as_str()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let s = &self.settings.statuses;
        let mut problems = vec![];
        for (key, id) in [
            ("statuses.bot_processing", &s.bot_processing),
            ("statuses.assigned", &s.assigned),
            ("statuses.low_quality", &s.low_quality),
            ("statuses.needs_review", &s.needs_review),
        ]
        .into_iter()
        .chain(self.settings.take_statuses.iter().map(|id| ("take_statuses", id)))
        {
            if !known.contains(id) {
                problems.push(format!(
                    "{key}: the portal has no lead status `{id}` (it has: {})",
                    known.join(", ")
                ));
            }
        }
        Ok(problems)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("{0}")]
    Auth(AuthError),
    #[error("storing the event: {0}")]
    Db(#[from] sqlx::Error),
}
