//! What the node sends toward one side's peer when it does more than pass packets
//! through: prompts it plays, audio it transcodes, and the header rewriting that keeps
//! the peer's view of the stream continuous across all of that.
//!
//! Sans-IO: packets, `now` and a `send` callback in; nothing here touches a socket or the
//! clock. The relay task owns one [`Egress`] per side and consults it only when
//! [`Egress::is_pass_through`] says the fast path does not apply, so a plain relayed
//! call pays one branch per packet for all of this.
//!
//! The peer of a side sees exactly one RTP stream from the node: one SSRC, sequence
//! numbers without jumps, timestamps that follow the clock. Relayed packets, a prompt's
//! packets and transcoded packets are all sources of that one stream, switched by the
//! [`StreamRewriter`]; the first packet after a switch carries the marker bit.

use std::time::{Duration, Instant};

use crate::DropReason;
use crate::codec::{Codec, Transcoder};
use crate::playback::{LiveFeed, Playback, PlaybackError, PlaybackEvent};
use crate::rtp::{FIXED_HEADER_LEN, Pt, RtpHeader, RtpPacket, Seq, Ssrc, StreamRewriter};
use crate::wav::Prompt;

/// The codec a side's peer negotiated, as its SDP says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegCodec {
    /// The audio codec.
    pub codec: Codec,
    /// Its payload type on this leg.
    pub pt: u8,
    /// The payload type of telephone-event (RFC 4733) on this leg, if negotiated.
    pub event_pt: Option<u8>,
}

/// Where a relayed stream stood when the peer last received it untouched: the newest
/// packet's header fields and when it passed. A rewriter started later continues it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamPoint {
    pub(crate) ssrc: Ssrc,
    pub(crate) seq: Seq,
    pub(crate) timestamp: u32,
    pub(crate) at: Instant,
}

/// SSRCs of the node's internal sources; the rewriter replaces them on the wire.
const PLAYBACK_SSRC: Ssrc = Ssrc(0x5057_0001);
const TRANSCODE_SSRC: Ssrc = Ssrc(0x5057_0002);

/// Transcoding of the other side's audio into this side's codec.
#[derive(Debug)]
struct Transcode {
    from: LegCodec,
    transcoder: Transcoder,
    seq: Seq,
    timestamp: u32,
    payload: Vec<u8>,
}

/// First sender report after the node starts sending on a leg, then the interval
/// (RFC 3550 §6.2: 5 s for a two-party session; the first one sooner).
const FIRST_REPORT: Duration = Duration::from_secs(1);
const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// What the node has sent toward one side as the RTP source (for its sender reports).
#[derive(Debug, Clone, Copy)]
struct Sent {
    ssrc: Ssrc,
    packets: u32,
    octets: u32,
    /// Timestamp of the newest packet and when it was sent.
    timestamp: u32,
    at: Instant,
    next_report: Instant,
}

impl Sent {
    /// Counts one packet about to go out (a fixed 12-byte header, then payload).
    fn note(sent: &mut Option<Sent>, now: Instant, packet: &[u8]) {
        let (Some(ts), Some(ssrc)) = (packet.get(4..8), packet.get(8..12)) else {
            return;
        };
        let timestamp = u32::from_be_bytes([ts[0], ts[1], ts[2], ts[3]]);
        let ssrc = Ssrc(u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]));
        let payload = u32::try_from(packet.len().saturating_sub(FIXED_HEADER_LEN)).unwrap_or(0);
        let s = sent.get_or_insert(Sent {
            ssrc,
            packets: 0,
            octets: 0,
            timestamp,
            at: now,
            next_report: now + FIRST_REPORT,
        });
        s.ssrc = ssrc;
        s.packets = s.packets.wrapping_add(1);
        s.octets = s.octets.wrapping_add(payload);
        s.timestamp = timestamp;
        s.at = now;
    }
}

/// Everything the node sends toward one side's peer.
#[derive(Debug)]
pub(crate) struct Egress {
    codec: Option<LegCodec>,
    /// Seeds this side's SSRC, first sequence number and timestamp.
    seed: u64,
    rewriter: Option<StreamRewriter>,
    playback: Option<Playback>,
    transcode: Option<Transcode>,
    packet: Vec<u8>,
    /// Counts for sender reports, once the node is the RTP source on this leg.
    sent: Option<Sent>,
    /// The newest packet relayed untouched toward this side: a rewriter started later
    /// (a prompt, transcoding, a mix) carries that stream on.
    passed: Option<Passed>,
}

