//! Prompts: audio loaded once at the engine's rate and shared by every call playing it.

use std::sync::Arc;
use std::time::Duration;

use super::{SampleRate, WavError, WavReader};
use crate::codec::Resampler;

/// A prompt ready to play: mono 16-bit samples at one [`SampleRate`], padded with
/// silence to whole 20 ms frames. Cloning shares the samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    rate: SampleRate,
    samples: Arc<[i16]>,
}

impl Prompt {
    /// Parses a WAV file (see [`WavReader::parse`]), mixes stereo down to mono and
    /// converts it to `target` once.
    pub fn from_wav(bytes: &[u8], target: SampleRate) -> Result<Self, WavError> {
        let wav = WavReader::parse(bytes)?;
        let mono = wav.to_mono();
        let samples = convert(&mono, wav.format().sample_rate, target);
        Ok(Self::from_samples(target, samples))
    }

    /// A prompt of mono `samples` already at `rate`.
    #[must_use]
    pub fn from_samples(rate: SampleRate, mut samples: Vec<i16>) -> Self {
        let frame = super::frame_len(rate);
        samples.resize(samples.len().div_ceil(frame) * frame, 0);
        Self {
            rate,
            samples: samples.into(),
        }
    }

    /// The rate the samples are at.
    #[must_use]
    pub fn sample_rate(&self) -> SampleRate {
        self.rate
    }

    /// All samples, a whole number of frames.
    #[must_use]
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Number of 20 ms frames.
    #[must_use]
    pub fn frame_count(&self) -> usize {
        self.samples.len() / super::frame_len(self.rate)
    }

    /// Frame `index` (20 ms of samples), if the prompt is that long.
    #[must_use]
    pub fn frame(&self, index: usize) -> Option<&[i16]> {
        let n = super::frame_len(self.rate);
        let start = index.checked_mul(n)?;
        self.samples.get(start..start.checked_add(n)?)
    }

    /// The 20 ms frames in order.
    pub fn frames(&self) -> impl ExactSizeIterator<Item = &[i16]> + '_ {
        self.samples.chunks_exact(super::frame_len(self.rate))
    }

    /// The same prompt at `rate` (a copy converted as a whole, see [`Prompt::from_wav`]).
    #[must_use]
    pub fn converted_to(&self, rate: SampleRate) -> Self {
        Self::from_samples(rate, convert(&self.samples, self.rate, rate))
    }

    /// Playing time (whole frames).
    #[must_use]
    pub fn duration(&self) -> Duration {
        super::FRAME * u32::try_from(self.frame_count()).unwrap_or(u32::MAX)
    }
}

/// `input` at `from` converted to `to` as a whole: the resampler's group delay is
/// dropped from the start and flushed out at the end, so sample `n` of the output is
/// the input at time `n / to`.
fn convert(input: &[i16], from: SampleRate, to: SampleRate) -> Vec<i16> {
    if from == to {
        return input.to_vec();
    }
    let (from_hz, to_hz) = (from.hz() as usize, to.hz() as usize);
    let wanted = input.len() * to_hz / from_hz;
    let mut resampler = Resampler::new(from, to);
    let delay = resampler.delay();
    let mut out = Vec::with_capacity(wanted + delay + to_hz / from_hz + 1);
    resampler.process(input, &mut out);
    let flush = (delay * from_hz).div_ceil(to_hz) + 1;
    resampler.process(&vec![0; flush], &mut out);
    out.drain(..delay.min(out.len()));
    out.resize(wanted, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wav::{Channels, SampleEncoding, WavFormat, encode};

    fn file(channels: Channels, rate: SampleRate, samples: &[i16]) -> Vec<u8> {
        let format = WavFormat {
            channels,
            sample_rate: rate,
            encoding: SampleEncoding::Signed16,
        };
        encode(format, samples).expect("small file")
    }

    #[test]
    fn same_rate_mono_is_kept_and_padded_to_whole_frames() {
        let samples: Vec<i16> = (1..=200).collect();
        let prompt = Prompt::from_wav(
            &file(Channels::Mono, SampleRate::Hz8000, &samples),
            SampleRate::Hz8000,
        )
        .expect("valid prompt");
        assert_eq!(prompt.frame_count(), 2);
        assert_eq!(&prompt.samples()[..200], &samples[..]);
        assert!(prompt.samples()[200..].iter().all(|&s| s == 0));
        assert_eq!(prompt.frame(1).map(<[i16]>::len), Some(160));
        assert_eq!(prompt.frame(2), None);
        assert_eq!(prompt.frames().len(), 2);
        assert_eq!(prompt.duration(), Duration::from_millis(40));
    }

    #[test]
    fn stereo_48k_becomes_mono_8k() {
        // One second: left is a constant 1000, right a constant 3000.
        let samples: Vec<i16> = (0..96_000)
            .map(|i| if i % 2 == 0 { 1_000 } else { 3_000 })
            .collect();
        let prompt = Prompt::from_wav(
            &file(Channels::Stereo, SampleRate::Hz48000, &samples),
            SampleRate::Hz8000,
        )
        .expect("valid prompt");
        assert_eq!(prompt.sample_rate(), SampleRate::Hz8000);
        assert_eq!(prompt.frame_count(), 50);
        // Away from the edges the average level survives the low-pass.
        let mid = &prompt.samples()[1_000..7_000];
        assert!(
            mid.iter().all(|&s| (s - 2_000).abs() <= 30),
            "level drifted"
        );
    }

    fn sine(rate: SampleRate, seconds: usize) -> Vec<i16> {
        let hz = f64::from(rate.hz());
        (0..rate.hz() as usize * seconds)
            .map(|n| {
                (8_000.0 * (std::f64::consts::TAU * 1_000.0 * n as f64 / hz).sin()).round() as i16
            })
            .collect()
    }

    #[test]
    fn conversion_keeps_level_and_time_alignment() {
        use SampleRate::{Hz8000, Hz16000, Hz48000};
        for (from, to) in [
            (Hz8000, Hz48000),
            (Hz48000, Hz8000),
            (Hz16000, Hz8000),
            (Hz8000, Hz16000),
        ] {
            let prompt = Prompt::from_wav(&file(Channels::Mono, from, &sine(from, 1)), to)
                .expect("valid prompt");
            let expected = sine(to, 1);
            assert_eq!(prompt.samples().len(), expected.len(), "{from:?} -> {to:?}");
            // Away from the edges, sample for sample: no delay, no level change.
            let edge = expected.len() / 10;
            let worst = prompt.samples()[edge..expected.len() - edge]
                .iter()
                .zip(&expected[edge..])
                .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
                .max();
            assert!(worst < Some(40), "{from:?} -> {to:?}: off by {worst:?}");
        }
    }

    #[test]
    fn unplayable_files_are_errors() {
        assert_eq!(
            Prompt::from_wav(b"RIFF....WAVEjunk", SampleRate::Hz16000).err(),
            Some(WavError::MissingFormat)
        );
        assert_eq!(
            Prompt::from_wav(b"not a wav file", SampleRate::Hz16000).err(),
            Some(WavError::NotRiffWave)
        );
    }
}
