//! Speech recognition: the contract between the worker pool and a speech engine.
//!
//! Audio in is 16-bit signed mono, normally in 20 ms chunks, of one of two rates:
//! telephone audio at 8 kHz ([`Recogniser::feed`], [`CHUNK_SAMPLES`] a chunk) or
//! wideband audio at 16 kHz ([`Recogniser::feed_wide`], [`WIDE_CHUNK_SAMPLES`] a
//! chunk), which is what the node's audio tap delivers for every codec (G.722 and
//! Opus carry speech up to 7 kHz; G.711 is upsampled by the node). Any length is
//! accepted. An engine converts to its own rate inside: PocketSphinx runs at 16 kHz
//! and upsamples phone audio (see [`resample`]); an engine that runs at 8 kHz gets
//! wideband audio halved by the trait's default. A stream keeps one rate in
//! practice; switching between chunks is allowed. Call order for one stream — one
//! (call, party):
//!
//! ```text
//! engine.recogniser()?                       one per stream, on the thread that uses it
//!   ├─ feed(chunk) / feed_wide(chunk)*       Partial(..) now and then, Final(..) when
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
//! packages `libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us`), a
//! streaming decoder with its own voice-activity detector; and Whisper tiny.en
//! (feature `whisper`, off by default: it builds CTranslate2 from C++), which
//! transcribes whole utterances, cut by [`endpoint`] and buffered by [`batch`].
//! The cloud's configuration chooses one with an [`EngineChoice`], and
//! [`open_engine`] checks its model and returns it.

pub mod batch;
pub mod endpoint;
pub mod resample;
#[cfg(feature = "sphinx")]
pub mod sphinx;
pub mod wav;
pub mod wer;
#[cfg(feature = "whisper")]
pub mod whisper;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

/// Samples per second of phone audio ([`Recogniser::feed`]).
pub const PHONE_RATE: u32 = 8000;
/// Samples in one 20 ms chunk of phone audio.
pub const CHUNK_SAMPLES: usize = 160;
/// Samples per second of wideband audio ([`Recogniser::feed_wide`]).
pub const WIDE_RATE: u32 = 16_000;
/// Samples in one 20 ms chunk of wideband audio.
pub const WIDE_CHUNK_SAMPLES: usize = 320;

/// Duration of `samples` samples of phone audio.
#[must_use]
pub fn phone_duration(samples: u64) -> Duration {
    Duration::from_micros(samples * 1_000_000 / u64::from(PHONE_RATE))
}

/// Duration of `samples` samples of wideband audio.
#[must_use]
pub fn wide_duration(samples: u64) -> Duration {
    Duration::from_micros(samples * 1_000_000 / u64::from(WIDE_RATE))
}

/// A speech engine: loaded models and settings, shared by all workers.
pub trait SpeechEngine: Send + Sync {
    /// A short name for logs and metrics, such as `"pocketsphinx"`.
    fn name(&self) -> &'static str;

    /// A new recogniser for one stream. May be slow (model loading).
    fn recogniser(&self) -> Result<Box<dyn Recogniser>, AsrError>;
}

/// A streaming recogniser for one stream of call audio.
pub trait Recogniser {
    /// Feeds 8 kHz mono samples; appends any partial or final results to `events`.
    fn feed(&mut self, pcm: &[i16], events: &mut Vec<AsrEvent>) -> Result<(), AsrError>;

    /// Feeds 16 kHz mono samples; appends any partial or final results to `events`.
    ///
    /// The default is for engines that run at 8 kHz: each pair of samples is
    /// averaged into one (a crude low-pass, enough for speech, which has little
    /// energy near 4 kHz) and fed with [`Recogniser::feed`]. Engines that run at
    /// 16 kHz take the samples as they are.
    fn feed_wide(&mut self, pcm: &[i16], events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        let narrow: Vec<i16> = pcm
            .chunks(2)
            .map(|pair| {
                let sum: i32 = pair.iter().map(|&s| i32::from(s)).sum();
                // The mean of one or two i16 values is an i16.
                (sum / pair.len() as i32) as i16
            })
            .collect();
        self.feed(&narrow, events)
    }

    /// Ends the current utterance now; appends its final result, if it heard words.
    fn end_utterance(&mut self, events: &mut Vec<AsrEvent>) -> Result<(), AsrError>;

    /// Drops all state, including audio offsets and utterance numbering.
    fn reset(&mut self) -> Result<(), AsrError>;
}

/// The speech engine a deployment runs, with its model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineChoice {
    /// No transcription: audio jobs are not analysed.
    Off,
    /// PocketSphinx with a model in the layout of Debian's
    /// `pocketsphinx-en-us` under `model`, or where Debian installs it.
    PocketSphinx {
        /// The directory holding `en-us/`, `en-us.lm.bin` and `cmudict-en-us.dict`.
        model: Option<PathBuf>,
    },
    /// Whisper tiny.en from a CTranslate2 model directory.
    Whisper {
        /// The model directory (`scripts/whisper-model` prints it).
        model: PathBuf,
        /// Threads each worker decodes with.
        threads: usize,
        /// Buffer growth between partial results; `None` gives finals only.
        partial_every: Option<Duration>,
    },
}

impl Default for EngineChoice {
    /// PocketSphinx where Debian installs it.
    fn default() -> Self {
        Self::PocketSphinx { model: None }
    }
}

