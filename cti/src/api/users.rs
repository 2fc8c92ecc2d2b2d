//! API users, their passwords and their bearer tokens.
//!
//! # Contract
//!
//! - A password is stored only as an Argon2id hash (PHC string, random
//!   16-byte salt); a token only as the SHA-256 of its text. The plain
//!   token is returned once, in [`IssuedToken`], and never again.
//! - Tokens are `sy_` followed by 32 random bytes in unpadded base64url.
//!   API tokens do not expire (they are revoked by removing them or the
//!   user); session tokens from a password login expire after the
//!   configured time.
//! - [`create`] is the way to make the first administrator (the CLI calls
//!   it); it writes an audit row with the actor `local`.
//! - Validation errors name the field, never the value.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use sqlx::Row as _;

use super::audit;
use super::auth::{Principal, Role};
use crate::store::{Db, Store, StoreError};

/// Longest user name, in bytes.
const NAME_MAX_LEN: usize = 64;
/// Shortest and longest accepted password, in characters.
const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 10..=128;
/// Longest queue or agent id.
const ID_MAX_LEN: usize = 64;

/// A user to create.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Login name: 1–64 characters of `[A-Za-z0-9._@-]`.
    pub name: String,
    /// Password: 10–128 characters, no control characters.
    pub password: String,
    /// What the user may do.
    pub role: Role,
    /// The user's agent id (their extension), for agents and supervisors
    /// who also take calls.
    pub agent: Option<String>,
    /// The queues a supervisor supervises.
    pub queues: Vec<String>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("agent", &self.agent)
            .field("queues", &self.queues)
            .finish_non_exhaustive()
    }
}

/// A stored user (without their password hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Agent id, if any.
    pub agent: Option<String>,
    /// Supervised queues.
    pub queues: Vec<String>,
    /// When the user was made, unix milliseconds.
    pub created_at: i64,
}

/// A token as issued: the only time its text is available.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct IssuedToken {
    /// The bearer token text.
    pub token: String,
    /// When it stops working (unix ms); `None` for API tokens.
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Why a user operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// A value was rejected; the message names the field.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which value.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A user with this name exists.
    #[error("user {0} already exists")]
    AlreadyExists(String),
    /// No user has this name.
    #[error("no user {0}")]
    UnknownUser(String),
    /// Password hashing failed (never for valid input).
    #[error("password hashing failed")]
    Hash,
    /// The database failed.
    #[error("user store operation failed")]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for UserError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::from(e))
    }
}

impl From<UserError> for super::ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Invalid { .. } => Self::bad_request(e.to_string()),
            UserError::AlreadyExists(_) => Self::conflict(e.to_string()),
            UserError::UnknownUser(_) => Self::not_found(e.to_string()),
            UserError::Hash | UserError::Store(_) => Self::internal(&e),
        }
    }
}

/// Creates a user and an API token for them, recording `created by local`
/// in the audit log. For the CLI's `users add`.
///
/// # Errors
///
/// [`UserError::Invalid`], [`UserError::AlreadyExists`], [`UserError::Store`].
pub async fn create(store: &Store, user: NewUser, now_ms: i64) -> Result<IssuedToken, UserError> {
    let actor = Principal::local();
    insert(store, &user, now_ms).await?;
    let token = issue(
        store,
        &user.name,
        TokenKind::Api,
        Some("initial"),
        None,
        now_ms,
    )
    .await?;
    audit::append(
        store,
        now_ms,
        &actor,
        "user.create",
        &user.name,
        serde_json::json!({ "role": user.role, "agent": user.agent, "queues": user.queues }),
    )
    .await?;
    Ok(token)
}

