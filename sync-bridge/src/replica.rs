//! What the node replicates to its disaster-recovery standby, sealed.
//!
//! A standby must be able to run calls without the node: it needs the
//! extensions' digest HA1s, the queues, agents and flows. Those are not
//! analytics data, and the cloud that transcribes calls must not read them,
//! so they never cross as classified values. They cross *sealed*: encrypted
//! and authenticated with AES-256-GCM under the [`ReplicaKey`], a secret only
//! the node and its standby hold (`replica.key`, made by `switchyard certs
//! init`), on top of the link's TLS.
//!
//! # Contract
//!
//! - [`seal`] is the only way to make an item of a replica kind
//!   ([`Kind::STANDBY_STATE`], [`Kind::STANDBY_FILE`], [`Kind::FAILBACK_RECORD`],
//!   [`Kind::FAILBACK_ACK`]); [`open`] the only way to read one. The item's
//!   key and kind are bound into the seal as associated data, so a sealed
//!   payload moved to another item does not open.
//! - Each seal draws a fresh 96-bit nonce from the system's CSPRNG.
//! - [`open`] of anything that was not sealed with the same key, for the same
//!   item, is an error; it never panics.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use crate::classify::KEY_LEN;
use crate::wire::{Item, ItemKey, Kind, MAX_PAYLOAD, Priority};

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The symmetric key shared by a node and its standby.
#[derive(Clone)]
pub struct ReplicaKey([u8; KEY_LEN]);

impl ReplicaKey {
    /// The key made of these bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for ReplicaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplicaKey(..)")
    }
}

/// Sealing or opening failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplicaError {
    /// The item's kind is not one of the replica kinds.
    #[error("{0} is not a replica kind")]
    NotReplica(Kind),
    /// The sealed payload would exceed a frame.
    #[error("sealed payload of {0} bytes exceeds a frame")]
    TooLarge(usize),
    /// The payload is not sealed with this key for this item, or was altered.
    #[error("the payload does not open with the replica key")]
    Unsealed,
    /// The system random generator failed.
    #[error("random generator failed")]
    Random,
}

/// Whether `kind` is one of the replica kinds.
#[must_use]
pub fn is_replica(kind: Kind) -> bool {
    [
        Kind::STANDBY_STATE,
        Kind::STANDBY_FILE,
        Kind::FAILBACK_RECORD,
        Kind::FAILBACK_ACK,
    ]
    .contains(&kind)
}

fn aad(key: ItemKey, kind: Kind) -> [u8; 18] {
    let mut aad = [0; 18];
    aad[..16].copy_from_slice(&key.as_u128().to_be_bytes());
    aad[16..].copy_from_slice(&kind.code().to_be_bytes());
    aad
}

/// Seals `plaintext` into an item of `kind` with idempotency key `key`.
///
/// # Errors
///
/// [`ReplicaError::NotReplica`] for a kind that is not a replica kind,
/// [`ReplicaError::TooLarge`], [`ReplicaError::Random`].
pub fn seal(
    secret: &ReplicaKey,
    kind: Kind,
    key: ItemKey,
    plaintext: &[u8],
) -> Result<Item, ReplicaError> {
    if !is_replica(kind) {
        return Err(ReplicaError::NotReplica(kind));
    }
    let len = NONCE_LEN + plaintext.len() + TAG_LEN;
    if len + 64 > MAX_PAYLOAD {
        return Err(ReplicaError::TooLarge(len));
    }
    let mut nonce = [0; NONCE_LEN];
    crate::pki::random(&mut nonce).map_err(|_| ReplicaError::Random)?;
    let cipher = Aes256Gcm::new((&secret.0).into());
    let aad = aad(key, kind);
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| ReplicaError::TooLarge(len))?;
    let mut payload = Vec::with_capacity(len);
    payload.extend_from_slice(&nonce);
    payload.extend_from_slice(&sealed);
    Ok(Item::from_parts(
        key,
        Priority::ResultBearing,
        kind,
        payload,
    ))
}

/// Opens a sealed item's payload.
///
/// # Errors
///
/// [`ReplicaError::NotReplica`] for an item of another kind,
/// [`ReplicaError::Unsealed`] for a payload that does not open.
pub fn open(secret: &ReplicaKey, item: &Item) -> Result<Vec<u8>, ReplicaError> {
    if !is_replica(item.kind()) {
        return Err(ReplicaError::NotReplica(item.kind()));
    }
    let payload = item.payload();
    if payload.len() < NONCE_LEN + TAG_LEN {
        return Err(ReplicaError::Unsealed);
    }
    let (nonce, sealed) = payload.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new((&secret.0).into());
    let aad = aad(item.key(), item.kind());
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &aad,
            },
        )
        .map_err(|_| ReplicaError::Unsealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> ReplicaKey {
        ReplicaKey::from_bytes([byte; KEY_LEN])
    }

    #[test]
    fn a_sealed_item_opens_with_its_key_only() {
        let item = seal(
            &key(1),
            Kind::STANDBY_STATE,
            ItemKey::from_u128(7),
            b"ha1=abc",
        )
        .expect("seal");
        assert!(!item.payload().windows(7).any(|w| w == b"ha1=abc"));
        assert_eq!(open(&key(1), &item).expect("open"), b"ha1=abc");
        assert_eq!(open(&key(2), &item), Err(ReplicaError::Unsealed));
    }

    #[test]
    fn a_payload_moved_to_another_item_does_not_open() {
        let item = seal(&key(1), Kind::STANDBY_FILE, ItemKey::from_u128(7), b"x").expect("seal");
        let moved = Item::from_parts(
            ItemKey::from_u128(8),
            item.priority(),
            item.kind(),
            item.payload().to_vec(),
        );
        assert_eq!(open(&key(1), &moved), Err(ReplicaError::Unsealed));
        let retyped = Item::from_parts(
            item.key(),
            item.priority(),
            Kind::FAILBACK_ACK,
            item.payload().to_vec(),
        );
        assert_eq!(open(&key(1), &retyped), Err(ReplicaError::Unsealed));
    }

    #[test]
    fn only_replica_kinds_are_sealed_or_opened() {
        assert_eq!(
            seal(&key(1), Kind::CALL_RECORD, ItemKey::from_u128(1), b"x").map(|_| ()),
            Err(ReplicaError::NotReplica(Kind::CALL_RECORD))
        );
        let short = Item::from_parts(
            ItemKey::from_u128(1),
            Priority::History,
            Kind::FAILBACK_RECORD,
            vec![0; 3],
        );
        assert_eq!(open(&key(1), &short), Err(ReplicaError::Unsealed));
    }

    #[test]
    fn two_seals_of_the_same_text_differ() {
        let a = seal(&key(1), Kind::FAILBACK_ACK, ItemKey::from_u128(1), b"same").expect("a");
        let b = seal(&key(1), Kind::FAILBACK_ACK, ItemKey::from_u128(1), b"same").expect("b");
        assert_ne!(a.payload(), b.payload());
    }
}
