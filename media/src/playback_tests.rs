#![allow(
    clippy::disallowed_methods,
    reason = "each test takes one Instant as an anchor; every other time is arithmetic on it"
)]

use super::*;
use crate::codec::{SampleRate, g711};
use crate::rtp::RtpPacket;

const MS: Duration = Duration::from_millis(1);

fn player(codec: Codec) -> Playback {
    Playback::new(
        codec,
        Pt::new(codec.default_payload_type()).expect("static pt"),
        Ssrc(0x1234),
        Seq(100),
        5000,
    )
    .expect("codec built in")
}

/// A prompt of `frames` 20 ms frames whose every sample is `level`.
fn tone(frames: usize, level: i16) -> Prompt {
    Prompt::from_samples(SampleRate::Hz8000, vec![level; frames * 160])
}

/// Drives the player from `t0` in 1 ms steps for `span`, collecting packets with the
/// instant each was produced.
fn drain(p: &mut Playback, t0: Instant, span: Duration) -> Vec<(Instant, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut t = t0;
    while t <= t0 + span {
        while p.poll_packet(t, &mut buf).expect("g711 encodes") {
            out.push((t, buf.clone()));
        }
        t += MS;
    }
    out
}

#[test]
fn a_track_becomes_paced_packets_then_one_finished_event() {
    let t0 = Instant::now();
    let mut p = player(Codec::Pcmu);
    assert_eq!(p.poll_timeout(), None);
    p.play(t0, 7, vec![tone(3, 1000), tone(2, -1000)])
        .expect("8 kHz prompt");
    assert_eq!(p.poll_timeout(), Some(t0));
    let packets = drain(&mut p, t0, 200 * MS);
    assert_eq!(packets.len(), 5);
    for (i, (at, bytes)) in packets.iter().enumerate() {
        assert_eq!(*at, t0 + 20 * MS * i as u32, "packet {i} on its 20 ms slot");
        let packet = RtpPacket::parse(bytes).expect("valid RTP");
        assert_eq!(packet.header.ssrc, Ssrc(0x1234));
        assert_eq!(packet.header.seq, Seq(100 + i as u16));
        assert_eq!(packet.header.timestamp, 5000 + 160 * i as u32);
        assert_eq!(
            packet.header.marker,
            i == 0,
            "marker on the first packet only"
        );
        assert_eq!(packet.payload.len(), 160);
        let level = if i < 3 { 1000 } else { -1000 };
        let mut pcm = Vec::new();
        g711::pcmu_decode(packet.payload, &mut pcm);
        assert!(
            pcm.iter().all(|&s| (s - level).abs() < 40),
            "packet {i} carries its prompt"
        );
    }
    assert_eq!(p.poll_event(), Some(PlaybackEvent::Finished { id: 7 }));
    assert_eq!(p.poll_event(), None);
    assert!(!p.is_playing());
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn queued_tracks_follow_back_to_back_and_silence_advances_the_timestamp() {
    let t0 = Instant::now();
    let mut p = player(Codec::Pcma);
    p.play(t0, 1, vec![tone(2, 500)]).expect("8 kHz");
    p.play(t0, 2, vec![tone(1, 500)]).expect("8 kHz");
    let first = drain(&mut p, t0, 100 * MS);
    assert_eq!(first.len(), 3);
    let ts: Vec<u32> = first
        .iter()
        .map(|(_, b)| RtpPacket::parse(b).expect("rtp").header.timestamp)
        .collect();
    assert_eq!(ts, [5000, 5160, 5320], "no gap between queued tracks");
    assert_eq!(p.poll_event(), Some(PlaybackEvent::Finished { id: 1 }));
    assert_eq!(p.poll_event(), Some(PlaybackEvent::Finished { id: 2 }));

    // One second of silence later, the next track's first packet says so.
    let t1 = t0 + 60 * MS + Duration::from_secs(1);
    p.play(t1, 3, vec![tone(1, 500)]).expect("8 kHz");
    let again = drain(&mut p, t1, 40 * MS);
    let h = RtpPacket::parse(&again[0].1).expect("rtp").header;
    assert!(h.marker, "talkspurt starts with the marker");
    assert_eq!(h.seq, Seq(103), "sequence numbers stay continuous");
    assert_eq!(
        h.timestamp,
        5480 + 8000,
        "timestamp advanced over the silence"
    );
}

#[test]
fn stop_ends_every_track_with_stopped_and_nothing_more_is_sent() {
    let t0 = Instant::now();
    let mut p = player(Codec::Pcmu);
    p.play(t0, 1, vec![tone(50, 0)]).expect("8 kHz");
    p.play(t0, 2, vec![tone(50, 0)]).expect("8 kHz");
    assert_eq!(drain(&mut p, t0, 30 * MS).len(), 2);
    p.stop();
    assert_eq!(p.poll_event(), Some(PlaybackEvent::Stopped { id: 1 }));
    assert_eq!(p.poll_event(), Some(PlaybackEvent::Stopped { id: 2 }));
    assert_eq!(p.poll_event(), None);
    assert!(drain(&mut p, t0 + 40 * MS, 200 * MS).is_empty());
}

#[test]
fn a_late_driver_catches_up_then_skips_a_long_stall() {
    let t0 = Instant::now();
    let mut p = player(Codec::Pcmu);
    p.play(t0, 1, vec![tone(100, 0)]).expect("8 kHz");
    let mut buf = Vec::new();
    // 60 ms late: three overdue packets come one call at a time.
    let late = t0 + 60 * MS;
    let mut n = 0;
    while p.poll_packet(late, &mut buf).expect("encodes") {
        n += 1;
    }
    assert_eq!(n, 4, "slots 0, 20, 40 and 60 ms are all due");
    // A stall of a second: no burst of 50 packets, the schedule jumps ahead.
    let stalled = late + Duration::from_secs(1);
    let mut burst = 0;
    while p.poll_packet(stalled, &mut buf).expect("encodes") {
        burst += 1;
    }
    assert!(
        burst <= 6,
        "skipped ahead instead of bursting {burst} packets"
    );
    let h = RtpPacket::parse(&buf).expect("rtp").header;
    let expected = 160 * ((stalled - t0).as_millis() as u32 / 20);
    assert!(
        h.timestamp.wrapping_sub(5000).abs_diff(expected) <= 160 * 6,
        "timestamp follows the clock across the skip"
    );
}

#[test]
fn prompts_at_another_rate_are_refused() {
    let t0 = Instant::now();
    let mut p = player(Codec::Pcmu);
    let wide = Prompt::from_samples(SampleRate::Hz16000, vec![0; 320]);
    assert_eq!(
        p.play(t0, 1, vec![wide]),
        Err(PlaybackError::RateMismatch {
            prompt: 16_000,
            codec: 8000
        })
    );
    assert!(!p.is_playing());
}

#[test]
fn an_empty_track_finishes_without_sending() {
    let t0 = Instant::now();
    let mut p = player(Codec::Pcmu);
    p.play(t0, 9, Vec::new()).expect("nothing to convert");
    p.play(t0, 10, vec![tone(1, 0)]).expect("8 kHz");
    let packets = drain(&mut p, t0, 60 * MS);
    assert_eq!(packets.len(), 1);
    assert_eq!(p.poll_event(), Some(PlaybackEvent::Finished { id: 9 }));
    assert_eq!(p.poll_event(), Some(PlaybackEvent::Finished { id: 10 }));
}

#[cfg(feature = "opus")]
#[test]
fn opus_legs_get_opus_packets_from_48_khz_prompts() {
    let t0 = Instant::now();
    let mut p = player(Codec::Opus);
    let prompt = Prompt::from_samples(SampleRate::Hz48000, vec![0; 960 * 3]);
    p.play(t0, 1, vec![prompt]).expect("48 kHz prompt");
    let packets = drain(&mut p, t0, 100 * MS);
    assert_eq!(packets.len(), 3);
    let h = RtpPacket::parse(&packets[1].1).expect("rtp").header;
    assert_eq!(h.timestamp, 5000 + 960, "Opus clock is 48 kHz");
}
