//! Versioned, length-delimited frames: the byte format of every bridge stream.
//!
//! # Frame layout
//!
//! ```text
//!  0        1         2      3       4               8
//!  +--------+---------+------+-------+---------------+------------------+
//!  | magic  | version | type | flags | length (u32)  | payload          |
//!  | 0xB5   | 1       |      |       | big-endian    | `length` bytes   |
//!  +--------+---------+------+-------+---------------+------------------+
//! ```
//!
//! The payload is the frame's structure in postcard (serde, varint integers,
//! length-prefixed byte strings). Postcard is chosen over JSON because audio
//! and record payloads are mostly numbers and bytes: postcard keeps a 20 ms
//! PCM chunk at its raw size plus a few bytes, where JSON would triple it;
//! it has no dependencies beyond serde; and its decoder reads only what the
//! input holds, so a hostile length prefix cannot make it reserve memory.
//!
//! # Contract
//!
//! - [`Frame::encode`] appends one frame; it refuses payloads over
//!   [`MAX_PAYLOAD`] bytes.
//! - [`Decoder`] takes bytes in any chunking and yields whole frames. It never
//!   buffers more than [`HEADER_LEN`] + its maximum payload, never panics, and
//!   reports bad input as a typed [`DecodeError`]; after an error the stream
//!   is unusable and must be closed.
//! - Frame types this version does not know are an error, unless the sender
//!   set [`FLAG_SKIPPABLE`]: then the decoder skips them, so later versions
//!   may add optional frames.

pub(crate) mod bytes_field;
mod decoder;
mod types;

pub use decoder::Decoder;
pub use types::{Ack, AnalysisResult, Heartbeat, Hello, Item, ItemKey, Kind, NodeId, Priority};

use types::AudioWire;

/// First byte of every frame.
pub const MAGIC: u8 = 0xB5;
/// The frame-layout version this crate writes and reads.
pub const VERSION: u8 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 8;
/// The largest payload a frame may carry (1 MiB).
pub const MAX_PAYLOAD: usize = 1 << 20;
/// Flag bit: a receiver that does not know this frame type may skip it.
pub const FLAG_SKIPPABLE: u8 = 0x01;

/// The payload versions (negotiated in [`Hello`]) this crate speaks. Version 2
/// adds 16 kHz audio chunks ([`Samples::Pcm16Wide`]), version 3 partial
/// transcripts ([`ResultBody::Partial`]), version 4 recorded audio
/// ([`Kind::RECORDED_AUDIO`], see [`Kind::first_version`]); a sender keeps to
/// what the agreed version has.
///
/// [`Samples::Pcm16Wide`]: crate::classify::Samples::Pcm16Wide
/// [`ResultBody::Partial`]: crate::classify::ResultBody::Partial
pub const PAYLOAD_VERSIONS: std::ops::RangeInclusive<u16> = 1..=4;

/// One frame.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Frame {
    /// Version negotiation and identity; the first frame on a connection.
    Hello(Hello),
    /// A record (call record, statistics) from the node.
    Item(Item),
    /// Items the receiver has stored.
    Ack(Ack),
    /// A chunk of call audio from the node; the item's kind is always
    /// [`Kind::AUDIO_CHUNK`] and its priority [`Priority::LiveAudio`].
    AudioChunk(Item),
    /// A transcript or sentiment result from the cloud.
    Result(AnalysisResult),
    /// The link is alive.
    Heartbeat(Heartbeat),
}

/// The type byte of each frame.
mod code {
    pub(super) const HELLO: u8 = 1;
    pub(super) const ITEM: u8 = 2;
    pub(super) const ACK: u8 = 3;
    pub(super) const AUDIO_CHUNK: u8 = 4;
    pub(super) const RESULT: u8 = 5;
    pub(super) const HEARTBEAT: u8 = 6;
}

impl Frame {
    /// The frame that carries `item`: [`Frame::AudioChunk`] for audio,
    /// [`Frame::Item`] for everything else.
    #[must_use]
    pub fn for_item(item: Item) -> Self {
        if item.kind() == Kind::AUDIO_CHUNK {
            Self::AudioChunk(item)
        } else {
            Self::Item(item)
        }
    }

