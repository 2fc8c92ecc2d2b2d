//! Stream rewriting across source changes, on a simulated clock.

#![allow(
    clippy::disallowed_methods,
    reason = "tests take one Instant as an anchor; every other time is arithmetic on it"
)]

use std::time::{Duration, Instant};

use super::*;
use crate::rtp::id::Pt;

const LEG: Ssrc = Ssrc(0x0A0A_0A0A);
const PHONE_A: Ssrc = Ssrc(0x1111_1111);
const PHONE_B: Ssrc = Ssrc(0x2222_2222);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn header(ssrc: Ssrc, seq: u16, timestamp: u32) -> RtpHeader {
    RtpHeader::new(Pt::PCMU, Seq(seq), timestamp, ssrc)
}

fn rewriter() -> StreamRewriter {
    StreamRewriter::new(LEG, 8000, Seq(1000), 50_000)
}

#[test]
fn first_packet_anchors_and_same_source_keeps_spacing() {
    let t0 = Instant::now();
    let mut rw = rewriter();
    let first = rw.rewrite(t0, &header(PHONE_A, 7, 123_456));
    assert_eq!(
        first,
        Rewrite {
            ssrc: LEG,
            seq: Seq(1000),
            timestamp: 50_000,
            marker: true
        }
    );
    // A gap of one packet and 320 ticks passes through unchanged.
    let next = rw.rewrite(t0 + ms(40), &header(PHONE_A, 9, 123_456 + 320));
    assert_eq!(
        (next.seq, next.timestamp, next.marker),
        (Seq(1002), 50_320, false)
    );
    // The source's own marker bit is kept.
    let mut talkspurt = header(PHONE_A, 10, 123_456 + 480);
    talkspurt.marker = true;
    assert!(rw.rewrite(t0 + ms(60), &talkspurt).marker);
}

#[test]
fn new_ssrc_continues_seq_and_jumps_timestamp_by_elapsed_time() {
    let t0 = Instant::now();
    let mut rw = rewriter();
    for i in 0..5u16 {
        rw.rewrite(
            t0 + ms(20) * u32::from(i),
            &header(PHONE_A, 100 + i, u32::from(i) * 160),
        );
    }
    // Last A packet: seq 1004, ts 50 640, at 80 ms. After a re-INVITE phone B's first
    // packet arrives 3 s later (unrelated seq and timestamp).
    let b0 = rw.rewrite(t0 + ms(3080), &header(PHONE_B, 40_000, 9_999_999));
    assert_eq!(b0.ssrc, LEG);
    assert_eq!(b0.seq, Seq(1005));
    assert_eq!(b0.timestamp, 50_640 + 3 * 8000);
    assert!(b0.marker);
    let b1 = rw.rewrite(t0 + ms(3100), &header(PHONE_B, 40_001, 9_999_999 + 160));
    assert_eq!(
        (b1.seq, b1.timestamp, b1.marker),
        (Seq(1006), 50_640 + 24_160, false)
    );
}

#[test]
fn quick_switch_never_overlaps_the_previous_packet() {
    let t0 = Instant::now();
    let mut rw = rewriter();
    rw.rewrite(t0, &header(PHONE_A, 1, 0));
    let last_a = rw.rewrite(t0 + ms(20), &header(PHONE_A, 2, 160));
    // Prompt packets start 5 ms later: elapsed is 40 ticks, but the last A packet
    // holds 160 ticks of audio, so the prompt starts after it.
    let prompt = rw.rewrite(t0 + ms(25), &header(Ssrc(0x5050), 0, 0));
    assert_eq!(prompt.seq, last_a.seq.next());
    assert_eq!(prompt.timestamp, last_a.timestamp + 160);
}

#[test]
fn switching_back_re_anchors() {
    let t0 = Instant::now();
    let mut rw = rewriter();
    rw.rewrite(t0, &header(PHONE_A, 1, 0));
    rw.rewrite(t0 + ms(20), &header(PHONE_B, 500, 77));
    let back = rw.rewrite(t0 + ms(1020), &header(PHONE_A, 51, 8000));
    assert_eq!(back.seq, Seq(1002));
    assert_eq!(back.timestamp, 50_000 + 160 + 8000);
    assert!(back.marker);
}

