//! A supervisor on a relayed call, over real UDP on 127.0.0.1: three fake phones (caller
//! 440 Hz, agent 1 kHz, supervisor 2 kHz) talk through one session in listen, whisper
//! and barge mode.
//!
//! No test sleeps and none asserts on timing: the node's 20 ms mixing tick paces the
//! phones (each sends its next 20 ms packet whenever the supervisor receives one), every
//! wait is on a socket with a timeout only as a guard against a hang, and audio is
//! judged by its energy at each tone's frequency (Goertzel).

use std::f64::consts::TAU;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use media::codec::{Codec, g711};
use media::mix::MonitorMode;
use media::rtp::{Pt, RtpHeader, RtpPacket, Seq, Ssrc};
use media::srtp::{MasterKey, SdesKeys, SrtpContext, SrtpSuite};
use media::{LegCodec, MonitorError, PortRange, Relay, RelayConfig, Session, Side};
use tokio::net::UdpSocket;

const GUARD: Duration = Duration::from_secs(5);
const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
const PCMU: LegCodec = LegCodec {
    codec: Codec::Pcmu,
    pt: 0,
    event_pt: Some(101),
};
const CALLER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;
const SUPERVISOR_HZ: f64 = 2000.0;
const TONES: [f64; 3] = [CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ];
/// Frames of each phase; the last [`JUDGED`] of them are judged.
const PHASE: usize = 30;
const JUDGED: usize = 10;

fn relay(min: u16, max: u16) -> Relay {
    Relay::new(RelayConfig {
        bind_ip: LOCALHOST,
        advertise_ip: LOCALHOST,
        ports: PortRange { min, max },
        recv_buffer: 1 << 20,
    })
    .expect("valid test config")
}

