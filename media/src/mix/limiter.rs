//! Bringing a 32-bit mix back to 16 bits, per listener.

use super::Normalisation;

/// Gain growth per frame while recovering: about 0.5 dB, so full recovery from a
/// 6 dB reduction takes some 240 ms.
const RELEASE_PER_FRAME: f32 = 1.06;

/// One listener's output stage: saturation, or a limiter with its current gain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutputStage {
    normalisation: Normalisation,
    gain: f32,
}

impl OutputStage {
    pub(crate) fn new(normalisation: Normalisation) -> Self {
        Self {
            normalisation,
            gain: 1.0,
        }
    }

    /// Writes `mix` to `out` (same length) as 16-bit samples.
    pub(crate) fn write(&mut self, mix: &[i32], out: &mut [i16]) {
        match self.normalisation {
            Normalisation::Saturate => saturate(mix, out),
            Normalisation::Limit => self.limit(mix, out),
        }
    }

    fn limit(&mut self, mix: &[i32], out: &mut [i16]) {
        let peak = mix.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
        let ceiling = if peak > i16::MAX as u32 {
            f32::from(i16::MAX) / peak as f32
        } else {
            1.0
        };
        let start = self.gain.min(ceiling);
        let end = (start * RELEASE_PER_FRAME).min(ceiling).min(1.0);
        self.gain = end;
        if start >= 1.0 {
            return saturate(mix, out);
        }
        // Ramp from `start` to `end` over the frame; both are at most `ceiling`.
        let step = (end - start) / mix.len().max(1) as f32;
        for (i, (o, &x)) in out.iter_mut().zip(mix).enumerate() {
            let gain = start + step * i as f32;
            *o = (x as f32 * gain)
                .round()
                .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16;
        }
    }
}

fn saturate(mix: &[i32], out: &mut [i16]) {
    for (o, &x) in out.iter_mut().zip(mix) {
        // Clamped into the i16 range first.
        *o = x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
    }
}
