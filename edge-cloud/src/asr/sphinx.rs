//! PocketSphinx (5prealpha, the Debian build) as a [`SpeechEngine`].
//!
//! Contract: [`SphinxEngine::new`] checks that the model files exist; each
//! [`SpeechEngine::recogniser`] call loads a decoder (about 0.3 s and 30 MB for
//! the full US English model) with the n-gram language model, so the pool makes
//! one per worker thread and reuses it across streams with
//! [`Recogniser::reset`]. The acoustic model is wideband (16 kHz): audio fed
//! with [`Recogniser::feed_wide`] goes to the decoder as it is, phone audio fed
//! with [`Recogniser::feed`] is upsampled 8 → 16 kHz first (it carries nothing
//! above 4 kHz, which costs accuracy). Utterances end on PocketSphinx's own voice-activity
//! detector going quiet (about 0.5 s of silence) or on
//! [`Recogniser::end_utterance`]. Partials come every [`SphinxConfig::partial_every`]
//! of speech, when the best guess changed.
//!
//! The decoder is not thread-safe and its handle is not `Send`: a recogniser
//! stays on the thread that created it; decoders on different threads run in
//! parallel. The library's log destination is process-wide, and setting it
//! again closes the previous file under any decoder still writing to it; so
//! only the first decoder of the process passes `-logfn` (the null device
//! unless [`SphinxConfig::log_file`] names a file), under a lock that also
//! serialises decoder creation.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use pocketsphinx::{CmdLn, PsDecoder};

use super::resample::Upsampler2x;
use super::{AsrError, AsrEvent, Hypothesis, Recogniser, SpeechEngine, wide_duration};

/// Where the Debian package `pocketsphinx-en-us` installs its model.
pub const DEBIAN_MODEL_DIR: &str = "/usr/share/pocketsphinx/model/en-us";

/// Initial cepstral mean for telephone-band speech upsampled to 16 kHz, as the
/// decoder's live mean settles on it (measured on the 300–3400 Hz test set).
/// The model's own value suits wideband audio: with it a fresh decoder
/// garbles its first utterance of phone audio until the live mean adapts.
pub const PHONE_CMN_INIT: &str = "44,18,-33,30,-22,-14,-4,-21,-26,13,-20,2,-10";

/// Keys of a model's `feat.params` that are not decoder arguments.
const NON_DECODER_KEYS: &[&str] = &["-model"];

/// Models and settings of the PocketSphinx engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SphinxConfig {
    /// Acoustic model directory (`-hmm`).
    pub acoustic_model: PathBuf,
    /// Binary n-gram language model (`-lm`).
    pub language_model: PathBuf,
    /// Pronunciation dictionary (`-dict`).
    pub dictionary: PathBuf,
    /// Speech between two partial results.
    pub partial_every: Duration,
    /// Where the library writes its log; `None` discards it. Process-wide:
    /// the first engine to create a decoder decides.
    pub log_file: Option<PathBuf>,
    /// Initial cepstral mean (13 comma-separated values) replacing the one in
    /// the model's `feat.params`; `None` keeps the model's.
    pub cmn_init: Option<String>,
    /// Further decoder arguments as (`-name`, value), such as
    /// `("-maxhmmpf", "3000")`, which halves decoding time on the test set
    /// for about 3 points of word error rate.
    pub extra_arguments: Vec<(String, String)>,
}

impl SphinxConfig {
    /// The US English model in the layout of Debian's `pocketsphinx-en-us` under `dir`.
    #[must_use]
    pub fn en_us(dir: &Path) -> Self {
        Self {
            acoustic_model: dir.join("en-us"),
            language_model: dir.join("en-us.lm.bin"),
            dictionary: dir.join("cmudict-en-us.dict"),
            partial_every: Duration::from_millis(500),
            log_file: None,
            cmn_init: Some(PHONE_CMN_INIT.to_owned()),
            extra_arguments: Vec::new(),
        }
    }

    /// The US English model where Debian installs it.
    #[must_use]
    pub fn debian_en_us() -> Self {
        Self::en_us(Path::new(DEBIAN_MODEL_DIR))
    }

