//! The durable outbox table in the node's SQLite store.
//!
//! Contract:
//!
//! - Create the table with [`OUTBOX_SCHEMA`] (idempotent).
//! - [`enqueue`] runs on the caller's connection, normally inside the
//!   transaction that writes the data the item describes, so the item commits
//!   or rolls back with it. A key already in the table is left as it is.
//! - [`load_pending`] returns items most urgent first, then in insertion
//!   order; feed them to [`super::Outbox::handle_enqueue`] (keys already held
//!   there are ignored).
//! - [`remove`] deletes acknowledged items.
//!
//! The table is SQLite's (`INTEGER PRIMARY KEY` row ids, `BLOB`); a
//! PostgreSQL store would need `BIGSERIAL` and `BYTEA` in its own migration.

use sqlx::{Row as _, SqliteConnection, SqlitePool};

use crate::wire::{Item, ItemKey, Kind, Priority};

/// Creates the outbox table and its index, if missing.
pub const OUTBOX_SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS bridge_outbox (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    priority    INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    payload     BLOB NOT NULL,
    enqueued_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS bridge_outbox_order ON bridge_outbox (priority, id);
";

/// A database operation on the outbox or the receiver's table failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed.
    #[error("bridge table: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored row does not hold a valid item.
    #[error("bridge_outbox row {id}: invalid {column}")]
    Corrupt {
        /// The row id.
        id: i64,
        /// The column that does not parse.
        column: &'static str,
    },
}

/// Creates the outbox table on `conn` if it is missing.
///
/// # Errors
///
/// [`StoreError::Database`] when the statement fails.
pub async fn create_table(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    sqlx::raw_sql(OUTBOX_SCHEMA).execute(&mut *conn).await?;
    Ok(())
}

/// Adds `item` on `conn` (the caller's open transaction, typically), stamped
/// `enqueued_at_ms`. Returns `false` when the key was already there.
///
/// # Errors
///
/// [`StoreError::Database`] when the insert fails.
pub async fn enqueue(
    conn: &mut SqliteConnection,
    item: &Item,
    enqueued_at_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO bridge_outbox (key, priority, kind, payload, enqueued_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
    )
    .bind(item.key().to_string())
    .bind(i64::from(item.priority().rank()))
    .bind(item.kind().to_string())
    .bind(item.payload())
    .bind(enqueued_at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Up to `limit` stored items, most urgent class first, then in insertion
/// order.
///
/// # Errors
///
/// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for
/// a row that does not hold a valid item.
pub async fn load_pending(pool: &SqlitePool, limit: u32) -> Result<Vec<Item>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, key, priority, kind, payload FROM bridge_outbox \
         ORDER BY priority, id LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            let corrupt = |column| StoreError::Corrupt { id, column };
            let key = ItemKey::parse_hex(row.try_get("key")?).ok_or(corrupt("key"))?;
            let priority =
                Priority::from_rank(row.try_get("priority")?).ok_or(corrupt("priority"))?;
            let kind = Kind::parse(row.try_get("kind")?).ok_or(corrupt("kind"))?;
            let payload: Vec<u8> = row.try_get("payload")?;
            Ok(Item::from_parts(key, priority, kind, payload))
        })
        .collect()
}

/// Deletes the items with these keys (unknown keys are ignored). Returns how
/// many rows went.
///
/// # Errors
///
/// [`StoreError::Database`] when a delete fails; the transaction is then
/// rolled back and nothing is deleted.
pub async fn remove(pool: &SqlitePool, keys: &[ItemKey]) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let mut removed = 0;
    for key in keys {
        removed += sqlx::query("DELETE FROM bridge_outbox WHERE key = ?")
            .bind(key.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
    Ok(removed)
}

/// How many items the table holds.
///
/// # Errors
///
/// [`StoreError::Database`] when the query fails.
pub async fn count(pool: &SqlitePool) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bridge_outbox")
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}
