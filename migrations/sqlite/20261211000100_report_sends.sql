-- Scheduled reports (see the PostgreSQL migration of the same name). Times: INTEGER microseconds.
CREATE TABLE report_sends (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL,
    period_from INTEGER NOT NULL,
    period_to   INTEGER NOT NULL,
    recipient   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX leads_created_at_idx ON leads (created_at);
