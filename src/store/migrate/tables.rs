//! The tables `migrate-store` copies, each column with how the two schemas store it. A table or
//! column missing here stops the copy (see `check_schema`), so a new migration must add itself.

/// How a column is stored, so it can be read from one database and written to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// BIGINT / INTEGER.
    I64,
    /// INT on PostgreSQL (INTEGER on SQLite).
    I32,
    Text,
    /// TIMESTAMPTZ / INTEGER microseconds.
    Ts,
    /// JSONB / TEXT.
    Json,
    /// BOOLEAN / 0-1.
    Bool,
    /// DATE / 'YYYY-MM-DD'.
    Date,
    /// DOUBLE PRECISION / REAL.
    F64,
}

use Kind::*;

pub struct Table {
    pub name: &'static str,
    /// Has an `id` drawn from a sequence (BIGSERIAL / AUTOINCREMENT).
    pub serial: bool,
    /// Read in this order (the primary key), so ids are inserted ascending.
    pub order: &'static str,
    pub columns: &'static [(&'static str, Kind)],
}

/// Parents before children (foreign keys are checked per statement).
pub const TABLES: &[Table] = &[
    Table {
        name: "leads",
        serial: true,
        order: "id",
        columns: &[
            ("id", I64),
            ("source", Text),
            ("external_id", Text),
            ("channel", Text),
            ("name", Text),
            ("phone", Text),
            ("status", Text),
            ("manager_id", Text),
            ("reason", Text),
            ("created_at", Ts),
            ("updated_at", Ts),
            ("chat_token", Text),
            ("segment", Text),
            ("creation_key", Text),
        ],
    },
    Table {
        name: "lead_snapshots",
        serial: false,
        order: "lead_id",
        columns: &[
            ("lead_id", I64),
            ("version", I64),
            ("state", Json),
            ("last_applied_inbox_id", I64),
            ("updated_at", Ts),
        ],
    },
    Table {
        name: "inbox",
        serial: true,
        order: "id",
        columns: &[
            ("id", I64),
            ("lead_id", I64),
            ("source", Text),
            ("dedupe_key", Text),
            ("payload", Json),
            ("received_at", Ts),
            ("applied_at", Ts),
        ],
    },
    Table {
        name: "outbox",
        serial: true,
        order: "id",
        columns: &[
            ("id", I64),
            ("lead_id", I64),
            ("kind", Text),
            ("payload", Json),
            ("idempotency_key", Text),
            ("status", Text),
            ("attempts", I32),
            ("last_error", Text),
            ("next_attempt_at", Ts),
            ("created_at", Ts),
            ("sent_at", Ts),
            ("claimed_by", I32),
        ],
    },
    Table {
        name: "lead_timers",
        serial: false,
        order: "lead_id, kind",
        columns: &[
            ("lead_id", I64),
            ("kind", Text),
            ("due_at", Ts),
            ("generation", I64),
            ("claimed_until", Ts),
            ("claimed_by", I32),
        ],
    },
    Table {
        name: "transcript",
        serial: true,
        order: "id",
        columns: &[
            ("id", I64),
            ("lead_id", I64),
            ("direction", Text),
            ("text", Text),
            ("created_at", Ts),
            ("author", Text),
        ],
    },
    Table {
        name: "routing_cursors",
        serial: false,
        order: "group_name",
        columns: &[("group_name", Text), ("position", I64)],
    },
    Table {
        name: "crm_events",
        serial: true,
        order: "id",
        columns: &[
            ("id", I64),
            ("crm", Text),
            ("event", Text),
            ("entity_id", Text),
            ("dedupe_key", Text),
            ("payload", Json),
            ("received_at", Ts),
            ("processed_at", Ts),
            ("attempts", I32),
            ("next_attempt_at", Ts),
            ("last_error", Text),
        ],
    },
    Table {
        name: "crm_oauth_tokens",
        serial: false,
        order: "member_id",
        columns: &[
            ("member_id", Text),
            ("access_token", Text),
            ("refresh_token", Text),
            ("client_endpoint", Text),
            ("expires_at", Ts),
            ("updated_at", Ts),
        ],
    },
    Table {
        name: "crm_cursors",
        serial: false,
        order: "name",
        columns: &[("name", Text), ("value", Text), ("updated_at", Ts)],
    },
    Table {
        name: "crm_chat_links",
        serial: false,
        order: "lead_id",
        columns: &[("lead_id", I64), ("crm", Text), ("chat_id", Text)],
    },
    Table {
        name: "routing_queue",
        serial: false,
        order: "lead_id",
        columns: &[("lead_id", I64), ("request", Json), ("enqueued_at", Ts)],
    },
    Table {
        name: "manager_overrides",
        serial: false,
        order: "manager_id",
        columns: &[
            ("manager_id", Text),
            ("paused", Bool),
            ("absent_until", Date),
            ("updated_at", Ts),
        ],
    },
    Table {
        name: "telegram_updates",
        serial: false,
        order: "bot, update_id",
        columns: &[("bot", Text), ("update_id", I64), ("received_at", Ts)],
    },
    Table {
        name: "telegram_chats",
        serial: false,
        order: "bot, chat_id",
        columns: &[("bot", Text), ("chat_id", I64), ("lead_id", I64)],
    },
    Table {
        name: "telegram_users",
        serial: false,
        order: "bot, user_id",
        columns: &[("bot", Text), ("user_id", I64), ("username", Text)],
    },
    Table {
        name: "jobs",
        serial: true,
        order: "id",
        columns: &[
            ("id", I64),
            ("deal_id", Text),
            ("details", Json),
            ("chat_id", I64),
            ("message_id", I64),
            ("posted_at", Ts),
            ("taken_by", I64),
            ("taken_by_name", Text),
            ("taken_by_login", Text),
            ("crm_user_id", Text),
            ("taken_at", Ts),
            ("created_at", Ts),
        ],
    },
    Table {
        name: "job_reveals",
        serial: true,
        order: "id",
        columns: &[
            ("id", I64),
            ("job_id", I64),
            ("user_id", I64),
            ("user_name", Text),
            ("login", Text),
            ("via", Text),
            ("at", Ts),
        ],
    },
    Table {
        name: "deal_assignments",
        serial: false,
        order: "deal_id",
        columns: &[("deal_id", Text), ("crm_user_id", Text), ("executor", Text), ("at", Ts)],
    },
    Table {
        name: "telegram_links",
        serial: false,
        order: "token",
        columns: &[
            ("token", Text),
            ("bot", Text),
            ("lead_id", I64),
            ("created_at", Ts),
            ("used_at", Ts),
        ],
    },
    Table {
        name: "generated_secrets",
        serial: false,
        order: "name",
        columns: &[("name", Text), ("value", Text), ("created_at", Ts)],
    },
    Table {
        name: "deals",
        serial: false,
        order: "crm, deal_id",
        columns: &[
            ("crm", Text),
            ("deal_id", Text),
            ("state", Json),
            ("version", I64),
            ("last_applied_id", I64),
            ("updated_at", Ts),
        ],
    },
    Table {
        name: "deal_inbox",
        serial: true,
        order: "id",
        columns: &[
            ("id", I64),
            ("crm", Text),
            ("deal_id", Text),
            ("dedupe_key", Text),
            ("event", Json),
            ("received_at", Ts),
            ("applied", Bool),
        ],
    },
    Table {
        name: "deal_timers",
        serial: false,
        order: "crm, deal_id, key",
        columns: &[
            ("crm", Text),
            ("deal_id", Text),
            ("key", Text),
            ("due_at", Ts),
            ("claimed_until", Ts),
        ],
    },
    Table {
        name: "sla_violations",
        serial: true,
        order: "id",
        columns: &[
            ("id", I64),
            ("key", Text),
            ("crm", Text),
            ("deal_id", Text),
            ("robot", Text),
            ("manager", Text),
            ("stage", Text),
            ("started_at", Ts),
            ("due_at", Ts),
            ("detected_at", Ts),
        ],
    },
    Table {
        name: "sla_counters",
        serial: true,
        order: "id",
        columns: &[
            ("id", I64),
            ("key", Text),
            ("crm", Text),
            ("deal_id", Text),
            ("counter", Text),
            ("manager", Text),
            ("amount", F64),
            ("at", Ts),
        ],
    },
    Table {
        name: "report_sends",
        serial: true,
        order: "id",
        columns: &[
            ("id", I64),
            ("key", Text),
            ("kind", Text),
            ("period_from", Ts),
            ("period_to", Ts),
            ("recipient", Text),
            ("created_at", Ts),
        ],
    },
    Table {
        name: "console_users",
        serial: true,
        order: "id",
        columns: &[
            ("id", I64),
            ("username", Text),
            ("password_hash", Text),
            ("role", Text),
            ("department", Text),
            ("manager_id", Text),
            ("created_at", Ts),
        ],
    },
    Table {
        name: "console_sessions",
        serial: false,
        order: "token_hash",
        columns: &[
            ("token_hash", Text),
            ("user_id", I64),
            ("csrf", Text),
            ("created_at", Ts),
            ("expires_at", Ts),
        ],
    },
    Table {
        name: "console_api_tokens",
        serial: true,
        order: "id",
        columns: &[
            ("id", I64),
            ("token_hash", Text),
            ("user_id", I64),
            ("name", Text),
            ("created_at", Ts),
        ],
    },
];

/// Tables of the migration tools themselves, not data.
pub const NOT_DATA: &[&str] = &["_sqlx_migrations", "sqlite_sequence"];
