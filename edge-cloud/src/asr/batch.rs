//! A streaming [`Recogniser`] built on an engine that transcribes whole
//! utterances at once (Whisper and its kind), which is a [`Transcriber`].
//!
//! Contract: audio arrives as the trait says (8 kHz is upsampled to 16 kHz
//! with [`Upsampler2x`]), is cut into 20 ms frames and goes through an
//! [`Endpointer`]. Between utterances only [`BatchConfig::pre_roll`] of audio
//! is kept; from the start of speech the utterance's audio is buffered (as
//! `f32` in [-1, 1]) until the endpointer hears it end, the utterance reaches
//! [`BatchConfig::max_utterance`], or [`Recogniser::end_utterance`] is called;
//! then the transcriber decodes the buffer once and the text becomes the
//! [`AsrEvent::Final`]. Utterances with less voiced audio than
//! [`BatchConfig::min_voiced`] are dropped undecoded (such engines invent words
//! for clicks and breaths). Partials cost a full decode of the buffer each, so
//! they are optional: with [`BatchConfig::partial_every`] set, the buffer is
//! decoded again each time it has grown by that much. Transcripts are
//! normalised by [`transcript_words`]. Times count audio fed, as PocketSphinx's
//! do; an utterance starts where its buffered audio (pre-roll included) starts.

use std::collections::VecDeque;
use std::time::Duration;

use super::endpoint::{Edge, EndpointConfig, Endpointer, FRAME_SAMPLES};
use super::resample::Upsampler2x;
use super::{AsrError, AsrEvent, Hypothesis, Recogniser, WIDE_RATE, wide_duration};

/// An engine that turns one utterance of audio into text.
pub trait Transcriber {
    /// Transcribes 16 kHz mono audio, samples in [-1, 1]; any casing and punctuation.
    fn transcribe(&mut self, audio: &[f32]) -> Result<String, AsrError>;
}

/// How a [`BatchRecogniser`] cuts and decodes utterances.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchConfig {
    /// Where utterances start and end.
    pub endpoint: EndpointConfig,
    /// Audio kept from before the start of speech (the endpointer needs a
    /// few frames to be sure; soft onsets come earlier still).
    pub pre_roll: Duration,
    /// An utterance is cut and decoded when its buffer reaches this length.
    pub max_utterance: Duration,
    /// Utterances with less voiced audio than this are dropped undecoded.
    pub min_voiced: Duration,
    /// Buffer growth between partial decodes; `None` for finals only.
    pub partial_every: Option<Duration>,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            endpoint: EndpointConfig::default(),
            pre_roll: Duration::from_millis(300),
            max_utterance: Duration::from_secs(28),
            min_voiced: Duration::from_millis(200),
            partial_every: None,
        }
    }
}

/// 16 kHz samples in `d`.
fn samples(d: Duration) -> usize {
    (d.as_micros() * u128::from(WIDE_RATE) / 1_000_000) as usize
}

/// An utterance being buffered.
struct Utterance {
    /// Audio fed before its first buffered sample, in 16 kHz samples.
    start: u64,
    audio: Vec<f32>,
    /// Voiced audio in it, in 16 kHz samples.
    voiced: usize,
    /// Buffer length at the last partial decode.
    decoded_at: usize,
    last_partial: String,
}

/// A streaming recogniser around a [`Transcriber`].
pub struct BatchRecogniser<T> {
    transcriber: T,
    config: BatchConfig,
    endpointer: Endpointer,
    upsampler: Upsampler2x,
    /// The upsampler holds phone audio not yet passed on (its delay).
    narrow_tail: bool,
    /// 16 kHz audio short of a whole frame.
    pending: Vec<i16>,
    /// The last frames before speech, oldest first.
    pre_roll: VecDeque<f32>,
    /// Audio fed since creation or reset, in 16 kHz samples, frames completed.
    fed: u64,
    speech: Option<Utterance>,
    utterance: u32,
}

impl<T: Transcriber> BatchRecogniser<T> {
    /// A recogniser with nothing fed.
    pub fn new(transcriber: T, config: BatchConfig) -> Self {
        Self {
            transcriber,
            endpointer: Endpointer::new(config.endpoint),
            upsampler: Upsampler2x::new(),
            narrow_tail: false,
            pending: Vec::with_capacity(2 * FRAME_SAMPLES),
            pre_roll: VecDeque::with_capacity(samples(config.pre_roll) + FRAME_SAMPLES),
            fed: 0,
            speech: None,
            utterance: 0,
            config,
        }
    }

