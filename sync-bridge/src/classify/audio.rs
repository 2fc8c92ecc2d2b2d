//! Call audio for analysis: short chunks of one party's audio at 8 kHz,
//! named by the call's [`CallRef`] and a sequence number.
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

/// The samples of one chunk, 8 kHz mono.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Samples {
    /// Linear 16-bit PCM.
    Pcm16(Vec<i16>),
    /// G.711 µ-law bytes.
    Pcmu(Vec<u8>),
    /// G.711 A-law bytes.
    Pcma(Vec<u8>),
}

impl Samples {
    fn len(&self) -> usize {
        match self {
            Self::Pcm16(s) => s.len(),
            Self::Pcmu(b) | Self::Pcma(b) => b.len(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Format {
    Pcm16Le,
    Pcmu,
    Pcma,
}

/// One chunk of a call's audio (typically 20 ms, 160 samples).
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
    /// The most samples one chunk may hold (200 ms).
    pub const MAX_SAMPLES: usize = 1600;

    /// A chunk of `call`'s audio from `speaker`; `seq` counts chunks of this
    /// speaker from 0.
    ///
    /// # Errors
    ///
    /// [`ClassifyError::AudioLength`] for an empty chunk or one over
    /// [`AudioChunk::MAX_SAMPLES`].
    pub fn new(
        call: CallRef,
        speaker: Speaker,
        seq: u64,
        samples: Samples,
    ) -> Result<Self, ClassifyError> {
        let n = samples.len();
        if !(1..=Self::MAX_SAMPLES).contains(&n) {
            return Err(ClassifyError::AudioLength(n));
        }
        let (format, data) = match samples {
            Samples::Pcm16(s) => (
                Format::Pcm16Le,
                s.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
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
        match self.format {
            Format::Pcm16Le => Samples::Pcm16(
                self.data
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect(),
            ),
            Format::Pcmu => Samples::Pcmu(self.data.clone()),
            Format::Pcma => Samples::Pcma(self.data.clone()),
        }
    }
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