/// Inserts `user` (no token, no audit row).
pub(crate) async fn insert(store: &Store, user: &NewUser, now_ms: i64) -> Result<(), UserError> {
    validate(user)?;
    let hash = hash_password(&user.password).await?;
    let mut tx = store.pool().begin().await?;
    let inserted = sqlx::query::<Db>(
        "INSERT INTO users (name, password_hash, role, agent, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&user.name)
    .bind(hash)
    .bind(user.role.as_str())
    .bind(&user.agent)
    .bind(now_ms)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(UserError::AlreadyExists(user.name.clone()));
        }
        Err(e) => return Err(e.into()),
    }
    for queue in &user.queues {
        sqlx::query::<Db>(
            "INSERT INTO user_queues (user_name, queue) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&user.name)
        .bind(queue)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn validate(user: &NewUser) -> Result<(), UserError> {
    let invalid = |field, reason| Err(UserError::Invalid { field, reason });
    if !valid_id(&user.name, NAME_MAX_LEN, b"._@-") {
        return invalid(
            "name",
            "expected 1-64 characters of letters, digits, '.', '_', '@', '-'",
        );
    }
    let chars = user.password.chars().count();
    if !PASSWORD_LEN.contains(&chars) {
        return invalid("password", "expected 10-128 characters");
    }
    if user.password.chars().any(char::is_control) {
        return invalid("password", "it contains control characters");
    }
    if let Some(agent) = &user.agent
        && !valid_id(agent, ID_MAX_LEN, b"._-")
    {
        return invalid(
            "agent",
            "expected 1-64 characters of letters, digits, '.', '_', '-'",
        );
    }
    if user.queues.iter().any(|q| !valid_id(q, ID_MAX_LEN, b"._-")) {
        return invalid(
            "queues",
            "expected names of 1-64 letters, digits, '.', '_', '-'",
        );
    }
    if user.role == Role::Agent && user.agent.is_none() {
        return invalid("agent", "an agent needs their agent id (extension)");
    }
    Ok(())
}

/// Whether `s` is 1..=`max` bytes of ASCII letters, digits and `extra`.
fn valid_id(s: &str, max: usize, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// Every user, by name.
pub(crate) async fn list(store: &Store) -> Result<Vec<User>, UserError> {
    let rows = sqlx::query::<Db>("SELECT name, role, agent, created_at FROM users ORDER BY name")
        .fetch_all(store.pool())
        .await?;
    let queues =
        sqlx::query::<Db>("SELECT user_name, queue FROM user_queues ORDER BY user_name, queue")
            .fetch_all(store.pool())
            .await?;
    let mut users = Vec::with_capacity(rows.len());
    for row in &rows {
        let name: String = row.try_get("name")?;
        let user_queues = queues
            .iter()
            .filter(|q| q.try_get::<String, _>("user_name").is_ok_and(|n| n == name))
            .map(|q| q.try_get("queue"))
            .collect::<Result<Vec<String>, _>>()?;
        users.push(User {
            role: parse_role(row.try_get("role")?)?,
            agent: row.try_get("agent")?,
            created_at: row.try_get("created_at")?,
            queues: user_queues,
            name,
        });
    }
    Ok(users)
}

/// Removes user `name` with their tokens; whether they existed.
pub(crate) async fn remove(store: &Store, name: &str) -> Result<bool, UserError> {
    let mut tx = store.pool().begin().await?;
    sqlx::query::<Db>("DELETE FROM api_tokens WHERE user_name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    sqlx::query::<Db>("DELETE FROM user_queues WHERE user_name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query::<Db>("DELETE FROM users WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

fn parse_role(token: String) -> Result<Role, UserError> {
    Role::parse(&token).ok_or_else(|| {
        UserError::Store(StoreError::Corrupt(format!("unknown user role {token:?}")))
    })
}

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// Long-lived, made by an administrator.
    Api,
    /// From a password login; expires.
    Session,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Session => "session",
        }
    }
}

/// Makes a token for `user` and stores its hash.
pub(crate) async fn issue(
    store: &Store,
    user: &str,
    kind: TokenKind,
    label: Option<&str>,
    expires_at: Option<i64>,
    now_ms: i64,
) -> Result<IssuedToken, UserError> {
    let token = new_token(&mut rand::rng());
    let inserted = sqlx::query::<Db>(
        "INSERT INTO api_tokens (hash, user_name, kind, label, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash(&token))
    .bind(user)
    .bind(kind.as_str())
    .bind(label)
    .bind(now_ms)
    .bind(expires_at)
    .execute(store.pool())
    .await;
    match inserted {
        Ok(_) => Ok(IssuedToken { token, expires_at }),
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
            Err(UserError::UnknownUser(user.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Revokes the token whose hash is `hash`.
pub(crate) async fn revoke(store: &Store, hash: &str) -> Result<(), UserError> {
    sqlx::query::<Db>("DELETE FROM api_tokens WHERE hash = $1")
        .bind(hash)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// The principal a token names, if it is known and not expired at `now_ms`.
pub(crate) async fn authenticate(
    store: &Store,
    token: &str,
    now_ms: i64,
) -> Result<Option<Principal>, UserError> {
    let hash = token_hash(token);
    let row = sqlx::query::<Db>(
        "SELECT u.name, u.role, u.agent, t.expires_at FROM api_tokens t
         JOIN users u ON u.name = t.user_name WHERE t.hash = $1",
    )
    .bind(&hash)
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: Option<i64> = row.try_get("expires_at")?;
    if expires_at.is_some_and(|at| at <= now_ms) {
        return Ok(None);
    }
    let name: String = row.try_get("name")?;
    let queues = user_queues(store, &name).await?;
    Ok(Some(Principal {
        role: parse_role(row.try_get("role")?)?,
        agent: row.try_get("agent")?,
        queues,
        token_hash: hash,
        user: name,
    }))
}

async fn user_queues(store: &Store, name: &str) -> Result<Vec<String>, UserError> {
    let rows =
        sqlx::query::<Db>("SELECT queue FROM user_queues WHERE user_name = $1 ORDER BY queue")
            .bind(name)
            .fetch_all(store.pool())
            .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("queue"))
        .collect::<Result<_, _>>()?)
}

/// Checks `password` for user `name`; the same work is done for unknown
/// names, so timing does not tell which names exist.
pub(crate) async fn check_password(
    store: &Store,
    name: &str,
    password: &str,
) -> Result<bool, UserError> {
    let row = sqlx::query::<Db>("SELECT password_hash FROM users WHERE name = $1")
        .bind(name)
        .fetch_optional(store.pool())
        .await?;
    let stored: Option<String> = row.map(|r| r.try_get("password_hash")).transpose()?;
    let known = stored.is_some();
    let password = zeroize::Zeroizing::new(password.to_owned());
    let matches = tokio::task::spawn_blocking(move || {
        let phc = stored.unwrap_or_else(dummy_hash);
        PasswordHash::new(&phc)
            .is_ok_and(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false);
    Ok(known && matches)
}

/// An Argon2id hash (with the configured cost) of a random password nobody
/// knows, verified against for unknown user names. Made on first use.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let secret: [u8; 16] = rand::random();
            let salt_bytes: [u8; 16] = rand::random();
            let Ok(salt) = SaltString::encode_b64(&salt_bytes) else {
                return String::new();
            };
            hasher()
                .hash_password(&secret, &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}

/// Argon2id, OWASP's first recommended setting (19 MiB, 2 passes, 1 lane);
/// cheaper in unit tests, which hash many passwords in debug builds. A
/// stored hash carries its own parameters, so verification follows them.
fn hasher() -> argon2::Argon2<'static> {
    #[cfg(test)]
    let params = argon2::Params::new(64, 1, 1, None);
    #[cfg(not(test))]
    let params = argon2::Params::new(19 * 1024, 2, 1, None);
    // The constants above are within Argon2's bounds.
    let params = params.expect("valid Argon2 parameters");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

async fn hash_password(password: &str) -> Result<String, UserError> {
    let password = zeroize::Zeroizing::new(password.to_owned());
    let salt_bytes: [u8; 16] = rand::random();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| UserError::Hash)?;
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| UserError::Hash)
    })
    .await
    .map_err(|_| UserError::Hash)?
}

/// A fresh token: `sy_` and 32 random bytes in unpadded base64url.
fn new_token(rng: &mut impl rand::Rng) -> String {
    let bytes: [u8; 32] = rng.random();
    format!(
        "sy_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The stored form of a token: lowercase hex SHA-256 of its text.
pub(crate) fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
