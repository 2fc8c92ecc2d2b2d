//! Energy-based endpointing: where utterances start and end in a stream, for
//! engines that transcribe whole utterances and have no detector of their own.
//!
//! Contract: the caller cuts 16 kHz audio into [`FRAME_SAMPLES`] frames (20 ms)
//! and passes each to [`Endpointer::push_frame`], which returns an [`Edge`] when
//! speech starts or ends. A frame is voiced when its level is at least
//! [`EndpointConfig::speech_floor_db`] and [`EndpointConfig::above_noise_db`]
//! over the tracked noise level, which follows quiet frames down at once and
//! rises slowly ([`NOISE_RISE_DB`] a frame), so steady line noise stays
//! unvoiced. Speech starts after [`EndpointConfig::start_after`] of voiced
//! frames in a row and ends after [`EndpointConfig::end_after`] of unvoiced
//! ones. Pure arithmetic on the samples given: no clock, no allocation.

use std::time::Duration;

/// Samples in one 20 ms frame of 16 kHz audio.
pub const FRAME_SAMPLES: usize = super::WIDE_CHUNK_SAMPLES;

/// How fast the noise estimate rises through louder frames, in dB a frame
/// (2.5 dB a second): speech is too short to drag it up, a louder line is not.
pub const NOISE_RISE_DB: f32 = 0.05;

/// The level of a frame of digital silence.
const SILENCE_DB: f32 = -100.0;

/// When the endpointer calls a frame speech, and how long runs must last.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EndpointConfig {
    /// Frames quieter than this (dB relative to full scale, RMS) are never speech.
    pub speech_floor_db: f32,
    /// How far above the noise estimate a voiced frame must be, in dB.
    pub above_noise_db: f32,
    /// Voiced audio in a row that starts an utterance.
    pub start_after: Duration,
    /// Unvoiced audio in a row that ends one.
    pub end_after: Duration,
}

impl Default for EndpointConfig {
    /// Settings for telephone speech: a 45 dB dynamic range below full scale,
    /// 60 ms to start (a click is shorter), 600 ms to end (longer than the
    /// pauses inside a sentence).
    fn default() -> Self {
        Self {
            speech_floor_db: -45.0,
            above_noise_db: 10.0,
            start_after: Duration::from_millis(60),
            end_after: Duration::from_millis(600),
        }
    }
}

/// A change the endpointer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// Speech started; the frames that proved it ([`Endpointer::start_frames`]
    /// of them, this one included) belong to the utterance.
    Start,
    /// Speech ended; the unvoiced frames before it trail the utterance.
    End,
}

/// Finds utterances in a stream of 20 ms frames.
#[derive(Debug, Clone)]
pub struct Endpointer {
    config: EndpointConfig,
    start_frames: u32,
    end_frames: u32,
    noise_db: f32,
    in_speech: bool,
    last_voiced: bool,
    /// Voiced frames in a row (outside speech) or unvoiced ones (inside).
    run: u32,
}

impl Endpointer {
    /// A new endpointer, outside speech, whose noise estimate starts at the floor.
    #[must_use]
    pub fn new(config: EndpointConfig) -> Self {
        let frames = |d: Duration| (d.as_millis() / 20).max(1) as u32;
        Self {
            start_frames: frames(config.start_after),
            end_frames: frames(config.end_after),
            noise_db: config.speech_floor_db - config.above_noise_db,
            in_speech: false,
            last_voiced: false,
            run: 0,
            config,
        }
    }

    /// Frames of voiced audio that start an utterance.
    #[must_use]
    pub fn start_frames(&self) -> u32 {
        self.start_frames
    }

    /// Whether the last frame left the stream inside an utterance.
    #[must_use]
    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// Whether the last frame was voiced.
    #[must_use]
    pub fn last_voiced(&self) -> bool {
        self.last_voiced
    }

    /// Takes one frame; reports speech starting or ending with it.
    pub fn push_frame(&mut self, frame: &[i16]) -> Option<Edge> {
        let voiced = self.classify(level_db(frame));
        self.last_voiced = voiced;
        if voiced == self.in_speech {
            self.run = 0;
            return None;
        }
        self.run += 1;
        let (needed, edge) = if self.in_speech {
            (self.end_frames, Edge::End)
        } else {
            (self.start_frames, Edge::Start)
        };
        if self.run < needed {
            return None;
        }
        self.in_speech = !self.in_speech;
        self.run = 0;
        Some(edge)
    }

