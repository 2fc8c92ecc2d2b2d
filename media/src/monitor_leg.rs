//! A supervisor on a relayed call: the session's third leg and the 20 ms mixing tick
//! behind listen, whisper and barge.
//!
//! Sans-IO: [`MonitorLeg`] is told every RTP packet the caller (side A) and the agent
//! (side B) send ([`MonitorLeg::hear_side`]) and every datagram that reaches the
//! supervisor's sockets ([`MonitorLeg::hear_supervisor`]), each with its arrival `now`;
//! when [`MonitorLeg::poll_timeout`] is due the relay task calls [`MonitorLeg::tick`],
//! which hands out the packets to send. Nothing here touches a socket or a clock.
//!
//! ```text
//!  A audio ─► jitter ─► decode ─┐                      ┌─► encode ─► supervisor (own SSRC)
//!  B audio ─► jitter ─► decode ─┼─► Monitor (mode) ────┼─► encode ─► B's egress (whisper, barge)
//!  S audio ─► jitter ─► decode ─┘   every 20 ms        └─► encode ─► A's egress (barge)
//! ```
//!
//! - **Who hears whom** is [`MonitorMode::hears`]. A side whose peer hears the supervisor
//!   gets mixed frames instead of the other side's relayed audio ([`MonitorLeg::feeds`]);
//!   otherwise the other side's packets keep passing through untouched (the fast path).
//! - **Streams.** The supervisor's stream is the leg's own: one SSRC, sequence numbers
//!   and timestamps that advance by one frame per tick, the marker bit on the first
//!   packet and after each mode switch. Mixed frames toward A or B leave as one internal
//!   source that the side's egress rewrites into the stream that peer already receives.
//! - **Telephone-events** are never mixed; an event from a side whose peer hears mixes
//!   is carried into the mixed stream by [`MonitorLeg::event_toward`] (one output
//!   timestamp per event, the peer's event payload type).
//! - **The supervisor's packets** are latched like a side's (symmetric RTP, the rules of
//!   [`Latch`]) and ignored in listen mode; their RTCP is latched and dropped.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::codec::{CodecError, SampleRate, frame_samples};
use crate::egress::StreamPoint;
use crate::mix::leg::{MixLeg, mix_rate};
use crate::mix::{Monitor, MonitorInput, MonitorMode, MonitorOutput, Normalisation, Role};
use crate::rtp::{FIXED_HEADER_LEN, Pt, RtpHeader, RtpPacket, Seq, Ssrc};
use crate::{Channel, DropReason, Latch, LegCodec, RelayError, Side, Verdict};

/// The mixing period.
const FRAME: Duration = Duration::from_millis(20);
/// A tick later than this skips ahead instead of catching up frame by frame.
const MAX_LAG: Duration = Duration::from_millis(100);
/// SSRC of the mixed source toward A and B; their rewriters replace it on the wire.
const MIX_SSRC: Ssrc = Ssrc(0x5057_0003);

/// Why a supervisor leg could not be attached or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// The session has a supervisor already (detach it first, or change its mode).
    #[error("a supervisor is already attached to this session")]
    Attached,
    /// The session has no supervisor.
    #[error("no supervisor is attached to this session")]
    NotAttached,
    /// The supervisor's codec cannot be mixed (not audio, or Opus when built without it).
    #[error("supervisor codec: {0}")]
    Codec(#[from] CodecError),
    /// The supervisor's payload type is not a valid RTP payload type (above 127).
    #[error("payload type {0} is not an RTP payload type")]
    PayloadType(u8),
    /// No port pair for the supervisor's sockets.
    #[error(transparent)]
    Relay(#[from] RelayError),
}

/// Counters of a session's supervisor leg, from [`Session::monitor_stats`].
///
/// [`Session::monitor_stats`]: crate::Session::monitor_stats
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MonitorStats {
    /// The mode in force.
    pub mode: MonitorMode,
    /// RTP packets sent to the supervisor.
    pub sent: u64,
    /// RTP packets accepted from the supervisor (in every mode; mixed only when
    /// whispering or barging).
    pub received: u64,
    /// Datagrams refused on the supervisor's sockets (not from the latched source, or
    /// before its address was set).
    pub refused: u64,
    /// Mixed packets sent toward the caller (side A) and toward the agent (side B).
    pub mixed_to: [u64; 2],
    /// Audio packets of A or B not relayed because the other side heard a mix instead.
    pub replaced: u64,
    /// The supervisor's latched RTP source.
    pub latched: Option<SocketAddr>,
}

/// What a packet from side A or B is, to the mixer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Heard {
    /// Audio in the side's codec: buffered for the mix.
    Audio,
    /// A telephone-event: relayed, never mixed.
    Event,
    /// Anything else (unparsable, an unknown payload type, no codec known).
    Other,
}

