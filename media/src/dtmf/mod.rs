//! DTMF: RFC 4733 telephone-events in and out, in-band tone detection, and one merged
//! digit stream per call.
//!
//! # Contract
//!
//! Everything here is sans-IO: plain structs fed with payloads, samples and `now`, that
//! hand back digits, payloads and deadlines. Nothing reads a clock or touches a socket.
//!
//! ```text
//!  telephone-event RTP ──► TelephoneEvent::parse ──► EventReceiver ──► DigitEvent ──┐
//!                                                                                   ├─► DigitStream ──► CallDigit
//!  decoded audio (i16) ──────────────────────────────► ToneDetector ──► ToneDigit ──┘
//!
//!  Digit + duration ──► EventSender ──► EventPacket { timestamp, marker, payload, at }
//! ```
//!
//! * [`TelephoneEvent`] reads and writes the 4-byte RFC 4733 §2.3 payload block; a
//!   malformed payload is a [`PayloadError`].
//! * [`EventReceiver`] turns the telephone-event stream of one SSRC into exactly one
//!   [`DigitEvent`] per key press, whatever the network did to the packets (loss of the
//!   start or the end, duplicates, reordering, the three redundant end packets, long
//!   presses split into segments). Call order: [`EventReceiver::handle_packet`] for each
//!   packet, [`EventReceiver::handle_timeout`] when [`EventReceiver::poll_timeout`] is
//!   due, then drain [`EventReceiver::poll_event`].
//! * [`EventSender`] plans the packets of one digit sent to a leg: payload, marker, RTP
//!   timestamp and the offset at which to send each; the caller wraps them in RTP.
//! * [`ToneDetector`] finds DTMF in decoded audio (8 or 16 kHz) by Goertzel filters,
//!   with ITU-T Q.24-style acceptance (frequency, twist, level, duration, pause) and
//!   energy checks that keep speech from producing digits.
//! * [`DigitStream`] merges both sources of one call into one stream, reporting a press
//!   once when a phone sends it both ways.
//!
//! # Scope
//!
//! The sixteen DTMF events (0–9, `*`, `#`, A–D). Other RFC 4733 events (flash, modem
//! and fax tones) are parsed but never reported as digits. RFC 2198 redundancy is the
//! RTP layer's business; this module sees plain telephone-event payloads.

mod digit;
mod payload;
mod receiver;
mod sender;
mod stream;
mod tone;

pub use digit::Digit;
pub use payload::{PayloadError, TelephoneEvent};
pub use receiver::{
    DigitEvent, EventEnd, EventReceiver, PacketInfo, ReceiverConfig, ReceiverStats,
};
pub use sender::{EventPacket, EventSender};
pub use stream::{CallDigit, DigitSource, DigitStream};
pub use tone::{ToneConfig, ToneDetector, ToneDigit};

/// A parameter given to a DTMF component is out of its range. Always a local mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The tone detector runs at 8000 or 16000 Hz only.
    #[error("unsupported sample rate {rate} Hz for DTMF detection (8000 or 16000)")]
    UnsupportedSampleRate {
        /// The rate asked for.
        rate: u32,
    },
    /// An RTP clock rate of zero.
    #[error("the telephone-event clock rate must be positive")]
    ZeroClockRate,
    /// RFC 4733 volumes are 0..=63 (-dBm0).
    #[error("volume {volume} is outside 0..=63 (-dBm0)")]
    VolumeOutOfRange {
        /// The volume asked for.
        volume: u8,
    },
    /// A duration or interval that must be positive was zero (or rounds to zero
    /// timestamp units at the clock rate).
    #[error("{what} must be positive")]
    ZeroDuration {
        /// Which parameter.
        what: &'static str,
    },
    /// A threshold outside its meaningful range.
    #[error("{what} is out of range")]
    OutOfRange {
        /// Which parameter.
        what: &'static str,
    },
}
