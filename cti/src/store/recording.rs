//! The index of call recordings: one row per recorded call, naming the WAV
//! file and how much audio it holds. The audio itself lives in the file.
//!
//! A recording whose call missed live audio to the sync bridge is indexed
//! together with its audio's outbox rows and the `bridge_recorded` row that
//! names the call for results (see [`Store::add_recording_for_bridge`]).

use sqlx::Row as _;
use sync_bridge::outbox::store as outbox_store;
use sync_bridge::wire::Item;

use super::{Db, Store, StoreError};

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The id of the call's CDR.
    pub cdr_id: String,
    /// Where the WAV file is, as the node wrote it.
    pub path: String,
    /// When the recording began, in milliseconds since the Unix epoch.
    pub started_at: i64,
    /// How much audio the file holds, in milliseconds.
    pub duration_ms: i64,
}

impl Store {
    /// Indexes a finished recording.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the insert fails (also when the call
    /// already has a recording).
    pub async fn add_recording(&self, recording: &Recording) -> Result<(), StoreError> {
        insert_recording(recording).execute(self.pool()).await?;
        Ok(())
    }

    /// Indexes a finished recording and, in the same transaction, queues its
    /// audio for the sync bridge: `segments` go to the outbox (stamped
    /// `now_ms`), and `call_ref` (the bridge's name for the call, hex) is
    /// remembered as naming the call's CDR and SIP `call_id`, for the results
    /// that come back. A call reference already remembered is left as it is.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when a write fails (also when the call already
    /// has a recording); nothing is written then.
    pub(crate) async fn add_recording_for_bridge(
        &self,
        recording: &Recording,
        (call_ref, call_id): (&str, &str),
        segments: &[Item],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        insert_recording(recording).execute(&mut *tx).await?;
        queue_for_bridge(
            &mut tx,
            &recording.cdr_id,
            (call_ref, call_id),
            segments,
            now_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// As [`Store::add_recording_for_bridge`] for a recording indexed already
    /// (one stopped before its call ended): only the call's name and the
    /// segments are written, in one transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when a write fails (nothing is written).
    pub(crate) async fn queue_recording_for_bridge(
        &self,
        cdr_id: &str,
        names: (&str, &str),
        segments: &[Item],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        queue_for_bridge(&mut tx, cdr_id, names, segments, now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The recording of the call whose CDR id is `cdr_id`, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the query fails or the row is unreadable.
    pub async fn recording(&self, cdr_id: &str) -> Result<Option<Recording>, StoreError> {
        let row = sqlx::query::<Db>(
            "SELECT cdr_id, path, started_at, duration_ms FROM recordings WHERE cdr_id = $1",
        )
        .bind(cdr_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(Recording {
            cdr_id: row.try_get("cdr_id")?,
            path: row.try_get("path")?,
            started_at: row.try_get("started_at")?,
            duration_ms: row.try_get("duration_ms")?,
        }))
    }
}

/// The index row of `recording`.
fn insert_recording(
    recording: &Recording,
) -> sqlx::query::Query<'_, Db, <Db as sqlx::Database>::Arguments> {
    sqlx::query::<Db>(
        "INSERT INTO recordings (cdr_id, path, started_at, duration_ms)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&recording.cdr_id)
    .bind(&recording.path)
    .bind(recording.started_at)
    .bind(recording.duration_ms)
}

/// Names the call for the results of its recorded audio, and queues the
/// audio's segments in the outbox.
async fn queue_for_bridge(
    tx: &mut sqlx::Transaction<'_, Db>,
    cdr_id: &str,
    (call_ref, call_id): (&str, &str),
    segments: &[Item],
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query::<Db>(
        "INSERT INTO bridge_recorded (call_ref, cdr_id, call_id, recorded_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (call_ref) DO NOTHING",
    )
    .bind(call_ref)
    .bind(cdr_id)
    .bind(call_id)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    for item in segments {
        outbox_store::enqueue(tx, item, now_ms)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    }
    Ok(())
}
