//! Data classification in the types: what may cross the bridge.
//!
//! # The rule
//!
//! Core data (customer names, phone numbers, account numbers, addresses,
//! transactions, credentials) never crosses the bridge. The payload types
//! here ([`CallRecord`], [`QueueStats`], [`AgentStats`], [`AudioChunk`],
//! [`RecordedAudio`]) can only be built by a [`Classifier`] (or from its
//! [`CallRef`]), which holds the node's pseudonym key and turns what the node
//! knows into what the cloud may see:
//!
//! - phone numbers become a [`Pseudonym`]: HMAC-SHA256 under the node's key of
//!   the normalised number, cut to 16 bytes. Stable per caller (the cloud can
//!   count repeat callers), not reversible without the key, which never
//!   leaves the node;
//! - the node's call ids become a [`CallRef`], a keyed hash too, so the node
//!   can match results to its calls and the cloud learns nothing from them;
//! - operator-defined identifiers (queues, IVR steps, agent extensions) stay
//!   readable only when they have the shape of an identifier that cannot hold
//!   a phone or account number (see [`Label`]); anything else is hashed;
//! - free text (IVR outcomes, hang-up causes) is reduced to a closed set of
//!   values; the text itself is dropped;
//! - numbers (times, durations, counts, call quality) pass unchanged.
//!
//! All fields are private with getters, and the outgoing types implement only
//! `Serialize` on the node. `Deserialize` exists behind the `cloud` feature,
//! for the receiving side: decoding on the cloud cannot add core data to the
//! bridge. The node must not enable that feature. Results travelling back
//! ([`Transcript`], [`Sentiment`]) are made by the cloud from audio and are
//! both readable and writable everywhere.
//!
//! A test plants unique marker values (a name, a phone number, an account
//! number) in every text field of the facts and checks that none of them, in
//! any spelling, appears in the serialised record.

mod audio;
mod record;
mod recorded;
mod results;
mod stats;

pub use audio::{AudioChunk, Samples, Speaker};
pub use record::{
    CallRecord, CdrFacts, Disposition, Extension, HangupCause, IvrOutcome, Party, Quality,
};
pub use recorded::{CUT_SEARCH_SAMPLES, RECORDED_RATE_HZ, RecordedAudio, segment_bounds};
pub use results::{ResultBody, Sentiment, SentimentLabel, Transcript};
pub use stats::{AgentFacts, AgentStats, QueueFacts, QueueStats};

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::wire::{EncodeError, Item, ItemKey, Kind, MAX_PAYLOAD, Priority};

/// Length of a pseudonym key, in bytes.
pub const KEY_LEN: usize = 32;

/// The node's secret for pseudonyms. It stays on the node; whoever holds it
/// can test a guessed phone number against a pseudonym.
#[derive(Clone)]
pub struct PseudonymKey([u8; KEY_LEN]);

impl PseudonymKey {
    /// The key made of exactly [`KEY_LEN`] bytes.
    ///
    /// # Errors
    ///
    /// [`ClassifyError::KeyLength`] for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ClassifyError> {
        <[u8; KEY_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| ClassifyError::KeyLength(bytes.len()))
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

/// A keyed hash of a normalised phone number: 16 bytes, shown as 32 hex
/// digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(any(test, feature = "cloud"), derive(Deserialize))]
pub struct Pseudonym([u8; 16]);

/// A keyed hash of the node's own call id: names one call on the bridge.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CallRef([u8; 16]);

macro_rules! hex_display {
    ($ty:ident) => {
        impl $ty {
            /// The 16 hash bytes.
            #[must_use]
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($ty))
            }
        }
    };
}

hex_display!(Pseudonym);
hex_display!(CallRef);

/// An operator-defined identifier (queue, IVR flow and step, agent
/// extension): readable when it is 1–64 ASCII letters, digits, `_`, `-` or
/// `.` with at most [`Label::MAX_DIGITS`] digits, so that it cannot hold a
/// phone or account number; otherwise a keyed hash of it. Made only by
/// [`Classifier::label`].
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(any(test, feature = "cloud"), derive(Deserialize))]
pub struct Label(LabelForm);

#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(any(test, feature = "cloud"), derive(Deserialize))]
enum LabelForm {
    Clear(String),
    Hashed([u8; 16]),
}

impl Label {
    /// The most digits a readable label may hold (an internal extension).
    pub const MAX_DIGITS: usize = 6;

    /// The readable text, when the identifier had the safe shape.
    #[must_use]
    pub fn as_clear(&self) -> Option<&str> {
        match &self.0 {
            LabelForm::Clear(text) => Some(text),
            LabelForm::Hashed(_) => None,
        }
    }

    fn is_safe(text: &str) -> bool {
        (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            && text.bytes().filter(u8::is_ascii_digit).count() <= Self::MAX_DIGITS
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            LabelForm::Clear(text) => f.write_str(text),
            LabelForm::Hashed(h) => {
                f.write_str("#")?;
                h.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Label({self})")
    }
}

/// Hash domains, so that one input never gives the same output in two roles.
mod domain {
    pub(super) const NUMBER: &[u8] = b"switchyard/number/v1\0";
    pub(super) const CALL: &[u8] = b"switchyard/call/v1\0";
    pub(super) const LABEL: &[u8] = b"switchyard/label/v1\0";
    pub(super) const ITEM: &[u8] = b"switchyard/item/v1\0";
}

/// Turns the node's facts into values that may cross the bridge. Holds the
/// pseudonym key; cheap to share by reference.
#[derive(Clone)]
pub struct Classifier {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for Classifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Classifier(..)")
    }
}

impl Classifier {
    /// A classifier under `key`.
    #[must_use]
    pub fn new(key: &PseudonymKey) -> Self {
        // Invariant: HMAC accepts keys of any length, so this cannot fail.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("HMAC takes any key length");
        Self { mac }
    }

