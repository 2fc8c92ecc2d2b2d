//! Whisper tiny.en (CTranslate2, int8 on the CPU) as a [`SpeechEngine`].
//!
//! Contract: [`WhisperEngine::new`] checks that the model directory holds the
//! files the binding reads; each [`SpeechEngine::recogniser`] call loads its
//! own copy of the model (about 200 MB resident with its buffers), which the
//! pool does once per worker thread. Whisper is not a streaming recogniser: a
//! [`BatchRecogniser`] buffers each utterance at 16 kHz (phone audio upsampled
//! with the crate's resampler), finds its end with the energy
//! [`Endpointer`](super::endpoint::Endpointer) (600 ms of quiet) or
//! [`Recogniser::end_utterance`], and decodes it once, in English, without
//! timestamps. Every decode runs the encoder over a whole 30 s window however
//! short the utterance, so partials, which re-decode the growing buffer, cost
//! a full decode each: they are off unless [`WhisperConfig::partial_every`]
//! asks for them. Utterances are cut at 28 s so one never spans two windows.
//!
//! The model is the CTranslate2 conversion of OpenAI's Whisper tiny.en
//! (`model.bin`, `config.json`, `tokenizer.json`, `vocabulary.txt`) plus the
//! feature extractor's `preprocessor_config.json`; `scripts/whisper-model`
//! fetches and completes it. A recogniser stays on the thread that made it,
//! as the trait allows; each decodes with [`WhisperConfig::threads`] threads.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::Duration;

use ct2rs::{ComputeType, Config, Whisper, WhisperOptions};

use super::batch::{BatchConfig, BatchRecogniser, Transcriber};
use super::{AsrError, Recogniser, SpeechEngine};

/// Files a model directory must hold.
pub const MODEL_FILES: [&str; 4] = [
    "model.bin",
    "config.json",
    "tokenizer.json",
    "preprocessor_config.json",
];

/// Model and settings of the Whisper engine.
#[derive(Debug, Clone, PartialEq)]
pub struct WhisperConfig {
    /// The CTranslate2 model directory.
    pub model: PathBuf,
    /// Threads each recogniser decodes with; the pool's workers add
    /// parallelism, so 1 suits a pool with a worker per core.
    pub threads: usize,
    /// Beam width; 1 is greedy decoding (faster, a little less accurate).
    pub beam_size: usize,
    /// Buffer growth between partial results; `None` gives finals only.
    pub partial_every: Option<Duration>,
}

impl WhisperConfig {
    /// The model in `model`, one thread, beam 5 (Whisper's own default), no partials.
    #[must_use]
    pub fn new(model: PathBuf) -> Self {
        Self {
            model,
            threads: 1,
            beam_size: 5,
            partial_every: None,
        }
    }
}

/// The Whisper engine: a checked configuration that makes recognisers.
#[derive(Debug, Clone)]
pub struct WhisperEngine {
    config: WhisperConfig,
}

impl WhisperEngine {
    /// Checks that the model directory holds the model's files.
    ///
    /// # Errors
    ///
    /// [`AsrError::ModelMissing`] naming the first missing file or directory;
    /// [`AsrError::EngineStart`] for zero threads or beam width.
    pub fn new(config: WhisperConfig) -> Result<Self, AsrError> {
        if !config.model.is_dir() {
            return Err(AsrError::ModelMissing(config.model));
        }
        for file in MODEL_FILES {
            let path = config.model.join(file);
            if !path.is_file() {
                return Err(AsrError::ModelMissing(path));
            }
        }
        if config.threads == 0 || config.beam_size == 0 {
            return Err(AsrError::EngineStart(
                "whisper needs at least one thread and a beam of at least 1".into(),
            ));
        }
        Ok(Self { config })
    }

    /// The configuration this engine was made with.
    #[must_use]
    pub fn config(&self) -> &WhisperConfig {
        &self.config
    }

    fn load(&self) -> Result<Whisper, AsrError> {
        let settings = Config {
            compute_type: ComputeType::INT8,
            num_threads_per_replica: self.config.threads,
            ..Config::default()
        };
        let model = &self.config.model;
        catch_unwind(AssertUnwindSafe(|| Whisper::new(model, settings)))
            .map_err(|_| AsrError::EngineStart("whisper model loading failed".into()))?
            .map_err(|e| AsrError::EngineStart(format!("whisper model {}: {e}", model.display())))
    }
}

impl SpeechEngine for WhisperEngine {
    fn name(&self) -> &'static str {
        "whisper"
    }

    fn recogniser(&self) -> Result<Box<dyn Recogniser>, AsrError> {
        let decoder = WhisperDecoder {
            whisper: self.load()?,
            options: WhisperOptions {
                beam_size: self.config.beam_size,
                ..WhisperOptions::default()
            },
        };
        let config = BatchConfig {
            partial_every: self.config.partial_every,
            ..BatchConfig::default()
        };
        Ok(Box::new(BatchRecogniser::new(decoder, config)))
    }
}

/// One loaded model, decoding one utterance at a time.
struct WhisperDecoder {
    whisper: Whisper,
    options: WhisperOptions,
}

impl Transcriber for WhisperDecoder {
    fn transcribe(&mut self, audio: &[f32]) -> Result<String, AsrError> {
        let whisper = &self.whisper;
        let options = &self.options;
        // A panic in the binding fails this job, not the worker thread.
        let result = catch_unwind(AssertUnwindSafe(|| {
            whisper.generate(audio, Some("en"), false, options)
        }))
        .map_err(|_| AsrError::Decode("whisper decoder panicked"))?;
        match result {
            Ok(windows) => Ok(windows.join(" ")),
            Err(error) => {
                tracing::debug!(%error, "whisper decoding failed");
                Err(AsrError::Decode("whisper decoding failed"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_model_is_named() {
        let dir = std::env::temp_dir().join("switchyard-no-such-whisper-model");
        match WhisperEngine::new(WhisperConfig::new(dir.clone())) {
            Err(AsrError::ModelMissing(path)) => assert_eq!(path, dir),
            other => panic!("{other:?}"),
        }
        // A directory without the model's files: the first one is named.
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/asr");
        match WhisperEngine::new(WhisperConfig::new(dir.clone())) {
            Err(AsrError::ModelMissing(path)) => assert_eq!(path, dir.join("model.bin")),
            other => panic!("{other:?}"),
        }
    }
}
