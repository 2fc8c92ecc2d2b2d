-- Customers and their transactions (core data: never leaves the node).
--
-- Sensitive values are sealed with AES-256-GCM by the node before they reach
-- the database: each *_sealed column holds base64 of
-- version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes),
-- authenticated together with the table, column and row ids, so a value
-- copied to another row or column no longer opens. The key lives outside the
-- database. Lookups go through *_index columns: lowercase hex of a keyed
-- HMAC-SHA256 of the normalised value (a blind index, equality only).
--
-- Clear columns (tier, language, kind, status, dates) are what the IVR
-- branches on and counts without decrypting anything.
--
-- Ids are random integers below 2^53 chosen by the node, so that they can be
-- bound into the ciphertexts before the row is written. Portable SQL as in
-- 0001: TEXT/INTEGER/BIGINT only, no AUTOINCREMENT.

CREATE TABLE customers (
    id             BIGINT PRIMARY KEY,
    account_index  TEXT NOT NULL UNIQUE,
    account_sealed TEXT NOT NULL,
    name_sealed    TEXT NOT NULL,
    email_sealed   TEXT,
    tier           TEXT NOT NULL,
    language       TEXT NOT NULL
);

-- A customer's phone numbers, in the order given. A number belongs to at most
-- one customer, so a caller number identifies one customer or none.
CREATE TABLE customer_phones (
    customer_id  BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    phone_index  TEXT NOT NULL UNIQUE,
    phone_sealed TEXT NOT NULL,
    PRIMARY KEY (customer_id, position)
);

-- Orders and payments. A transaction is identified within its customer by its
-- kind and reference, so importing it again updates it in place. Dates are
-- unix seconds.
CREATE TABLE customer_transactions (
    id               BIGINT PRIMARY KEY,
    customer_id      BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    reference_index  TEXT NOT NULL,
    reference_sealed TEXT NOT NULL,
    amount_sealed    TEXT NOT NULL,
    status           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (customer_id, kind, reference_index)
);

CREATE INDEX customer_transactions_recent ON customer_transactions (customer_id, created_at);

-- One row: a keyed hash of a fixed text under the index key the store was
-- first written with, so that a node started with another key is refused
-- instead of writing rows nobody can read together.
CREATE TABLE customer_key_check (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    verifier TEXT NOT NULL
);