/// Where a packet handed out by [`MonitorLeg::tick`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// To the supervisor, at this address, from the supervisor's RTP socket.
    Supervisor(SocketAddr),
    /// Through `side`'s egress (rewritten into its stream) to its peer.
    Side {
        /// The side whose peer hears the mix.
        side: Side,
        /// Where that peer's untouched stream stood.
        continues: Option<StreamPoint>,
    },
}

/// The sequence and timestamp line of one outgoing stream.
#[derive(Clone, Copy, Debug)]
struct Line {
    ssrc: Ssrc,
    seq: Seq,
    timestamp: u32,
    marker: bool,
}

impl Line {
    /// The header of the next audio packet; advances by one frame of `step` ticks.
    fn next(&mut self, pt: Pt, step: u32) -> RtpHeader {
        let mut header = RtpHeader::new(pt, self.seq, self.timestamp, self.ssrc);
        header.marker = std::mem::take(&mut self.marker);
        self.seq = self.seq.next();
        self.timestamp = self.timestamp.wrapping_add(step);
        header
    }
}

/// An event's input timestamp and the output timestamp it maps to.
#[derive(Clone, Copy, Debug, Default)]
struct EventMap {
    input: Option<u32>,
    output: u32,
}

/// A session's supervisor leg and mixer; see the module docs.
#[derive(Debug)]
pub(crate) struct MonitorLeg {
    mixer: Monitor,
    rate: SampleRate,
    /// Codecs and audio paths, indexed by [`Role::index`].
    codecs: [Option<LegCodec>; 3],
    legs: [Option<MixLeg>; 3],
    /// The supervisor's flows, as side A of a latch of their own.
    latch: Latch,
    /// Outgoing lines: toward A, toward B, toward the supervisor.
    lines: [Line; 3],
    events: [EventMap; 2],
    /// The newest packet each side sent (what the other side's peer received untouched).
    heard: [Option<StreamPoint>; 2],
    next_tick: Instant,
    output: MonitorOutput,
    payload: Vec<u8>,
    packet: Vec<u8>,
    stats: MonitorStats,
}

fn role(side: Side) -> Role {
    match side {
        Side::A => Role::Caller,
        Side::B => Role::Agent,
    }
}

/// The supervisor's line index in [`MonitorLeg::lines`].
const SUPERVISOR: usize = 2;

impl MonitorLeg {
    /// A supervisor in `mode` speaking `codec`, on a call whose sides speak `sides`
    /// (unknown sides stay silent until [`Self::set_side_codec`]); `seed` draws the
    /// supervisor stream's SSRC, first sequence number and timestamp. The first tick
    /// is one frame after `now`.
    pub(crate) fn new(
        mode: MonitorMode,
        codec: LegCodec,
        sides: [Option<LegCodec>; 2],
        seed: u64,
        now: Instant,
    ) -> Result<Self, MonitorError> {
        Pt::new(codec.pt).ok_or(MonitorError::PayloadType(codec.pt))?;
        let codecs = [sides[0], sides[1], Some(codec)];
        let rate = mix_rate(codecs.iter().flatten().map(|c| c.codec));
        let mix_line = Line {
            ssrc: MIX_SSRC,
            seq: Seq(0),
            timestamp: 0,
            marker: true,
        };
        let own = Line {
            ssrc: Ssrc((seed >> 32) as u32),
            seq: Seq((seed >> 16) as u16),
            timestamp: (seed as u32).rotate_left(11),
            marker: true,
        };
        let mut leg = Self {
            mixer: Monitor::new(mode, frame_samples(rate.hz()), Normalisation::Limit),
            rate,
            codecs,
            legs: [None, None, Some(MixLeg::new(codec.codec, rate)?)],
            latch: Latch::new(),
            lines: [mix_line, mix_line, own],
            events: [EventMap::default(); 2],
            heard: [None; 2],
            next_tick: now + FRAME,
            output: MonitorOutput::default(),
            payload: Vec::with_capacity(1500),
            packet: Vec::with_capacity(1500),
            stats: MonitorStats {
                mode,
                sent: 0,
                received: 0,
                refused: 0,
                mixed_to: [0; 2],
                replaced: 0,
                latched: None,
            },
        };
        leg.rebuild();
        Ok(leg)
    }

