//! Packet-loss concealment for G.711: [`G711Plc`] fills a lost frame from the signal
//! before it and smooths the way back; the method and the call order are on the type.

/// History kept: three longest periods plus a quarter period (48.75 ms).
const HISTORY: usize = 390;
/// Shortest pitch period searched (200 Hz at 8 kHz).
const PITCH_MIN: usize = 40;
/// Longest pitch period searched (66.7 Hz at 8 kHz).
const PITCH_MAX: usize = 120;
/// Correlation window: the last 20 ms.
const CORR_LEN: usize = 160;
/// 10 ms at 8 kHz: the unit the Appendix counts the loss in.
const TEN_MS: usize = 80;
/// 4 ms at 8 kHz: the recovery cross-fade grows by this per 10 ms of loss.
const FOUR_MS: usize = 32;
/// Samples after which the concealment is silent (60 ms).
const SILENT_AFTER: usize = 6 * TEN_MS;

/// Packet-loss concealment for G.711 (8 kHz PCM), a simplified form of ITU-T G.711
/// Appendix I.
///
/// # Method
///
/// The concealer keeps the last 48.75 ms (390 samples) of the signal it output. When a
/// frame is lost:
///
/// 1. **Pitch**: the period `P` (40 to 120 samples, 200 Hz down to 66.7 Hz) is the lag
///    that maximises the normalised correlation between the last 20 ms of history and the
///    history `P` samples earlier (a full search, without the Appendix's decimated coarse
///    pass).
/// 2. **Repetition**: the concealed signal continues the history one period back, looping
///    over the last `P` samples for the first 10 ms, the last `2P` until 20 ms, and the
///    last `3P` after that (longer loops sound less buzzy). Where a loop wraps, its last
///    quarter period is cross-faded with the quarter period that precedes the loop, so the
///    wrap is continuous.
/// 3. **Attenuation**: full level for the first 10 ms, then a linear fade of 20 % per
///    10 ms: silence from 60 ms of loss on.
/// 4. **Recovery**: the first good frame after a loss is cross-faded with the continued
///    concealment over 4 ms, plus 4 ms per further 10 ms of loss, at most 10 ms.
///
/// Simplifications against the Appendix: no 3.75 ms output delay (so the very start of a
/// loss is not cross-faded with the end of the last good frame: it continues the waveform
/// one period back, which is already continuous for voiced speech), a full pitch search,
/// and the period count grows by moving the read position one period back in a longer
/// loop, instead of cross-fading the two loops.
///
/// # Use
///
/// ```text
/// Playout::Frame(f) => { decode f into pcm; plc.receive(&mut pcm) }   // may smooth pcm
/// Playout::Lost(_)  => plc.conceal(&mut pcm)
/// Playout::Empty    => { pcm.fill(0); plc.receive(&mut pcm) }
/// ```
#[derive(Clone, Debug)]
pub struct G711Plc {
    history: [i16; HISTORY],
    loss: Option<Loss>,
}

/// An ongoing run of concealed samples.
#[derive(Clone, Debug)]
struct Loss {
    /// The history when the loss began.
    source: [i16; HISTORY],
    pitch: usize,
    /// Periods in the loop (1 to 3).
    periods: usize,
    /// Read position within the loop.
    pos: usize,
    /// Samples concealed so far.
    done: usize,
}

impl Default for G711Plc {
    fn default() -> Self {
        Self::new()
    }
}

impl G711Plc {
    /// A concealer with silent history.
    #[must_use]
    pub fn new() -> Self {
        Self {
            history: [0; HISTORY],
            loss: None,
        }
    }

