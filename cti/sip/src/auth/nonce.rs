//! Self-validating nonces.
//!
//! A nonce is 80 lowercase hex characters encoding 40 bytes:
//!
//! ```text
//! timestamp (u64, big-endian, seconds since the epoch) ‖ salt (16 bytes)
//!   ‖ first 16 bytes of HMAC-SHA256(secret, timestamp ‖ salt ‖ realm)
//! ```
//!
//! Only the holder of the secret can mint one for a realm; anyone holding it
//! can check one without state. The tag is truncated to 128 bits (RFC 2104
//! §5 allows truncation to half the output), which keeps the nonce short
//! enough for phones with small buffers.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::algorithm;

const TAG_LEN: usize = 16;
const NONCE_BYTES: usize = 8 + 16 + TAG_LEN;

/// The authentic content of a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct NonceId {
    /// When it was minted, seconds since the epoch.
    pub(crate) issued: u64,
    /// The salt it was minted with.
    pub(crate) salt: [u8; 16],
}

/// Mints the nonce for `id`.
pub(crate) fn mint(secret: &[u8; 32], realm: &str, id: NonceId) -> String {
    let tag = tag(secret, realm, id).finalize().into_bytes();
    let mut raw = [0u8; NONCE_BYTES];
    raw[..8].copy_from_slice(&id.issued.to_be_bytes());
    raw[8..24].copy_from_slice(&id.salt);
    raw[24..].copy_from_slice(&tag[..TAG_LEN]);
    algorithm::hex(&raw)
}

/// Checks a nonce; `None` if it is not one this secret minted for this realm.
pub(crate) fn open(secret: &[u8; 32], realm: &str, nonce: &str) -> Option<NonceId> {
    let raw: [u8; NONCE_BYTES] = algorithm::unhex(nonce)?;
    let mut issued = [0u8; 8];
    issued.copy_from_slice(&raw[..8]);
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&raw[8..24]);
    let id = NonceId {
        issued: u64::from_be_bytes(issued),
        salt,
    };
    // verify_truncated_left compares in constant time.
    tag(secret, realm, id)
        .verify_truncated_left(&raw[24..])
        .ok()?;
    Some(id)
}

fn tag(secret: &[u8; 32], realm: &str, id: NonceId) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&id.issued.to_be_bytes());
    mac.update(&id.salt);
    mac.update(realm.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7; 32];
    const ID: NonceId = NonceId {
        issued: 1_700_000_000,
        salt: [0xa5; 16],
    };

    #[test]
    fn minted_nonce_opens_to_its_id() {
        let nonce = mint(&SECRET, "example.com", ID);
        assert_eq!(nonce.len(), 80);
        assert!(nonce.starts_with(&algorithm::hex(&ID.issued.to_be_bytes())));
        assert_eq!(open(&SECRET, "example.com", &nonce), Some(ID));
        assert_eq!(
            open(&SECRET, "example.com", &nonce.to_uppercase()),
            Some(ID)
        );
    }

    #[test]
    fn other_secret_or_realm_fails() {
        let nonce = mint(&SECRET, "example.com", ID);
        assert_eq!(open(&[8; 32], "example.com", &nonce), None);
        assert_eq!(open(&SECRET, "example.org", &nonce), None);
    }

    #[test]
    fn every_flipped_character_fails() {
        let nonce = mint(&SECRET, "r", ID);
        for i in 0..nonce.len() {
            let mut bytes = nonce.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert_eq!(open(&SECRET, "r", &tampered), None, "position {i}");
        }
        assert_eq!(open(&SECRET, "r", &nonce[..78]), None);
        assert_eq!(open(&SECRET, "r", ""), None);
    }
}
