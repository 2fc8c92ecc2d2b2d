use super::*;
use crate::codec::test_signal::{aligned_speech_snr_db, rms, sine, speech_like};

/// Encodes `signal` (48 kHz) frame by frame; returns the packets.
fn encode_all(config: &OpusConfig, signal: &[i16]) -> Vec<Vec<u8>> {
    let mut encoder = OpusEncoder::new(config).expect("valid config");
    signal
        .chunks_exact(FRAME)
        .map(|frame| {
            let mut packet = Vec::new();
            let len = encoder
                .encode(frame, &mut packet)
                .expect("a 20 ms frame encodes");
            assert_eq!(len, packet.len());
            packet
        })
        .collect()
}

/// Decodes `packets`; `None` is a lost packet, rebuilt by FEC from the next one when
/// `fec` holds, else concealed.
fn decode_all(packets: &[Option<Vec<u8>>], fec: bool) -> Vec<i16> {
    let mut decoder = OpusDecoder::new().expect("a decoder");
    let mut out = Vec::new();
    for (n, packet) in packets.iter().enumerate() {
        let appended = match (packet, packets.get(n + 1)) {
            (Some(packet), _) => decoder.decode(packet, &mut out),
            (None, Some(Some(next))) if fec => decoder.decode_fec(next, &mut out),
            (None, _) => decoder.conceal(&mut out),
        };
        assert_eq!(appended, Ok(FRAME));
    }
    out
}

#[test]
fn packets_match_the_bit_rate_and_decode_to_20_ms() {
    let signal = speech_like(OPUS_RATE, 2 * OPUS_RATE as usize);
    let packets = encode_all(&OpusConfig::default(), &signal);
    assert_eq!(packets.len(), 100);
    let mean = packets.iter().map(Vec::len).sum::<usize>() as f64 / packets.len() as f64;
    // 32 kbit/s × 20 ms = 80 bytes; VBR wanders around it.
    assert!(
        (60.0..=100.0).contains(&mean),
        "mean packet {mean:.1} bytes"
    );
    let decoded = decode_all(&packets.into_iter().map(Some).collect::<Vec<_>>(), false);
    assert_eq!(decoded.len(), signal.len());
}

#[test]
fn decoded_speech_lags_by_about_the_lookahead_and_keeps_15_db() {
    let signal = speech_like(OPUS_RATE, OPUS_RATE as usize);
    let encoder = OpusEncoder::new(&OpusConfig::default()).expect("valid config");
    let packets = encode_all(&OpusConfig::default(), &signal);
    let decoded = decode_all(&packets.into_iter().map(Some).collect::<Vec<_>>(), false);
    let (snr, delay) = aligned_speech_snr_db(OPUS_RATE, &decoded, 600, 4800);
    let lookahead = encoder.lookahead() as f64;
    assert!(
        (delay - lookahead).abs() <= 4.0,
        "delay {delay} vs lookahead {lookahead}"
    );
    assert!(snr >= 15.0, "{snr:.1} dB");
}

#[test]
fn fec_rebuilds_a_lost_frame_better_than_concealment() {
    let config = OpusConfig {
        expected_loss_percent: 20,
        ..OpusConfig::default()
    };
    let signal = speech_like(OPUS_RATE, OPUS_RATE as usize);
    let packets: Vec<Option<Vec<u8>>> =
        encode_all(&config, &signal).into_iter().map(Some).collect();
    let reference = decode_all(&packets, false);
    let mut lossy = packets.clone();
    let lost: Vec<usize> = (5..50).step_by(6).collect();
    for &n in &lost {
        lossy[n] = None;
    }
    let with_fec = decode_all(&lossy, true);
    let with_plc = decode_all(&lossy, false);
    let frames_snr = |decoded: &[i16]| {
        let (mut signal, mut noise) = (0.0, 0.0);
        for &n in &lost {
            let range = n * FRAME..(n + 1) * FRAME;
            signal += rms(&reference[range.clone()]).powi(2);
            let error: Vec<i16> = range
                .map(|i| decoded[i].saturating_sub(reference[i]))
                .collect();
            noise += rms(&error).powi(2);
        }
        10.0 * (signal / noise).log10()
    };
    let (fec, plc) = (frames_snr(&with_fec), frames_snr(&with_plc));
    assert!(
        fec > plc + 3.0,
        "FEC {fec:.1} dB vs concealment {plc:.1} dB"
    );
}

