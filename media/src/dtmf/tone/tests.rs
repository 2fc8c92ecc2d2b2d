//! In-band detection against generated tones, noise and recorded speech.

use super::*;

const ALL: [Digit; 16] = Digit::ALL;

#[allow(
    clippy::disallowed_methods,
    reason = "the test's only anchor; the rest is arithmetic"
)]
fn anchor() -> Instant {
    Instant::now()
}

/// Deterministic noise: xorshift64*, Gaussian by the sum of twelve uniforms.
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 40) as f32 / (1u64 << 24) as f32
    }

    fn gaussian(&mut self) -> f32 {
        (0..12).map(|_| self.uniform()).sum::<f32>() - 6.0
    }
}

/// One tone of a pair: level in dBm0 and frequency as a factor of nominal.
#[derive(Clone, Copy)]
struct Part {
    dbm0: f32,
    factor: f32,
}

const NOMINAL: Part = Part {
    dbm0: -10.0,
    factor: 1.0,
};

/// A test signal built piece by piece, in floating point until the end.
struct Signal {
    rate: u32,
    samples: Vec<f32>,
    phase_seed: Noise,
}

impl Signal {
    fn new(rate: u32) -> Self {
        Signal {
            rate,
            samples: Vec::new(),
            phase_seed: Noise(0x9e37_79b9_7f4a_7c15),
        }
    }

    fn len_of(&self, ms: f32) -> usize {
        (ms * self.rate as f32 / 1000.0).round() as usize
    }

    fn silence(&mut self, ms: f32) -> &mut Self {
        let n = self.len_of(ms);
        self.samples.extend(std::iter::repeat_n(0.0, n));
        self
    }

    fn tone(&mut self, digit: Digit, ms: f32, low: Part, high: Part) -> &mut Self {
        let (fl, fh) = digit.frequencies();
        let (pl, ph) = (
            TAU * self.phase_seed.uniform(),
            TAU * self.phase_seed.uniform(),
        );
        let rate = self.rate as f32;
        let (al, ah) = (amplitude(low.dbm0), amplitude(high.dbm0));
        for i in 0..self.len_of(ms) {
            let t = i as f32 / rate;
            let l = al * (TAU * fl * low.factor * t + pl).sin();
            let h = ah * (TAU * fh * high.factor * t + ph).sin();
            self.samples.push(l + h);
        }
        self
    }

    fn digit(&mut self, digit: Digit, ms: f32) -> &mut Self {
        self.tone(digit, ms, NOMINAL, NOMINAL)
    }

    /// White noise over the whole signal, `snr_db` below the power of a tone pair at
    /// `dbm0` per tone.
    fn noise(&mut self, dbm0: f32, snr_db: f32, seed: u64) -> &mut Self {
        let signal_power = amplitude(dbm0).powi(2); // two tones of a²/2 each
        let sigma = (signal_power / 10f32.powf(snr_db / 10.0)).sqrt();
        let mut noise = Noise(seed);
        for s in &mut self.samples {
            *s += sigma * noise.gaussian();
        }
        self
    }

    fn pcm(&self) -> Vec<i16> {
        self.samples
            .iter()
            .map(|&s| s.round().clamp(-32768.0, 32767.0) as i16)
            .collect()
    }
}

fn amplitude(dbm0: f32) -> f32 {
    DBM0_AMPLITUDE * 10f32.powf(dbm0 / 20.0)
}

/// Runs a detector over `pcm` in 20 ms frames; the frames' instants start at `t0`.
fn detect_with(config: ToneConfig, t0: Instant, pcm: &[i16]) -> Vec<ToneDigit> {
    let mut detector = ToneDetector::new(config).unwrap();
    let frame = config.sample_rate as usize / 50;
    let mut out = Vec::new();
    for (i, chunk) in pcm.chunks(frame).enumerate() {
        detector.handle_samples(t0 + Duration::from_millis(20 * i as u64), chunk);
        out.extend(std::iter::from_fn(|| detector.poll_digit()));
    }
    out
}

fn detect(rate: u32, pcm: &[i16]) -> Vec<Digit> {
    detect_with(ToneConfig::new(rate), anchor(), pcm)
        .iter()
        .map(|d| d.digit)
        .collect()
}