    /// The pseudonym of a phone number or SIP user, after
    /// [`normalise_number`].
    #[must_use]
    pub fn pseudonym(&self, number: &str) -> Pseudonym {
        Pseudonym(self.hash(domain::NUMBER, normalise_number(number).as_bytes()))
    }

    /// The bridge's name for the node's call `call_id` (the CDR id).
    #[must_use]
    pub fn call_ref(&self, call_id: &str) -> CallRef {
        CallRef(self.hash(domain::CALL, call_id.as_bytes()))
    }

    /// `text` as a [`Label`]: readable if it has the safe shape, hashed if not.
    #[must_use]
    pub fn label(&self, text: &str) -> Label {
        if Label::is_safe(text) {
            Label(LabelForm::Clear(text.to_owned()))
        } else {
            Label(LabelForm::Hashed(self.hash(domain::LABEL, text.as_bytes())))
        }
    }

    fn hash(&self, domain: &[u8], value: &[u8]) -> [u8; 16] {
        let mut mac = self.mac.clone();
        mac.update(domain);
        mac.update(value);
        let full = mac.finalize().into_bytes();
        let mut out = [0; 16];
        out.copy_from_slice(&full[..16]);
        out
    }
}

/// The normal form a phone number is hashed in, so that spellings of one
/// number share a pseudonym: a `sip:`, `sips:` or `tel:` scheme and anything
/// from `@` or `;` on are dropped; then spaces, tabs, `-`, `.`, `/`, `(` and
/// `)`; a leading `00` becomes `+`; letters are lowercased.
///
/// This does not know the node's numbering plan: a node that normalises
/// numbers to E.164 itself should pass that form, so that national and
/// international spellings meet.
#[must_use]
pub fn normalise_number(raw: &str) -> String {
    let trimmed = raw.trim();
    let lower = trimmed.to_ascii_lowercase();
    let without_scheme = ["sip:", "sips:", "tel:"]
        .iter()
        .find_map(|s| lower.strip_prefix(s))
        .unwrap_or(&lower);
    let user = without_scheme
        .split(['@', ';'])
        .next()
        .unwrap_or(without_scheme);
    let kept: String = user
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '-' | '.' | '/' | '(' | ')'))
        .collect();
    match kept.strip_prefix("00") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => format!("+{rest}"),
        _ => kept,
    }
}

mod sealed {
    /// Only this crate's classified types may be sent.
    #[allow(unreachable_pub)]
    pub trait Sealed {}
}

/// A classified value that can be sent as an [`Item`]. Implemented only by
/// this module's outgoing types.
pub trait Outbound: Serialize + sealed::Sealed {
    /// The item kind.
    const KIND: Kind;

    /// The bytes that identify what this value describes (the same call, the
    /// same statistics period); the item key is derived from them, so a
    /// value sent twice is recognised as a duplicate.
    fn identity(&self, out: &mut Vec<u8>);
}

impl Item {
    /// The item carrying `value` at `priority`. Audio always travels as
    /// [`Priority::LiveAudio`], whatever is asked.
    ///
    /// # Errors
    ///
    /// [`EncodeError::TooLarge`] when the encoded value would not fit in a
    /// frame.
    pub fn classified<T: Outbound>(value: &T, priority: Priority) -> Result<Self, EncodeError> {
        let payload = postcard::to_stdvec(value).map_err(EncodeError::Serialize)?;
        if payload.len() + 64 > MAX_PAYLOAD {
            return Err(EncodeError::TooLarge { len: payload.len() });
        }
        let mut identity = Vec::with_capacity(64);
        value.identity(&mut identity);
        let mut digest = Sha256::new();
        digest.update(domain::ITEM);
        digest.update(T::KIND.code().to_be_bytes());
        digest.update(&identity);
        let hash = digest.finalize();
        let mut key = [0; 16];
        key.copy_from_slice(&hash[..16]);
        let priority = if T::KIND == Kind::AUDIO_CHUNK {
            Priority::LiveAudio
        } else {
            priority
        };
        Ok(Item::from_parts(
            ItemKey::from_u128(u128::from_be_bytes(key)),
            priority,
            T::KIND,
            payload,
        ))
    }
}

/// Decodes an item payload on the receiving side.
///
/// # Errors
///
/// [`ClassifyError::Decode`] when the bytes are not a `T`.
#[cfg(any(test, feature = "cloud"))]
pub fn decode<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, ClassifyError> {
    postcard::from_bytes(payload).map_err(ClassifyError::Decode)
}

/// Building or reading a classified value failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClassifyError {
    /// A pseudonym key of the wrong length.
    #[error("pseudonym key must be {KEY_LEN} bytes, got {0}")]
    KeyLength(usize),
    /// An audio chunk with no samples or more than 200 ms of them.
    #[error("audio chunk of {0} samples is empty or longer than 200 ms")]
    AudioLength(usize),
    /// A recorded-audio segment with no samples or more than
    /// [`RecordedAudio::MAX_SAMPLES`].
    #[error("recorded segment of {0} samples is empty or longer than 30 s")]
    SegmentLength(usize),
    /// A received payload does not decode.
    #[error("payload does not decode: {0}")]
    Decode(postcard::Error),
}

#[cfg(test)]
mod tests;
