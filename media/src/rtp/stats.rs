//! Reception statistics of one RTP source, as RFC 3550 §6.4 and Appendix A define them:
//! sequence validation and wrap-around (A.1), expected and lost packets and the fraction
//! lost per report interval (A.3), and interarrival jitter (A.8).
//!
//! [`ReceiverStats`] is sans-IO: the caller feeds each packet's sequence number, RTP
//! timestamp and arrival `Instant` ([`ReceiverStats::record`]), the arrival of each SR from
//! the source ([`ReceiverStats::record_sender_report`]), and asks for a report block when
//! it sends an RR or SR ([`ReceiverStats::report_block`]), which starts the next interval.
//!
//! Departures from Appendix A: no probation (the stream is bound by signalling before
//! the first packet, so the first packet already counts); and duplicates and late
//! packets within the last 128 sequence numbers are told apart and counted separately
//! (the RFC counts both as received, so duplicates can make `lost` negative — kept).

use std::time::{Duration, Instant};

use super::id::{Seq, Ssrc};
use super::ntp::{NtpTime, compact_from_duration};
use super::rtcp::ReportBlock;

/// A jump ahead of more than this many sequence numbers is suspect (A.1).
const MAX_DROPOUT: u16 = 3000;
/// A packet up to this many sequence numbers behind the highest is late, not a jump (A.1).
const MAX_MISORDER: u16 = 100;
const SEQ_MOD: u64 = 1 << 16;
const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// How [`ReceiverStats::record`] classified a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reception {
    /// Newer than every packet before it (gaps allowed up to 3000).
    InOrder,
    /// Older than the highest received and not seen before: reordered or late.
    Late,
    /// A copy of a packet already received.
    Duplicate,
    /// A large jump in sequence numbers: not counted. A second packet continuing the
    /// jump is taken as the source restarting and resets the statistics (A.1).
    Jump,
    /// The packet continued a jump; the statistics restarted from it.
    Restarted,
}

/// The sequence and jitter state once the first packet arrived.
#[derive(Clone, Copy, Debug)]
struct Started {
    /// Arrival time zero for converting arrivals into timestamp units.
    anchor: Instant,
    max_seq: u16,
    /// Sequence number wraps counted, times 65 536.
    cycles: u64,
    base_seq: u64,
    /// The sequence number that would confirm a jump as a restart.
    bad_seq: Option<u16>,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Bit k set: `max_seq − k` was received.
    history: u128,
    /// Arrival (in timestamp units since `anchor`) and RTP timestamp of the last packet.
    last: Option<(i64, u32)>,
}

/// Statistics of one received RTP source; see the module docs.
#[derive(Clone, Debug)]
pub struct ReceiverStats {
    ssrc: Ssrc,
    clock_rate: u32,
    state: Option<Started>,
    /// Interarrival jitter in timestamp units (A.8, kept unrounded).
    jitter: f64,
    duplicates: u64,
    late: u64,
    /// Middle 32 bits of the last SR's NTP time, and when it arrived.
    last_sr: Option<(u32, Instant)>,
}

impl ReceiverStats {
    /// Statistics for source `ssrc`, whose RTP clock runs at `clock_rate` Hz
    /// (8000 for G.711, 48 000 for Opus). A zero clock rate is taken as 8000.
    #[must_use]
    pub fn new(ssrc: Ssrc, clock_rate: u32) -> ReceiverStats {
        ReceiverStats {
            ssrc,
            clock_rate: if clock_rate == 0 { 8000 } else { clock_rate },
            state: None,
            jitter: 0.0,
            duplicates: 0,
            late: 0,
            last_sr: None,
        }
    }

    /// Records one packet of the source: its sequence number, RTP timestamp and arrival
    /// time. Returns how the packet was classified.
    pub fn record(&mut self, seq: Seq, timestamp: u32, arrival: Instant) -> Reception {
        let Some(state) = self.state.as_mut() else {
            self.state = Some(Started::new(seq, arrival));
            self.update_jitter(timestamp, arrival);
            return Reception::InOrder;
        };
        let reception = state.update_seq(seq);
        match reception {
            Reception::Jump => return reception,
            Reception::Duplicate => self.duplicates += 1,
            Reception::Late => self.late += 1,
            Reception::InOrder | Reception::Restarted => {}
        }
        self.update_jitter(timestamp, arrival);
        reception
    }

    /// Records that an SR whose NTP timestamp is `ntp` arrived from the source at
    /// `arrival`; the next report blocks carry its LSR and DLSR.
    pub fn record_sender_report(&mut self, ntp: NtpTime, arrival: Instant) {
        self.last_sr = Some((ntp.middle32(), arrival));
    }

