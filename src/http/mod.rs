//! The HTTP surface: lead intake, client messages, the operator API, the web chat page,
//! health and metrics.

pub mod auth;
mod channels;
mod chat;
mod chat_tokens;
pub mod console;
mod deals;
mod error;
mod health;
mod leads;
mod managers;
mod openapi;
mod reports;
mod webhooks;
mod widget;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use ractor::ActorRef;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::actors::{DeliveryHandle, PoolMsg, SupervisorMsg};
use crate::channels::avito::AvitoInbound;
use crate::channels::instagram::InstagramInbound;
use crate::channels::sms::SmsCallbacks;
use crate::channels::telegram::TelegramInbound;
use crate::channels::vk::VkInbound;
use crate::channels::voice::VoiceWebhooks;
use crate::channels::whatsapp::WhatsAppInbound;
use crate::crm::amocrm::AmoInbound;
use crate::crm::bitrix24::Bitrix24Inbound;
use crate::intake::Intake;
use crate::jobs::JobBoard;
use crate::store::{Store, UserStore};

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
    /// Leads' chat tokens, remembered (client messages check one each).
    pub chat_tokens: Arc<chat_tokens::ChatTokens>,
    /// The operator's view of lead actors (inspect, restart).
    pub supervisor: ActorRef<SupervisorMsg>,
    pub pool: ActorRef<PoolMsg>,
    /// The operator's view of the delivery actors (health, restart).
    pub delivery: Arc<DeliveryHandle>,
    pub metrics: PrometheusHandle,
    pub max_text_chars: usize,
    pub operator_token: Option<Arc<str>>,
    /// Console users, sessions and API tokens.
    pub users: Arc<dyn UserStore>,
    /// Which departments (routing groups) each manager is in, for the head's view.
    pub departments: Arc<auth::Departments>,
    /// Session cookies get `Secure` (the console is served over HTTPS).
    pub secure_cookies: bool,
    pub console: Arc<console::ConsoleSettings>,
    /// `/widget.js` with the `[widget]` branding in it.
    pub widget_script: Arc<String>,
    /// Site origins allowed to call the chat API (CORS).
    pub widget_origins: Arc<Vec<String>>,
    pub bitrix24: Option<Arc<Bitrix24Inbound>>,
    pub amocrm: Option<Arc<AmoInbound>>,
    pub telegram: Option<Arc<TelegramInbound>>,
    pub vk: Option<Arc<VkInbound>>,
    pub whatsapp: Option<Arc<WhatsAppInbound>>,
    pub instagram: Option<Arc<InstagramInbound>>,
    pub sms: Option<Arc<SmsCallbacks>>,
    pub avito: Option<Arc<AvitoInbound>>,
    pub voice: Option<Arc<VoiceWebhooks>>,
    pub jobs: Option<Arc<JobBoard>>,
    /// The job board's rows (the console lists them).
    pub job_store: Arc<dyn crate::store::JobStore>,
    /// The reports for the head of sales (on demand; the same as the scheduled ones).
    pub reports: Arc<crate::actors::reports::ReportService>,
}

pub fn router(state: AppState) -> Router {
    let cors = widget::cors(&state.widget_origins);
    let (router, doc) = api_router(state.clone()).split_for_parts();
    let doc = std::sync::Arc::new(doc);
    let app = router
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .merge(console::router())
        .route_layer(axum::middleware::from_fn(track))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(access_span)
                .on_request(())
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO))
                .on_failure(()),
        )
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            tower_http::request_id::MakeRequestUuid,
        ))
        .with_state(state);
    // Outermost, so a site's preflight is answered before routing.
    match cors {
        Some(cors) => app.layer(cors),
        None => app,
    }
}

/// The access log: a span per request with its id (`X-Request-Id`, taken from the client or
/// made here, and sent back), the method and the matched route's pattern — never the path,
/// whose segments can be secrets (`/webhooks/amocrm/{secret}`) — and one line per answer with
/// its status and latency.
fn access_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str());
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("http", method = %req.method(), route, request_id = id)
}

/// Counts every answered request and its duration by matched route (a bounded label: the
/// route's pattern, never the request's path with its ids and secrets).
async fn track(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let started = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    // A client may send any method token: only the standard ones become label values.
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(crate::telemetry::HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!(crate::telemetry::HTTP_REQUEST_SECONDS, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `/widget.js` for these settings.
pub fn widget_script(settings: &crate::config::WidgetSettings) -> String {
    widget::script(settings)
}

/// The OpenAPI document alone (tests, tooling).
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    openapi::ApiDoc::openapi()
}

/// Every route with its documentation: one list for both.
fn api_router(state: AppState) -> OpenApiRouter<AppState> {
    use utoipa::OpenApi;
    // Settings-level operations: the admin's alone (spec 004).
    let admin = OpenApiRouter::new()
        .routes(routes!(deals::dispatch_deal))
        .routes(routes!(channels::list))
        .routes(routes!(channels::restart))
        .routes(routes!(channels::outbox))
        .routes(routes!(channels::retry))
        .route_layer(axum::middleware::from_fn(auth::require_admin));
    let operator = OpenApiRouter::new()
        .routes(routes!(leads::list))
        .routes(routes!(leads::get_one))
        .routes(routes!(leads::restart))
        .routes(routes!(leads::accept))
        .routes(routes!(leads::close))
        .routes(routes!(managers::list))
        .routes(routes!(leads::telegram_link))
        .routes(routes!(managers::pause))
        .routes(routes!(managers::unpause))
        .routes(routes!(managers::absence))
        .routes(routes!(reports::get_report))
        .merge(admin)
        .route_layer(axum::middleware::from_fn_with_state(state, auth::require_operator));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(leads::create))
        .routes(routes!(leads::post_message))
        .routes(routes!(leads::transcript))
        .routes(routes!(chat::page))
        .routes(routes!(widget::widget_js))
        .routes(routes!(widget::events))
        .routes(routes!(webhooks::bitrix24))
        .routes(routes!(webhooks::amocrm))
        .routes(routes!(webhooks::telegram))
        .routes(routes!(webhooks::vk))
        .routes(routes!(webhooks::whatsapp_verify, webhooks::whatsapp))
        .routes(routes!(webhooks::instagram_verify, webhooks::instagram))
        .routes(routes!(webhooks::sms))
        .routes(routes!(webhooks::avito))
        .routes(routes!(webhooks::voice_twilio))
        .routes(routes!(webhooks::voice_zvonobot_get, webhooks::voice_zvonobot))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .merge(operator)
}
