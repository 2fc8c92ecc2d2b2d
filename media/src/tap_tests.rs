use super::*;
use crate::codec::Codec as AudioCodec;
use crate::dtmf::EventSender;
use crate::rtp::{Pt, RtpHeader, Seq, Ssrc};

fn rtp(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut header = RtpHeader::new(Pt::new(pt).expect("valid pt"), Seq(seq), ts, Ssrc(7));
    header.marker = marker;
    let mut buf = vec![0u8; 12 + payload.len()];
    let n = header.write(None, &mut buf).expect("header fits");
    buf[n..n + payload.len()].copy_from_slice(payload);
    buf.truncate(n + payload.len());
    buf
}

/// 20 ms PCMU packets of `ms` of the DTMF tone of `key` (or silence for `None`).
fn tone_packets(key: Option<char>, ms: u32, seq: &mut u16) -> Vec<Vec<u8>> {
    let (low, high) = match key {
        Some('1') => (697.0, 1209.0),
        Some('9') => (852.0, 1477.0),
        _ => (0.0, 0.0),
    };
    let mut packets = Vec::new();
    for _ in 0..ms / 20 {
        let pcm: Vec<i16> = (0..160)
            .map(|i| {
                let t = f64::from(u32::from(*seq) * 160 + i) / 8000.0;
                let v = 6000.0
                    * ((std::f64::consts::TAU * low * t).sin()
                        + (std::f64::consts::TAU * high * t).sin());
                v as i16
            })
            .collect();
        let mut payload = Vec::new();
        g711::pcmu_encode(&pcm, &mut payload);
        packets.push(rtp(0, *seq, u32::from(*seq) * 160, false, &payload));
        *seq += 1;
    }
    packets
}

#[test]
fn tones_in_g711_audio_are_digits_when_watched_in_band() {
    let t0 = Instant::now();
    let mut taps = Taps::default();
    taps.watch_inband(Side::A, 0, G711Law::Mu);
    let mut out = Vec::new();
    let mut seq = 0;
    let mut at = t0;
    let script = [(Some('1'), 100), (None, 100), (Some('9'), 80), (None, 60)];
    for (key, ms) in script {
        for packet in tone_packets(key, ms, &mut seq) {
            taps.inspect(Side::A, &packet, at, &mut out);
            at += Duration::from_millis(20);
        }
    }
    let digits: Vec<char> = out
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Digit {
                side: Side::A,
                digit,
                ..
            } => Some(digit.as_char()),
            _ => None,
        })
        .collect();
    assert_eq!(digits, ['1', '9']);
    // Another payload type (say, comfort noise) is not decoded as audio.
    let mut quiet = Taps::default();
    quiet.watch_inband(Side::A, 8, G711Law::A);
    let mut none = Vec::new();
    for packet in tone_packets(Some('1'), 100, &mut seq) {
        quiet.inspect(Side::A, &packet, t0, &mut none);
    }
    assert!(none.is_empty());
}

#[test]
fn digits_in_relayed_rtp_are_reported_once_per_press() {
    let t0 = Instant::now();
    let mut taps = Taps::default();
    assert!(taps.is_empty());
    taps.watch_dtmf(Side::A, 101, 8000).expect("valid config");
    let mut out = Vec::new();
    // Audio on the watched side and anything on the other side are ignored.
    taps.inspect(Side::A, &rtp(0, 1, 0, false, &[0xff; 160]), t0, &mut out);
    taps.inspect(
        Side::B,
        &rtp(101, 1, 0, true, &[5, 0x8a, 0, 160]),
        t0,
        &mut out,
    );
    let packets = EventSender::new(8000)
        .expect("valid rate")
        .packets(
            Digit::from_char('5').expect("digit"),
            Duration::from_millis(100),
            10,
            800,
        )
        .expect("plan");
    for (i, p) in packets.iter().enumerate() {
        let seq = 2 + u16::try_from(i).expect("few packets");
        taps.inspect(
            Side::A,
            &rtp(101, seq, p.timestamp, p.marker, &p.payload),
            t0 + p.at,
            &mut out,
        );
    }
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        matches!(out[0], MediaEvent::Digit { side: Side::A, digit, .. } if digit.as_char() == '5')
    );
    // Garbage never disturbs it.
    taps.inspect(Side::A, &[0x80, 101, 0], t0, &mut out);
    assert_eq!(out.len(), 1);
}

