-- Webhooks: subscriptions, their durable outbox, and how far the fan-out
-- has read the event stream. Portable SQL as in 0001; times are unix ms.

-- One subscription. events holds event names separated by spaces. The
-- secret signs every request, so it is kept as given (the database file is
-- the node's to protect). Only events numbered above after_seq go to it.
CREATE TABLE webhooks (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    events     TEXT NOT NULL,
    secret     TEXT NOT NULL,
    after_seq  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

-- The outbox: one row per subscription and event. state is pending,
-- delivered or failed; body is sent unchanged on every attempt.
CREATE TABLE webhook_deliveries (
    webhook_id      TEXT NOT NULL,
    event_seq       BIGINT NOT NULL,
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_attempt_at BIGINT,
    last_status     INTEGER,
    last_error      TEXT,
    PRIMARY KEY (webhook_id, event_seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);

-- One row: the number of the last event the fan-out has handled.
CREATE TABLE webhook_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