    /// Takes a decoded good frame (any length). After a loss, its beginning is cross-faded
    /// with the concealment in place; the frame then becomes history.
    pub fn receive(&mut self, pcm: &mut [i16]) {
        if let Some(mut loss) = self.loss.take() {
            let units = loss.done.div_ceil(TEN_MS);
            let len = (FOUR_MS + FOUR_MS * units.saturating_sub(1))
                .min(TEN_MS)
                .min(pcm.len());
            for (i, sample) in pcm.iter_mut().take(len).enumerate() {
                let w = (i + 1) as f32 / (len + 1) as f32;
                let synth = f32::from(loss.next());
                *sample = to_i16(f32::from(*sample) * w + synth * (1.0 - w));
            }
        }
        self.remember(pcm);
    }

    /// Fills `out` (any length) with the concealment of a lost frame.
    pub fn conceal(&mut self, out: &mut [i16]) {
        let history = self.history;
        let loss = self.loss.get_or_insert_with(|| Loss::begin(history));
        for sample in out.iter_mut() {
            *sample = loss.next();
        }
        self.remember(out);
    }

    /// Whether the last call concealed (a loss is in progress).
    #[must_use]
    pub fn concealing(&self) -> bool {
        self.loss.is_some()
    }

    fn remember(&mut self, pcm: &[i16]) {
        let keep = pcm.len().min(HISTORY);
        self.history.copy_within(keep.., 0);
        if let Some(tail) = pcm.get(pcm.len() - keep..) {
            self.history[HISTORY - keep..].copy_from_slice(tail);
        }
    }
}

impl Loss {
    fn begin(source: [i16; HISTORY]) -> Self {
        Self {
            pitch: pitch_period(&source),
            source,
            periods: 1,
            pos: 0,
            done: 0,
        }
    }

    /// The next concealed sample.
    fn next(&mut self) -> i16 {
        let wanted = (self.done / TEN_MS + 1).min(3);
        if wanted > self.periods {
            // Same sample, read from a loop one period longer.
            self.pos += self.pitch * (wanted - self.periods);
            self.periods = wanted;
        }
        let len = self.pitch * self.periods;
        let value = self.looped(self.pos % len, len);
        self.pos = (self.pos + 1) % len;
        let gain = gain(self.done);
        self.done = self.done.saturating_add(1);
        to_i16(value * gain)
    }

    /// Sample `at` of the loop over the last `len` samples, its last quarter period
    /// cross-faded into the quarter period before the loop.
    fn looped(&self, at: usize, len: usize) -> f32 {
        let start = HISTORY - len;
        let quarter = self.pitch / 4;
        let direct = f32::from(self.source[start + at]);
        let fade_from = len - quarter;
        if at < fade_from || quarter == 0 {
            return direct;
        }
        let j = at - fade_from;
        let before = f32::from(self.source[start - quarter + j]);
        let w = (j + 1) as f32 / (quarter + 1) as f32;
        direct * (1.0 - w) + before * w
    }
}

/// Level after `done` concealed samples: 1 for 10 ms, then down 20 % per 10 ms.
fn gain(done: usize) -> f32 {
    if done < TEN_MS {
        return 1.0;
    }
    if done >= SILENT_AFTER {
        return 0.0;
    }
    1.0 - 0.2 * (done - TEN_MS) as f32 / TEN_MS as f32
}

/// The lag in `PITCH_MIN..=PITCH_MAX` that best predicts the last 20 ms of `history`.
/// Ties (up to rounding) go to the shorter lag, so that a multiple of the period is not
/// taken for it.
fn pitch_period(history: &[i16; HISTORY]) -> usize {
    let target = &history[HISTORY - CORR_LEN..];
    let mut best = (PITCH_MIN, 0.0f64);
    for lag in PITCH_MIN..=PITCH_MAX {
        let earlier = &history[HISTORY - CORR_LEN - lag..HISTORY - lag];
        let (mut corr, mut energy) = (0.0f64, 0.0f64);
        for (a, b) in target.iter().zip(earlier) {
            corr += f64::from(*a) * f64::from(*b);
            energy += f64::from(*b) * f64::from(*b);
        }
        if corr <= 0.0 || energy <= 0.0 {
            continue;
        }
        let score = corr * corr / energy;
        if score > best.1 * (1.0 + 1e-9) {
            best = (lag, score);
        }
    }
    best.0
}

