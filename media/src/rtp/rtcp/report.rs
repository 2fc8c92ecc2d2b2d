//! Sender reports, receiver reports and their report blocks (RFC 3550 §6.4).

use std::time::Duration;

use super::Cursor;
use crate::rtp::error::{RtcpError, WriteError};
use crate::rtp::id::Ssrc;
use crate::rtp::ntp::{NtpTime, duration_from_compact};

/// Packet type of a sender report.
pub const PT_SR: u8 = 200;
/// Packet type of a receiver report.
pub const PT_RR: u8 = 201;

const REPORT_BLOCK_LEN: usize = 24;
const SENDER_INFO_LEN: usize = 20;
const MAX_ITEMS: usize = 31;
const CUMULATIVE_LOST_MAX: i32 = 0x7F_FFFF;
const CUMULATIVE_LOST_MIN: i32 = -0x80_0000;

/// One reception report block: how a receiver hears one source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: Ssrc,
    /// Packets lost since the previous report, as a fraction of 256.
    pub fraction_lost: u8,
    /// Packets lost since reception began: expected − received, which duplicates can
    /// make negative. 24 bits signed on the wire; written clamped to
    /// −8 388 608 ..= 8 388 607.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles << 16 | seq).
    pub extended_highest_seq: u32,
    /// Interarrival jitter, in RTP timestamp units.
    pub jitter: u32,
    /// LSR: middle 32 bits of the NTP time of the last SR received from the source, or 0.
    pub last_sr: u32,
    /// DLSR: delay since that SR was received, in units of 1/65 536 s, or 0.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// The round-trip time to the receiver that sent this block, as seen by the source
    /// it reports on (RFC 3550 §6.4.1): `arrival − LSR − DLSR` in compact NTP units,
    /// where `arrival` is the wall-clock NTP time at which this block's packet arrived.
    /// `None` when no SR was reported yet (LSR 0) or the result would be negative
    /// (clocks disagree, or the block is not about one of our SRs).
    #[must_use]
    pub fn round_trip_time(&self, arrival: NtpTime) -> Option<Duration> {
        if self.last_sr == 0 {
            return None;
        }
        let rtt = arrival
            .middle32()
            .wrapping_sub(self.last_sr)
            .wrapping_sub(self.delay_since_last_sr);
        if rtt >= 0x8000_0000 {
            return None;
        }
        Some(duration_from_compact(rtt))
    }

    fn parse(bytes: &[u8]) -> ReportBlock {
        let lost_word = word(bytes, 4);
        // Sign-extend the low 24 bits: shift them to the top, then arithmetic shift back.
        let cumulative_lost = ((lost_word << 8) as i32) >> 8;
        ReportBlock {
            ssrc: Ssrc(word(bytes, 0)),
            fraction_lost: bytes[4],
            cumulative_lost,
            extended_highest_seq: word(bytes, 8),
            jitter: word(bytes, 12),
            last_sr: word(bytes, 16),
            delay_since_last_sr: word(bytes, 20),
        }
    }

    fn write(&self, cur: &mut Cursor<'_>) {
        let lost = self
            .cumulative_lost
            .clamp(CUMULATIVE_LOST_MIN, CUMULATIVE_LOST_MAX);
        // Two's complement in 24 bits: the reinterpretation keeps the sign bits.
        let lost24 = (lost as u32) & 0x00FF_FFFF;
        cur.put_u32(self.ssrc.0);
        cur.put_u32(u32::from(self.fraction_lost) << 24 | lost24);
        cur.put_u32(self.extended_highest_seq);
        cur.put_u32(self.jitter);
        cur.put_u32(self.last_sr);
        cur.put_u32(self.delay_since_last_sr);
    }
}

/// The sender information section of an SR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// Wall-clock time at which the report was sent.
    pub ntp: NtpTime,
    /// The same instant in the sender's RTP timestamp units.
    pub rtp_timestamp: u32,
    /// RTP packets sent since the start of transmission.
    pub packet_count: u32,
    /// RTP payload octets sent since the start of transmission.
    pub octet_count: u32,
}

/// A sender report (PT 200). Profile-specific extensions after the report blocks are
/// ignored on parse and never written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderReport {
    /// The sender's SSRC.
    pub ssrc: Ssrc,
    /// What the sender sent.
    pub info: SenderInfo,
    /// How the sender hears other sources (at most 31).
    pub reports: Vec<ReportBlock>,
}

/// A receiver report (PT 201). Profile-specific extensions are ignored, as for SRs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiverReport {
    /// The reporter's SSRC.
    pub ssrc: Ssrc,
    /// How the reporter hears other sources (at most 31).
    pub reports: Vec<ReportBlock>,
}

impl SenderReport {
    pub(super) fn parse(count: u8, body: &[u8]) -> Result<SenderReport, RtcpError> {
        let fixed = 4 + SENDER_INFO_LEN;
        check_len(PT_SR, body, fixed + REPORT_BLOCK_LEN * usize::from(count))?;
        let info = SenderInfo {
            ntp: NtpTime(u64::from(word(body, 4)) << 32 | u64::from(word(body, 8))),
            rtp_timestamp: word(body, 12),
            packet_count: word(body, 16),
            octet_count: word(body, 20),
        };
        Ok(SenderReport {
            ssrc: Ssrc(word(body, 0)),
            info,
            reports: parse_blocks(&body[fixed..], count),
        })
    }