#[test]
fn marked_change_re_anchors_same_ssrc() {
    let t0 = Instant::now();
    let mut rw = rewriter();
    rw.rewrite(t0, &header(PHONE_A, 1, 0));
    rw.mark_source_change();
    // Same SSRC, restarted counters.
    let restarted = rw.rewrite(t0 + ms(20), &header(PHONE_A, 60_000, 1_000_000));
    assert_eq!((restarted.seq, restarted.timestamp), (Seq(1001), 50_160));
    assert!(restarted.marker);
    let next = rw.rewrite(t0 + ms(40), &header(PHONE_A, 60_001, 1_000_160));
    assert_eq!(
        (next.seq, next.timestamp, next.marker),
        (Seq(1002), 50_320, false)
    );
}

#[test]
fn reordered_input_keeps_order_and_does_not_move_the_anchor() {
    let t0 = Instant::now();
    let mut rw = rewriter();
    rw.rewrite(t0, &header(PHONE_A, 10, 0));
    rw.rewrite(t0 + ms(20), &header(PHONE_A, 12, 320));
    let late = rw.rewrite(t0 + ms(25), &header(PHONE_A, 11, 160));
    assert_eq!((late.seq, late.timestamp), (Seq(1001), 50_160));
    assert_eq!(rw.newest(), Some((Seq(1002), 50_320)));
    // Next source change counts from seq 1002 / its arrival at 20 ms.
    let b = rw.rewrite(t0 + ms(40), &header(PHONE_B, 0, 0));
    assert_eq!((b.seq, b.timestamp), (Seq(1003), 50_480));
}

#[test]
fn seq_and_timestamp_wrap() {
    let t0 = Instant::now();
    let mut rw = StreamRewriter::new(LEG, 8000, Seq(65_535), u32::MAX - 100);
    rw.rewrite(t0, &header(PHONE_A, 1, 0));
    let next = rw.rewrite(t0 + ms(20), &header(PHONE_A, 2, 160));
    assert_eq!((next.seq, next.timestamp), (Seq(0), 59));
    let b = rw.rewrite(t0 + ms(40), &header(PHONE_B, 9, 9));
    assert_eq!((b.seq, b.timestamp), (Seq(1), 219));
}

#[test]
fn rewrites_bytes_in_place_and_keeps_the_rest() {
    let t0 = Instant::now();
    let mut rw = rewriter();
    let mut buf = vec![
        0x81, 0x08, 0x00, 0x05, 0, 0, 0x01, 0x40, 0x11, 0x11, 0x11, 0x11,
    ];
    buf.extend_from_slice(&[0xCC, 0xCC, 0xCC, 0xCC]); // one CSRC
    buf.extend_from_slice(&[0xD5; 160]); // PCMA payload
    let original = buf.clone();
    let written = rw.rewrite_in_place(t0, &mut buf).expect("valid packet");
    let parsed = RtpPacket::parse(&buf).expect("still valid");
    assert_eq!(parsed.header.ssrc, LEG);
    assert_eq!(parsed.header.seq, written.seq);
    assert_eq!(parsed.header.timestamp, 50_000);
    assert!(parsed.header.marker);
    assert_eq!(parsed.header.pt, Pt::PCMA);
    assert_eq!(parsed.header.csrcs.as_slice(), &[Ssrc(0xCCCC_CCCC)]);
    assert_eq!(&buf[12..], &original[12..]);

    let mut junk = [0x40u8; 20];
    assert_eq!(
        rw.rewrite_in_place(t0, &mut junk),
        Err(RtpError::BadVersion(1))
    );
    assert_eq!(junk, [0x40u8; 20]);
    assert_eq!(rw.newest(), Some((Seq(1000), 50_000)));
}
