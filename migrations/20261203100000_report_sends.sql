-- Scheduled reports: one row per (report, period, recipient, way), written with its outbox row,
-- so a report is never sent twice for a period (also across restarts).
CREATE TABLE report_sends (
    id          BIGSERIAL PRIMARY KEY,
    key         TEXT        NOT NULL UNIQUE,
    kind        TEXT        NOT NULL,
    period_from TIMESTAMPTZ NOT NULL,
    period_to   TIMESTAMPTZ NOT NULL,
    recipient   TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The per-channel figures read the leads of a period.
CREATE INDEX leads_created_at_idx ON leads (created_at);
