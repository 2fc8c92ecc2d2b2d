#![allow(
    clippy::disallowed_methods,
    reason = "each test takes one Instant as an anchor; every other time is arithmetic on it"
)]

use std::time::Duration;

use super::*;
use crate::codec::{SampleRate, g711};

const MS: Duration = Duration::from_millis(1);

const PCMU: LegCodec = LegCodec {
    codec: Codec::Pcmu,
    pt: 0,
    event_pt: Some(101),
};
const PCMA: LegCodec = LegCodec {
    codec: Codec::Pcma,
    pt: 8,
    event_pt: Some(96),
};

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let header = RtpHeader::new(Pt::new(pt).expect("pt"), Seq(seq), ts, Ssrc(ssrc));
    let mut buf = vec![0u8; 12];
    header.write(None, &mut buf).expect("fits");
    buf.extend_from_slice(payload);
    buf
}

fn forward(e: &mut Egress, now: Instant, mut packet: Vec<u8>) -> Result<Vec<Vec<u8>>, DropReason> {
    let mut sent = Vec::new();
    e.forward(now, &mut packet, |p| sent.push(p.to_vec()))?;
    Ok(sent)
}

fn header(bytes: &[u8]) -> RtpHeader {
    RtpPacket::parse(bytes).expect("valid rtp").header
}

#[test]
fn without_playback_or_transcoding_packets_pass_untouched() {
    let t0 = Instant::now();
    let mut e = Egress::new(42);
    e.set_codec(PCMU);
    assert!(e.is_pass_through());
    let packet = rtp(0, 7, 160, 99, &[0xFF; 160]);
    assert_eq!(forward(&mut e, t0, packet.clone()), Ok(vec![packet]));
}

#[test]
fn a_prompt_holds_the_leg_then_relayed_audio_continues_the_same_stream() {
    let t0 = Instant::now();
    let mut e = Egress::new(0x0123_4567_89AB_CDEF);
    e.set_codec(PCMU);
    let prompt = Prompt::from_samples(SampleRate::Hz8000, vec![800; 160 * 3]);
    e.play(t0, 5, vec![prompt]).expect("codec known");
    let mut played = Vec::new();
    for ms in 0..80 {
        e.generate(t0 + MS * ms, |p| played.push(p.to_vec()));
    }
    assert_eq!(played.len(), 3);
    // While the prompt played, the other side's audio was held back.
    assert_eq!(
        forward(&mut Egress::new(1), t0, rtp(0, 1, 0, 9, &[0; 160])).map(|v| v.len()),
        Ok(1),
        "a fresh egress passes through"
    );
    assert_eq!(e.poll_event(), Some(PlaybackEvent::Finished { id: 5 }));

    let relayed = forward(&mut e, t0 + 80 * MS, rtp(0, 1000, 77_000, 9, &[0xFF; 160]))
        .expect("relayed after the prompt");
    let last = header(&played[2]);
    let next = header(&relayed[0]);
    assert_eq!(next.ssrc, last.ssrc, "one SSRC toward the peer");
    assert_eq!(next.seq, last.seq.next(), "no sequence gap");
    assert!(next.marker, "the source switch is marked");
    let gap = next.timestamp.wrapping_sub(last.timestamp);
    assert!(
        (160..=8 * 80).contains(&gap),
        "timestamp follows the clock, got {gap}"
    );
}

#[test]
fn relayed_audio_is_dropped_while_a_prompt_plays() {
    let t0 = Instant::now();
    let mut e = Egress::new(3);
    e.set_codec(PCMU);
    let prompt = Prompt::from_samples(SampleRate::Hz8000, vec![0; 160 * 10]);
    e.play(t0, 1, vec![prompt]).expect("codec known");
    assert_eq!(
        forward(&mut e, t0, rtp(0, 1, 0, 9, &[0; 160])),
        Err(DropReason::Playing)
    );
    e.stop_playback();
    assert_eq!(e.poll_event(), Some(PlaybackEvent::Stopped { id: 1 }));
    assert!(forward(&mut e, t0, rtp(0, 2, 160, 9, &[0; 160])).is_ok());
}

#[test]
fn playing_needs_a_negotiated_codec() {
    let mut e = Egress::new(3);
    let prompt = Prompt::from_samples(SampleRate::Hz8000, vec![0; 160]);
    assert_eq!(
        e.play(Instant::now(), 1, vec![prompt]),
        Err(PlaybackError::NoCodec)
    );
}