    /// Appends this frame to `out`. On error `out` is left as it was.
    ///
    /// # Errors
    ///
    /// [`EncodeError::TooLarge`] when the payload exceeds [`MAX_PAYLOAD`];
    /// [`EncodeError::NotAudio`] for an [`Frame::AudioChunk`] whose item is
    /// not audio.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        out.extend_from_slice(&[MAGIC, VERSION, self.type_code(), 0, 0, 0, 0, 0]);
        let written = self.encode_payload(out);
        let len = out.len() - start - HEADER_LEN;
        let result = written.and_then(|()| {
            if len > MAX_PAYLOAD {
                return Err(EncodeError::TooLarge { len });
            }
            // Cannot fail: len <= MAX_PAYLOAD < u32::MAX.
            let len = u32::try_from(len).map_err(|_| EncodeError::TooLarge { len })?;
            out[start + 4..start + HEADER_LEN].copy_from_slice(&len.to_be_bytes());
            Ok(())
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn type_code(&self) -> u8 {
        match self {
            Self::Hello(_) => code::HELLO,
            Self::Item(_) => code::ITEM,
            Self::Ack(_) => code::ACK,
            Self::AudioChunk(_) => code::AUDIO_CHUNK,
            Self::Result(_) => code::RESULT,
            Self::Heartbeat(_) => code::HEARTBEAT,
        }
    }

    fn encode_payload(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let written = match self {
            Self::Hello(v) => postcard::to_io(v, &mut *out),
            Self::Item(v) => postcard::to_io(v, &mut *out),
            Self::Ack(v) => postcard::to_io(v, &mut *out),
            Self::AudioChunk(item) => {
                if item.kind() != Kind::AUDIO_CHUNK || item.priority() != Priority::LiveAudio {
                    return Err(EncodeError::NotAudio);
                }
                let wire = AudioWire {
                    key: item.key(),
                    payload: item.payload(),
                };
                postcard::to_io(&wire, &mut *out)
            }
            Self::Result(v) => postcard::to_io(v, &mut *out),
            Self::Heartbeat(v) => postcard::to_io(v, &mut *out),
        };
        written.map(drop).map_err(EncodeError::Serialize)
    }

    /// Decodes the payload of a frame of type `ty`, or `None` for a type this
    /// version does not know.
    fn decode_payload(ty: u8, payload: &[u8]) -> Option<Result<Frame, postcard::Error>> {
        fn full<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, postcard::Error> {
            match postcard::take_from_bytes(bytes)? {
                (value, []) => Ok(value),
                _ => Err(postcard::Error::DeserializeBadEncoding),
            }
        }
        Some(match ty {
            code::HELLO => full(payload).map(Self::Hello),
            code::ITEM => full(payload).map(Self::Item),
            code::ACK => full(payload).map(Self::Ack),
            code::AUDIO_CHUNK => full::<AudioWire<'_>>(payload).map(|w| {
                let payload = w.payload.to_vec();
                Self::AudioChunk(Item::from_parts(
                    w.key,
                    Priority::LiveAudio,
                    Kind::AUDIO_CHUNK,
                    payload,
                ))
            }),
            code::RESULT => full(payload).map(Self::Result),
            code::HEARTBEAT => full(payload).map(Self::Heartbeat),
            _ => return None,
        })
    }
}

/// A frame could not be written (a local fault).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The payload would exceed [`MAX_PAYLOAD`].
    #[error("frame payload of {len} bytes exceeds the maximum of {MAX_PAYLOAD}")]
    TooLarge {
        /// The payload's encoded length.
        len: usize,
    },
    /// An audio frame was asked to carry an item that is not audio.
    #[error("an audio-chunk frame must carry a live-audio item")]
    NotAudio,
    /// Serialisation failed.
    #[error("cannot serialise frame: {0}")]
    Serialize(postcard::Error),
}

/// The peer sent bytes that are not a valid frame stream (the peer's fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The first byte is not [`MAGIC`].
    #[error("bad frame magic 0x{0:02x}")]
    BadMagic(u8),
    /// The frame layout version is not [`VERSION`].
    #[error("unsupported frame version {0}")]
    UnsupportedVersion(u8),
    /// A frame type this version does not know, without [`FLAG_SKIPPABLE`].
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    /// The length field exceeds the decoder's maximum.
    #[error("frame payload of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// The announced payload length.
        len: u32,
        /// The decoder's maximum.
        max: usize,
    },
    /// The payload does not decode as its frame type.
    #[error("malformed payload in frame type {ty}: {reason}")]
    Malformed {
        /// The frame type.
        ty: u8,
        /// What postcard found wrong.
        reason: postcard::Error,
    },
}

#[cfg(test)]
mod tests;
