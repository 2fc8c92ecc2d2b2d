//! Sample-rate conversion between 8, 16 and 48 kHz: a polyphase FIR resampler.
//!
//! The prototype low-pass filter is a Kaiser-windowed sinc designed for 65 dB of
//! stop-band attenuation from the lower rate's Nyquist frequency up, with the pass band
//! flat (ripple < 0.01 dB) to 85 % of it: 0–3.4 kHz when 8 kHz is involved, 0–6.8 kHz
//! for 16 ↔ 48 kHz. Every conversion here is an integer ratio, and the filter's centre
//! sits on a whole sample of both rates, so the delay ([`Resampler::delay`]) is a whole
//! number of output samples: 27 samples at the lower rate (3.4 ms for 8 kHz pairs,
//! 1.7 ms for 16 ↔ 48 kHz).
//!
//! State (the filter's history and phase) carries across calls: feeding a signal in
//! pieces of any size gives exactly the output of feeding it whole, so frame edges
//! cannot click.

/// A sample rate the resampler converts between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SampleRate {
    /// 8 kHz: G.711, narrowband.
    Hz8000,
    /// 16 kHz: wideband.
    Hz16000,
    /// 48 kHz: Opus, fullband.
    Hz48000,
}

impl SampleRate {
    /// The rate in Hz.
    #[must_use]
    pub const fn hz(self) -> u32 {
        match self {
            Self::Hz8000 => 8000,
            Self::Hz16000 => 16_000,
            Self::Hz48000 => 48_000,
        }
    }

    /// The rate for `hz`, if it is one of the three.
    #[must_use]
    pub const fn from_hz(hz: u32) -> Option<Self> {
        match hz {
            8000 => Some(Self::Hz8000),
            16_000 => Some(Self::Hz16000),
            48_000 => Some(Self::Hz48000),
            _ => None,
        }
    }
}

/// Stop-band attenuation the filter is designed for (dB); the guarantee is 60 dB.
const DESIGN_ATTENUATION_DB: f64 = 65.0;
/// Pass-band edge as a fraction of the lower rate's Nyquist frequency.
const PASS_BAND_EDGE: f64 = 0.85;
/// Taps per phase are padded to a multiple of this, for the vectorised dot product.
const LANES: usize = 8;

/// A stateful, mono, 16-bit resampler from one [`SampleRate`] to another.
///
/// Feed it samples with [`Resampler::process`] as they come (any count, for example
/// one 20 ms frame at a time); it appends `input.len() × to / from` samples on average,
/// exactly that for whole 20 ms frames. Between equal rates it copies.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: SampleRate,
    to: SampleRate,
    /// Interpolation factor L.
    up: usize,
    /// Decimation factor M.
    down: usize,
    /// Taps per phase (padded to [`LANES`]).
    taps: usize,
    /// L phases of `taps` coefficients each, time-reversed to match `history` order.
    phases: Vec<f32>,
    /// Input samples, oldest first; `history[index]` is the newest one the next output uses.
    history: Vec<f32>,
    index: usize,
    /// Phase (0..L) of the next output sample.
    phase: usize,
    /// Filter delay in output samples.
    delay: usize,
}

impl Resampler {
    /// A resampler from `from` to `to`, starting from silence.
    #[must_use]
    pub fn new(from: SampleRate, to: SampleRate) -> Self {
        let (up, down) = ratio(from.hz(), to.hz());
        let design = Design::new(up, down);
        let phases = design.phases();
        Self {
            from,
            to,
            up,
            down,
            taps: design.taps,
            phases,
            history: vec![0.0; design.taps - 1],
            index: design.taps - 1,
            phase: 0,
            delay: design.centre / down,
        }
    }

    /// The input rate.
    #[must_use]
    pub const fn from(&self) -> SampleRate {
        self.from
    }

    /// The output rate.
    #[must_use]
    pub const fn to(&self) -> SampleRate {
        self.to
    }

    /// How many output samples the output lags the input by (the filter's group delay).
    #[must_use]
    pub const fn delay(&self) -> usize {
        self.delay
    }

