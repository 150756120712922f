//! The HTTP surface: lead intake, client messages, the operator API, the web chat page,
//! health and metrics.

mod auth;
mod channels;
mod chat;
mod deals;
mod error;
mod health;
mod leads;
mod managers;
mod webhooks;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use ractor::ActorRef;

use crate::actors::{DeliveryHandle, PoolMsg, SupervisorMsg};
use crate::channels::telegram::TelegramInbound;
use crate::crm::amocrm::AmoInbound;
use crate::crm::bitrix24::Bitrix24Inbound;
use crate::intake::Intake;
use crate::jobs::JobBoard;
use crate::store::Store;

pub use error::ApiError;
/// The API's request bodies (read by the fuzz targets in `fuzz/`).
pub use leads::{CreateLead, PostMessage};

/// Request bodies above this are refused before parsing (texts are limited separately).
const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    /// Reads for the API (leads, transcripts, timers); writes go through `intake`.
    pub store: Arc<dyn Store>,
    /// The one way a request reaches a lead.
    pub intake: Intake,
    /// The operator's view of lead actors (inspect, restart).
    pub supervisor: ActorRef<SupervisorMsg>,
    pub pool: ActorRef<PoolMsg>,
    /// The operator's view of the delivery actors (health, restart).
    pub delivery: Arc<DeliveryHandle>,
    pub metrics: PrometheusHandle,
    pub max_text_chars: usize,
    pub operator_token: Option<Arc<str>>,
    pub bitrix24: Option<Arc<Bitrix24Inbound>>,
    pub amocrm: Option<Arc<AmoInbound>>,
    pub telegram: Option<Arc<TelegramInbound>>,
    pub jobs: Option<Arc<JobBoard>>,
}

pub fn router(state: AppState) -> Router {
    let operator = Router::new()
        .route("/api/v1/leads", get(leads::list))
        .route("/api/v1/leads/{id}", get(leads::get_one))
        .route("/api/v1/leads/{id}/restart", post(leads::restart))
        .route("/api/v1/leads/{id}/accept", post(leads::accept))
        .route("/api/v1/leads/{id}/close", post(leads::close))
        .route("/api/v1/managers", get(managers::list))
        .route("/api/v1/deals/{id}/dispatch", post(deals::dispatch_deal))
        .route("/api/v1/leads/{id}/telegram-link", post(leads::telegram_link))
        .route("/api/v1/managers/{id}/pause", post(managers::pause))
        .route("/api/v1/managers/{id}/unpause", post(managers::unpause))
        .route("/api/v1/managers/{id}/absence", post(managers::absence))
        .route("/api/v1/channels", get(channels::list))
        .route("/api/v1/channels/{name}/restart", post(channels::restart))
        .route("/api/v1/outbox", get(channels::outbox))
        .route("/api/v1/outbox/{id}/retry", post(channels::retry))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_operator,
        ));
    Router::new()
        .route("/api/v1/leads", post(leads::create))
        .route("/api/v1/leads/{id}/messages", post(leads::post_message))
        .route("/api/v1/leads/{id}/transcript", get(leads::transcript))
        .route("/chat", get(chat::page))
        .route("/webhooks/bitrix24", post(webhooks::bitrix24))
        .route("/webhooks/amocrm/{secret}", post(webhooks::amocrm))
        .route("/webhooks/telegram/{bot}", post(webhooks::telegram))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(operator)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
