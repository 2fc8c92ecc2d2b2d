//! Source descriptions (SDES, RFC 3550 §6.5) and goodbyes (BYE, §6.6).

use super::Cursor;
use super::report::{item_count, word};
use crate::rtp::error::{RtcpError, WriteError};
use crate::rtp::id::Ssrc;

/// Packet type of a source description.
pub const PT_SDES: u8 = 202;
/// Packet type of a goodbye.
pub const PT_BYE: u8 = 203;

/// The type of an SDES item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SdesKind(pub u8);

impl SdesKind {
    /// Canonical end-point identifier, the one item every compound packet carries.
    pub const CNAME: SdesKind = SdesKind(1);
    /// User name.
    pub const NAME: SdesKind = SdesKind(2);
    /// E-mail address.
    pub const EMAIL: SdesKind = SdesKind(3);
    /// Phone number.
    pub const PHONE: SdesKind = SdesKind(4);
    /// Geographic location.
    pub const LOC: SdesKind = SdesKind(5);
    /// Application or tool name.
    pub const TOOL: SdesKind = SdesKind(6);
    /// Notice or status.
    pub const NOTE: SdesKind = SdesKind(7);
    /// Private extension.
    pub const PRIV: SdesKind = SdesKind(8);
}

/// One SDES item: a type and its text (UTF-8 per the RFC, kept as bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// The item type (never 0: that ends the chunk's item list).
    pub kind: SdesKind,
    /// The value, at most 255 bytes.
    pub value: &'a [u8],
}

/// The items describing one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The source described.
    pub ssrc: Ssrc,
    /// Its items, in packet order.
    pub items: Vec<SdesItem<'a>>,
}

/// A source description packet (PT 202).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceDescription<'a> {
    /// One chunk per source (at most 31).
    pub chunks: Vec<SdesChunk<'a>>,
}

impl<'a> SourceDescription<'a> {
    /// A description with a single chunk carrying `ssrc`'s CNAME.
    #[must_use]
    pub fn with_cname(ssrc: Ssrc, cname: &'a [u8]) -> SourceDescription<'a> {
        SourceDescription {
            chunks: vec![SdesChunk {
                ssrc,
                items: vec![SdesItem {
                    kind: SdesKind::CNAME,
                    value: cname,
                }],
            }],
        }
    }

    /// The CNAME given for `ssrc`, if any.
    #[must_use]
    pub fn cname(&self, ssrc: Ssrc) -> Option<&'a [u8]> {
        self.chunks
            .iter()
            .filter(|chunk| chunk.ssrc == ssrc)
            .flat_map(|chunk| chunk.items.iter())
            .find(|item| item.kind == SdesKind::CNAME)
            .map(|item| item.value)
    }

    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<SourceDescription<'a>, RtcpError> {
        let mut chunks = Vec::with_capacity(usize::from(count));
        let mut pos = 0;
        for _ in 0..count {
            let (chunk, next) = parse_chunk(body, pos)?;
            chunks.push(chunk);
            pos = next;
        }
        Ok(SourceDescription { chunks })
    }

    pub(super) fn count(&self) -> Result<u8, WriteError> {
        item_count(self.chunks.len())
    }

    pub(super) fn body_len(&self) -> usize {
        self.chunks.iter().map(chunk_len).sum()
    }

    pub(super) fn check(&self) -> Result<(), WriteError> {
        let longest = self
            .chunks
            .iter()
            .flat_map(|c| &c.items)
            .map(|i| i.value.len());
        match longest.max() {
            Some(len) if len > 255 => Err(WriteError::TextTooLong { len }),
            _ => Ok(()),
        }
    }

    /// Writes the chunks; [`SourceDescription::check`] passed.
    pub(super) fn write_body(&self, cur: &mut Cursor<'_>) {
        for chunk in &self.chunks {
            cur.put_u32(chunk.ssrc.0);
            let mut written = 0;
            for item in &chunk.items {
                cur.put_u8(item.kind.0);
                // Checked to be at most 255 by `check`.
                cur.put_u8(item.value.len() as u8);
                cur.put_slice(item.value);
                written += 2 + item.value.len();
            }
            cur.put_zeros(padded(written + 1) - written);
        }
    }
}

/// `len` rounded up to a whole number of 32-bit words.
fn padded(len: usize) -> usize {
    len.div_ceil(4) * 4
}

/// Bytes of a chunk: SSRC, items, and 1–4 null octets up to the word boundary.
fn chunk_len(chunk: &SdesChunk<'_>) -> usize {
    let items: usize = chunk.items.iter().map(|i| 2 + i.value.len()).sum();
    4 + padded(items + 1)
}