fn to_i16(x: f32) -> i16 {
    x.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A periodic test signal: two harmonics with period `period` samples.
    fn voiced(period: usize, n: usize, phase: usize) -> Vec<i16> {
        (phase..phase + n)
            .map(|i| {
                let x = std::f32::consts::TAU * i as f32 / period as f32;
                to_i16(8000.0 * x.sin() + 3000.0 * (2.0 * x).sin())
            })
            .collect()
    }

    fn primed(period: usize) -> (G711Plc, usize) {
        let mut plc = G711Plc::new();
        let mut at = 0;
        for _ in 0..5 {
            let mut f = voiced(period, 160, at);
            plc.receive(&mut f);
            at += 160;
        }
        (plc, at)
    }

    fn energy(x: &[i16]) -> f64 {
        x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64
    }

    #[test]
    fn finds_the_pitch_period_not_a_multiple() {
        for period in [40, 57, 80, 113] {
            let (plc, _) = primed(period);
            assert_eq!(pitch_period(&plc.history), period, "period {period}");
        }
    }

    #[test]
    fn first_ten_ms_continue_a_periodic_signal() {
        let (mut plc, at) = primed(57);
        let mut out = [0i16; 160];
        plc.conceal(&mut out);
        let truth = voiced(57, 160, at);
        let err: Vec<i16> = out[..80]
            .iter()
            .zip(&truth)
            .map(|(a, b)| a.saturating_sub(*b))
            .collect();
        let snr_db = 10.0 * (energy(&truth[..80]) / energy(&err).max(1.0)).log10();
        eprintln!("concealment SNR over the first 10 ms: {snr_db:.1} dB");
        assert!(snr_db > 25.0, "SNR of the first 10 ms: {snr_db:.1} dB");
    }

    #[test]
    fn fades_out_and_is_silent_from_60_ms() {
        let (mut plc, _) = primed(57);
        let mut frames = [[0i16; 160]; 4];
        for f in &mut frames {
            plc.conceal(f);
        }
        let e: Vec<f64> = frames.iter().map(|f| energy(f)).collect();
        assert!(e[0] > e[1] && e[1] > e[2], "energies {e:?}");
        // 50–60 ms: gain 0.2 falling to 0.
        assert!(
            frames[2][150..].iter().all(|&s| s.abs() <= 11_000 / 50),
            "nearly silent"
        );
        assert!(frames[3].iter().all(|&s| s == 0), "silent from 60 ms");
    }

    #[test]
    fn silence_conceals_as_silence() {
        let mut plc = G711Plc::new();
        let mut out = [7i16; 160];
        plc.conceal(&mut out);
        assert!(out.iter().all(|&s| s == 0));
    }

    #[test]
    fn recovery_is_smooth_and_ends_on_the_good_signal() {
        let (mut plc, at) = primed(57);
        let mut stream: Vec<i16> = voiced(57, 160, at - 160);
        let mut lost = [0i16; 160];
        plc.conceal(&mut lost);
        stream.extend_from_slice(&lost);
        // The good frame resumes out of phase with the concealment: the worst case.
        let mut good = voiced(57, 160, at + 160 + 20);
        let original = good.clone();
        plc.receive(&mut good);
        assert!(!plc.concealing());
        assert_eq!(good[64..], original[64..], "cross-fade over 8 ms only");
        stream.extend_from_slice(&good);
        // No click: no step larger than the signal's own steepest slope, with margin.
        let own_slope = original.windows(2).map(|w| (w[1] - w[0]).abs()).max();
        let worst = stream.windows(2).map(|w| (w[1] - w[0]).abs()).max();
        eprintln!("largest step across loss and recovery {worst:?}, signal's own {own_slope:?}");
        assert!(
            worst <= own_slope.map(|s| s + s / 2),
            "worst step {worst:?} against {own_slope:?}"
        );
    }
}
