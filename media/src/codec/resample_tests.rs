use super::*;
use crate::codec::test_signal::{rms, sine, snr_db};

const RATES: [SampleRate; 3] = [SampleRate::Hz8000, SampleRate::Hz16000, SampleRate::Hz48000];

fn run(from: SampleRate, to: SampleRate, input: &[i16]) -> Vec<i16> {
    let mut resampler = Resampler::new(from, to);
    let mut out = Vec::new();
    for frame in input.chunks(crate::codec::frame_samples(from.hz())) {
        resampler.process(frame, &mut out);
    }
    out
}

/// Magnitude response (dB, relative to DC) of a design's prototype at `f` cycles per
/// intermediate-rate sample.
fn response_db(design: &Design, f: f64) -> f64 {
    let (mut re, mut im, mut dc) = (0.0, 0.0, 0.0);
    for (j, &h) in design.coefficients.iter().enumerate() {
        let w = std::f64::consts::TAU * f * j as f64;
        re += h * w.cos();
        im += h * w.sin();
        dc += h;
    }
    20.0 * ((re * re + im * im).sqrt() / dc.abs()).log10()
}

#[test]
fn prototype_filters_meet_the_stop_band_and_pass_band() {
    for (up, down) in [(2, 1), (1, 2), (6, 1), (1, 6), (3, 1), (1, 3)] {
        let design = Design::new(up, down);
        let nyquist = 0.5 / up.max(down) as f64;
        let worst_stop = (0..=2000)
            .map(|i| nyquist + (0.5 - nyquist) * f64::from(i) / 2000.0)
            .map(|f| response_db(&design, f))
            .fold(f64::MIN, f64::max);
        assert!(
            worst_stop <= -60.0,
            "{up}/{down}: stop band reaches {worst_stop:.1} dB"
        );
        let worst_pass = (0..=200)
            .map(|i| PASS_BAND_EDGE * nyquist * f64::from(i) / 200.0)
            .map(|f| response_db(&design, f).abs())
            .fold(0.0, f64::max);
        eprintln!("{up}/{down}: stop band {worst_stop:.1} dB, ripple {worst_pass:.4} dB");
        assert!(
            worst_pass < 0.01,
            "{up}/{down}: pass-band ripple {worst_pass:.4} dB"
        );
    }
}

#[test]
fn whole_frames_give_whole_frames_and_the_delay_is_27_low_rate_samples() {
    for from in RATES {
        for to in RATES {
            let mut resampler = Resampler::new(from, to);
            let mut out = Vec::new();
            resampler.process(&vec![0; crate::codec::frame_samples(from.hz())], &mut out);
            assert_eq!(
                out.len(),
                crate::codec::frame_samples(to.hz()),
                "{from:?}->{to:?}"
            );
            let low = from.hz().min(to.hz());
            let expected = if from == to {
                0
            } else {
                27 * (to.hz() / low) as usize
            };
            assert_eq!(resampler.delay(), expected, "{from:?}->{to:?}");
        }
    }
}

#[test]
fn sine_survives_8_to_48_to_8_with_snr_above_40_db() {
    let input = sine(1000.0, 8000, 16_000.0, 8000);
    for middle in [SampleRate::Hz16000, SampleRate::Hz48000] {
        let up = Resampler::new(SampleRate::Hz8000, middle);
        let down = Resampler::new(middle, SampleRate::Hz8000);
        let delay = up.delay() / (middle.hz() / 8000) as usize + down.delay();
        let back = run(
            middle,
            SampleRate::Hz8000,
            &run(SampleRate::Hz8000, middle, &input),
        );
        assert_eq!(back.len(), input.len());
        let snr = snr_db(&input, &back, delay, 400);
        eprintln!("8 -> {middle:?} -> 8: SNR {snr:.1} dB");
        assert!(snr > 40.0, "8 -> {middle:?} -> 8: SNR {snr:.1} dB");
    }
}

