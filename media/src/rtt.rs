//! Round-trip time of each leg, measured from the RTCP the relay forwards — without the
//! node sending any RTCP of its own.
//!
//! A sender report from side O carries its NTP time; the relay notes the middle 32 bits
//! and when the report passed through (t₁). Side S's next report block about O's stream
//! echoes those bits as LSR with DLSR, the time S held the report. When that block
//! passes through the relay at t₂, `t₂ − t₁ − DLSR` is the round trip between the node
//! and S alone: the relay → S hop, S's processing excluded, and S → relay.
//!
//! ```text
//!  O ──SR(ntp)──► relay (t₁) ──SR──► S
//!                 relay (t₂) ◄──RR(LSR=ntp, DLSR)── S       rtt(S) = t₂ − t₁ − DLSR
//! ```
//!
//! Sans-IO: datagrams and `now` in, durations out. Malformed RTCP is ignored.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::Side;
use crate::rtp::{ReportBlock, RtcpPacket, RtcpPackets, duration_from_compact};

/// Sender reports remembered per side: RTCP goes every few seconds, and a report block
/// echoes one of the last few.
const REMEMBERED: usize = 8;

/// Whether a datagram on an RTP port is RTCP multiplexed onto it (RFC 5761 §4: its second
/// byte, the RTCP packet type, is 192–223, a range RTP payload types avoid).
#[must_use]
pub(crate) fn is_muxed_rtcp(datagram: &[u8]) -> bool {
    datagram.get(1).is_some_and(|b| (192..=223).contains(b))
}

/// Round-trip times of both legs of a relayed session.
#[derive(Debug, Default)]
pub(crate) struct RelayedRtt {
    /// Per side: (NTP middle 32 bits, when the SR passed the relay), newest last.
    reports: [VecDeque<(u32, Instant)>; 2],
    /// Per side: the latest round trip between the node and that side's peer.
    rtt: [Option<Duration>; 2],
}

impl RelayedRtt {
    /// Takes note of an RTCP datagram `side` sent, at `now`.
    pub(crate) fn handle(&mut self, side: Side, datagram: &[u8], now: Instant) {
        for packet in RtcpPackets::new(datagram) {
            match packet {
                Ok(RtcpPacket::SenderReport(sr)) => {
                    let seen = &mut self.reports[side.index()];
                    if seen.len() == REMEMBERED {
                        seen.pop_front();
                    }
                    seen.push_back((sr.info.ntp.middle32(), now));
                    self.blocks(side, &sr.reports, now);
                }
                Ok(RtcpPacket::ReceiverReport(rr)) => self.blocks(side, &rr.reports, now),
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }

    /// The latest round trip between the node and `side`'s peer.
    pub(crate) fn rtt(&self, side: Side) -> Option<Duration> {
        self.rtt[side.index()]
    }

    fn blocks(&mut self, side: Side, blocks: &[ReportBlock], now: Instant) {
        let echoed = &self.reports[side.other().index()];
        for block in blocks.iter().filter(|b| b.last_sr != 0) {
            let Some(&(_, passed)) = echoed.iter().find(|(ntp, _)| *ntp == block.last_sr) else {
                continue;
            };
            let held = duration_from_compact(block.delay_since_last_sr);
            if let Some(rtt) = now.saturating_duration_since(passed).checked_sub(held) {
                self.rtt[side.index()] = Some(rtt);
            }
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "each test takes one Instant as an anchor; every other time is arithmetic on it"
)]
mod tests {
    use super::*;
    use crate::rtp::{
        NtpTime, ReceiverReport, SenderInfo, SenderReport, Ssrc, compact_from_duration,
        write_compound,
    };

    const MS: Duration = Duration::from_millis(1);

    fn sr(ntp: NtpTime) -> Vec<u8> {
        let packet = RtcpPacket::SenderReport(SenderReport {
            ssrc: Ssrc(1),
            info: SenderInfo {
                ntp,
                ..SenderInfo::default()
            },
            reports: Vec::new(),
        });
        let mut buf = [0u8; 256];
        let n = write_compound(&[packet], &mut buf).expect("fits");
        buf[..n].to_vec()
    }

    fn rr(last_sr: u32, held: Duration) -> Vec<u8> {
        let packet = RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: Ssrc(2),
            reports: vec![ReportBlock {
                ssrc: Ssrc(1),
                fraction_lost: 0,
                cumulative_lost: 0,
                extended_highest_seq: 0,
                jitter: 0,
                last_sr,
                delay_since_last_sr: compact_from_duration(held),
            }],
        });
        let mut buf = [0u8; 256];
        let n = write_compound(&[packet], &mut buf).expect("fits");
        buf[..n].to_vec()
    }

    #[test]
    fn the_echo_of_a_relayed_sender_report_gives_the_far_legs_round_trip() {
        let t0 = Instant::now();
        let mut rtt = RelayedRtt::default();
        let ntp = NtpTime::from_unix(Duration::from_secs(1_800_000_000) + 250 * MS);
        rtt.handle(Side::A, &sr(ntp), t0);
        assert_eq!(rtt.rtt(Side::B), None);
        // B held the report 1 s; the round trip node ↔ B was 80 ms.
        rtt.handle(
            Side::B,
            &rr(ntp.middle32(), Duration::from_secs(1)),
            t0 + 1080 * MS,
        );
        let measured = rtt.rtt(Side::B).expect("measured");
        assert!(
            measured.abs_diff(80 * MS) < MS,
            "80 ms expected, got {measured:?}"
        );
        assert_eq!(
            rtt.rtt(Side::A),
            None,
            "A's leg is not measured by B's report"
        );
    }

    #[test]
    fn unknown_echoes_zero_lsr_and_garbage_change_nothing() {
        let t0 = Instant::now();
        let mut rtt = RelayedRtt::default();
        rtt.handle(Side::B, &rr(0x1234_5678, MS), t0);
        rtt.handle(Side::B, &rr(0, MS), t0);
        rtt.handle(Side::B, &[0x80, 0xC9, 0xFF], t0);
        rtt.handle(Side::B, &[], t0);
        assert_eq!(rtt.rtt(Side::B), None);
    }

    #[test]
    fn a_delay_longer_than_the_elapsed_time_is_not_a_negative_rtt() {
        let t0 = Instant::now();
        let mut rtt = RelayedRtt::default();
        let ntp = NtpTime::from_unix(Duration::from_secs(1_800_000_000));
        rtt.handle(Side::A, &sr(ntp), t0);
        rtt.handle(
            Side::B,
            &rr(ntp.middle32(), Duration::from_secs(5)),
            t0 + MS,
        );
        assert_eq!(rtt.rtt(Side::B), None);
    }

    #[test]
    fn muxed_rtcp_is_told_apart_from_rtp() {
        assert!(is_muxed_rtcp(&sr(NtpTime::default())));
        assert!(is_muxed_rtcp(&rr(0, MS)));
        assert!(!is_muxed_rtcp(&[0x80, 0x00, 0, 1]), "PCMU");
        assert!(!is_muxed_rtcp(&[0x80, 0xE5, 0, 1]), "marker + PT 101");
        assert!(!is_muxed_rtcp(&[0x80]));
    }
}
