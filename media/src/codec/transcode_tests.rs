use super::*;
#[cfg(feature = "opus")]
use crate::codec::OpusConfig;
use crate::codec::g711;
use crate::codec::test_signal::{aligned_speech_snr_db, snr_db, speech_like};

/// 8 kHz PCM cut into PCMU payloads of `ptime_ms`.
fn pcmu_payloads(pcm: &[i16], ptime_ms: usize) -> Vec<Vec<u8>> {
    pcm.chunks(8 * ptime_ms)
        .map(|chunk| {
            let mut payload = Vec::new();
            g711::pcmu_encode(chunk, &mut payload);
            payload
        })
        .collect()
}

/// Pushes every payload through `transcoder` and collects what comes out.
fn pass(transcoder: &mut Transcoder, payloads: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for payload in payloads {
        let ready = transcoder.push(payload).expect("a valid payload");
        assert_eq!(ready, transcoder.ready());
        drain(transcoder, &mut out);
    }
    out
}

fn drain(transcoder: &mut Transcoder, out: &mut Vec<Vec<u8>>) {
    let mut buffer = Vec::new();
    while transcoder
        .poll_payload(&mut buffer)
        .expect("a frame encodes")
    {
        out.push(buffer.clone());
    }
    assert!(buffer.is_empty());
}

fn pcmu_to_pcm(payloads: &[Vec<u8>]) -> Vec<i16> {
    let mut pcm = Vec::new();
    for payload in payloads {
        g711::pcmu_decode(payload, &mut pcm);
    }
    pcm
}

/// SNR (dB) of the speech-like signal sent as PCMU through `PCMU → via → PCMU`.
fn pcmu_round_trip_snr(via: Codec) -> f64 {
    let speech = speech_like(8000, 3 * 8000);
    let mut there = Transcoder::new(Codec::Pcmu, via).expect("supported pair");
    let mut back = Transcoder::new(via, Codec::Pcmu).expect("supported pair");
    let middle = pass(&mut there, &pcmu_payloads(&speech, 20));
    let received = pcmu_to_pcm(&pass(&mut back, &middle));
    assert_eq!(received.len(), speech.len());
    let (snr, delay) = aligned_speech_snr_db(8000, &received, 200, 800);
    eprintln!("PCMU -> {via:?} -> PCMU: {snr:.1} dB at a delay of {delay:.1} samples");
    snr
}

fn g711_round_trip_snr(encode: fn(&[i16], &mut Vec<u8>), decode: fn(&[u8], &mut Vec<i16>)) -> f64 {
    let speech = speech_like(8000, 3 * 8000);
    let mut payload = Vec::new();
    encode(&speech, &mut payload);
    let mut decoded = Vec::new();
    decode(&payload, &mut decoded);
    snr_db(&speech, &decoded, 0, 0)
}

#[test]
fn pcmu_and_pcma_keep_30_db_on_speech() {
    let pcmu = g711_round_trip_snr(g711::pcmu_encode, g711::pcmu_decode);
    let pcma = g711_round_trip_snr(g711::pcma_encode, g711::pcma_decode);
    eprintln!("PCMU {pcmu:.1} dB, PCMA {pcma:.1} dB");
    assert!(pcmu >= 30.0, "PCMU {pcmu:.1} dB");
    assert!(pcma >= 30.0, "PCMA {pcma:.1} dB");
}

#[test]
fn pcmu_through_pcma_and_back_keeps_30_db() {
    let snr = pcmu_round_trip_snr(Codec::Pcma);
    assert!(snr >= 30.0, "{snr:.1} dB");
}

#[test]
fn pcmu_through_pcmu_is_lossless() {
    let speech = speech_like(8000, 8000);
    let payloads = pcmu_payloads(&speech, 20);
    let mut same = Transcoder::new(Codec::Pcmu, Codec::Pcmu).expect("supported pair");
    let out = pass(&mut same, &payloads);
    assert_eq!(pcmu_to_pcm(&out), pcmu_to_pcm(&payloads));
}

