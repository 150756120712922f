//! Logging and metrics setup; every metric name in one place.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub const LEADS_CREATED: &str = "leadbot_leads_created_total";
pub const LEAD_OUTCOMES: &str = "leadbot_lead_outcomes_total";
pub const ACTORS_ACTIVE: &str = "leadbot_lead_actors_active";
pub const LEADS_PASSIVATED: &str = "leadbot_leads_passivated";
pub const PASSIVATIONS: &str = "leadbot_lead_passivations_total";
pub const ACTOR_RESTARTS: &str = "leadbot_lead_actor_restarts_total";
pub const LEADS_PARKED: &str = "leadbot_leads_parked_total";
pub const MESSAGE_HANDLING: &str = "leadbot_message_handling_seconds";
pub const FIRST_REPLY: &str = "leadbot_time_to_first_reply_seconds";
pub const TIME_TO_PHONE: &str = "leadbot_time_to_phone_seconds";
pub const INBOX_LAG: &str = "leadbot_inbox_lag_seconds";
pub const INBOX_OLDEST_UNAPPLIED: &str = "leadbot_inbox_oldest_unapplied_seconds";
pub const OUTBOX_PENDING: &str = "leadbot_outbox_pending";
/// Outbox rows given up after their last attempt (`GET /api/v1/outbox?status=failed`).
pub const OUTBOX_FAILED: &str = "leadbot_outbox_failed";
pub const OUTBOX_DELIVERIES: &str = "leadbot_outbox_deliveries_total";
/// Per delivery actor (channel, CRM, notifier): rows waiting in it, and 1 while it is up.
pub const SINK_QUEUED: &str = "leadbot_delivery_queued";
pub const SINK_UP: &str = "leadbot_delivery_up";
pub const TIMER_LAG: &str = "leadbot_timer_lag_seconds";
pub const WRITE_BATCH_SIZE: &str = "leadbot_write_batch_size";
pub const ASSIGNMENTS: &str = "leadbot_assignments_total";
pub const REASSIGNMENTS: &str = "leadbot_reassignments_total";
pub const MANAGER_ACTIVE: &str = "leadbot_manager_active_leads";
pub const MANAGER_CAPACITY: &str = "leadbot_manager_capacity";
pub const MANAGER_ELIGIBLE: &str = "leadbot_manager_eligible";
pub const QUEUE_LENGTH: &str = "leadbot_routing_queue_length";
pub const QUEUE_WAIT: &str = "leadbot_routing_queue_wait_seconds";
pub const HTTP_REQUESTS: &str = "leadbot_http_requests_total";
pub const CRM_REQUESTS: &str = "leadbot_crm_requests_total";
pub const CRM_REQUEST_SECONDS: &str = "leadbot_crm_request_seconds";
pub const CRM_LIMITER_WAIT: &str = "leadbot_crm_limiter_wait_seconds";
pub const CRM_RECONCILED: &str = "leadbot_crm_reconciliation_catches_total";
pub const CRM_EVENTS: &str = "leadbot_crm_events_total";
/// Webhook and API requests refused before anything was stored, by door and a fixed reason.
pub const REQUESTS_REFUSED: &str = "leadbot_requests_refused_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Counts a refused request (a forged webhook, a malformed body) and logs it — at most once a
/// second per door and reason, with how many were not logged, so a flood of forged requests
/// cannot flood the log or grow `/metrics` (both labels come from fixed sets).
pub fn refused(door: &'static str, reason: &'static str) {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    /// Per (door, reason): when it was last logged, and how many were not logged since.
    type Last = HashMap<(&'static str, &'static str), (Instant, u64)>;
    static LAST: OnceLock<Mutex<Last>> = OnceLock::new();
    metrics::counter!(REQUESTS_REFUSED, "door" => door, "reason" => reason).increment(1);
    let mut last = LAST
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    let entry = last.entry((door, reason)).or_insert((now - Duration::from_secs(2), 0));
    if now.duration_since(entry.0) >= Duration::from_secs(1) {
        tracing::warn!(door, reason, suppressed = entry.1, "request refused");
        *entry = (now, 0);
    } else {
        entry.1 += 1;
    }
}

/// The process-wide Prometheus recorder (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .expect("static bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding); then ours only renders itself.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// `RUST_LOG`-style filtering, `info` by default.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Colours only for a person at a terminal: journald, files and pipes get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .try_init();
}
