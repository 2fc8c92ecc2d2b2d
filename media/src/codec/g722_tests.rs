use proptest::prelude::*;

use super::*;
use crate::codec::test_signal::{best_delay, sine, snr_db};

/// Signals built from integers only, so that another implementation can be fed
/// exactly the same samples.
mod integer_signal {
    /// Pseudo-random samples (a 32-bit LCG's high half), shifted right by `shift`.
    pub(super) fn noise(len: usize, shift: u32) -> Vec<i16> {
        let mut state = 0x1234_5678_u32;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((state >> 16) as u16 as i16) >> shift
            })
            .collect()
    }

    /// A triangle wave sweeping linearly from 50 Hz to 7.5 kHz at 16 kHz, peak `peak`.
    pub(super) fn sweep(len: usize, peak: i32) -> Vec<i16> {
        let mut phase = 0_u32;
        (0..len)
            .map(|n| {
                let hz = 50 + (7500 - 50) * n as u64 / len as u64;
                phase = phase.wrapping_add(((hz << 32) / 16_000) as u32);
                let p = (phase >> 16) as i32;
                let triangle = if p < 32768 { p - 16384 } else { 49151 - p };
                (triangle * peak).div_euclid(16384) as i16
            })
            .collect()
    }

    /// A square wave of `period` samples at ±`peak`.
    pub(super) fn square(len: usize, period: usize, peak: i16) -> Vec<i16> {
        (0..len)
            .map(|n| {
                if (n / (period / 2)).is_multiple_of(2) {
                    peak
                } else {
                    -peak
                }
            })
            .collect()
    }
}

/// FNV-1a, 64 bits: a compact fingerprint of a long output.
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn encode(pcm: &[i16]) -> Vec<u8> {
    let mut out = Vec::new();
    G722Encoder::new().encode(pcm, &mut out);
    out
}

fn decode(octets: &[u8]) -> Vec<i16> {
    let mut out = Vec::new();
    G722Decoder::new().decode(octets, &mut out);
    out
}

/// Codes and decoded samples of another G.722 implementation (spandsp 0.0.6, which
/// the baresip `g722` module links) for the same integer signals: the first octets
/// verbatim, then fingerprints of the whole streams. Its decoder wraps samples that
/// overflow 16 bits where this one saturates, so decoded fingerprints are compared
/// only for streams that never reach full scale.
#[test]
fn codes_and_samples_match_an_independent_implementation() {
    let noise = integer_signal::noise(32_000, 1);
    let octets = encode(&noise);
    assert_eq!(
        octets[..12],
        [138, 32, 132, 33, 138, 32, 35, 151, 15, 140, 14, 164]
    );
    assert_eq!(fnv1a(octets.iter().copied()), 0x2ca7_29c6_4f16_4552);
    let decoded = decode(&octets);
    assert_eq!(decoded[40..46], [-8492, 6399, 17374, 16621, 10066, 2273]);
    assert_eq!(
        fnv1a(decoded.iter().flat_map(|s| s.to_le_bytes())),
        0x78cd_a743_7c4e_9582
    );

    let sweep = integer_signal::sweep(32_000, 24_000);
    let octets = encode(&sweep);
    assert_eq!(
        octets[..12],
        [38, 132, 32, 132, 32, 132, 4, 133, 5, 134, 70, 71]
    );
    assert_eq!(fnv1a(octets.iter().copied()), 0xda40_23b4_2256_6669);
    let decoded = decode(&octets);
    assert_eq!(
        fnv1a(decoded.iter().flat_map(|s| s.to_le_bytes())),
        0xfcf6_0d45_2193_d1d7
    );

    // Full scale: the predictors saturate (4·a1 beyond ±2, a2 at its bound).
    let square = integer_signal::square(16_000, 40, i16::MAX);
    let octets = encode(&square);
    assert_eq!(
        octets[..12],
        [135, 32, 132, 32, 132, 32, 160, 32, 160, 32, 32, 160]
    );
    assert_eq!(fnv1a(octets.iter().copied()), 0xded1_0698_dd44_bcf3);
}

/// G.722's backward adaptation means a decoder fed the encoder's octets holds the
/// encoder's band state exactly, octet after octet, whatever the input.
#[test]
fn a_decoder_fed_the_encoders_octets_tracks_its_state_exactly() {
    let mut input = integer_signal::sweep(8000, 30_000);
    input.extend(integer_signal::noise(8000, 0));
    input.extend(integer_signal::square(4000, 16, i16::MIN + 1));
    input.extend(sine(440.0, 16_000, 9000.0, 4000));
    let mut encoder = G722Encoder::new();
    let mut decoder = G722Decoder::new();
    let (mut octet, mut pcm) = (Vec::new(), Vec::new());
    for pair in input.chunks_exact(2) {
        octet.clear();
        encoder.encode(pair, &mut octet);
        decoder.decode(&octet, &mut pcm);
        assert_eq!(
            (encoder.lower, encoder.higher),
            (decoder.lower, decoder.higher)
        );
    }
    // Both really moved: the scale factors adapted away from their reset values.
    assert_ne!(encoder.lower.scale, Scale::LOWER);
    assert_ne!(encoder.higher.scale, Scale::HIGHER);
}

/// The round trip's delay in samples: 11.5 for each 24-tap QMF, less the one by which
/// the transmit QMF's reference (the second sample of a pair) leads the pair.
const DELAY: usize = 22;

