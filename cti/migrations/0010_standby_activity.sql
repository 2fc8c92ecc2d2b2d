-- Agent activity (state changes) a disaster-recovery standby recorded while it
-- served, handed back when the primary returned. `key` is the standby's own
-- event number, so a row handed back twice is stored once.
CREATE TABLE standby_activity (
    key   TEXT PRIMARY KEY,
    at    BIGINT NOT NULL,
    kind  TEXT NOT NULL,
    agent TEXT,
    data  TEXT NOT NULL
);
