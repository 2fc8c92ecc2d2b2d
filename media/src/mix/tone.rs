//! Test signals: pure tones, a single-bin Goertzel detector and seeded noise.

use std::f64::consts::PI;

/// Sample rate of the test signals.
pub(super) const RATE: f64 = 8_000.0;

/// `len` samples of a `freq` Hz sine of amplitude `amp`, from sample `start` on.
pub(crate) fn tone(freq: f64, amp: f64, start: usize, len: usize) -> Vec<i16> {
    (start..start + len)
        .map(|n| (amp * (2.0 * PI * freq * n as f64 / RATE).sin()).round() as i16)
        .collect()
}

/// Amplitude of the `freq` component of `x` (8 kHz) by the Goertzel recurrence. Exact
/// for tones that complete whole cycles in `x` (multiples of 50 Hz over 160 samples).
pub(crate) fn amplitude(x: &[i16], freq: f64) -> f64 {
    amplitude_at(x, freq, RATE)
}

/// [`amplitude`] of `x` sampled at `rate` Hz.
pub(crate) fn amplitude_at(x: &[i16], freq: f64, rate: f64) -> f64 {
    let w = 2.0 * PI * freq / rate;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &sample in x {
        let s0 = f64::from(sample) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / x.len() as f64
}

/// Marsaglia's xorshift64: deterministic noise for tests.
pub(super) struct XorShift(pub(super) u64);

impl XorShift {
    pub(super) fn sample(&mut self) -> i16 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 48) as u16 as i16
    }
}
