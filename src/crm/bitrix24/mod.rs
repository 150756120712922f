//! Bitrix24: leads in (events + reconciliation), the bot in the lead's Open Lines chat, results
//! back into the card, deals to the executor job board.
//!
//! - `api/`: the REST client (leaky-bucket limiter, error classes, OAuth tokens);
//! - `inbound/`: event bodies parsed and verified, stored, then processed by a worker that hands
//!   leads and open-line messages to the intake port; reconciliation for lost events;
//! - `outbound/`: the [`Crm`](crate::crm::Crm) impl (the card) and the Open Lines channel;
//! - `card.rs`: a lead card and what leadbot makes of it;
//! - storage: [`CrmStore`].

pub mod api;
pub mod card;
pub mod inbound;
pub mod outbound;

use std::sync::Arc;

use serde_json::json;

use crate::config::{Bitrix24Auth, Bitrix24Settings, CrmMapping};
use crate::store::CrmStore;
pub use api::{Bitrix24Client, Bitrix24Error, Endpoint, TokenStore};
pub use card::{Card, OPENLINES_CHANNEL, SOURCE};
pub use inbound::{AuthError, Bitrix24Inbound, Event, EventError, ReceiveError, Received};
pub use outbound::{Bitrix24Crm, OpenLines};

/// One connected portal: its client, settings and storage (shared by both sides).
pub struct Bitrix24 {
    pub client: Arc<Bitrix24Client>,
    pub settings: Bitrix24Settings,
    pub store: Arc<dyn CrmStore>,
    pub tokens: Option<Arc<TokenStore>>,
}

impl Bitrix24 {
    pub fn new(settings: Bitrix24Settings, store: Arc<dyn CrmStore>) -> Result<Arc<Bitrix24>, Bitrix24Error> {
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
                let tokens = Arc::new(TokenStore::new(
                    store.clone(),
                    &settings.member_id,
                    id,
                    secret,
                    &settings.oauth_server,
                ));
                (Endpoint::OAuth(tokens.clone()), Some(tokens))
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
            store,
            tokens,
        }))
    }

    /// Whether leads from open lines get a dialog inside Bitrix24.
    pub fn openlines_bot(&self) -> bool {
        self.settings.openlines.bot_id.is_some()
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

    /// `check-config --online` for the SLA robots' mapping: every mapped stage exists in the
    /// tracked deal category (`crm.status.list`, `DEAL_STAGE` or `DEAL_STAGE_{category}`) and
    /// every mapped field exists on deals (`crm.deal.fields`). A typo here would otherwise only
    /// show as robots that never fire or actions the portal refuses.
    pub async fn check_robot_mapping(&self, map: &CrmMapping) -> Result<Vec<String>, Bitrix24Error> {
        let category = map.pipeline.as_deref().unwrap_or("0").trim();
        let entity = match category {
            "" | "0" => "DEAL_STAGE".to_string(),
            c => format!("DEAL_STAGE_{c}"),
        };
        let mut problems = vec![];
        if !map.stages.is_empty() {
            let result = self
                .client
                .call(
                    "crm.status.list",
                    json!({"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": entity}}),
                )
                .await?;
            let known: Vec<String> = result
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i.get("STATUS_ID").and_then(|s| s.as_str()).map(str::to_string))
                .collect();
            for (name, id) in &map.stages {
                if !known.contains(id) {
                    problems.push(format!(
                        "crm.bitrix24.stages.{name}: deal category {category} has no stage `{id}` (it has: {})",
                        known.join(", ")
                    ));
                }
            }
        }
        if !map.fields.is_empty() {
            let result = self.client.call("crm.deal.fields", json!({})).await?;
            let known = result.as_object().cloned().unwrap_or_default();
            for (name, id) in &map.fields {
                if !known.contains_key(id) {
                    problems.push(format!("crm.bitrix24.fields.{name}: deals have no field `{id}`"));
                }
            }
        }
        Ok(problems)
    }
}
