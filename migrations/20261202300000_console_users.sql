-- Console users (admin, head of sales with a department, manager linked to a manager id),
-- their sessions and their API tokens. Secrets are never stored: passwords as argon2 PHC
-- strings, session and API tokens as SHA-256 hex of the random token.
CREATE TABLE console_users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT        NOT NULL UNIQUE,
    password_hash TEXT        NOT NULL,
    role          TEXT        NOT NULL CHECK (role IN ('admin', 'head', 'manager')),
    department    TEXT,
    manager_id    TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    csrf       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);

CREATE TABLE console_api_tokens (
    id         BIGSERIAL PRIMARY KEY,
    token_hash TEXT        NOT NULL UNIQUE,
    user_id    BIGINT      NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    name       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
