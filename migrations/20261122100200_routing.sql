-- Routing state that must survive a restart: the waiting queue and operator overrides
-- (pause, absence). Live load is re-derived from assigned leads.
CREATE TABLE routing_queue (
    lead_id     BIGINT PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
    request     JSONB       NOT NULL,
    enqueued_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE manager_overrides (
    manager_id   TEXT PRIMARY KEY,
    paused       BOOLEAN     NOT NULL DEFAULT false,
    absent_until DATE,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
