//! The index of conference-room recordings: one row per recorded room
//! session, naming its mono WAV file. The audio itself lives in the file.
//!
//! A row is written when the room starts recording
//! ([`Store::add_conference_recording`]) and completed when the room empties
//! ([`Store::finish_conference_recording`]). A row still unfinished belongs to
//! a room recording now, or to one the node stopped before it emptied: its
//! file then holds what was written until then.

use sqlx::Row as _;

use super::{Db, Store, StoreError};

/// A conference room's recording, as indexed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConferenceRecording {
    /// Unique id of the recording.
    pub id: String,
    /// The room's name, as the flow's `conference` step gave it.
    pub room: String,
    /// Where the WAV file is, as the node wrote it. Never shown in the API.
    #[serde(skip)]
    pub path: String,
    /// When the recording began, in milliseconds since the Unix epoch.
    pub started_at: i64,
    /// How much audio the file holds, in milliseconds (0 until finished).
    pub duration_ms: i64,
    /// How many callers were in the room while it recorded.
    pub participants: i64,
    /// false while recording (or when the node stopped before the room emptied)
    pub finished: bool,
}

impl Store {
    /// Indexes a recording that has just started (duration 0, not finished).
    ///
    /// The row holds `rec` as given; a room task passes `duration_ms: 0`,
    /// `finished: false` and completes the row with
    /// [`Store::finish_conference_recording`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the insert fails (also when a recording
    /// with that id is indexed already).
    pub async fn add_conference_recording(
        &self,
        rec: &ConferenceRecording,
    ) -> Result<(), StoreError> {
        sqlx::query::<Db>(
            "INSERT INTO conference_recordings
                 (id, room, path, started_at, duration_ms, participants, finished)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&rec.id)
        .bind(&rec.room)
        .bind(&rec.path)
        .bind(rec.started_at)
        .bind(rec.duration_ms)
        .bind(rec.participants)
        .bind(i64::from(rec.finished))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Completes the row: its length and how many callers took part; marks it finished.
    ///
    /// An unknown `id` changes nothing. Finishing a row again replaces its
    /// length and count.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the update fails.
    pub async fn finish_conference_recording(
        &self,
        id: &str,
        duration_ms: i64,
        participants: i64,
    ) -> Result<(), StoreError> {
        sqlx::query::<Db>(
            "UPDATE conference_recordings
             SET duration_ms = $2, participants = $3, finished = 1
             WHERE id = $1",
        )
        .bind(id)
        .bind(duration_ms)
        .bind(participants)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Newest first, at most `limit`, optionally only room `room`.
    ///
    /// Recordings that began at the same millisecond come in id order. A
    /// `limit` below 1 gives none.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the query fails or a row is unreadable.
    pub async fn conference_recordings(
        &self,
        room: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ConferenceRecording>, StoreError> {
        let rows = sqlx::query::<Db>(
            "SELECT id, room, path, started_at, duration_ms, participants, finished
             FROM conference_recordings
             WHERE ($1 IS NULL OR room = $1)
             ORDER BY started_at DESC, id
             LIMIT $2",
        )
        .bind(room)
        .bind(limit.max(0))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// One recording by id.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the query fails or the row is unreadable.
    pub async fn conference_recording(
        &self,
        id: &str,
    ) -> Result<Option<ConferenceRecording>, StoreError> {
        let row = sqlx::query::<Db>(
            "SELECT id, room, path, started_at, duration_ms, participants, finished
             FROM conference_recordings WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }
}

/// A row of `conference_recordings`, all columns selected.
fn from_row(row: &<Db as sqlx::Database>::Row) -> Result<ConferenceRecording, StoreError> {
    let finished: i64 = row.try_get("finished")?;
    let finished = match finished {
        0 => false,
        1 => true,
        other => {
            return Err(StoreError::Corrupt(format!(
                "conference recording finished flag {other}"
            )));
        }
    };
    Ok(ConferenceRecording {
        id: row.try_get("id")?,
        room: row.try_get("room")?,
        path: row.try_get("path")?,
        started_at: row.try_get("started_at")?,
        duration_ms: row.try_get("duration_ms")?,
        participants: row.try_get("participants")?,
        finished,
    })
}
