//! The RTP/RTCP wire layer of the media engine: parsing and building packets, reception
//! statistics, and per-leg stream rewriting. Sans-IO throughout: byte slices and
//! `now: Instant` in, values and bytes out; no sockets, no clock reads.
//!
//! # Contract
//!
//! - [`RtpPacket::parse`] reads one RTP packet (RFC 3550 §5.1) without copying: header
//!   fields into a `Copy` [`RtpHeader`], the extension ([`Extension`], RFC 8285 profiles
//!   readable through [`Extension::elements`]) and the payload as slices of the input.
//!   [`RtpPacket::write`] / [`RtpHeader::write`] serialise into a caller's buffer.
//! - [`parse_compound`] and [`RtcpPackets`] read RTCP (RFC 3550 §6): SR, RR, SDES, BYE
//!   typed, every other packet type kept raw and skipped by its length;
//!   [`write_compound`] / [`RtcpPacket::write`] build them.
//! - [`ReceiverStats`] keeps one source's reception statistics (RFC 3550 A.1, A.3, A.8)
//!   and produces [`ReportBlock`]s; [`ReportBlock::round_trip_time`] computes RTT from a
//!   received block and the wall-clock [`NtpTime`] of its arrival (an input).
//! - [`StreamRewriter`] gives a B2BUA's outgoing leg one SSRC and continuous seq and
//!   timestamp across changes of source, rewriting headers in place.
//!
//! Nothing here panics on any input: malformed bytes give [`RtpError`] or [`RtcpError`];
//! values the wire cannot carry give [`WriteError`].
//!
//! # Call order, one relayed direction
//!
//! ```text
//!  datagram ─► RtpPacket::parse ─► ReceiverStats::record            (inbound leg)
//!          └─► StreamRewriter::rewrite_in_place ─► send             (outbound leg)
//!  every ~5 s: ReceiverStats::report_block ─► RR ─► write_compound ─► send
//!  RTCP in  ─► parse_compound ─► SR: ReceiverStats::record_sender_report
//!                             └─ RR: ReportBlock::round_trip_time
//! ```
//!
//! # Scope
//!
//! Not here: SRTP/SRTCP, RTCP scheduling (RFC 3550 §6.2 intervals), SR generation
//! counters, RTCP feedback message bodies (RFC 4585: kept raw), RTP/RTCP multiplexing
//! on one port (RFC 5761).

mod error;
mod extension;
mod id;
mod ntp;
mod packet;
mod rewrite;
mod rtcp;
mod stats;

#[cfg(test)]
mod proptests;

pub use error::{RtcpError, RtpError, WriteError};
pub use extension::{Extension, ExtensionElement, ExtensionElements, ExtensionProfile};
pub use id::{Pt, Seq, Ssrc};
pub use ntp::{NtpTime, compact_from_duration, duration_from_compact};
pub use packet::{CsrcList, FIXED_HEADER_LEN, MAX_CSRCS, RtpHeader, RtpPacket};
pub use rewrite::{Rewrite, StreamRewriter};
pub use rtcp::{
    Goodbye, PT_BYE, PT_RR, PT_SDES, PT_SR, ReceiverReport, ReportBlock, RtcpPacket, RtcpPackets,
    SdesChunk, SdesItem, SdesKind, SenderInfo, SenderReport, SourceDescription, parse_compound,
    write_compound,
};
pub use stats::{ReceiverStats, Reception};
