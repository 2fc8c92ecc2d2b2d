//! RTCP through a session over real UDP on 127.0.0.1: multiplexed on the RTP port
//! (RFC 5761) it is still relayed as RTCP, and the sender/receiver reports the phones
//! exchange give the node each leg's round-trip time.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use media::quality::Codec as QualityCodec;
use media::rtp::{
    NtpTime, Pt, ReceiverReport, ReportBlock, RtcpPacket, RtpHeader, SenderInfo, SenderReport, Seq,
    Ssrc, compact_from_duration, write_compound,
};
use media::{PortRange, Relay, RelayConfig, Side};
use tokio::net::UdpSocket;

const GUARD: Duration = Duration::from_secs(5);
const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

async fn socket() -> UdpSocket {
    UdpSocket::bind((LOCALHOST, 0))
        .await
        .expect("ephemeral port")
}

fn addr(s: &UdpSocket) -> SocketAddr {
    s.local_addr().expect("bound")
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

fn compound(packet: RtcpPacket<'_>) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let n = write_compound(&[packet], &mut buf).expect("fits");
    buf[..n].to_vec()
}

fn rtp(seq: u16) -> Vec<u8> {
    let header = RtpHeader::new(
        Pt::new(0).expect("pcmu"),
        Seq(seq),
        u32::from(seq) * 160,
        Ssrc(2),
    );
    let mut buf = vec![0; 12];
    header.write(None, &mut buf).expect("fits");
    buf.extend_from_slice(&[0xFF; 160]);
    buf
}

#[tokio::test]
async fn muxed_reports_are_relayed_and_give_the_callees_round_trip() {
    let relay = Relay::new(RelayConfig {
        bind_ip: LOCALHOST,
        advertise_ip: LOCALHOST,
        ports: PortRange {
            min: 26100,
            max: 26103,
        },
        recv_buffer: 1 << 20,
    })
    .expect("valid config");
    let session = relay.allocate().expect("ports free");
    let (a, b) = (socket().await, socket().await);
    session.set_remote(Side::A, addr(&a), None);
    session.set_remote(Side::B, addr(&b), None);
    session.watch_quality(Side::B, 8000, QualityCodec::G711Plc);

    // B's audio, so B's leg has statistics to report on.
    for seq in 0..5 {
        b.send_to(&rtp(seq), session.local(Side::B))
            .await
            .expect("send");
        recv(&a).await;
    }
    // A's sender report crosses on the RTP port and reaches B unchanged.
    let ntp = NtpTime::from_unix(Duration::from_secs(1_800_000_000));
    let sr = compound(RtcpPacket::SenderReport(SenderReport {
        ssrc: Ssrc(1),
        info: SenderInfo {
            ntp,
            ..SenderInfo::default()
        },
        reports: Vec::new(),
    }));
    a.send_to(&sr, session.local(Side::A)).await.expect("send");
    assert_eq!(recv(&b).await, sr, "RTCP passes through untouched");
    // B echoes it after holding it 10 ms (as it claims in DLSR).
    let rr = compound(RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: Ssrc(2),
        reports: vec![ReportBlock {
            ssrc: Ssrc(1),
            fraction_lost: 0,
            cumulative_lost: 0,
            extended_highest_seq: 0,
            jitter: 0,
            last_sr: ntp.middle32(),
            delay_since_last_sr: compact_from_duration(Duration::ZERO),
        }],
    }));
    b.send_to(&rr, session.local(Side::B)).await.expect("send");
    assert_eq!(recv(&a).await, rr);
    let quality = session.quality(Side::B).expect("B's audio was measured");
    let rtt = quality.rtt_ms.expect("B's round trip measured");
    assert!(
        (0.0..1000.0).contains(&rtt),
        "a loopback round trip, got {rtt} ms"
    );
    assert_eq!(quality.received, 5);
}