#[cfg(feature = "opus")]
#[test]
fn pcmu_through_opus_and_back_keeps_15_db() {
    let snr = pcmu_round_trip_snr(Codec::Opus);
    assert!(snr >= 15.0, "{snr:.1} dB");
}

#[cfg(feature = "opus")]
#[test]
fn any_input_ptime_comes_out_as_20_ms_payloads() {
    let speech = speech_like(8000, 8000);
    for ptime in [10, 20, 30, 60] {
        let mut to_opus = Transcoder::new(Codec::Pcmu, Codec::Opus).expect("supported pair");
        let packets = pass(&mut to_opus, &pcmu_payloads(&speech, ptime));
        assert_eq!(packets.len(), 50, "ptime {ptime}");
        let mut to_pcma = Transcoder::new(Codec::Opus, Codec::Pcma).expect("supported pair");
        let back = pass(&mut to_pcma, &packets);
        assert_eq!(back.len(), 50);
        assert!(back.iter().all(|payload| payload.len() == 160));
    }
}

#[cfg(feature = "opus")]
#[test]
fn a_corrupt_packet_is_refused_and_changes_nothing() {
    let speech = speech_like(8000, 8000);
    let mut to_opus = Transcoder::new(Codec::Pcmu, Codec::Opus).expect("supported pair");
    let packets = pass(&mut to_opus, &pcmu_payloads(&speech, 20));
    let mut clean = Transcoder::new(Codec::Opus, Codec::Pcmu).expect("supported pair");
    let mut disturbed = Transcoder::new(Codec::Opus, Codec::Pcmu).expect("supported pair");
    let first = pass(&mut disturbed, &packets[..10]);
    let refused = disturbed.push(&[0xFF, 0xFF]);
    assert!(
        matches!(refused, Err(CodecError::Opus { .. })),
        "{refused:?}"
    );
    assert_eq!(disturbed.push(&[]), Err(CodecError::EmptyPayload));
    let mut all = first;
    all.extend(pass(&mut disturbed, &packets[10..]));
    assert_eq!(all, pass(&mut clean, &packets));
}

#[cfg(feature = "opus")]
#[test]
fn lost_opus_packets_are_rebuilt_from_fec() {
    let speech = speech_like(8000, 2 * 8000);
    let config = OpusConfig {
        expected_loss_percent: 10,
        ..OpusConfig::default()
    };
    let mut to_opus =
        Transcoder::with_opus_config(Codec::Pcmu, Codec::Opus, &config).expect("supported pair");
    let packets = pass(&mut to_opus, &pcmu_payloads(&speech, 20));
    let lost = |n: usize| n % 10 == 5;
    let received = |fec: bool| {
        let mut back = Transcoder::new(Codec::Opus, Codec::Pcmu).expect("supported pair");
        let mut out = Vec::new();
        for (n, packet) in packets.iter().enumerate() {
            if lost(n) {
                let next = packets.get(n + 1).filter(|_| fec).map(Vec::as_slice);
                back.push_lost(next).expect("concealment");
            } else {
                back.push(packet).expect("a valid packet");
            }
            drain(&mut back, &mut out);
        }
        let pcm = pcmu_to_pcm(&out);
        assert_eq!(pcm.len(), speech.len());
        aligned_speech_snr_db(8000, &pcm, 200, 800).0
    };
    let (fec, plc) = (received(true), received(false));
    eprintln!("10 % loss: FEC {fec:.1} dB, concealment {plc:.1} dB");
    assert!(fec > plc, "FEC {fec:.1} dB vs concealment {plc:.1} dB");
}

#[test]
fn lost_g711_packets_become_silence() {
    let mut transcoder = Transcoder::new(Codec::Pcma, Codec::Pcmu).expect("supported pair");
    assert_eq!(transcoder.push_lost(None), Ok(1));
    let mut payload = Vec::new();
    assert_eq!(transcoder.poll_payload(&mut payload), Ok(true));
    assert!(payload.iter().all(|&code| g711::ulaw_decode(code) == 0));
    assert_eq!(transcoder.poll_payload(&mut payload), Ok(false));
    assert!(payload.is_empty());
}

