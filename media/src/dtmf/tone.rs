//! In-band DTMF detection: Goertzel filters over decoded audio, with ITU-T Q.24-style
//! acceptance.
//!
//! # How a digit is recognised
//!
//! Every 2.5 ms the detector looks at the last 12.75 ms of audio (102 samples at 8 kHz,
//! 204 at 16 kHz) through twelve Goertzel filters: one per DTMF frequency, and one at
//! the second harmonic of each high-group tone. That window *hits* a digit when all of
//! these hold:
//!
//! * the strongest low-group and high-group filters each carry at least
//!   [`ToneConfig::min_level_dbm0`];
//! * twist: the high tone is at most [`ToneConfig::max_normal_twist_db`] above the low
//!   one, and the low tone at most [`ToneConfig::max_reverse_twist_db`] above the high
//!   one;
//! * each winner stands clear of the other three filters of its group;
//! * the two tones hold at least [`ToneConfig::min_tone_share`] of the window's energy.
//!   Speech spreads its energy over many harmonics and fails this; so does noise;
//! * with [`ToneConfig::check_harmonics`], the high tone's second harmonic is weak (the
//!   low tones' second harmonics fall next to high-group tones and cannot be told apart
//!   in so short a window).
//!
//! Consecutive hits of one digit form a *run*; a run survives a miss-out shorter than
//! half of [`ToneConfig::min_pause`], so a 40 ms pause separates two presses and a 10 ms
//! drop-out does not. Once a run has lasted [`ToneConfig::min_duration`] (less 5 ms of
//! measurement tolerance: with the default 40 ms, 40 ms tones pass and 32 ms tones fail
//! wherever they fall on the 2.5 ms grid), its frequencies are checked:
//! the phase advance of each winning filter from window to window, summed over the run,
//! gives the tone's true frequency to within a hertz or two, which must lie within
//! [`ToneConfig::max_frequency_deviation`] of nominal (default 2.5 %: Q.24 asks that
//! ±1.5 % be accepted and ±3.5 % refused). A run that passes yields one [`ToneDigit`],
//! reported as soon as it is confirmed, with the start of the tone.
//!
//! # Time
//!
//! [`ToneDetector::handle_samples`] takes `now`, the instant of the slice's first
//! sample; a digit's start is placed on that clock by counting samples.

use std::collections::VecDeque;
use std::f32::consts::TAU;
use std::time::{Duration, Instant};

use super::digit::{COL_HZ, ROW_HZ};
use super::{ConfigError, Digit};

/// Sine amplitude of a 0 dBm0 tone in 16-bit linear PCM (G.711 puts full scale at
/// +3.17 dBm0).
const DBM0_AMPLITUDE: f32 = 22_700.0;
/// Window and hop lengths at 8 kHz; doubled at 16 kHz.
const WINDOW_8K: usize = 102;
const HOP_8K: usize = 20;
/// Each group's winner must exceed the other filters of its group by this (dB).
const GROUP_MARGIN_DB: f32 = 10.0;
/// Goertzel filters per window: the eight DTMF tones and the high tones' second
/// harmonics.
const FILTERS: usize = 12;
/// Fewest window-to-window phase measurements a frequency verdict rests on. A tone
/// that hits only now and then (one far off frequency) does not get a verdict from
/// one lucky pair of windows.
const MIN_DRIFTS: u32 = 4;
/// Tolerance of the duration measurement: runs reaching `min_duration` less this are
/// accepted.
const DURATION_TOLERANCE: Duration = Duration::from_millis(5);

