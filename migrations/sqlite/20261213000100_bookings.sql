-- Bookings, their cells and CSAT (see the PostgreSQL migration of the same name).
-- Times: INTEGER microseconds; a cell is its start in epoch seconds.
CREATE TABLE bookings (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id      INTEGER NOT NULL REFERENCES leads (id),
    key          TEXT    NOT NULL UNIQUE,
    resource     TEXT    NOT NULL,
    service      TEXT    NOT NULL,
    starts_at    INTEGER NOT NULL,
    ends_at      INTEGER NOT NULL,
    busy_until   INTEGER NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'booked',
    channel      TEXT    NOT NULL,
    client_name  TEXT,
    phone        TEXT,
    manager_id   TEXT,
    created_at   INTEGER NOT NULL,
    cancelled_at INTEGER
);
CREATE INDEX bookings_resource_starts_idx ON bookings (resource, starts_at);
CREATE INDEX bookings_lead_idx ON bookings (lead_id);
CREATE INDEX bookings_phone_idx ON bookings (phone);
CREATE INDEX bookings_starts_idx ON bookings (starts_at);

CREATE TABLE booking_cells (
    resource   TEXT    NOT NULL,
    cell       INTEGER NOT NULL,
    booking_id INTEGER NOT NULL REFERENCES bookings (id),
    PRIMARY KEY (resource, cell)
);
CREATE INDEX booking_cells_booking_idx ON booking_cells (booking_id);

CREATE TABLE csat (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT    NOT NULL UNIQUE,
    lead_id    INTEGER NOT NULL REFERENCES leads (id),
    score      INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    channel    TEXT    NOT NULL,
    manager_id TEXT,
    service    TEXT,
    booking_id INTEGER REFERENCES bookings (id),
    comment    TEXT,
    at         INTEGER NOT NULL
);
CREATE INDEX csat_at_idx ON csat (at);
