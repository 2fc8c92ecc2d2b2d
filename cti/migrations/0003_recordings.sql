-- One row per recorded call: where its WAV file is, when the recording began
-- (milliseconds since the Unix epoch) and how much audio it holds.
CREATE TABLE recordings (
    cdr_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL
);
