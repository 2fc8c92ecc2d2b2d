//! Newtypes for the RTP header's identifiers: [`Ssrc`], [`Seq`] and [`Pt`].
//!
//! [`Seq`] is a 16-bit counter that wraps; it has no `Ord`, because "later" only makes
//! sense within half the number space. Its helpers follow RFC 3550 §A.1: a signed
//! wrapping distance, a newer-than test, and the extension to a 32-bit sequence number
//! (cycles of 65 536 plus the 16-bit value) nearest to a known one.

use std::fmt;

/// A synchronisation source identifier (RFC 3550 §5.1), also used for CSRCs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ssrc(pub u32);

impl fmt::Display for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// An RTP sequence number: 16 bits, wrapping at 65 535 → 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Seq(pub u16);

impl Seq {
    /// The sequence number after this one (65 535 is followed by 0).
    #[must_use]
    pub const fn next(self) -> Seq {
        Seq(self.0.wrapping_add(1))
    }

    /// This sequence number advanced by `n`, wrapping.
    #[must_use]
    pub const fn wrapping_add(self, n: u16) -> Seq {
        Seq(self.0.wrapping_add(n))
    }

    /// The signed distance from `earlier` to `self`, taking the shorter way round the
    /// circle: `Seq(1).delta(Seq(65535)) == 2`, `Seq(65535).delta(Seq(1)) == -2`.
    /// Two numbers exactly 32 768 apart give `-32768`.
    #[must_use]
    pub const fn delta(self, earlier: Seq) -> i16 {
        // Reinterpreting the wrapped difference as signed is the RFC 1982 comparison.
        self.0.wrapping_sub(earlier.0) as i16
    }

    /// Whether `self` comes after `other` (within half the sequence space).
    #[must_use]
    pub const fn is_newer_than(self, other: Seq) -> bool {
        self.delta(other) > 0
    }

    /// The 32-bit extended sequence number (RFC 3550 §A.1: `cycles << 16 | seq`) for
    /// `self` that lies nearest to the extended number `reference`. Near zero, where the
    /// nearest value would be negative, the result stays in cycle 0.
    #[must_use]
    pub fn extend(self, reference: u32) -> u32 {
        // Truncation keeps the low 16 bits: the reference's own sequence number.
        let delta = i64::from(self.delta(Seq(reference as u16)));
        let extended = i64::from(reference) + delta;
        match u32::try_from(extended) {
            Ok(value) => value,
            Err(_) if extended < 0 => u32::from(self.0),
            // Past the top of the 32-bit space the counter wraps, as a u32 does.
            Err(_) => (extended - (1_i64 << 32)) as u32,
        }
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An RTP payload type: 7 bits, 0–127.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pt(u8);

impl Pt {
    /// PCMU (G.711 µ-law), static payload type 0.
    pub const PCMU: Pt = Pt(0);
    /// PCMA (G.711 A-law), static payload type 8.
    pub const PCMA: Pt = Pt(8);

    /// A payload type, or `None` when `value` does not fit in 7 bits.
    #[must_use]
    pub const fn new(value: u8) -> Option<Pt> {
        if value <= 0x7f { Some(Pt(value)) } else { None }
    }

    /// The low 7 bits of `byte`, as found in the second byte of an RTP header.
    pub(crate) const fn from_low_bits(byte: u8) -> Pt {
        Pt(byte & 0x7f)
    }

    /// The payload type's number.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Pt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_takes_the_short_way_round() {
        assert_eq!(Seq(1).delta(Seq(65535)), 2);
        assert_eq!(Seq(65535).delta(Seq(1)), -2);
        assert_eq!(Seq(100).delta(Seq(90)), 10);
        assert_eq!(Seq(0).delta(Seq(32768)), -32768);
        assert!(Seq(0).is_newer_than(Seq(65535)));
        assert!(!Seq(65535).is_newer_than(Seq(0)));
        assert!(!Seq(7).is_newer_than(Seq(7)));
        assert_eq!(Seq(65535).next(), Seq(0));
        assert_eq!(Seq(65530).wrapping_add(10), Seq(4));
    }

    #[test]
    fn extend_follows_wrap_around_both_ways() {
        // Just past a wrap: reference is 65 535 in cycle 0, packet 2 is in cycle 1.
        assert_eq!(Seq(2).extend(65_535), 65_538);
        // A late packet from before the wrap, reference already in cycle 1.
        assert_eq!(Seq(65_534).extend(65_538), 65_534);
        // Several cycles in.
        assert_eq!(Seq(10).extend(3 << 16 | 5), 3 << 16 | 10);
        // Near zero the result never goes below cycle 0.
        assert_eq!(Seq(65_000).extend(3), 65_000);
        // At the top of the 32-bit space the counter wraps.
        assert_eq!(Seq(1).extend(u32::MAX), 1);
    }

    #[test]
    fn payload_type_is_seven_bits() {
        assert_eq!(Pt::new(127).map(Pt::get), Some(127));
        assert_eq!(Pt::new(128), None);
        assert_eq!(Pt::from_low_bits(0x80 | 96).get(), 96);
        assert_eq!(Ssrc(0xdead_beef).to_string(), "deadbeef");
    }
}