    /// The transcriber inside.
    pub fn transcriber(&self) -> &T {
        &self.transcriber
    }

    fn take(&mut self, events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        let whole = self.pending.len() / FRAME_SAMPLES * FRAME_SAMPLES;
        let frames: Vec<i16> = self.pending.drain(..whole).collect();
        for frame in frames.chunks(FRAME_SAMPLES) {
            self.frame(frame, events)?;
        }
        Ok(())
    }

    fn frame(&mut self, frame: &[i16], events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        let edge = self.endpointer.push_frame(frame);
        self.fed += frame.len() as u64;
        let scaled = frame.iter().map(|&s| f32::from(s) / 32_768.0);
        let Some(speech) = self.speech.as_mut() else {
            self.pre_roll.extend(scaled);
            let keep = samples(self.config.pre_roll)
                .max(self.endpointer.start_frames() as usize * FRAME_SAMPLES);
            let excess = self.pre_roll.len().saturating_sub(keep);
            self.pre_roll.drain(..excess);
            if edge == Some(Edge::Start) {
                self.open();
            }
            return Ok(());
        };
        speech.audio.extend(scaled);
        if self.endpointer.last_voiced() {
            speech.voiced += frame.len();
        }
        if edge == Some(Edge::End) || speech.audio.len() >= samples(self.config.max_utterance) {
            return self.finish(events);
        }
        self.maybe_partial(events)
    }

    /// Starts an utterance with the pre-roll, whose last frames proved speech.
    fn open(&mut self) {
        let audio: Vec<f32> = self.pre_roll.drain(..).collect();
        let voiced = self.endpointer.start_frames() as usize * FRAME_SAMPLES;
        self.speech = Some(Utterance {
            start: self.fed - audio.len() as u64,
            voiced: voiced.min(audio.len()),
            decoded_at: 0,
            last_partial: String::new(),
            audio,
        });
    }

    fn maybe_partial(&mut self, events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        let Some(every) = self.config.partial_every else {
            return Ok(());
        };
        let Some(speech) = self.speech.as_mut() else {
            return Ok(());
        };
        if speech.audio.len() - speech.decoded_at < samples(every).max(1) {
            return Ok(());
        }
        speech.decoded_at = speech.audio.len();
        let text = transcript_words(&self.transcriber.transcribe(&speech.audio)?);
        if !text.is_empty() && text != speech.last_partial {
            speech.last_partial.clone_from(&text);
            events.push(AsrEvent::Partial(Hypothesis {
                utterance: self.utterance,
                text,
                start: wide_duration(speech.start),
                end: wide_duration(self.fed),
            }));
        }
        Ok(())
    }

    /// Decodes the utterance in progress, if any, and starts looking for the next.
    fn finish(&mut self, events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        self.endpointer.close();
        let Some(speech) = self.speech.take() else {
            return Ok(());
        };
        let number = self.utterance;
        self.utterance += 1;
        if speech.voiced < samples(self.config.min_voiced) {
            return Ok(());
        }
        let text = transcript_words(&self.transcriber.transcribe(&speech.audio)?);
        if !text.is_empty() {
            events.push(AsrEvent::Final(Hypothesis {
                utterance: number,
                text,
                start: wide_duration(speech.start),
                end: wide_duration(self.fed),
            }));
        }
        Ok(())
    }

    /// Passes on what the upsampler still holds, before audio that bypasses it.
    fn flush_narrow(&mut self) {
        if std::mem::take(&mut self.narrow_tail) {
            self.upsampler.flush(&mut self.pending);
        }
    }
}

impl<T: Transcriber> Recogniser for BatchRecogniser<T> {
    fn feed(&mut self, pcm: &[i16], events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        self.upsampler.process(pcm, &mut self.pending);
        self.narrow_tail = true;
        self.take(events)
    }

    fn feed_wide(&mut self, pcm: &[i16], events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        self.flush_narrow();
        self.pending.extend_from_slice(pcm);
        self.take(events)
    }

    fn end_utterance(&mut self, events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        self.flush_narrow();
        self.take(events)?;
        // The last partial frame belongs to the utterance, if one is open.
        let rest = std::mem::take(&mut self.pending);
        if let Some(speech) = self.speech.as_mut() {
            speech
                .audio
                .extend(rest.iter().map(|&s| f32::from(s) / 32_768.0));
        }
        self.fed += rest.len() as u64;
        self.finish(events)
    }