/// Every digit once: 80 ms tones, 80 ms pauses.
fn all_digits(rate: u32, low: Part, high: Part) -> Signal {
    let mut s = Signal::new(rate);
    s.silence(50.0);
    for d in ALL {
        s.tone(d, 80.0, low, high).silence(80.0);
    }
    s
}

#[test]
fn all_digits_at_every_level() {
    for rate in [8000, 16_000] {
        for dbm0 in [-3.0, -10.0, -20.0, -30.0] {
            let part = Part { dbm0, factor: 1.0 };
            let got = detect(rate, &all_digits(rate, part, part).pcm());
            assert_eq!(got, ALL, "{rate} Hz at {dbm0} dBm0");
        }
    }
}

#[test]
fn all_digits_in_white_noise_at_15_db_snr() {
    for rate in [8000, 16_000] {
        for (dbm0, seed) in [(-10.0, 1), (-20.0, 2), (-28.0, 3)] {
            let part = Part { dbm0, factor: 1.0 };
            let mut s = all_digits(rate, part, part);
            s.noise(dbm0, 15.0, seed);
            assert_eq!(
                detect(rate, &s.pcm()),
                ALL,
                "{rate} Hz, {dbm0} dBm0 in noise"
            );
        }
    }
}

#[test]
fn too_weak_tones_are_ignored() {
    let part = Part {
        dbm0: -45.0,
        factor: 1.0,
    };
    assert!(detect(8000, &all_digits(8000, part, part).pcm()).is_empty());
}

#[test]
fn frequency_off_by_1_5_percent_is_accepted() {
    for (fl, fh) in [
        (1.015, 1.015),
        (0.985, 0.985),
        (1.015, 0.985),
        (0.985, 1.015),
    ] {
        let low = Part {
            factor: fl,
            ..NOMINAL
        };
        let high = Part {
            factor: fh,
            ..NOMINAL
        };
        for rate in [8000, 16_000] {
            let got = detect(rate, &all_digits(rate, low, high).pcm());
            assert_eq!(got, ALL, "{rate} Hz, factors {fl} {fh}");
        }
        let mut noisy = all_digits(8000, low, high);
        noisy.noise(-10.0, 15.0, 7);
        assert_eq!(
            detect(8000, &noisy.pcm()),
            ALL,
            "in noise, factors {fl} {fh}"
        );
    }
}

#[test]
fn frequency_off_by_3_5_percent_is_refused() {
    for factor in [1.035, 0.965] {
        let off = Part { factor, ..NOMINAL };
        for (low, high) in [(off, NOMINAL), (NOMINAL, off), (off, off)] {
            for rate in [8000, 16_000] {
                let got = detect(rate, &all_digits(rate, low, high).pcm());
                assert!(got.is_empty(), "{rate} Hz, factor {factor}: {got:?}");
            }
            let mut noisy = all_digits(8000, low, high);
            noisy.noise(-10.0, 15.0, 11);
            let got = detect(8000, &noisy.pcm());
            assert!(got.is_empty(), "in noise, factor {factor}: {got:?}");
        }
    }
}

#[test]
fn twist_within_limits_is_accepted() {
    // Normal twist: high group 7 dB louder. Reverse: low group 3 dB louder.
    let cases = [
        (-17.0, -10.0),
        (-10.0, -13.0),
        (-26.0, -19.0),
        (-20.0, -23.0),
    ];
    for (l, h) in cases {
        let low = Part {
            dbm0: l,
            factor: 1.0,
        };
        let high = Part {
            dbm0: h,
            factor: 1.0,
        };
        assert_eq!(
            detect(8000, &all_digits(8000, low, high).pcm()),
            ALL,
            "{l}/{h} dBm0"
        );
    }
}

#[test]
fn twist_beyond_limits_is_refused() {
    // Normal twist 10 dB, reverse twist 6 dB.
    for (l, h) in [(-20.0, -10.0), (-10.0, -16.0)] {
        let low = Part {
            dbm0: l,
            factor: 1.0,
        };
        let high = Part {
            dbm0: h,
            factor: 1.0,
        };
        let got = detect(8000, &all_digits(8000, low, high).pcm());
        assert!(got.is_empty(), "{l}/{h} dBm0: {got:?}");
    }
}

