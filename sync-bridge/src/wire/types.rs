//! The values frames carry: idempotency keys, priorities, payload kinds and
//! the per-frame structures.
//!
//! All of these carry either fixed-size numbers or payload bytes that were
//! produced by the classifier (see [`crate::classify`]); none has a public
//! constructor from free-form text except [`NodeId`], which only accepts a
//! short identifier.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::bytes_field;
use crate::classify::ResultBody;

/// The idempotency key of one item: 128 bits, derived from what the item
/// describes, so that sending the same record twice yields the same key and
/// the receiver can drop the second copy.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemKey(u128);

impl ItemKey {
    /// The key with this numeric value.
    #[must_use]
    pub const fn from_u128(value: u128) -> Self {
        Self(value)
    }

    /// The numeric value.
    #[must_use]
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// Parses the 32-digit lowercase or uppercase hex form that
    /// [`fmt::Display`] writes.
    #[must_use]
    pub fn parse_hex(text: &str) -> Option<Self> {
        if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u128::from_str_radix(text, 16).ok().map(Self)
    }
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ItemKey({self})")
    }
}

/// How urgently an item must cross: the outbox always sends a higher class
/// first, and items of one class in the order they were enqueued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    /// Audio of a live call, for transcription while the call goes on.
    LiveAudio,
    /// Records whose analysis sends results back (supervisor alerts,
    /// escalation).
    ResultBearing,
    /// Records kept for reporting only.
    History,
}

impl Priority {
    /// Every class, most urgent first.
    pub const ALL: [Priority; 3] = [Self::LiveAudio, Self::ResultBearing, Self::History];

    /// The stored rank: 0 is the most urgent.
    #[must_use]
    pub fn rank(self) -> u8 {
        match self {
            Self::LiveAudio => 0,
            Self::ResultBearing => 1,
            Self::History => 2,
        }
    }

    /// The class with this rank.
    #[must_use]
    pub fn from_rank(rank: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|p| i64::from(p.rank()) == rank)
    }
}

/// What an item's payload holds. A receiver that does not know a kind can
/// still store, acknowledge and skip the item.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Kind(u16);

impl Kind {
    /// A [`crate::classify::CallRecord`].
    pub const CALL_RECORD: Kind = Kind(1);
    /// A [`crate::classify::QueueStats`].
    pub const QUEUE_STATS: Kind = Kind(2);
    /// A [`crate::classify::AgentStats`].
    pub const AGENT_STATS: Kind = Kind(3);
    /// A [`crate::classify::AudioChunk`].
    pub const AUDIO_CHUNK: Kind = Kind(4);
    /// Sealed ([`crate::replica`]): the state a standby needs to run calls.
    pub const STANDBY_STATE: Kind = Kind(5);
    /// Sealed: one file (flow, prompt) a standby needs.
    pub const STANDBY_FILE: Kind = Kind(6);
    /// Sealed, standby to node: a record the standby made while it served.
    pub const FAILBACK_RECORD: Kind = Kind(7);
    /// Sealed, node to standby: these failback records are merged.
    pub const FAILBACK_ACK: Kind = Kind(8);
    /// A [`crate::classify::RecordedAudio`] segment (payload version 4).
    pub const RECORDED_AUDIO: Kind = Kind(9);

    const NAMES: [(Kind, &'static str); 9] = [
        (Self::CALL_RECORD, "call_record"),
        (Self::QUEUE_STATS, "queue_stats"),
        (Self::AGENT_STATS, "agent_stats"),
        (Self::AUDIO_CHUNK, "audio_chunk"),
        (Self::STANDBY_STATE, "standby_state"),
        (Self::STANDBY_FILE, "standby_file"),
        (Self::FAILBACK_RECORD, "failback_record"),
        (Self::FAILBACK_ACK, "failback_ack"),
        (Self::RECORDED_AUDIO, "recorded_audio"),
    ];

    /// The first payload version ([`super::PAYLOAD_VERSIONS`]) whose receivers
    /// read this kind. A receiver of an older version acknowledges and skips
    /// a kind it does not know, so a sender holds such items back until a link
    /// agreed on this version or later.
    #[must_use]
    pub fn first_version(self) -> u16 {
        if self == Self::RECORDED_AUDIO { 4 } else { 1 }
    }

    /// The numeric code sent on the wire.
    #[must_use]
    pub fn code(self) -> u16 {
        self.0
    }

    /// The stored name of a known kind (`call_record`, …).
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, n)| *n)
    }

    /// The kind whose stored form is `text`: a known name, or the decimal
    /// code of a kind this version does not name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == text)
            .map(|(k, _)| *k)
            .or_else(|| text.parse().ok().map(Kind))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kind({self})")
    }
}