/// 20 ms payloads of a `hz` tone of `peak` in `codec`, one encoder for the stream.
fn tone_payloads(codec: AudioCodec, hz: f64, peak: f64, frames: usize) -> Vec<Vec<u8>> {
    let rate = codec.pcm_rate().expect("audio").hz();
    let frame = frame_samples(rate);
    let mut encoder = crate::codec::Encoder::new(codec).expect("built in");
    (0..frames)
        .map(|n| {
            let pcm: Vec<i16> = (n * frame..(n + 1) * frame)
                .map(|i| {
                    (peak * (std::f64::consts::TAU * hz * i as f64 / f64::from(rate)).sin()) as i16
                })
                .collect();
            let mut payload = Vec::new();
            encoder.encode(&pcm, &mut payload).expect("a frame encodes");
            payload
        })
        .collect()
}

/// The amplitude of the `hz` component of `samples` at 16 kHz.
fn level_at(samples: &[i16], hz: f64) -> f64 {
    let (mut i, mut q) = (0.0, 0.0);
    for (n, &s) in samples.iter().enumerate() {
        let phase = std::f64::consts::TAU * hz * n as f64 / 16_000.0;
        i += f64::from(s) * phase.sin();
        q += f64::from(s) * phase.cos();
    }
    2.0 * (i * i + q * q).sqrt() / samples.len() as f64
}

/// Every audio frame of `side` in `events`.
fn frames_of(events: &[MediaEvent], side: Side) -> Vec<&[i16]> {
    events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Audio { side: s, samples } if *s == side => Some(samples.as_slice()),
            _ => None,
        })
        .collect()
}

#[test]
fn watched_audio_comes_out_as_16_khz_frames_whatever_the_codec() {
    let t0 = Instant::now();
    let mut codecs = vec![
        (AudioCodec::Pcmu, 0),
        (AudioCodec::Pcma, 8),
        (AudioCodec::G722, 9),
    ];
    if cfg!(feature = "opus") {
        codecs.push((AudioCodec::Opus, 111));
    }
    for (codec, pt) in codecs {
        let mut taps = Taps::default();
        taps.watch_audio(Side::B, pt, codec);
        let mut out = Vec::new();
        let step = codec.clock_rate() / 50;
        for (n, payload) in tone_payloads(codec, 1000.0, 8000.0, 25).iter().enumerate() {
            let seq = u16::try_from(n).expect("few packets");
            let packet = rtp(pt, seq, u32::from(seq) * step, false, payload);
            taps.inspect(Side::B, &packet, t0, &mut out);
        }
        let frames = frames_of(&out, Side::B);
        assert_eq!(frames.len(), 25, "{codec:?}: one frame per 20 ms packet");
        assert!(frames.iter().all(|f| f.len() == AUDIO_FRAME));
        assert!(frames_of(&out, Side::A).is_empty());
        let settled: Vec<i16> = frames[10..].concat();
        let (tone, off) = (level_at(&settled, 1000.0), level_at(&settled, 3000.0));
        assert!(
            (6500.0..9000.0).contains(&tone) && off < tone / 50.0,
            "{codec:?}: 1 kHz at {tone:.0}, 3 kHz at {off:.0}"
        );
    }
}

#[test]
fn packets_of_any_length_are_cut_into_20_ms_frames() {
    let t0 = Instant::now();
    let mut taps = Taps::default();
    taps.watch_audio(Side::A, 8, G711Law::A);
    let mut out = Vec::new();
    // 30 ms packets: three make 90 ms, four whole frames and 10 ms waiting.
    for seq in 0..3u16 {
        let packet = rtp(8, seq, u32::from(seq) * 240, false, &[0xD5; 240]);
        taps.inspect(Side::A, &packet, t0, &mut out);
    }
    assert_eq!(frames_of(&out, Side::A).len(), 4);
    // The waiting 10 ms and the next 10 ms packet make the fifth.
    taps.inspect(Side::A, &rtp(8, 3, 720, false, &[0xD5; 80]), t0, &mut out);
    assert_eq!(frames_of(&out, Side::A).len(), 5);
}