/// The chunk at `pos` (word-aligned in `body`), and where the next chunk starts.
fn parse_chunk(body: &[u8], pos: usize) -> Result<(SdesChunk<'_>, usize), RtcpError> {
    if body.len() < pos + 4 {
        return Err(RtcpError::TruncatedBody {
            pt: PT_SDES,
            needed: pos + 4,
            len: body.len(),
        });
    }
    let ssrc = Ssrc(word(body, pos));
    let mut items = Vec::new();
    let mut at = pos + 4;
    loop {
        let kind = *body.get(at).ok_or(RtcpError::BadSdesChunk)?;
        if kind == 0 {
            let next = padded(at + 1);
            if next > body.len() {
                return Err(RtcpError::BadSdesChunk);
            }
            return Ok((SdesChunk { ssrc, items }, next));
        }
        let len = usize::from(*body.get(at + 1).ok_or(RtcpError::BadSdesChunk)?);
        let value = body
            .get(at + 2..at + 2 + len)
            .ok_or(RtcpError::BadSdesChunk)?;
        items.push(SdesItem {
            kind: SdesKind(kind),
            value,
        });
        at += 2 + len;
    }
}

/// A goodbye packet (PT 203): the sources are leaving.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Goodbye<'a> {
    /// The sources leaving (at most 31).
    pub sources: Vec<Ssrc>,
    /// Why, when given (at most 255 bytes).
    pub reason: Option<&'a [u8]>,
}

impl<'a> Goodbye<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Goodbye<'a>, RtcpError> {
        let list_len = 4 * usize::from(count);
        let truncated = |needed| RtcpError::TruncatedBody {
            pt: PT_BYE,
            needed,
            len: body.len(),
        };
        let list = body.get(..list_len).ok_or(truncated(list_len))?;
        let sources = list.chunks_exact(4).map(|w| Ssrc(word(w, 0))).collect();
        let reason = match body.get(list_len) {
            None => None,
            Some(&len) => {
                let end = list_len + 1 + usize::from(len);
                Some(body.get(list_len + 1..end).ok_or(truncated(end))?)
            }
        };
        Ok(Goodbye { sources, reason })
    }

    pub(super) fn count(&self) -> Result<u8, WriteError> {
        item_count(self.sources.len())
    }

    pub(super) fn body_len(&self) -> usize {
        4 * self.sources.len() + self.reason.map_or(0, |r| padded(1 + r.len()))
    }

    pub(super) fn check(&self) -> Result<(), WriteError> {
        match self.reason {
            Some(reason) if reason.len() > 255 => {
                Err(WriteError::TextTooLong { len: reason.len() })
            }
            _ => Ok(()),
        }
    }

    /// Writes the sources and reason; [`Goodbye::check`] passed.
    pub(super) fn write_body(&self, cur: &mut Cursor<'_>) {
        for source in &self.sources {
            cur.put_u32(source.0);
        }
        if let Some(reason) = self.reason {
            // Checked to be at most 255 by `check`.
            cur.put_u8(reason.len() as u8);
            cur.put_slice(reason);
            cur.put_zeros(padded(1 + reason.len()) - 1 - reason.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdes_chunks_are_word_aligned_with_null_terminators() {
        // Chunk 1: CNAME "ab" (4 bytes of items) + 4 nulls; chunk 2: no items, 4 nulls.
        let body = [
            0, 0, 0, 1, 1, 2, b'a', b'b', 0, 0, 0, 0, //
            0, 0, 0, 2, 0, 0, 0, 0,
        ];
        let sdes = SourceDescription::parse(2, &body).expect("valid SDES");
        assert_eq!(sdes.cname(Ssrc(1)), Some(&b"ab"[..]));
        assert_eq!(sdes.chunks[1].ssrc, Ssrc(2));
        assert!(sdes.chunks[1].items.is_empty());
        assert_eq!(sdes.body_len(), body.len());
    }

    #[test]
    fn sdes_without_terminator_or_with_overrun_is_rejected() {
        let unterminated = [0, 0, 0, 1, 1, 2, b'a', b'b'];
        assert_eq!(
            SourceDescription::parse(1, &unterminated),
            Err(RtcpError::BadSdesChunk)
        );
        let overrun = [0, 0, 0, 1, 1, 9, b'a', b'b'];
        assert_eq!(
            SourceDescription::parse(1, &overrun),
            Err(RtcpError::BadSdesChunk)
        );
        let missing_chunk = [0, 0, 0, 1, 0, 0, 0, 0];
        assert!(matches!(
            SourceDescription::parse(2, &missing_chunk),
            Err(RtcpError::TruncatedBody { pt: PT_SDES, .. })
        ));
    }

    #[test]
    fn bye_with_and_without_reason() {
        let body = [0, 0, 0, 7, 3, b'b', b'y', b'e'];
        let bye = Goodbye::parse(1, &body).expect("valid BYE");
        assert_eq!(bye.sources, vec![Ssrc(7)]);
        assert_eq!(bye.reason, Some(&b"bye"[..]));
        assert_eq!(bye.body_len(), 8);
        let bare = Goodbye::parse(1, &body[..4]).expect("valid BYE");
        assert_eq!(bare.reason, None);
        assert!(matches!(
            Goodbye::parse(1, &[0, 0, 0, 7, 9, b'x']),
            Err(RtcpError::TruncatedBody {
                pt: PT_BYE,
                needed: 14,
                ..
            })
        ));
        assert!(Goodbye::parse(2, &body[..4]).is_err());
    }
}