    fn arguments(&self) -> Result<Vec<String>, AsrError> {
        let text = path_text;
        let mut args = vec![
            "-hmm".into(),
            text(&self.acoustic_model)?,
            "-lm".into(),
            text(&self.language_model)?,
            "-dict".into(),
            text(&self.dictionary)?,
        ];
        if let Some(cmn) = &self.cmn_init {
            args.extend(self.feature_arguments(cmn)?);
        }
        for (name, value) in &self.extra_arguments {
            if name.contains('\0') || value.contains('\0') {
                return Err(AsrError::EngineStart(format!("unusable argument {name}")));
            }
            args.extend([name.clone(), value.clone()]);
        }
        Ok(args)
    }

    /// The model's `feat.params` as arguments, with `-cmninit` replaced. The
    /// library lets `feat.params` override the command line, so the file is
    /// then disabled (`-featparams /dev/null`) and its settings passed here.
    fn feature_arguments(&self, cmn: &str) -> Result<Vec<String>, AsrError> {
        let path = self.acoustic_model.join("feat.params");
        let text = std::fs::read_to_string(&path).map_err(|_| AsrError::ModelMissing(path))?;
        let mut args = vec!["-featparams".to_owned(), "/dev/null".to_owned()];
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let (Some(key), Some(value)) = (fields.next(), fields.next()) else {
                continue;
            };
            if key.starts_with('-') && key != "-cmninit" && !NON_DECODER_KEYS.contains(&key) {
                args.extend([key.to_owned(), value.to_owned()]);
            }
        }
        args.extend(["-cmninit".to_owned(), cmn.to_owned()]);
        Ok(args)
    }
}

/// A path as a decoder argument.
fn path_text(p: &Path) -> Result<String, AsrError> {
    p.to_str()
        .filter(|s| !s.contains('\0'))
        .map(str::to_owned)
        .ok_or_else(|| AsrError::EngineStart(format!("unusable path {}", p.display())))
}

/// The PocketSphinx engine: a validated configuration that makes recognisers.
#[derive(Debug, Clone)]
pub struct SphinxEngine {
    config: SphinxConfig,
    arguments: Vec<String>,
    log_file: String,
}

/// Whether a decoder of this process has set the library's log file.
static LOG_FILE_SET: Mutex<bool> = Mutex::new(false);

impl SphinxEngine {
    /// Checks that the configured model files exist.
    pub fn new(config: SphinxConfig) -> Result<Self, AsrError> {
        for path in [
            &config.acoustic_model,
            &config.language_model,
            &config.dictionary,
        ] {
            if !path.exists() {
                return Err(AsrError::ModelMissing(path.clone()));
            }
        }
        let arguments = config.arguments()?;
        let log_file = match &config.log_file {
            Some(p) => path_text(p)?,
            None => "/dev/null".to_owned(),
        };
        Ok(Self {
            config,
            arguments,
            log_file,
        })
    }

    /// The configuration this engine was made with.
    #[must_use]
    pub fn config(&self) -> &SphinxConfig {
        &self.config
    }

    fn decoder(&self) -> Result<PsDecoder, AsrError> {
        let mut log_file_set = LOG_FILE_SET.lock().unwrap_or_else(PoisonError::into_inner);
        let mut args: Vec<&str> = self.arguments.iter().map(String::as_str).collect();
        if !*log_file_set {
            args.extend(["-logfn", self.log_file.as_str()]);
        }
        let cmdln = CmdLn::init(true, &args)
            .map_err(|_| AsrError::EngineStart("arguments rejected".into()))?;
        // `PsDecoder::init` asserts on a decoder the library could not build
        // (corrupt model); turn that into an error instead of a dead worker.
        let decoder = catch_unwind(AssertUnwindSafe(|| PsDecoder::init(cmdln)))
            .map_err(|_| AsrError::EngineStart("decoder initialisation failed".into()))?;
        *log_file_set = true;
        Ok(decoder)
    }
}

