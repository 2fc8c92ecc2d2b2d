#![allow(
    clippy::disallowed_methods,
    reason = "each test takes one Instant as an anchor; every other time is arithmetic on it"
)]

use super::*;
use crate::codec::{Codec, g711};
use crate::mix::tone::{amplitude, tone};

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
const CALLER_HZ: f64 = 400.0;
const AGENT_HZ: f64 = 1000.0;
const SUPERVISOR_HZ: f64 = 2000.0;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("literal address")
}

fn supervisor_addr() -> SocketAddr {
    addr("192.168.7.7:4000")
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn rtp(codec: LegCodec, seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let pt = Pt::new(codec.pt).expect("valid pt");
    let header = RtpHeader::new(pt, Seq(seq), u32::from(seq) * 160, Ssrc(ssrc));
    let mut out = Vec::new();
    write_packet(&header, payload, &mut out).expect("fits");
    out
}

/// 20 ms of a tone as the `n`th packet of a stream in `codec`.
fn tone_packet(codec: LegCodec, hz: f64, n: u16, ssrc: u32) -> Vec<u8> {
    let pcm = tone(hz, 6000.0, usize::from(n) * 160, 160);
    let mut payload = Vec::new();
    if codec.codec == Codec::Pcmu {
        g711::pcmu_encode(&pcm, &mut payload);
    } else {
        g711::pcma_encode(&pcm, &mut payload);
    }
    rtp(codec, n, ssrc, &payload)
}

fn decode(codec: Codec, packet: &[u8]) -> (RtpHeader, Vec<i16>) {
    let packet = RtpPacket::parse(packet).expect("valid rtp");
    let mut pcm = Vec::new();
    match codec {
        Codec::Pcma => g711::pcma_decode(packet.payload, &mut pcm),
        _ => g711::pcmu_decode(packet.payload, &mut pcm),
    }
    (packet.header, pcm)
}

/// Where an emitted packet went, without the continuity hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Supervisor,
    Side(Side),
}

struct Call {
    leg: MonitorLeg,
    t0: Instant,
    frames: u16,
    sent: Vec<(To, Target, Vec<u8>)>,
}

impl Call {
    fn new(mode: MonitorMode, supervisor: LegCodec) -> Self {
        let t0 = Instant::now();
        let mut leg =
            MonitorLeg::new(mode, supervisor, [Some(PCMU), Some(PCMA)], 42, t0).expect("g711 legs");
        leg.set_remote(supervisor_addr());
        Self {
            leg,
            t0,
            frames: 0,
            sent: Vec::new(),
        }
    }

    /// `n` frame periods in which each party in `talking` sends its tone, and the
    /// ticks due run.
    fn talk(&mut self, n: u16, talking: &[Role]) {
        for _ in 0..n {
            let f = self.frames;
            // Packets arrive just as the tick of their frame is due.
            let now = self.t0 + ms(20 * (u64::from(f) + 1));
            for &role in talking {
                match role {
                    Role::Caller => {
                        let p = tone_packet(PCMU, CALLER_HZ, f, 1);
                        assert_eq!(self.leg.hear_side(now, Side::A, &p), Heard::Audio);
                    }
                    Role::Agent => {
                        let p = tone_packet(PCMA, AGENT_HZ, f, 2);
                        assert_eq!(self.leg.hear_side(now, Side::B, &p), Heard::Audio);
                    }
                    Role::Supervisor => {
                        let p = tone_packet(PCMU, SUPERVISOR_HZ, f, 3);
                        let from = supervisor_addr();
                        self.leg.hear_supervisor(now, Channel::Rtp, from, &p);
                    }
                }
            }
            self.tick_due(now);
            self.frames += 1;
        }
    }

    fn tick_due(&mut self, now: Instant) {
        while self.leg.poll_timeout() <= now {
            let sent = &mut self.sent;
            self.leg.tick(now, |target, packet| {
                let to = match target {
                    Target::Supervisor(_) => To::Supervisor,
                    Target::Side { side, .. } => To::Side(side),
                };
                sent.push((to, target, packet.to_vec()));
                true
            });
        }
    }

    fn packets(&self, to: To) -> Vec<&[u8]> {
        let mut out: Vec<&[u8]> = Vec::new();
        for (t, _, p) in &self.sent {
            if *t == to {
                out.push(p);
            }
        }
        out
    }

