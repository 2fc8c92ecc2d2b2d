#![allow(
    clippy::disallowed_methods,
    reason = "each test takes one Instant as an anchor; every other time is arithmetic on it"
)]

use super::*;
use crate::codec::{Decoder, SampleRate, g711};
use crate::mix::tone::amplitude;
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

/// Frame `index` of a `freq` Hz sine of amplitude `amp` at 16 kHz, the feed's rate.
fn wideband_tone(freq: f64, amp: f64, index: usize) -> Vec<i16> {
    let start = index * AUDIO_FRAME;
    (start..start + AUDIO_FRAME)
        .map(|n| (amp * (std::f64::consts::TAU * freq * n as f64 / 16_000.0).sin()).round() as i16)
        .collect()
}

#[test]
fn a_live_track_resamples_a_wideband_tone_into_a_pcmu_tone_across_frames() {
    let t0 = Instant::now();
    let mut p = player(Codec::Pcmu);
    let feed = LiveFeed::new();
    p.play_live(t0, 3, feed.clone());
    let mut buf = Vec::new();
    let mut packets = Vec::new();
    for ms in 0..400u32 {
        let now = t0 + MS * ms;
        if ms % 20 == 0 {
            let index = (ms / 20) as usize;
            feed.push(&wideband_tone(1_000.0, 8_000.0, index))
                .expect("a whole frame");
        }
        while p.poll_packet(now, &mut buf).expect("g711 encodes") {
            packets.push((now, buf.clone()));
        }
    }
    assert_eq!(packets.len(), 20, "one packet per 20 ms");
    let mut decoder = Decoder::new(Codec::Pcmu).expect("g711");
    let mut pcm = Vec::new();
    for (i, (at, bytes)) in packets.iter().enumerate() {
        assert_eq!(*at, t0 + 20 * MS * i as u32, "packet {i} on its 20 ms slot");
        let packet = RtpPacket::parse(bytes).expect("valid RTP");
        assert_eq!(packet.header.seq, Seq(100 + i as u16));
        assert_eq!(packet.header.timestamp, 5000 + 160 * i as u32);
        assert_eq!(packet.header.marker, i == 0, "one continuous stream");
        let n = decoder.decode(packet.payload, &mut pcm).expect("pcmu");
        assert_eq!(n, 160, "20 ms at 8 kHz");
    }
    assert!(feed.is_empty(), "every pushed frame was played");
    // Past the filter's start-up, windows that straddle frame boundaries: a resampler
    // restarted per frame would smear energy across the band at every boundary.
    for start in [250, 410, 1_130, 2_000] {
        let window = &pcm[start..start + 800];
        let wanted = amplitude(window, 1_000.0);
        assert!(
            (wanted - 8_000.0).abs() < 400.0,
            "1 kHz arrives at its level: {wanted}"
        );
        for other in [500.0, 2_000.0, 2_500.0, 3_000.0] {
            let stray = amplitude(window, other);
            assert!(
                stray < wanted / 100.0,
                "{other} Hz at {stray} beside {wanted} from sample {start}"
            );
        }
    }
}

#[test]
fn an_empty_feed_sends_silence_packets_while_the_live_track_plays() {
    let t0 = Instant::now();
    let mut p = player(Codec::Pcmu);
    p.play_live(t0, 4, LiveFeed::new());
    assert!(p.is_playing());
    let packets = drain(&mut p, t0, 100 * MS);
    assert_eq!(packets.len(), 6, "slots 0 to 100 ms");
    for (i, (at, bytes)) in packets.iter().enumerate() {
        assert_eq!(*at, t0 + 20 * MS * i as u32);
        let packet = RtpPacket::parse(bytes).expect("valid RTP");
        assert_eq!(packet.header.seq, Seq(100 + i as u16), "consecutive");
        assert_eq!(packet.header.timestamp, 5000 + 160 * i as u32, "+160 each");
        assert_eq!(packet.header.marker, i == 0);
        let mut pcm = Vec::new();
        g711::pcmu_decode(packet.payload, &mut pcm);
        assert_eq!(pcm, [0; 160], "silence");
    }
    assert_eq!(
        p.poll_event(),
        None,
        "a live track never finishes by itself"
    );
    assert!(p.is_playing());
}

