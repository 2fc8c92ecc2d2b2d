-- Items waiting to cross the sync bridge (classified call records). A row is
-- written in the same transaction as the record it describes and deleted when
-- the cloud acknowledges it; `key` is the item's idempotency key.
CREATE TABLE IF NOT EXISTS bridge_outbox (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    priority    INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    payload     BLOB NOT NULL,
    enqueued_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS bridge_outbox_order ON bridge_outbox (priority, id);
