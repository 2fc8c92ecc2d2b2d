-- Recordings of conference rooms: one mono WAV file per room session, indexed
-- when recording starts and completed when the room empties. `started_at` is
-- in milliseconds since the Unix epoch; `participants` counts the callers who
-- were in the room while it recorded. A row left unfinished belongs to a room
-- still recording, or to one the node stopped before it emptied.
CREATE TABLE conference_recordings (
    id           TEXT PRIMARY KEY,
    room         TEXT NOT NULL,
    path         TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    duration_ms  BIGINT NOT NULL DEFAULT 0,
    participants BIGINT NOT NULL DEFAULT 0,
    finished     INTEGER NOT NULL DEFAULT 0 CHECK (finished IN (0, 1))
);
CREATE INDEX conference_recordings_started ON conference_recordings (started_at);
