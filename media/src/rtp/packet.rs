//! RTP packets (RFC 3550 §5.1): zero-copy parse and serialisation into a caller's buffer.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |                             SSRC                              |
//! |                  CSRC list (CC × 32 bits)                     |
//! |      profile (X=1)            |   length in 32-bit words      |
//! |                  extension data (X=1)                         |
//! |                  payload …        | padding … | padding count |
//! ```

use super::error::{RtpError, WriteError};
use super::extension::Extension;
use super::id::{Pt, Seq, Ssrc};

/// Length of the fixed RTP header, before CSRCs and extension.
pub const FIXED_HEADER_LEN: usize = 12;
/// The most CSRCs a header can carry (the CC field is 4 bits).
pub const MAX_CSRCS: usize = 15;

const VERSION: u8 = 2;

/// Up to 15 contributing sources, stored inline so that [`RtpHeader`] is `Copy`.
#[derive(Clone, Copy, Debug)]
pub struct CsrcList {
    len: u8,
    items: [Ssrc; MAX_CSRCS],
}

impl CsrcList {
    /// An empty list.
    #[must_use]
    pub const fn new() -> CsrcList {
        CsrcList {
            len: 0,
            items: [Ssrc(0); MAX_CSRCS],
        }
    }

    /// A list holding `csrcs`, or `None` when there are more than [`MAX_CSRCS`].
    #[must_use]
    pub fn from_slice(csrcs: &[Ssrc]) -> Option<CsrcList> {
        let mut list = CsrcList::new();
        let slots = list.items.get_mut(..csrcs.len())?;
        slots.copy_from_slice(csrcs);
        // Bounded by MAX_CSRCS by the `get_mut` above.
        list.len = csrcs.len() as u8;
        Some(list)
    }

    /// The sources, in header order.
    #[must_use]
    pub fn as_slice(&self) -> &[Ssrc] {
        &self.items[..usize::from(self.len)]
    }

    /// How many sources the list holds.
    #[must_use]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the list is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for CsrcList {
    fn default() -> Self {
        CsrcList::new()
    }
}

impl PartialEq for CsrcList {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for CsrcList {}

/// The RTP header fields that are not borrowed from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    /// The marker bit (for audio: first packet of a talkspurt).
    pub marker: bool,
    /// The payload type.
    pub pt: Pt,
    /// The sequence number.
    pub seq: Seq,
    /// The RTP timestamp, in the payload type's clock units.
    pub timestamp: u32,
    /// The synchronisation source.
    pub ssrc: Ssrc,
    /// The contributing sources.
    pub csrcs: CsrcList,
}

impl RtpHeader {
    /// A header without marker or CSRCs.
    #[must_use]
    pub const fn new(pt: Pt, seq: Seq, timestamp: u32, ssrc: Ssrc) -> RtpHeader {
        RtpHeader {
            marker: false,
            pt,
            seq,
            timestamp,
            ssrc,
            csrcs: CsrcList::new(),
        }
    }

    /// Bytes this header takes with `extension` (fixed part, CSRCs, extension).
    #[must_use]
    pub fn encoded_len(&self, extension: Option<&Extension<'_>>) -> usize {
        FIXED_HEADER_LEN + 4 * self.csrcs.len() + extension.map_or(0, |e| 4 + e.data.len())
    }