    pub(super) fn count(&self) -> Result<u8, WriteError> {
        item_count(self.reports.len())
    }

    pub(super) fn body_len(&self) -> usize {
        4 + SENDER_INFO_LEN + REPORT_BLOCK_LEN * self.reports.len()
    }

    pub(super) fn write_body(&self, cur: &mut Cursor<'_>) {
        cur.put_u32(self.ssrc.0);
        cur.put_u32(self.info.ntp.seconds());
        cur.put_u32(self.info.ntp.fraction());
        cur.put_u32(self.info.rtp_timestamp);
        cur.put_u32(self.info.packet_count);
        cur.put_u32(self.info.octet_count);
        for block in &self.reports {
            block.write(cur);
        }
    }
}

impl ReceiverReport {
    pub(super) fn parse(count: u8, body: &[u8]) -> Result<ReceiverReport, RtcpError> {
        check_len(PT_RR, body, 4 + REPORT_BLOCK_LEN * usize::from(count))?;
        Ok(ReceiverReport {
            ssrc: Ssrc(word(body, 0)),
            reports: parse_blocks(&body[4..], count),
        })
    }

    pub(super) fn count(&self) -> Result<u8, WriteError> {
        item_count(self.reports.len())
    }

    pub(super) fn body_len(&self) -> usize {
        4 + REPORT_BLOCK_LEN * self.reports.len()
    }

    pub(super) fn write_body(&self, cur: &mut Cursor<'_>) {
        cur.put_u32(self.ssrc.0);
        for block in &self.reports {
            block.write(cur);
        }
    }
}

/// The count field for `len` items, or an error past 31.
pub(super) fn item_count(len: usize) -> Result<u8, WriteError> {
    if len > MAX_ITEMS {
        return Err(WriteError::TooManyItems { count: len });
    }
    // At most 31 here.
    Ok(len as u8)
}

fn check_len(pt: u8, body: &[u8], needed: usize) -> Result<(), RtcpError> {
    if body.len() < needed {
        return Err(RtcpError::TruncatedBody {
            pt,
            needed,
            len: body.len(),
        });
    }
    Ok(())
}

/// `count` blocks from `bytes`, which the caller checked holds them all.
fn parse_blocks(bytes: &[u8], count: u8) -> Vec<ReportBlock> {
    bytes
        .chunks_exact(REPORT_BLOCK_LEN)
        .take(usize::from(count))
        .map(ReportBlock::parse)
        .collect()
}

/// The big-endian word at `at`; callers checked the length.
pub(super) fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(lsr: u32, dlsr: u32) -> ReportBlock {
        ReportBlock {
            ssrc: Ssrc(1),
            fraction_lost: 0,
            cumulative_lost: 0,
            extended_highest_seq: 0,
            jitter: 0,
            last_sr: lsr,
            delay_since_last_sr: dlsr,
        }
    }

    #[test]
    fn round_trip_time_matches_rfc3550_example() {
        // RFC 3550 §6.4.1, figure 2: A = 0xb710:8000 (46864.500 s),
        // LSR = 0xb705:2000 (46853.125 s), DLSR = 0x0005:4000 (5.250 s) → 6.125 s.
        let arrival = NtpTime(0x0000_b710_8000_0000);
        let rtt = block(0xb705_2000, 0x0005_4000).round_trip_time(arrival);
        assert_eq!(rtt, Some(Duration::from_millis(6125)));
    }

    #[test]
    fn round_trip_time_absent_without_sr_or_when_negative() {
        let arrival = NtpTime(0x0000_b710_8000_0000);
        assert_eq!(block(0, 0).round_trip_time(arrival), None);
        // The receiver claims to have held our SR longer than it has been away.
        assert_eq!(
            block(0xb705_2000, 0x0010_0000).round_trip_time(arrival),
            None
        );
        // Across the wrap of the 16-bit seconds: LSR just before, arrival just after.
        let wrapped = NtpTime(0x0001_0000_4000_0000); // middle 32 = 0x0000_4000
        let rtt = block(0xFFFF_C000, 0x0000_4000).round_trip_time(wrapped);
        assert_eq!(rtt, Some(Duration::from_millis(250)));
    }

    #[test]
    fn cumulative_lost_is_24_bit_signed_and_clamped() {
        let mut bytes = [0u8; 24];
        bytes[4..8].copy_from_slice(&[0x40, 0xFF, 0xFF, 0xFE]);
        let parsed = ReportBlock::parse(&bytes);
        assert_eq!(parsed.fraction_lost, 0x40);
        assert_eq!(parsed.cumulative_lost, -2);

        let mut out = [0u8; 24];
        let huge = ReportBlock {
            cumulative_lost: 50_000_000,
            ..parsed
        };
        huge.write(&mut Cursor::new(&mut out));
        assert_eq!(&out[4..8], &[0x40, 0x7F, 0xFF, 0xFF]);
        let very_negative = ReportBlock {
            cumulative_lost: -50_000_000,
            ..parsed
        };
        very_negative.write(&mut Cursor::new(&mut out));
        assert_eq!(&out[4..8], &[0x40, 0x80, 0x00, 0x00]);
        assert_eq!(ReportBlock::parse(&out).cumulative_lost, -0x80_0000);
    }
}