#[test]
fn pcmu_from_the_other_side_reaches_a_pcma_peer_as_pcma() {
    let t0 = Instant::now();
    let mut e = Egress::new(11);
    e.set_codec(PCMA);
    e.transcode_from(Some(PCMU)).expect("g711 both ways");
    let mut payload = Vec::new();
    g711::pcmu_encode(&[1200; 160], &mut payload);
    let mut out = Vec::new();
    for i in 0..5u16 {
        let sent = forward(
            &mut e,
            t0 + MS * 20 * u32::from(i),
            rtp(0, i, 160 * u32::from(i), 9, &payload),
        )
        .expect("transcoded");
        out.extend(sent);
    }
    assert_eq!(out.len(), 5, "one 20 ms payload out per 20 ms payload in");
    let h = header(&out[4]);
    assert_eq!(h.pt.get(), 8);
    let body = RtpPacket::parse(&out[4]).expect("rtp").payload.to_vec();
    let mut pcm = Vec::new();
    g711::pcma_decode(&body, &mut pcm);
    assert!(
        pcm.iter().all(|&s| (s - 1200).abs() < 80),
        "the level survives"
    );
    let seqs: Vec<u16> = out.iter().map(|p| header(p).seq.0).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
}

#[test]
fn telephone_events_change_payload_type_only_and_strangers_are_dropped() {
    let t0 = Instant::now();
    let mut e = Egress::new(11);
    e.set_codec(PCMA);
    e.transcode_from(Some(PCMU)).expect("g711 both ways");
    let event = [5, 0x8A, 0x00, 0xA0];
    let sent = forward(&mut e, t0, rtp(101, 1, 0, 9, &event)).expect("event passes");
    assert_eq!(header(&sent[0]).pt.get(), 96);
    assert_eq!(RtpPacket::parse(&sent[0]).expect("rtp").payload, &event);
    assert_eq!(
        forward(&mut e, t0, rtp(13, 2, 0, 9, &[0])),
        Err(DropReason::Undecodable),
        "comfort noise is not transcoded"
    );
    assert_eq!(
        forward(&mut e, t0, vec![0x80]),
        Err(DropReason::Undecodable)
    );
}

#[test]
fn same_codec_on_both_sides_needs_no_transcoder() {
    let mut e = Egress::new(11);
    e.set_codec(PCMU);
    e.transcode_from(Some(PCMU)).expect("nothing to build");
    assert!(e.is_pass_through());
}

#[test]
fn a_leg_the_node_sources_gets_sender_reports_with_its_counts() {
    let t0 = Instant::now();
    let mut e = Egress::new(0xABCD);
    e.set_codec(PCMU);
    assert!(
        !e.wants_report(t0 + Duration::from_secs(60)),
        "nothing sent yet"
    );
    let prompt = Prompt::from_samples(SampleRate::Hz8000, vec![100; 160 * 3]);
    e.play(t0, 1, vec![prompt]).expect("codec known");
    let mut sent = Vec::new();
    for ms in 0..80 {
        e.generate(t0 + MS * ms, |p| sent.push(p.to_vec()));
    }
    assert_eq!(sent.len(), 3);
    assert!(
        !e.wants_report(t0 + 500 * MS),
        "the first report waits a second"
    );
    let at = t0 + Duration::from_secs(1);
    assert!(e.wants_report(at));
    let wall = crate::rtp::NtpTime::from_unix(Duration::from_secs(1_800_000_000));
    let mut out = Vec::new();
    assert!(e.poll_report(at, wall, None, &mut out));
    let packets = crate::rtp::parse_compound(&out).expect("valid RTCP");
    let crate::rtp::RtcpPacket::SenderReport(sr) = &packets[0] else {
        panic!("a sender report first: {packets:?}");
    };
    assert_eq!(sr.ssrc, header(&sent[0]).ssrc, "the stream's own SSRC");
    assert_eq!(sr.info.packet_count, 3);
    assert_eq!(sr.info.octet_count, 480);
    assert_eq!(sr.info.ntp, wall);
    let last = header(&sent[2]).timestamp;
    let expected = last.wrapping_add(8000 - 8 * 40);
    assert!(
        sr.info.rtp_timestamp.abs_diff(expected) <= 8,
        "RTP time of the report follows the clock: {} vs {expected}",
        sr.info.rtp_timestamp
    );
    assert!(matches!(
        packets.get(1),
        Some(crate::rtp::RtcpPacket::SourceDescription(_))
    ));
    assert!(!e.wants_report(at + Duration::from_secs(4)));
    assert!(e.wants_report(at + Duration::from_secs(5)));
}

#[test]
fn a_pass_through_leg_never_reports_for_the_phones() {
    let t0 = Instant::now();
    let mut e = Egress::new(1);
    e.set_codec(PCMU);
    let _ = forward(&mut e, t0, rtp(0, 1, 0, 9, &[0; 160]));
    assert!(!e.wants_report(t0 + Duration::from_secs(30)));
}

