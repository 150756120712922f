-- Secrets leadbot makes itself: the operator token generated on first start when none is set.
CREATE TABLE generated_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The creator's idempotency key: a repeated creation with the same key gets the chat token
-- again (a lost 201 must not lock the web-chat client out of its own lead).
ALTER TABLE leads ADD COLUMN creation_key TEXT;
