//! Bitrix24 in: the webhook body is parsed and verified (`events.rs`) and stored before it is
//! acknowledged; a worker (`ingest.rs`) processes stored events and hands leads and open-line
//! messages to the intake port; deals entering the dispatch stage go to the job board
//! (`deals.rs`); `reconcile.rs` finds leads whose events were lost.

mod deals;
mod events;
mod failure;
mod ingest;
mod reconcile;
mod robots;

use std::sync::Arc;

use serde_json::json;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::Bitrix24;
use crate::crm::DealDispatch;
use crate::intake::Intake;
use crate::store::{Store, StoreError};
pub use events::{AuthError, Event, EventError};
pub use reconcile::reconcile_once;

/// The adapter's name in `crm_events` and `crm_chat_links`.
pub const CRM: &str = "bitrix24";

/// What happened to an event the webhook received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    Stored,
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("{0}")]
    Auth(AuthError),
    #[error("storing the event: {0}")]
    Store(#[from] StoreError),
    /// The install event's tokens could not be taken.
    #[error("install: {0}")]
    Install(String),
}

/// The inbound side of one portal: the webhook's receiver and the workers behind it.
pub struct Bitrix24Inbound {
    pub bx: Arc<Bitrix24>,
    intake: Intake,
    /// Leads leadbot already has (our own updates echo back as events).
    leads: Arc<dyn Store>,
    /// Where deals entering the dispatch stage go (the job board), if it is configured.
    deals: Option<Arc<dyn DealDispatch>>,
    /// The SLA robots' feed, when robots.toml maps this portal.
    robots: Option<crate::crm::robots::RobotFeed>,
    /// Wakes the event worker when an event was stored.
    wake: Notify,
}

impl Bitrix24Inbound {
    pub fn new(
        bx: Arc<Bitrix24>,
        intake: Intake,
        leads: Arc<dyn Store>,
        deals: Option<Arc<dyn DealDispatch>>,
        robots: Option<crate::crm::robots::RobotFeed>,
    ) -> Arc<Bitrix24Inbound> {
        Arc::new(Bitrix24Inbound {
            bx,
            intake,
            leads,
            deals,
            robots,
            wake: Notify::new(),
        })
    }

    /// Verifies and stores an event (the caller answers 200 right after). Credentials are not
    /// stored with it: `auth[...]` keys are dropped once verified.
    pub async fn receive(&self, event: &Event) -> Result<Received, ReceiveError> {
        let settings = &self.bx.settings;
        let token = settings
            .application_token
            .as_deref()
            .ok_or(ReceiveError::Auth(AuthError::MissingToken))?;
        event.verify(token, &settings.member_id).map_err(ReceiveError::Auth)?;
        if event.name == "ONAPPINSTALL" {
            ingest::install(&self.bx, event)
                .await
                .map_err(|e| ReceiveError::Install(e.to_string()))?;
        }
        let payload = json!(event.stored_fields());
        let stored = self
            .bx
            .store
            .store_event(
                CRM,
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
    pub fn spawn_workers(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![
            tokio::spawn(ingest::run(self.clone())),
            tokio::spawn(reconcile::run(self.clone())),
        ];
        if let Some(feed) = &self.robots {
            tasks.push(tokio::spawn(robots::run_deal_reconcile(self.clone(), feed.clone())));
        }
        tasks
    }
}