    /// The amplitudes of the three tones in the last five packets sent to `to`.
    fn heard(&self, to: To, codec: Codec) -> [f64; 3] {
        let packets = self.packets(to);
        assert!(packets.len() >= 10, "{to:?} got {} packets", packets.len());
        let tail = &packets[packets.len() - 5..];
        [CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ].map(|hz| {
            let sum: f64 = tail
                .iter()
                .map(|p| amplitude(&decode(codec, p).1, hz))
                .sum();
            sum / 5.0
        })
    }
}

fn present(a: f64) -> bool {
    a > 3000.0
}

fn absent(a: f64) -> bool {
    a < 300.0
}

const ALL: [Role; 3] = [Role::Caller, Role::Agent, Role::Supervisor];

#[test]
fn listen_mixes_caller_and_agent_for_the_supervisor_only() {
    let mut call = Call::new(MonitorMode::Listen, PCMU);
    call.talk(25, &ALL);
    let [c, a, s] = call.heard(To::Supervisor, Codec::Pcmu);
    assert!(present(c) && present(a) && absent(s), "{c} {a} {s}");
    assert!(call.packets(To::Side(Side::A)).is_empty());
    assert!(call.packets(To::Side(Side::B)).is_empty());
    assert!(!call.leg.feeds(Side::A) && !call.leg.feeds(Side::B));
    let stats = call.leg.stats();
    assert_eq!(stats.sent, 25);
    assert_eq!(stats.received, 25);
    assert_eq!(stats.latched, Some(supervisor_addr()));
    assert_eq!(stats.mixed_to, [0, 0]);
}

#[test]
fn whisper_the_agent_hears_caller_and_supervisor_the_caller_is_untouched() {
    let mut call = Call::new(MonitorMode::Whisper, PCMU);
    call.talk(25, &ALL);
    let [c, a, s] = call.heard(To::Side(Side::B), Codec::Pcma);
    assert!(present(c) && absent(a) && present(s), "agent: {c} {a} {s}");
    let [c, a, s] = call.heard(To::Supervisor, Codec::Pcmu);
    assert!(
        present(c) && present(a) && absent(s),
        "supervisor: {c} {a} {s}"
    );
    assert!(call.packets(To::Side(Side::A)).is_empty());
    assert!(call.leg.feeds(Side::B) && !call.leg.feeds(Side::A));
    assert_eq!(call.leg.stats().mixed_to, [0, 25]);
}

#[test]
fn barge_everyone_hears_the_other_two() {
    let mut call = Call::new(MonitorMode::Barge, PCMU);
    call.talk(25, &ALL);
    let [c, a, s] = call.heard(To::Side(Side::A), Codec::Pcmu);
    assert!(absent(c) && present(a) && present(s), "caller: {c} {a} {s}");
    let [c, a, s] = call.heard(To::Side(Side::B), Codec::Pcma);
    assert!(present(c) && absent(a) && present(s), "agent: {c} {a} {s}");
}

#[test]
fn listen_ignores_the_supervisor_so_whisper_starts_from_fresh_audio() {
    let mut call = Call::new(MonitorMode::Listen, PCMU);
    call.talk(20, &ALL);
    call.leg.set_mode(MonitorMode::Whisper);
    // The supervisor falls silent: nothing buffered in listen mode may reach the agent.
    call.talk(10, &[Role::Caller, Role::Agent]);
    let [c, _, s] = call.heard(To::Side(Side::B), Codec::Pcma);
    assert!(present(c) && absent(s), "agent: {c} {s}");
    // Once the supervisor talks again the agent hears it.
    call.talk(10, &ALL);
    let [_, _, s] = call.heard(To::Side(Side::B), Codec::Pcma);
    assert!(present(s), "agent hears the supervisor: {s}");
}

#[test]
fn mode_switches_keep_the_supervisor_stream_continuous_and_marked() {
    let mut call = Call::new(MonitorMode::Listen, PCMU);
    call.talk(5, &ALL);
    call.leg.set_mode(MonitorMode::Barge);
    call.talk(5, &ALL);
    call.leg.set_mode(MonitorMode::Listen);
    call.talk(5, &ALL);
    let headers: Vec<RtpHeader> = call
        .packets(To::Supervisor)
        .iter()
        .map(|p| decode(Codec::Pcmu, p).0)
        .collect();
    assert_eq!(headers.len(), 15);
    for pair in headers.windows(2) {
        assert_eq!(pair[1].ssrc, pair[0].ssrc);
        assert_eq!(pair[1].seq, pair[0].seq.next());
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(160));
    }
    let marked: Vec<usize> = (0..15).filter(|&i| headers[i].marker).collect();
    assert_eq!(marked, vec![0, 5, 10]);
    assert_ne!(headers[0].ssrc, MIX_SSRC);
}