    /// Resamples `input`, the samples following those of the previous call, and appends
    /// the result to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.up == 1 && self.down == 1 {
            out.extend_from_slice(input);
            return;
        }
        self.history.extend(input.iter().map(|&s| f32::from(s)));
        out.reserve((input.len() * self.up).div_ceil(self.down));
        while self.index < self.history.len() {
            let window = &self.history[self.index + 1 - self.taps..=self.index];
            let taps = &self.phases[self.phase * self.taps..][..self.taps];
            out.push(to_sample(dot(window, taps)));
            self.phase += self.down;
            self.index += self.phase / self.up;
            self.phase %= self.up;
        }
        let consumed = self.index + 1 - self.taps;
        self.history.drain(..consumed);
        self.index -= consumed;
    }

    /// Forgets the signal so far, as after [`Resampler::new`] (for a new stream).
    pub fn reset(&mut self) {
        self.history.clear();
        self.history.resize(self.taps - 1, 0.0);
        self.index = self.taps - 1;
        self.phase = 0;
    }
}

/// `to / from` in lowest terms (L, M).
fn ratio(from: u32, to: u32) -> (usize, usize) {
    let (mut a, mut b) = (from, to);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    ((to / a) as usize, (from / a) as usize)
}

/// The prototype low-pass filter for an L/M conversion, at the intermediate rate
/// (input rate × L).
#[derive(Debug)]
struct Design {
    up: usize,
    /// Coefficients, `centre * 2` of them (the last, symmetric one falls outside).
    coefficients: Vec<f64>,
    /// Index of the centre tap: the delay at the intermediate rate.
    centre: usize,
    /// Taps per phase, padded to [`LANES`].
    taps: usize,
}

impl Design {
    fn new(up: usize, down: usize) -> Self {
        if up == 1 && down == 1 {
            return Self {
                up,
                coefficients: vec![1.0],
                centre: 0,
                taps: 1,
            };
        }
        let nyquist = 0.5 / up.max(down) as f64;
        let transition = (1.0 - PASS_BAND_EDGE) * nyquist;
        let cutoff = nyquist - transition / 2.0;
        // Kaiser's estimates for length and shape (Oppenheim & Schafer, 7.2).
        let estimate = (DESIGN_ATTENUATION_DB - 7.95) / (14.36 * transition);
        let beta = 0.1102 * (DESIGN_ATTENUATION_DB - 8.7);
        // The centre lands on a whole sample of both rates when it is a multiple of L·M.
        let granule = up * down;
        let centre = (estimate / 2.0 / granule as f64).ceil() as usize * granule;
        let coefficients = (0..2 * centre)
            .map(|j| {
                let offset = j as f64 - centre as f64;
                2.0 * cutoff * sinc(2.0 * cutoff * offset) * kaiser(offset / centre as f64, beta)
            })
            .collect();
        Self {
            up,
            coefficients,
            centre,
            taps: (2 * centre / up).next_multiple_of(LANES),
        }
    }

    /// Phase `p`'s taps, oldest sample first, each phase scaled to unit DC gain.
    fn phases(&self) -> Vec<f32> {
        let mut phases = Vec::with_capacity(self.up * self.taps);
        for phase in 0..self.up {
            let tap = |k: usize| self.coefficients.get(phase + k * self.up).copied();
            let gain: f64 = (0..self.taps).filter_map(tap).sum();
            phases.extend(
                (0..self.taps)
                    .rev()
                    .map(|k| (tap(k).unwrap_or(0.0) / gain) as f32),
            );
        }
        phases
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let arg = std::f64::consts::PI * x;
        arg.sin() / arg
    }
}

/// Kaiser window at `x` ∈ [−1, 1].
fn kaiser(x: f64, beta: f64) -> f64 {
    bessel_i0(beta * (1.0 - x * x).max(0.0).sqrt()) / bessel_i0(beta)
}

/// Modified Bessel function of the first kind, order 0, by its power series.
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > sum * 1e-12 {
        term *= (x / (2.0 * k)).powi(2);
        sum += term;
        k += 1.0;
    }
    sum
}

/// Dot product in [`LANES`] independent sums, which the compiler vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0_f32; LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for lane in 0..LANES {
            sums[lane] += x[lane] * y[lane];
        }
    }
    let tail: f32 = a
        .chunks_exact(LANES)
        .remainder()
        .iter()
        .zip(b.chunks_exact(LANES).remainder())
        .map(|(x, y)| x * y)
        .sum();
    sums.iter().sum::<f32>() + tail
}

fn to_sample(value: f32) -> i16 {
    // `as` saturates out-of-range floats to i16::MIN / i16::MAX.
    value.round() as i16
}

#[cfg(test)]
#[path = "resample_tests.rs"]
mod tests;
