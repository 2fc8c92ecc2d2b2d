//! RTCP packets (RFC 3550 §6): parse and build compound packets of SR, RR, SDES and BYE;
//! other types (APP, RTPFB, PSFB, XR, …) are carried through as raw bodies, skipped by
//! their length.
//!
//! Every packet starts with the common header
//!
//! ```text
//! |V=2|P| count/FMT |      PT       |  length (32-bit words − 1)    |
//! ```
//!
//! [`RtcpPackets`] walks a datagram packet by packet and checks only what it must to
//! stay in bounds; [`parse_compound`] also enforces the loose compound rule (the first
//! packet is an SR or RR), which reduced-size RTCP (RFC 5506) peers break on purpose:
//! use the iterator for them. Nothing here panics on any input.

mod report;
mod sdes;

pub use report::{PT_RR, PT_SR, ReceiverReport, ReportBlock, SenderInfo, SenderReport};
pub use sdes::{Goodbye, PT_BYE, PT_SDES, SdesChunk, SdesItem, SdesKind, SourceDescription};

use super::error::{RtcpError, WriteError};

const HEADER_LEN: usize = 4;
const VERSION: u8 = 2;

/// One RTCP packet of a compound packet.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket<'a> {
    /// A sender report (PT 200).
    SenderReport(SenderReport),
    /// A receiver report (PT 201).
    ReceiverReport(ReceiverReport),
    /// A source description (PT 202).
    SourceDescription(SourceDescription<'a>),
    /// A goodbye (PT 203).
    Goodbye(Goodbye<'a>),
    /// Any other packet type, kept raw.
    Other {
        /// The packet type.
        pt: u8,
        /// The 5-bit count / format field.
        count: u8,
        /// The body after the common header, padding removed.
        body: &'a [u8],
    },
}

impl<'a> RtcpPacket<'a> {
    /// The packet type number.
    #[must_use]
    pub fn pt(&self) -> u8 {
        match self {
            RtcpPacket::SenderReport(_) => PT_SR,
            RtcpPacket::ReceiverReport(_) => PT_RR,
            RtcpPacket::SourceDescription(_) => PT_SDES,
            RtcpPacket::Goodbye(_) => PT_BYE,
            RtcpPacket::Other { pt, .. } => *pt,
        }
    }

    /// Bytes this packet takes on the wire, common header included.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.body_len()
    }

    /// Writes this packet (without padding) at the start of `out`; returns the bytes
    /// written.
    ///
    /// # Errors
    ///
    /// [`WriteError::BufferTooSmall`]; [`WriteError::TooManyItems`] past 31 report
    /// blocks, chunks or sources; [`WriteError::TextTooLong`] for SDES items or a BYE
    /// reason over 255 bytes; [`WriteError::BadBodyLength`] for a raw body that is not
    /// whole words, or a packet over 65 536 words.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, WriteError> {
        let count = self.check()?;
        let body_len = self.body_len();
        let words = u16::try_from(body_len / 4)
            .ok()
            .filter(|_| body_len.is_multiple_of(4))
            .ok_or(WriteError::BadBodyLength { len: body_len })?;
        let needed = HEADER_LEN + body_len;
        let available = out.len();
        let out = out
            .get_mut(..needed)
            .ok_or(WriteError::BufferTooSmall { needed, available })?;
        let mut cur = Cursor::new(out);
        cur.put_u8(VERSION << 6 | count);
        cur.put_u8(self.pt());
        cur.put_u16(words);
        match self {
            RtcpPacket::SenderReport(sr) => sr.write_body(&mut cur),
            RtcpPacket::ReceiverReport(rr) => rr.write_body(&mut cur),
            RtcpPacket::SourceDescription(sdes) => sdes.write_body(&mut cur),
            RtcpPacket::Goodbye(bye) => bye.write_body(&mut cur),
            RtcpPacket::Other { body, .. } => cur.put_slice(body),
        }
        Ok(needed)
    }

    /// Validates what the wire format limits; returns the count field.
    fn check(&self) -> Result<u8, WriteError> {
        match self {
            RtcpPacket::SenderReport(sr) => sr.count(),
            RtcpPacket::ReceiverReport(rr) => rr.count(),
            RtcpPacket::SourceDescription(sdes) => sdes.check().and_then(|()| sdes.count()),
            RtcpPacket::Goodbye(bye) => bye.check().and_then(|()| bye.count()),
            RtcpPacket::Other { count, .. } if *count > 31 => Err(WriteError::TooManyItems {
                count: usize::from(*count),
            }),
            RtcpPacket::Other { count, .. } => Ok(*count),
        }
    }

    fn body_len(&self) -> usize {
        match self {
            RtcpPacket::SenderReport(sr) => sr.body_len(),
            RtcpPacket::ReceiverReport(rr) => rr.body_len(),
            RtcpPacket::SourceDescription(sdes) => sdes.body_len(),
            RtcpPacket::Goodbye(bye) => bye.body_len(),
            RtcpPacket::Other { body, .. } => body.len(),
        }
    }

    fn parse(pt: u8, count: u8, body: &'a [u8]) -> Result<RtcpPacket<'a>, RtcpError> {
        Ok(match pt {
            PT_SR => RtcpPacket::SenderReport(SenderReport::parse(count, body)?),
            PT_RR => RtcpPacket::ReceiverReport(ReceiverReport::parse(count, body)?),
            PT_SDES => RtcpPacket::SourceDescription(SourceDescription::parse(count, body)?),
            PT_BYE => RtcpPacket::Goodbye(Goodbye::parse(count, body)?),
            _ => RtcpPacket::Other { pt, count, body },
        })
    }
}

