//! Per-leg stream continuity for the B2BUA: [`StreamRewriter`] gives every outgoing leg
//! one constant SSRC and a continuous sequence number and timestamp line, whatever feeds
//! it — the caller's phone, then after a re-INVITE another phone, a prompt player, the
//! relayed party again.
//!
//! Rules, for each packet fed with its arrival time `now`:
//!
//! - **Same source** (same input SSRC as the previous packet, no change marked): output
//!   seq and timestamp are the input's plus fixed offsets, so gaps, reordering and
//!   duplicates pass through as they came; the marker bit is kept.
//! - **Source change** (a new input SSRC, or [`StreamRewriter::mark_source_change`]
//!   called): the packet gets seq = newest output seq + 1, and timestamp = newest output
//!   timestamp + the real time elapsed since that packet × clock rate — but at least the
//!   previous packet's duration (the timestamp step between the newest two consecutive
//!   outputs), so audio never overlaps. The marker bit is set, telling the receiver's
//!   jitter buffer that a talkspurt starts. New offsets are fixed from there on.
//! - The very first packet gets the initial seq and timestamp given to
//!   [`StreamRewriter::new`] (random, chosen by the caller) and the marker bit.
//!
//! Feed only the selected source: a stray packet from a previous source counts as a
//! change back to it. Sans-IO: time is the `now` argument, nothing is read from a clock.

use std::time::{Duration, Instant};

use super::error::RtpError;
use super::id::{Seq, Ssrc};
use super::packet::{FIXED_HEADER_LEN, RtpHeader, RtpPacket};

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// The header fields a [`StreamRewriter`] chose for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// The leg's SSRC.
    pub ssrc: Ssrc,
    /// The output sequence number.
    pub seq: Seq,
    /// The output RTP timestamp.
    pub timestamp: u32,
    /// The output marker bit.
    pub marker: bool,
}