    /// Ends any utterance in progress without a report (the caller closed it).
    pub fn close(&mut self) {
        self.in_speech = false;
        self.run = 0;
    }

    fn classify(&mut self, level: f32) -> bool {
        let voiced = level >= self.config.speech_floor_db
            && level >= self.noise_db + self.config.above_noise_db;
        self.noise_db = if level < self.noise_db {
            level
        } else {
            self.noise_db + NOISE_RISE_DB
        };
        voiced
    }
}

/// RMS level of `frame` in dB relative to a full-scale square wave.
#[must_use]
pub fn level_db(frame: &[i16]) -> f32 {
    if frame.is_empty() {
        return SILENCE_DB;
    }
    let energy: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let mean = energy / frame.len() as f64 / (f64::from(i16::MAX) * f64::from(i16::MAX));
    if mean <= 0.0 {
        return SILENCE_DB;
    }
    ((10.0 * mean.log10()) as f32).max(SILENCE_DB)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20 ms frame of a 300 Hz tone at `db` below full scale (RMS of the
    /// tone is 3 dB under its peak).
    fn tone(db: f32) -> Vec<i16> {
        let peak = f64::from(i16::MAX) * 10f64.powf(f64::from(db + 3.0103) / 20.0);
        (0..FRAME_SAMPLES)
            .map(|n| {
                (peak * (2.0 * std::f64::consts::PI * 300.0 * n as f64 / 16_000.0).sin()) as i16
            })
            .collect()
    }

    fn edges(ep: &mut Endpointer, frames: &[Vec<i16>]) -> Vec<(usize, Edge)> {
        frames
            .iter()
            .enumerate()
            .filter_map(|(i, f)| ep.push_frame(f).map(|e| (i, e)))
            .collect()
    }

    #[test]
    fn levels_are_relative_to_full_scale() {
        assert_eq!(level_db(&[0; FRAME_SAMPLES]), SILENCE_DB);
        assert!(
            (level_db(&tone(-20.0)) + 20.0).abs() < 0.2,
            "{}",
            level_db(&tone(-20.0))
        );
        assert!(level_db(&[i16::MAX; 4]).abs() < 0.01);
    }

    #[test]
    fn speech_between_silences_starts_and_ends_once() {
        let mut ep = Endpointer::new(EndpointConfig::default());
        let mut frames = vec![vec![0; FRAME_SAMPLES]; 10];
        frames.extend(vec![tone(-20.0); 50]);
        frames.extend(vec![vec![0; FRAME_SAMPLES]; 40]);
        // Start on the third voiced frame (60 ms); end on the 30th silent one (600 ms).
        assert_eq!(
            edges(&mut ep, &frames),
            [(12, Edge::Start), (89, Edge::End)]
        );
        assert!(!ep.in_speech());
    }

    #[test]
    fn short_pauses_and_clicks_do_not_cut_or_start_utterances() {
        let mut ep = Endpointer::new(EndpointConfig::default());
        let mut frames = vec![tone(-20.0); 20];
        frames.extend(vec![vec![0; FRAME_SAMPLES]; 20]); // a 400 ms pause
        frames.extend(vec![tone(-20.0); 20]);
        frames.extend(vec![vec![0; FRAME_SAMPLES]; 30]);
        frames.extend(vec![tone(-20.0); 2]); // a 40 ms click
        frames.extend(vec![vec![0; FRAME_SAMPLES]; 10]);
        assert_eq!(edges(&mut ep, &frames), [(2, Edge::Start), (89, Edge::End)]);
    }

    #[test]
    fn quiet_audio_and_steady_noise_stay_unvoiced() {
        let mut ep = Endpointer::new(EndpointConfig::default());
        assert_eq!(edges(&mut ep, &vec![tone(-50.0); 100]), []);
        // Noise at -40 dB is over the floor, but the estimate follows it down
        // after its first frames; speech 20 dB over it still starts.
        let mut ep = Endpointer::new(EndpointConfig::default());
        let mut frames = vec![tone(-40.0); 200];
        frames.extend(vec![tone(-20.0); 10]);
        let found = edges(&mut ep, &frames);
        assert_eq!(found.last(), Some(&(202, Edge::Start)), "{found:?}");
    }
}