    /// A report block for an RR or SR sent at `now`, or `None` before the first packet.
    /// Ends the current report interval: the next fraction lost counts from here.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let fraction_lost = self.fraction_lost_since_report();
        let state = self.state.as_mut()?;
        state.expected_prior = state.expected();
        state.received_prior = state.received;
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => (
                lsr,
                compact_from_duration(now.saturating_duration_since(at)),
            ),
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            // Clamped to i32 here; the report block clamps it to 24 bits on the wire.
            cumulative_lost: self.lost().clamp(i32::MIN.into(), i32::MAX.into()) as i32,
            extended_highest_seq: self.extended_highest_seq().unwrap_or(0),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        })
    }

    /// The source these statistics are about.
    #[must_use]
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// Packets expected: extended highest sequence number − first + 1 (A.3).
    #[must_use]
    pub fn expected(&self) -> u64 {
        self.state.map_or(0, |s| s.expected())
    }

    /// Packets received, duplicates and late packets included (A.1).
    #[must_use]
    pub fn received(&self) -> u64 {
        self.state.map_or(0, |s| s.received)
    }

    /// Cumulative packets lost: expected − received; negative when duplicates outnumber
    /// losses.
    #[must_use]
    pub fn lost(&self) -> i64 {
        // Both counts stay far below i64::MAX (2^48 packets at most).
        self.expected() as i64 - self.received() as i64
    }

    /// Duplicates seen (counted in [`received`](Self::received) as well).
    #[must_use]
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Packets that arrived after a higher sequence number (reordered or late).
    #[must_use]
    pub fn late(&self) -> u64 {
        self.late
    }

    /// The extended highest sequence number received (cycles << 16 | seq), truncated to
    /// 32 bits as RTCP carries it; `None` before the first packet.
    #[must_use]
    pub fn extended_highest_seq(&self) -> Option<u32> {
        // Truncation to the wire's 32 bits is the RTCP definition.
        self.state.map(|s| (s.cycles + u64::from(s.max_seq)) as u32)
    }

    /// Packets lost since the last [`report_block`](Self::report_block), as a fraction of
    /// 256 (A.3); 0 when none were lost or more arrived than expected.
    #[must_use]
    pub fn fraction_lost_since_report(&self) -> u8 {
        let Some(s) = self.state else { return 0 };
        let expected = s.expected().saturating_sub(s.expected_prior);
        let received = s.received.saturating_sub(s.received_prior);
        if expected == 0 || received >= expected {
            return 0;
        }
        let fraction = ((expected - received) << 8) / expected;
        u8::try_from(fraction).unwrap_or(u8::MAX)
    }

    /// Interarrival jitter in RTP timestamp units, as an RTCP report block carries it.
    #[must_use]
    pub fn jitter(&self) -> u32 {
        // Non-negative by construction; `as` saturates at u32::MAX.
        self.jitter as u32
    }

    /// Interarrival jitter in milliseconds.
    #[must_use]
    pub fn jitter_ms(&self) -> f64 {
        self.jitter * 1000.0 / f64::from(self.clock_rate)
    }

    /// A.8: `J += (|D| − J) / 16`, where D is the difference between two consecutive
    /// arrivals' spacing and their RTP timestamps' spacing, both in timestamp units.
    fn update_jitter(&mut self, timestamp: u32, arrival: Instant) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        let now = arrival_units(state.anchor, arrival, self.clock_rate);
        if let Some((last_arrival, last_timestamp)) = state.last {
            // The RTP timestamp wraps: its spacing is the signed wrapped difference.
            let sent = i64::from(timestamp.wrapping_sub(last_timestamp) as i32);
            let d = (now - last_arrival - sent).unsigned_abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        state.last = Some((now, timestamp));
    }
}

/// `arrival − anchor` in units of `clock_rate`, negative when `arrival` is earlier.
fn arrival_units(anchor: Instant, arrival: Instant, clock_rate: u32) -> i64 {
    let signed_nanos = match arrival.checked_duration_since(anchor) {
        Some(after) => nanos(after),
        None => -nanos(anchor.saturating_duration_since(arrival)),
    };
    let units = signed_nanos * i128::from(clock_rate) / NANOS_PER_SECOND;
    i64::try_from(units).unwrap_or(if units < 0 { i64::MIN } else { i64::MAX })
}

fn nanos(duration: Duration) -> i128 {
    // Durations hold at most u64::MAX seconds: far inside i128.
    duration.as_nanos() as i128
}

impl Started {
    fn new(seq: Seq, anchor: Instant) -> Started {
        Started {
            anchor,
            max_seq: seq.0,
            cycles: 0,
            base_seq: u64::from(seq.0),
            bad_seq: None,
            received: 1,
            expected_prior: 0,
            received_prior: 0,
            history: 1,
            last: None,
        }
    }

    fn expected(&self) -> u64 {
        self.cycles + u64::from(self.max_seq) + 1 - self.base_seq
    }

    /// A.1 `update_seq`, without probation, with duplicate detection.
    fn update_seq(&mut self, seq: Seq) -> Reception {
        let udelta = seq.0.wrapping_sub(self.max_seq);
        let reception = if udelta == 0 {
            Reception::Duplicate
        } else if udelta < MAX_DROPOUT {
            if seq.0 < self.max_seq {
                self.cycles += SEQ_MOD;
            }
            self.history = self.history.checked_shl(u32::from(udelta)).unwrap_or(0) | 1;
            self.max_seq = seq.0;
            Reception::InOrder
        } else if udelta <= u16::MAX - MAX_MISORDER + 1 {
            if self.bad_seq != Some(seq.0) {
                self.bad_seq = Some(seq.0.wrapping_add(1));
                return Reception::Jump;
            }
            let anchor = self.anchor;
            *self = Started::new(seq, anchor);
            return Reception::Restarted;
        } else {
            // Behind the highest by fewer than MAX_MISORDER: within the history window.
            let bit = 1u128 << self.max_seq.wrapping_sub(seq.0);
            let seen = self.history & bit != 0;
            self.history |= bit;
            if seen {
                Reception::Duplicate
            } else {
                Reception::Late
            }
        };
        self.bad_seq = None;
        self.received += 1;
        reception
    }
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
