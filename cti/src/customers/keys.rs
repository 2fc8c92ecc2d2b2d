//! The customer store's key: loading it, deriving the sealing and index keys,
//! sealing and opening values, and computing blind indexes.
//!
//! # Contract
//!
//! - One 32-byte master key, read from a file or an environment variable as
//!   64 hex digits or base64 (standard alphabet, padding optional; surrounding
//!   whitespace ignored). It never goes into the database.
//! - HKDF-SHA256 derives two independent 32-byte keys from it: the AES-256-GCM
//!   key that seals values and the HMAC-SHA256 key of the blind index. Neither
//!   key can be computed from the other.
//! - A sealed value is `version || nonce || ciphertext || tag`, base64; the
//!   96-bit nonce is fresh from the operating system's CSPRNG for every value
//!   (never from a seeded generator), and the associated data names the column
//!   and the row ids, so a sealed value only opens where it was written.
//! - Key bytes are zeroed when dropped and never appear in `Debug` output or
//!   in error messages.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Length of the master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;

/// Length of an AES-GCM nonce in bytes (96 bits).
const NONCE_LEN: usize = 12;

/// First byte of every sealed value: the layout and key derivation in use.
const SEALED_V1: u8 = 1;

/// HKDF salt: fixes the purpose of the master key to this store.
const HKDF_SALT: &[u8] = b"switchyard customer store";

/// HKDF info of the AES-256-GCM sealing key.
const INFO_SEALING: &[u8] = b"switchyard customers v1 aes-256-gcm";

/// HKDF info of the blind-index HMAC key.
const INFO_INDEX: &[u8] = b"switchyard customers v1 blind index hmac-sha256";

/// Base64 as accepted in key files: standard alphabet, padding optional.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Base64 of sealed values in the database: standard alphabet, no padding.
const BASE64_SEALED: GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

/// The keys of the customer store, derived from one master key.
pub struct CustomerKeys {
    cipher: Aes256Gcm,
    index_key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for CustomerKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomerKeys { <redacted> }")
    }
}

/// Where a master key was read from, as error messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// A key file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "customer key file {}", path.display()),
            Self::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

