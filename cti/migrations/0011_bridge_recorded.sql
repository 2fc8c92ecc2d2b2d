-- Calls whose recording crossed the sync bridge for analysis after the call,
-- because some of their live audio could not stream: the bridge's keyed call
-- reference (`call_ref`, hex) names the call's CDR and SIP Call-ID, so results
-- that come back after the call are published for it. Written in the same
-- transaction as the recording's index row and its outbox rows.
CREATE TABLE IF NOT EXISTS bridge_recorded (
    call_ref    TEXT PRIMARY KEY,
    cdr_id      TEXT NOT NULL,
    call_id     TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS bridge_recorded_at ON bridge_recorded (recorded_at);