    fn reset(&mut self) -> Result<(), AsrError> {
        self.endpointer = Endpointer::new(self.config.endpoint);
        self.upsampler = Upsampler2x::new();
        self.narrow_tail = false;
        self.pending.clear();
        self.pre_roll.clear();
        self.fed = 0;
        self.speech = None;
        self.utterance = 0;
        Ok(())
    }
}

/// A transcript as the trait's lower-case words: bracketed notes such as
/// `[BLANK_AUDIO]` or `(laughs)` dropped, anything but letters, digits and
/// apostrophes inside words made a space, single spaces between words.
#[must_use]
pub fn transcript_words(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut depth = 0u32;
    for c in text.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c if c.is_alphanumeric() || c == '\'' || c == '\u{2019}' => {
                plain.extend(
                    c.to_lowercase()
                        .map(|c| if c == '\u{2019}' { '\'' } else { c }),
                );
            }
            _ => plain.push(' '),
        }
    }
    plain
        .split_whitespace()
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::{CHUNK_SAMPLES, WIDE_CHUNK_SAMPLES, phone_duration};

    /// Reports the length of each buffer it is given, as `"n<samples>"`, and
    /// keeps the buffers.
    #[derive(Default)]
    struct Lengths(Vec<Vec<f32>>);

    impl Transcriber for Lengths {
        fn transcribe(&mut self, audio: &[f32]) -> Result<String, AsrError> {
            self.0.push(audio.to_vec());
            Ok(format!("N{}.", audio.len()))
        }
    }

    /// `ms` of a 300 Hz tone at 8 kHz, loud enough to be speech.
    fn tone(ms: usize) -> Vec<i16> {
        (0..ms * 8)
            .map(|n| {
                (8000.0 * (2.0 * std::f64::consts::PI * 300.0 * n as f64 / 8000.0).sin()) as i16
            })
            .collect()
    }

    fn silence(ms: usize) -> Vec<i16> {
        vec![0; ms * 8]
    }

    fn feed_phone(rec: &mut BatchRecogniser<Lengths>, pcm: &[i16]) -> Vec<AsrEvent> {
        let mut events = Vec::new();
        for chunk in pcm.chunks(CHUNK_SAMPLES) {
            rec.feed(chunk, &mut events).expect("fed");
        }
        events
    }

    fn finals(events: &[AsrEvent]) -> Vec<&Hypothesis> {
        events
            .iter()
            .filter_map(|e| match e {
                AsrEvent::Final(h) => Some(h),
                AsrEvent::Partial(_) => None,
            })
            .collect()
    }

    #[test]
    fn words_are_lower_case_without_punctuation_or_notes() {
        assert_eq!(
            transcript_words(" I'd like a refund, please. [BLANK_AUDIO] (sighs) It's “broken”!"),
            "i'd like a refund please it's broken"
        );
        assert_eq!(
            transcript_words("Credit-card: $20 \u{2019}90s’"),
            "credit card 20 90s"
        );
        assert_eq!(transcript_words("[unclosed ... "), "");
    }

    #[test]
    fn two_utterances_in_a_stream_are_decoded_once_each_when_they_end() {
        let mut rec = BatchRecogniser::new(Lengths::default(), BatchConfig::default());
        let mut audio = silence(1000);
        audio.extend(tone(1000));
        audio.extend(silence(1000));
        audio.extend(tone(500));
        audio.extend(silence(1000));
        let events = feed_phone(&mut rec, &audio);
        let got = finals(&events);
        assert_eq!(got.len(), 2, "{events:?}");
        assert_eq!(events.len(), 2, "no partials unless asked");
        assert_eq!((got[0].utterance, got[1].utterance), (0, 1));
        // The upsampler delays audio by 1 ms, so the tone reaches into a 21st
        // frame (1000-1020 ms of it): speech is proved by the third voiced
        // frame at 1060 ms and ends on the 30th unvoiced one (600 ms), at 2620 ms.
        // Each buffer starts with the 300 ms pre-roll: 240 ms of silence first.
        let buffers = &rec.transcriber().0;
        let wide = |ms: usize| ms * 16;
        assert_eq!(buffers[0].len(), wide(2620 - 760));
        assert_eq!(got[0].text, format!("n{}", buffers[0].len()));
        assert_eq!(got[0].start, Duration::from_millis(760));
        assert_eq!(got[0].end, Duration::from_millis(2620));
        assert_eq!(got[1].start, Duration::from_millis(2760));
        assert!(buffers[0][..wide(239)].iter().all(|&s| s == 0.0));
        assert!(
            buffers[0][wide(242)..wide(242) + 16]
                .iter()
                .any(|&s| s != 0.0)
        );
    }

    #[test]
    fn silence_and_clicks_are_never_decoded() {
        let mut rec = BatchRecogniser::new(Lengths::default(), BatchConfig::default());
        let mut audio = silence(2000);
        audio.extend(tone(100)); // speech, but under min_voiced
        audio.extend(silence(1000));
        audio.extend(tone(30)); // too short to start
        audio.extend(silence(500));
        let mut events = feed_phone(&mut rec, &audio);
        rec.end_utterance(&mut events).expect("ended");
        assert_eq!(events, []);
        assert!(rec.transcriber().0.is_empty());
        // The dropped utterance still used its number.
        let events = feed_phone(&mut rec, &[tone(400), silence(700)].concat());
        assert_eq!(finals(&events)[0].utterance, 1);
    }

    #[test]
    fn end_utterance_and_the_length_cap_cut_utterances() {
        let config = BatchConfig {
            max_utterance: Duration::from_secs(2),
            ..BatchConfig::default()
        };
        let mut rec = BatchRecogniser::new(Lengths::default(), config);
        let mut events = feed_phone(&mut rec, &tone(5000));
        assert_eq!(finals(&events).len(), 2, "cut at 2 s twice");
        assert!(rec.transcriber().0.iter().all(|b| b.len() == 32_000));
        rec.end_utterance(&mut events).expect("ended");
        let got = finals(&events);
        assert_eq!(got.len(), 3, "{events:?}");
        // The rest of the tone, the upsampler's tail included: the frames that
        // restarted speech after each cut are in the pre-roll, not lost.
        assert_eq!(got[2].end, phone_duration(5000 * 8 + 8));
        let events = feed_phone(&mut rec, &silence(100));
        assert_eq!(events, []);
    }

    #[test]
    fn partials_re_decode_the_growing_buffer_when_asked() {
        let config = BatchConfig {
            partial_every: Some(Duration::from_millis(500)),
            ..BatchConfig::default()
        };
        let mut rec = BatchRecogniser::new(Lengths::default(), config);
        let events = feed_phone(&mut rec, &[silence(500), tone(1600), silence(800)].concat());
        let partials: Vec<&Hypothesis> = events
            .iter()
            .filter_map(|e| match e {
                AsrEvent::Partial(h) => Some(h),
                AsrEvent::Final(_) => None,
            })
            .collect();
        // Speech is proved at 560 ms with 300 ms of pre-roll; the buffer is
        // decoded at 0.5, 1, 1.5 and 2 s and ends at 2.46 s (2720 ms fed).
        assert_eq!(partials.len(), 4, "{events:?}");
        assert!(partials.windows(2).all(|p| p[0].end < p[1].end));
        assert_eq!(finals(&events).len(), 1);
        assert!(matches!(events.last(), Some(AsrEvent::Final(_))));
    }

    #[test]
    fn wideband_and_phone_audio_share_one_timeline() {
        let mut rec = BatchRecogniser::new(Lengths::default(), BatchConfig::default());
        let mut events = Vec::new();
        for chunk in tone(1000).chunks(CHUNK_SAMPLES) {
            rec.feed(chunk, &mut events).expect("fed");
        }
        let wide = vec![0i16; 16 * 1000];
        for chunk in wide.chunks(WIDE_CHUNK_SAMPLES) {
            rec.feed_wide(chunk, &mut events).expect("fed");
        }
        let got = finals(&events);
        assert_eq!(got.len(), 1, "{events:?}");
        // The tone's last 1 ms (the upsampler's tail) voices the frame at
        // 1000-1020 ms; 600 ms of unvoiced frames follow it.
        assert_eq!(got[0].end, Duration::from_millis(1620));
        rec.reset().expect("reset");
        let events = feed_phone(&mut rec, &[tone(300), silence(700)].concat());
        assert_eq!(finals(&events)[0].utterance, 0, "numbering restarts");
    }
}