#[test]
fn telephone_events_are_not_transcoded() {
    for (from, to) in [
        (Codec::TelephoneEvent, Codec::Pcmu),
        (Codec::Pcma, Codec::TelephoneEvent),
    ] {
        let error = Transcoder::new(from, to).err();
        assert_eq!(error, Some(CodecError::NotAudio(Codec::TelephoneEvent)));
    }
}

#[cfg(not(feature = "opus"))]
#[test]
fn opus_is_refused_when_not_built_in() {
    let error = Transcoder::new(Codec::Pcmu, Codec::Opus).err();
    assert_eq!(error, Some(CodecError::NotBuiltIn(Codec::Opus)));
}

/// 16 kHz PCM cut into 20 ms G.722 payloads by one encoder.
fn g722_payloads(pcm: &[i16]) -> Vec<Vec<u8>> {
    let mut encoder = crate::codec::g722::G722Encoder::new();
    pcm.chunks(crate::codec::g722::FRAME_SAMPLES)
        .map(|frame| {
            let mut payload = Vec::new();
            encoder.encode(frame, &mut payload);
            payload
        })
        .collect()
}

#[cfg(feature = "opus")]
fn g722_to_pcm(payloads: &[Vec<u8>]) -> Vec<i16> {
    let mut decoder = crate::codec::g722::G722Decoder::new();
    let mut pcm = Vec::new();
    for payload in payloads {
        decoder.decode(payload, &mut pcm);
    }
    pcm
}

#[test]
fn pcmu_through_g722_and_back_keeps_30_db() {
    let snr = pcmu_round_trip_snr(Codec::G722);
    assert!(snr >= 30.0, "{snr:.1} dB");
}

#[test]
fn g722_to_pcmu_makes_160_octet_payloads_of_the_same_speech() {
    let speech = speech_like(16_000, 2 * 16_000);
    let mut to_pcmu = Transcoder::new(Codec::G722, Codec::Pcmu).expect("supported pair");
    let out = pass(&mut to_pcmu, &g722_payloads(&speech));
    assert_eq!(out.len(), 100);
    assert!(out.iter().all(|payload| payload.len() == 160));
    let (snr, delay) = aligned_speech_snr_db(8000, &pcmu_to_pcm(&out), 200, 800);
    eprintln!("G.722 -> PCMU: {snr:.1} dB at a delay of {delay:.1} samples");
    assert!(snr >= 25.0, "{snr:.1} dB");
}

#[cfg(feature = "opus")]
#[test]
fn g722_through_opus_and_back_keeps_15_db() {
    let speech = speech_like(16_000, 3 * 16_000);
    let mut to_opus = Transcoder::new(Codec::G722, Codec::Opus).expect("supported pair");
    let packets = pass(&mut to_opus, &g722_payloads(&speech));
    assert_eq!(packets.len(), 150);
    let mut back = Transcoder::new(Codec::Opus, Codec::G722).expect("supported pair");
    let payloads = pass(&mut back, &packets);
    assert_eq!(payloads.len(), 150);
    assert!(payloads.iter().all(|payload| payload.len() == 160));
    let received = g722_to_pcm(&payloads);
    let (snr, delay) = aligned_speech_snr_db(16_000, &received, 400, 1600);
    eprintln!("G.722 -> Opus -> G.722: {snr:.1} dB at a delay of {delay:.1} samples");
    assert!(snr >= 15.0, "{snr:.1} dB");
}

#[test]
fn a_lost_g722_packet_is_20_ms_of_silence() {
    let mut transcoder = Transcoder::new(Codec::G722, Codec::Pcmu).expect("supported pair");
    assert_eq!(transcoder.push_lost(None), Ok(1));
    let mut payload = Vec::new();
    assert_eq!(transcoder.poll_payload(&mut payload), Ok(true));
    assert_eq!(payload.len(), 160);
    assert!(payload.iter().all(|&code| g711::ulaw_decode(code) == 0));
    assert_eq!(transcoder.poll_payload(&mut payload), Ok(false));
}