/// Why a master key could not be loaded or created. No variant carries key
/// material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file does not exist.
    #[error(
        "customer key file {} does not exist (it must hold 32 random bytes as 64 hex digits or base64)",
        path.display()
    )]
    MissingFile {
        /// The path given.
        path: PathBuf,
    },
    /// The environment variable is not set.
    #[error(
        "environment variable {var} is not set (it must hold 32 random bytes as 64 hex digits or base64)"
    )]
    MissingEnv {
        /// The variable's name.
        var: String,
    },
    /// The key file exists but cannot be read (or its mode checked).
    #[error("cannot read customer key file {}", path.display())]
    Read {
        /// The path given.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The key file could not be created.
    #[error("cannot create customer key file {}", path.display())]
    Create {
        /// The path given.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The text is neither hex nor base64.
    #[error("{source_name}: {reason}")]
    Encoding {
        /// Where the key came from.
        source_name: KeySource,
        /// What is wrong with the text.
        reason: &'static str,
    },
    /// The text decodes to the wrong number of bytes.
    #[error("{source_name}: the key is {found} bytes long, expected 32")]
    Length {
        /// Where the key came from.
        source_name: KeySource,
        /// How many bytes it decodes to.
        found: usize,
    },
    /// The key is all zero bytes: a placeholder, not a random key.
    #[error("{source_name}: the key is all zeros, not a random key")]
    Zero {
        /// Where the key came from.
        source_name: KeySource,
    },
    /// Other users may read or write the key file.
    #[error(
        "customer key file {} has mode {mode:03o}: other users may access it (run `chmod 600` on it)",
        path.display()
    )]
    Permissions {
        /// The path given.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

impl CustomerKeys {
    /// Derives the sealing and index keys from a 32-byte master key.
    #[must_use]
    pub fn from_master_key(master: &[u8; MASTER_KEY_LEN]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), master);
        let mut sealing = Zeroizing::new([0u8; 32]);
        let mut index_key = Zeroizing::new([0u8; 32]);
        // HKDF-SHA256 refuses only outputs longer than 255 * 32 bytes.
        hkdf.expand(INFO_SEALING, sealing.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        hkdf.expand(INFO_INDEX, index_key.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(sealing.as_ref())),
            index_key,
        }
    }

    /// Reads the master key from the file at `path` (hex or base64).
    ///
    /// On Unix the file is refused when other users may read or write it
    /// (any of mode `0o007`); a file its group may access is accepted with a
    /// warning, so that a service group can share it.
    ///
    /// # Errors
    ///
    /// [`KeyError::MissingFile`], [`KeyError::Permissions`],
    /// [`KeyError::Read`], [`KeyError::Encoding`], [`KeyError::Length`] or
    /// [`KeyError::Zero`], naming the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let read_error = |source: std::io::Error| {
            if source.kind() == std::io::ErrorKind::NotFound {
                KeyError::MissingFile {
                    path: path.to_owned(),
                }
            } else {
                KeyError::Read {
                    path: path.to_owned(),
                    source,
                }
            }
        };
        let metadata = std::fs::metadata(path).map_err(read_error)?;
        check_mode(path, &metadata)?;
        let source_name = KeySource::File(path.to_owned());
        let bytes = Zeroizing::new(std::fs::read(path).map_err(read_error)?);
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return Err(KeyError::Encoding {
                source_name,
                reason: "not text: expected 64 hex digits or base64",
            });
        };
        Self::from_text(text, source_name)
    }

    /// Reads the master key from environment variable `var` (hex or base64).
    ///
    /// # Errors
    ///
    /// [`KeyError::MissingEnv`], [`KeyError::Encoding`], [`KeyError::Length`]
    /// or [`KeyError::Zero`], naming the variable.
    pub fn from_env(var: &str) -> Result<Self, KeyError> {
        let source_name = KeySource::Env(var.to_owned());
        match std::env::var(var) {
            Ok(text) => Self::from_text(&Zeroizing::new(text), source_name),
            Err(std::env::VarError::NotPresent) => Err(KeyError::MissingEnv {
                var: var.to_owned(),
            }),
            Err(std::env::VarError::NotUnicode(_)) => Err(KeyError::Encoding {
                source_name,
                reason: "not text: expected 64 hex digits or base64",
            }),
        }
    }

    /// Loads the key file at `path`, first creating it with a new random key
    /// (64 hex digits, mode 0600, never overwriting) when it does not exist.
    ///
    /// # Errors
    ///
    /// [`KeyError::Create`] when the file cannot be written, or any error of
    /// [`CustomerKeys::from_file`].
    pub fn generate_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let mut master = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        rand::rng().fill_bytes(master.as_mut());
        let mut text = Zeroizing::new(hex(master.as_ref()));
        text.push('\n');
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let create_error = |source| KeyError::Create {
            path: path.to_owned(),
            source,
        };
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(text.as_bytes()).map_err(create_error)?;
                file.sync_all().map_err(create_error)?;
                tracing::info!(path = %path.display(), "created a new customer key file");
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(create_error(e)),
        }
        Self::from_file(path)
    }

    /// Decodes a master key written as hex or base64.
    fn from_text(text: &str, source_name: KeySource) -> Result<Self, KeyError> {
        let master = decode_master(text.trim()).map_err(|e| match e {
            Decode::Empty => KeyError::Encoding {
                source_name: source_name.clone(),
                reason: "it is empty",
            },
            Decode::OddHex => KeyError::Encoding {
                source_name: source_name.clone(),
                reason: "odd number of hex digits",
            },
            Decode::NotBase64 => KeyError::Encoding {
                source_name: source_name.clone(),
                reason: "neither 64 hex digits nor base64",
            },
            Decode::Length(found) => KeyError::Length {
                source_name: source_name.clone(),
                found,
            },
        })?;
        if master.iter().all(|&b| b == 0) {
            return Err(KeyError::Zero { source_name });
        }
        Ok(Self::from_master_key(&master))
    }

    /// Seals `plaintext` for the place `aad` names: base64 of
    /// `version || nonce || ciphertext || tag`.
    pub(super) fn seal(&self, aad: &Aad, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: &aad.0,
        };
        // AES-GCM refuses only messages longer than 2^36 bytes; every value
        // here is a validated field of a few hundred bytes at most.
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("field values are far below the AES-GCM message limit");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        BASE64_SEALED.encode(out)
    }

    /// Opens a value [`CustomerKeys::seal`] made for the place `aad` names.
    /// `None` when it is malformed, was sealed under another key or for
    /// another place, or was altered.
    pub(super) fn open(&self, aad: &Aad, sealed: &str) -> Option<Zeroizing<Vec<u8>>> {
        let bytes = BASE64_SEALED.decode(sealed).ok()?;
        let (&version, rest) = bytes.split_first()?;
        if version != SEALED_V1 || rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: &aad.0,
        };
        self.cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .ok()
            .map(Zeroizing::new)
    }

    /// The blind index of a normalised value: lowercase hex of
    /// HMAC-SHA256(index key, `domain` NUL `value`). The domain keeps equal
    /// strings in different fields apart.
    pub(super) fn blind_index(&self, domain: &str, value: &str) -> String {
        // HMAC takes keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.index_key.as_ref())
            .expect("HMAC accepts a 32-byte key");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

/// Associated data that binds a sealed value to its place: the format
/// version, the table and column, and the row ids.
pub(super) struct Aad(Vec<u8>);

impl Aad {
    /// The place `column` (as `table.column`) of the row keyed by `ids`.
    pub(super) fn new(column: &str, ids: &[i64]) -> Self {
        let mut aad = Vec::with_capacity(32 + column.len() + 9 * ids.len());
        aad.extend_from_slice(b"switchyard customers");
        aad.push(SEALED_V1);
        aad.extend_from_slice(column.as_bytes());
        for id in ids {
            aad.push(0);
            aad.extend_from_slice(&id.to_be_bytes());
        }
        Self(aad)
    }
}

/// Refuses key files that other users may access; warns about group access.
#[cfg(unix)]
fn check_mode(path: &Path, metadata: &std::fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o007 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    if mode & 0o070 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{mode:03o}"),
            "the customer key file is accessible to its group"
        );
    }
    Ok(())
}

