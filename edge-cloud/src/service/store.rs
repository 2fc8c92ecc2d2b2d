//! The cloud's analytics store (SQLite, `DATA_DIR/cloud.db`).
//!
//! * `bridge_received`: every item key accepted, so a redelivered record is a
//!   no-op (exactly once in effect);
//! * `call_records`: the classified call records, one row per call, as JSON;
//! * `findings`: transcripts (redacted) and sentiment per utterance;
//! * `statistics`: each queue's and agent's figures per reporting period, as
//!   JSON, one row per subject and period.
//!
//! Everything here went through the node's classifier first: pseudonyms, labels,
//! figures and redacted text, nothing that names a customer.

use std::path::Path;
use std::str::FromStr as _;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sync_bridge::classify::{AgentStats, CallRecord, QueueStats, ResultBody};
use sync_bridge::outbox::dedup;
use sync_bridge::wire::ItemKey;

use super::Finding;

const SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS call_records (
    key        TEXT PRIMARY KEY,
    call       TEXT NOT NULL,
    caller     TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    record     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS findings (
    key       TEXT PRIMARY KEY,
    call      TEXT NOT NULL,
    party     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    text      TEXT NOT NULL,
    sentiment REAL NOT NULL,
    at        INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS statistics (
    key          TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    period_start INTEGER NOT NULL,
    period_ms    INTEGER NOT NULL,
    figures      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS statistics_by_period ON statistics (period_start, kind);
";

/// The store, cheap to clone.
#[derive(Debug, Clone)]
pub struct CloudStore {
    pool: SqlitePool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl CloudStore {
    /// Opens (creating) the store at `path`.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let mut conn = pool.acquire().await?;
        sqlx::raw_sql(SCHEMA).execute(&mut *conn).await?;
        dedup::create_table(&mut conn)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        drop(conn);
        Ok(Self { pool })
    }

    /// Stores `record` under `key` once: `false` when the key was seen before.
    ///
    /// # Errors
    ///
    /// The database error (nothing was stored).
    pub async fn add_record(&self, key: ItemKey, record: &CallRecord) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let fresh = dedup::accept(&mut tx, key, now_ms())
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        if fresh {
            let json =
                serde_json::to_string(record).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            sqlx::query(
                "INSERT INTO call_records (key, call, caller, started_at, record) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(format!("{:032x}", key.as_u128()))
            .bind(record.call().to_string())
            .bind(record.caller().to_string())
            .bind(record.started_at_ms())
            .bind(json)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(fresh)
    }

    /// Stores a queue's figures for a period once: `false` when the key was
    /// seen before.
    ///
    /// # Errors
    ///
    /// The database error (nothing was stored).
    pub async fn add_queue_stats(&self, key: ItemKey, s: &QueueStats) -> Result<bool, sqlx::Error> {
        let subject = s.queue().to_string();
        self.add_stats(
            key,
            "queue",
            &subject,
            s.period_start_ms(),
            s.period_ms(),
            s,
        )
        .await
    }

    /// Stores an agent's figures for a period once: `false` when the key was
    /// seen before.
    ///
    /// # Errors
    ///
    /// The database error (nothing was stored).
    pub async fn add_agent_stats(&self, key: ItemKey, s: &AgentStats) -> Result<bool, sqlx::Error> {
        let subject = s.agent().to_string();
        self.add_stats(
            key,
            "agent",
            &subject,
            s.period_start_ms(),
            s.period_ms(),
            s,
        )
        .await
    }

    async fn add_stats(
        &self,
        key: ItemKey,
        kind: &str,
        subject: &str,
        period_start: i64,
        period_ms: u32,
        figures: &impl serde::Serialize,
    ) -> Result<bool, sqlx::Error> {
        let json =
            serde_json::to_string(figures).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        let fresh = dedup::accept(&mut tx, key, now_ms())
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        if fresh {
            sqlx::query(
                "INSERT INTO statistics (key, kind, subject, period_start, period_ms, figures) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(format!("{:032x}", key.as_u128()))
            .bind(kind)
            .bind(subject)
            .bind(period_start)
            .bind(i64::from(period_ms))
            .bind(json)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(fresh)
    }

    /// Records a key of an item kept nowhere else, for idempotency.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn note_other(&self, key: ItemKey) -> Result<bool, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        dedup::accept(&mut conn, key, now_ms())
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))
    }

    /// Stores a transcript or sentiment finding (once per key).
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn add_finding(&self, found: &Finding) -> Result<(), sqlx::Error> {
        let (call, speaker, kind) = match &found.body {
            ResultBody::Transcript(t) => (t.call(), t.speaker(), "transcript"),
            ResultBody::Sentiment(s) => (s.call(), s.speaker(), "sentiment"),
            _ => return Ok(()),
        };
        sqlx::query(
            "INSERT INTO findings (key, call, party, kind, text, sentiment, at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        )
        .bind(format!("{:032x}", found.key().as_u128()))
        .bind(call.to_string())
        .bind(format!("{speaker:?}").to_lowercase())
        .bind(kind)
        .bind(&found.text)
        .bind(found.sentiment)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Call records stored.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn record_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM call_records")
            .fetch_one(&self.pool)
            .await
    }
}