#[test]
fn a_node_sourced_packet_continues_the_stream_the_peer_received_untouched() {
    let t0 = Instant::now();
    let mut e = Egress::new(1);
    e.set_codec(PCMU);
    let relayed = forward(&mut e, t0, rtp(0, 500, 80_000, 9, &[0; 160])).expect("pass through");
    assert_eq!(header(&relayed[0]).seq, Seq(500), "untouched");
    let point = StreamPoint {
        ssrc: Ssrc(9),
        seq: Seq(500),
        timestamp: 80_000,
        at: t0,
    };
    let mut sent = Vec::new();
    let mut own = rtp(0, 7, 3, 0x5057_0003, &[0xff; 160]);
    e.send_own(t0 + 5 * MS, &mut own, Some(point), |p| {
        sent.push(p.to_vec())
    })
    .expect("sent");
    let first = header(&sent[0]);
    assert_eq!((first.ssrc, first.seq), (Ssrc(9), Seq(501)));
    assert_eq!(
        first.timestamp, 80_160,
        "at least one frame on, never overlapping"
    );
    // Later the relayed source comes back: same SSRC, the next sequence number.
    let back = forward(&mut e, t0 + 60 * MS, rtp(0, 503, 80_480, 9, &[0; 160])).expect("sent");
    let back = header(&back[0]);
    assert_eq!((back.ssrc, back.seq), (Ssrc(9), Seq(502)));
    assert!(back.marker, "a source change is marked");
    assert_eq!(back.timestamp, 80_160 + 55 * 8, "follows the clock");
}

#[test]
fn a_prompt_after_relayed_audio_continues_the_stream_the_peer_received() {
    let t0 = Instant::now();
    let mut e = Egress::new(0x0123_4567_89AB_CDEF);
    e.set_codec(PCMU);
    for n in 0..3_u16 {
        let packet = rtp(0, 40_000 + n, 9_000 + 160 * u32::from(n), 77, &[0xFF; 160]);
        forward(&mut e, t0 + 20 * MS * u32::from(n), packet).expect("pass through");
    }
    let prompt = Prompt::from_samples(SampleRate::Hz8000, vec![800; 160 * 2]);
    e.play(t0 + 50 * MS, 1, vec![prompt]).expect("codec known");
    let mut played = Vec::new();
    for ms in 50..100 {
        e.generate(t0 + MS * ms, |p| played.push(p.to_vec()));
    }
    let first = header(&played[0]);
    assert_eq!(
        (first.ssrc, first.seq, first.timestamp),
        (Ssrc(77), Seq(40_003), 9_000 + 160 * 3),
        "the prompt goes on where the relayed stream stopped"
    );
    assert!(first.marker, "the source switch is marked");
    assert_eq!(header(&played[1]).seq, Seq(40_004));
}

#[test]
fn a_live_feed_holds_the_leg_until_stopped() {
    let t0 = Instant::now();
    let mut e = Egress::new(0x0123_4567_89AB_CDEF);
    assert_eq!(
        e.play_live(t0, 1, LiveFeed::new()),
        Err(PlaybackError::NoCodec),
        "nothing to play in yet"
    );
    e.set_codec(PCMU);
    let feed = LiveFeed::new();
    e.play_live(t0, 2, feed.clone()).expect("codec known");
    feed.push(&[1_000; crate::AUDIO_FRAME])
        .expect("a whole frame");
    let mut sent = Vec::new();
    for ms in 0..=100 {
        e.generate(t0 + MS * ms, |p| sent.push(p.to_vec()));
    }
    assert_eq!(
        sent.len(),
        6,
        "one packet per 20 ms, silence once the feed is dry"
    );
    let seqs: Vec<u16> = sent.iter().map(|p| header(p).seq.0).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    assert_eq!(e.poll_timeout(), Some(t0 + 120 * MS), "still playing");
    assert_eq!(
        forward(&mut e, t0 + 105 * MS, rtp(0, 1, 0, 9, &[0; 160])),
        Err(DropReason::Playing),
        "the other side is not heard meanwhile"
    );
    assert_eq!(e.poll_event(), None);
    e.stop_playback();
    assert_eq!(e.poll_event(), Some(PlaybackEvent::Stopped { id: 2 }));
    let relayed =
        forward(&mut e, t0 + 110 * MS, rtp(0, 2, 160, 9, &[0; 160])).expect("relayed again");
    let last = header(&sent[5]);
    let next = header(&relayed[0]);
    assert_eq!(next.ssrc, last.ssrc, "one stream toward the peer");
    assert_eq!(next.seq, last.seq.next());
}