    /// Writes this header and `extension` (padding bit clear) at the start of `out`;
    /// returns the bytes written, after which the payload goes.
    ///
    /// # Errors
    ///
    /// [`WriteError::BufferTooSmall`], or [`WriteError::BadExtensionLength`] when the
    /// extension data is not 0–65 535 whole 32-bit words.
    pub fn write(
        &self,
        extension: Option<&Extension<'_>>,
        out: &mut [u8],
    ) -> Result<usize, WriteError> {
        let needed = self.encoded_len(extension);
        let available = out.len();
        let head = out
            .get_mut(..needed)
            .ok_or(WriteError::BufferTooSmall { needed, available })?;
        let extension_words = match extension {
            Some(ext) => Some(extension_words(ext)?),
            None => None,
        };
        // `len()` is at most MAX_CSRCS, so it fits the 4-bit CC field.
        head[0] = VERSION << 6 | u8::from(extension.is_some()) << 4 | self.csrcs.len() as u8;
        head[1] = u8::from(self.marker) << 7 | self.pt.get();
        head[2..4].copy_from_slice(&self.seq.0.to_be_bytes());
        head[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        head[8..12].copy_from_slice(&self.ssrc.0.to_be_bytes());
        let mut pos = FIXED_HEADER_LEN;
        for csrc in self.csrcs.as_slice() {
            head[pos..pos + 4].copy_from_slice(&csrc.0.to_be_bytes());
            pos += 4;
        }
        if let (Some(ext), Some(words)) = (extension, extension_words) {
            head[pos..pos + 2].copy_from_slice(&ext.profile.to_be_bytes());
            head[pos + 2..pos + 4].copy_from_slice(&words.to_be_bytes());
            head[pos + 4..needed].copy_from_slice(ext.data);
        }
        Ok(needed)
    }
}

fn extension_words(ext: &Extension<'_>) -> Result<u16, WriteError> {
    let len = ext.data.len();
    if !len.is_multiple_of(4) {
        return Err(WriteError::BadExtensionLength { len });
    }
    u16::try_from(len / 4).map_err(|_| WriteError::BadExtensionLength { len })
}

/// An RTP packet borrowed from a received datagram (or to be written into one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The header fields.
    pub header: RtpHeader,
    /// The header extension, when the X bit is set.
    pub extension: Option<Extension<'a>>,
    /// The payload, without padding.
    pub payload: &'a [u8],
    /// Padding bytes after the payload, the count byte included; 0 when the P bit is
    /// clear.
    pub padding: u8,
}

impl<'a> RtpPacket<'a> {
    /// Parses `buf` as one RTP packet. Never panics; borrows the extension and payload.
    ///
    /// # Errors
    ///
    /// [`RtpError::Truncated`] when the fixed header, the CSRC list or the extension
    /// runs past the end; [`RtpError::BadVersion`]; [`RtpError::BadPadding`].
    pub fn parse(buf: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        let (header, has_padding, has_extension) = parse_fixed(buf)?;
        let mut pos = FIXED_HEADER_LEN + 4 * header.csrcs.len();
        let extension = if has_extension {
            let (ext, end) = parse_extension(buf, pos)?;
            pos = end;
            Some(ext)
        } else {
            None
        };
        let (payload, padding) = split_padding(buf, pos, has_padding)?;
        Ok(RtpPacket {
            header,
            extension,
            payload,
            padding,
        })
    }

    /// Bytes the packet takes on the wire.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        self.header.encoded_len(self.extension.as_ref())
            + self.payload.len()
            + usize::from(self.padding)
    }

    /// Writes the packet at the start of `out`; returns the bytes written. Padding bytes
    /// are zeros followed by the count.
    ///
    /// # Errors
    ///
    /// As [`RtpHeader::write`].
    pub fn write(&self, out: &mut [u8]) -> Result<usize, WriteError> {
        let needed = self.encoded_len();
        let available = out.len();
        let out = out
            .get_mut(..needed)
            .ok_or(WriteError::BufferTooSmall { needed, available })?;
        let header_len = self.header.write(self.extension.as_ref(), out)?;
        let payload_end = header_len + self.payload.len();
        out[header_len..payload_end].copy_from_slice(self.payload);
        if self.padding > 0 {
            out[0] |= 0x20;
            out[payload_end..needed].fill(0);
            out[needed - 1] = self.padding;
        }
        Ok(needed)
    }
}

