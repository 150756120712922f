-- Bitrix24 adapter: events as received (Bitrix24 never retries, so they are stored before the
-- 200), OAuth tokens, the reconciliation cursor and open-line chat links.

CREATE TABLE crm_events (
    id           BIGSERIAL PRIMARY KEY,
    crm          TEXT        NOT NULL,
    event        TEXT        NOT NULL,
    entity_id    TEXT        NOT NULL,
    dedupe_key   TEXT        NOT NULL UNIQUE,
    payload      JSONB       NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at TIMESTAMPTZ,
    attempts     INT         NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error   TEXT
);
CREATE INDEX crm_events_pending_idx ON crm_events (next_attempt_at) WHERE processed_at IS NULL;

CREATE TABLE crm_oauth_tokens (
    member_id       TEXT PRIMARY KEY,
    access_token    TEXT        NOT NULL,
    refresh_token   TEXT        NOT NULL,
    client_endpoint TEXT        NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE crm_cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- An open-line chat of a lead: where the bot talks to the client inside Bitrix24.
CREATE TABLE crm_chat_links (
    lead_id BIGINT PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
    crm     TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    UNIQUE (crm, chat_id)
);