/// Iterator over the packets of an RTCP datagram, in order. After the first error it
/// yields nothing more.
#[derive(Clone, Debug)]
pub struct RtcpPackets<'a> {
    rest: &'a [u8],
}

impl<'a> RtcpPackets<'a> {
    /// Starts walking `datagram`.
    #[must_use]
    pub fn new(datagram: &'a [u8]) -> RtcpPackets<'a> {
        RtcpPackets { rest: datagram }
    }

    fn next_packet(&mut self) -> Result<RtcpPacket<'a>, RtcpError> {
        let rest = self.rest;
        let head: &[u8; HEADER_LEN] = rest
            .first_chunk()
            .ok_or(RtcpError::TruncatedHeader { len: rest.len() })?;
        let version = head[0] >> 6;
        if version != VERSION {
            return Err(RtcpError::BadVersion(version));
        }
        let pt = head[1];
        let declared = 4 * (usize::from(u16::from_be_bytes([head[2], head[3]])) + 1);
        let packet = rest.get(..declared).ok_or(RtcpError::BadLength {
            pt,
            declared,
            available: rest.len(),
        })?;
        let mut body = &packet[HEADER_LEN..];
        if head[0] & 0x20 != 0 {
            let count = usize::from(packet[declared - 1]);
            let is_last = declared == rest.len();
            if !is_last || count == 0 || count > body.len() {
                return Err(RtcpError::BadPadding { pt });
            }
            body = &body[..body.len() - count];
        }
        self.rest = &rest[declared..];
        RtcpPacket::parse(pt, head[0] & 0x1F, body)
    }
}

impl<'a> Iterator for RtcpPackets<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let packet = self.next_packet();
        if packet.is_err() {
            self.rest = &[];
        }
        Some(packet)
    }
}

impl std::iter::FusedIterator for RtcpPackets<'_> {}

/// Parses a whole compound RTCP datagram, checking that it is not empty and that its
/// first packet is an SR or RR (the other RFC 3550 §6.1 rules are not enforced).
///
/// # Errors
///
/// The first error any packet gives; [`RtcpError::Empty`];
/// [`RtcpError::FirstNotReport`].
pub fn parse_compound(datagram: &[u8]) -> Result<Vec<RtcpPacket<'_>>, RtcpError> {
    let packets = RtcpPackets::new(datagram).collect::<Result<Vec<_>, _>>()?;
    match packets.first() {
        None => Err(RtcpError::Empty),
        Some(RtcpPacket::SenderReport(_) | RtcpPacket::ReceiverReport(_)) => Ok(packets),
        Some(first) => Err(RtcpError::FirstNotReport { pt: first.pt() }),
    }
}

/// Writes `packets` back to back at the start of `out`; returns the bytes written.
///
/// # Errors
///
/// The first error any packet gives (see [`RtcpPacket::write`]).
pub fn write_compound(packets: &[RtcpPacket<'_>], out: &mut [u8]) -> Result<usize, WriteError> {
    let needed: usize = packets.iter().map(RtcpPacket::encoded_len).sum();
    if out.len() < needed {
        return Err(WriteError::BufferTooSmall {
            needed,
            available: out.len(),
        });
    }
    let mut pos = 0;
    for packet in packets {
        pos += packet.write(&mut out[pos..])?;
    }
    Ok(pos)
}

/// A write position in a buffer the caller sized beforehand: every `put` stays in
/// bounds because writers check the encoded length first.
struct Cursor<'b> {
    out: &'b mut [u8],
    pos: usize,
}

impl<'b> Cursor<'b> {
    fn new(out: &'b mut [u8]) -> Cursor<'b> {
        Cursor { out, pos: 0 }
    }

    fn put_slice(&mut self, bytes: &[u8]) {
        self.out[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }

    fn put_u8(&mut self, byte: u8) {
        self.put_slice(&[byte]);
    }

    fn put_u16(&mut self, value: u16) {
        self.put_slice(&value.to_be_bytes());
    }

    fn put_u32(&mut self, value: u32) {
        self.put_slice(&value.to_be_bytes());
    }

    fn put_zeros(&mut self, n: usize) {
        self.out[self.pos..self.pos + n].fill(0);
        self.pos += n;
    }
}

#[cfg(test)]
mod tests;