async fn guarded<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(GUARD, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

fn rtp(pt: u8, seq: u16, timestamp: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let header = RtpHeader::new(Pt::new(pt).expect("pt"), Seq(seq), timestamp, Ssrc(ssrc));
    let mut buf = vec![0; 12];
    header.write(None, &mut buf).expect("a fixed header fits");
    buf.extend_from_slice(payload);
    buf
}

fn header(bytes: &[u8]) -> RtpHeader {
    RtpPacket::parse(bytes).expect("valid RTP").header
}

/// Amplitude of the `hz` component of 8 kHz `x` (Goertzel).
fn amplitude(x: &[i16], hz: f64) -> f64 {
    let coeff = 2.0 * (TAU * hz / 8000.0).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &sample in x {
        let s0 = f64::from(sample) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / x.len() as f64
}

/// Which of caller, agent and supervisor tone the PCMU audio packets in `packets` carry.
fn tones_in(packets: &[Vec<u8>]) -> [bool; 3] {
    let mut pcm = Vec::new();
    for p in packets.iter().filter(|p| header(p).pt.get() == 0) {
        let packet = RtpPacket::parse(p).expect("valid RTP");
        g711::pcmu_decode(packet.payload, &mut pcm);
    }
    assert!(pcm.len() >= 160 * (JUDGED - 2), "{} samples", pcm.len());
    TONES.map(|hz| {
        let a = amplitude(&pcm, hz);
        assert!(
            !(300.0..=2000.0).contains(&a),
            "{hz} Hz at an unclear level {a}"
        );
        a > 2000.0
    })
}

/// A phone sending a tone from one RTP socket, keeping what it sent and received.
struct Phone {
    socket: UdpSocket,
    hz: f64,
    ssrc: u32,
    seq: u16,
    sent: Vec<Vec<u8>>,
    received: Vec<Vec<u8>>,
    /// SRTP: protects what it sends, opens what it receives (every packet must open).
    srtp: Option<(SrtpContext, SrtpContext)>,
}

impl Phone {
    async fn new(hz: f64, ssrc: u32) -> Self {
        let socket = UdpSocket::bind((LOCALHOST, 0))
            .await
            .expect("ephemeral port");
        Self {
            socket,
            hz,
            ssrc,
            seq: 0,
            sent: Vec::new(),
            received: Vec::new(),
            srtp: None,
        }
    }

    /// From now on the phone speaks SRTP with the node, which holds `keys` (its own
    /// key, the phone's key).
    fn use_srtp(&mut self, keys: &SdesKeys) {
        self.srtp = Some((
            SrtpContext::from_master_key(keys.suite, &keys.remote),
            SrtpContext::from_master_key(keys.suite, &keys.local),
        ));
    }

    /// A datagram received, opened when the phone speaks SRTP.
    fn keep(&mut self, datagram: &[u8]) {
        let mut packet = datagram.to_vec();
        if let Some((_, inbound)) = &mut self.srtp {
            inbound
                .unprotect(&mut packet)
                .expect("protected with the node's key");
        }
        self.received.push(packet);
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("bound")
    }

    /// Sends the next 20 ms of its tone to `to`.
    async fn speak(&mut self, to: SocketAddr) {
        let start = u32::from(self.seq) * 160;
        let pcm: Vec<i16> = (start..start + 160)
            .map(|n| (6000.0 * (TAU * self.hz * f64::from(n) / 8000.0).sin()) as i16)
            .collect();
        let mut payload = Vec::new();
        g711::pcmu_encode(&pcm, &mut payload);
        let packet = rtp(0, self.seq, start, self.ssrc, &payload);
        self.send(&packet, to).await;
        self.seq = self.seq.wrapping_add(1);
    }

    async fn send(&mut self, packet: &[u8], to: SocketAddr) {
        let mut wire = packet.to_vec();
        if let Some((out, _)) = &mut self.srtp {
            out.protect(&mut wire).expect("protect");
        }
        self.socket.send_to(&wire, to).await.expect("send");
        self.sent.push(packet.to_vec());
    }

    /// Takes every datagram waiting, without waiting.
    fn drain(&mut self) {
        let mut buf = [0; 2048];
        while let Ok(len) = self.socket.try_recv(&mut buf) {
            self.keep(&buf[..len]);
        }
    }

    /// Waits for one datagram.
    async fn hear_one(&mut self) {
        let mut buf = [0; 2048];
        let len = guarded("a mixed packet", self.socket.recv(&mut buf))
            .await
            .expect("recv");
        self.keep(&buf[..len]);
    }

    /// The last [`JUDGED`] packets received.
    fn recent(&self) -> &[Vec<u8>] {
        &self.received[self.received.len().saturating_sub(JUDGED)..]
    }
}

/// The SDES keys of an SRTP leg in these tests, as the node holds them: its own key,
/// then the phone's.
fn srtp_keys() -> SdesKeys {
    SdesKeys {
        suite: SrtpSuite::AesCm128HmacSha1_80,
        local: MasterKey::from_bytes([0x5A; MasterKey::LEN]),
        remote: MasterKey::from_bytes([0xA5; MasterKey::LEN]),
    }
}

/// A bridged call with a supervisor attached.
struct Call {
    session: Session,
    supervisor_at: SocketAddr,
    caller: Phone,
    agent: Phone,
    supervisor: Phone,
}

impl Call {
    async fn new(relay: &Relay, mode: MonitorMode) -> Self {
        let session = relay.allocate().expect("ports free");
        let caller = Phone::new(CALLER_HZ, 0xCA11).await;
        let agent = Phone::new(AGENT_HZ, 0xA6E7).await;
        let supervisor = Phone::new(SUPERVISOR_HZ, 0x5BE4).await;
        session.set_remote(Side::A, caller.addr(), None);
        session.set_remote(Side::B, agent.addr(), None);
        session.set_codec(Side::A, PCMU).expect("g711");
        session.set_codec(Side::B, PCMU).expect("g711");
        let supervisor_at = session.attach_monitor(mode, PCMU).expect("a free pair");
        session
            .set_monitor_remote(supervisor.addr())
            .expect("attached");
        Self {
            session,
            supervisor_at,
            caller,
            agent,
            supervisor,
        }
    }

    /// `frames` frame periods, each started by a packet reaching the supervisor, in
    /// which the three phones send their next 20 ms.
    async fn talk(&mut self, frames: usize) {
        for _ in 0..frames {
            self.supervisor.hear_one().await;
            self.caller.speak(self.session.local(Side::A)).await;
            self.agent.speak(self.session.local(Side::B)).await;
            self.supervisor.speak(self.supervisor_at).await;
            self.caller.drain();
            self.agent.drain();
        }
    }
}

/// `received` are `sent`, byte for byte and in order, all but the last few (in flight).
fn assert_relayed_untouched(received: &[Vec<u8>], sent: &[Vec<u8>]) {
    assert!(
        received.len() + 3 >= sent.len(),
        "{} of {}",
        received.len(),
        sent.len()
    );
    assert_eq!(received, &sent[..received.len()]);
}

#[tokio::test]
async fn listen_the_supervisor_hears_both_and_the_call_passes_through_untouched() {
    let relay = relay(27000, 27009);
    let mut call = Call::new(&relay, MonitorMode::Listen).await;
    call.talk(PHASE).await;
    assert_eq!(tones_in(call.supervisor.recent()), [true, true, false]);
    assert_relayed_untouched(&call.agent.received, &call.caller.sent);
    assert_relayed_untouched(&call.caller.received, &call.agent.sent);
    let headers: Vec<RtpHeader> = call.supervisor.received.iter().map(|p| header(p)).collect();
    for pair in headers.windows(2) {
        assert_eq!(pair[1].ssrc, pair[0].ssrc, "one stream");
        assert_eq!(pair[1].seq, pair[0].seq.next());
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(160));
    }
    let stats = call.session.monitor_stats().expect("attached");
    assert_eq!(stats.mode, MonitorMode::Listen);
    assert!(stats.sent >= PHASE as u64);
    assert!(stats.received + 1 >= PHASE as u64, "{stats:?}");
    assert_eq!(stats.latched, Some(call.supervisor.addr()));
    assert_eq!(stats.mixed_to, [0, 0]);
}

#[tokio::test]
async fn whisper_over_srtp_the_supervisors_leg_is_protected_both_ways() {
    let relay = relay(27080, 27089);
    let mut call = Call::new(&relay, MonitorMode::Whisper).await;
    let keys = srtp_keys();
    call.session
        .set_monitor_srtp(Some(&keys))
        .expect("attached");
    // Whatever the mix sent before the keys is plain: the phone drops it unheard.
    let mut buf = [0; 2048];
    while call.supervisor.socket.try_recv(&mut buf).is_ok() {}
    call.supervisor.use_srtp(&keys);
    call.talk(PHASE).await;
    assert_eq!(tones_in(call.supervisor.recent()), [true, true, false]);
    assert_eq!(tones_in(call.agent.recent()), [true, false, true]);
    let srtp = call.session.monitor_srtp_stats().expect("SRTP on the leg");
    assert!(srtp.opened + 2 >= PHASE as u64, "{srtp:?}");
    assert!(srtp.protected + 2 >= PHASE as u64, "{srtp:?}");
    assert_eq!(srtp.rejected_auth, 0, "{srtp:?}");
    // A plain packet from the supervisor's address is no longer heard.
    let before = call
        .session
        .monitor_srtp_stats()
        .expect("SRTP")
        .rejected_auth
        + call
            .session
            .monitor_srtp_stats()
            .expect("SRTP")
            .rejected_malformed;
    let plain = rtp(0, 9999, 0, 0x5BE4, &[0xFF; 160]);
    call.supervisor
        .socket
        .send_to(&plain, call.supervisor_at)
        .await
        .expect("send");
    call.talk(2).await;
    let after = call.session.monitor_srtp_stats().expect("SRTP");
    assert_eq!(
        after.rejected_auth + after.rejected_malformed,
        before + 1,
        "{after:?}"
    );
    call.session.set_monitor_srtp(None).expect("attached");
    assert!(call.session.monitor_srtp_stats().is_none());
}

#[tokio::test]
async fn whisper_the_agent_hears_the_supervisor_and_the_caller_does_not() {
    let relay = relay(27010, 27019);
    let mut call = Call::new(&relay, MonitorMode::Listen).await;
    call.talk(PHASE).await;
    call.session
        .set_monitor_mode(MonitorMode::Whisper)
        .expect("attached");
    call.talk(PHASE).await;
    assert_eq!(tones_in(call.agent.recent()), [true, false, true]);
    assert_eq!(tones_in(call.supervisor.recent()), [true, true, false]);
    assert_relayed_untouched(&call.caller.received, &call.agent.sent);
    let stats = call.session.monitor_stats().expect("attached");
    assert_eq!(stats.mixed_to[0], 0);
    assert!(stats.mixed_to[1] >= PHASE as u64 - 2, "{stats:?}");
    assert!(stats.replaced >= PHASE as u64 - 2, "{stats:?}");
}

#[tokio::test]
async fn barge_everyone_hears_the_other_two() {
    let relay = relay(27020, 27029);
    let mut call = Call::new(&relay, MonitorMode::Barge).await;
    call.talk(PHASE).await;
    assert_eq!(tones_in(call.caller.recent()), [false, true, true]);
    assert_eq!(tones_in(call.agent.recent()), [true, false, true]);
    assert_eq!(tones_in(call.supervisor.recent()), [true, true, false]);
}

#[tokio::test]
async fn the_agent_hears_one_continuous_stream_across_listen_whisper_listen() {
    let relay = relay(27030, 27039);
    let mut call = Call::new(&relay, MonitorMode::Listen).await;
    call.talk(PHASE).await;
    call.session
        .set_monitor_mode(MonitorMode::Whisper)
        .expect("attached");
    call.talk(PHASE).await;
    call.session
        .set_monitor_mode(MonitorMode::Listen)
        .expect("attached");
    call.talk(PHASE).await;
    call.agent.drain();
    let heard: Vec<RtpHeader> = call.agent.received.iter().map(|p| header(p)).collect();
    assert!(heard.len() >= 3 * PHASE - 6, "{} packets", heard.len());
    for pair in heard.windows(2) {
        assert_eq!(pair[1].ssrc, Ssrc(0xCA11), "the caller's stream throughout");
        assert_eq!(pair[1].seq, pair[0].seq.next(), "no gap, no repeat");
        let step = pair[1].timestamp.wrapping_sub(pair[0].timestamp);
        assert!(
            (160..1 << 31).contains(&step),
            "forward, never overlapping: {step}"
        );
    }
    let marked = heard.iter().filter(|h| h.marker).count();
    assert_eq!(marked, 2, "one marker at each switch");
    // The caller's audio itself was relayed in the listen phases, mixed in between.
    assert_eq!(tones_in(call.agent.recent()), [true, false, false]);
}

#[tokio::test]
async fn telephone_events_reach_the_agent_inside_the_mixed_stream() {
    let relay = relay(27040, 27049);
    let mut call = Call::new(&relay, MonitorMode::Whisper).await;
    call.talk(PHASE).await;
    let to = call.session.local(Side::A);
    // Key 5 pressed: two progress packets and an end packet, one event timestamp.
    for (i, end) in [(0u16, false), (1, false), (2, true)] {
        let payload = [5, if end { 0x8a } else { 0x0a }, 0, 80 * (i as u8 + 1)];
        let packet = rtp(101, 1000 + i, 999_999, 0xCA11, &payload);
        call.caller.send(&packet, to).await;
        call.talk(1).await;
    }
    call.talk(3).await;
    call.agent.drain();
    let events: Vec<&Vec<u8>> = call
        .agent
        .received
        .iter()
        .filter(|p| header(p).pt.get() == 101)
        .collect();
    assert_eq!(events.len(), 3, "every event packet relayed");
    let first = header(events[0]);
    for (i, event) in events.iter().enumerate() {
        let h = header(event);
        assert_eq!(h.ssrc, first.ssrc);
        assert_eq!(h.timestamp, first.timestamp, "one timestamp per event");
        assert_eq!(&event[12..14], &[5, if i == 2 { 0x8a } else { 0x0a }]);
    }
    let heard: Vec<RtpHeader> = call.agent.received.iter().map(|p| header(p)).collect();
    for pair in heard.windows(2) {
        assert_eq!(pair[1].ssrc, pair[0].ssrc, "one stream, events included");
        assert_eq!(pair[1].seq, pair[0].seq.next());
    }
}

#[tokio::test]
async fn detach_frees_the_ports_and_the_call_passes_through_again() {
    // Three pairs: caller, agent, and one supervisor.
    let relay = relay(27050, 27055);
    let mut call = Call::new(&relay, MonitorMode::Listen).await;
    call.talk(3).await;
    assert!(matches!(
        call.session.attach_monitor(MonitorMode::Barge, PCMU),
        Err(MonitorError::Attached)
    ));
    assert!(call.session.detach_monitor());
    assert!(!call.session.detach_monitor(), "only once");
    assert!(call.session.monitor_stats().is_none());
    assert!(matches!(
        call.session.set_monitor_mode(MonitorMode::Whisper),
        Err(MonitorError::NotAttached)
    ));
    for _ in 0..5 {
        call.caller.speak(call.session.local(Side::A)).await;
    }
    while call.agent.received.len() < call.caller.sent.len() {
        call.agent.hear_one().await;
    }
    assert_eq!(call.agent.received, call.caller.sent, "byte for byte");
    // The pair came back to the pool: the next supervisor gets it.
    let again = call.session.attach_monitor(MonitorMode::Listen, PCMU);
    assert_eq!(again.expect("the pair is free"), call.supervisor_at);
}
