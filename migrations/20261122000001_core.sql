-- Core runtime tables: leads (queryable projection), versioned dialog snapshots, inbox, outbox,
-- durable timers and the transcript. A lead's actor is the only writer of its rows; each of its
-- steps commits snapshot + transcript + outbox + timers + inbox marker in one transaction.

CREATE TABLE leads (
    id            BIGSERIAL PRIMARY KEY,
    source        TEXT        NOT NULL,
    external_id   TEXT        NOT NULL,
    channel       TEXT        NOT NULL,
    name          TEXT,
    phone         TEXT,
    status        TEXT        NOT NULL,
    manager_id    TEXT,
    reason        TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (source, external_id)
);
CREATE INDEX leads_status_idx ON leads (status, id);
CREATE INDEX leads_phone_idx ON leads (phone) WHERE phone IS NOT NULL;

-- The dialog state of a lead. `version` increases by one on every committed step; a write
-- with a stale version is rejected (fencing if two incarnations ever run at once).
CREATE TABLE lead_snapshots (
    lead_id               BIGINT PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
    version               BIGINT      NOT NULL,
    state                 JSONB       NOT NULL,
    last_applied_inbox_id BIGINT      NOT NULL DEFAULT 0,
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Everything that arrives for a lead, made durable before it is acknowledged.
-- (source, dedupe_key) makes a provider's redelivery a no-op.
CREATE TABLE inbox (
    id          BIGSERIAL PRIMARY KEY,
    lead_id     BIGINT      NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    source      TEXT        NOT NULL,
    dedupe_key  TEXT        NOT NULL,
    payload     JSONB       NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_at  TIMESTAMPTZ,
    UNIQUE (source, dedupe_key)
);
CREATE INDEX inbox_lead_idx ON inbox (lead_id, id);
CREATE INDEX inbox_unapplied_idx ON inbox (id) WHERE applied_at IS NULL;

-- Every outbound message or notification. Written in the step's transaction, delivered after
-- commit; `idempotency_key` travels with the request so a retry after a crash is harmless.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    lead_id         BIGINT      NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    kind            TEXT        NOT NULL,
    payload         JSONB       NOT NULL,
    idempotency_key TEXT        NOT NULL UNIQUE,
    status          TEXT        NOT NULL DEFAULT 'pending',
    attempts        INT         NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ
);
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at) WHERE status = 'pending';

-- Durable timers: one row per (lead, kind). `generation` lets the lead ignore a stale firing.
CREATE TABLE lead_timers (
    lead_id       BIGINT      NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    kind          TEXT        NOT NULL,
    due_at        TIMESTAMPTZ NOT NULL,
    generation    BIGINT      NOT NULL,
    claimed_until TIMESTAMPTZ,
    PRIMARY KEY (lead_id, kind)
);
CREATE INDEX lead_timers_due_idx ON lead_timers (due_at);

-- What was said, in order; the web chat and the operator read it.
CREATE TABLE transcript (
    id         BIGSERIAL PRIMARY KEY,
    lead_id    BIGINT      NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    direction  TEXT        NOT NULL CHECK (direction IN ('in', 'out')),
    text       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX transcript_lead_idx ON transcript (lead_id, id);

-- Persistent round-robin position per manager group (survives restarts).
CREATE TABLE routing_cursors (
    group_name TEXT PRIMARY KEY,
    position   BIGINT NOT NULL
);
