//! WAV files: reading prompts, writing call recordings.
//!
//! # Contract
//!
//! * [`WavReader::parse`] reads a RIFF/WAVE file held in memory. It accepts linear PCM,
//!   or G.711 (µ-law, A-law: the usual telephony prompt files, half the size),
//!   mono or stereo, 16-bit (and 8-bit, which it converts to 16-bit), at 8, 16 or
//!   48 kHz (the engine's [`SampleRate`]s); `WAVE_FORMAT_EXTENSIBLE` files are
//!   accepted when their sub-format is PCM. It skips chunks it does not need (`LIST`,
//!   `fact`, `cue `, …), honours the pad byte after odd-sized chunks, ignores the RIFF
//!   size field (streaming writers leave it 0 or wrong) and reads a `data` chunk that
//!   claims more bytes than the file holds as far as the file goes. Anything it cannot
//!   play — other compressed formats (ADPCM, MP3…), float, 24- and 32-bit PCM, more
//!   than two channels, other rates (convert 44.1 kHz studio files beforehand) — is a
//!   typed [`WavError`]. No input makes it panic.
//! * [`Prompt::from_wav`] parses a file, mixes stereo down to mono and converts it once
//!   to the engine's [`SampleRate`], padded with silence to whole 20 ms frames, ready
//!   to be played frame by frame and shared between calls.
//! * [`encode`] and [`header`] write canonical 44-byte-header PCM files.
//! * [`StereoRecorder`] is the sans-IO core of a call recording (caller left, agent
//!   right, aligned on 20 ms slots, pausable for card numbers, checkpointed every
//!   [`CHECKPOINT_INTERVAL`]); [`RecordingFile`] drives it over any
//!   [`std::io::Write`] + [`std::io::Seek`] the caller provides.
//!
//! # Scope
//!
//! In memory and synchronous: reading a file from disk, and running a
//! [`RecordingFile`] off the async runtime (blocking writes), are the caller's job.
//! [`Prompt::from_wav`] converts rates with the codec module's
//! [`Resampler`](crate::codec::Resampler), its group delay removed so the prompt
//! starts on its first sample.

mod error;
mod prompt;
mod reader;
mod recorder;
mod recording_file;
mod writer;

pub use error::{RecordError, WavError};
pub use prompt::Prompt;
pub use reader::{Samples, WavReader};
pub use recorder::{
    CHECKPOINT_INTERVAL, Party, RecorderOutput, RecorderStats, SLOT_GRACE, StereoRecorder,
};
pub use recording_file::RecordingFile;
pub use writer::{HEADER_LEN, encode, header};

use crate::codec::SampleRate;

use std::time::Duration;

/// Duration of one audio frame, the unit of playback, recording and mixing.
pub const FRAME: Duration = Duration::from_millis(20);

/// Samples in one 20 ms frame at `rate`.
fn frame_len(rate: SampleRate) -> usize {
    crate::codec::frame_samples(rate.hz())
}

/// Channel layout of a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channels {
    /// One channel.
    Mono,
    /// Two interleaved channels, left first.
    Stereo,
}

impl Channels {
    /// Number of channels (1 or 2).
    #[must_use]
    pub const fn count(self) -> u16 {
        match self {
            Self::Mono => 1,
            Self::Stereo => 2,
        }
    }
}

/// How samples are stored in a file's `data` chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SampleEncoding {
    /// 8-bit unsigned PCM (128 is silence); converted to 16-bit when read.
    Unsigned8,
    /// 16-bit signed little-endian PCM.
    Signed16,
    /// 8-bit G.711 µ-law (`WAVE_FORMAT_MULAW`), the usual telephony prompt format.
    MuLaw,
    /// 8-bit G.711 A-law (`WAVE_FORMAT_ALAW`).
    ALaw,
}

impl SampleEncoding {
    /// The WAV format tag (`WAVE_FORMAT_PCM`, `_ALAW` or `_MULAW`).
    #[must_use]
    pub const fn format_tag(self) -> u16 {
        match self {
            Self::Unsigned8 | Self::Signed16 => 1,
            Self::ALaw => 6,
            Self::MuLaw => 7,
        }
    }

    /// Bytes per sample of one channel.
    #[must_use]
    pub const fn bytes(self) -> usize {
        match self {
            Self::Unsigned8 | Self::MuLaw | Self::ALaw => 1,
            Self::Signed16 => 2,
        }
    }
}

/// The layout of a PCM WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WavFormat {
    /// Mono or stereo.
    pub channels: Channels,
    /// Samples per second per channel.
    pub sample_rate: SampleRate,
    /// Sample storage.
    pub encoding: SampleEncoding,
}

impl WavFormat {
    /// Bytes per sample frame (one sample of every channel).
    #[must_use]
    pub const fn block_align(&self) -> usize {
        self.encoding.bytes() * self.channels.count() as usize
    }
}
