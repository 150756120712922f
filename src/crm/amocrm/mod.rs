//! amoCRM (Kommo): leads in (webhooks + reconciliation), the bot on the lead's own channel,
//! results back into the card (the phone on the contact, the responsible, the status, a note,
//! a task for the manager), leads entering "Поиск исполнителя" to the executor job board.
//!
//! The same shape as every CRM adapter:
//! - `api/`: the API v4 client (rate limit, the 403 block, OAuth tokens, bulk lead updates);
//! - `inbound/`: webhook bodies parsed and verified, stored, then processed by a worker that
//!   hands leads and chat messages to the intake port; reconciliation for lost webhooks;
//! - `outbound/`: the [`Crm`](crate::crm::Crm) impl (the card and the deals);
//! - `card.rs`: a lead and its contact, and what leadbot makes of them;
//! - storage: [`CrmStore`].

pub mod api;
pub mod card;
pub mod inbound;
pub mod outbound;
pub mod schema;

use std::sync::Arc;

use api::{AmoClient, AmoError, Auth, LeadPatches, TokenStore};
pub use card::{AmoContact, AmoLead, SOURCE};
pub use inbound::{AmoInbound, AuthError, ReceiveError, Webhook};
pub use outbound::AmoCrm;

use crate::config::{AmoCrmAuth, AmoCrmSettings};
use crate::store::CrmStore;

/// One connected account: its client, settings and storage (shared by both sides).
pub struct AmoCrmAccount {
    pub client: Arc<AmoClient>,
    pub settings: AmoCrmSettings,
    pub store: Arc<dyn CrmStore>,
    pub tokens: Option<Arc<TokenStore>>,
    /// Lead updates, coalesced into bulk requests.
    pub patches: LeadPatches,
}

impl AmoCrmAccount {
    /// Builds the account's client; must run inside the runtime (it starts the bulk sender).
    pub fn new(settings: AmoCrmSettings, store: Arc<dyn CrmStore>) -> Result<Arc<AmoCrmAccount>, AmoError> {
        let base = settings.base();
        let (auth, tokens) = match settings.auth {
            AmoCrmAuth::LongLived => {
                let token = settings
                    .token
                    .clone()
                    .ok_or_else(|| AmoError::OAuth("LEADBOT_AMOCRM_TOKEN is not set".into()))?;
                (Auth::LongLived(token), None)
            }
            AmoCrmAuth::Oauth => {
                let (Some(id), Some(secret)) = (&settings.client_id, &settings.client_secret) else {
                    return Err(AmoError::OAuth("client id/secret are not set".into()));
                };
                let tokens = Arc::new(TokenStore::new(
                    store.clone(),
                    &format!("amocrm:{}", settings.account_id),
                    &base,
                    id,
                    secret,
                    settings.redirect_uri.as_deref().unwrap_or(""),
                ));
                (Auth::OAuth(tokens.clone()), Some(tokens))
            }
        };
        let client = Arc::new(AmoClient::new(
            &base,
            auth,
            settings.limits.rate_per_sec,
            settings.limits.block_pause,
        )?);
        Ok(Arc::new(AmoCrmAccount {
            patches: LeadPatches::start(client.clone()),
            client,
            settings,
            store,
            tokens,
        }))
    }

    /// OAuth: exchanges `LEADBOT_AMOCRM_AUTH_CODE` when no grant is stored yet.
    pub async fn authorize_if_needed(&self) -> Result<(), AmoError> {
        let Some(tokens) = &self.tokens else { return Ok(()) };
        if tokens.has_tokens().await? {
            return Ok(());
        }
        match &self.settings.auth_code {
            Some(code) => tokens.authorize(self.client.http(), code).await,
            None => {
                tracing::warn!(
                    "amoCRM OAuth: no tokens stored and no LEADBOT_AMOCRM_AUTH_CODE; calls will fail until it is set"
                );
                Ok(())
            }
        }
    }

