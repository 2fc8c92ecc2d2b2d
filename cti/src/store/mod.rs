//! The node's durable store: extensions (the SIP users it authenticates) and
//! call detail records.
//!
//! # Contract
//!
//! - [`Store`] is a cheap handle (clone it freely) on a connection pool. Every
//!   method is one short query or one transaction; nothing holds a connection
//!   between calls.
//! - [`Store::open`] creates the database if it is missing and applies the
//!   schema migrations in `cti/migrations/`, so any process — the running node
//!   or `switchyard ext …` beside it — can open the same file.
//! - Plain passwords never reach the database: an extension is stored as its
//!   digest HA1 for MD5 and SHA-256 together with the realm they were computed
//!   for. A realm change therefore needs new passwords.
//! - Call records go through [`CdrWriter`], which commits many of them per
//!   transaction and answers each caller only once its row is committed.
//!
//! # Backend
//!
//! SQLite is the embedded default. Its file is opened in WAL mode, so readers
//! never block the writer and another process may provision extensions while
//! the node runs, with `synchronous = NORMAL`: a committed transaction survives
//! a crash of the process, and only an operating-system crash or power loss
//! can take back the last few commits (the WAL is synced at checkpoints, not
//! on every commit). That is the trade chosen for call records, whose group
//! commit would otherwise wait for one fsync per batch.
//!
//! Every SQL statement (queries and migrations) is portable to PostgreSQL:
//! `$n` placeholders, `TEXT`/`INTEGER`/`BIGINT` columns, no `AUTOINCREMENT`,
//! `ON CONFLICT … DO NOTHING`. Only [`Store::open`] and the private `Db` alias name
//! the driver; `postgres://` URLs are refused with
//! [`StoreError::UnsupportedUrl`] until that driver is built in.

mod acd_state;
mod cdr;
mod conference_recording;
mod extension;
mod recording;
mod voicemail;
mod writer;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use acd_state::AcdStateWriter;
pub use cdr::{Cdr, CdrParties, Disposition, PartyQuality, Routing, WrapUp};
pub use conference_recording::ConferenceRecording;
pub use extension::{
    Extension, GENERATED_PASSWORD_LEN, SrtpPolicy, generate_password, validate_ext,
};
pub use recording::Recording;
pub use voicemail::Voicemail;
pub use writer::{CdrWriter, CdrWriterStats};

/// The database driver every query is written for: the one place, with
/// [`Store::open`], that changes when another backend is added.
pub(crate) type Db = sqlx::Sqlite;

/// How long a statement waits for another writer's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Pool size: one writer at a time plus concurrent readers (WAL).
const MAX_CONNECTIONS: u32 = 4;

