-- How a call was routed: the IVR steps it passed and how the flow ended, the ACD
-- queue it reached, how long it waited there and the agent who took it; and each
-- party's round-trip time from RTCP. NULL where the call did not get that far.
ALTER TABLE cdrs ADD COLUMN ivr_path TEXT;
ALTER TABLE cdrs ADD COLUMN ivr_outcome TEXT;
ALTER TABLE cdrs ADD COLUMN queue TEXT;
ALTER TABLE cdrs ADD COLUMN queue_wait_ms BIGINT;
ALTER TABLE cdrs ADD COLUMN agent TEXT;
ALTER TABLE cdrs ADD COLUMN caller_rtt_ms DOUBLE PRECISION;
ALTER TABLE cdrs ADD COLUMN callee_rtt_ms DOUBLE PRECISION;
CREATE INDEX cdrs_queue ON cdrs (queue, ended_at);

-- Messages callers left from an IVR voicemail step: one mono WAV file each.
CREATE TABLE voicemails (
    id          TEXT PRIMARY KEY,
    mailbox     TEXT NOT NULL,
    cdr_id      TEXT NOT NULL,
    caller      TEXT NOT NULL,
    path        TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    heard       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX voicemails_mailbox ON voicemails (mailbox, created_at);