    /// `check-config --online`: the configured pipeline, statuses and fields exist.
    pub async fn check_pipelines(&self) -> Result<Vec<String>, AmoError> {
        let pipelines: Vec<(u64, Vec<u64>)> = schema::pipelines(&self.client)
            .await?
            .into_iter()
            .map(|p| (p.id, p.statuses))
            .collect();
        let mut problems = vec![];
        let p = &self.settings.pipeline;
        let mut check =
            |key: &str, pipeline: u64, status: Option<u64>| match pipelines.iter().find(|(id, _)| *id == pipeline) {
                None => problems.push(format!(
                    "{key}: the account has no pipeline {pipeline} (it has: {})",
                    pipelines
                        .iter()
                        .map(|(id, _)| id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                Some((_, statuses)) => {
                    if let Some(status) = status.filter(|s| !statuses.contains(s)) {
                        problems.push(format!(
                            "{key}: pipeline {pipeline} has no status {status} (it has: {})",
                            statuses.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
            };
        check("pipeline.id", p.id, None);
        for (key, status) in [
            ("pipeline.bot_processing", p.bot_processing),
            ("pipeline.assigned", p.assigned),
            ("pipeline.low_quality", p.low_quality),
            ("pipeline.needs_review", p.needs_review),
        ] {
            check(key, p.id, Some(status));
        }
        for s in &p.take_statuses {
            check("pipeline.take_statuses", p.id, Some(*s));
        }
        if let Some(d) = &self.settings.dispatch {
            check("dispatch.status_id", d.pipeline_id, Some(d.status_id));
        }
        let mut wanted: Vec<(String, u64)> = vec![];
        if let Some(f) = self.settings.channels.field_id {
            wanted.push(("channels.field_id".into(), f));
        }
        if let Some(d) = &self.settings.dispatch {
            wanted.extend(
                d.conditions_field_id
                    .map(|f| ("dispatch.conditions_field_id".into(), f)),
            );
            wanted.extend(d.skills_field_id.map(|f| ("dispatch.skills_field_id".into(), f)));
            wanted.extend(d.executor_field_id.map(|f| ("dispatch.executor_field_id".into(), f)));
            wanted.extend(
                d.dates_field_ids
                    .iter()
                    .map(|f| ("dispatch.dates_field_ids".into(), *f)),
            );
        }
        if !wanted.is_empty() {
            let known: Vec<u64> = schema::lead_fields(&self.client).await?.iter().map(|f| f.id).collect();
            for (key, id) in wanted {
                if !known.contains(&id) {
                    problems.push(format!("{key}: the account has no lead field {id}"));
                }
            }
        }
        Ok(problems)
    }

    /// `check-config --online` for the SLA robots' mapping: the tracked pipeline exists, every
    /// mapped stage is one of its statuses and every mapped field is a lead field.
    pub async fn check_robot_mapping(&self, map: &crate::config::CrmMapping) -> Result<Vec<String>, AmoError> {
        let mut problems = vec![];
        if let Some(pipeline) = map.pipeline.as_deref() {
            let Ok(pipeline) = pipeline.trim().parse::<u64>() else {
                return Ok(vec![format!("crm.amocrm.pipeline: `{pipeline}` is not a pipeline id")]);
            };
            let pipelines = schema::pipelines(&self.client).await?;
            match pipelines.iter().find(|p| p.id == pipeline) {
                None => problems.push(format!("crm.amocrm.pipeline: the account has no pipeline {pipeline}")),
                Some(p) => {
                    let statuses = &p.statuses;
                    for (name, id) in &map.stages {
                        let found = id.trim().parse::<u64>().is_ok_and(|id| statuses.contains(&id));
                        if !found {
                            problems.push(format!(
                                "crm.amocrm.stages.{name}: pipeline {pipeline} has no status `{id}` (it has: {})",
                                statuses.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                            ));
                        }
                    }
                }
            }
        }
        if !map.fields.is_empty() {
            let known: Vec<u64> = schema::lead_fields(&self.client).await?.iter().map(|f| f.id).collect();
            for (name, id) in &map.fields {
                let found = id.trim().parse::<u64>().is_ok_and(|id| known.contains(&id));
                if !found {
                    problems.push(format!(
                        "crm.amocrm.fields.{name}: the account has no lead field `{id}`"
                    ));
                }
            }
        }
        Ok(problems)
    }
}
