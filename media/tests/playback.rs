//! Prompts played by a session toward one side, over real UDP on 127.0.0.1: the paced
//! RTP a phone receives, the end-of-track events, and a caller who hears a prompt and
//! then the other party as one continuous stream.
//!
//! No test sleeps: each waits on a socket or the session's events, with a timeout only as
//! a guard against a hang.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use media::codec::{Codec, SampleRate, g711};
use media::rtp::{Pt, RtpHeader, RtpPacket, Seq, Ssrc};
use media::wav::Prompt;
use media::{LegCodec, MediaEvent, PortRange, Relay, RelayConfig, Side};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::UnboundedReceiver;

const GUARD: Duration = Duration::from_secs(5);
const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
const PCMU: LegCodec = LegCodec {
    codec: Codec::Pcmu,
    pt: 0,
    event_pt: Some(101),
};

fn relay(min: u16, max: u16) -> Relay {
    Relay::new(RelayConfig {
        bind_ip: LOCALHOST,
        advertise_ip: LOCALHOST,
        ports: PortRange { min, max },
        recv_buffer: 1 << 20,
    })
    .expect("valid test config")
}

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

/// The session's next event, within the guard time.
async fn next_event(events: &mut UnboundedReceiver<MediaEvent>) -> Option<MediaEvent> {
    tokio::time::timeout(GUARD, events.recv())
        .await
        .expect("an event in time")
}

/// The next digit the session reports, past other events.
async fn next_digit(events: &mut UnboundedReceiver<MediaEvent>) -> char {
    loop {
        match next_event(events).await {
            Some(MediaEvent::Digit { digit, .. }) => return digit.as_char(),
            Some(_) => {}
            None => panic!("events closed"),
        }
    }
}

fn level_prompt(frames: usize, level: i16) -> Prompt {
    Prompt::from_samples(SampleRate::Hz8000, vec![level; 160 * frames])
}

/// An RTP packet of payload type `pt` from SSRC `ssrc`.
fn rtp(pt: u8, seq: u16, timestamp: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut header = RtpHeader::new(
        Pt::new(pt).expect("valid pt"),
        Seq(seq),
        timestamp,
        Ssrc(ssrc),
    );
    header.marker = marker;
    let mut buf = vec![0; 12];
    header.write(None, &mut buf).expect("a fixed header fits");
    buf.extend_from_slice(payload);
    buf
}

fn decode(bytes: &[u8]) -> (RtpHeader, Vec<i16>) {
    let packet = RtpPacket::parse(bytes).expect("valid RTP");
    let mut pcm = Vec::new();
    g711::pcmu_decode(packet.payload, &mut pcm);
    (packet.header, pcm)
}

#[tokio::test]
async fn a_prompt_reaches_the_caller_paced_and_its_end_is_reported() {
    let relay = relay(26000, 26003);
    let session = relay.allocate().expect("ports free");
    let mut events = session.events();
    let caller = socket().await;
    session.set_remote(Side::A, addr(&caller), None);
    session.set_codec(Side::A, PCMU).expect("g711");
    session
        .play(Side::A, 1, vec![level_prompt(10, 2000)])
        .expect("codec set");
    let mut arrivals = Vec::new();
    for i in 0..10 {
        let bytes = recv(&caller).await;
        arrivals.push(tokio::time::Instant::now());
        let (header, pcm) = decode(&bytes);
        assert_eq!(header.marker, i == 0);
        assert!(
            pcm.iter().all(|&s| (s - 2000).abs() < 80),
            "packet {i} is the prompt"
        );
    }
    let span = arrivals[9] - arrivals[0];
    assert!(
        span >= Duration::from_millis(150),
        "ten packets paced over ~180 ms, not a burst ({span:?})"
    );
    let ended = next_event(&mut events).await;
    assert_eq!(
        ended,
        Some(MediaEvent::PlaybackEnded {
            side: Side::A,
            id: 1,
            completed: true
        })
    );
}

#[tokio::test]
async fn digits_from_a_caller_alone_in_the_ivr_are_heard_and_stop_the_prompt() {
    let relay = relay(26010, 26013);
    let session = relay.allocate().expect("ports free");
    let mut events = session.events();
    let caller = socket().await;
    session.set_remote(Side::A, addr(&caller), None);
    session.set_codec(Side::A, PCMU).expect("g711");
    session
        .watch_dtmf(Side::A, 101, 8000)
        .expect("8 kHz events");
    session
        .play(Side::A, 7, vec![level_prompt(500, 0)])
        .expect("codec set");
    recv(&caller).await;
    // Side B has no address: nothing is forwarded, yet the tap hears the key press.
    let digit = media::dtmf::Digit::from_char('5').expect("a key");
    let sender = media::dtmf::EventSender::new(8000).expect("8 kHz");
    let to = session.local(Side::A);
    for (i, packet) in sender
        .packets(digit, Duration::from_millis(100), 10, 0)
        .expect("valid press")
        .into_iter()
        .enumerate()
    {
        let buf = rtp(
            101,
            1 + i as u16,
            packet.timestamp,
            42,
            packet.marker,
            &packet.payload,
        );
        caller.send_to(&buf, to).await.expect("send");
    }
    assert_eq!(next_digit(&mut events).await, '5');
    session.stop_playback(Side::A);
    let ended = next_event(&mut events).await;
    assert_eq!(
        ended,
        Some(MediaEvent::PlaybackEnded {
            side: Side::A,
            id: 7,
            completed: false
        })
    );
}

