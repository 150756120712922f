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
pub const CHANNEL_STATUSES: &str = "leadbot_channel_delivery_statuses_total";
pub const FALLBACK_STEPS: &str = "leadbot_fallback_steps_total";
/// 1 while a CRM has blocked the account (amoCRM's 403 page) and calls are paused.
pub const CRM_BLOCKED: &str = "leadbot_crm_blocked";
/// Webhook and API requests refused before anything was stored, by door and a fixed reason.
pub const REQUESTS_REFUSED: &str = "leadbot_requests_refused_total";
pub const HTTP_REQUEST_SECONDS: &str = "leadbot_http_request_duration_seconds";
pub const BUILD_INFO: &str = "leadbot_build_info";
pub const DEAL_ACTORS_ACTIVE: &str = "leadbot_deal_actors_active";
pub const DEALS_TRACKED: &str = "leadbot_deals_tracked";
pub const SLA_TIMER_LAG: &str = "leadbot_sla_timer_lag_seconds";
pub const SLA_VIOLATIONS: &str = "leadbot_sla_violations_total";
/// Per-channel figures of today's leads (the account's local day), as the reports compute them.
pub const CHANNEL_LEADS: &str = "leadbot_channel_leads";
pub const CHANNEL_PHONE_RATIO: &str = "leadbot_channel_phone_ratio";
pub const CHANNEL_HANDED_RATIO: &str = "leadbot_channel_handed_ratio";
pub const CHANNEL_TIME_TO_PHONE: &str = "leadbot_channel_time_to_phone_median_seconds";
pub const CHANNEL_REPLY_SLA_RATIO: &str = "leadbot_channel_reply_sla_ratio";
pub const CHANNEL_REPLY_P95: &str = "leadbot_channel_reply_p95_seconds";
pub const REPORTS_QUEUED: &str = "leadbot_reports_queued_total";
pub const BOOKINGS: &str = "leadbot_bookings_total";
pub const CSAT_SCORES: &str = "leadbot_csat_scores_total";
pub const CSAT_SUM: &str = "leadbot_csat_score_sum_total";
pub const LLM_INTENT_SECONDS: &str = "leadbot_llm_intent_duration_seconds";

/// What kind of value a family holds, for its `# TYPE` and its buckets.
#[derive(Clone, Copy)]
enum Family {
    Counter,
    Gauge,
    /// A histogram of seconds.
    Seconds,
    /// A histogram of counts (rows per batch): count buckets, not seconds.
    Count,
}