/// The name a node or cloud side gives itself in [`Hello`]: 1–64 ASCII
/// letters, digits, `-`, `_` or `.`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeId(String);

impl NodeId {
    /// The id `text`, when it has the identifier shape.
    #[must_use]
    pub fn new(text: &str) -> Option<Self> {
        let shaped = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        shaped.then(|| Self(text.to_owned()))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for NodeId {
    type Error = &'static str;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::new(&text).ok_or("node id: expected 1-64 of A-Z a-z 0-9 - _ .")
    }
}

impl From<NodeId> for String {
    fn from(id: NodeId) -> String {
        id.0
    }
}

/// The first frame each side sends on a connection: which payload versions it
/// speaks and who it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Lowest payload version the sender accepts.
    pub min_version: u16,
    /// Highest payload version the sender accepts.
    pub max_version: u16,
    /// The sender's name.
    pub node: NodeId,
}

impl Hello {
    /// The highest version both `self` and `peer` speak, if any.
    #[must_use]
    pub fn negotiate(&self, peer: &Hello) -> Option<u16> {
        let high = self.max_version.min(peer.max_version);
        let low = self.min_version.max(peer.min_version);
        (low <= high).then_some(high)
    }
}

/// One unit of store-and-forward: an idempotency key, a priority class, and a
/// payload produced by the classifier.
///
/// On the node an `Item` is made only by [`Item::classified`] (or read back
/// from the outbox table); its payload is therefore always a classified
/// value. The receiver decodes the payload according to [`Item::kind`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    key: ItemKey,
    priority: Priority,
    kind: Kind,
    #[serde(with = "bytes_field")]
    payload: Vec<u8>,
}

impl Item {
    /// Only for the crate: the parts are trusted to be classified.
    pub(crate) fn from_parts(
        key: ItemKey,
        priority: Priority,
        kind: Kind,
        payload: Vec<u8>,
    ) -> Self {
        Self {
            key,
            priority,
            kind,
            payload,
        }
    }

    /// The idempotency key.
    #[must_use]
    pub fn key(&self) -> ItemKey {
        self.key
    }

    /// The priority class.
    #[must_use]
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// What the payload holds.
    #[must_use]
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The encoded classified value.
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// What this item counts for against an in-flight byte budget: its payload
    /// plus a fixed allowance for the frame header and fields.
    #[must_use]
    pub fn cost(&self) -> usize {
        self.payload.len() + 32
    }
}

impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Item")
            .field("key", &self.key)
            .field("priority", &self.priority)
            .field("kind", &self.kind)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// The wire form of an audio item: the kind and priority are implied by the
/// frame type, which keeps the per-chunk overhead small.
#[derive(Serialize, Deserialize)]
pub(super) struct AudioWire<'a> {
    pub(super) key: ItemKey,
    #[serde(borrow, serialize_with = "bytes_field::serialize")]
    pub(super) payload: &'a [u8],
}

/// The receiver has stored these items; the sender may forget them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The keys of the stored items.
    pub keys: Vec<ItemKey>,
}

/// "Still here", sent when the link has been quiet for a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Counts up from 0 on each connection.
    pub seq: u64,
}

/// An analysis result sent back by the cloud.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisResult {
    /// The result's own idempotency key.
    pub key: ItemKey,
    /// What was found.
    pub body: ResultBody,
}
