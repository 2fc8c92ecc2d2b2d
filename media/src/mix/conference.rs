//! N-leg conference: each leg hears the sum of all the others.

use super::limiter::OutputStage;
use super::{MixError, Normalisation, check_lengths};

/// A conference mixer. Leg `i` is position `i` of the slices given to
/// [`Conference::mix`]; a leg's limiter state stays with its position, so keep
/// positions stable while legs come and go (a shifted leg's gain recovers within a
/// few hundred milliseconds anyway).
#[derive(Debug, Clone)]
pub struct Conference {
    frame_len: usize,
    normalisation: Normalisation,
    stages: Vec<OutputStage>,
    /// Sum of every present leg.
    total: Vec<i32>,
    /// One listener's mix before normalisation.
    scratch: Vec<i32>,
}

impl Conference {
    /// A conference of frames of `frame_len` samples (160 for 20 ms at 8 kHz).
    #[must_use]
    pub fn new(frame_len: usize, normalisation: Normalisation) -> Self {
        Self {
            frame_len,
            normalisation,
            stages: Vec::new(),
            total: vec![0; frame_len],
            scratch: vec![0; frame_len],
        }
    }

    /// Samples per frame.
    #[must_use]
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Mixes one frame: `outputs[i]` becomes what leg `i` hears, the sum of every
    /// `inputs[j]` with `j != i` (`None` is silence). Outputs are resized to
    /// `frame_len`. On error no output is touched.
    pub fn mix(
        &mut self,
        inputs: &[Option<&[i16]>],
        outputs: &mut [Vec<i16>],
    ) -> Result<(), MixError> {
        if inputs.len() != outputs.len() {
            return Err(MixError::Participants {
                inputs: inputs.len(),
                outputs: outputs.len(),
            });
        }
        check_lengths(inputs, self.frame_len)?;
        if self.stages.len() < inputs.len() {
            self.stages
                .resize(inputs.len(), OutputStage::new(self.normalisation));
        }
        self.total.fill(0);
        for frame in inputs.iter().flatten() {
            for (t, &x) in self.total.iter_mut().zip(*frame) {
                *t += i32::from(x);
            }
        }
        for ((own, out), stage) in inputs.iter().zip(outputs.iter_mut()).zip(&mut self.stages) {
            out.resize(self.frame_len, 0);
            match own {
                Some(own) => {
                    for ((s, &t), &x) in self.scratch.iter_mut().zip(&self.total).zip(*own) {
                        *s = t - i32::from(x);
                    }
                    stage.write(&self.scratch, out);
                }
                None => stage.write(&self.total, out),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::mix::tone::{XorShift, amplitude, tone};

    const N: usize = 160;
    const FREQS: [f64; 4] = [400.0, 750.0, 1_100.0, 1_650.0];

    fn mix_tones(
        conf: &mut Conference,
        present: [bool; 4],
        amp: f64,
        frame: usize,
    ) -> Vec<Vec<i16>> {
        let tones: Vec<Vec<i16>> = FREQS.iter().map(|&f| tone(f, amp, frame * N, N)).collect();
        let inputs: Vec<Option<&[i16]>> = tones
            .iter()
            .zip(present)
            .map(|(t, p)| p.then_some(t.as_slice()))
            .collect();
        let mut outputs = vec![Vec::new(); 4];
        conf.mix(&inputs, &mut outputs).expect("valid frames");
        outputs
    }

    #[test]
    fn each_leg_hears_every_other_leg_and_not_itself() {
        let mut conf = Conference::new(N, Normalisation::Saturate);
        for frame in 0..5 {
            let outputs = mix_tones(&mut conf, [true; 4], 8_000.0, frame);
            for (listener, out) in outputs.iter().enumerate() {
                for (source, &f) in FREQS.iter().enumerate() {
                    let a = amplitude(out, f);
                    if source == listener {
                        assert!(a < 2.0, "leg {listener} hears itself: {a}");
                    } else {
                        assert!(
                            (a - 8_000.0).abs() < 2.0,
                            "leg {listener} hears {source} at {a}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn silent_legs_contribute_nothing() {
        let mut conf = Conference::new(N, Normalisation::Saturate);
        let outputs = mix_tones(&mut conf, [true, false, true, false], 8_000.0, 0);
        let heard = |out: &[i16]| FREQS.map(|f| amplitude(out, f) > 4_000.0);
        assert_eq!(heard(&outputs[0]), [false, false, true, false]);
        assert_eq!(heard(&outputs[1]), [true, false, true, false]);
        assert_eq!(heard(&outputs[2]), [true, false, false, false]);
        assert_eq!(heard(&outputs[3]), [true, false, true, false]);
    }

    #[test]
    fn sums_saturate_instead_of_wrapping() {
        let mut conf = Conference::new(N, Normalisation::Saturate);
        let loud = [30_000i16; N];
        let quiet = [-30_000i16; N];
        let mut outputs = vec![Vec::new(); 3];
        conf.mix(&[Some(&loud), Some(&loud), Some(&loud)], &mut outputs)
            .expect("valid");
        assert!(outputs.iter().all(|o| o.iter().all(|&s| s == i16::MAX)));
        conf.mix(&[Some(&quiet), Some(&quiet), None], &mut outputs)
            .expect("valid");
        assert!(outputs[2].iter().all(|&s| s == i16::MIN));
        assert!(outputs[0].iter().all(|&s| s == -30_000));
    }

    #[test]
    fn the_limiter_avoids_clipping_and_its_distortion() {
        // Four full-scale-ish tones: any leg hears three, peaking near 1.7 × full scale.
        let ratio = |norm| {
            let mut conf = Conference::new(N, norm);
            let mut worst = 0.0f64;
            for frame in 0..20 {
                let out = &mix_tones(&mut conf, [true; 4], 18_000.0, frame)[0];
                let wanted = amplitude(out, FREQS[1]);
                // 2·750 − 400 = 1100 is a source; 2·1100 − 750 = 1450 is not.
                let intermod = amplitude(out, 1_450.0);
                worst = worst.max(intermod / wanted);
            }
            worst
        };
        assert!(
            ratio(Normalisation::Saturate) > 0.01,
            "clipping should distort"
        );
        assert!(
            ratio(Normalisation::Limit) < 0.001,
            "limiting should not distort"
        );
    }

    #[test]
    fn the_limiter_is_transparent_when_nothing_clips() {
        let mut limited = Conference::new(N, Normalisation::Limit);
        let mut plain = Conference::new(N, Normalisation::Saturate);
        for frame in 0..3 {
            assert_eq!(
                mix_tones(&mut limited, [true; 4], 5_000.0, frame),
                mix_tones(&mut plain, [true; 4], 5_000.0, frame)
            );
        }
    }

    #[test]
    fn bad_frames_are_errors() {
        let mut conf = Conference::new(N, Normalisation::Saturate);
        let short = [0i16; 80];
        let ok = [0i16; N];
        let mut outputs = vec![Vec::new(); 2];
        assert_eq!(
            conf.mix(&[Some(&ok), Some(&short)], &mut outputs),
            Err(MixError::FrameLength {
                participant: 1,
                expected: N,
                got: 80
            })
        );
        assert!(
            outputs.iter().all(Vec::is_empty),
            "outputs untouched on error"
        );
        assert_eq!(
            conf.mix(&[Some(&ok)], &mut outputs),
            Err(MixError::Participants {
                inputs: 1,
                outputs: 2
            })
        );
    }

    proptest! {
        #[test]
        fn saturated_mix_is_the_clamped_sum_of_the_others(
            legs in 1usize..7,
            seed in 1u64..,
            silent in any::<u8>(),
        ) {
            let mut rng = XorShift(seed);
            let frames: Vec<Vec<i16>> = (0..legs).map(|_| (0..N).map(|_| rng.sample()).collect()).collect();
            let inputs: Vec<Option<&[i16]>> = frames
                .iter()
                .enumerate()
                .map(|(i, f)| (silent & (1 << i) == 0).then_some(f.as_slice()))
                .collect();
            let mut outputs = vec![Vec::new(); legs];
            Conference::new(N, Normalisation::Saturate).mix(&inputs, &mut outputs).expect("valid");
            for (i, out) in outputs.iter().enumerate() {
                for (j, &o) in out.iter().enumerate() {
                    let sum: i32 = inputs
                        .iter()
                        .enumerate()
                        .filter(|&(k, _)| k != i)
                        .filter_map(|(_, f)| f.map(|f| i32::from(f[j])))
                        .sum();
                    prop_assert_eq!(i32::from(o), sum.clamp(-32_768, 32_767));
                }
            }
        }
    }
}