#[test]
fn a_mix_toward_a_side_continues_what_its_peer_received() {
    let mut call = Call::new(MonitorMode::Listen, PCMU);
    call.talk(5, &ALL);
    call.leg.set_mode(MonitorMode::Whisper);
    call.talk(3, &ALL);
    let continues = call.sent.iter().find_map(|(_, target, _)| match target {
        Target::Side { continues, .. } => Some(*continues),
        Target::Supervisor(_) => None,
    });
    let point = continues
        .flatten()
        .expect("the caller's stream was relayed");
    assert_eq!(
        (point.ssrc, point.seq),
        (Ssrc(1), Seq(4)),
        "last relayed packet"
    );
}

#[test]
fn attached_straight_into_whisper_the_agent_stream_continues_the_callers() {
    let mut call = Call::new(MonitorMode::Whisper, PCMU);
    call.talk(3, &ALL);
    let Some((_, Target::Side { continues, .. }, _)) =
        call.sent.iter().find(|s| s.0 != To::Supervisor)
    else {
        panic!("a mix toward the agent");
    };
    let point = continues.expect("the caller's stream is known");
    // The first caller packet (seq 0) was replaced: the agent last received the one before.
    assert_eq!((point.ssrc, point.seq), (Ssrc(1), Seq(u16::MAX)));
    assert_eq!(point.timestamp, 0u32.wrapping_sub(160));
}

#[test]
fn telephone_events_are_relayed_in_the_mix_never_mixed() {
    let mut call = Call::new(MonitorMode::Whisper, PCMU);
    call.talk(5, &ALL);
    let now = call.t0 + ms(110);
    let event = |seq: u16, ts_frame: u16, end: bool| {
        let mut p = rtp(
            LegCodec { pt: 101, ..PCMU },
            seq,
            1,
            &[5, if end { 0x8a } else { 0x0a }, 0, 160],
        );
        p[4..8].copy_from_slice(&(u32::from(ts_frame) * 160).to_be_bytes());
        p
    };
    let first = event(5, 5, false);
    assert_eq!(call.leg.hear_side(now, Side::A, &first), Heard::Event);
    let out = |leg: &mut MonitorLeg, p: &[u8]| {
        let bytes = leg.event_toward(Side::B, p).expect("the agent has events");
        RtpPacket::parse(bytes).expect("valid").header
    };
    let a = out(&mut call.leg, &first);
    let b = out(&mut call.leg, &event(6, 5, true));
    call.talk(1, &ALL);
    let c = out(&mut call.leg, &event(7, 9, false));
    assert_eq!(a.pt.get(), 96, "the agent's telephone-event payload type");
    assert_eq!((a.ssrc, b.ssrc), (MIX_SSRC, MIX_SSRC));
    assert_eq!(b.seq, a.seq.next());
    assert_eq!(a.timestamp, b.timestamp, "one timestamp per event");
    assert_eq!(c.seq, b.seq.next().next(), "one mixed frame in between");
    assert_eq!(
        c.timestamp,
        a.timestamp + 160,
        "a new event, where the mix stands"
    );
    // The next mixed frame takes the next sequence number.
    call.talk(1, &ALL);
    let last = call.packets(To::Side(Side::B)).pop().expect("a mix");
    assert_eq!(decode(Codec::Pcma, last).0.seq, c.seq.next());
    // A side that negotiated no events gets none.
    call.leg.set_side_codec(
        Side::B,
        LegCodec {
            event_pt: None,
            ..PCMA
        },
    );
    assert!(call.leg.event_toward(Side::B, &first).is_none());
}

