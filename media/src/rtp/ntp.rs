//! NTP timestamps as RTCP carries them (RFC 3550 §4): 32 bits of seconds since
//! 1900-01-01 and 32 bits of fraction, and the "compact" middle 32 bits used for LSR,
//! DLSR and round-trip time. The wall time is always an input: nothing here reads a clock.

use std::time::Duration;

/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (the Unix epoch).
const UNIX_EPOCH_IN_NTP_SECONDS: u64 = 2_208_988_800;
const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// A 64-bit NTP timestamp: seconds in the high word, fraction of a second in the low.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// The NTP time of a wall-clock instant given as the time since the Unix epoch
    /// (for example `SystemTime::duration_since(UNIX_EPOCH)`, read by the caller).
    /// Wraps at the end of NTP era 0 (2036), as the 32-bit seconds field does.
    #[must_use]
    pub fn from_unix(since_epoch: Duration) -> NtpTime {
        let seconds = since_epoch
            .as_secs()
            .wrapping_add(UNIX_EPOCH_IN_NTP_SECONDS);
        // Fraction of a second is below 2^32 since subsec nanos are below 10^9.
        let fraction = (u128::from(since_epoch.subsec_nanos()) << 32) / NANOS_PER_SECOND;
        NtpTime((seconds << 32) | fraction as u64)
    }

    /// The whole seconds (high 32 bits).
    #[must_use]
    pub const fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The fraction of a second in units of 2^-32 s (low 32 bits).
    #[must_use]
    pub const fn fraction(self) -> u32 {
        // Truncation keeps the low word.
        self.0 as u32
    }

    /// The middle 32 bits (16 bits of seconds, 16 of fraction), as RTCP's LSR field and
    /// [`compact_from_duration`] use: units of 1/65 536 s.
    #[must_use]
    pub const fn middle32(self) -> u32 {
        // Truncation keeps bits 16..48.
        (self.0 >> 16) as u32
    }
}

/// A duration in compact NTP units (1/65 536 s), as RTCP's DLSR field; saturates at
/// `u32::MAX` (about 18 hours).
#[must_use]
pub fn compact_from_duration(duration: Duration) -> u32 {
    let units = (duration.as_nanos() << 16) / NANOS_PER_SECOND;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// A duration given in compact NTP units (1/65 536 s), rounded to the nanosecond.
#[must_use]
pub fn duration_from_compact(units: u32) -> Duration {
    let nanos = (u128::from(units) * NANOS_PER_SECOND + (1 << 15)) >> 16;
    // At most 65 536 s in nanoseconds: far below u64::MAX.
    Duration::from_nanos(nanos as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_maps_to_ntp_era_offset() {
        let t = NtpTime::from_unix(Duration::from_millis(1500));
        assert_eq!(t.seconds(), 2_208_988_801);
        assert_eq!(t.fraction(), 0x8000_0000);
        // Middle 32: low 16 bits of seconds, high 16 of fraction.
        assert_eq!(t.middle32(), (2_208_988_801_u32 & 0xFFFF) << 16 | 0x8000);
    }

    #[test]
    fn compact_units_are_1_over_65536_seconds() {
        assert_eq!(compact_from_duration(Duration::from_secs(1)), 65_536);
        assert_eq!(compact_from_duration(Duration::from_millis(250)), 16_384);
        assert_eq!(
            compact_from_duration(Duration::from_secs(1 << 20)),
            u32::MAX
        );
        assert_eq!(duration_from_compact(16_384), Duration::from_millis(250));
        assert_eq!(duration_from_compact(1), Duration::from_nanos(15_259));
    }
}
