//! SRTP and SRTCP (RFC 3711) with SDES keying (RFC 4568), sans-IO.
//!
//! # Contract
//!
//! An [`SrtpContext`] holds the session keys derived from one master key and salt, and
//! the per-SSRC state (rollover counter, replay window, SRTCP index) of every stream it
//! has seen. It transforms packets in place:
//!
//! ```text
//!   RTP  ──protect──────►  SRTP     SRTP  ──unprotect──────►  RTP
//!   RTCP ──protect_rtcp─►  SRTCP    SRTCP ──unprotect_rtcp─►  RTCP
//! ```
//!
//! SDES gives each side its own master key for what it *sends*, so a call leg uses two
//! contexts: one built from the local key that protects outgoing packets, one built from
//! the peer's key that unprotects incoming ones ([`SdesKeys::outbound`] and
//! [`SdesKeys::inbound`]). A context does both directions, but keeps send and receive
//! state apart.
//!
//! Unprotecting checks, in order: the headers are whole, the authentication tag matches
//! (before anything else of the packet is trusted), the packet index is not a replay
//! nor older than the replay window, and only then decrypts and records the index. A
//! rejected packet changes no state and leaves the buffer as it was. Nothing a peer sends
//! panics: every rejection is an [`SrtpError`].
//!
//! Keys come from `a=crypto` lines: [`CryptoAttribute`] parses and writes them,
//! [`CryptoAttribute::generate`] makes one for an offer from 30 bytes of randomness the
//! caller supplies, [`answer_offer`] picks the first offered line this module supports and
//! writes the answer, and [`accept_answer`] reads the answer to an offer of ours.
//!
//! # Terminating SRTP on a call leg
//!
//! A node that anchors media terminates SRTP per leg: [`SdesExchange`] keeps the keys
//! agreed with one phone through the first offer/answer and every re-INVITE (the node's
//! own key stays while the suite does), and [`SrtpLeg`] applies them to packets: it opens
//! what the phone sends with the phone's key and protects what the node sends it with
//! the node's key, counting what it rejects ([`SrtpStats`]). The relay holds one
//! [`SrtpLeg`] per side that has keys ([`Session::set_srtp`](crate::Session::set_srtp)).
//!
//! # Scope
//!
//! The two suites of RFC 4568 §6.2 that every SDES endpoint offers:
//! `AES_CM_128_HMAC_SHA1_80` and `AES_CM_128_HMAC_SHA1_32` (AES-128 counter mode,
//! HMAC-SHA1 tags of 80 or 32 bits on SRTP; SRTCP always carries an 80-bit tag). Key
//! derivation rate 0 (session keys derived once), no MKI in packets, no SDES session
//! parameters (`UNENCRYPTED_SRTCP`, `KDR=`, …): offers that use them are skipped. The
//! receiver's replay window is 128 packets. Key lifetimes are parsed but not enforced
//! beyond the RFC 3711 limits (2^48 SRTP, 2^31 SRTCP packets), where
//! [`SrtpError::KeyExhausted`] asks for a re-key. DTLS-SRTP, AEAD suites and
//! header-extension encryption are out of scope.
//!
//! # Cost
//!
//! Session keys, the AES key schedules and the keyed HMAC states are prepared once per
//! context; per packet there is one AES-CTR pass over the payload, one HMAC-SHA1 and one
//! hash lookup of the SSRC, with no allocation beyond growing the packet's `Vec` by the
//! tag (callers that reserve the tag's room up front avoid even that).

mod context;
mod error;
mod exchange;
mod keys;
mod leg;
mod negotiate;
mod replay;
mod sdes;
mod streams;

#[cfg(test)]
mod tests;

use std::fmt;

pub use context::SrtpContext;
pub use error::{SdesError, SrtpError};
pub use exchange::{OfferRandom, SdesExchange};
pub use leg::{SrtpLeg, SrtpStats};
pub use negotiate::{SdesAnswer, SdesKeys, accept_answer, answer_offer};
pub use sdes::{CryptoAttribute, KeyParams, Lifetime, Mki};

/// An SRTP crypto suite (RFC 4568 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SrtpSuite {
    /// `AES_CM_128_HMAC_SHA1_80`: AES-128 counter mode, 80-bit HMAC-SHA1 tags.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`: AES-128 counter mode, 32-bit HMAC-SHA1 tags on SRTP
    /// (SRTCP keeps 80 bits).
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    /// Every supported suite, strongest first: the order of our offers.
    pub const ALL: [SrtpSuite; 2] = [Self::AesCm128HmacSha1_80, Self::AesCm128HmacSha1_32];

    /// The suite's name as written in `a=crypto`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Self::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// The suite named `name` (exact, case-sensitive as RFC 4568 registers it), if
    /// supported.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|suite| suite.name() == name)
    }

    /// Bytes of authentication tag appended to each SRTP packet.
    #[must_use]
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 => 10,
            Self::AesCm128HmacSha1_32 => 4,
        }
    }

    /// Bytes of authentication tag appended to each SRTCP packet.
    #[must_use]
    pub fn rtcp_tag_len(self) -> usize {
        10
    }
}

impl fmt::Display for SrtpSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A master key and master salt: the 30 bytes an `a=crypto` line carries.
///
/// `Debug` does not print the key material.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    key: [u8; MasterKey::KEY_LEN],
    salt: [u8; MasterKey::SALT_LEN],
}

impl MasterKey {
    /// Bytes of master key.
    pub const KEY_LEN: usize = 16;
    /// Bytes of master salt.
    pub const SALT_LEN: usize = 14;
    /// Bytes of key and salt together, as concatenated in `inline:`.
    pub const LEN: usize = Self::KEY_LEN + Self::SALT_LEN;

    /// A master key from its key and salt.
    #[must_use]
    pub fn new(key: [u8; Self::KEY_LEN], salt: [u8; Self::SALT_LEN]) -> Self {
        Self { key, salt }
    }

    /// A master key from `key || salt`.
    #[must_use]
    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        let mut key = [0; Self::KEY_LEN];
        let mut salt = [0; Self::SALT_LEN];
        key.copy_from_slice(&bytes[..Self::KEY_LEN]);
        salt.copy_from_slice(&bytes[Self::KEY_LEN..]);
        Self { key, salt }
    }

    /// `key || salt`.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut bytes = [0; Self::LEN];
        bytes[..Self::KEY_LEN].copy_from_slice(&self.key);
        bytes[Self::KEY_LEN..].copy_from_slice(&self.salt);
        bytes
    }

    /// The master key.
    #[must_use]
    pub fn key(&self) -> &[u8; Self::KEY_LEN] {
        &self.key
    }

    /// The master salt.
    #[must_use]
    pub fn salt(&self) -> &[u8; Self::SALT_LEN] {
        &self.salt
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}