#[test]
fn forty_ms_tones_are_accepted_and_thirty_ms_refused() {
    for rate in [8000, 16_000] {
        // Shift the tones against the analysis grid by a fraction of a hop each time.
        for shift in [0.0, 0.6, 1.2, 1.9] {
            let mut long = Signal::new(rate);
            let mut short = Signal::new(rate);
            long.silence(30.0 + shift);
            short.silence(30.0 + shift);
            for d in ALL {
                long.digit(d, 40.0).silence(60.0);
                short.digit(d, 30.0).silence(60.0);
            }
            assert_eq!(
                detect(rate, &long.pcm()),
                ALL,
                "40 ms at {rate} Hz, shift {shift}"
            );
            let got = detect(rate, &short.pcm());
            assert!(got.is_empty(), "30 ms at {rate} Hz, shift {shift}: {got:?}");
        }
    }
}

#[test]
fn a_40_ms_pause_separates_two_presses() {
    for (a, b) in [
        (Digit::One, Digit::One),
        (Digit::Five, Digit::Nine),
        (Digit::Zero, Digit::D),
    ] {
        for shift in [0.0, 1.3] {
            let mut s = Signal::new(8000);
            s.silence(20.0 + shift)
                .digit(a, 40.0)
                .silence(40.0)
                .digit(b, 40.0)
                .silence(50.0);
            assert_eq!(detect(8000, &s.pcm()), vec![a, b], "{a}{b} shift {shift}");
            let mut noisy = Signal::new(8000);
            noisy
                .silence(20.0 + shift)
                .digit(a, 50.0)
                .silence(40.0)
                .digit(b, 50.0)
                .silence(50.0);
            noisy.noise(-10.0, 15.0, 5);
            assert_eq!(detect(8000, &noisy.pcm()), vec![a, b], "in noise {a}{b}");
        }
    }
}

#[test]
fn a_10_ms_drop_out_does_not_split_a_press() {
    let mut s = Signal::new(8000);
    s.silence(20.0)
        .digit(Digit::Six, 60.0)
        .silence(10.0)
        .digit(Digit::Six, 60.0)
        .silence(50.0);
    assert_eq!(detect(8000, &s.pcm()), vec![Digit::Six]);
}

#[test]
fn start_times_are_within_3_ms() {
    for rate in [8000, 16_000] {
        let mut s = Signal::new(rate);
        let mut starts = Vec::new();
        s.silence(37.0);
        for (i, d) in ALL.iter().enumerate() {
            starts.push(s.samples.len());
            s.digit(*d, 50.0 + i as f32).silence(70.0 + i as f32 * 1.7);
        }
        let t0 = anchor();
        let got = detect_with(ToneConfig::new(rate), t0, &s.pcm());
        assert_eq!(got.len(), 16);
        for (found, &start) in got.iter().zip(&starts) {
            let error_ms = (found.start_sample as f64 - start as f64) * 1000.0 / f64::from(rate);
            assert!(
                error_ms.abs() <= 3.0,
                "{} at {rate} Hz off by {error_ms} ms",
                found.digit
            );
            let true_start =
                t0 + Duration::from_nanos(start as u64 * 1_000_000_000 / u64::from(rate));
            let clock_error = if found.start > true_start {
                found.start - true_start
            } else {
                true_start - found.start
            };
            assert!(clock_error <= Duration::from_millis(3));
        }
    }
}

#[test]
fn single_tones_are_not_digits() {
    let mut s = Signal::new(8000);
    let silent = Part {
        dbm0: -90.0,
        factor: 1.0,
    };
    s.tone(Digit::Five, 200.0, NOMINAL, silent).silence(50.0);
    s.tone(Digit::Five, 200.0, silent, NOMINAL).silence(50.0);
    assert!(detect(8000, &s.pcm()).is_empty());
}

