//! Cost per packet of the RTP fast path: parse a 172-byte G.711 packet (12-byte header,
//! 160 bytes of payload), then rewrite its SSRC, seq, timestamp and marker in place for
//! the outgoing leg, as the B2BUA does for every relayed packet.
//!
//! `cargo bench -p switchyard-media --bench rtp_parse`; `RTP_BENCH_PACKETS` overrides the
//! packet count (default 10 000 000). The input source changes every 1000 packets, so the
//! rewriter's re-anchoring path runs too. Prints ns/packet for parse alone and for
//! parse + rewrite, by the wall clock and by this thread's CPU time (from
//! `/proc/thread-self/stat`, Linux only, 10 ms resolution): on a shared machine the CPU
//! figure is the one to quote.

#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures by the wall clock"
)]

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use media::rtp::{Pt, RtpHeader, RtpPacket, Seq, Ssrc, StreamRewriter};

const PACKET_LEN: usize = 172;
const PACKET_INTERVAL: Duration = Duration::from_millis(20);
const PACKETS_PER_SOURCE: u32 = 1000;

fn main() {
    let packets: u32 = std::env::var("RTP_BENCH_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let template = template_packet();

    report("parse          ", packets, || {
        parse_only(&template, packets)
    });
    report("parse + rewrite", packets, || {
        parse_and_rewrite(&template, packets)
    });
}

/// Runs `work` over `packets` packets and prints its wall and CPU ns/packet.
fn report(name: &str, packets: u32, work: impl FnOnce()) {
    let cpu_start = common::thread_cpu_seconds();
    let start = Instant::now();
    work();
    let wall = start.elapsed().as_secs_f64();
    let cpu = common::thread_cpu_seconds() - cpu_start;
    let per_packet = |seconds: f64| seconds * 1e9 / f64::from(packets);
    println!(
        "rtp_parse: {name} {packets} packets: {:.1} ns/packet wall, {:.1} ns/packet CPU",
        per_packet(wall),
        per_packet(cpu)
    );
}

fn template_packet() -> [u8; PACKET_LEN] {
    let header = RtpHeader::new(Pt::PCMU, Seq(0), 0, Ssrc(0));
    let payload = [0xFFu8; PACKET_LEN - 12];
    let packet = RtpPacket {
        header,
        extension: None,
        payload: &payload,
        padding: 0,
    };
    let mut buf = [0u8; PACKET_LEN];
    let written = packet
        .write(&mut buf)
        .expect("172 bytes hold a 172-byte packet");
    assert_eq!(written, PACKET_LEN);
    buf
}

/// Stamps the input fields of packet `i` as its source would have sent them.
fn stamp(buf: &mut [u8; PACKET_LEN], i: u32) {
    let seq = (i as u16).to_be_bytes(); // the 16-bit counter wraps
    buf[2..4].copy_from_slice(&seq);
    buf[4..8].copy_from_slice(&i.wrapping_mul(160).to_be_bytes());
    buf[8..12].copy_from_slice(&(i / PACKETS_PER_SOURCE).to_be_bytes());
}

fn parse_only(template: &[u8; PACKET_LEN], packets: u32) {
    let mut buf = *template;
    let mut payload_bytes = 0usize;
    for i in 0..packets {
        stamp(&mut buf, i);
        if let Ok(packet) = RtpPacket::parse(black_box(&buf)) {
            payload_bytes += packet.payload.len();
            black_box(&packet);
        }
    }
    assert_eq!(payload_bytes, packets as usize * 160);
}

fn parse_and_rewrite(template: &[u8; PACKET_LEN], packets: u32) {
    let mut buf = *template;
    let mut rewriter = StreamRewriter::new(Ssrc(0xB2B0_A0A0), 8000, Seq(4242), 0x1234_5678);
    let mut now = Instant::now();
    let mut last_seq = Seq(0);
    for i in 0..packets {
        stamp(&mut buf, i);
        if let Ok(packet) = RtpPacket::parse(black_box(&buf)) {
            let rewrite = rewriter.rewrite(now, &packet.header);
            if rewrite.apply(&mut buf).is_ok() {
                last_seq = rewrite.seq;
            }
        }
        black_box(&buf);
        now += PACKET_INTERVAL;
    }
    // Every packet went out with a continuous sequence number.
    assert_eq!(last_seq, Seq(4242).wrapping_add((packets - 1) as u16));
}