/// Parameters of a [`ToneDetector`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneConfig {
    /// 8000 or 16000.
    pub sample_rate: u32,
    /// Shortest tone reported (Q.24: 40 ms).
    pub min_duration: Duration,
    /// Shortest pause that separates two presses (Q.24: 40 ms).
    pub min_pause: Duration,
    /// Weakest tone accepted, per frequency, in dBm0.
    pub min_level_dbm0: f32,
    /// Largest excess of the high tone over the low one (normal twist), dB.
    pub max_normal_twist_db: f32,
    /// Largest excess of the low tone over the high one (reverse twist), dB.
    pub max_reverse_twist_db: f32,
    /// Largest relative frequency error of either tone (0.025 = 2.5 %).
    pub max_frequency_deviation: f32,
    /// Smallest share of the window's energy the two tones must hold (0..1).
    pub min_tone_share: f32,
    /// Largest level of the high tone's second harmonic relative to the tone, dB
    /// (negative); `None` skips the check.
    pub check_harmonics: Option<f32>,
}

impl ToneConfig {
    /// Defaults for `sample_rate`: Q.24 durations and twist, levels down to -36 dBm0.
    #[must_use]
    pub fn new(sample_rate: u32) -> Self {
        ToneConfig {
            sample_rate,
            min_duration: Duration::from_millis(40),
            min_pause: Duration::from_millis(40),
            min_level_dbm0: -36.0,
            max_normal_twist_db: 8.0,
            max_reverse_twist_db: 4.0,
            max_frequency_deviation: 0.025,
            min_tone_share: 0.75,
            check_harmonics: Some(-12.0),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.sample_rate != 8000 && self.sample_rate != 16_000 {
            return Err(ConfigError::UnsupportedSampleRate {
                rate: self.sample_rate,
            });
        }
        if self.min_duration <= DURATION_TOLERANCE {
            return Err(ConfigError::ZeroDuration {
                what: "min_duration",
            });
        }
        if self.min_pause.is_zero() {
            return Err(ConfigError::ZeroDuration { what: "min_pause" });
        }
        let share_ok = self.min_tone_share > 0.0 && self.min_tone_share <= 1.0;
        let dev_ok = self.max_frequency_deviation > 0.0 && self.max_frequency_deviation < 0.1;
        let twist_ok = self.max_normal_twist_db >= 0.0 && self.max_reverse_twist_db >= 0.0;
        match (share_ok, dev_ok, twist_ok) {
            (false, _, _) => Err(ConfigError::OutOfRange {
                what: "min_tone_share",
            }),
            (_, false, _) => Err(ConfigError::OutOfRange {
                what: "max_frequency_deviation",
            }),
            (_, _, false) => Err(ConfigError::OutOfRange { what: "twist" }),
            _ => Ok(()),
        }
    }
}

impl Default for ToneConfig {
    fn default() -> Self {
        Self::new(8000)
    }
}

/// A digit found in the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToneDigit {
    /// The key.
    pub digit: Digit,
    /// When the tone began, on the clock of the `now` given with the samples.
    pub start: Instant,
    /// The same, as a sample index counted from the first sample given to the detector.
    pub start_sample: u64,
}

/// One Goertzel filter.
#[derive(Debug, Clone, Copy)]
struct Filter {
    coef: f32,
    cos: f32,
    sin: f32,
    /// Phase a tone exactly on frequency advances in one hop, radians.
    hop_phase: f32,
    hz: f32,
}

impl Filter {
    fn new(hz: f32, sample_rate: f32, hop: usize) -> Self {
        let omega = TAU * hz / sample_rate;
        Filter {
            coef: 2.0 * omega.cos(),
            cos: omega.cos(),
            sin: omega.sin(),
            hop_phase: (omega * hop as f32).rem_euclid(TAU),
            hz,
        }
    }

    /// The complex outputs of `filters` over `window` (each the DFT at the filter's
    /// frequency, rotated by a constant that cancels between windows of one length).
    /// The filters run side by side in one pass: their recurrences vectorise.
    fn run_all<const N: usize>(filters: &[Filter; N], window: &[f32]) -> [(f32, f32); N] {
        let coef = filters.map(|f| f.coef);
        let (mut s1, mut s2) = ([0.0f32; N], [0.0f32; N]);
        for &x in window {
            for k in 0..N {
                let s0 = x + coef[k] * s1[k] - s2[k];
                s2[k] = s1[k];
                s1[k] = s0;
            }
        }
        std::array::from_fn(|k| (s1[k] - s2[k] * filters[k].cos, s2[k] * filters[k].sin))
    }
}