/// No permission bits to check outside Unix.
#[cfg(not(unix))]
fn check_mode(_path: &Path, _metadata: &std::fs::Metadata) -> Result<(), KeyError> {
    Ok(())
}

/// Why key text did not decode.
enum Decode {
    Empty,
    OddHex,
    NotBase64,
    Length(usize),
}

/// Decodes trimmed key text: all hex digits means hex, anything else must be
/// base64.
fn decode_master(text: &str) -> Result<Zeroizing<[u8; MASTER_KEY_LEN]>, Decode> {
    if text.is_empty() {
        return Err(Decode::Empty);
    }
    let bytes = if text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Zeroizing::new(unhex(text).ok_or(Decode::OddHex)?)
    } else {
        Zeroizing::new(BASE64_LENIENT.decode(text).map_err(|_| Decode::NotBase64)?)
    };
    let mut master = Zeroizing::new([0u8; MASTER_KEY_LEN]);
    if bytes.len() != MASTER_KEY_LEN {
        return Err(Decode::Length(bytes.len()));
    }
    master.copy_from_slice(&bytes);
    Ok(master)
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Decodes hex digits (either case); `None` for an odd count or a non-digit.
fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(byte: u8) -> CustomerKeys {
        CustomerKeys::from_master_key(&[byte; MASTER_KEY_LEN])
    }

    #[test]
    fn sealed_values_open_only_in_their_place_and_under_their_key() {
        let k = keys(7);
        let here = Aad::new("customers.name", &[42]);
        let sealed = k.seal(&here, b"Ada");
        assert_eq!(
            k.open(&here, &sealed).as_deref().map(Vec::as_slice),
            Some(&b"Ada"[..])
        );
        assert!(
            k.open(&Aad::new("customers.name", &[43]), &sealed)
                .is_none()
        );
        assert!(
            k.open(&Aad::new("customers.email", &[42]), &sealed)
                .is_none()
        );
        assert!(keys(8).open(&here, &sealed).is_none());
        // Fresh nonce per value: sealing twice gives different text.
        assert_ne!(sealed, k.seal(&here, b"Ada"));
    }

    #[test]
    fn a_flipped_bit_does_not_open() {
        let k = keys(1);
        let aad = Aad::new("t.c", &[1, 2]);
        let sealed = k.seal(&aad, b"value");
        let mut raw = BASE64_SEALED.decode(&sealed).expect("we just encoded it");
        for i in 0..raw.len() {
            raw[i] ^= 0x01;
            assert!(
                k.open(&aad, &BASE64_SEALED.encode(&raw)).is_none(),
                "byte {i}"
            );
            raw[i] ^= 0x01;
        }
        assert!(k.open(&aad, "not base64 !").is_none());
        assert!(k.open(&aad, "").is_none());
    }

    #[test]
    fn blind_index_depends_on_key_domain_and_value() {
        let a = keys(1).blind_index("phone", "+15551234567");
        assert_eq!(a, keys(1).blind_index("phone", "+15551234567"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, keys(2).blind_index("phone", "+15551234567"));
        assert_ne!(a, keys(1).blind_index("account", "+15551234567"));
        assert_ne!(a, keys(1).blind_index("phone", "+15551234568"));
    }

    #[test]
    fn master_key_text_decodes_as_hex_or_base64() {
        let master: Vec<u8> = (1..=32).collect();
        let hex_text = hex(&master);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&master);
        for text in [
            hex_text.clone(),
            hex_text.to_uppercase(),
            b64.clone(),
            b64.trim_end_matches('=').to_owned(),
        ] {
            let decoded = decode_master(&text)
                .map_err(|_| text.clone())
                .expect("valid");
            assert_eq!(&decoded[..], &master[..], "{text}");
        }
        assert!(matches!(decode_master(""), Err(Decode::Empty)));
        assert!(matches!(decode_master("abc"), Err(Decode::OddHex)));
        assert!(matches!(decode_master("abcd"), Err(Decode::Length(2))));
        assert!(matches!(
            decode_master("not a key!"),
            Err(Decode::NotBase64)
        ));
    }

    #[test]
    fn debug_output_holds_no_key_material() {
        let k = keys(0xab);
        let shown = format!("{k:?}");
        assert!(!shown.contains("ab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
    }
}
