//! 8 kHz → 16 kHz upsampling for speech engines trained on wideband audio.
//!
//! Contract: [`Upsampler2x::process`] turns every input sample into exactly two
//! output samples, delayed by [`Upsampler2x::DELAY`] input samples; the even
//! outputs are the input samples themselves and the odd ones are interpolated
//! half-way between neighbours by a windowed-sinc (Blackman) kernel, so nothing
//! above the input's 4 kHz Nyquist frequency is invented. State carries over
//! between calls, so a stream cut into 20 ms chunks upsamples exactly as the
//! whole stream would; [`Upsampler2x::flush`] emits the delayed tail at the end
//! of an utterance. Pure arithmetic: no allocation beyond the caller's vector.

/// Taps on each side of the interpolated point.
const HALF_TAPS: usize = 8;

/// A streaming 2× interpolator for 16-bit mono PCM.
#[derive(Debug, Clone)]
pub struct Upsampler2x {
    /// Interpolation weights for the samples around a half-way point:
    /// `weights[j]` applies to the sample `j + 1` places before and after it.
    weights: [f32; HALF_TAPS],
    /// The last `2 * HALF_TAPS` input samples, oldest first.
    history: [i16; 2 * HALF_TAPS],
}

impl Default for Upsampler2x {
    fn default() -> Self {
        Self::new()
    }
}

impl Upsampler2x {
    /// Input samples between a sample entering and its copy leaving.
    pub const DELAY: usize = HALF_TAPS;

    /// A fresh upsampler whose history is silence.
    #[must_use]
    pub fn new() -> Self {
        let mut weights = [0.0f32; HALF_TAPS];
        let span = (2 * HALF_TAPS) as f64;
        for (j, w) in weights.iter_mut().enumerate() {
            // Distance of the tap from the half-way point, in input samples.
            let x = j as f64 + 0.5;
            let sinc = (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x);
            // Blackman window over the 2 * HALF_TAPS taps, centred on the point.
            let n = HALF_TAPS as f64 - x;
            let phase = 2.0 * std::f64::consts::PI * n / span;
            let window = 0.42 - 0.5 * phase.cos() + 0.08 * (2.0 * phase).cos();
            *w = (sinc * window) as f32;
        }
        // Normalise so a constant signal stays constant.
        let sum: f32 = weights.iter().sum::<f32>() * 2.0;
        for w in &mut weights {
            *w /= sum;
        }
        Self {
            weights,
            history: [0; 2 * HALF_TAPS],
        }
    }

    /// Appends two output samples per input sample to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        out.reserve(input.len() * 2);
        for &sample in input {
            self.push(sample, out);
        }
    }

    /// Emits the delayed tail (feeding silence), then starts over from silence.
    pub fn flush(&mut self, out: &mut Vec<i16>) {
        for _ in 0..HALF_TAPS {
            self.push(0, out);
        }
        self.history = [0; 2 * HALF_TAPS];
    }

    fn push(&mut self, sample: i16, out: &mut Vec<i16>) {
        self.history.copy_within(1.., 0);
        self.history[2 * HALF_TAPS - 1] = sample;
        // The point half-way between history[HALF_TAPS - 1] and history[HALF_TAPS].
        let centre = HALF_TAPS - 1;
        let mut acc = 0.0f32;
        for (j, w) in self.weights.iter().enumerate() {
            let before = f32::from(self.history[centre - j]);
            let after = f32::from(self.history[centre + 1 + j]);
            acc += w * (before + after);
        }
        out.push(self.history[centre]);
        out.push(acc.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsample_all(input: &[i16]) -> Vec<i16> {
        let mut up = Upsampler2x::new();
        let mut out = Vec::new();
        up.process(input, &mut out);
        up.flush(&mut out);
        out
    }

    #[test]
    fn doubles_length_and_keeps_samples_after_the_delay() {
        let input: Vec<i16> = (0..100).map(|i| (i * 37 % 200) as i16).collect();
        let out = upsample_all(&input);
        assert_eq!(out.len(), 2 * (input.len() + Upsampler2x::DELAY));
        for (i, &s) in input.iter().enumerate() {
            assert_eq!(out[2 * (i + Upsampler2x::DELAY)], s, "sample {i}");
        }
    }

    #[test]
    fn constant_signal_stays_constant() {
        let out = upsample_all(&[1000; 64]);
        // Past the warm-up both even and odd outputs equal the input level.
        for &s in &out[4 * Upsampler2x::DELAY..2 * 64] {
            assert!((i32::from(s) - 1000).abs() <= 1, "{s}");
        }
    }

    #[test]
    fn interpolates_a_low_tone_smoothly() {
        // A 500 Hz tone at 8 kHz, upsampled, matches the same tone sampled at 16 kHz.
        let tone = |rate: f64, n: usize| -> i16 {
            (10_000.0 * (2.0 * std::f64::consts::PI * 500.0 * n as f64 / rate).sin()) as i16
        };
        let input: Vec<i16> = (0..400).map(|n| tone(8000.0, n)).collect();
        let out = upsample_all(&input);
        let shift = 2 * Upsampler2x::DELAY;
        for m in 100..700 {
            let want = i32::from(tone(16_000.0, m));
            let got = i32::from(out[m + shift]);
            assert!((want - got).abs() < 150, "at {m}: want {want}, got {got}");
        }
    }

    #[test]
    fn chunked_and_whole_streams_agree() {
        let input: Vec<i16> = (0..1000)
            .map(|i| ((i * 7919) % 30_000 - 15_000) as i16)
            .collect();
        let whole = upsample_all(&input);
        let mut up = Upsampler2x::new();
        let mut out = Vec::new();
        for chunk in input.chunks(160) {
            up.process(chunk, &mut out);
        }
        up.flush(&mut out);
        assert_eq!(out, whole);
    }

    #[test]
    fn full_scale_input_saturates_instead_of_wrapping() {
        let input: Vec<i16> = (0..64)
            .map(|i| if i % 2 == 0 { i16::MAX } else { i16::MIN })
            .collect();
        let out = upsample_all(&input);
        assert_eq!(out.len(), 2 * (64 + Upsampler2x::DELAY));
    }
}
