//! Test signals and measures shared by the codec tests.

use std::f64::consts::TAU;

/// A pure tone of `amplitude` at `hz`, `len` samples at `rate` Hz.
pub(crate) fn sine(hz: f64, rate: u32, amplitude: f64, len: usize) -> Vec<i16> {
    (0..len)
        .map(|n| (amplitude * (TAU * hz * n as f64 / f64::from(rate)).sin()).round() as i16)
        .collect()
}

/// A speech-like signal at `rate` Hz: the harmonics of a voice whose pitch glides
/// around 140 Hz (±10 %, 1.5 times a second) up to 3.4 kHz, shaped by three formants
/// (500, 1500, 2500 Hz) and given pseudo-random phases (fixed seed), under a 4 Hz
/// syllabic envelope that swings between 10 % and 100 %; peaks near −8 dBFS. The glide
/// keeps it from repeating, so there is one right way to line it up with a copy.
pub(crate) fn speech_like(rate: u32, len: usize) -> Vec<i16> {
    delayed_speech_like(rate, len, 0.0)
}

const PITCH_HZ: f64 = 140.0;
const GLIDE_DEPTH: f64 = 0.1;
const GLIDE_HZ: f64 = 1.5;

/// [`speech_like`] delayed by `delay` samples, which may be fractional: computed from
/// its formula, so a codec's output can be lined up with its input to a fraction of a
/// sample.
pub(crate) fn delayed_speech_like(rate: u32, len: usize, delay: f64) -> Vec<i16> {
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    let harmonics: Vec<(f64, f64, f64)> = (1..)
        .map(|k| PITCH_HZ * f64::from(k))
        .take_while(|&hz| hz * (1.0 + GLIDE_DEPTH) <= 3400.0)
        .map(|hz| {
            let formants: f64 = [(500.0, 1.0), (1500.0, 0.5), (2500.0, 0.25)]
                .iter()
                .map(|&(centre, gain)| gain / (1.0 + ((hz - centre) / 200.0).powi(2)))
                .sum();
            let phase = TAU * (xorshift(&mut seed) % 1000) as f64 / 1000.0;
            (hz, 0.05 + formants, phase)
        })
        .collect();
    let value = |t: f64| {
        let envelope = 0.55 - 0.45 * (TAU * 4.0 * t).cos();
        // Time warped so that frequencies swing by ±GLIDE_DEPTH at GLIDE_HZ.
        let warped = t - GLIDE_DEPTH / (TAU * GLIDE_HZ) * (TAU * GLIDE_HZ * t).cos();
        let voice: f64 = harmonics
            .iter()
            .map(|&(hz, gain, phase)| gain * (TAU * hz * warped + phase).sin())
            .sum();
        envelope * voice
    };
    // The peak of the first 1/4 s (one envelope period and many pitch periods).
    let peak = (0..rate / 4)
        .map(|n| value(f64::from(n) / f64::from(rate)).abs())
        .fold(0.0_f64, f64::max);
    (0..len)
        .map(|n| {
            let t = (n as f64 - delay) / f64::from(rate);
            (value(t) / peak * 13_000.0).round() as i16
        })
        .collect()
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Signal-to-noise ratio (dB) of `output` against `reference` delayed by `delay`
/// samples, over the reference samples from `skip` on that the output covers.
pub(crate) fn snr_db(reference: &[i16], output: &[i16], delay: usize, skip: usize) -> f64 {
    let (mut signal, mut noise) = (0.0, 0.0);
    for (n, &r) in reference.iter().enumerate().skip(skip) {
        let Some(&y) = output.get(n + delay) else {
            break;
        };
        signal += f64::from(r).powi(2);
        noise += (f64::from(y) - f64::from(r)).powi(2);
    }
    10.0 * (signal / noise.max(1e-9)).log10()
}

/// The delay in `0..max_delay` at which `output` best matches `reference` (largest SNR).
pub(crate) fn best_delay(
    reference: &[i16],
    output: &[i16],
    max_delay: usize,
    skip: usize,
) -> usize {
    (0..max_delay)
        .max_by(|&a, &b| {
            snr_db(reference, output, a, skip).total_cmp(&snr_db(reference, output, b, skip))
        })
        .unwrap_or(0)
}

/// Root-mean-square level of `samples`.
pub(crate) fn rms(samples: &[i16]) -> f64 {
    let power = samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
    (power / samples.len().max(1) as f64).sqrt()
}

/// SNR (dB) of `output` against [`speech_like`] at `rate`, lined up to a tenth of a
/// sample: the best whole-sample delay below `max_delay`, then refined around it.
/// Returns the SNR and the delay. Samples before `skip` (start-up) are left out.
pub(crate) fn aligned_speech_snr_db(
    rate: u32,
    output: &[i16],
    max_delay: usize,
    skip: usize,
) -> (f64, f64) {
    let reference = speech_like(rate, output.len());
    let coarse = best_delay(&reference, output, max_delay, skip) as f64;
    (-10..=10)
        .map(|tenths| coarse + f64::from(tenths) / 10.0)
        .map(|delay| {
            let delayed = delayed_speech_like(rate, output.len(), delay);
            (snr_db(&delayed, output, 0, skip + max_delay), delay)
        })
        .fold((f64::MIN, 0.0), |best, candidate| {
            if candidate.0 > best.0 {
                candidate
            } else {
                best
            }
        })
}
