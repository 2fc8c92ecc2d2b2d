//! The webhook tables: subscriptions (`webhooks`), the outbox
//! (`webhook_deliveries`, one row per subscription and event) and the fan-out
//! cursor (`webhook_cursor`). Every function is one statement or one
//! transaction; portable SQL as in the rest of the store.

use sqlx::Row as _;

use super::Delivery;
use super::DeliveryState;
use super::Webhook;
use crate::api::Published;
use crate::store::{Db, Store, StoreError};

/// A subscription to store.
pub(crate) struct NewRow<'a> {
    pub(crate) id: &'a str,
    pub(crate) url: &'a str,
    pub(crate) events: &'a [String],
    pub(crate) secret: &'a str,
    pub(crate) after_seq: i64,
    pub(crate) created_at: i64,
    pub(crate) created_by: &'a str,
}

/// A delivery whose time has come, with what sending it needs.
#[derive(Clone)]
pub(crate) struct Due {
    pub(crate) webhook_id: String,
    pub(crate) event_seq: i64,
    pub(crate) body: String,
    pub(crate) attempts: u32,
    pub(crate) created_at: i64,
    pub(crate) url: String,
    pub(crate) secret: String,
}

/// The outcome of one attempt, to record.
pub(crate) struct Attempt<'a> {
    pub(crate) at: i64,
    pub(crate) status: Option<u16>,
    pub(crate) error: Option<&'a str>,
}

pub(crate) async fn insert(store: &Store, w: &NewRow<'_>) -> Result<(), StoreError> {
    sqlx::query::<Db>(
        "INSERT INTO webhooks (id, url, events, secret, after_seq, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(w.id)
    .bind(w.url)
    .bind(w.events.join(" "))
    .bind(w.secret)
    .bind(w.after_seq)
    .bind(w.created_at)
    .bind(w.created_by)
    .execute(store.pool())
    .await?;
    Ok(())
}

pub(crate) async fn list(store: &Store) -> Result<Vec<Webhook>, StoreError> {
    let rows = sqlx::query::<Db>(
        "SELECT id, url, events, created_at, created_by FROM webhooks ORDER BY created_at, id",
    )
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let events: String = r.try_get("events")?;
            Ok(Webhook {
                id: r.try_get("id")?,
                url: r.try_get("url")?,
                events: events.split_whitespace().map(str::to_owned).collect(),
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
            })
        })
        .collect()
}

pub(crate) async fn exists(store: &Store, id: &str) -> Result<bool, StoreError> {
    let row = sqlx::query::<Db>("SELECT 1 AS one FROM webhooks WHERE id = $1")
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    Ok(row.is_some())
}

/// Removes a subscription and its outbox rows; whether it existed.
pub(crate) async fn remove(store: &Store, id: &str) -> Result<bool, StoreError> {
    let mut tx = store.pool().begin().await?;
    sqlx::query::<Db>("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let gone = sqlx::query::<Db>("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(gone > 0)
}

/// The last event the fan-out handled, if it ever ran.
pub(crate) async fn cursor(store: &Store) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query::<Db>("SELECT seq FROM webhook_cursor WHERE id = 1")
        .fetch_optional(store.pool())
        .await?;
    Ok(row.map(|r| r.try_get("seq")).transpose()?)
}

/// Writes one outbox row per subscription to `event` (made after it was
/// numbered), with `body`, and moves the cursor to it: one transaction.
/// Rows already there are kept as they are. Returns the rows added.
pub(crate) async fn enqueue(
    store: &Store,
    event: &Published,
    body: &str,
) -> Result<u64, StoreError> {
    let kind = event.event.kind.as_str();
    let mut tx = store.pool().begin().await?;
    // A write first: the transaction takes the write lock before it reads,
    // so another writer committing in between cannot make it fail (SQLite
    // refuses to upgrade a read made before that commit).
    save_cursor(&mut tx, event.seq).await?;
    let subs = sqlx::query::<Db>("SELECT id, events FROM webhooks WHERE after_seq < $1")
        .bind(event.seq)
        .fetch_all(&mut *tx)
        .await?;
    let mut added = 0;
    for sub in &subs {
        let events: String = sub.try_get("events")?;
        if !events.split_whitespace().any(|e| e == kind) {
            continue;
        }
        let id: String = sub.try_get("id")?;
        added += sqlx::query::<Db>(
            "INSERT INTO webhook_deliveries (webhook_id, event_seq, event_type, body, state,
                 attempts, created_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)
             ON CONFLICT (webhook_id, event_seq) DO NOTHING",
        )
        .bind(id)
        .bind(event.seq)
        .bind(kind)
        .bind(body)
        .bind(event.event.at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(added)
}

/// Moves the cursor to `seq` (never back).
pub(crate) async fn advance(store: &Store, seq: i64) -> Result<(), StoreError> {
    let mut conn = store.pool().acquire().await?;
    save_cursor(&mut conn, seq).await?;
    Ok(())
}

async fn save_cursor(
    conn: &mut <Db as sqlx::Database>::Connection,
    seq: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query::<Db>(
        "INSERT INTO webhook_cursor (id, seq) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET seq = CASE
             WHEN excluded.seq > webhook_cursor.seq THEN excluded.seq
             ELSE webhook_cursor.seq END",
    )
    .bind(seq)
    .execute(conn)
    .await
    .map(drop)
}

/// Pending deliveries due at `now`, oldest first, at most `limit`.
pub(crate) async fn due(store: &Store, now: i64, limit: u32) -> Result<Vec<Due>, StoreError> {
    let rows = sqlx::query::<Db>(
        "SELECT d.webhook_id, d.event_seq, d.body, d.attempts, d.created_at, w.url, w.secret
         FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE d.state = 'pending' AND d.next_attempt_at <= $1
         ORDER BY d.next_attempt_at, d.event_seq LIMIT $2",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let attempts: i64 = r.try_get("attempts")?;
            Ok(Due {
                webhook_id: r.try_get("webhook_id")?,
                event_seq: r.try_get("event_seq")?,
                body: r.try_get("body")?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                created_at: r.try_get("created_at")?,
                url: r.try_get("url")?,
                secret: r.try_get("secret")?,
            })
        })
        .collect()
}