#[test]
fn strangers_and_unsignalled_supervisors_are_refused() {
    let t0 = Instant::now();
    let mut leg =
        MonitorLeg::new(MonitorMode::Barge, PCMU, [Some(PCMU); 2], 7, t0).expect("g711 legs");
    let packet = tone_packet(PCMU, SUPERVISOR_HZ, 0, 3);
    leg.hear_supervisor(t0, Channel::Rtp, supervisor_addr(), &packet);
    assert_eq!((leg.stats().received, leg.stats().refused), (0, 1));
    leg.set_remote(supervisor_addr());
    let natted = addr("198.51.100.9:30000");
    leg.hear_supervisor(t0, Channel::Rtp, natted, &packet);
    assert_eq!(
        leg.stats().latched,
        Some(natted),
        "latched to the real source"
    );
    let stranger = addr("198.51.100.9:30002");
    leg.hear_supervisor(t0, Channel::Rtp, stranger, &packet);
    let stats = leg.stats();
    assert_eq!((stats.received, stats.refused), (1, 2));
    // The signalled address itself takes the latch (the latch's rule 3).
    leg.hear_supervisor(t0, Channel::Rtp, supervisor_addr(), &packet);
    assert_eq!(leg.stats().latched, Some(supervisor_addr()));
}

#[test]
fn a_side_without_a_codec_is_not_mixed_until_it_has_one() {
    let t0 = Instant::now();
    let mut leg =
        MonitorLeg::new(MonitorMode::Barge, PCMU, [Some(PCMU), None], 7, t0).expect("g711 legs");
    assert!(leg.feeds(Side::A) && !leg.feeds(Side::B));
    let packet = tone_packet(PCMA, AGENT_HZ, 0, 2);
    assert_eq!(leg.hear_side(t0, Side::B, &packet), Heard::Other);
    leg.set_side_codec(Side::B, PCMA);
    assert!(leg.feeds(Side::B));
    assert_eq!(leg.hear_side(t0, Side::B, &packet), Heard::Audio);
    assert!(matches!(
        MonitorLeg::new(
            MonitorMode::Listen,
            LegCodec { pt: 200, ..PCMU },
            [None; 2],
            7,
            t0
        ),
        Err(MonitorError::PayloadType(200))
    ));
}

#[test]
fn a_stalled_tick_skips_ahead_with_the_timestamps() {
    let mut call = Call::new(MonitorMode::Listen, PCMU);
    call.talk(2, &ALL);
    let late = call.t0 + ms(40 + 1000);
    assert_eq!(call.leg.poll_timeout(), call.t0 + ms(60));
    call.tick_due(late);
    assert_eq!(
        call.leg.poll_timeout(),
        late + FRAME,
        "no burst to catch up"
    );
    let headers: Vec<RtpHeader> = call
        .packets(To::Supervisor)
        .iter()
        .map(|p| decode(Codec::Pcmu, p).0)
        .collect();
    let [.., before, after] = headers.as_slice() else {
        panic!("two packets at least");
    };
    assert_eq!(after.seq, before.seq.next());
    let jump = after.timestamp.wrapping_sub(before.timestamp);
    assert!(
        (49 * 160..=51 * 160).contains(&jump),
        "follows the clock: {jump}"
    );
}

#[cfg(feature = "opus")]
#[test]
fn an_opus_supervisor_hears_g711_parties() {
    use crate::codec::{OpusDecoder, Resampler};
    let opus = LegCodec {
        codec: Codec::Opus,
        pt: 111,
        event_pt: None,
    };
    let mut call = Call::new(MonitorMode::Listen, opus);
    call.talk(30, &[Role::Caller, Role::Agent]);
    let mut decoder = OpusDecoder::new().expect("opus built in");
    let mut down = Resampler::new(SampleRate::Hz48000, SampleRate::Hz8000);
    let mut pcm = Vec::new();
    let packets = call.packets(To::Supervisor);
    assert_eq!(packets.len(), 30);
    let mut last = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        let packet = RtpPacket::parse(p).expect("valid");
        if i > 0 {
            let step = packet
                .header
                .timestamp
                .wrapping_sub(last_ts(packets[i - 1]));
            assert_eq!(step, 960, "48 kHz RTP clock");
        }
        pcm.clear();
        decoder
            .decode(packet.payload, &mut pcm)
            .expect("valid opus");
        last.clear();
        down.process(&pcm, &mut last);
    }
    assert!(present(amplitude(&last, CALLER_HZ)), "caller");
    assert!(present(amplitude(&last, AGENT_HZ)), "agent");
}

#[cfg(feature = "opus")]
fn last_ts(p: &[u8]) -> u32 {
    RtpPacket::parse(p).expect("valid").header.timestamp
}