/// Every family with its HELP text (`promtool check metrics` wants one for each).
const FAMILIES: &[(&str, Family, &str)] = &[
    (LEADS_CREATED, Family::Counter, "Leads created, by source and channel."),
    (LEAD_OUTCOMES, Family::Counter, "Leads finished by the bot, by outcome."),
    (ACTORS_ACTIVE, Family::Gauge, "Lead actors alive in memory."),
    (
        DEAL_ACTORS_ACTIVE,
        Family::Gauge,
        "Deal actors (SLA robots) alive in memory.",
    ),
    (
        DEALS_TRACKED,
        Family::Gauge,
        "Deals the SLA robots track (state in the store).",
    ),
    (
        SLA_TIMER_LAG,
        Family::Seconds,
        "How late the SLA robots' durable timers fired after their due time.",
    ),
    (
        SLA_VIOLATIONS,
        Family::Counter,
        "SLA violations the robots recorded, by robot.",
    ),
    (
        LEADS_PASSIVATED,
        Family::Gauge,
        "Open leads whose actor is passivated (state only in the store).",
    ),
    (
        PASSIVATIONS,
        Family::Counter,
        "Lead actors passivated after their idle time.",
    ),
    (
        ACTOR_RESTARTS,
        Family::Counter,
        "Lead actors restarted by their supervisor after a failure.",
    ),
    (
        LEADS_PARKED,
        Family::Counter,
        "Leads parked for review after crashing repeatedly.",
    ),
    (
        MESSAGE_HANDLING,
        Family::Seconds,
        "Time from a client message stored to the lead's step committed.",
    ),
    (
        FIRST_REPLY,
        Family::Seconds,
        "Time from a lead created to the bot's first message.",
    ),
    (
        TIME_TO_PHONE,
        Family::Seconds,
        "Time from a lead created to a valid phone obtained.",
    ),
    (
        INBOX_LAG,
        Family::Seconds,
        "Time an inbox item waited before its lead applied it.",
    ),
    (
        INBOX_OLDEST_UNAPPLIED,
        Family::Gauge,
        "Age of the oldest inbox item no lead has applied yet, in seconds.",
    ),
    (OUTBOX_PENDING, Family::Gauge, "Outbox rows waiting for delivery."),
    (
        OUTBOX_FAILED,
        Family::Gauge,
        "Outbox rows given up after their last attempt.",
    ),
    (
        OUTBOX_DELIVERIES,
        Family::Counter,
        "Outbox delivery attempts, by kind and outcome.",
    ),
    (
        SINK_QUEUED,
        Family::Gauge,
        "Rows waiting in a delivery actor (channel, CRM, notifier).",
    ),
    (SINK_UP, Family::Gauge, "1 while a delivery actor is up."),
    (
        TIMER_LAG,
        Family::Seconds,
        "How late durable timers fired after their due time.",
    ),
    (
        WRITE_BATCH_SIZE,
        Family::Count,
        "Lead steps committed together in one group-commit transaction.",
    ),
    (
        ASSIGNMENTS,
        Family::Counter,
        "Leads assigned to a manager, by strategy.",
    ),
    (
        REASSIGNMENTS,
        Family::Counter,
        "Leads moved to another manager, by reason.",
    ),
    (MANAGER_ACTIVE, Family::Gauge, "Leads a manager holds now."),
    (MANAGER_CAPACITY, Family::Gauge, "Leads a manager may hold at once."),
    (
        MANAGER_ELIGIBLE,
        Family::Gauge,
        "1 while a manager can take leads (in hours, not paused or absent, below capacity).",
    ),
    (QUEUE_LENGTH, Family::Gauge, "Leads waiting for an eligible manager."),
    (QUEUE_WAIT, Family::Seconds, "Time a lead waited in the routing queue."),
    (
        HTTP_REQUESTS,
        Family::Counter,
        "HTTP requests answered, by matched route, method and status.",
    ),
    (
        HTTP_REQUEST_SECONDS,
        Family::Seconds,
        "Time to answer an HTTP request, by matched route.",
    ),
    (
        CRM_REQUESTS,
        Family::Counter,
        "Requests to a CRM's API, by CRM, method and outcome.",
    ),
    (
        CRM_REQUEST_SECONDS,
        Family::Seconds,
        "Time of a CRM API request, retries included.",
    ),
    (
        CRM_LIMITER_WAIT,
        Family::Seconds,
        "Time a CRM request waited for the client-side rate limiter.",
    ),
    (
        CRM_RECONCILED,
        Family::Counter,
        "Leads found by reconciliation whose webhook or event was lost.",
    ),
    (
        CRM_EVENTS,
        Family::Counter,
        "CRM webhook events received, by CRM, event and outcome.",
    ),
    (
        CHANNEL_STATUSES,
        Family::Counter,
        "Delivery statuses a channel reported for sent messages, by channel and status.",
    ),
    (
        FALLBACK_STEPS,
        Family::Counter,
        "Fallback chain steps taken or passed over, by channel and reason.",
    ),
    (
        CRM_BLOCKED,
        Family::Gauge,
        "1 while a CRM has blocked the account and calls are paused.",
    ),
    (
        REQUESTS_REFUSED,
        Family::Counter,
        "Webhook and API requests refused before anything was stored, by door and reason.",
    ),
    (
        CHANNEL_LEADS,
        Family::Gauge,
        "Leads created today (the account's local day), by channel.",
    ),
    (
        CHANNEL_PHONE_RATIO,
        Family::Gauge,
        "Share of today's leads with a phone, by channel (0-1).",
    ),
    (
        CHANNEL_HANDED_RATIO,
        Family::Gauge,
        "Share of today's leads handed to a manager, by channel (0-1).",
    ),
    (
        CHANNEL_TIME_TO_PHONE,
        Family::Gauge,
        "Median time from a lead created today to the client giving the phone, by channel.",
    ),
    (
        CHANNEL_REPLY_SLA_RATIO,
        Family::Gauge,
        "Share of today's client messages the bot answered within the reply SLA, by channel (0-1).",
    ),
    (
        CHANNEL_REPLY_P95,
        Family::Gauge,
        "95th percentile of the bot's reply time to today's client messages, by channel.",
    ),
    (
        REPORTS_QUEUED,
        Family::Counter,
        "Scheduled reports queued for delivery, by report and way (one per period and recipient).",
    ),
    (
        BOOKINGS,
        Family::Counter,
        "Booking attempts by result: booked, rescheduled, taken (another client had the slot), cancelled.",
    ),
    (
        CSAT_SCORES,
        Family::Counter,
        "Client satisfaction scores (1-5) by channel and score.",
    ),
    (
        CSAT_SUM,
        Family::Counter,
        "Sum of the satisfaction scores by channel (divided by the scores' count: the average).",
    ),
    (
        LLM_INTENT_SECONDS,
        Family::Seconds,
        "Time the LLM took to read a client message's intent; result=rules when the rules decided.",
    ),
    (BUILD_INFO, Family::Gauge, "Always 1; the labels say which build runs."),
];

/// Buckets of count-valued histograms.
const COUNT_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

fn describe() {
    for (name, family, help) in FAMILIES {
        match family {
            Family::Counter => metrics::describe_counter!(*name, *help),
            Family::Gauge => metrics::describe_gauge!(*name, *help),
            Family::Seconds => metrics::describe_histogram!(*name, metrics::Unit::Seconds, *help),
            Family::Count => metrics::describe_histogram!(*name, metrics::Unit::Count, *help),
        }
    }
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    process_collector().describe();
}

fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(|| metrics_process::Collector::new("leadbot_"))
}

/// Reads the process's RSS, CPU time and open file descriptors into their gauges (on each scrape).
pub fn collect_process_metrics() {
    process_collector().collect();
}

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
            let mut builder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .expect("static bucket list is not empty");
            for (name, family, _) in FAMILIES {
                if let Family::Count = family {
                    builder = builder
                        .set_buckets_for_metric(
                            metrics_exporter_prometheus::Matcher::Full(name.to_string()),
                            &COUNT_BUCKETS,
                        )
                        .expect("static bucket list is not empty");
                }
            }
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding); then ours only renders itself.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

/// `RUST_LOG`-style filtering, `info` by default. `LEADBOT_LOG_FORMAT=json` (or `--log-format
/// json`) writes one JSON object per line, with the span fields (lead id, request id, route),
/// for log collectors; the default is text.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("LEADBOT_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // Colours only for a person at a terminal: journald, files and pipes get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none();
    if json {
        let _ = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .try_init();
    } else {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(ansi)
            .try_init();
    }
}