impl SpeechEngine for SphinxEngine {
    fn name(&self) -> &'static str {
        "pocketsphinx"
    }

    fn recogniser(&self) -> Result<Box<dyn Recogniser>, AsrError> {
        let decoder = self.decoder()?;
        decoder
            .start_utt(None)
            .map_err(|_| AsrError::EngineStart("start of utterance refused".into()))?;
        Ok(Box::new(SphinxRecogniser {
            decoder,
            upsampler: Upsampler2x::new(),
            wideband: Vec::with_capacity(2 * super::CHUNK_SAMPLES),
            partial_every: self.config.partial_every.as_micros() as u64
                * u64::from(super::WIDE_RATE)
                / 1_000_000,
            narrow_tail: false,
            fed: 0,
            speech: None,
            utterance: 0,
        }))
    }
}

/// An utterance the detector has heard start.
struct Speech {
    /// Samples fed when it started.
    start: u64,
    /// Samples fed at the last partial.
    last_partial_at: u64,
    last_partial: String,
}

struct SphinxRecogniser {
    decoder: PsDecoder,
    upsampler: Upsampler2x,
    wideband: Vec<i16>,
    /// 16 kHz samples between partials.
    partial_every: u64,
    /// The upsampler holds phone audio not yet passed on (its delay).
    narrow_tail: bool,
    /// Audio fed since creation or reset, in 16 kHz samples.
    fed: u64,
    speech: Option<Speech>,
    utterance: u32,
}

impl SphinxRecogniser {
    fn decode(&mut self) -> Result<(), AsrError> {
        self.decoder
            .process_raw(&self.wideband, false, false)
            .map_err(|_| AsrError::Decode("process_raw failed"))?;
        self.wideband.clear();
        Ok(())
    }

    fn hypothesis_text(&self) -> String {
        self.decoder
            .get_hyp()
            .map(|(text, _, _)| text.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }

    fn hypothesis(&self, start: u64, text: String) -> Hypothesis {
        Hypothesis {
            utterance: self.utterance,
            text,
            start: wide_duration(start),
            end: wide_duration(self.fed),
        }
    }

    /// Closes the decoder's utterance and opens the next one.
    fn finish(&mut self, events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        self.decoder
            .end_utt()
            .map_err(|_| AsrError::Decode("end_utt failed"))?;
        let text = self.hypothesis_text();
        if let Some(speech) = self.speech.take() {
            if !text.is_empty() {
                events.push(AsrEvent::Final(self.hypothesis(speech.start, text)));
            }
            self.utterance += 1;
        }
        self.decoder
            .start_utt(None)
            .map_err(|_| AsrError::Decode("start_utt failed"))
    }

    fn maybe_partial(&mut self, events: &mut Vec<AsrEvent>) {
        let due = match &self.speech {
            Some(s) => self.fed - s.last_partial_at >= self.partial_every,
            None => false,
        };
        if !due {
            return;
        }
        let text = self.hypothesis_text();
        let fed = self.fed;
        let Some(speech) = self.speech.as_mut() else {
            return;
        };
        speech.last_partial_at = fed;
        if !text.is_empty() && text != speech.last_partial {
            speech.last_partial.clone_from(&text);
            let start = speech.start;
            events.push(AsrEvent::Partial(self.hypothesis(start, text)));
        }
    }
}

impl SphinxRecogniser {
    /// Passes on what the upsampler still holds, before audio that bypasses it.
    fn flush_narrow(&mut self) {
        if std::mem::take(&mut self.narrow_tail) {
            self.upsampler.flush(&mut self.wideband);
        }
    }

    /// Decodes what `wideband` holds, `duration` 16 kHz samples of new audio,
    /// and follows the detector's view of speech.
    fn advance(&mut self, duration: u64, events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        let before = self.fed;
        self.decode()?;
        self.fed += duration;
        let in_speech = self.decoder.get_in_speech();
        match (&self.speech, in_speech) {
            (None, true) => {
                self.speech = Some(Speech {
                    start: before,
                    last_partial_at: before,
                    last_partial: String::new(),
                });
            }
            (Some(_), false) => return self.finish(events),
            _ => {}
        }
        self.maybe_partial(events);
        Ok(())
    }
}

impl Recogniser for SphinxRecogniser {
    fn feed(&mut self, pcm: &[i16], events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        self.upsampler.process(pcm, &mut self.wideband);
        self.narrow_tail = true;
        self.advance(2 * pcm.len() as u64, events)
    }

