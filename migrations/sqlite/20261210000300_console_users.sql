-- Console users, sessions and API tokens (see the PostgreSQL migration 20261202300000).
-- Timestamps: INTEGER microseconds since the Unix epoch, UTC.
CREATE TABLE console_users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'head', 'manager')),
    department    TEXT,
    manager_id    TEXT,
    created_at    INTEGER NOT NULL
);

CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);

CREATE TABLE console_api_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT    NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