/// The header fields of a packet the peer received untouched.
#[derive(Debug, Clone, Copy)]
struct Passed {
    ssrc: Ssrc,
    seq: Seq,
    timestamp: u32,
}

impl Egress {
    /// An egress whose stream identifiers derive from `seed` (random per session).
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            codec: None,
            seed,
            rewriter: None,
            playback: None,
            transcode: None,
            packet: Vec::with_capacity(1500),
            sent: None,
            passed: None,
        }
    }

    /// Notes an RTP packet relayed untouched toward this side (the fast path does this
    /// itself; it costs a few stores), so that a stream the node starts later continues
    /// it: the peer then sees one SSRC and no sequence jump when a prompt begins. Some
    /// phones (baresip 1.0) never reset their jitter buffer on a new SSRC and drop
    /// every packet of a stream that starts "behind" the one before.
    pub(crate) fn note_passed(&mut self, datagram: &[u8]) {
        if let [v, _, s0, s1, t0, t1, t2, t3, c0, c1, c2, c3, ..] = *datagram
            && v >> 6 == 2
        {
            self.passed = Some(Passed {
                ssrc: Ssrc(u32::from_be_bytes([c0, c1, c2, c3])),
                seq: Seq(u16::from_be_bytes([s0, s1])),
                timestamp: u32::from_be_bytes([t0, t1, t2, t3]),
            });
        }
    }

    /// Whether relayed packets go out unchanged (the fast path).
    pub(crate) fn is_pass_through(&self) -> bool {
        self.rewriter.is_none()
    }

    /// The codec this side's peer negotiated.
    pub(crate) fn codec(&self) -> Option<LegCodec> {
        self.codec
    }

    /// Records what this side's peer negotiated. A changed codec restarts playback in
    /// it (the track playing is stopped) and drops a transcoder built for the old one.
    pub(crate) fn set_codec(&mut self, codec: LegCodec) {
        if self.codec == Some(codec) {
            return;
        }
        self.codec = Some(codec);
        if let Some(mut playback) = self.playback.take() {
            playback.stop();
            // The stopped tracks still owe their events: keep the player until drained.
            self.playback = Some(playback);
        }
        self.transcode = None;
    }

    /// Transcodes packets from a peer that speaks `from` into this side's codec, or
    /// stops transcoding (`None`, or the same codec).
    pub(crate) fn transcode_from(
        &mut self,
        from: Option<LegCodec>,
    ) -> Result<(), crate::codec::CodecError> {
        let (Some(from), Some(to)) = (from, self.codec) else {
            self.transcode = None;
            return Ok(());
        };
        if from.codec == to.codec {
            self.transcode = None;
            return Ok(());
        }
        if self.transcode.as_ref().is_some_and(|t| t.from == from) {
            return Ok(());
        }
        self.transcode = Some(Transcode {
            from,
            transcoder: Transcoder::new(from.codec, to.codec)?,
            seq: Seq(0),
            timestamp: 0,
            payload: Vec::with_capacity(1500),
        });
        self.ensure_rewriter();
        Ok(())
    }

    /// Queues `prompts` as track `id` toward this side's peer.
    pub(crate) fn play(
        &mut self,
        now: Instant,
        id: u64,
        prompts: Vec<Prompt>,
    ) -> Result<(), PlaybackError> {
        self.player()?.play(now, id, prompts)?;
        self.ensure_rewriter();
        Ok(())
    }

    /// Queues a live track `id` fed by `feed` toward this side's peer.
    pub(crate) fn play_live(
        &mut self,
        now: Instant,
        id: u64,
        feed: LiveFeed,
    ) -> Result<(), PlaybackError> {
        self.player()?.play_live(now, id, feed);
        self.ensure_rewriter();
        Ok(())
    }

    /// The player for this side's negotiated codec and payload type, made (or remade,
    /// after a codec change) on demand.
    fn player(&mut self) -> Result<&mut Playback, PlaybackError> {
        let codec = self.codec.ok_or(PlaybackError::NoCodec)?;
        let current = self
            .playback
            .as_ref()
            .is_some_and(|p| p.codec() == codec.codec && p.pt() == codec.pt);
        if !current {
            let pt = Pt::new(codec.pt).ok_or(PlaybackError::NoCodec)?;
            self.playback = Some(Playback::new(codec.codec, pt, PLAYBACK_SSRC, Seq(0), 0)?);
        }
        self.playback.as_mut().ok_or(PlaybackError::NoCodec)
    }

    /// Stops every track queued toward this side.
    pub(crate) fn stop_playback(&mut self) {
        if let Some(playback) = &mut self.playback {
            playback.stop();
        }
    }

    /// The next track end.
    pub(crate) fn poll_event(&mut self) -> Option<PlaybackEvent> {
        self.playback.as_mut()?.poll_event()
    }

    /// When [`Self::generate`] next has a packet.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let play = self.playback.as_ref().and_then(Playback::poll_timeout);
        let report = self.report_due();
        match (play, report) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the next sender report is due, while the node is this leg's RTP source.
    fn report_due(&self) -> Option<Instant> {
        if self.is_pass_through() {
            return None;
        }
        self.sent.map(|s| s.next_report)
    }

    /// Whether a sender report is due at `now` (then ask [`Self::poll_report`]).
    pub(crate) fn wants_report(&self, now: Instant) -> bool {
        self.report_due().is_some_and(|due| due <= now)
    }

    /// The sender report due at `now` (RFC 3550 §6.4.1), with `block` — how this side's
    /// own stream reaches the node — and a CNAME, written into `out`; `wall` is `now`
    /// on the wall clock. `false` when none is due.
    pub(crate) fn poll_report(
        &mut self,
        now: Instant,
        wall: crate::rtp::NtpTime,
        block: Option<crate::rtp::ReportBlock>,
        out: &mut Vec<u8>,
    ) -> bool {
        if self.report_due().is_none_or(|due| due > now) {
            return false;
        }
        let Some(sent) = self.sent.as_mut() else {
            return false;
        };
        sent.next_report = now + REPORT_INTERVAL;
        let clock = self.codec.map_or(8000, |c| c.codec.clock_rate());
        let elapsed = now.saturating_duration_since(sent.at);
        // Truncation to 32 bits is the timestamp's own wrap-around.
        let ticks = (elapsed.as_nanos() * u128::from(clock) / 1_000_000_000) as u32;
        let report = crate::rtp::RtcpPacket::SenderReport(crate::rtp::SenderReport {
            ssrc: sent.ssrc,
            info: crate::rtp::SenderInfo {
                ntp: wall,
                rtp_timestamp: sent.timestamp.wrapping_add(ticks),
                packet_count: sent.packets,
                octet_count: sent.octets,
            },
            reports: block.into_iter().collect(),
        });
        let cname = crate::rtp::RtcpPacket::SourceDescription(
            crate::rtp::SourceDescription::with_cname(sent.ssrc, b"switchyard"),
        );
        out.clear();
        out.resize(512, 0);
        match crate::rtp::write_compound(&[report, cname], out) {
            Ok(n) => {
                out.truncate(n);
                true
            }
            Err(_) => false,
        }
    }

    /// Hands every packet due at `now` to `send`.
    pub(crate) fn generate(&mut self, now: Instant, mut send: impl FnMut(&[u8])) {
        let (Some(playback), Some(rewriter)) = (&mut self.playback, &mut self.rewriter) else {
            return;
        };
        // A codec failure on a prompt frame ends nothing: the frame is skipped.
        while let Ok(true) = playback.poll_packet(now, &mut self.packet) {
            if rewriter.rewrite_in_place(now, &mut self.packet).is_ok() {
                Sent::note(&mut self.sent, now, &self.packet);
                send(&self.packet);
            }
        }
    }

    /// Sends one RTP packet relayed from the other side toward this side's peer, as it
    /// must look here; `datagram` may be rewritten in place.
    pub(crate) fn forward(
        &mut self,
        now: Instant,
        datagram: &mut [u8],
        mut send: impl FnMut(&[u8]),
    ) -> Result<(), DropReason> {
        if self.playback.as_ref().is_some_and(Playback::is_playing) {
            return Err(DropReason::Playing);
        }
        let Some(rewriter) = &mut self.rewriter else {
            send(datagram);
            self.note_passed(datagram);
            return Ok(());
        };
        let Some(transcode) = &mut self.transcode else {
            rewriter
                .rewrite_in_place(now, datagram)
                .map_err(|_| DropReason::Undecodable)?;
            Sent::note(&mut self.sent, now, datagram);
            send(datagram);
            return Ok(());
        };
        let packet = RtpPacket::parse(datagram).map_err(|_| DropReason::Undecodable)?;
        let pt = packet.header.pt.get();
        let to = self.codec.ok_or(DropReason::NoDestination)?;
        if Some(pt) == transcode.from.event_pt {
            // Telephone-events keep their payload; only the payload type changes.
            let event_pt = to
                .event_pt
                .and_then(Pt::new)
                .ok_or(DropReason::Undecodable)?;
            let rewrite = rewriter.rewrite(now, &packet.header);
            let pt_byte = datagram.get_mut(1).ok_or(DropReason::Undecodable)?;
            *pt_byte = (*pt_byte & 0x80) | event_pt.get();
            rewrite
                .apply(datagram)
                .map_err(|_| DropReason::Undecodable)?;
            Sent::note(&mut self.sent, now, datagram);
            send(datagram);
            return Ok(());
        }
        if pt != transcode.from.pt {
            return Err(DropReason::Undecodable);
        }
        transcode
            .transcoder
            .push(packet.payload)
            .map_err(|_| DropReason::Undecodable)?;
        let out_pt = Pt::new(to.pt).ok_or(DropReason::Undecodable)?;
        let step = to.codec.clock_rate() / 50;
        while let Ok(true) = transcode.transcoder.poll_payload(&mut transcode.payload) {
            let mut header =
                RtpHeader::new(out_pt, transcode.seq, transcode.timestamp, TRANSCODE_SSRC);
            header.marker = packet.header.marker;
            transcode.seq = transcode.seq.wrapping_add(1);
            transcode.timestamp = transcode.timestamp.wrapping_add(step);
            let rewrite = rewriter.rewrite(now, &header);
            self.packet.clear();
            self.packet.resize(FIXED_HEADER_LEN, 0);
            header.ssrc = rewrite.ssrc;
            header.seq = rewrite.seq;
            header.timestamp = rewrite.timestamp;
            header.marker = rewrite.marker;
            let written = header
                .write(None, &mut self.packet)
                .map_err(|_| DropReason::Undecodable)?;
            self.packet.truncate(written);
            self.packet.extend_from_slice(&transcode.payload);
            Sent::note(&mut self.sent, now, &self.packet);
            send(&self.packet);
        }
        Ok(())
    }

    /// Sends one RTP packet the node sources itself (a mixed frame, or an event
    /// carried in the mixed stream) toward this side's peer, rewritten in place into the
    /// leg's stream. While a prompt plays toward this side the packet is dropped.
    ///
    /// `continues` is where the stream the peer received untouched stood, if it did: a
    /// rewriter started now carries that stream on (same SSRC, the next sequence
    /// number, the timestamp advanced by the time elapsed and at least one 20 ms frame),
    /// so the peer sees no new stream at all.
    pub(crate) fn send_own(
        &mut self,
        now: Instant,
        packet: &mut [u8],
        continues: Option<StreamPoint>,
        send: impl FnOnce(&[u8]),
    ) -> Result<(), DropReason> {
        if self.playback.as_ref().is_some_and(Playback::is_playing) {
            return Err(DropReason::Playing);
        }
        if self.rewriter.is_none()
            && let Some(point) = continues
        {
            self.rewriter = Some(self.continuing(now, point));
        }
        self.ensure_rewriter();
        let rewriter = self.rewriter.as_mut().ok_or(DropReason::NoDestination)?;
        rewriter
            .rewrite_in_place(now, packet)
            .map_err(|_| DropReason::Undecodable)?;
        Sent::note(&mut self.sent, now, packet);
        send(packet);
        Ok(())
    }

    /// A rewriter whose first packet follows `point`.
    fn continuing(&self, now: Instant, point: StreamPoint) -> StreamRewriter {
        let clock = self.codec.map_or(8000, |c| c.codec.clock_rate());
        let elapsed =
            now.saturating_duration_since(point.at).as_nanos() * u128::from(clock) / 1_000_000_000;
        // Truncation to 32 bits is the timestamp's own wrap-around.
        let advance = (elapsed as u32).max(clock / 50);
        StreamRewriter::new(
            point.ssrc,
            clock,
            point.seq.next(),
            point.timestamp.wrapping_add(advance),
        )
    }

    fn ensure_rewriter(&mut self) {
        if self.rewriter.is_some() {
            return;
        }
        let clock = self.codec.map_or(8000, |c| c.codec.clock_rate());
        if let Some(passed) = self.passed {
            // The stream the peer received untouched goes on: its SSRC, the next
            // sequence number, one frame later (the time since is not known here).
            self.rewriter = Some(StreamRewriter::new(
                passed.ssrc,
                clock,
                passed.seq.next(),
                passed.timestamp.wrapping_add(clock / 50),
            ));
            return;
        }
        let seed = self.seed;
        // SSRC, first sequence number and timestamp: independent bits of the seed.
        let ssrc = Ssrc((seed >> 32) as u32);
        let seq = Seq((seed >> 16) as u16);
        let timestamp = (seed as u32).rotate_left(7);
        self.rewriter = Some(StreamRewriter::new(ssrc, clock, seq, timestamp));
    }
}

#[cfg(test)]
#[path = "egress_tests.rs"]
mod tests;
