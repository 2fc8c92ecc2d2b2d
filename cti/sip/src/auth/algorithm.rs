//! Digest algorithms, qop values and the RFC 7616 §3.4 hash formulas.
//!
//! Hashes are written as lowercase hex, as the RFCs require for HA1, HA2 and
//! the `response` parameter.

use std::fmt;

use md5::Md5;
use sha2::{Digest as _, Sha256};

use super::AuthError;

/// A digest algorithm this module implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// `MD5`, the RFC 2617 / RFC 3261 default when `algorithm` is absent.
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
}

impl DigestAlgorithm {
    /// The token used in the `algorithm` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    /// Parses an `algorithm` token (case-insensitive).
    ///
    /// Session variants (`MD5-sess`, `SHA-256-sess`), `SHA-512-256` and
    /// unknown names yield [`AuthError::UnsupportedAlgorithm`].
    pub fn parse(token: &str) -> Result<Self, AuthError> {
        if token.eq_ignore_ascii_case("MD5") {
            Ok(DigestAlgorithm::Md5)
        } else if token.eq_ignore_ascii_case("SHA-256") {
            Ok(DigestAlgorithm::Sha256)
        } else {
            Err(AuthError::UnsupportedAlgorithm(token.to_owned()))
        }
    }

    /// Length in hex characters of this algorithm's hashes.
    pub fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Md5 => 32,
            DigestAlgorithm::Sha256 => 64,
        }
    }

    /// Hashes the concatenation of `parts` and returns lowercase hex.
    pub(crate) fn hash_hex(self, parts: &[&[u8]]) -> String {
        match self {
            DigestAlgorithm::Md5 => hex(&feed(Md5::new(), parts).finalize()),
            DigestAlgorithm::Sha256 => hex(&feed(Sha256::new(), parts).finalize()),
        }
    }

    /// `H(a:b:c…)`: the parts joined with `:` and hashed.
    pub(crate) fn hash_joined(self, parts: &[&str]) -> String {
        let mut pieces: Vec<&[u8]> = Vec::with_capacity(parts.len() * 2);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                pieces.push(b":");
            }
            pieces.push(part.as_bytes());
        }
        self.hash_hex(&pieces)
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn feed<D: sha2::Digest>(mut hasher: D, parts: &[&[u8]]) -> D {
    for part in parts {
        hasher.update(part);
    }
    hasher
}

/// A quality-of-protection value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: authentication of the request line.
    Auth,
    /// `auth-int`: authentication with integrity of the body.
    AuthInt,
}

impl Qop {
    /// The token used in the `qop` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }

    /// Parses a qop token (case-insensitive); `None` for unknown values.
    pub fn parse(token: &str) -> Option<Self> {
        if token.eq_ignore_ascii_case("auth") {
            Some(Qop::Auth)
        } else if token.eq_ignore_ascii_case("auth-int") {
            Some(Qop::AuthInt)
        } else {
            None
        }
    }
}

/// `HA1 = H(username ":" realm ":" password)` in lowercase hex.
///
/// The node stores this value per user and algorithm instead of the password.
pub fn ha1(algorithm: DigestAlgorithm, user: &str, realm: &str, password: &str) -> String {
    algorithm.hash_joined(&[user, realm, password])
}

/// The inputs of the `response` formula other than HA1 and HA2.
pub(crate) struct ResponseInput<'a> {
    pub(crate) nonce: &'a str,
    /// `(nc as 8 hex digits, cnonce, qop)`; `None` for the RFC 2069 form.
    pub(crate) qop: Option<(&'a str, &'a str, Qop)>,
}

/// `HA2` for `qop=auth` (or no qop): `H(method ":" uri)`; for `auth-int`,
/// `H(method ":" uri ":" H(body))`.
pub(crate) fn ha2(
    algorithm: DigestAlgorithm,
    method: &str,
    uri: &str,
    body: Option<&[u8]>,
) -> String {
    match body {
        None => algorithm.hash_joined(&[method, uri]),
        Some(body) => {
            let body_hash = algorithm.hash_hex(&[body]);
            algorithm.hash_joined(&[method, uri, &body_hash])
        }
    }
}

/// The `response` (request-digest) of RFC 7616 §3.4.1 / RFC 2069.
pub(crate) fn response(
    algorithm: DigestAlgorithm,
    ha1: &str,
    ha2: &str,
    input: &ResponseInput<'_>,
) -> String {
    match input.qop {
        Some((nc, cnonce, qop)) => {
            algorithm.hash_joined(&[ha1, input.nonce, nc, cnonce, qop.as_str(), ha2])
        }
        None => algorithm.hash_joined(&[ha1, input.nonce, ha2]),
    }
}

/// Formats a nonce count as the 8 lowercase hex digits of `nc-value`.
pub(crate) fn nc_hex(nc: u32) -> String {
    format!("{nc:08x}")
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes hex (either case) into exactly `N` bytes.
pub(crate) fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let raw = text.as_bytes();
    if raw.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(raw.chunks_exact(2)) {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from(hi << 4 | lo).ok()?;
    }
    Some(out)
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_parse_case_insensitively() {
        assert_eq!(DigestAlgorithm::parse("md5"), Ok(DigestAlgorithm::Md5));
        assert_eq!(
            DigestAlgorithm::parse("sha-256"),
            Ok(DigestAlgorithm::Sha256)
        );
        for name in ["MD5-sess", "SHA-256-sess", "SHA-512-256", "SHA256", ""] {
            assert_eq!(
                DigestAlgorithm::parse(name),
                Err(AuthError::UnsupportedAlgorithm(name.to_owned()))
            );
        }
    }

    #[test]
    fn ha1_matches_rfc_2617_example() {
        // RFC 2617 §3.5: Mufasa / testrealm@host.com / "Circle Of Life".
        let h = ha1(
            DigestAlgorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert_eq!(h, "939e7578ed9e3c518a452acee763bce9");
        assert_eq!(h.len(), DigestAlgorithm::Md5.hex_len());
        let s = ha1(DigestAlgorithm::Sha256, "u", "r", "p");
        assert_eq!(s.len(), DigestAlgorithm::Sha256.hex_len());
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0x00, 0x7f, 0x80, 0xff, 0x12];
        assert_eq!(hex(&bytes), "007f80ff12");
        assert_eq!(unhex::<5>("007F80ff12"), Some(bytes));
        assert_eq!(unhex::<5>("007f80ff1"), None);
        assert_eq!(unhex::<2>("0g00"), None);
        assert_eq!(unhex::<1>("+1"), None);
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
