//! SRTP terminated per side of a session, over real UDP on 127.0.0.1: what a phone sends
//! is opened before the latch and the taps see it, re-protected with the other side's
//! node key, forged packets are dropped and counted, and the node's own packets (prompts,
//! sender reports) leave protected.
//!
//! No test sleeps: each waits on a socket or the session's events, with a timeout only as
//! a guard against a hang.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

use super::*;
use crate::codec::{Codec, SampleRate, g711};
use crate::srtp::{MasterKey, SdesKeys, SrtpContext, SrtpSuite};
use crate::{G711Law, MediaEvent};

const GUARD: Duration = Duration::from_secs(5);
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SSRC: u32 = 0x1357_9BDF;

fn relay(min: u16, max: u16) -> Relay {
    Relay::new(RelayConfig {
        bind_ip: LOCALHOST,
        advertise_ip: LOCALHOST,
        ports: PortRange { min, max },
        recv_buffer: 1 << 20,
    })
    .expect("valid test config")
}

/// A phone with SDES keys: it protects with `keys.remote` and opens with `keys.local`.
struct Phone {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    keys: SdesKeys,
    /// Protects what the phone sends.
    out: SrtpContext,
    /// Opens what the phone receives.
    inbound: SrtpContext,
}

impl Phone {
    async fn new(suite: SrtpSuite, seed: u8) -> Self {
        let keys = SdesKeys {
            suite,
            local: MasterKey::from_bytes([seed; MasterKey::LEN]),
            remote: MasterKey::from_bytes([seed.wrapping_add(1); MasterKey::LEN]),
        };
        let bind = || UdpSocket::bind((LOCALHOST, 0));
        Self {
            rtp: bind().await.expect("an RTP port"),
            rtcp: bind().await.expect("an RTCP port"),
            out: SrtpContext::from_master_key(suite, &keys.remote),
            inbound: SrtpContext::from_master_key(suite, &keys.local),
            keys,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.rtp.local_addr().expect("bound")
    }

    fn attach(&self, session: &Session, side: Side) {
        let rtcp = self.rtcp.local_addr().expect("bound");
        session.set_remote(side, self.addr(), Some(rtcp));
        session.set_srtp(side, Some(&self.keys));
    }

    /// Protects and sends an RTP packet to `side`'s RTP port; returns what it sent.
    async fn send_rtp(&mut self, session: &Session, side: Side, plain: &[u8]) -> Vec<u8> {
        let mut packet = plain.to_vec();
        self.out.protect(&mut packet).expect("protect");
        self.send_raw(session.local(side), &packet).await;
        packet
    }

    async fn send_raw(&self, to: SocketAddr, datagram: &[u8]) {
        self.rtp
            .send_to(datagram, to)
            .await
            .expect("send on localhost");
    }

    /// The next RTP packet received, opened with the node's key toward this phone.
    async fn recv_rtp(&mut self) -> Vec<u8> {
        let mut packet = recv(&self.rtp).await;
        self.inbound
            .unprotect(&mut packet)
            .expect("protected with the node's key");
        packet
    }
}

async fn recv(socket: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0; 2048];
    let len = tokio::time::timeout(GUARD, socket.recv(&mut buf))
        .await
        .expect("a datagram in time")
        .expect("recv on localhost");
    buf.truncate(len);
    buf
}

/// A PCMU packet of 20 ms at a constant `level`.
fn pcmu(seq: u16, level: i16) -> Vec<u8> {
    let mut packet = vec![0x80, 0x00];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    packet.extend_from_slice(&SSRC.to_be_bytes());
    g711::pcmu_encode(&[level; 160], &mut packet);
    packet
}

/// The PCMU samples of an RTP packet with a fixed header.
fn samples(packet: &[u8]) -> Vec<i16> {
    let mut pcm = Vec::new();
    g711::pcmu_decode(packet.get(12..).unwrap_or_default(), &mut pcm);
    pcm
}

