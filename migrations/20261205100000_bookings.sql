-- Bookings (issue 15): a visit of a lead to a resource (a member of staff or a room).
-- `key` makes a redone step book nothing twice.
CREATE TABLE bookings (
    id           BIGSERIAL PRIMARY KEY,
    lead_id      BIGINT      NOT NULL REFERENCES leads (id),
    key          TEXT        NOT NULL UNIQUE,
    resource     TEXT        NOT NULL,
    service      TEXT        NOT NULL,
    starts_at    TIMESTAMPTZ NOT NULL,
    ends_at      TIMESTAMPTZ NOT NULL,
    busy_until   TIMESTAMPTZ NOT NULL,
    status       TEXT        NOT NULL DEFAULT 'booked',
    channel      TEXT        NOT NULL,
    client_name  TEXT,
    phone        TEXT,
    manager_id   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    cancelled_at TIMESTAMPTZ
);
CREATE INDEX bookings_resource_starts_idx ON bookings (resource, starts_at);
CREATE INDEX bookings_lead_idx ON bookings (lead_id);
CREATE INDEX bookings_phone_idx ON bookings (phone);
CREATE INDEX bookings_starts_idx ON bookings (starts_at);

-- The compare-and-set: every slot-grid cell a booking occupies (its start, epoch seconds), one
-- row each, unique per resource. A booking's cells are inserted with it or not at all; a
-- cancel deletes them, so the time is free at once.
CREATE TABLE booking_cells (
    resource   TEXT   NOT NULL,
    cell       BIGINT NOT NULL,
    booking_id BIGINT NOT NULL REFERENCES bookings (id),
    PRIMARY KEY (resource, cell)
);
CREATE INDEX booking_cells_booking_idx ON booking_cells (booking_id);

-- Clients' satisfaction scores, once per key (the lead and what was rated).
CREATE TABLE csat (
    id         BIGSERIAL PRIMARY KEY,
    key        TEXT        NOT NULL UNIQUE,
    lead_id    BIGINT      NOT NULL REFERENCES leads (id),
    score      INT         NOT NULL CHECK (score BETWEEN 1 AND 5),
    channel    TEXT        NOT NULL,
    manager_id TEXT,
    service    TEXT,
    booking_id BIGINT REFERENCES bookings (id),
    comment    TEXT,
    at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX csat_at_idx ON csat (at);