/// A handle on the node's database. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: sqlx::Pool<Db>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An extension number outside the accepted form.
    #[error("invalid extension {ext:?}: {reason}")]
    InvalidExtension {
        /// The number as given.
        ext: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Another input value (password, realm, display name) was rejected.
    #[error("invalid {field}: {reason}")]
    InvalidValue {
        /// Which value.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// [`Store::add_extension`] for a number that is already provisioned.
    #[error("extension {0} already exists")]
    AlreadyExists(String),
    /// The URL names a database this build cannot open.
    #[error("unsupported store URL {url:?}: {reason}")]
    UnsupportedUrl {
        /// The URL as given.
        url: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// Connecting to (or creating) the database failed.
    #[error("cannot open the database {url}")]
    Open {
        /// The URL or path that was opened.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the schema migrations failed.
    #[error("cannot apply the schema migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A query or transaction failed. Shared, because one failed group commit
    /// is reported to every writer in it.
    #[error("database operation failed")]
    Database(#[source] Arc<sqlx::Error>),
    /// A stored row holds a value this version cannot read.
    #[error("stored row is not readable: {0}")]
    Corrupt(String),
    /// The [`CdrWriter`] task is gone (its runtime shut down).
    #[error("the call record writer has stopped")]
    WriterStopped,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(Arc::new(e))
    }
}

impl Store {
    /// Opens the database at `url` (`sqlite://PATH`, `sqlite:PATH`), creating
    /// the file if it is missing, and applies pending migrations.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnsupportedUrl`] for `postgres://` and unknown schemes,
    /// [`StoreError::Open`] when the file cannot be opened or created,
    /// [`StoreError::Migrate`] when the schema cannot be brought up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        if !url.starts_with("sqlite:") {
            return Err(unsupported(url));
        }
        let options = SqliteConnectOptions::from_str(url).map_err(|source| StoreError::Open {
            url: url.to_owned(),
            source,
        })?;
        Self::open_sqlite(options, url).await
    }

    /// Opens the database a node configuration names (`store.url`), as
    /// [`Store::open`] does.
    ///
    /// # Errors
    ///
    /// As [`Store::open`].
    pub async fn open_config(url: &config::StoreUrl) -> Result<Self, StoreError> {
        match url {
            config::StoreUrl::Sqlite(path) => Self::open_file(path).await,
            config::StoreUrl::Postgres(url) => Err(unsupported(url)),
        }
    }

    /// Opens (creating if missing) the SQLite file at `path`, as
    /// [`Store::open`] does; the path is used as is, never parsed as a URL.
    ///
    /// # Errors
    ///
    /// As [`Store::open`].
    pub async fn open_file(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new().filename(path);
        Self::open_sqlite(options, &path.display().to_string()).await
    }

    async fn open_sqlite(options: SqliteConnectOptions, url: &str) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT);
        // Switch a new file to WAL on one connection first: the pool below
        // opens all its connections at once, and concurrent journal-mode
        // changes would meet SQLITE_BUSY.
        {
            use sqlx::ConnectOptions as _;
            let first = options.connect().await.map_err(|source| StoreError::Open {
                url: url.to_owned(),
                source,
            })?;
            drop(first);
        }
        // Connections are opened once and kept: a node that runs out of file
        // descriptors under load (every call holds four sockets) must still
        // be able to write its call records.
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(MAX_CONNECTIONS)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                url: url.to_owned(),
                source,
            })?;
        migrator().run(&pool).await.map_err(StoreError::Migrate)?;
        tracing::debug!(url, "store opened");
        Ok(Self { pool })
    }

    /// Closes the pool, waiting for connections in use to be returned. Later
    /// operations on any clone fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &sqlx::Pool<Db> {
        &self.pool
    }
}

fn unsupported(url: &str) -> StoreError {
    let reason = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        "this build has the SQLite driver only"
    } else {
        "expected sqlite://PATH"
    };
    StoreError::UnsupportedUrl {
        url: url.to_owned(),
        reason,
    }
}

/// The schema, version by version. The files are embedded at build time.
fn migrator() -> Migrator {
    let step = |version, description, sql: &'static str| {
        Migration::new(
            version,
            Cow::Borrowed(description),
            MigrationType::Simple,
            sql.into_sql_str(),
            false,
        )
    };
    Migrator::with_migrations(vec![
        step(
            1,
            "extensions and cdrs",
            include_str!("../../migrations/0001_extensions_and_cdrs.sql"),
        ),
        step(
            2,
            "cdr media quality",
            include_str!("../../migrations/0002_cdr_media_quality.sql"),
        ),
        step(
            3,
            "recordings",
            include_str!("../../migrations/0003_recordings.sql"),
        ),
        step(
            4,
            "customers",
            include_str!("../../migrations/0004_customers.sql"),
        ),
        step(
            5,
            "cdr routing and voicemail",
            include_str!("../../migrations/0005_cdr_routing_and_voicemail.sql"),
        ),
        step(
            6,
            "users audit events",
            include_str!("../../migrations/0006_users_audit_events.sql"),
        ),
        step(
            7,
            "acd agent state",
            include_str!("../../migrations/0007_acd_state.sql"),
        ),
        step(
            8,
            "webhooks",
            include_str!("../../migrations/0008_webhooks.sql"),
        ),
        step(
            9,
            "bridge outbox",
            include_str!("../../migrations/0009_bridge_outbox.sql"),
        ),
        step(
            10,
            "standby activity",
            include_str!("../../migrations/0010_standby_activity.sql"),
        ),
        step(
            11,
            "bridge recorded",
            include_str!("../../migrations/0011_bridge_recorded.sql"),
        ),
        step(
            12,
            "extension srtp",
            include_str!("../../migrations/0012_extension_srtp.sql"),
        ),
        step(
            13,
            "conference recordings",
            include_str!("../../migrations/0013_conference_recordings.sql"),
        ),
        step(
            14,
            "cdr wrap up",
            include_str!("../../migrations/0014_cdr_wrap_up.sql"),
        ),
        step(
            15,
            "cdr agent answered at",
            include_str!("../../migrations/0015_cdr_agent_answered_at.sql"),
        ),
    ])
}
