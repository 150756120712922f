-- The embedded store's schema: the same tables, columns and constraints as the PostgreSQL
-- migrations in ../ (as of 20261201100200), so `leadbot migrate-store` copies rows one to one.
-- SQLite types: every timestamp is INTEGER microseconds since the Unix epoch (UTC) — fixed
-- width, so comparisons and ORDER BY are numeric; the store binds "now" itself, and the
-- defaults are "now" as PostgreSQL's are (julianday, not unixepoch('subsec'): an older sqlite3
-- shell, such as one taking a backup, can still insert). JSON is TEXT; booleans are 0/1; dates
-- 'YYYY-MM-DD'.
-- Ids are AUTOINCREMENT: like a PostgreSQL sequence, an id is never handed out twice (inbox and
-- outbox cursors and the delivery actors' "seen" sets rely on ids only growing).

CREATE TABLE leads (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    source        TEXT    NOT NULL,
    external_id   TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    name          TEXT,
    phone         TEXT,
    status        TEXT    NOT NULL,
    manager_id    TEXT,
    reason        TEXT,
    created_at    INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)),
    updated_at    INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)),
    chat_token    TEXT,
    segment       TEXT,
    creation_key  TEXT,
    UNIQUE (source, external_id)
);
CREATE INDEX leads_status_idx ON leads (status, id);
CREATE INDEX leads_phone_idx ON leads (phone) WHERE phone IS NOT NULL;

CREATE TABLE lead_snapshots (
    lead_id               INTEGER PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
    version               INTEGER NOT NULL,
    state                 TEXT    NOT NULL,
    last_applied_inbox_id INTEGER NOT NULL DEFAULT 0,
    updated_at            INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
);

CREATE TABLE inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id     INTEGER NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    source      TEXT    NOT NULL,
    dedupe_key  TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    received_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)),
    applied_at  INTEGER,
    UNIQUE (source, dedupe_key)
);
CREATE INDEX inbox_lead_idx ON inbox (lead_id, id);
CREATE INDEX inbox_unapplied_lead_idx ON inbox (lead_id, id) WHERE applied_at IS NULL;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id         INTEGER REFERENCES leads (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)),
    created_at      INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)),
    sent_at         INTEGER,
    claimed_by      INTEGER
);
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at) WHERE status = 'pending';
-- The in-order claim asks "does an earlier row of this lead and kind wait?": by lead, not a scan
-- of every pending row (SQLite has no bitmap scans to combine outbox_pending_idx with).
CREATE INDEX outbox_pending_lead_idx ON outbox (lead_id, kind, id) WHERE status = 'pending';

CREATE TABLE lead_timers (
    lead_id       INTEGER NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,
    due_at        INTEGER NOT NULL,
    generation    INTEGER NOT NULL,
    claimed_until INTEGER,
    claimed_by    INTEGER,
    PRIMARY KEY (lead_id, kind)
);
CREATE INDEX lead_timers_due_idx ON lead_timers (due_at);
CREATE INDEX lead_timers_claimed_by_idx ON lead_timers (claimed_by) WHERE claimed_by IS NOT NULL;

CREATE TABLE transcript (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id    INTEGER NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    direction  TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    text       TEXT    NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
);
CREATE INDEX transcript_lead_idx ON transcript (lead_id, id);

CREATE TABLE routing_cursors (
    group_name TEXT PRIMARY KEY,
    position   INTEGER NOT NULL
);

CREATE TABLE crm_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    crm             TEXT    NOT NULL,
    event           TEXT    NOT NULL,
    entity_id       TEXT    NOT NULL,
    dedupe_key      TEXT    NOT NULL UNIQUE,
    payload         TEXT    NOT NULL,
    received_at     INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)),
    processed_at    INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)),
    last_error      TEXT
);
CREATE INDEX crm_events_pending_idx ON crm_events (next_attempt_at) WHERE processed_at IS NULL;

CREATE TABLE crm_oauth_tokens (
    member_id       TEXT PRIMARY KEY,
    access_token    TEXT    NOT NULL,
    refresh_token   TEXT    NOT NULL,
    client_endpoint TEXT    NOT NULL,
    expires_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
);

CREATE TABLE crm_cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
);

CREATE TABLE crm_chat_links (
    lead_id INTEGER PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
    crm     TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    UNIQUE (crm, chat_id)
);

CREATE TABLE routing_queue (
    lead_id     INTEGER PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
    request     TEXT    NOT NULL,
    enqueued_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
);

CREATE TABLE manager_overrides (
    manager_id   TEXT PRIMARY KEY,
    paused       INTEGER NOT NULL DEFAULT 0,
    absent_until TEXT,
    updated_at   INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
);

CREATE TABLE telegram_updates (
    bot         TEXT    NOT NULL,
    update_id   INTEGER NOT NULL,
    received_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)),
    PRIMARY KEY (bot, update_id)
);

CREATE TABLE telegram_chats (
    bot     TEXT    NOT NULL,
    chat_id INTEGER NOT NULL,
    lead_id INTEGER NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    PRIMARY KEY (bot, chat_id)
);
CREATE INDEX telegram_chats_lead_idx ON telegram_chats (lead_id);

CREATE TABLE telegram_users (
    bot      TEXT    NOT NULL,
    user_id  INTEGER NOT NULL,
    username TEXT,
    PRIMARY KEY (bot, user_id)
);

CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    deal_id        TEXT    NOT NULL UNIQUE,
    details        TEXT    NOT NULL,
    chat_id        INTEGER NOT NULL,
    message_id     INTEGER,
    posted_at      INTEGER,
    taken_by       INTEGER,
    taken_by_name  TEXT,
    taken_by_login TEXT,
    crm_user_id    TEXT,
    taken_at       INTEGER,
    created_at     INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
);

CREATE TABLE job_reveals (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id    INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL,
    user_name TEXT,
    login     TEXT,
    via       TEXT    NOT NULL,
    at        INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
);

CREATE TABLE deal_assignments (
    deal_id     TEXT PRIMARY KEY,
    crm_user_id TEXT,
    executor    TEXT    NOT NULL,
    at          INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
);

CREATE TABLE telegram_links (
    token      TEXT PRIMARY KEY,
    bot        TEXT    NOT NULL,
    lead_id    INTEGER NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)),
    used_at    INTEGER
);

CREATE TABLE generated_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT    NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
);
