//! The RFC 4733 §2.3 telephone-event payload block.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     event     |E|R| volume    |          duration             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! DTMF senders put one block in a packet, which [`TelephoneEvent::parse`] reads. A
//! payload packing several blocks (RFC 4733 §2.5.1.5, used for short events such as
//! modem signals) is refused there with [`PayloadError::MultipleBlocks`];
//! [`TelephoneEvent::parse_all`] reads every block of it for a caller that wants them.

/// A telephone-event payload that cannot be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Fewer than the 4 bytes of one block.
    #[error("telephone-event payload of {len} bytes, shorter than one 4-byte block")]
    Truncated {
        /// Payload length in bytes.
        len: usize,
    },
    /// Not a whole number of 4-byte blocks.
    #[error("telephone-event payload of {len} bytes is not a whole number of 4-byte blocks")]
    Misaligned {
        /// Payload length in bytes.
        len: usize,
    },
    /// Several blocks where one was expected (see [`TelephoneEvent::parse_all`]).
    #[error("telephone-event payload packs {count} blocks, one was expected")]
    MultipleBlocks {
        /// How many 4-byte blocks the payload holds.
        count: usize,
    },
    /// A volume above 63 cannot be written in the 6-bit field.
    #[error("volume {volume} does not fit the 6-bit field (0..=63)")]
    VolumeOutOfRange {
        /// The volume.
        volume: u8,
    },
    /// The output buffer is smaller than a block.
    #[error("output buffer of {len} bytes, a telephone-event block needs 4")]
    BufferTooSmall {
        /// Buffer length in bytes.
        len: usize,
    },
}

/// One RFC 4733 telephone-event block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    /// Event code: 0–15 are the DTMF digits (see [`Digit::from_event`](super::Digit::from_event)).
    pub event: u8,
    /// E bit: this packet reports the end of the event (or of its last segment).
    pub end: bool,
    /// R bit: reserved, sent as 0, ignored on receipt; kept for faithful round trips.
    pub reserved: bool,
    /// Power level of the tone, as 0..=63 meaning 0 to -63 dBm0.
    pub volume: u8,
    /// Duration so far, in RTP timestamp units, counted from the packet's timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Size of one block on the wire.
    pub const LEN: usize = 4;
    /// Largest volume the 6-bit field holds (-63 dBm0).
    pub const MAX_VOLUME: u8 = 63;

    /// Reads a payload of exactly one block.
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, PayloadError> {
        check_len(payload.len())?;
        if payload.len() > Self::LEN {
            return Err(PayloadError::MultipleBlocks {
                count: payload.len() / Self::LEN,
            });
        }
        Ok(Self::read_block(payload))
    }

    /// Reads every block of a payload, in order.
    pub fn parse_all(
        payload: &[u8],
    ) -> Result<impl ExactSizeIterator<Item = TelephoneEvent> + '_, PayloadError> {
        check_len(payload.len())?;
        Ok(payload.chunks_exact(Self::LEN).map(Self::read_block))
    }

    /// Writes the block into the first 4 bytes of `out`; returns 4.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, PayloadError> {
        let bytes = self.to_bytes()?;
        let Some(dst) = out.get_mut(..Self::LEN) else {
            return Err(PayloadError::BufferTooSmall { len: out.len() });
        };
        dst.copy_from_slice(&bytes);
        Ok(Self::LEN)
    }

    /// The block's 4 bytes.
    pub fn to_bytes(&self) -> Result<[u8; 4], PayloadError> {
        if self.volume > Self::MAX_VOLUME {
            return Err(PayloadError::VolumeOutOfRange {
                volume: self.volume,
            });
        }
        Ok(self.encode())
    }

    /// The 4 bytes, volume masked to its 6 bits (callers check the range first).
    pub(crate) fn encode(&self) -> [u8; 4] {
        let flags =
            (u8::from(self.end) << 7) | (u8::from(self.reserved) << 6) | (self.volume & 0x3f);
        let [hi, lo] = self.duration.to_be_bytes();
        [self.event, flags, hi, lo]
    }

    /// Decodes one block; `block` holds at least 4 bytes (the callers' length checks).
    fn read_block(block: &[u8]) -> TelephoneEvent {
        let b = |i: usize| block.get(i).copied().unwrap_or(0);
        TelephoneEvent {
            event: b(0),
            end: b(1) & 0x80 != 0,
            reserved: b(1) & 0x40 != 0,
            volume: b(1) & 0x3f,
            duration: u16::from_be_bytes([b(2), b(3)]),
        }
    }
}

fn check_len(len: usize) -> Result<(), PayloadError> {
    if len < TelephoneEvent::LEN {
        Err(PayloadError::Truncated { len })
    } else if !len.is_multiple_of(TelephoneEvent::LEN) {
        Err(PayloadError::Misaligned { len })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_field() {
        // Event 11 (#), E set, R set, volume 10, duration 0x0320 = 800.
        let ev = TelephoneEvent::parse(&[11, 0b1100_1010, 0x03, 0x20]).unwrap();
        assert_eq!(
            ev,
            TelephoneEvent {
                event: 11,
                end: true,
                reserved: true,
                volume: 10,
                duration: 800
            }
        );
        let ev = TelephoneEvent::parse(&[1, 0x3f, 0xff, 0xff]).unwrap();
        assert!(!ev.end && !ev.reserved);
        assert_eq!((ev.volume, ev.duration), (63, 0xffff));
    }

    #[test]
    fn round_trips_through_write() {
        for (event, end, reserved, volume, duration) in [
            (0, false, false, 0, 0),
            (15, true, false, 63, 65535),
            (5, true, true, 7, 160),
        ] {
            let ev = TelephoneEvent {
                event,
                end,
                reserved,
                volume,
                duration,
            };
            let mut buf = [0u8; 6];
            assert_eq!(ev.write(&mut buf), Ok(4));
            assert_eq!(TelephoneEvent::parse(&buf[..4]), Ok(ev));
            assert_eq!(ev.to_bytes().unwrap(), buf[..4]);
        }
    }

    #[test]
    fn rejects_bad_lengths_and_values() {
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(PayloadError::Truncated { len: 3 })
        );
        assert_eq!(
            TelephoneEvent::parse(&[]),
            Err(PayloadError::Truncated { len: 0 })
        );
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3, 4, 5]),
            Err(PayloadError::Misaligned { len: 5 })
        );
        let loud = TelephoneEvent {
            event: 1,
            end: false,
            reserved: false,
            volume: 64,
            duration: 0,
        };
        assert_eq!(
            loud.to_bytes(),
            Err(PayloadError::VolumeOutOfRange { volume: 64 })
        );
        let ok = TelephoneEvent { volume: 10, ..loud };
        assert_eq!(
            ok.write(&mut [0u8; 3]),
            Err(PayloadError::BufferTooSmall { len: 3 })
        );
    }

    #[test]
    fn multi_block_payloads_are_read_by_parse_all_only() {
        let payload = [1, 0x8a, 0x01, 0x90, 2, 0x0a, 0x00, 0xa0];
        let all: Vec<_> = TelephoneEvent::parse_all(&payload).unwrap().collect();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].event, all[0].end, all[0].duration), (1, true, 400));
        assert_eq!((all[1].event, all[1].end, all[1].duration), (2, false, 160));
        assert_eq!(
            TelephoneEvent::parse(&payload),
            Err(PayloadError::MultipleBlocks { count: 2 })
        );
        assert!(TelephoneEvent::parse_all(&payload[..6]).is_err());
    }
}
