//! The index of call recordings: one row per recorded call, naming the WAV
//! file and how much audio it holds. The audio itself lives in the file.

use sqlx::Row as _;

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
        sqlx::query::<Db>(
            "INSERT INTO recordings (cdr_id, path, started_at, duration_ms)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&recording.cdr_id)
        .bind(&recording.path)
        .bind(recording.started_at)
        .bind(recording.duration_ms)
        .execute(self.pool())
        .await?;
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
