-- SLA robots (see the PostgreSQL migration of the same name). Times: INTEGER microseconds, UTC.
CREATE TABLE deals (
    crm             TEXT    NOT NULL,
    deal_id         TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    last_applied_id INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (crm, deal_id)
);

CREATE TABLE deal_inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    crm         TEXT    NOT NULL,
    deal_id     TEXT    NOT NULL,
    dedupe_key  TEXT    NOT NULL UNIQUE,
    event       TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    applied     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deal_inbox_deal_idx ON deal_inbox (crm, deal_id, id);
CREATE INDEX deal_inbox_unapplied_idx ON deal_inbox (received_at) WHERE applied = 0;

CREATE TABLE deal_timers (
    crm           TEXT    NOT NULL,
    deal_id       TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    due_at        INTEGER NOT NULL,
    claimed_until INTEGER,
    PRIMARY KEY (crm, deal_id, key)
);
CREATE INDEX deal_timers_due_idx ON deal_timers (due_at);

CREATE TABLE sla_violations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT    NOT NULL UNIQUE,
    crm         TEXT    NOT NULL,
    deal_id     TEXT    NOT NULL,
    robot       TEXT    NOT NULL,
    manager     TEXT,
    stage       TEXT,
    started_at  INTEGER NOT NULL,
    due_at      INTEGER NOT NULL,
    detected_at INTEGER NOT NULL
);
CREATE INDEX sla_violations_at_idx ON sla_violations (detected_at);

CREATE TABLE sla_counters (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    key      TEXT    NOT NULL UNIQUE,
    crm      TEXT    NOT NULL,
    deal_id  TEXT    NOT NULL,
    counter  TEXT    NOT NULL,
    manager  TEXT,
    amount   REAL    NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX sla_counters_at_idx ON sla_counters (at);