    fn feed_wide(&mut self, pcm: &[i16], events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        self.flush_narrow();
        self.wideband.extend_from_slice(pcm);
        self.advance(pcm.len() as u64, events)
    }

    fn end_utterance(&mut self, events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        self.flush_narrow();
        self.decode()?;
        if self.speech.is_none() && !self.hypothesis_text().is_empty() {
            // Words the detector never flagged as speech still count.
            self.speech = Some(Speech {
                start: self.fed,
                last_partial_at: self.fed,
                last_partial: String::new(),
            });
        }
        self.finish(events)
    }

    fn reset(&mut self) -> Result<(), AsrError> {
        self.decoder
            .end_utt()
            .map_err(|_| AsrError::Decode("end_utt failed"))?;
        self.upsampler = Upsampler2x::new();
        self.narrow_tail = false;
        self.wideband.clear();
        self.fed = 0;
        self.speech = None;
        self.utterance = 0;
        self.decoder
            .start_utt(None)
            .map_err(|_| AsrError::Decode("start_utt failed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::{CHUNK_SAMPLES, WIDE_CHUNK_SAMPLES, wav};

    /// The committed phone-audio recording of "… refund …" (8 kHz).
    fn refund() -> Vec<i16> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/asr/refund.wav");
        let bytes = std::fs::read(path).expect("committed test audio");
        wav::parse_pcm16(&bytes).expect("16-bit PCM").samples
    }

    /// The finals' text and the end of the last one.
    fn finals(events: &[AsrEvent]) -> (String, Duration) {
        let finals: Vec<&Hypothesis> = events
            .iter()
            .filter_map(|e| match e {
                AsrEvent::Final(h) => Some(h),
                AsrEvent::Partial(_) => None,
            })
            .collect();
        let text: Vec<&str> = finals.iter().map(|h| h.text.as_str()).collect();
        let end = finals.last().map_or(Duration::ZERO, |h| h.end);
        (text.join(" "), end)
    }

    #[test]
    fn wideband_audio_is_decoded_as_is_and_keeps_time() {
        let engine = SphinxEngine::new(SphinxConfig::debian_en_us()).expect("model installed");
        let mut rec = engine.recogniser().expect("a decoder");
        let narrow = refund();
        let mut events = Vec::new();
        for chunk in narrow.chunks(CHUNK_SAMPLES) {
            rec.feed(chunk, &mut events).expect("fed");
        }
        rec.end_utterance(&mut events).expect("ended");
        let (phone_text, phone_end) = finals(&events);

        // The same audio at 16 kHz, as the node's tap sends it.
        let mut wide = Vec::new();
        let mut up = Upsampler2x::new();
        up.process(&narrow, &mut wide);
        up.flush(&mut wide);
        rec.reset().expect("reset");
        events.clear();
        for chunk in wide.chunks(WIDE_CHUNK_SAMPLES) {
            rec.feed_wide(chunk, &mut events).expect("fed");
        }
        rec.end_utterance(&mut events).expect("ended");
        let (wide_text, wide_end) = finals(&events);
        assert!(
            wide_text.contains("refund"),
            "{wide_text:?} ({phone_text:?})"
        );
        assert!(phone_text.contains("refund"), "{phone_text:?}");
        // Times count 16 kHz samples as half as long as 8 kHz ones.
        let skew = wide_end.abs_diff(phone_end);
        assert!(
            skew <= Duration::from_millis(20),
            "{wide_end:?} vs {phone_end:?}"
        );
        let audio = Duration::from_millis(narrow.len() as u64 / 8);
        assert!(
            wide_end <= audio + Duration::from_millis(20),
            "{wide_end:?} of {audio:?}"
        );
    }
}
