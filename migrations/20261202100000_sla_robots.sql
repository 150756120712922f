-- SLA robots: per-deal state (one writer, its actor), the deal's event inbox, durable robot
-- timers, and what the robots record for the reports (violations, counters).
CREATE TABLE deals (
    crm        TEXT        NOT NULL,
    deal_id    TEXT        NOT NULL,
    state      JSONB       NOT NULL,
    version    BIGINT      NOT NULL,
    last_applied_id BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (crm, deal_id)
);

CREATE TABLE deal_inbox (
    id          BIGSERIAL PRIMARY KEY,
    crm         TEXT        NOT NULL,
    deal_id     TEXT        NOT NULL,
    dedupe_key  TEXT        NOT NULL UNIQUE,
    event       JSONB       NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied     BOOLEAN     NOT NULL DEFAULT false
);
CREATE INDEX deal_inbox_deal_idx ON deal_inbox (crm, deal_id, id);
CREATE INDEX deal_inbox_unapplied_idx ON deal_inbox (received_at) WHERE NOT applied;

CREATE TABLE deal_timers (
    crm           TEXT        NOT NULL,
    deal_id       TEXT        NOT NULL,
    key           TEXT        NOT NULL,
    due_at        TIMESTAMPTZ NOT NULL,
    claimed_until TIMESTAMPTZ,
    PRIMARY KEY (crm, deal_id, key)
);
CREATE INDEX deal_timers_due_idx ON deal_timers (due_at);

CREATE TABLE sla_violations (
    id          BIGSERIAL PRIMARY KEY,
    key         TEXT        NOT NULL UNIQUE,
    crm         TEXT        NOT NULL,
    deal_id     TEXT        NOT NULL,
    robot       TEXT        NOT NULL,
    manager     TEXT,
    stage       TEXT,
    started_at  TIMESTAMPTZ NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL,
    detected_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sla_violations_at_idx ON sla_violations (detected_at);

CREATE TABLE sla_counters (
    id       BIGSERIAL PRIMARY KEY,
    key      TEXT             NOT NULL UNIQUE,
    crm      TEXT             NOT NULL,
    deal_id  TEXT             NOT NULL,
    counter  TEXT             NOT NULL,
    manager  TEXT,
    amount   DOUBLE PRECISION NOT NULL,
    at       TIMESTAMPTZ      NOT NULL
);
CREATE INDEX sla_counters_at_idx ON sla_counters (at);
