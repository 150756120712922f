//! amoCRM in: the webhook body is parsed and verified (`webhook.rs`), every entity in it stored
//! as its own event before the POST is answered; a worker (`ingest.rs`) processes stored events
//! and hands leads and chat messages to the intake port; leads entering the dispatch status go
//! to the job board (`deals.rs`); `reconcile.rs` finds leads whose webhook was lost.

mod deals;
mod ingest;
mod reconcile;
mod robots;
mod webhook;

use std::sync::Arc;

use serde_json::json;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::AmoCrmAccount;
use crate::crm::DealDispatch;
use crate::domain::secret::constant_time_eq;
use crate::intake::Intake;
use crate::store::{Store, StoreError};
pub use reconcile::reconcile_once;
pub use webhook::{AuthError, Entity, Webhook, WebhookError};

/// Most entities one body may carry (for the fuzz target's assertion).
pub fn webhook_max_entities() -> usize {
    webhook::MAX_ENTITIES
}

/// The adapter's name in `crm_events` and `crm_chat_links`.
pub const CRM: &str = "amocrm";

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("{0}")]
    Auth(AuthError),
    #[error("storing the event: {0}")]
    Store(#[from] StoreError),
}

/// What one webhook body brought.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    pub stored: usize,
    pub duplicates: usize,
}

/// The inbound side of one account: the webhook's receiver and the workers behind it.
pub struct AmoInbound {
    pub acc: Arc<AmoCrmAccount>,
    intake: Intake,
    /// Leads leadbot already has (our own updates echo back as webhooks).
    leads: Arc<dyn Store>,
    deals: Option<Arc<dyn DealDispatch>>,
    /// The SLA robots' feed, when robots.toml maps this account.
    robots: Option<crate::crm::robots::RobotFeed>,
    /// The account's lead fields that amoCRM requires in some statuses, read at most every
    /// few minutes (see robots::required_fields).
    required: tokio::sync::Mutex<Option<robots::RequiredFields>>,
    wake: Notify,
}

impl AmoInbound {
    pub fn new(
        acc: Arc<AmoCrmAccount>,
        intake: Intake,
        leads: Arc<dyn Store>,
        deals: Option<Arc<dyn DealDispatch>>,
        robots: Option<crate::crm::robots::RobotFeed>,
    ) -> Arc<AmoInbound> {
        Arc::new(AmoInbound {
            acc,
            intake,
            leads,
            deals,
            robots,
            required: tokio::sync::Mutex::new(None),
            wake: Notify::new(),
        })
    }

    /// Checks the URL's secret (constant time) and the body's account; nothing is stored on
    /// either failing.
    pub fn verify(&self, secret: &str, hook: &Webhook) -> Result<(), AuthError> {
        let s = &self.acc.settings;
        let expected = s.webhook_secret.as_deref().ok_or(AuthError::WrongSecret)?;
        if !constant_time_eq(secret.as_bytes(), expected.as_bytes()) {
            return Err(AuthError::WrongSecret);
        }
        hook.verify_account(s.account_id, &s.subdomain)
    }

    /// Verifies the webhook and stores each of its entities as an event (the caller answers
    /// 200 right after).
    pub async fn receive(&self, secret: &str, hook: &Webhook) -> Result<Received, ReceiveError> {
        self.verify(secret, hook).map_err(ReceiveError::Auth)?;
        let mut got = Received::default();
        for entity in &hook.entities {
            let stored = self
                .acc
                .store
                .store_event(
                    CRM,
                    &entity.name(),
                    entity.id().unwrap_or(""),
                    &entity.dedupe_key(),
                    &json!(entity.fields),
                )
                .await?;
            if stored {
                got.stored += 1;
            } else {
                got.duplicates += 1;
            }
        }
        if got.stored > 0 {
            self.wake.notify_one();
        }
        Ok(got)
    }

    /// Starts the event worker, the reconciliation poller and (OAuth) the token refresher.
    pub fn spawn_workers(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![
            tokio::spawn(ingest::run(self.clone())),
            tokio::spawn(reconcile::run(self.clone())),
        ];
        if let Some(feed) = &self.robots {
            tasks.push(tokio::spawn(robots::run_call_poll(
                self.clone(),
                feed.clone(),
                self.acc.settings.reconcile_every,
            )));
        }
        if let Some(tokens) = &self.acc.tokens {
            tasks.push(tokio::spawn(super::api::run_refresher(
                tokens.clone(),
                self.acc.client.http().clone(),
                std::time::Duration::from_secs(600),
            )));
        }
        tasks
    }
}
