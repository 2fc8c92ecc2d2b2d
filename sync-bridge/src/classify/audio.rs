//! Call audio for analysis: short chunks of one party's audio, 8 kHz
//! (G.711 bytes or linear PCM) or 16 kHz linear PCM, named by the call's
//! [`CallRef`] and a sequence number.
//!
//! The 16 kHz form ([`Samples::Pcm16Wide`]) is payload version 2
//! ([`crate::wire::PAYLOAD_VERSIONS`]): a node sends it only on a link that
//! agreed on version 2 or later, and 8 kHz PCM to a peer that speaks version 1
//! only (which would refuse the chunk).
//!
//! Audio itself is non-core (it goes to speech recognition); what would tie
//! it to a customer, the caller's number and the node's call id, is replaced
//! by the keyed call reference.

use serde::{Deserialize, Serialize};

use super::{CallRef, ClassifyError, Outbound, sealed};
use crate::wire::{Kind, bytes_field};

/// Whose audio a chunk holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Speaker {
    /// The customer.
    Caller,
    /// The agent.
    Agent,
}

/// The samples of one chunk, mono.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Samples {
    /// Linear 16-bit PCM at 8 kHz.
    Pcm16(Vec<i16>),
    /// Linear 16-bit PCM at 16 kHz (payload version 2).
    Pcm16Wide(Vec<i16>),
    /// G.711 µ-law bytes.
    Pcmu(Vec<u8>),
    /// G.711 A-law bytes.
    Pcma(Vec<u8>),
}

impl Samples {
    fn len(&self) -> usize {
        match self {
            Self::Pcm16(s) | Self::Pcm16Wide(s) => s.len(),
            Self::Pcmu(b) | Self::Pcma(b) => b.len(),
        }
    }

    /// The sampling rate in Hz: 16 000 for [`Samples::Pcm16Wide`], else 8000.
    #[must_use]
    pub fn rate_hz(&self) -> u32 {
        match self {
            Self::Pcm16Wide(_) => 16_000,
            Self::Pcm16(_) | Self::Pcmu(_) | Self::Pcma(_) => 8000,
        }
    }
}

/// How the data bytes are laid out. Postcard writes the variant's index: new
/// formats go last, and each needs a payload version its peer has agreed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Format {
    Pcm16Le,
    Pcmu,
    Pcma,
    /// 16 kHz little-endian PCM: payload version 2.
    Pcm16Le16k,
}

/// One chunk of a call's audio (typically 20 ms: 160 samples at 8 kHz, 320 at 16 kHz).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(any(test, feature = "cloud"), derive(Deserialize))]
pub struct AudioChunk {
    call: CallRef,
    speaker: Speaker,
    seq: u64,
    format: Format,
    #[serde(with = "bytes_field")]
    data: Vec<u8>,
}

impl AudioChunk {
    /// The most samples one 8 kHz chunk may hold (200 ms).
    pub const MAX_SAMPLES: usize = 1600;
    /// The most samples one 16 kHz chunk may hold (200 ms).
    pub const MAX_WIDE_SAMPLES: usize = 3200;

    /// A chunk of `call`'s audio from `speaker`; `seq` counts chunks of this
    /// speaker from 0.
    ///
    /// # Errors
    ///
    /// [`ClassifyError::AudioLength`] for an empty chunk or one over 200 ms
    /// ([`AudioChunk::MAX_SAMPLES`], [`AudioChunk::MAX_WIDE_SAMPLES`]).
    pub fn new(
        call: CallRef,
        speaker: Speaker,
        seq: u64,
        samples: Samples,
    ) -> Result<Self, ClassifyError> {
        let n = samples.len();
        let max = match samples {
            Samples::Pcm16Wide(_) => Self::MAX_WIDE_SAMPLES,
            _ => Self::MAX_SAMPLES,
        };
        if !(1..=max).contains(&n) {
            return Err(ClassifyError::AudioLength(n));
        }
        let (format, data) = match samples {
            Samples::Pcm16(s) => (Format::Pcm16Le, pcm_bytes(&s)),
            Samples::Pcm16Wide(s) => (Format::Pcm16Le16k, pcm_bytes(&s)),
            Samples::Pcmu(b) => (Format::Pcmu, b),
            Samples::Pcma(b) => (Format::Pcma, b),
        };
        Ok(Self {
            call,
            speaker,
            seq,
            format,
            data,
        })
    }

    /// The call.
    #[must_use]
    pub fn call(&self) -> CallRef {
        self.call
    }

    /// Whose audio.
    #[must_use]
    pub fn speaker(&self) -> Speaker {
        self.speaker
    }

    /// The chunk's number within its speaker's stream.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The samples (an odd trailing byte of a PCM chunk is dropped).
    #[must_use]
    pub fn samples(&self) -> Samples {
        let pcm = || {
            self.data
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect()
        };
        match self.format {
            Format::Pcm16Le => Samples::Pcm16(pcm()),
            Format::Pcm16Le16k => Samples::Pcm16Wide(pcm()),
            Format::Pcmu => Samples::Pcmu(self.data.clone()),
            Format::Pcma => Samples::Pcma(self.data.clone()),
        }
    }
}

fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|v| v.to_le_bytes()).collect()
}

impl sealed::Sealed for AudioChunk {}

impl Outbound for AudioChunk {
    const KIND: Kind = Kind::AUDIO_CHUNK;

    fn identity(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.call.as_bytes());
        out.push(match self.speaker {
            Speaker::Caller => 0,
            Speaker::Agent => 1,
        });
        out.extend_from_slice(&self.seq.to_be_bytes());
    }
}