impl EngineChoice {
    /// The engine's name as configuration files spell it.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Off => "none",
            Self::PocketSphinx { .. } => "pocketsphinx",
            Self::Whisper { .. } => "whisper",
        }
    }
}

/// Checks the chosen engine's model and returns the engine; `None` when the
/// choice is [`EngineChoice::Off`].
///
/// # Errors
///
/// [`AsrError::NotBuilt`] when this build lacks the engine's feature,
/// [`AsrError::ModelMissing`] when its model is not where configured.
pub fn open_engine(choice: &EngineChoice) -> Result<Option<Arc<dyn SpeechEngine>>, AsrError> {
    match choice {
        EngineChoice::Off => Ok(None),
        EngineChoice::PocketSphinx { model } => open_sphinx(model.as_deref()),
        EngineChoice::Whisper {
            model,
            threads,
            partial_every,
        } => open_whisper(model, *threads, *partial_every),
    }
}

#[cfg(feature = "sphinx")]
fn open_sphinx(model: Option<&std::path::Path>) -> Result<Option<Arc<dyn SpeechEngine>>, AsrError> {
    let config = match model {
        Some(dir) => sphinx::SphinxConfig::en_us(dir),
        None => sphinx::SphinxConfig::debian_en_us(),
    };
    Ok(Some(Arc::new(sphinx::SphinxEngine::new(config)?)))
}

#[cfg(not(feature = "sphinx"))]
fn open_sphinx(_: Option<&std::path::Path>) -> Result<Option<Arc<dyn SpeechEngine>>, AsrError> {
    Err(AsrError::NotBuilt {
        engine: "pocketsphinx",
        feature: "sphinx",
    })
}

#[cfg(feature = "whisper")]
fn open_whisper(
    model: &std::path::Path,
    threads: usize,
    partial_every: Option<Duration>,
) -> Result<Option<Arc<dyn SpeechEngine>>, AsrError> {
    let config = whisper::WhisperConfig {
        threads,
        partial_every,
        ..whisper::WhisperConfig::new(model.to_path_buf())
    };
    Ok(Some(Arc::new(whisper::WhisperEngine::new(config)?)))
}

#[cfg(not(feature = "whisper"))]
fn open_whisper(
    _: &std::path::Path,
    _: usize,
    _: Option<Duration>,
) -> Result<Option<Arc<dyn SpeechEngine>>, AsrError> {
    Err(AsrError::NotBuilt {
        engine: "whisper",
        feature: "whisper",
    })
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
    /// The configuration chose an engine this build does not include.
    #[error("speech engine `{engine}` is not in this build (build with `--features {feature}`)")]
    NotBuilt {
        /// The engine's name in the configuration.
        engine: &'static str,
        /// The cargo feature that adds it.
        feature: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what it is fed, as an engine running at 8 kHz.
    #[derive(Default)]
    struct Narrow(Vec<i16>);

    impl Recogniser for Narrow {
        fn feed(&mut self, pcm: &[i16], _: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
            self.0.extend_from_slice(pcm);
            Ok(())
        }
        fn end_utterance(&mut self, _: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
            Ok(())
        }
        fn reset(&mut self) -> Result<(), AsrError> {
            self.0.clear();
            Ok(())
        }
    }

    #[test]
    fn engines_are_opened_as_chosen_or_refused_by_name() {
        assert!(matches!(open_engine(&EngineChoice::Off), Ok(None)));
        let whisper = EngineChoice::Whisper {
            model: std::env::temp_dir().join("switchyard-no-such-whisper-model"),
            threads: 1,
            partial_every: None,
        };
        let error = open_engine(&whisper).err().map(|e| e.to_string());
        if cfg!(feature = "whisper") {
            assert!(
                error
                    .as_deref()
                    .is_some_and(|e| e.contains("switchyard-no-such-whisper-model")),
                "{error:?}"
            );
        } else {
            assert_eq!(
                error.as_deref(),
                Some(
                    "speech engine `whisper` is not in this build (build with `--features whisper`)"
                )
            );
        }
        let sphinx = EngineChoice::PocketSphinx {
            model: Some(std::env::temp_dir().join("switchyard-no-such-sphinx-model")),
        };
        assert!(matches!(
            open_engine(&sphinx),
            Err(AsrError::ModelMissing(_) | AsrError::NotBuilt { .. })
        ));
    }

    #[test]
    fn an_engine_at_8_khz_gets_wideband_audio_halved() {
        let mut engine = Narrow::default();
        let mut events = Vec::new();
        let wide: Vec<i16> = (0..WIDE_CHUNK_SAMPLES as i16).map(|i| i * 100).collect();
        engine.feed_wide(&wide, &mut events).expect("fed");
        assert_eq!(engine.0.len(), CHUNK_SAMPLES);
        // Each output is the mean of its pair: 0 and 100 give 50, and so on.
        assert_eq!(engine.0[..3], [50, 250, 450]);
        engine
            .feed_wide(&[i16::MAX, i16::MAX, -7], &mut events)
            .expect("fed");
        assert_eq!(engine.0[CHUNK_SAMPLES..], [i16::MAX, -7]);
        assert_eq!(wide_duration(320), phone_duration(160));
    }
}
