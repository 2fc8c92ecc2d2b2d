-- Extensions (SIP users of the node) and call detail records.
--
-- Portable SQL: the same file runs on SQLite and PostgreSQL. Integers that may
-- exceed 32 bits are BIGINT; there is no AUTOINCREMENT or SERIAL (CDR ids come
-- from the caller, extensions are keyed by their number).

-- The plain password is never stored: only the digest HA1 for each algorithm
-- the registrar offers, which both depend on the realm.
CREATE TABLE extensions (
    ext          TEXT PRIMARY KEY,
    display_name TEXT,
    ha1_md5      TEXT NOT NULL,
    ha1_sha256   TEXT NOT NULL,
    realm        TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

-- One row per call, written once when the call ends. Times are unix
-- milliseconds; duration_ms = ended_at - started_at, billsec_ms = ended_at -
-- answered_at (0 when the call was never answered).
CREATE TABLE cdrs (
    id           TEXT PRIMARY KEY,
    call_id      TEXT NOT NULL,
    caller       TEXT NOT NULL,
    callee       TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    answered_at  BIGINT,
    ended_at     BIGINT NOT NULL,
    disposition  TEXT NOT NULL,
    hangup_cause TEXT NOT NULL,
    sip_status   INTEGER,
    duration_ms  BIGINT NOT NULL,
    billsec_ms   BIGINT NOT NULL
);

CREATE INDEX cdrs_ended_at ON cdrs (ended_at);
