use super::*;

/// Half the quantisation step, at the 16-bit scale, of the interval a µ-law code stands for.
fn ulaw_half_step(code: u8) -> i32 {
    let segment = i32::from((!code >> 4) & 0x07);
    1 << (segment + 2)
}

/// Half the quantisation step, at the 16-bit scale, of the interval an A-law code stands for.
fn alaw_half_step(code: u8) -> i32 {
    let segment = i32::from(((code ^ 0x55) >> 4) & 0x07);
    if segment < 2 { 8 } else { 1 << (segment + 2) }
}

#[test]
fn known_ulaw_values_from_the_standard() {
    assert_eq!(ulaw_decode(0xFF), 0);
    assert_eq!(ulaw_decode(0x7F), 0, "negative zero");
    assert_eq!(ulaw_decode(0x00), -32124);
    assert_eq!(ulaw_decode(0x80), 32124);
    assert_eq!(ulaw_encode(0), 0xFF);
    assert_eq!(ulaw_encode(-1), 0x7F);
    assert_eq!(ulaw_encode(i16::MAX), 0x80);
    assert_eq!(ulaw_encode(i16::MIN), 0x00);
}

#[test]
fn known_alaw_values_from_the_standard() {
    assert_eq!(alaw_decode(0xD5), 8);
    assert_eq!(alaw_decode(0x55), -8);
    assert_eq!(alaw_decode(0xAA), 32256);
    assert_eq!(alaw_decode(0x2A), -32256);
    assert_eq!(alaw_decode(0x80), 5504);
    assert_eq!(alaw_encode(0), 0xD5);
    assert_eq!(alaw_encode(-1), 0x55);
    assert_eq!(alaw_encode(i16::MAX), 0xAA);
    assert_eq!(alaw_encode(i16::MIN), 0x2A);
}

/// Level in dBm0 of a decoded periodic sequence, given the 16-bit peak of a 0 dBm0 sine.
fn level_dbm0(samples: &[i16], zero_dbm0_peak: f64) -> f64 {
    let power = samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64;
    10.0 * (power / (zero_dbm0_peak * zero_dbm0_peak / 2.0)).log10()
}

#[test]
fn digital_milliwatt_decodes_to_a_zero_dbm0_sine() {
    // G.711 Tables 5 and 6: the 8-code sequences of a 1 kHz sine at 0 dBm0. The law's
    // maximum (8159 in 14 bits for µ, 4096 in 13 bits for A) is +3.17 / +3.14 dBm0.
    let ulaw = [0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E];
    let alaw = [0x34, 0x21, 0x21, 0x34, 0xB4, 0xA1, 0xA1, 0xB4];
    let ulaw_peak = 4.0 * 8159.0 * 10f64.powf(-3.17 / 20.0);
    #[allow(
        clippy::approx_constant,
        reason = "+3.14 dBm0 is A-law's maximum level, not π"
    )]
    let alaw_max_dbm0 = 3.14;
    let alaw_peak = 8.0 * 4096.0 * 10f64.powf(-alaw_max_dbm0 / 20.0);
    for (codes, decode, peak) in [
        (ulaw, ulaw_decode as fn(u8) -> i16, ulaw_peak),
        (alaw, alaw_decode, alaw_peak),
    ] {
        let samples: Vec<i16> = codes.iter().map(|&c| decode(c)).collect();
        let level = level_dbm0(&samples, peak);
        assert!(level.abs() < 0.05, "{samples:?} is at {level:.3} dBm0");
        // Half a period negative, half positive, mirror-symmetric: a sine at fs / 8.
        assert!(samples[..4].iter().all(|&s| s < 0) && samples[4..].iter().all(|&s| s > 0));
        assert_eq!(samples[0], -samples[4]);
        assert_eq!(samples[1], samples[2]);
    }
}

#[test]
fn tables_match_the_computed_law_for_every_input() {
    for sample in i16::MIN..=i16::MAX {
        assert_eq!(
            ulaw_encode(sample),
            ulaw_encode_computed(sample),
            "µ {sample}"
        );
        assert_eq!(
            alaw_encode(sample),
            alaw_encode_computed(sample),
            "A {sample}"
        );
    }
    for code in 0..=u8::MAX {
        assert_eq!(ulaw_decode(code), ulaw_decode_computed(code));
        assert_eq!(alaw_decode(code), alaw_decode_computed(code));
    }
}

#[test]
fn ulaw_round_trip_error_is_within_half_a_step_for_every_i16() {
    let mut previous = i16::MIN;
    for sample in i16::MIN..=i16::MAX {
        let code = ulaw_encode(sample);
        let decoded = ulaw_decode(code);
        let error = (i32::from(decoded) - i32::from(sample)).abs();
        let x14 = i32::from(sample >> 2);
        if (-8159..=8158).contains(&x14) {
            assert!(
                error <= ulaw_half_step(code),
                "{sample} -> {code:#04x} -> {decoded}"
            );
        } else {
            assert_eq!(decoded.abs(), 32124, "overload saturates: {sample}");
            assert!(
                error <= 2 * ulaw_half_step(code),
                "overload within one step: {sample}"
            );
        }
        assert!(decoded >= previous, "monotonic at {sample}");
        previous = decoded;
    }
}

#[test]
fn alaw_round_trip_error_is_within_half_a_step_for_every_i16() {
    let mut previous = i16::MIN;
    for sample in i16::MIN..=i16::MAX {
        let code = alaw_encode(sample);
        let decoded = alaw_decode(code);
        let error = (i32::from(decoded) - i32::from(sample)).abs();
        assert!(
            error <= alaw_half_step(code),
            "{sample} -> {code:#04x} -> {decoded}"
        );
        assert!(decoded >= previous, "monotonic at {sample}");
        previous = decoded;
    }
}

#[test]
fn every_code_survives_decode_then_encode() {
    for code in 0..=u8::MAX {
        assert_eq!(alaw_encode(alaw_decode(code)), code);
        // µ-law's negative zero (0x7F) decodes to 0, which codes as positive zero.
        let expected = if code == 0x7F { 0xFF } else { code };
        assert_eq!(ulaw_encode(ulaw_decode(code)), expected);
    }
}

#[test]
fn payload_helpers_append_one_byte_per_sample() {
    let pcm = [0_i16, 1000, -1000, i16::MAX, i16::MIN];
    for (encode, decode) in [
        (
            pcmu_encode as fn(&[i16], &mut Vec<u8>),
            pcmu_decode as fn(&[u8], &mut Vec<i16>),
        ),
        (pcma_encode, pcma_decode),
    ] {
        let mut payload = vec![0xAB];
        encode(&pcm, &mut payload);
        assert_eq!(payload.len(), 1 + pcm.len());
        let mut decoded = vec![7];
        decode(&payload[1..], &mut decoded);
        assert_eq!(decoded.len(), 1 + pcm.len());
        for (&original, &back) in pcm.iter().zip(&decoded[1..]) {
            assert!((i32::from(original) - i32::from(back)).abs() <= 1024);
        }
    }
}