#[test]
fn concealment_continues_the_signal_and_decoding_resumes() {
    let signal = sine(300.0, OPUS_RATE, 8000.0, OPUS_RATE as usize / 2);
    let packets = encode_all(&OpusConfig::default(), &signal);
    let mut decoder = OpusDecoder::new().expect("a decoder");
    let mut out = Vec::new();
    for packet in &packets[..10] {
        decoder.decode(packet, &mut out).expect("valid packet");
    }
    let before = out.len();
    assert_eq!(decoder.conceal(&mut out), Ok(FRAME));
    // Concealment extrapolates the tone: not silence.
    assert!(
        rms(&out[before..]) > 1000.0,
        "concealed frame rms {}",
        rms(&out[before..])
    );
    assert_eq!(decoder.decode(&packets[11], &mut out), Ok(FRAME));
}

#[test]
fn bad_input_is_a_typed_error() {
    let mut encoder = OpusEncoder::new(&OpusConfig::default()).expect("valid config");
    let mut packet = vec![1, 2, 3];
    assert_eq!(
        encoder.encode(&[0; 480], &mut packet),
        Err(CodecError::FrameLength {
            expected: 960,
            got: 480
        })
    );
    assert_eq!(packet, [1, 2, 3], "nothing appended on error");

    let mut decoder = OpusDecoder::new().expect("a decoder");
    let mut out = Vec::new();
    assert_eq!(decoder.decode(&[], &mut out), Err(CodecError::EmptyPayload));
    assert_eq!(
        decoder.decode_fec(&[], &mut out),
        Err(CodecError::EmptyPayload)
    );
    // TOC code 3 announcing 63 frames of 20 ms: longer than the 120 ms a packet may hold.
    let corrupt = decoder.decode(&[0xFF, 0xFF], &mut out);
    assert!(
        matches!(corrupt, Err(CodecError::Opus { .. })),
        "{corrupt:?}"
    );
    assert!(out.is_empty());
}

#[test]
fn out_of_range_settings_are_refused() {
    let config = OpusConfig {
        complexity: 11,
        ..OpusConfig::default()
    };
    assert!(matches!(
        OpusEncoder::new(&config),
        Err(CodecError::Opus { .. })
    ));
}

#[test]
fn a_decoder_at_16_khz_gives_the_same_audio_at_a_third_of_the_rate() {
    let signal = sine(1000.0, OPUS_RATE, 8000.0, OPUS_RATE as usize / 2);
    let packets = encode_all(&OpusConfig::default(), &signal);
    let mut wide = OpusDecoder::at_rate(SampleRate::Hz16000).expect("a decoder");
    assert_eq!(wide.rate(), SampleRate::Hz16000);
    let mut out = Vec::new();
    for packet in &packets {
        assert_eq!(wide.decode(packet, &mut out), Ok(320));
    }
    assert_eq!(wide.conceal(&mut out), Ok(320));
    // A 1 kHz tone: 16 samples per period at 16 kHz, whatever the codec's delay.
    let settled = &out[3200..7200];
    let (mut i, mut q) = (0.0, 0.0);
    for (n, &s) in settled.iter().enumerate() {
        let phase = std::f64::consts::TAU * n as f64 / 16.0;
        i += f64::from(s) * phase.sin();
        q += f64::from(s) * phase.cos();
    }
    let amplitude = 2.0 * (i * i + q * q).sqrt() / settled.len() as f64;
    assert!(
        (6000.0..10_000.0).contains(&amplitude),
        "1 kHz at {amplitude:.0}"
    );
}
