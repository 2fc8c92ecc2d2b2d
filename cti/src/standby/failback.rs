//! Handing back what a standby did while it served: the rows of its call
//! records and recordings, merged into the primary's store by primary key.
//!
//! Rows travel as column → value maps (JSON inside the sealed item), so both
//! ends need only agree on table names. The primary keeps the columns its own
//! table has and inserts with `INSERT OR IGNORE`: a row handed back twice is
//! stored once. The standby forgets a row when the primary says it merged it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Column, Row as _, TypeInfo, ValueRef};
use sync_bridge::wire::ItemKey;

use crate::store::Store;

/// The tables handed back, with their primary key column. Names come from
/// this list only, never from the wire.
pub(crate) const TABLES: &[(&str, &str)] = &[("cdrs", "id"), ("recordings", "cdr_id")];

/// One row handed back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Row {
    pub(crate) table: String,
    pub(crate) key: String,
    pub(crate) columns: BTreeMap<String, Value>,
}

impl Row {
    /// The row's idempotency key on the link.
    pub(crate) fn item_key(&self) -> ItemKey {
        let hash = Sha256::new()
            .chain_update(b"switchyard failback row\0")
            .chain_update(self.table.as_bytes())
            .chain_update([0])
            .chain_update(self.key.as_bytes())
            .finalize();
        let mut key = [0; 16];
        key.copy_from_slice(&hash[..16]);
        ItemKey::from_u128(u128::from_be_bytes(key))
    }
}

/// Every row of the handed-back tables in `store`.
pub(crate) async fn rows(store: &Store) -> Result<Vec<Row>, sqlx::Error> {
    let mut out = Vec::new();
    for (table, pk) in TABLES {
        // Table names come from `TABLES` only.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
            .fetch_all(store.pool())
            .await?;
        for row in rows {
            let mut columns = BTreeMap::new();
            for (i, column) in row.columns().iter().enumerate() {
                columns.insert(column.name().to_owned(), value(&row, i)?);
            }
            let key = match columns.get(*pk) {
                Some(Value::String(k)) => k.clone(),
                _ => continue,
            };
            out.push(Row {
                table: (*table).to_owned(),
                key,
                columns,
            });
        }
    }
    Ok(out)
}

fn value(row: &sqlx::sqlite::SqliteRow, i: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let kind = raw.type_info().name().to_owned();
    Ok(match kind.as_str() {
        "INTEGER" => Value::from(row.try_get::<i64, _>(i)?),
        "REAL" => Value::from(row.try_get::<f64, _>(i)?),
        "TEXT" => Value::from(row.try_get::<String, _>(i)?),
        _ => Value::Null,
    })
}

/// Inserts `row` into `store` unless a row with its key is there; `false`
/// for a table that is not handed back.
pub(crate) async fn merge(store: &Store, row: &Row) -> Result<bool, sqlx::Error> {
    let Some((table, _)) = TABLES.iter().find(|(t, _)| *t == row.table) else {
        return Ok(false);
    };
    let ours: Vec<(i64, String, String, i64, Option<String>, i64)> = sqlx::query_as(
        sqlx::AssertSqlSafe(format!("PRAGMA table_info({table})")),
    )
    .fetch_all(store.pool())
    .await?;
    let columns: Vec<(&String, &Value)> = row
        .columns
        .iter()
        .filter(|(name, _)| ours.iter().any(|c| &c.1 == *name))
        .collect();
    if columns.is_empty() {
        return Ok(false);
    }
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let marks = vec!["?"; names.len()].join(", ");
    let sql = format!(
        "INSERT OR IGNORE INTO {table} ({}) VALUES ({marks})",
        names.join(", ")
    );
    // Table and column names are the table's own; values are bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (_, v) in columns {
        query = match v {
            Value::Null => query.bind(None::<i64>),
            Value::Bool(b) => query.bind(i64::from(*b)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => query.bind(i),
                None => query.bind(n.as_f64()),
            },
            Value::String(s) => query.bind(s.clone()),
            other => query.bind(other.to_string()),
        };
    }
    query.execute(store.pool()).await?;
    Ok(true)
}

/// Deletes a merged row from the standby's store.
pub(crate) async fn forget(store: &Store, table: &str, key: &str) -> Result<(), sqlx::Error> {
    let Some((table, pk)) = TABLES.iter().find(|(t, _)| *t == table) else {
        return Ok(());
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {table} WHERE {pk} = ?"
    )))
    .bind(key)
    .execute(store.pool())
    .await?;
    Ok(())
}