#[test]
fn sine_survives_16_to_48_to_16_with_snr_above_40_db() {
    let input = sine(3000.0, 16_000, 16_000.0, 16_000);
    let mid = run(SampleRate::Hz16000, SampleRate::Hz48000, &input);
    let back = run(SampleRate::Hz48000, SampleRate::Hz16000, &mid);
    let snr = snr_db(&input, &back, 27 + 27, 400);
    assert!(snr > 40.0, "SNR {snr:.1} dB");
}

#[test]
fn six_khz_at_16_khz_is_attenuated_50_db_going_to_8_khz() {
    let input = sine(6000.0, 16_000, 20_000.0, 16_000);
    let out = run(SampleRate::Hz16000, SampleRate::Hz8000, &input);
    let attenuation = 20.0 * (rms(&input) / rms(&out[400..]).max(1e-3)).log10();
    eprintln!("6 kHz alias attenuated {attenuation:.1} dB");
    assert!(attenuation >= 50.0, "alias only {attenuation:.1} dB down");
}

#[test]
fn images_above_4_khz_are_attenuated_50_db_going_up() {
    // A 1 kHz tone at 8 kHz has images at 7, 9, 15, 17… kHz; after 8 -> 48 only 1 kHz
    // may remain, so the output less the delayed 1 kHz reference is the images.
    let input = sine(1000.0, 8000, 20_000.0, 8000);
    let out = run(SampleRate::Hz8000, SampleRate::Hz48000, &input);
    let reference = sine(1000.0, 48_000, 20_000.0, out.len());
    let snr = snr_db(&reference, &out, 162, 2000);
    assert!(snr >= 50.0, "images only {snr:.1} dB down");
}

#[test]
fn pieces_of_any_size_give_the_same_output_as_one_piece() {
    let input = sine(440.0, 8000, 12_000.0, 4000);
    for (from, to) in [
        (SampleRate::Hz8000, SampleRate::Hz48000),
        (SampleRate::Hz48000, SampleRate::Hz8000),
        (SampleRate::Hz16000, SampleRate::Hz8000),
    ] {
        let mut whole = Vec::new();
        Resampler::new(from, to).process(&input, &mut whole);
        let mut pieces = Vec::new();
        let mut resampler = Resampler::new(from, to);
        let mut rest = &input[..];
        for size in [1, 7, 160, 333, 2, 961].iter().cycle() {
            let (piece, tail) = rest.split_at((*size).min(rest.len()));
            resampler.process(piece, &mut pieces);
            rest = tail;
            if rest.is_empty() {
                break;
            }
        }
        assert_eq!(whole, pieces, "{from:?}->{to:?}");
    }
}

#[test]
fn equal_rates_copy_and_reset_restarts_from_silence() {
    let input = sine(440.0, 8000, 12_000.0, 320);
    let mut out = Vec::new();
    Resampler::new(SampleRate::Hz8000, SampleRate::Hz8000).process(&input, &mut out);
    assert_eq!(out, input);

    let mut resampler = Resampler::new(SampleRate::Hz8000, SampleRate::Hz16000);
    let mut first = Vec::new();
    resampler.process(&input, &mut first);
    resampler.reset();
    let mut second = Vec::new();
    resampler.process(&input, &mut second);
    assert_eq!(first, second);
}

#[test]
fn full_scale_input_saturates_instead_of_wrapping() {
    // A full-scale square wave overshoots (Gibbs); the output must clip, not wrap.
    let input: Vec<i16> = (0..1600)
        .map(|n| {
            if (n / 20) % 2 == 0 {
                i16::MAX
            } else {
                i16::MIN
            }
        })
        .collect();
    let out = run(SampleRate::Hz8000, SampleRate::Hz48000, &input);
    let delay = 162;
    // Mid-way through each half period (10 input samples from an edge).
    for (n, &y) in out.iter().enumerate().skip(delay + 60).step_by(120) {
        let source = input[(n - delay) / 6];
        assert_eq!(y.signum(), source.signum(), "sample {n} wrapped: {y}");
        assert!(y.unsigned_abs() > 30_000, "sample {n}: {y}");
    }
}

#[test]
fn sample_rates_round_trip_through_hz() {
    for rate in RATES {
        assert_eq!(SampleRate::from_hz(rate.hz()), Some(rate));
    }
    assert_eq!(SampleRate::from_hz(44_100), None);
}
