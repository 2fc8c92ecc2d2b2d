//! Speech recognition: the contract between the worker pool and a speech engine.
//!
//! Audio in is telephone audio: 8 kHz, 16-bit signed, mono, normally in 20 ms
//! chunks of [`CHUNK_SAMPLES`] samples (any length is accepted). An engine that
//! wants another rate resamples inside (PocketSphinx runs at 16 kHz, see
//! [`resample`]). Call order for one stream — one (call, party):
//!
//! ```text
//! engine.recogniser()?                       one per stream, on the thread that uses it
//!   ├─ feed(chunk, &mut events)*             Partial(..) now and then, Final(..) when
//!   │                                        the engine's voice-activity detector hears
//!   │                                        the speaker stop
//!   ├─ end_utterance(&mut events)            explicit end: the pending Final, if any
//!   └─ reset()                               forget everything; ready for another stream
//! ```
//!
//! Recognisers are not required to be `Send`: native decoders often are not, so
//! the pool creates each one on the worker thread that drives it. Utterances of a
//! stream are numbered from 0; each produces at most one [`AsrEvent::Final`], and
//! the partials before it carry the same number. Times are offsets of audio fed
//! since the recogniser was created or reset.
//!
//! Engines: PocketSphinx (feature `sphinx`, on by default, needs the Debian
//! packages `libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us`). A
//! Whisper engine is a possible later addition behind its own feature.

pub mod resample;
#[cfg(feature = "sphinx")]
pub mod sphinx;
pub mod wav;
pub mod wer;

use std::time::Duration;

use thiserror::Error;

/// Samples per second of the audio recognisers are fed.
pub const PHONE_RATE: u32 = 8000;
/// Samples in one 20 ms chunk of phone audio.
pub const CHUNK_SAMPLES: usize = 160;

/// Duration of `samples` samples of phone audio.
#[must_use]
pub fn phone_duration(samples: u64) -> Duration {
    Duration::from_micros(samples * 1_000_000 / u64::from(PHONE_RATE))
}

/// A speech engine: loaded models and settings, shared by all workers.
pub trait SpeechEngine: Send + Sync {
    /// A short name for logs and metrics, such as `"pocketsphinx"`.
    fn name(&self) -> &'static str;

    /// A new recogniser for one stream. May be slow (model loading).
    fn recogniser(&self) -> Result<Box<dyn Recogniser>, AsrError>;
}

/// A streaming recogniser for one stream of phone audio.
pub trait Recogniser {
    /// Feeds 8 kHz mono samples; appends any partial or final results to `events`.
    fn feed(&mut self, pcm: &[i16], events: &mut Vec<AsrEvent>) -> Result<(), AsrError>;

    /// Ends the current utterance now; appends its final result, if it heard words.
    fn end_utterance(&mut self, events: &mut Vec<AsrEvent>) -> Result<(), AsrError>;

    /// Drops all state, including audio offsets and utterance numbering.
    fn reset(&mut self) -> Result<(), AsrError>;
}

/// What a recogniser reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsrEvent {
    /// The best guess so far for an utterance still in progress.
    Partial(Hypothesis),
    /// The utterance's transcript; no more events carry its number.
    Final(Hypothesis),
}

impl AsrEvent {
    /// The hypothesis either kind carries.
    #[must_use]
    pub fn hypothesis(&self) -> &Hypothesis {
        match self {
            Self::Partial(h) | Self::Final(h) => h,
        }
    }
}

/// A transcript of (part of) one utterance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hypothesis {
    /// The utterance's number in its stream, from 0.
    pub utterance: u32,
    /// Lower-case words separated by single spaces.
    pub text: String,
    /// Where the utterance starts in the stream (as the engine detected it).
    pub start: Duration,
    /// Audio fed when this result was produced.
    pub end: Duration,
}

/// Why a speech engine failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AsrError {
    /// A model file or directory named in the configuration is missing.
    #[error("speech model not found: {0}")]
    ModelMissing(std::path::PathBuf),
    /// The engine refused to start (bad model or settings).
    #[error("speech engine failed to start: {0}")]
    EngineStart(String),
    /// The engine failed while decoding.
    #[error("speech engine failed while decoding: {0}")]
    Decode(&'static str),
}