/// The fixed header and CSRC list, plus the P and X bits.
fn parse_fixed(buf: &[u8]) -> Result<(RtpHeader, bool, bool), RtpError> {
    let len = buf.len();
    let fixed: &[u8; FIXED_HEADER_LEN] = buf.first_chunk().ok_or(RtpError::Truncated {
        needed: FIXED_HEADER_LEN,
        len,
    })?;
    let version = fixed[0] >> 6;
    if version != VERSION {
        return Err(RtpError::BadVersion(version));
    }
    let count = usize::from(fixed[0] & 0x0F);
    let needed = FIXED_HEADER_LEN + 4 * count;
    let csrc_bytes = buf
        .get(FIXED_HEADER_LEN..needed)
        .ok_or(RtpError::Truncated { needed, len })?;
    let mut csrcs = CsrcList::new();
    for (slot, word) in csrcs.items.iter_mut().zip(csrc_bytes.chunks_exact(4)) {
        *slot = Ssrc(be32(word));
    }
    // At most 15: the CC field has 4 bits.
    csrcs.len = count as u8;
    let header = RtpHeader {
        marker: fixed[1] & 0x80 != 0,
        pt: Pt::from_low_bits(fixed[1]),
        seq: Seq(u16::from_be_bytes([fixed[2], fixed[3]])),
        timestamp: be32(&fixed[4..8]),
        ssrc: Ssrc(be32(&fixed[8..12])),
        csrcs,
    };
    Ok((header, fixed[0] & 0x20 != 0, fixed[0] & 0x10 != 0))
}

/// The extension starting at `pos`, and the offset just past it.
fn parse_extension(buf: &[u8], pos: usize) -> Result<(Extension<'_>, usize), RtpError> {
    let len = buf.len();
    let ext_head = buf.get(pos..pos + 4).ok_or(RtpError::Truncated {
        needed: pos + 4,
        len,
    })?;
    let profile = u16::from_be_bytes([ext_head[0], ext_head[1]]);
    let words = usize::from(u16::from_be_bytes([ext_head[2], ext_head[3]]));
    let end = pos + 4 + 4 * words;
    let data = buf
        .get(pos + 4..end)
        .ok_or(RtpError::Truncated { needed: end, len })?;
    Ok((Extension { profile, data }, end))
}

/// The payload after the header ending at `pos`, and the padding length.
fn split_padding(buf: &[u8], pos: usize, has_padding: bool) -> Result<(&[u8], u8), RtpError> {
    let rest = buf.get(pos..).unwrap_or_default();
    if !has_padding {
        return Ok((rest, 0));
    }
    let count = rest.last().copied().unwrap_or(0);
    let available = rest.len();
    if count == 0 || usize::from(count) > available {
        return Err(RtpError::BadPadding { count, available });
    }
    Ok((&rest[..available - usize::from(count)], count))
}