#[tokio::test]
async fn a_call_terminated_on_both_sides_reprotects_and_taps_hear_plain_audio() {
    let relay = relay(27600, 27603);
    let session = relay.allocate().expect("two pairs free");
    let mut a = Phone::new(SrtpSuite::AesCm128HmacSha1_80, 0x10).await;
    let mut b = Phone::new(SrtpSuite::AesCm128HmacSha1_32, 0x20).await;
    a.attach(&session, Side::A);
    b.attach(&session, Side::B);
    let mut events = session.events();
    session.watch_audio(Side::A, 0, G711Law::Mu);

    let plain = pcmu(1, 3000);
    let sent = a.send_rtp(&session, Side::A, &plain).await;
    assert_eq!(
        b.recv_rtp().await,
        plain,
        "B opens what A sent, under B's key"
    );
    let heard = loop {
        let event = tokio::time::timeout(GUARD, events.recv()).await;
        if let MediaEvent::Audio {
            side: Side::A,
            samples,
            ..
        } = event.expect("an event in time").expect("events open")
        {
            break samples;
        }
    };
    // Past the start-up of the tap's 8 → 16 kHz resampler (27 samples at 8 kHz).
    assert!(
        heard.iter().skip(64).all(|&s| (s - 3000).abs() < 150),
        "the tap decoded plain audio, not ciphertext"
    );

    // Forged and replayed packets go nowhere; the next genuine one does.
    let mut forged = sent.clone();
    forged[30] ^= 0x01;
    a.send_raw(session.local(Side::A), &forged).await;
    a.send_raw(session.local(Side::A), &sent).await;
    let next = pcmu(2, -2000);
    a.send_rtp(&session, Side::A, &next).await;
    assert_eq!(
        b.recv_rtp().await,
        next,
        "only the genuine packet was relayed"
    );

    // RTCP the other way, opened and protected on its own channel.
    let mut report = vec![0x80, 201, 0x00, 0x01];
    report.extend_from_slice(&0x2468_ACE0_u32.to_be_bytes());
    let plain_report = report.clone();
    b.out.protect_rtcp(&mut report).expect("protect");
    b.rtcp
        .send_to(&report, session.local_rtcp(Side::B))
        .await
        .expect("send");
    let mut got = recv(&a.rtcp).await;
    a.inbound
        .unprotect_rtcp(&mut got)
        .expect("SRTCP under A's node key");
    assert_eq!(got, plain_report);

    let stats_a = session.srtp_stats(Side::A).expect("A terminates SRTP");
    assert_eq!(
        (
            stats_a.opened,
            stats_a.rejected_auth,
            stats_a.rejected_replay
        ),
        (2, 1, 1)
    );
    assert_eq!(stats_a.protected, 1, "the report toward A");
    let stats_b = session.srtp_stats(Side::B).expect("B terminates SRTP");
    assert_eq!((stats_b.opened, stats_b.protected), (1, 2));
    assert_eq!(session.stats().a.rtp.relayed_packets, 2);
}

#[tokio::test]
async fn a_stranger_cannot_latch_a_side_that_terminates_srtp() {
    let relay = relay(27604, 27607);
    let session = relay.allocate().expect("two pairs free");
    let mut a = Phone::new(SrtpSuite::AesCm128HmacSha1_80, 0x30).await;
    let mut b = Phone::new(SrtpSuite::AesCm128HmacSha1_80, 0x40).await;
    a.attach(&session, Side::A);
    b.attach(&session, Side::B);
    // Same IP as the signalled address, so plain RTP would have latched the flow.
    let stranger = UdpSocket::bind((LOCALHOST, 0)).await.expect("a port");
    stranger
        .send_to(&pcmu(1, 100), session.local(Side::A))
        .await
        .expect("send");
    let plain = pcmu(7, 500);
    a.send_rtp(&session, Side::A, &plain).await;
    assert_eq!(b.recv_rtp().await, plain);
    let stats = session.stats();
    assert_eq!(
        stats.a.rtp.latched,
        Some(a.addr()),
        "latched to the key holder"
    );
    assert_eq!(
        stats.a.rtp.dropped.total(),
        0,
        "dropped before the latch saw it"
    );
    let srtp = session.srtp_stats(Side::A).expect("terminated");
    assert_eq!((srtp.opened, srtp.rejected_auth), (1, 1));
}

#[tokio::test]
async fn prompts_and_sender_reports_toward_a_terminated_side_are_protected() {
    let relay = relay(27608, 27611);
    let session = relay.allocate().expect("two pairs free");
    let mut a = Phone::new(SrtpSuite::AesCm128HmacSha1_32, 0x50).await;
    a.attach(&session, Side::A);
    let codec = LegCodec {
        codec: Codec::Pcmu,
        pt: 0,
        event_pt: None,
    };
    session.set_codec(Side::A, codec).expect("PCMU");
    let prompt = crate::wav::Prompt::from_samples(SampleRate::Hz8000, vec![-1200; 160 * 3]);
    session.play(Side::A, 1, vec![prompt]).expect("codec set");
    for _ in 0..3 {
        let packet = a.recv_rtp().await;
        assert!(samples(&packet).iter().all(|&s| (s + 1200).abs() < 80));
    }
    // The first sender report comes a second after the node started sending.
    let mut report = recv(&a.rtcp).await;
    a.inbound
        .unprotect_rtcp(&mut report)
        .expect("SRTCP under the node's key");
    assert_eq!(report.get(1), Some(&200), "a sender report");
    let stats = session.srtp_stats(Side::A).expect("terminated");
    assert_eq!(stats.protected, 4);
    session.set_srtp(Side::A, None);
    assert_eq!(session.srtp_stats(Side::A), None);
}