/// [`ToneConfig`]'s thresholds, as linear power (A²/2 of a sine) and power ratios.
#[derive(Debug, Clone, Copy)]
struct Limits {
    min_power: f32,
    normal_twist: f32,
    reverse_twist: f32,
    group_margin: f32,
    harmonic: Option<f32>,
}

/// What one window showed.
#[derive(Debug, Clone, Copy)]
struct Hit {
    digit: Digit,
    /// Phase deviation (radians per hop) of the low and high tones from nominal, when
    /// the previous window also carried this digit.
    drift: Option<(f32, f32)>,
}

/// Consecutive hits of one digit.
#[derive(Debug, Clone, Copy)]
struct Run {
    digit: Digit,
    /// Sample index at the end of its first and last hit windows.
    first_end: u64,
    last_end: u64,
    drift_sum: (f32, f32),
    drift_count: u32,
    /// Accepted or refused already.
    decided: bool,
}

/// Sans-IO in-band DTMF detector for one audio stream (see the module docs).
#[derive(Debug)]
pub struct ToneDetector {
    config: ToneConfig,
    window: usize,
    hop: usize,
    /// Low group, high group, high group's second harmonics.
    filters: [Filter; FILTERS],
    /// The configured limits as power ratios.
    limits: Limits,
    /// The last `window` samples.
    buf: Vec<f32>,
    /// Samples received since the last hop.
    pending: usize,
    /// Samples received in all.
    consumed: u64,
    /// Outputs of the previous window, if it hit.
    previous: Option<(Digit, [(f32, f32); FILTERS])>,
    run: Option<Run>,
    out: VecDeque<ToneDigit>,
}