    /// The mode in force.
    pub(crate) fn mode(&self) -> MonitorMode {
        self.mixer.mode()
    }

    /// Switches mode from the next tick on. Each stream stays continuous: the
    /// supervisor's is marked, and a side that starts or stops hearing mixes changes
    /// source inside its own rewritten stream.
    pub(crate) fn set_mode(&mut self, mode: MonitorMode) {
        if mode == self.mode() {
            return;
        }
        self.mixer.set_mode(mode);
        self.stats.mode = mode;
        for line in &mut self.lines {
            line.marker = true;
        }
        if mode == MonitorMode::Listen
            && let Some(supervisor) = &mut self.legs[Role::Supervisor.index()]
        {
            // Ignored from now on: what was buffered is stale when talking resumes.
            supervisor.restart();
        }
    }

    /// Records the supervisor's RTP address from its SDP (RTCP at port + 1). A changed
    /// address lets the leg latch again.
    pub(crate) fn set_remote(&mut self, rtp: SocketAddr) {
        self.latch.set_remote(Side::A, rtp, None);
    }

    /// Changes the supervisor's codec (a re-INVITE).
    pub(crate) fn set_codec(&mut self, codec: LegCodec) -> Result<(), MonitorError> {
        Pt::new(codec.pt).ok_or(MonitorError::PayloadType(codec.pt))?;
        let rate = mix_rate(self.side_codecs().chain([codec.codec]));
        let leg = MixLeg::new(codec.codec, rate)?;
        let supervisor = Role::Supervisor.index();
        self.codecs[supervisor] = Some(codec);
        self.legs[supervisor] = Some(leg);
        // A new mix rate rebuilds every path (this one included).
        self.rebuild();
        Ok(())
    }

    /// Records the codec `side`'s peer negotiated.
    pub(crate) fn set_side_codec(&mut self, side: Side, codec: LegCodec) {
        self.codecs[role(side).index()] = Some(codec);
        self.rebuild();
    }