#[test]
fn tones_come_back_above_30_db_after_the_predictors_settle() {
    for (hz, peak) in [(1000.0, 10_000.0), (300.0, 20_000.0), (2500.0, 5000.0)] {
        let tone = sine(hz, 16_000, peak, 16_000);
        let decoded = decode(&encode(&tone));
        assert_eq!(decoded.len(), tone.len());
        let snr = snr_db(&tone, &decoded, DELAY, 1600);
        assert!(snr >= 30.0, "{hz} Hz at {peak}: {snr:.1} dB");
    }
}

#[test]
fn speech_band_noise_and_sweeps_keep_their_shape() {
    let cases = [
        // Up to 7.5 kHz: the higher band's 2 bits cost most of the error.
        ("sweep", integer_signal::sweep(32_000, 16_000), 20.0),
        // White up to 8 kHz: nothing above 7 kHz survives the QMF.
        ("noise", integer_signal::noise(16_000, 2), 9.0),
        ("speech", resampled_speech(), 30.0),
    ];
    for (name, input, floor) in cases {
        let decoded = decode(&encode(&input));
        assert_eq!(best_delay(&input, &decoded, 64, 1600), DELAY, "{name}");
        let snr = snr_db(&input, &decoded, DELAY, 1600);
        assert!(snr >= floor, "{name}: {snr:.1} dB");
    }
}

/// The shared speech-like test signal, made at 8 kHz and brought to 16 kHz.
fn resampled_speech() -> Vec<i16> {
    let narrow = crate::codec::test_signal::speech_like(8000, 16_000);
    let mut wide = Vec::new();
    crate::codec::Resampler::new(
        crate::codec::SampleRate::Hz8000,
        crate::codec::SampleRate::Hz16000,
    )
    .process(&narrow, &mut wide);
    wide
}

#[test]
fn full_scale_input_saturates_instead_of_wrapping() {
    let square = integer_signal::square(16_000, 80, i16::MAX);
    let decoded = decode(&encode(&square));
    // After the first periods, each half period decodes with the input's sign.
    for (n, &want) in square.iter().enumerate().skip(800).take(15_000) {
        let got = decoded[n + DELAY];
        let settled = n % 40 > 8 && n % 40 < 32;
        if settled {
            assert_eq!(got.signum(), want.signum(), "sample {n}: {got}");
            assert!(got.unsigned_abs() > 20_000, "sample {n}: {got}");
        }
    }
}

#[test]
fn a_reset_coder_starts_over() {
    let first = integer_signal::noise(3200, 0);
    let second = sine(1000.0, 16_000, 8000.0, 3200);
    let mut encoder = G722Encoder::new();
    let mut octets = Vec::new();
    encoder.encode(&first, &mut octets);
    // An odd sample left waiting is forgotten too.
    encoder.encode(&[1234], &mut octets);
    encoder.reset();
    octets.clear();
    encoder.encode(&second, &mut octets);
    assert_eq!(octets, encode(&second));

    let mut decoder = G722Decoder::new();
    let mut pcm = Vec::new();
    decoder.decode(&encode(&first), &mut pcm);
    decoder.reset();
    pcm.clear();
    decoder.decode(&octets, &mut pcm);
    assert_eq!(pcm, decode(&octets));
}

#[test]
fn a_frame_is_320_samples_in_160_octets() {
    let frame = sine(1000.0, 16_000, 8000.0, FRAME_SAMPLES);
    let octets = encode(&frame);
    assert_eq!(octets.len(), FRAME_OCTETS);
    assert_eq!(decode(&octets).len(), FRAME_SAMPLES);
}

#[test]
fn codes_never_sent_decode_as_the_smallest_negative_step() {
    // Lower-band codes 0–3 are not produced by an encoder; a decoder treats them
    // like 63 (interval 1, negative).
    for level in &QM6[..4] {
        assert_eq!(*level, QM6[63]);
    }
    assert_eq!(QM6[63], -(QQ6[1] << 3));
    // Every code an encoder can produce maps back to its interval and sign.
    for interval in 1..=30 {
        for negative in [false, true] {
            let code = lower_code(interval, negative);
            assert!(code >= 4, "{interval} {negative}");
            assert_eq!(lower_interval(code), (interval, negative));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any octets decode, two samples each, without panicking.
    #[test]
    fn arbitrary_octets_decode(octets in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let pcm = decode(&octets);
        prop_assert_eq!(pcm.len(), 2 * octets.len());
    }

    /// Any samples, cut anywhere, encode as they would whole.
    #[test]
    fn chunked_encoding_equals_whole(
        pcm in proptest::collection::vec(any::<i16>(), 0..1200),
        cuts in proptest::collection::vec(0_usize..1200, 0..8),
    ) {
        let whole = encode(&pcm);
        prop_assert_eq!(whole.len(), pcm.len() / 2);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(pcm.len())).collect();
        cuts.sort_unstable();
        let mut encoder = G722Encoder::new();
        let (mut pieces, mut start) = (Vec::new(), 0);
        for cut in cuts.into_iter().chain([pcm.len()]) {
            encoder.encode(&pcm[start..cut], &mut pieces);
            start = cut;
        }
        prop_assert_eq!(pieces, whole);
    }
}
