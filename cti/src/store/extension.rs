//! Extensions: the SIP users the registrar authenticates, stored as digest
//! HA1 values (never as passwords) under the realm they were computed for.

use rand::Rng;
use rand::distr::Alphanumeric;
use sip::auth::{DigestAlgorithm, ha1};
use sqlx::Row as _;

use super::{Db, Store, StoreError};

/// Length of the passwords [`generate_password`] makes.
pub const GENERATED_PASSWORD_LEN: usize = 12;

/// Longest accepted extension number.
const EXT_MAX_LEN: usize = 32;

/// Longest accepted password, display name and realm, in characters.
const TEXT_MAX_LEN: usize = 128;

/// A provisioned extension, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The number, also the SIP user name: 1–32 characters of `[0-9A-Za-z._-]`.
    pub ext: String,
    /// Optional human name shown to callees and in listings.
    pub display_name: Option<String>,
    /// `MD5(ext ":" realm ":" password)` in lowercase hex.
    pub ha1_md5: String,
    /// `SHA-256(ext ":" realm ":" password)` in lowercase hex.
    pub ha1_sha256: String,
    /// The digest realm both HA1 values were computed for.
    pub realm: String,
    /// When the extension was provisioned, in unix seconds.
    pub created_at: i64,
    /// Whether its legs must be SRTP.
    pub srtp: SrtpPolicy,
}

/// Whether the legs toward an extension must be SRTP (SDES, RFC 4568).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpPolicy {
    /// The leg follows the call: SRTP, on the extension's phones on TLS, when the
    /// caller's leg is SRTP; plain RTP otherwise.
    #[default]
    Optional,
    /// Every leg is SRTP: only the extension's phones on TLS ring, with the node's
    /// key, and a call that cannot reach one is refused (488) rather than carried in
    /// plain RTP.
    Required,
}

impl SrtpPolicy {
    /// The stored and API spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SrtpPolicy::Optional => "optional",
            SrtpPolicy::Required => "required",
        }
    }

    /// The policy spelled `text`, if it is one.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "optional" => Some(SrtpPolicy::Optional),
            "required" => Some(SrtpPolicy::Required),
            _ => None,
        }
    }
}

impl Extension {
    /// The stored HA1 for `algorithm`.
    #[must_use]
    pub fn ha1(&self, algorithm: DigestAlgorithm) -> &str {
        match algorithm {
            DigestAlgorithm::Md5 => &self.ha1_md5,
            DigestAlgorithm::Sha256 => &self.ha1_sha256,
        }
    }
}

/// Checks that `ext` is 1–32 characters of `[0-9A-Za-z._-]`.
///
/// # Errors
///
/// [`StoreError::InvalidExtension`] saying what is wrong.
pub fn validate_ext(ext: &str) -> Result<(), StoreError> {
    let reason = if ext.is_empty() {
        "it is empty"
    } else if ext.len() > EXT_MAX_LEN {
        "it is longer than 32 characters"
    } else if !ext
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        "only letters, digits, '.', '_' and '-' are allowed"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidExtension {
        ext: ext.to_owned(),
        reason,
    })
}

/// A random password of [`GENERATED_PASSWORD_LEN`] ASCII letters and digits.
pub fn generate_password(rng: &mut impl Rng) -> String {
    rng.sample_iter(Alphanumeric)
        .take(GENERATED_PASSWORD_LEN)
        .map(char::from)
        .collect()
}

/// Rejects empty, over-long and control-character values.
fn validate_text(field: &'static str, value: &str) -> Result<(), StoreError> {
    let reason = if value.is_empty() {
        "it is empty"
    } else if value.chars().count() > TEXT_MAX_LEN {
        "it is longer than 128 characters"
    } else if value.chars().any(char::is_control) {
        "it contains control characters"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidValue { field, reason })
}

/// Both HA1 values, after checking the inputs they are made of.
fn credentials(ext: &str, password: &str, realm: &str) -> Result<(String, String), StoreError> {
    validate_ext(ext)?;
    validate_text("password", password)?;
    validate_text("realm", realm)?;
    Ok((
        ha1(DigestAlgorithm::Md5, ext, realm, password),
        ha1(DigestAlgorithm::Sha256, ext, realm, password),
    ))
}

