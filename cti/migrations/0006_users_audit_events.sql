-- CTI API: users and their tokens, the append-only audit log, and the event
-- stream's durable copy.
--
-- Portable SQL as in 0001: TEXT/INTEGER/BIGINT only, no AUTOINCREMENT. Times
-- are unix milliseconds.

-- People who use the API. The password is kept only as an Argon2id hash in
-- PHC string form; agent is the user's extension when they take calls.
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    agent         TEXT,
    created_at    BIGINT NOT NULL
);

-- The queues a supervisor supervises (and, for other roles, is scoped to).
CREATE TABLE user_queues (
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    queue     TEXT NOT NULL,
    PRIMARY KEY (user_name, queue)
);

-- Bearer tokens, kept only as the lowercase hex SHA-256 of the token text.
-- kind is `api` (no expiry, made by an administrator) or `session` (from a
-- password login, expires_at set).
CREATE TABLE api_tokens (
    hash       TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    label      TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_name);

-- Append-only: each row's hash is SHA-256 over the previous row's hash and
-- this row's content, so an edited, inserted or removed row breaks the chain
-- from there on. The application never updates or deletes rows.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

-- Every event the stream published, for replay past the in-memory ring.
-- agent and queues (space separated) say who may see the event.
CREATE TABLE events (
    seq     BIGINT PRIMARY KEY,
    at      BIGINT NOT NULL,
    kind    TEXT NOT NULL,
    call_id TEXT,
    agent   TEXT,
    queues  TEXT NOT NULL,
    data    TEXT NOT NULL
);

-- One row: the highest sequence number handed out or reserved, so that a
-- restart continues above every number a client may have seen even when the
-- last events had not reached the events table.
CREATE TABLE event_seq (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    reserved BIGINT NOT NULL
);
