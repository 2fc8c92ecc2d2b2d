//! RTP streams on simulated time: pacing, lateness, reception statistics,
//! demultiplexing and digits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::dtmf::Digit;
use media::rtp::RtpPacket;

use super::*;
use crate::engine::sdp::MediaStart;
use crate::scenario::G711;

fn start(remote: &str, remote_ssrc: Option<u32>, local_ssrc: u32) -> MediaStart {
    MediaStart {
        remote: remote.parse().unwrap(),
        remote_ssrc,
        pt: 0,
        codec: G711::Pcmu,
        event_pt: Some(101),
        local_ssrc,
    }
}

fn audio() -> Arc<EncodedAudio> {
    Arc::new(EncodedAudio::new(&vec![1000i16; 8000]))
}

/// Runs stream `id` from `t0` to `until`, waking exactly when asked.
fn pump(
    streams: &mut Streams,
    id: StreamId,
    t0: Instant,
    until: Instant,
) -> Vec<(Instant, SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = t0;
    while at <= until {
        let now = at;
        let next = streams.send_due(now, id, at, &mut |to, bytes| out.push((now, to, bytes)));
        at = next.expect("the stream is open and the timer current");
    }
    out
}

#[test]
fn paces_one_packet_per_20ms_with_continuous_headers() {
    let t0 = Instant::now();
    let mut streams = Streams::new();
    let id = streams.open(t0, start("127.0.0.1:41000", None, 42), audio(), 7);
    let sent = pump(&mut streams, id, t0, t0 + Duration::from_millis(990));
    assert_eq!(sent.len(), 50);
    for (i, (at, to, bytes)) in sent.iter().enumerate() {
        assert_eq!(*at, t0 + PTIME * i as u32);
        assert_eq!(to.port(), 41000);
        let p = RtpPacket::parse(bytes).unwrap();
        assert_eq!(p.header.ssrc.0, 42);
        assert_eq!(p.payload.len(), 160);
        assert_eq!(p.header.marker, i == 0);
        let first = RtpPacket::parse(&sent[0].2).unwrap().header;
        assert_eq!(p.header.seq.0, first.seq.0.wrapping_add(i as u16));
        assert_eq!(
            p.header.timestamp,
            first.timestamp.wrapping_add(160 * i as u32)
        );
    }
    assert_eq!(streams.lag().max_us, 0);
}

#[test]
fn a_late_wakeup_sends_the_backlog_and_records_lateness() {
    let t0 = Instant::now();
    let mut streams = Streams::new();
    let id = streams.open(t0, start("127.0.0.1:41000", None, 1), audio(), 1);
    let mut n = 0;
    let next = streams.send_due(t0 + Duration::from_millis(65), id, t0, &mut |_, _| n += 1);
    assert_eq!(n, 4, "packets due at 0, 20, 40 and 60 ms");
    assert_eq!(next, Some(t0 + Duration::from_millis(80)));
    let lag = streams.lag();
    assert_eq!((lag.packets, lag.max_us, lag.over_10ms), (4, 65_000, 3));
    // The timer armed before is stale now.
    assert_eq!(
        streams.send_due(t0 + Duration::from_millis(80), id, t0, &mut |_, _| n += 1),
        None
    );
}

