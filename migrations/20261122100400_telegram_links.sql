-- Deep links t.me/<bot>?start=<token> that join an existing (CRM) lead to the client's chat.
CREATE TABLE telegram_links (
    token      TEXT PRIMARY KEY,
    bot        TEXT        NOT NULL,
    lead_id    BIGINT      NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    used_at    TIMESTAMPTZ
);
