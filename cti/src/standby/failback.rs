//! Store rows that cross between a primary and its standby, as column →
//! value maps (JSON inside sealed items), so both ends need only agree on
//! table names; each end keeps the columns its own table has.
//!
//! - **Hand-back**: the rows of the standby's call records and recordings (of
//!   calls and of conference rooms),
//!   merged into the primary's store with `INSERT OR IGNORE` by primary key:
//!   a row handed back twice is stored once. The standby forgets a row when
//!   the primary says it merged it.
//! - **Agent state**: the primary's ACD agent tables (presence, skills,
//!   queue memberships) replace the standby's, so agents who were logged in
//!   are logged in when the standby takes over.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Column, Row as _, TypeInfo, ValueRef};
use sync_bridge::wire::ItemKey;

use crate::store::Store;

/// The tables handed back, with their primary key column. Names come from
/// this list only, never from the wire. `standby_activity` is where the
/// primary keeps the agent events the standby recorded (its `events` rows
/// with an agent).
pub(crate) const TABLES: &[(&str, &str)] = &[
    ("cdrs", "id"),
    ("recordings", "cdr_id"),
    ("conference_recordings", "id"),
    ("standby_activity", "key"),
];

/// The ACD agent tables a standby copies.
pub(crate) const AGENT_TABLES: &[&str] = &["acd_agents", "acd_agent_skills", "acd_agent_tiers"];

/// A row as column → value.
pub(crate) type Columns = BTreeMap<String, Value>;

/// Every row of `table` (a name from [`TABLES`] or [`AGENT_TABLES`]).
pub(crate) async fn table(store: &Store, table: &str) -> Result<Vec<Columns>, sqlx::Error> {
    if !known(table) {
        return Ok(Vec::new());
    }
    // Table names come from the lists above only.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
        .fetch_all(store.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut columns = BTreeMap::new();
        for (i, column) in row.columns().iter().enumerate() {
            columns.insert(column.name().to_owned(), value(&row, i)?);
        }
        out.push(columns);
    }
    Ok(out)
}

fn known(table: &str) -> bool {
    TABLES.iter().any(|(t, _)| *t == table) || AGENT_TABLES.contains(&table)
}

/// Makes `store`'s agent tables exactly `tables` (name → rows), in one
/// transaction; tables not named are left alone.
pub(crate) async fn replace_agent_tables(
    store: &Store,
    tables: &BTreeMap<String, Vec<Columns>>,
) -> Result<(), sqlx::Error> {
    let mut tx = store.pool().begin().await?;
    for name in AGENT_TABLES {
        let Some(rows) = tables.get(*name) else {
            continue;
        };
        let ours = column_names(&mut tx, name).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {name}")))
            .execute(&mut *tx)
            .await?;
        for row in rows {
            insert(&mut tx, name, &ours, row, false).await?;
        }
    }
    tx.commit().await
}

async fn column_names(
    conn: &mut sqlx::SqliteConnection,
    table: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let info: Vec<(i64, String, String, i64, Option<String>, i64)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("PRAGMA table_info({table})")))
            .fetch_all(conn)
            .await?;
    Ok(info.into_iter().map(|c| c.1).collect())
}

/// Inserts the columns of `row` that `table` has (`ours`); `false` when it has
/// none of them.
async fn insert(
    conn: &mut sqlx::SqliteConnection,
    table: &str,
    ours: &[String],
    row: &Columns,
    or_ignore: bool,
) -> Result<bool, sqlx::Error> {
    let columns: Vec<(&String, &Value)> =
        row.iter().filter(|(name, _)| ours.contains(name)).collect();
    if columns.is_empty() {
        return Ok(false);
    }
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let marks = vec!["?"; names.len()].join(", ");
    let verb = if or_ignore {
        "INSERT OR IGNORE"
    } else {
        "INSERT"
    };
    let sql = format!(
        "{verb} INTO {table} ({}) VALUES ({marks})",
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
    query.execute(conn).await?;
    Ok(true)
}

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

/// Every row the standby hands back: its call records, recordings, and
/// agent events.
pub(crate) async fn rows(store: &Store) -> Result<Vec<Row>, sqlx::Error> {
    let mut out = agent_events(store).await?;
    for (name, pk) in TABLES {
        if *name == "standby_activity" {
            continue;
        }
        for columns in table(store, name).await? {
            let key = match columns.get(*pk) {
                Some(Value::String(k)) => k.clone(),
                _ => continue,
            };
            out.push(Row {
                table: (*name).to_owned(),
                key,
                columns,
            });
        }
    }
    Ok(out)
}

/// The standby's agent events as `standby_activity` rows.
async fn agent_events(store: &Store) -> Result<Vec<Row>, sqlx::Error> {
    let events: Vec<(i64, i64, String, Option<String>, String)> = sqlx::query_as(
        "SELECT seq, at, kind, agent, data FROM events WHERE agent IS NOT NULL ORDER BY seq",
    )
    .fetch_all(store.pool())
    .await?;
    Ok(events
        .into_iter()
        .map(|(seq, at, kind, agent, data)| {
            let key = seq.to_string();
            let mut columns = BTreeMap::new();
            columns.insert("key".to_owned(), Value::from(key.clone()));
            columns.insert("at".to_owned(), Value::from(at));
            columns.insert("kind".to_owned(), Value::from(kind));
            columns.insert("agent".to_owned(), agent.map_or(Value::Null, Value::from));
            columns.insert("data".to_owned(), Value::from(data));
            Row {
                table: "standby_activity".to_owned(),
                key,
                columns,
            }
        })
        .collect())
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
    let mut conn = store.pool().acquire().await?;
    let ours = column_names(&mut conn, table).await?;
    insert(&mut conn, table, &ours, &row.columns, true).await
}

/// Deletes a merged row from the standby's store.
pub(crate) async fn forget(store: &Store, table: &str, key: &str) -> Result<(), sqlx::Error> {
    if table == "standby_activity" {
        let seq: i64 = key.parse().unwrap_or(-1);
        sqlx::query("DELETE FROM events WHERE seq = ?")
            .bind(seq)
            .execute(store.pool())
            .await?;
        return Ok(());
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ConferenceRecording;

    async fn store(dir: &std::path::Path, name: &str) -> Store {
        Store::open_file(&dir.join(name)).await.expect("a store")
    }

    #[tokio::test]
    async fn a_room_recording_made_on_the_standby_is_handed_back_once() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (standby, primary) = (
            store(dir.path(), "s.db").await,
            store(dir.path(), "p.db").await,
        );
        let rec = ConferenceRecording {
            id: "huddle-1750000000000".to_owned(),
            room: "huddle".to_owned(),
            path: "/data/recordings/conference/huddle-1750000000000.wav".to_owned(),
            started_at: 1_750_000_000_000,
            duration_ms: 61_000,
            participants: 3,
            finished: true,
        };
        standby
            .add_conference_recording(&rec)
            .await
            .expect("indexed");
        let rows = rows(&standby).await.expect("rows");
        let row = rows
            .iter()
            .find(|r| r.table == "conference_recordings")
            .expect("handed back");
        assert_eq!(row.key, rec.id);
        for _ in 0..2 {
            assert!(merge(&primary, row).await.expect("merged"));
        }
        let merged = primary
            .conference_recordings(None, 10)
            .await
            .expect("listed");
        assert_eq!(merged, std::slice::from_ref(&rec), "stored once, as it was");
        forget(&standby, &row.table, &row.key)
            .await
            .expect("forgotten");
        assert_eq!(
            standby.conference_recording(&rec.id).await.expect("read"),
            None
        );
    }
}