    fn side_codecs(&self) -> impl Iterator<Item = crate::codec::Codec> + '_ {
        self.codecs[..2].iter().flatten().map(|c| c.codec)
    }

    /// Brings the mixer and each participant's path in line with the codecs: a path is
    /// rebuilt when its codec or the mix rate changed; one that cannot be built is silent.
    fn rebuild(&mut self) {
        let rate = mix_rate(self.codecs.iter().flatten().map(|c| c.codec));
        let rate_changed = rate != self.rate;
        if rate_changed {
            self.rate = rate;
            self.mixer = Monitor::new(
                self.mixer.mode(),
                frame_samples(rate.hz()),
                Normalisation::Limit,
            );
        }
        for (codec, leg) in self.codecs.iter().zip(&mut self.legs) {
            let current = leg.as_ref().map(MixLeg::codec);
            let wanted = codec.map(|c| c.codec);
            if rate_changed || current != wanted {
                *leg = wanted.and_then(|c| MixLeg::new(c, rate).ok());
            }
        }
    }

    /// Whether `side`'s peer hears mixed frames now, instead of the other side's audio.
    pub(crate) fn feeds(&self, side: Side) -> bool {
        let role = role(side);
        self.mode().hears(role, Role::Supervisor) && self.legs[role.index()].is_some()
    }

    /// Takes one RTP packet `side` sent, accepted by the session's latch at `now`.
    pub(crate) fn hear_side(&mut self, now: Instant, side: Side, datagram: &[u8]) -> Heard {
        let Ok(packet) = RtpPacket::parse(datagram) else {
            return Heard::Other;
        };
        let header = packet.header;
        let role = role(side).index();
        self.note_heard(now, side, &header);
        let Some(codec) = self.codecs[role] else {
            return Heard::Other;
        };
        let pt = header.pt.get();
        if Some(pt) == codec.event_pt {
            return Heard::Event;
        }
        if pt != codec.pt {
            return Heard::Other;
        }
        if let Some(leg) = &mut self.legs[role] {
            leg.push(now, &header, packet.payload);
        }
        Heard::Audio
    }

    /// Records where the other side's peer stands in the stream `side` sends: at this
    /// packet when it is relayed untouched; when a mix replaces it and nothing was
    /// recorded since the supervisor joined (attached straight into whisper or barge),
    /// just before it, since the peer was receiving this stream until now.
    fn note_heard(&mut self, now: Instant, side: Side, header: &RtpHeader) {
        let point = StreamPoint {
            ssrc: header.ssrc,
            seq: header.seq,
            timestamp: header.timestamp,
            at: now,
        };
        let relayed = !self.feeds(side.other());
        let heard = &mut self.heard[side.index()];
        if relayed {
            *heard = Some(point);
        } else if heard.is_none() {
            let step = self.codecs[role(side).index()].map_or(160, |c| c.codec.clock_rate() / 50);
            *heard = Some(StreamPoint {
                seq: header.seq.wrapping_add(u16::MAX),
                timestamp: header.timestamp.wrapping_sub(step),
                at: now.checked_sub(FRAME).unwrap_or(now),
                ..point
            });
        }
    }

    /// Where the stream `side` sends stood when last relayed untouched to the other side.
    pub(crate) fn continues(&self, side: Side) -> Option<StreamPoint> {
        self.heard[side.index()]
    }

    /// Counts a packet of A or B that was not relayed because a mix replaced it.
    pub(crate) fn note_replaced(&mut self) {
        self.stats.replaced += 1;
    }

    /// Takes one datagram that reached the supervisor's `channel` socket from `source`.
    pub(crate) fn hear_supervisor(
        &mut self,
        now: Instant,
        channel: Channel,
        source: SocketAddr,
        datagram: &[u8],
    ) {
        if let Verdict::Drop(reason) = self.latch.handle_packet(Side::A, channel, source)
            && reason != DropReason::NoDestination
        {
            self.stats.refused += 1;
            return;
        }
        if channel == Channel::Rtcp || crate::rtt::is_muxed_rtcp(datagram) {
            return;
        }
        let Ok(packet) = RtpPacket::parse(datagram) else {
            return;
        };
        self.stats.received += 1;
        let supervisor = Role::Supervisor.index();
        let is_audio = self.codecs[supervisor].is_some_and(|c| c.pt == packet.header.pt.get());
        if self.mode() == MonitorMode::Listen || !is_audio {
            return;
        }
        if let Some(leg) = &mut self.legs[supervisor] {
            leg.push(now, &packet.header, packet.payload);
        }
    }

    /// The event `datagram` (a telephone-event from the other side) as a packet of the
    /// mixed stream toward `to`, in `to`'s event payload type: `None` when `to`'s peer
    /// negotiated no telephone-event or the packet does not parse. Every packet of one
    /// event (one input timestamp) gets one output timestamp: where the mix stood when
    /// the event began.
    pub(crate) fn event_toward(&mut self, to: Side, datagram: &[u8]) -> Option<&mut [u8]> {
        let codec = self.codecs[role(to).index()]?;
        let pt = Pt::new(codec.event_pt?)?;
        let packet = RtpPacket::parse(datagram).ok()?;
        let line = &mut self.lines[to.index()];
        let map = &mut self.events[to.index()];
        if map.input != Some(packet.header.timestamp) {
            *map = EventMap {
                input: Some(packet.header.timestamp),
                output: line.timestamp,
            };
        }
        let mut header = RtpHeader::new(pt, line.seq, map.output, MIX_SSRC);
        header.marker = packet.header.marker;
        line.seq = line.seq.next();
        write_packet(&header, packet.payload, &mut self.packet)?;
        Some(&mut self.packet)
    }

    /// When [`Self::tick`] is next due.
    pub(crate) fn poll_timeout(&self) -> Instant {
        self.next_tick
    }

    /// Mixes one frame, due at or before `now`, and hands each packet to `emit`, which
    /// returns whether it went out.
    pub(crate) fn tick(&mut self, now: Instant, mut emit: impl FnMut(Target, &mut [u8]) -> bool) {
        self.advance_clock(now);
        if !self.mix(now) {
            return;
        }
        if let Some(to) = self.latch.destination(Side::A, Channel::Rtp)
            && self.encode(Role::Supervisor, SUPERVISOR)
            && emit(Target::Supervisor(to), &mut self.packet)
        {
            self.stats.sent += 1;
        }
        for side in Side::ALL {
            if !self.feeds(side) || !self.encode(role(side), side.index()) {
                continue;
            }
            let continues = self.continues(side.other());
            if emit(Target::Side { side, continues }, &mut self.packet) {
                self.stats.mixed_to[side.index()] += 1;
            }
        }
    }

    /// Moves the tick one frame on, or skips ahead (timestamps following) after a stall.
    fn advance_clock(&mut self, now: Instant) {
        let late = now.saturating_duration_since(self.next_tick);
        if late <= MAX_LAG {
            self.next_tick += FRAME;
            return;
        }
        let skipped = u32::try_from(late.as_nanos() / FRAME.as_nanos()).unwrap_or(u32::MAX);
        self.next_tick = now + FRAME;
        for (line, codec) in self.lines.iter_mut().zip(self.codecs) {
            let step = codec.map_or(160, |c| c.codec.clock_rate() / 50);
            line.timestamp = line.timestamp.wrapping_add(step.wrapping_mul(skipped));
        }
    }

    /// Pulls each participant's frame and mixes; `false` when nothing can be sent.
    fn mix(&mut self, now: Instant) -> bool {
        let talks = self.mode() != MonitorMode::Listen;
        let [caller, agent, supervisor] = &mut self.legs;
        let input = MonitorInput {
            caller: caller.as_mut().and_then(|leg| leg.pull(now)),
            agent: agent.as_mut().and_then(|leg| leg.pull(now)),
            supervisor: supervisor
                .as_mut()
                .filter(|_| talks)
                .and_then(|leg| leg.pull(now)),
        };
        self.mixer.mix(&input, &mut self.output).is_ok()
    }

    /// Encodes `role`'s mixed frame as the next packet of line `line`, into
    /// `self.packet`; `false` when that participant has no working path.
    fn encode(&mut self, role: Role, line: usize) -> bool {
        let (Some(leg), Some(codec)) = (&mut self.legs[role.index()], self.codecs[role.index()])
        else {
            return false;
        };
        let Some(pt) = Pt::new(codec.pt) else {
            return false;
        };
        let step = codec.codec.clock_rate() / 50;
        let header = self.lines[line].next(pt, step);
        if leg
            .encode(self.output.frame(role), &mut self.payload)
            .is_err()
        {
            return false;
        }
        write_packet(&header, &self.payload, &mut self.packet).is_some()
    }

    /// Counters so far.
    pub(crate) fn stats(&self) -> MonitorStats {
        MonitorStats {
            latched: self.latch.latched(Side::A, Channel::Rtp),
            ..self.stats
        }
    }
}

/// Writes `header` and `payload` into `out`.
fn write_packet(header: &RtpHeader, payload: &[u8], out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    out.resize(FIXED_HEADER_LEN, 0);
    let written = header.write(None, out).ok()?;
    out.truncate(written);
    out.extend_from_slice(payload);
    Some(())
}

#[cfg(test)]
#[path = "monitor_leg_tests.rs"]
mod tests;