/// The earliest time a pending delivery is due, if any is pending.
pub(crate) async fn next_due(store: &Store) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query::<Db>(
        "SELECT MIN(next_attempt_at) AS next FROM webhook_deliveries WHERE state = 'pending'",
    )
    .fetch_one(store.pool())
    .await?;
    Ok(row.try_get("next")?)
}

/// Records an attempt: `next` is `Some(time)` to try again then, `None`
/// with `state` delivered or failed to stop. A delivered row brings the
/// subscription's other pending rows forward to `at`: the receiver is back.
pub(crate) async fn record(
    store: &Store,
    d: &Due,
    attempt: &Attempt<'_>,
    state: DeliveryState,
    next: Option<i64>,
) -> Result<(), StoreError> {
    let mut tx = store.pool().begin().await?;
    sqlx::query::<Db>(
        "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1,
             last_attempt_at = $2, last_status = $3, last_error = $4,
             next_attempt_at = COALESCE($5, next_attempt_at)
         WHERE webhook_id = $6 AND event_seq = $7",
    )
    .bind(state.as_str())
    .bind(attempt.at)
    .bind(attempt.status.map(i64::from))
    .bind(attempt.error)
    .bind(next)
    .bind(&d.webhook_id)
    .bind(d.event_seq)
    .execute(&mut *tx)
    .await?;
    if state == DeliveryState::Delivered {
        sqlx::query::<Db>(
            "UPDATE webhook_deliveries SET next_attempt_at = $1
             WHERE webhook_id = $2 AND state = 'pending' AND next_attempt_at > $1",
        )
        .bind(attempt.at)
        .bind(&d.webhook_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A subscription's deliveries, newest event first, optionally in one
/// state, at most `limit`.
pub(crate) async fn deliveries(
    store: &Store,
    webhook_id: &str,
    state: Option<DeliveryState>,
    limit: u32,
) -> Result<Vec<Delivery>, StoreError> {
    let mut q = sqlx::QueryBuilder::<Db>::new(
        "SELECT event_seq, event_type, state, attempts, created_at, next_attempt_at,
                last_attempt_at, last_status, last_error
         FROM webhook_deliveries WHERE webhook_id = ",
    );
    q.push_bind(webhook_id);
    if let Some(state) = state {
        q.push(" AND state = ").push_bind(state.as_str());
    }
    q.push(" ORDER BY event_seq DESC LIMIT ")
        .push_bind(i64::from(limit));
    let rows = q.build().fetch_all(store.pool()).await?;
    rows.iter().map(delivery_from_row).collect()
}

fn delivery_from_row(r: &<Db as sqlx::Database>::Row) -> Result<Delivery, StoreError> {
    let seq: i64 = r.try_get("event_seq")?;
    let state: String = r.try_get("state")?;
    let state = DeliveryState::parse(&state)
        .ok_or_else(|| StoreError::Corrupt(format!("delivery of event {seq}: state {state:?}")))?;
    let attempts: i64 = r.try_get("attempts")?;
    let status: Option<i64> = r.try_get("last_status")?;
    let next: i64 = r.try_get("next_attempt_at")?;
    Ok(Delivery {
        event_id: super::event_id(seq),
        event_type: r.try_get("event_type")?,
        state,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        created_at: r.try_get("created_at")?,
        next_attempt_at: (state == DeliveryState::Pending).then_some(next),
        last_attempt_at: r.try_get("last_attempt_at")?,
        last_status: status.and_then(|s| u16::try_from(s).ok()),
        last_error: r.try_get("last_error")?,
    })
}

/// Outbox rows by state, for the metrics.
pub(crate) async fn counts(store: &Store) -> Result<Vec<(DeliveryState, i64)>, StoreError> {
    let rows =
        sqlx::query::<Db>("SELECT state, COUNT(*) AS n FROM webhook_deliveries GROUP BY state")
            .fetch_all(store.pool())
            .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let state: String = r.try_get("state")?;
        if let Some(state) = DeliveryState::parse(&state) {
            out.push((state, r.try_get("n")?));
        }
    }
    Ok(out)
}

/// Deletes delivered rows last attempted before `delivered`, and failed
/// ones before `failed` (unix ms).
pub(crate) async fn prune(store: &Store, delivered: i64, failed: i64) -> Result<u64, StoreError> {
    let done = sqlx::query::<Db>(
        "DELETE FROM webhook_deliveries
         WHERE (state = 'delivered' AND last_attempt_at < $1)
            OR (state = 'failed' AND last_attempt_at < $2)",
    )
    .bind(delivered)
    .bind(failed)
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected())
}
