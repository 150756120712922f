-- Telegram: processed update ids (a redelivery is a no-op), which chat belongs to which lead,
-- users who started the bot (they can be messaged), and the executor job board.
CREATE TABLE telegram_updates (
    bot         TEXT   NOT NULL,
    update_id   BIGINT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (bot, update_id)
);

CREATE TABLE telegram_chats (
    bot     TEXT   NOT NULL,
    chat_id BIGINT NOT NULL,
    lead_id BIGINT NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    PRIMARY KEY (bot, chat_id)
);
CREATE INDEX telegram_chats_lead_idx ON telegram_chats (lead_id);

CREATE TABLE telegram_users (
    bot      TEXT   NOT NULL,
    user_id  BIGINT NOT NULL,
    username TEXT,
    PRIMARY KEY (bot, user_id)
);

-- A deal posted to the executors' group. `taken_by` is set once, by compare-and-set.
CREATE TABLE jobs (
    id            BIGSERIAL PRIMARY KEY,
    deal_id       TEXT        NOT NULL UNIQUE,
    details       JSONB       NOT NULL,
    chat_id       BIGINT      NOT NULL,
    message_id    BIGINT,
    posted_at     TIMESTAMPTZ,
    taken_by      BIGINT,
    taken_by_name TEXT,
    taken_by_login TEXT,
    crm_user_id   TEXT,
    taken_at      TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE job_reveals (
    id         BIGSERIAL PRIMARY KEY,
    job_id     BIGINT      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    user_id    BIGINT      NOT NULL,
    user_name  TEXT,
    login      TEXT,
    via        TEXT        NOT NULL,
    at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The deal's responsible person as leadbot set it (the CRM adapters mirror it into the CRM).
CREATE TABLE deal_assignments (
    deal_id     TEXT PRIMARY KEY,
    crm_user_id TEXT,
    executor    TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