impl ToneDetector {
    /// A detector; fails on an unsupported sample rate or thresholds out of range.
    pub fn new(config: ToneConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let scale = (config.sample_rate / 8000) as usize;
        let (window, hop) = (WINDOW_8K * scale, HOP_8K * scale);
        let rate = config.sample_rate as f32;
        let harmonics = COL_HZ.map(|hz| 2.0 * hz);
        let all_hz = [ROW_HZ, COL_HZ, harmonics].concat();
        let filters = std::array::from_fn(|i| Filter::new(all_hz[i], rate, hop));
        let min_amplitude = DBM0_AMPLITUDE * db_to_amplitude(config.min_level_dbm0);
        Ok(ToneDetector {
            config,
            window,
            hop,
            filters,
            limits: Limits {
                min_power: min_amplitude * min_amplitude / 2.0,
                normal_twist: db_to_power(config.max_normal_twist_db),
                reverse_twist: db_to_power(config.max_reverse_twist_db),
                group_margin: db_to_power(-GROUP_MARGIN_DB),
                harmonic: config.check_harmonics.map(db_to_power),
            },
            buf: vec![0.0; window],
            pending: 0,
            consumed: 0,
            previous: None,
            run: None,
            out: VecDeque::new(),
        })
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &ToneConfig {
        &self.config
    }

    /// Feeds decoded audio; `now` is the instant of `samples[0]`.
    pub fn handle_samples(&mut self, now: Instant, samples: &[i16]) {
        let anchor = Anchor {
            at: now,
            index: self.consumed,
        };
        let mut rest = samples;
        while !rest.is_empty() {
            let take = rest.len().min(self.hop - self.pending);
            let (head, tail) = rest.split_at(take);
            self.push(anchor, head);
            rest = tail;
        }
    }

    /// The next confirmed digit, oldest first.
    #[must_use]
    pub fn poll_digit(&mut self) -> Option<ToneDigit> {
        self.out.pop_front()
    }

    /// Forgets the audio heard so far (after a gap in the stream); undrained digits stay.
    pub fn reset(&mut self) {
        self.buf.fill(0.0);
        self.pending = 0;
        self.previous = None;
        self.run = None;
    }

    /// Appends samples that do not cross a hop boundary, analysing at the boundary.
    fn push(&mut self, anchor: Anchor, samples: &[i16]) {
        let keep = self.window - samples.len();
        self.buf.copy_within(samples.len().., 0);
        for (dst, &s) in self.buf[keep..].iter_mut().zip(samples) {
            *dst = f32::from(s);
        }
        self.pending += samples.len();
        self.consumed += samples.len() as u64;
        if self.pending == self.hop {
            self.pending = 0;
            if self.consumed >= self.window as u64 {
                let hit = self.analyse();
                self.track(anchor, hit);
            }
        }
    }

    /// Looks at the current window.
    fn analyse(&mut self) -> Option<Hit> {
        let n = self.window as f32;
        let energy = self.buf.iter().map(|x| x * x).sum::<f32>() / n;
        if energy < self.limits.min_power {
            self.previous = None;
            return None;
        }
        let outputs = Filter::run_all(&self.filters, &self.buf);
        let power = outputs.map(|(re, im)| 2.0 * (re * re + im * im) / (n * n));
        let digit = self.judge(&power, energy);
        let previous = self.previous.take();
        let digit = digit?;
        self.previous = Some((digit, outputs));
        let drift = previous
            .filter(|(d, _)| *d == digit)
            .map(|(_, before)| self.drift(digit, &before, &outputs));
        Some(Hit { digit, drift })
    }

    /// The digit the filter powers show, if they pass every level check.
    fn judge(&self, power: &[f32; FILTERS], energy: f32) -> Option<Digit> {
        let (row, low) = strongest(&power[..4]);
        let (col, high) = strongest(&power[4..8]);
        let lim = &self.limits;
        let clear = |group: &[f32], best: usize, p: f32| {
            let limit = p * lim.group_margin;
            group
                .iter()
                .enumerate()
                .all(|(i, &q)| i == best || q <= limit)
        };
        let pass = low >= lim.min_power
            && high >= lim.min_power
            && high <= low * lim.normal_twist
            && low <= high * lim.reverse_twist
            && clear(&power[..4], row, low)
            && clear(&power[4..8], col, high)
            && low + high >= self.config.min_tone_share * energy
            && self
                .limits
                .harmonic
                .is_none_or(|h| power[8 + col] <= high * h);
        pass.then(|| Digit::at(row, col))
    }

    /// Phase deviation per hop of the digit's two tones between two windows.
    fn drift(
        &self,
        digit: Digit,
        before: &[(f32, f32); FILTERS],
        now: &[(f32, f32); FILTERS],
    ) -> (f32, f32) {
        let (row, col) = digit.row_col();
        let one = |i: usize| {
            let ((a, b), (c, d)) = (before[i], now[i]);
            // arg(now · conj(before)) less the nominal advance, wrapped to (-π, π].
            let advance = (a * d - b * c).atan2(a * c + b * d);
            wrap(advance - self.filters[i].hop_phase)
        };
        (one(row), one(4 + col))
    }

    /// Extends, closes or opens runs with the latest window, confirming digits.
    fn track(&mut self, anchor: Anchor, hit: Option<Hit>) {
        let end = self.consumed;
        let bridge = self.bridge();
        if let Some(run) = self.run {
            let continues = hit.is_some_and(|h| h.digit == run.digit);
            if end - run.last_end > bridge || (hit.is_some() && !continues) {
                self.run = None;
            }
        }
        let Some(hit) = hit else {
            return;
        };
        let run = self.run.get_or_insert(Run {
            digit: hit.digit,
            first_end: end,
            last_end: end,
            drift_sum: (0.0, 0.0),
            drift_count: 0,
            decided: false,
        });
        run.last_end = end;
        if let Some((low, high)) = hit.drift {
            run.drift_sum.0 += low;
            run.drift_sum.1 += high;
            run.drift_count += 1;
        }
        self.confirm(anchor);
    }

    /// Decides the current run once it is long enough.
    fn confirm(&mut self, anchor: Anchor) {
        let Some(run) = self.run else {
            return;
        };
        if run.decided || self.run_duration(&run) < self.accept_duration() {
            return;
        }
        let accepted = self.frequencies_ok(&run);
        if let Some(r) = self.run.as_mut() {
            r.decided = true;
        }
        if accepted {
            let start_sample = self.run_start(&run);
            let start = anchor.instant_of(start_sample, self.config.sample_rate);
            self.out.push_back(ToneDigit {
                digit: run.digit,
                start,
                start_sample,
            });
        }
    }

    fn frequencies_ok(&self, run: &Run) -> bool {
        if run.drift_count < MIN_DRIFTS {
            return false;
        }
        let (row, col) = run.digit.row_col();
        let per_hop = |sum: f32| sum / run.drift_count as f32;
        let to_hz = self.config.sample_rate as f32 / (TAU * self.hop as f32);
        let within = |sum: f32, filter: &Filter| {
            (per_hop(sum) * to_hz).abs() <= self.config.max_frequency_deviation * filter.hz
        };
        within(run.drift_sum.0, &self.filters[row])
            && within(run.drift_sum.1, &self.filters[4 + col])
    }

    /// Estimated tone length of a run, in samples. A window hits once the tone fills
    /// about `min_tone_share` of it, so the hits span the tone less
    /// `(2·share - 1)·window`; half a hop centres the rounding.
    fn run_duration(&self, run: &Run) -> u64 {
        let edges = (2.0 * self.config.min_tone_share - 1.0).max(0.0) * self.window as f32;
        run.last_end - run.first_end + edges as u64 + self.hop as u64 / 2
    }

    /// Estimated first sample of a run's tone.
    fn run_start(&self, run: &Run) -> u64 {
        let lead = self.config.min_tone_share * self.window as f32;
        run.first_end
            .saturating_sub(lead as u64 + self.hop as u64 / 2)
    }

    fn accept_duration(&self) -> u64 {
        self.samples(self.config.min_duration.saturating_sub(DURATION_TOLERANCE))
    }

    /// Longest gap between hits (window ends) that does not end a run: a pause of half
    /// `min_pause`, plus the windows that straddle the pause's edges.
    fn bridge(&self) -> u64 {
        let edges = (2.0 * self.config.min_tone_share - 1.0).max(0.0) * self.window as f32;
        self.samples(self.config.min_pause / 2) + edges as u64
    }

    fn samples(&self, d: Duration) -> u64 {
        (d.as_nanos() * u128::from(self.config.sample_rate) / 1_000_000_000) as u64
    }
}

/// A sample index whose instant is known: the first sample of a slice.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    at: Instant,
    index: u64,
}

impl Anchor {
    fn instant_of(self, sample: u64, rate: u32) -> Instant {
        let span = |n: u64| Duration::from_nanos(n * 1_000_000_000 / u64::from(rate));
        if sample >= self.index {
            self.at + span(sample - self.index)
        } else {
            self.at
                .checked_sub(span(self.index - sample))
                .unwrap_or(self.at)
        }
    }
}

fn strongest(group: &[f32]) -> (usize, f32) {
    group.iter().copied().enumerate().fold(
        (0, f32::MIN),
        |best, (i, p)| if p > best.1 { (i, p) } else { best },
    )
}

fn wrap(angle: f32) -> f32 {
    let a = (angle + std::f32::consts::PI).rem_euclid(TAU);
    a - std::f32::consts::PI
}

fn db_to_power(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

fn db_to_amplitude(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

#[cfg(test)]
mod tests;