#[test]
fn a_live_feed_refuses_wrong_lengths_and_drops_its_oldest_frame_when_full() {
    let feed = LiveFeed::new();
    assert_eq!(
        feed.push(&[0; AUDIO_FRAME - 1]),
        Err(LiveFeedError::FrameLength {
            expected: AUDIO_FRAME,
            got: AUDIO_FRAME - 1
        })
    );
    assert_eq!(
        feed.push(&[0; 160]),
        Err(LiveFeedError::FrameLength {
            expected: AUDIO_FRAME,
            got: 160
        })
    );
    assert!(feed.is_empty(), "nothing queued on error");
    let producer = feed.clone();
    for level in 0..10 {
        producer.push(&[level; AUDIO_FRAME]).expect("a whole frame");
    }
    assert_eq!(feed.len(), LIVE_FEED_FRAMES, "a clone is the same queue");
    assert_eq!(feed.dropped(), 2);
    let mut frame = [0; AUDIO_FRAME];
    assert!(feed.pop_into(&mut frame));
    assert_eq!(frame, [2; AUDIO_FRAME], "the two oldest went");
    while feed.pop_into(&mut frame) {}
    assert_eq!(frame, [9; AUDIO_FRAME]);
    assert!(feed.is_empty());
    assert_eq!(feed.dropped(), 2);
}

#[test]
fn a_prompt_queued_first_plays_first_then_stop_ends_the_live_track() {
    let t0 = Instant::now();
    let mut p = player(Codec::Pcmu);
    let feed = LiveFeed::new();
    p.play(t0, 1, vec![tone(2, 1000)]).expect("8 kHz");
    p.play_live(t0, 2, feed.clone());
    for _ in 0..LIVE_FEED_FRAMES {
        feed.push(&[-2000; AUDIO_FRAME]).expect("a whole frame");
    }
    let packets = drain(&mut p, t0, 110 * MS);
    assert_eq!(packets.len(), 6);
    let mut levels = Vec::new();
    for (i, (_, bytes)) in packets.iter().enumerate() {
        let packet = RtpPacket::parse(bytes).expect("valid RTP");
        assert_eq!(packet.header.seq, Seq(100 + i as u16));
        assert_eq!(
            packet.header.timestamp,
            5000 + 160 * i as u32,
            "no gap between the tracks"
        );
        assert_eq!(
            packet.header.marker,
            i == 0,
            "marker on the first packet only"
        );
        let mut pcm = Vec::new();
        g711::pcmu_decode(packet.payload, &mut pcm);
        levels.push(pcm[120]);
    }
    assert!(
        levels[..2].iter().all(|&l| (l - 1000).abs() < 40),
        "{levels:?}"
    );
    assert!(
        levels[2..].iter().all(|&l| (l + 2000).abs() < 80),
        "{levels:?}"
    );
    assert_eq!(p.poll_event(), Some(PlaybackEvent::Finished { id: 1 }));
    assert_eq!(p.poll_event(), None);
    assert_eq!(
        feed.len(),
        LIVE_FEED_FRAMES - 4,
        "one frame per live packet"
    );

    p.stop();
    assert_eq!(p.poll_event(), Some(PlaybackEvent::Stopped { id: 2 }));
    assert_eq!(p.poll_event(), None);
    assert!(!p.is_playing());
    assert!(drain(&mut p, t0 + 120 * MS, 100 * MS).is_empty());
}

#[test]
fn a_g722_live_track_takes_the_feed_without_resampling() {
    let t0 = Instant::now();
    let mut p = player(Codec::G722);
    let feed = LiveFeed::new();
    p.play_live(t0, 5, feed.clone());
    let mut decoder = Decoder::new(Codec::G722).expect("g722");
    let mut pcm = Vec::new();
    let mut buf = Vec::new();
    for i in 0..10 {
        feed.push(&wideband_tone(1_000.0, 8_000.0, i))
            .expect("a whole frame");
        assert!(
            p.poll_packet(t0 + 20 * MS * i as u32, &mut buf)
                .expect("encodes")
        );
        let packet = RtpPacket::parse(&buf).expect("valid RTP");
        assert_eq!(packet.payload.len(), 160, "64 kbit/s");
        decoder.decode(packet.payload, &mut pcm).expect("g722");
    }
    assert_eq!(pcm.len(), 10 * AUDIO_FRAME, "16 kHz in, 16 kHz out");
    let window = &pcm[4 * AUDIO_FRAME..];
    // `amplitude` assumes 8 kHz: at 16 kHz each frequency reads as half of itself.
    let wanted = amplitude(window, 500.0);
    assert!(wanted > 6_000.0, "1 kHz arrives: {wanted}");
    assert!(amplitude(window, 1_000.0) < wanted / 30.0, "not at 2 kHz");
}
