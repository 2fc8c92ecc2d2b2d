//! The append-only audit log: who did what to what, and when.
//!
//! # Contract
//!
//! - Rows are numbered 1, 2, 3, … and only ever appended. Each row's `hash`
//!   is SHA-256 over the previous row's hash (64 zeros for row 1) and this
//!   row's fields, each length-prefixed ([`row_hash`]), so editing,
//!   inserting or deleting a row anywhere but at the end breaks every hash
//!   from there on and [`verify`] names the first broken row.
//! - Removing rows at the end leaves a shorter valid chain: keep the head
//!   hash [`verify`] returns somewhere else (a ticket, a printout, the
//!   cloud side) to detect that too.
//! - Appends in one process take turns on a lock; appends from two
//!   processes on one database (the node and a CLI) are kept apart by the
//!   primary key on `seq`: the writer that loses the race reads the new
//!   head and tries again.
//! - `detail` is JSON chosen by the caller. It never holds secrets or
//!   customer values: customers appear by id only.

use sha2::{Digest, Sha256};
use sqlx::Row as _;

use super::auth::Principal;
use super::users::hex;
use crate::store::{Db, Store, StoreError};

/// The `prev_hash` of row 1.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How often an append retries after losing the race for the next number.
const APPEND_ATTEMPTS: usize = 8;

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, in unix milliseconds.
    pub at: i64,
    /// The user who acted (`local` for the console).
    pub actor: String,
    /// Their role then.
    pub role: String,
    /// What they did: `user.create`, `call.hangup`, `customer.read`, …
    pub action: String,
    /// What they did it to: a user name, call id, customer id, CDR id, …
    pub target: String,
    /// More about it, as JSON text.
    pub detail: String,
    /// The previous row's hash.
    pub prev_hash: String,
    /// This row's hash.
    pub hash: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AuditVerdict {
    /// Every row's hash matches.
    Intact {
        /// Rows checked.
        rows: u64,
        /// The last row's hash (the genesis value for an empty log).
        head: String,
    },
    /// The chain breaks at `seq`.
    Broken {
        /// The first row that does not match.
        seq: i64,
        /// What does not match.
        reason: &'static str,
    },
}

/// SHA-256 over `prev_hash` and the row's fields, each as an 8-byte
/// big-endian length and the bytes; lowercase hex.
#[must_use]
pub fn row_hash(prev_hash: &str, e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    let seq = e.seq.to_be_bytes();
    let at = e.at.to_be_bytes();
    let fields: [&[u8]; 8] = [
        prev_hash.as_bytes(),
        &seq,
        &at,
        e.actor.as_bytes(),
        e.role.as_bytes(),
        e.action.as_bytes(),
        e.target.as_bytes(),
        e.detail.as_bytes(),
    ];
    for field in fields {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field);
    }
    hex(&h.finalize())
}

/// Appends a row for `actor` doing `action` to `target`; returns its
/// number.
///
/// # Errors
///
/// [`StoreError::Database`] when the database fails or the race for the
/// next number is lost too often.
pub async fn append(
    store: &Store,
    at: i64,
    actor: &Principal,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<i64, StoreError> {
    let mut entry = AuditEntry {
        seq: 0,
        at,
        actor: actor.user.clone(),
        role: actor.role.as_str().to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: detail.to_string(),
        prev_hash: String::new(),
        hash: String::new(),
    };
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = TURN.lock().await;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_append(store, &mut entry).await {
            Ok(()) => return Ok(entry.seq),
            Err(e) if attempt < APPEND_ATTEMPTS && lost_race(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether `e` means another writer got in first: the next number is
/// taken, or (SQLite) the database stayed busy past the busy timeout.
fn lost_race(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    db.is_unique_violation() || matches!(db.code().as_deref(), Some("5" | "517" | "40001"))
}

/// Reads the head, then inserts the next row in its own statement. No
/// transaction is needed: rows are only appended, so if number `n` is still
/// free, row `n - 1` is still the head; if another writer took `n` first,
/// the insert fails on the primary key and the caller tries again.
async fn try_append(store: &Store, entry: &mut AuditEntry) -> Result<(), sqlx::Error> {
    let head = sqlx::query::<Db>("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(store.pool())
        .await?;
    let (last, prev) = match head {
        Some(row) => (row.try_get::<i64, _>("seq")?, row.try_get("hash")?),
        None => (0, GENESIS.to_owned()),
    };
    entry.seq = last + 1;
    entry.hash = row_hash(&prev, entry);
    entry.prev_hash = prev;
    sqlx::query::<Db>(
        "INSERT INTO audit_log (seq, at, actor, role, action, target, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(entry.seq)
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.role)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(&entry.detail)
    .bind(&entry.prev_hash)
    .bind(&entry.hash)
    .execute(store.pool())
    .await
    .map(drop)
}

/// Up to `limit` rows after `after`, oldest first.
///
/// # Errors
///
/// [`StoreError::Database`].
pub async fn entries(store: &Store, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = sqlx::query::<Db>(
        "SELECT seq, at, actor, role, action, target, detail, prev_hash, hash
         FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(entry_from_row).collect()
}

fn entry_from_row(row: &<Db as sqlx::Database>::Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        role: row.try_get("role")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Rows read per query while verifying.
const VERIFY_PAGE: u32 = 1000;

/// Walks the whole chain and recomputes every hash.
///
/// # Errors
///
/// [`StoreError::Database`]; a broken chain is a verdict, not an error.
pub async fn verify(store: &Store) -> Result<AuditVerdict, StoreError> {
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1;
    loop {
        let page = entries(store, expected_seq - 1, VERIFY_PAGE).await?;
        for e in &page {
            if let Some(reason) = check_row(e, expected_seq, &prev) {
                return Ok(AuditVerdict::Broken { seq: e.seq, reason });
            }
            prev.clone_from(&e.hash);
            expected_seq += 1;
        }
        if page.len() < VERIFY_PAGE as usize {
            return Ok(AuditVerdict::Intact {
                rows: u64::try_from(expected_seq - 1).unwrap_or(0),
                head: prev,
            });
        }
    }
}

fn check_row(e: &AuditEntry, expected_seq: i64, prev: &str) -> Option<&'static str> {
    if e.seq != expected_seq {
        Some("rows are missing before this one")
    } else if e.prev_hash != prev {
        Some("prev_hash is not the previous row's hash")
    } else if row_hash(prev, e) != e.hash {
        Some("the row's content does not match its hash")
    } else {
        None
    }
}