#[test]
fn reception_counts_loss_and_scores_mos() {
    let t0 = Instant::now();
    let mut tx = Streams::new();
    let a = tx.open(t0, start("127.0.0.1:41000", None, 500), audio(), 3);
    let sent = pump(
        &mut tx,
        a,
        t0,
        t0 + Duration::from_secs(10) - Duration::from_millis(1),
    );
    assert_eq!(sent.len(), 500);
    let mut rx = Streams::new();
    let from: SocketAddr = "127.0.0.1:41000".parse().unwrap();
    let b = rx.open(t0, start("127.0.0.1:41000", Some(500), 600), audio(), 4);
    for (i, (at, _, bytes)) in sent.iter().enumerate() {
        if i % 20 != 7 {
            rx.receive(*at + Duration::from_millis(1), from, bytes);
        }
    }
    // A packet of a stranger: counted apart, not in the stream.
    rx.receive(
        t0,
        "127.0.0.1:9".parse().unwrap(),
        &sent[0].2.iter().map(|b| b ^ 0xff).collect::<Vec<_>>(),
    );
    assert_eq!(rx.unmatched(), 1);
    let report = rx.close(t0 + Duration::from_secs(10), b).unwrap();
    assert_eq!(report.received, 475);
    let loss = report.loss_percent.unwrap();
    assert!((loss - 5.0).abs() < 0.3, "loss {loss}");
    let mos = report.mos.unwrap();
    assert!(
        mos > 2.0 && mos < 4.0,
        "5 % random loss without concealment scores {mos}"
    );
    assert!(report.jitter_ms.unwrap() < 0.5);
    // Clean reception scores near the G.711 ceiling.
    let c = rx.open(t0, start("127.0.0.1:41000", Some(500), 601), audio(), 5);
    for (at, _, bytes) in &sent {
        rx.receive(*at, from, bytes);
    }
    let clean = rx.close(t0 + Duration::from_secs(10), c).unwrap();
    assert_eq!(clean.loss_percent, Some(0.0));
    assert!(clean.mos.unwrap() > 4.3);
}

#[test]
fn streams_sharing_a_source_are_told_apart_by_ssrc() {
    let t0 = Instant::now();
    let mut rx = Streams::new();
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let one = rx.open(t0, start("127.0.0.1:40000", Some(11), 1), audio(), 1);
    let two = rx.open(t0, start("127.0.0.1:40000", Some(22), 2), audio(), 2);
    let mut tx = Streams::new();
    let s11 = tx.open(t0, start("127.0.0.1:1", None, 11), audio(), 1);
    let s33 = tx.open(t0, start("127.0.0.1:1", None, 33), audio(), 1);
    for (_, _, bytes) in pump(&mut tx, s11, t0, t0 + Duration::from_millis(190)) {
        rx.receive(t0, peer, &bytes);
    }
    for (_, _, bytes) in pump(&mut tx, s33, t0, t0 + Duration::from_millis(190)) {
        rx.receive(t0, peer, &bytes);
    }
    assert_eq!(rx.close(t0, one).unwrap().received, 10);
    assert_eq!(rx.close(t0, two).unwrap().received, 0);
    assert_eq!(
        rx.unmatched(),
        10,
        "an unknown SSRC from an ambiguous source matches nothing"
    );
}

#[test]
fn a_digit_replaces_audio_and_keeps_sequence_numbers_gapless() {
    let t0 = Instant::now();
    let mut tx = Streams::new();
    let id = tx.open(t0, start("127.0.0.1:41000", None, 9), audio(), 1);
    let mut out = Vec::new();
    let first = tx.send_due(t0, id, t0, &mut |_, b| out.push(b)).unwrap();
    let wake = tx.send_digit(
        t0 + Duration::from_millis(5),
        id,
        Digit::from_char('7').unwrap(),
        Duration::from_millis(100),
    );
    assert!(wake.is_ok());
    let mut at = wake.unwrap().unwrap_or(first);
    while at < t0 + Duration::from_millis(400) {
        at = tx.send_due(at, id, at, &mut |_, b| out.push(b)).unwrap();
    }
    let packets: Vec<_> = out
        .iter()
        .map(|b| RtpPacket::parse(b).unwrap().header)
        .collect();
    let events = packets.iter().filter(|h| h.pt.get() == 101).count();
    assert!(
        events >= 6,
        "{events} event packets (updates and three final copies)"
    );
    for pair in packets.windows(2) {
        assert_eq!(pair[1].seq.0, pair[0].seq.0.wrapping_add(1));
    }
    let mut rx = Streams::new();
    let r = rx.open(t0, start("127.0.0.1:41000", Some(9), 2), audio(), 2);
    for b in &out {
        rx.receive(t0, "127.0.0.1:41000".parse().unwrap(), b);
    }
    let report = rx.close(t0, r).unwrap();
    assert_eq!(report.events_received, events as u64);
    assert_eq!(
        report.loss_percent,
        Some(0.0),
        "event packets fill their sequence numbers"
    );
}