impl Rewrite {
    /// Writes these fields into the RTP packet `packet` in place, keeping the version,
    /// flags, payload type, CSRCs, extension and payload.
    ///
    /// # Errors
    ///
    /// [`RtpError::Truncated`] below 12 bytes, [`RtpError::BadVersion`].
    pub fn apply(&self, packet: &mut [u8]) -> Result<(), RtpError> {
        let len = packet.len();
        let head: &mut [u8; FIXED_HEADER_LEN] =
            packet.first_chunk_mut().ok_or(RtpError::Truncated {
                needed: FIXED_HEADER_LEN,
                len,
            })?;
        let version = head[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        head[1] = (head[1] & 0x7F) | u8::from(self.marker) << 7;
        head[2..4].copy_from_slice(&self.seq.0.to_be_bytes());
        head[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        head[8..12].copy_from_slice(&self.ssrc.0.to_be_bytes());
        Ok(())
    }
}

/// The mapping from the current input source to the output line.
#[derive(Clone, Copy, Debug)]
struct Source {
    ssrc: Ssrc,
    seq_offset: u16,
    timestamp_offset: u32,
}

/// The newest packet sent (highest output seq) and when it was fed.
#[derive(Clone, Copy, Debug)]
struct Newest {
    seq: Seq,
    timestamp: u32,
    at: Instant,
}

/// One outgoing leg's SSRC, seq and timestamp line; see the module docs.
#[derive(Clone, Debug)]
pub struct StreamRewriter {
    ssrc: Ssrc,
    clock_rate: u32,
    initial_seq: Seq,
    initial_timestamp: u32,
    source: Option<Source>,
    newest: Option<Newest>,
    /// Timestamp step between the newest two consecutive output packets.
    step: u32,
    change_marked: bool,
}

impl StreamRewriter {
    /// A rewriter for a leg that sends as `ssrc`, with an RTP clock of `clock_rate` Hz,
    /// starting at `initial_seq` and `initial_timestamp` (RFC 3550 wants both random:
    /// the caller draws them). A zero clock rate is taken as 8000.
    #[must_use]
    pub fn new(ssrc: Ssrc, clock_rate: u32, initial_seq: Seq, initial_timestamp: u32) -> Self {
        StreamRewriter {
            ssrc,
            clock_rate: if clock_rate == 0 { 8000 } else { clock_rate },
            initial_seq,
            initial_timestamp,
            source: None,
            newest: None,
            step: 0,
            change_marked: false,
        }
    }

    /// Makes the next packet start a new source even if its SSRC is unchanged (a
    /// re-INVITE toward an endpoint that keeps its SSRC, or a restarted player).
    pub fn mark_source_change(&mut self) {
        self.change_marked = true;
    }

    /// The output fields for a packet with input `header`, fed at `now`.
    pub fn rewrite(&mut self, now: Instant, header: &RtpHeader) -> Rewrite {
        let (source, is_change) = match self.source {
            Some(source) if !self.change_marked && source.ssrc == header.ssrc => (source, false),
            _ => (self.anchor(now, header), true),
        };
        let seq = header.seq.wrapping_add(source.seq_offset);
        let timestamp = header.timestamp.wrapping_add(source.timestamp_offset);
        self.advance(now, seq, timestamp, is_change);
        Rewrite {
            ssrc: self.ssrc,
            seq,
            timestamp,
            marker: is_change || header.marker,
        }
    }

    /// Parses `packet`, rewrites it in place and returns the fields written.
    ///
    /// # Errors
    ///
    /// Any [`RtpError`] from parsing; the packet is then left untouched and the rewriter
    /// unchanged.
    pub fn rewrite_in_place(
        &mut self,
        now: Instant,
        packet: &mut [u8],
    ) -> Result<Rewrite, RtpError> {
        let header = RtpPacket::parse(packet)?.header;
        let rewrite = self.rewrite(now, &header);
        rewrite.apply(packet)?;
        Ok(rewrite)
    }

    /// The leg's SSRC.
    #[must_use]
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// The highest sequence number sent and its timestamp, once a packet went out.
    #[must_use]
    pub fn newest(&self) -> Option<(Seq, u32)> {
        self.newest.map(|n| (n.seq, n.timestamp))
    }

    /// Fixes new offsets so that `header` maps right after the newest output packet.
    fn anchor(&mut self, now: Instant, header: &RtpHeader) -> Source {
        let (seq, timestamp) = match self.newest {
            None => (self.initial_seq, self.initial_timestamp),
            Some(newest) => {
                let elapsed = self.ticks(now.saturating_duration_since(newest.at));
                let gap = elapsed.max(self.step).max(1);
                (newest.seq.next(), newest.timestamp.wrapping_add(gap))
            }
        };
        let source = Source {
            ssrc: header.ssrc,
            seq_offset: seq.0.wrapping_sub(header.seq.0),
            timestamp_offset: timestamp.wrapping_sub(header.timestamp),
        };
        self.source = Some(source);
        self.change_marked = false;
        source
    }

    /// Moves the newest-packet record forward when `seq` is newer.
    fn advance(&mut self, now: Instant, seq: Seq, timestamp: u32, is_change: bool) {
        let newest = Newest {
            seq,
            timestamp,
            at: now,
        };
        let Some(prev) = self.newest else {
            self.newest = Some(newest);
            return;
        };
        if is_change {
            // The previous source's step stays the floor for the next change.
            self.newest = Some(newest);
            return;
        }
        if !seq.is_newer_than(prev.seq) {
            return;
        }
        if seq == prev.seq.next() {
            let step = timestamp.wrapping_sub(prev.timestamp);
            // A backwards timestamp is no usable duration.
            self.step = if step < 0x8000_0000 { step } else { 0 };
        }
        self.newest = Some(newest);
    }

    /// `elapsed` in RTP clock ticks, wrapping as RTP timestamps do.
    fn ticks(&self, elapsed: Duration) -> u32 {
        // Truncation to 32 bits is the timestamp's own wrap-around.
        (elapsed.as_nanos() * u128::from(self.clock_rate) / NANOS_PER_SECOND) as u32
    }
}

#[cfg(test)]
#[path = "rewrite_tests.rs"]
mod tests;