/// The high tone's second harmonic at -6 dB: refused by the harmonic check, accepted
/// without it.
#[test]
fn strong_second_harmonic_is_refused_when_checked() {
    let mut s = Signal::new(8000);
    s.silence(20.0);
    for d in ALL {
        let start = s.samples.len();
        s.digit(d, 80.0);
        let (_, high) = d.frequencies();
        let a = amplitude(NOMINAL.dbm0 - 6.0);
        for (i, x) in s.samples[start..].iter_mut().enumerate() {
            *x += a * (TAU * 2.0 * high * i as f32 / 8000.0).sin();
        }
        s.silence(80.0);
    }
    let pcm = s.pcm();
    assert!(detect(8000, &pcm).is_empty());
    let unchecked = ToneConfig {
        check_harmonics: None,
        ..ToneConfig::default()
    };
    let got: Vec<_> = detect_with(unchecked, anchor(), &pcm)
        .iter()
        .map(|d| d.digit)
        .collect();
    assert_eq!(got, ALL);
}

#[test]
fn odd_slice_sizes_give_the_same_digits() {
    let s = all_digits(8000, NOMINAL, NOMINAL).pcm();
    let mut detector = ToneDetector::new(ToneConfig::default()).unwrap();
    let t0 = anchor();
    let mut got = Vec::new();
    let mut at = 0;
    for (i, len) in [1usize, 7, 19, 20, 21, 333, 160].iter().cycle().enumerate() {
        if at >= s.len() {
            break;
        }
        let end = (at + len).min(s.len());
        detector.handle_samples(t0 + Duration::from_micros(at as u64 * 125), &s[at..end]);
        at = end;
        got.extend(std::iter::from_fn(|| detector.poll_digit()).map(|d| d.digit));
        assert!(i < 100_000);
    }
    assert_eq!(got, ALL);
}

#[test]
fn rejects_unsupported_configuration() {
    assert_eq!(
        ToneDetector::new(ToneConfig::new(11_025)).err(),
        Some(ConfigError::UnsupportedSampleRate { rate: 11_025 })
    );
    let bad_share = ToneConfig {
        min_tone_share: 1.5,
        ..ToneConfig::default()
    };
    assert!(ToneDetector::new(bad_share).is_err());
}

/// Reads 16-bit mono PCM out of a RIFF/WAVE file: just enough for the fixture.
fn wav_pcm(bytes: &[u8]) -> (u32, Vec<i16>) {
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    let (mut at, mut rate, mut pcm) = (12, 0, Vec::new());
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
        if id == b"fmt " {
            assert_eq!(u16::from_le_bytes([body[0], body[1]]), 1, "PCM");
            assert_eq!(u16::from_le_bytes([body[2], body[3]]), 1, "mono");
            assert_eq!(u16::from_le_bytes([body[14], body[15]]), 16, "16-bit");
            rate = u32::from_le_bytes(body[4..8].try_into().unwrap());
        } else if id == b"data" {
            pcm = body
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
        }
        at += 8 + len + (len & 1);
    }
    (rate, pcm)
}

fn speech() -> Vec<i16> {
    let (rate, pcm) = wav_pcm(include_bytes!("../../../tests/fixtures/speech-8k.wav"));
    assert_eq!(rate, 8000);
    assert!(pcm.len() > 8000 * 20, "at least 20 s of speech");
    pcm
}

fn gain(pcm: &[i16], db: f32) -> Vec<i16> {
    let g = 10f32.powf(db / 20.0);
    pcm.iter()
        .map(|&s| (f32::from(s) * g).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

#[test]
fn speech_triggers_no_digit() {
    let speech = speech();
    for db in [-12.0, -6.0, 0.0] {
        let got = detect(8000, &gain(&speech, db));
        assert!(got.is_empty(), "talk-off at {db} dB: {got:?}");
    }
}

#[test]
fn digits_between_speech_are_still_found() {
    let speech = speech();
    let mut s = Signal::new(8000);
    s.samples
        .extend(speech[..16_000].iter().map(|&x| f32::from(x)));
    s.silence(100.0)
        .digit(Digit::Four, 60.0)
        .silence(60.0)
        .digit(Digit::Two, 60.0);
    s.samples
        .extend(speech[16_000..32_000].iter().map(|&x| f32::from(x)));
    assert_eq!(detect(8000, &s.pcm()), vec![Digit::Four, Digit::Two]);
}