#[test]
fn only_the_watched_payload_type_is_heard() {
    let t0 = Instant::now();
    let mut taps = Taps::default();
    let mut out = Vec::new();
    // Unwatched: nothing, not even for a parseable packet.
    taps.inspect(Side::A, &rtp(0, 1, 0, false, &[0x80; 160]), t0, &mut out);
    assert!(out.is_empty() && taps.is_empty());
    taps.watch_audio(Side::A, 9, AudioCodec::G722);
    assert!(!taps.is_empty());
    // Telephone-events, another codec and garbage are not audio.
    taps.inspect(
        Side::A,
        &rtp(101, 2, 0, false, &[1, 10, 0, 160]),
        t0,
        &mut out,
    );
    taps.inspect(Side::A, &rtp(0, 3, 0, false, &[0x80; 160]), t0, &mut out);
    taps.inspect(Side::A, &[0x80, 9, 0], t0, &mut out);
    assert!(out.is_empty(), "{out:?}");
    // A codec that carries no audio ends the watch.
    taps.watch_audio(Side::A, 101, AudioCodec::TelephoneEvent);
    assert!(taps.is_empty());
}

#[cfg(feature = "opus")]
#[test]
fn a_corrupt_opus_packet_is_skipped_and_the_stream_goes_on() {
    let t0 = Instant::now();
    let mut taps = Taps::default();
    taps.watch_audio(Side::A, 111, AudioCodec::Opus);
    let mut out = Vec::new();
    let payloads = tone_payloads(AudioCodec::Opus, 440.0, 6000.0, 4);
    taps.inspect(Side::A, &rtp(111, 0, 0, false, &payloads[0]), t0, &mut out);
    // TOC code 3 announcing more than 120 ms: libopus refuses it.
    taps.inspect(
        Side::A,
        &rtp(111, 1, 960, false, &[0xFF, 0xFF]),
        t0,
        &mut out,
    );
    taps.inspect(
        Side::A,
        &rtp(111, 2, 1920, false, &payloads[1]),
        t0,
        &mut out,
    );
    assert_eq!(frames_of(&out, Side::A).len(), 2);
}

#[test]
fn quality_follows_loss_and_ignores_telephone_events() {
    let t0 = Instant::now();
    let mut taps = Taps::default();
    taps.watch_quality(Side::B, 8000, Codec::G711Plc);
    taps.watch_dtmf(Side::B, 101, 8000).expect("valid config");
    let mut out = Vec::new();
    assert!(taps.quality(Side::B).is_none(), "nothing measured yet");
    for i in 0..200u16 {
        let at = t0 + Duration::from_millis(20 * u64::from(i));
        match i % 20 {
            7 => {} // lost
            // A key press takes the stream's sequence numbers (not lost)
            // with a frozen timestamp (not jitter).
            10..=13 => taps.inspect(
                Side::B,
                &rtp(101, i, 1600, false, &[1, 10, 0, 160]),
                at,
                &mut out,
            ),
            _ => taps.inspect(
                Side::B,
                &rtp(0, i, 160 * u32::from(i), false, &[0xff; 160]),
                at,
                &mut out,
            ),
        }
    }
    let q = taps.quality(Side::B).expect("measured");
    assert_eq!((q.received, q.lost), (190, 10));
    assert!(q.jitter_ms < 1.0, "steady arrivals: {q:?}");
    let mut clean = Taps::default();
    clean.watch_quality(Side::A, 8000, Codec::G711Plc);
    for i in 0..200u16 {
        let at = t0 + Duration::from_millis(20 * u64::from(i));
        clean.inspect(
            Side::A,
            &rtp(0, i, 160 * u32::from(i), false, &[0xff; 160]),
            at,
            &mut out,
        );
    }
    let c = clean.quality(Side::A).expect("measured");
    assert!(
        c.mos > 4.3 && q.mos < c.mos - 0.2,
        "5 % loss must cost MOS: clean {c:?}, lossy {q:?}"
    );
}