/// A big-endian u32 from the first 4 bytes of `bytes`; callers pass exactly 4.
fn be32(bytes: &[u8]) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_be_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PCMU packet: V=2, M=1, PT=0, seq 0x1234, ts 0x0000_A0A0, SSRC 0xCAFEBABE.
    const PCMU: [u8; 16] = [
        0x80, 0x80, 0x12, 0x34, 0x00, 0x00, 0xA0, 0xA0, 0xCA, 0xFE, 0xBA, 0xBE, //
        0xFF, 0xFE, 0x7F, 0x00,
    ];

    #[test]
    fn parses_fixed_header_and_payload() {
        let packet = RtpPacket::parse(&PCMU).expect("valid packet");
        assert!(packet.header.marker);
        assert_eq!(packet.header.pt, Pt::PCMU);
        assert_eq!(packet.header.seq, Seq(0x1234));
        assert_eq!(packet.header.timestamp, 0xA0A0);
        assert_eq!(packet.header.ssrc, Ssrc(0xCAFE_BABE));
        assert!(packet.header.csrcs.is_empty());
        assert_eq!(packet.extension, None);
        assert_eq!(packet.payload, &PCMU[12..]);
        assert_eq!(packet.padding, 0);
    }

    #[test]
    fn parses_csrcs_extension_and_padding() {
        let mut buf = vec![0xB2, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]; // P, X, CC=2, PT 96
        buf.extend_from_slice(&[0, 0, 0, 0x0A, 0, 0, 0, 0x0B]); // CSRCs 10, 11
        buf.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0x7F, 0, 0]); // one word of ext
        buf.extend_from_slice(&[1, 2, 3]); // payload
        buf.extend_from_slice(&[0, 0, 3]); // 3 bytes of padding
        let packet = RtpPacket::parse(&buf).expect("valid packet");
        assert_eq!(packet.header.pt.get(), 96);
        assert_eq!(packet.header.csrcs.as_slice(), &[Ssrc(10), Ssrc(11)]);
        let ext = packet.extension.expect("X bit set");
        assert_eq!(ext.profile, 0xBEDE);
        assert_eq!(ext.data, &[0x10, 0x7F, 0, 0]);
        assert_eq!(packet.payload, &[1, 2, 3]);
        assert_eq!(packet.padding, 3);
        let mut out = [0; 64];
        let n = packet.write(&mut out).expect("fits");
        assert_eq!(&out[..n], buf.as_slice());
    }

    #[test]
    fn rejects_truncated_and_invalid_input() {
        assert_eq!(
            RtpPacket::parse(&PCMU[..11]),
            Err(RtpError::Truncated {
                needed: 12,
                len: 11
            })
        );
        let mut v1 = PCMU;
        v1[0] = 0x40;
        assert_eq!(RtpPacket::parse(&v1), Err(RtpError::BadVersion(1)));
        let mut csrc = PCMU;
        csrc[0] = 0x81; // one CSRC announced, 4 bytes present: exactly enough
        assert!(RtpPacket::parse(&csrc).is_ok());
        csrc[0] = 0x82;
        assert_eq!(
            RtpPacket::parse(&csrc),
            Err(RtpError::Truncated {
                needed: 20,
                len: 16
            })
        );
        let mut ext = PCMU;
        ext[0] = 0x90; // extension header 0xFFFE 0x7F00: 32 512 words
        assert_eq!(
            RtpPacket::parse(&ext),
            Err(RtpError::Truncated {
                needed: 16 + 4 * 0x7F00,
                len: 16
            })
        );
        let mut pad = PCMU;
        pad[0] = 0xA0; // padding count 0
        assert_eq!(
            RtpPacket::parse(&pad),
            Err(RtpError::BadPadding {
                count: 0,
                available: 4
            })
        );
        pad[15] = 5;
        assert_eq!(
            RtpPacket::parse(&pad),
            Err(RtpError::BadPadding {
                count: 5,
                available: 4
            })
        );
        pad[15] = 4; // the whole payload is padding
        assert_eq!(RtpPacket::parse(&pad).map(|p| p.payload.len()), Ok(0));
    }

    #[test]
    fn write_checks_buffer_and_extension() {
        let header = RtpHeader::new(Pt::PCMA, Seq(7), 160, Ssrc(1));
        let packet = RtpPacket {
            header,
            extension: None,
            payload: &[0xD5; 160],
            padding: 0,
        };
        let mut small = [0; 171];
        assert_eq!(
            packet.write(&mut small),
            Err(WriteError::BufferTooSmall {
                needed: 172,
                available: 171
            })
        );
        let odd = Extension {
            profile: 0xBEDE,
            data: &[1, 2, 3],
        };
        let mut out = [0; 32];
        assert_eq!(
            header.write(Some(&odd), &mut out),
            Err(WriteError::BadExtensionLength { len: 3 })
        );
        assert_eq!(CsrcList::from_slice(&[Ssrc(0); 16]), None);
        assert_eq!(
            CsrcList::from_slice(&[Ssrc(9); 15]).map(|l| l.len()),
            Some(15)
        );
    }
}