#[tokio::test]
async fn after_the_prompt_the_caller_hears_the_agent_in_the_same_stream() {
    let relay = relay(26020, 26023);
    let session = relay.allocate().expect("ports free");
    let mut events = session.events();
    let (caller, agent) = (socket().await, socket().await);
    session.set_remote(Side::A, addr(&caller), None);
    session.set_codec(Side::A, PCMU).expect("g711");
    session
        .play(Side::A, 1, vec![level_prompt(3, 1000)])
        .expect("codec set");
    let mut heard = Vec::new();
    for _ in 0..3 {
        heard.push(decode(&recv(&caller).await).0);
    }
    let _ = next_event(&mut events).await; // the prompt's end
    session.set_remote(Side::B, addr(&agent), None);
    session.set_codec(Side::B, PCMU).expect("g711");
    let mut payload = Vec::new();
    g711::pcmu_encode(&[-3000; 160], &mut payload);
    let buf = rtp(0, 9000, 1_000_000, 77, true, &payload);
    agent
        .send_to(&buf, session.local(Side::B))
        .await
        .expect("send");
    let (next, pcm) = decode(&recv(&caller).await);
    assert!(
        pcm.iter().all(|&s| (s + 3000).abs() < 150),
        "the agent's audio"
    );
    let last = heard[2];
    assert_eq!(next.ssrc, last.ssrc, "one SSRC for prompt and agent");
    assert_eq!(next.seq, last.seq.next(), "sequence continues");
    assert!(next.marker);
    assert_ne!(next.ssrc, Ssrc(77), "the agent's SSRC is not exposed");
}

/// A phone that sends no RFC 4733 events keys a digit as tones in its G.711 audio: the
/// session's in-band detector reports it like an event would be.
#[tokio::test]
async fn in_band_tones_from_a_caller_alone_in_the_ivr_are_digits() {
    let relay = relay(26030, 26033);
    let session = relay.allocate().expect("ports free");
    let mut events = session.events();
    let caller = socket().await;
    session.set_remote(Side::A, addr(&caller), None);
    session.watch_inband_dtmf(Side::A, 0, media::G711Law::Mu);
    let to = session.local(Side::A);
    // 120 ms of the tone of 7 (852 + 1209 Hz), then silence.
    for seq in 0u16..12 {
        let pcm: Vec<i16> = (0..160u32)
            .map(|i| {
                let t = f64::from(u32::from(seq) * 160 + i) / 8000.0;
                let tone = if seq < 6 {
                    (std::f64::consts::TAU * 852.0 * t).sin()
                        + (std::f64::consts::TAU * 1209.0 * t).sin()
                } else {
                    0.0
                };
                (5000.0 * tone) as i16
            })
            .collect();
        let mut payload = Vec::new();
        g711::pcmu_encode(&pcm, &mut payload);
        let buf = rtp(0, seq, u32::from(seq) * 160, 5, false, &payload);
        caller.send_to(&buf, to).await.expect("send");
    }
    assert_eq!(next_digit(&mut events).await, '7');
}

/// A caller the node plays to hears from it on RTCP too: a sender report with the
/// prompt stream's SSRC and counts reaches the caller's RTCP port.
#[tokio::test]
async fn the_node_sends_sender_reports_for_the_stream_it_plays() {
    let relay = relay(26040, 26043);
    let session = relay.allocate().expect("ports free");
    let (caller, caller_rtcp) = (socket().await, socket().await);
    session.set_remote(Side::A, addr(&caller), Some(addr(&caller_rtcp)));
    session.set_codec(Side::A, PCMU).expect("g711");
    session
        .play(Side::A, 1, vec![level_prompt(100, 500)])
        .expect("codec set");
    let (first, _) = decode(&recv(&caller).await);
    let report = recv(&caller_rtcp).await;
    let packets = media::rtp::parse_compound(&report).expect("valid RTCP");
    let Some(media::rtp::RtcpPacket::SenderReport(sr)) = packets.first() else {
        panic!("a sender report: {packets:?}");
    };
    assert_eq!(sr.ssrc, first.ssrc);
    assert!(
        (40..=60).contains(&sr.info.packet_count),
        "about a second of 20 ms packets, got {}",
        sr.info.packet_count
    );
    assert_eq!(sr.info.octet_count, sr.info.packet_count * 160);
}

/// While a prompt plays toward the agent (ringback, say), what the other side sends is
/// not relayed to the agent, whether or not that side's codec is known yet.
#[tokio::test]
async fn nothing_is_relayed_to_a_side_a_prompt_plays_to() {
    let relay = relay(26050, 26053);
    let session = relay.allocate().expect("ports free");
    let (far, agent) = (socket().await, socket().await);
    session.set_remote(Side::B, addr(&agent), None);
    session.set_codec(Side::B, PCMU).expect("g711");
    session.set_remote(Side::A, addr(&far), None);
    session
        .play(Side::B, 1, vec![level_prompt(500, 1000)])
        .expect("codec set");
    let mut payload = Vec::new();
    g711::pcmu_encode(&[-3000; 160], &mut payload);
    for seq in 0..20_u16 {
        let buf = rtp(0, seq, u32::from(seq) * 160, 77, seq == 0, &payload);
        far.send_to(&buf, session.local(Side::A))
            .await
            .expect("send");
    }
    // The next 30 packets the agent gets are all the prompt's.
    for _ in 0..30 {
        let (_, pcm) = decode(&recv(&agent).await);
        assert!(
            pcm.iter().all(|&s| (s - 1000).abs() < 100),
            "the prompt, not the other side"
        );
    }
}
