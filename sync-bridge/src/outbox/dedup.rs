//! The receiver's duplicate filter: idempotent delivery by item key.
//!
//! The sender delivers at least once, so the receiver sees an item again when
//! an acknowledgement was lost. Contract:
//!
//! - Create the table with [`RECEIVED_SCHEMA`] (idempotent).
//! - Call [`accept`] on the connection (ideally the transaction) that stores
//!   the item's effects: it returns `true` the first time a key is seen and
//!   `false` for every repeat, so the effects are applied once. Acknowledge
//!   the item in both cases.
//! - [`prune`] forgets keys received before a cut-off; pick one longer than
//!   any sender keeps an item unacknowledged.

use sqlx::SqliteConnection;

use super::store::StoreError;
use crate::wire::ItemKey;

/// Creates the table of received keys, if missing.
pub const RECEIVED_SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS bridge_received (
    key         TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS bridge_received_at ON bridge_received (received_at);
";

/// Creates the received-keys table on `conn` if it is missing.
///
/// # Errors
///
/// [`StoreError::Database`] when the statement fails.
pub async fn create_table(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    sqlx::raw_sql(RECEIVED_SCHEMA).execute(&mut *conn).await?;
    Ok(())
}

/// Records `key` as received at `received_at_ms`: `true` the first time,
/// `false` for a duplicate.
///
/// # Errors
///
/// [`StoreError::Database`] when the insert fails.
pub async fn accept(
    conn: &mut SqliteConnection,
    key: ItemKey,
    received_at_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO bridge_received (key, received_at) VALUES (?, ?) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(key.to_string())
    .bind(received_at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets keys received before `before_ms`; returns how many.
///
/// # Errors
///
/// [`StoreError::Database`] when the delete fails.
pub async fn prune(conn: &mut SqliteConnection, before_ms: i64) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM bridge_received WHERE received_at < ?")
        .bind(before_ms)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}