impl Store {
    /// Provisions extension `ext` with `password` under digest `realm`, its legs
    /// SRTP as `srtp` says.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidExtension`] / [`StoreError::InvalidValue`] for bad
    /// input, [`StoreError::AlreadyExists`] when `ext` is provisioned,
    /// [`StoreError::Database`] when the insert fails.
    pub async fn add_extension(
        &self,
        ext: &str,
        password: &str,
        realm: &str,
        display_name: Option<&str>,
        srtp: SrtpPolicy,
        now_unix: i64,
    ) -> Result<(), StoreError> {
        let (md5, sha256) = credentials(ext, password, realm)?;
        if let Some(name) = display_name {
            validate_text("display name", name)?;
        }
        let inserted = sqlx::query::<Db>(
            "INSERT INTO extensions
                (ext, display_name, ha1_md5, ha1_sha256, realm, created_at, srtp)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ext)
        .bind(display_name)
        .bind(md5)
        .bind(sha256)
        .bind(realm)
        .bind(now_unix)
        .bind(srtp.as_str())
        .execute(self.pool())
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::AlreadyExists(ext.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the password (both HA1 values and the realm) of `ext`.
    /// Returns whether the extension exists.
    ///
    /// # Errors
    ///
    /// As [`Store::add_extension`], except that it never reports
    /// [`StoreError::AlreadyExists`].
    pub async fn set_password(
        &self,
        ext: &str,
        password: &str,
        realm: &str,
    ) -> Result<bool, StoreError> {
        let (md5, sha256) = credentials(ext, password, realm)?;
        let done = sqlx::query::<Db>(
            "UPDATE extensions SET ha1_md5 = $1, ha1_sha256 = $2, realm = $3 WHERE ext = $4",
        )
        .bind(md5)
        .bind(sha256)
        .bind(realm)
        .bind(ext)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Sets whether the legs toward `ext` must be SRTP; the next leg the node
    /// offers it follows. Returns whether the extension exists.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidExtension`] for a malformed number,
    /// [`StoreError::Database`] when the update fails.
    pub async fn set_extension_srtp(
        &self,
        ext: &str,
        srtp: SrtpPolicy,
    ) -> Result<bool, StoreError> {
        validate_ext(ext)?;
        let done = sqlx::query::<Db>("UPDATE extensions SET srtp = $1 WHERE ext = $2")
            .bind(srtp.as_str())
            .bind(ext)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes extension `ext`; returns whether it existed.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidExtension`] for a malformed number,
    /// [`StoreError::Database`] when the delete fails.
    pub async fn remove_extension(&self, ext: &str) -> Result<bool, StoreError> {
        validate_ext(ext)?;
        let done = sqlx::query::<Db>("DELETE FROM extensions WHERE ext = $1")
            .bind(ext)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every extension, ordered by number.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the query fails.
    pub async fn list_extensions(&self) -> Result<Vec<Extension>, StoreError> {
        let rows = sqlx::query::<Db>(
            "SELECT ext, display_name, ha1_md5, ha1_sha256, realm, created_at, srtp
             FROM extensions ORDER BY ext",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(extension_from_row).collect()
    }

    /// The extension numbered `ext`, if provisioned. A malformed number (as a
    /// peer may send in a digest user name) is simply not found.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the query fails.
    pub async fn extension(&self, ext: &str) -> Result<Option<Extension>, StoreError> {
        if validate_ext(ext).is_err() {
            return Ok(None);
        }
        let row = sqlx::query::<Db>(
            "SELECT ext, display_name, ha1_md5, ha1_sha256, realm, created_at, srtp
             FROM extensions WHERE ext = $1",
        )
        .bind(ext)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(extension_from_row).transpose()
    }
}

fn extension_from_row(row: &<Db as sqlx::Database>::Row) -> Result<Extension, StoreError> {
    Ok(Extension {
        ext: row.try_get("ext")?,
        display_name: row.try_get("display_name")?,
        ha1_md5: row.try_get("ha1_md5")?,
        ha1_sha256: row.try_get("ha1_sha256")?,
        realm: row.try_get("realm")?,
        created_at: row.try_get("created_at")?,
        srtp: {
            let text: String = row.try_get("srtp")?;
            SrtpPolicy::parse(&text)
                .ok_or_else(|| StoreError::Corrupt(format!("extension srtp {text:?}")))?
        },
    })
}
