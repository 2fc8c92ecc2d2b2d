//! Voicemail messages callers left from an IVR `voicemail` step: one row per
//! message, naming its mono WAV file. The audio itself lives in the file.

use sqlx::Row as _;

use super::{Db, Store, StoreError};

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voicemail {
    /// Unique id (the CDR id and the flow's recording id).
    pub id: String,
    /// The mailbox the flow named.
    pub mailbox: String,
    /// The CDR of the call that left it.
    pub cdr_id: String,
    /// Who called.
    pub caller: String,
    /// Where the WAV file is.
    pub path: std::path::PathBuf,
    /// Length of the message, in milliseconds.
    pub duration_ms: i64,
    /// When it was left, in milliseconds since the Unix epoch.
    pub created_at: i64,
}

impl Store {
    /// Indexes a message.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the insert fails.
    pub async fn add_voicemail(&self, v: &Voicemail) -> Result<(), StoreError> {
        sqlx::query::<Db>(
            "INSERT INTO voicemails (id, mailbox, cdr_id, caller, path, duration_ms, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&v.id)
        .bind(&v.mailbox)
        .bind(&v.cdr_id)
        .bind(&v.caller)
        .bind(v.path.to_string_lossy().into_owned())
        .bind(v.duration_ms)
        .bind(v.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The messages of `mailbox`, newest first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the query fails.
    pub async fn voicemails(&self, mailbox: &str) -> Result<Vec<Voicemail>, StoreError> {
        let rows = sqlx::query::<Db>(
            "SELECT id, mailbox, cdr_id, caller, path, duration_ms, created_at
             FROM voicemails WHERE mailbox = $1 ORDER BY created_at DESC, id",
        )
        .bind(mailbox)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let path: String = row.try_get("path")?;
                Ok(Voicemail {
                    id: row.try_get("id")?,
                    mailbox: row.try_get("mailbox")?,
                    cdr_id: row.try_get("cdr_id")?,
                    caller: row.try_get("caller")?,
                    path: path.into(),
                    duration_ms: row.try_get("duration_ms")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}
