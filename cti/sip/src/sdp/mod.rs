//! SDP (RFC 8866, formerly RFC 4566): a typed parser and a canonical
//! serialiser, RFC 3264 offer/answer for audio, and the rewrite a media-anchoring
//! B2BUA applies to each leg's session description.
//!
//! # Contract
//!
//! - [`Sdp::parse`] takes the raw body bytes of a SIP message. It never panics and
//!   does work linear in the input size; input over the [`Limits`] is refused
//!   before any quadratic work could start. Every error names the 1-based line
//!   and the reason ([`SdpError`]).
//! - Parsing is strict about structure (`v=0` first, `<letter>=<value>` lines,
//!   known line types only, numbers and addresses that parse) and tolerant of
//!   what real phones send: LF or CRLF line ends, trailing blank lines, trailing
//!   spaces, session-level lines in any order, known attribute names whose
//!   values are unusual (kept as [`Attribute::Other`]), unknown attributes (kept
//!   verbatim, in order), and a missing `t=` line (read as `t=0 0`).
//! - [`Sdp::to_bytes`] and [`Display`](std::fmt::Display) write the canonical
//!   form: CRLF line ends, RFC 8866 field order. For any value returned by the
//!   parser, `Sdp::parse(&sdp.to_bytes()) == Ok(sdp)`. Line breaks and NUL in
//!   strings a caller builds by hand are dropped on output, so a value copied
//!   from one leg can never inject lines into another.
//! - [`answer`] and [`offer`] implement RFC 3264 for one audio stream; the
//!   rules are listed on [`answer`].
//! - [`Sdp::rewrite_for_relay`] and [`Sdp::audio_remote`] serve the B2BUA that
//!   anchors RTP on its own address; [`LegOrigin`] keeps each leg's `o=` line.
//!
//! Everything here is pure: no clock, no sockets, no randomness (session ids
//! are inputs).

mod error;
mod media;
mod negotiate;
mod parse;
mod relay;
mod write;

#[cfg(test)]
mod tests;

use std::net::IpAddr;

pub use error::{LineError, NegotiationError, SdpError};
pub use media::{
    Attribute, Crypto, Direction, Fmtp, Media, MediaKind, Payload, Proto, Pt, Rtcp, Rtpmap,
};
pub use negotiate::{Codec, LocalMedia, Preference, answer, offer};
pub use parse::Limits;
pub use relay::{AudioRemote, LegOrigin};

/// A parsed session description.
///
/// Fields are in RFC 8866 order. The protocol version (`v=`) is always 0 and so
/// is not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    /// `o=`: the originator and the session's id and version.
    pub origin: Origin,
    /// `s=`: the session name (may be empty; written as `s= ` then).
    pub session_name: String,
    /// `i=`: session information.
    pub info: Option<String>,
    /// `u=`: a URI describing the session.
    pub uri: Option<String>,
    /// `e=` lines, verbatim.
    pub emails: Vec<String>,
    /// `p=` lines, verbatim.
    pub phones: Vec<String>,
    /// Session-level `c=`: the default connection for every media section.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines, each with its `r=` lines. Never empty after parsing.
    pub times: Vec<Timing>,
    /// `z=`: time zone adjustments, verbatim.
    pub time_zones: Option<String>,
    /// Session-level `k=` (obsolete in RFC 8866, kept verbatim).
    pub key: Option<String>,
    /// Session-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
    /// `m=` sections, in order.
    pub media: Vec<Media>,
}

/// The `o=` line: `o=<username> <sess-id> <sess-version> IN <addrtype> <address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The user's login on the originating host, or `-`.
    pub username: String,
    /// The session id, a numeric string kept verbatim.
    pub session_id: String,
    /// The version, incremented on every change of the description.
    pub session_version: u64,
    /// The originating host.
    pub address: Address,
}

/// An address as written in `o=`, `c=` and `a=rtcp`, with its address type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A literal IP address; `IP4` or `IP6` follows from the variant
    /// (IPv4-mapped IPv6 addresses stay IPv6).
    Ip(IpAddr),
    /// A host name (RFC 8866 allows an FQDN in place of a literal).
    Fqdn {
        /// The address type the name was given with.
        addrtype: AddrType,
        /// The name, verbatim.
        name: String,
    },
}

/// The address type token of `o=`, `c=` and `a=rtcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrType {
    /// `IP4`.
    Ip4,
    /// `IP6`.
    Ip6,
}

/// A `c=` line: `c=IN <addrtype> <address>[/<ttl>][/<count>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The connection address.
    pub address: Address,
    /// The multicast TTL (IPv4 only).
    pub ttl: Option<u8>,
    /// The number of consecutive multicast addresses.
    pub count: Option<u32>,
}

/// A `b=<bwtype>:<bandwidth>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// The bandwidth type, such as `AS`, `CT` or `TIAS`.
    pub kind: String,
    /// The value, in the unit the type defines (kbit/s for `AS` and `CT`).
    pub value: u64,
}

/// A `t=<start> <stop>` line and the `r=` lines that follow it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timing {
    /// The start time (NTP seconds), 0 for an unbounded session.
    pub start: u64,
    /// The stop time (NTP seconds), 0 for an unbounded session.
    pub stop: u64,
    /// The `r=` lines, verbatim.
    pub repeats: Vec<String>,
}

impl Sdp {
    /// A description with the given origin and session name, one `t=0 0`
    /// line, and nothing else.
    #[must_use]
    pub fn new(origin: Origin, session_name: impl Into<String>) -> Self {
        Self {
            origin,
            session_name: session_name.into(),
            info: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            times: vec![Timing::default()],
            time_zones: None,
            key: None,
            attributes: Vec::new(),
            media: Vec::new(),
        }
    }

    /// Parses a session description with the default [`Limits`].
    ///
    /// # Errors
    ///
    /// [`SdpError`] naming the offending line and the reason.
    pub fn parse(input: &[u8]) -> Result<Self, SdpError> {
        parse::parse(input, &Limits::default())
    }

    /// Parses a session description with explicit [`Limits`].
    ///
    /// # Errors
    ///
    /// [`SdpError`] naming the offending line and the reason.
    pub fn parse_with_limits(input: &[u8], limits: &Limits) -> Result<Self, SdpError> {
        parse::parse(input, limits)
    }

    /// The canonical serialisation (CRLF line ends, RFC 8866 field order).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// The session-level direction attribute, if any.
    #[must_use]
    pub fn session_direction(&self) -> Option<Direction> {
        media::last_direction(&self.attributes)
    }

    /// The direction in force for `media`: its own attribute, else the
    /// session's, else `sendrecv` (RFC 8866 §6.7).
    #[must_use]
    pub fn direction_of(&self, media: &Media) -> Direction {
        media
            .direction()
            .or_else(|| self.session_direction())
            .unwrap_or(Direction::SendRecv)
    }

    /// The connection in force for `media`: its own `c=`, else the session's.
    #[must_use]
    pub fn connection_of<'a>(&'a self, media: &'a Media) -> Option<&'a Connection> {
        media.connection.as_ref().or(self.connection.as_ref())
    }
}

impl Address {
    /// The address type this address is written with.
    #[must_use]
    pub fn addrtype(&self) -> AddrType {
        match self {
            Self::Ip(IpAddr::V4(_)) => AddrType::Ip4,
            Self::Ip(IpAddr::V6(_)) => AddrType::Ip6,
            Self::Fqdn { addrtype, .. } => *addrtype,
        }
    }

    /// The literal IP address, if this is one.
    #[must_use]
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Self::Ip(ip) => Some(*ip),
            Self::Fqdn { .. } => None,
        }
    }

    /// Whether this is the unspecified address (`0.0.0.0` or `::`), the
    /// legacy RFC 2543 way of putting a stream on hold.
    #[must_use]
    pub fn is_unspecified(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

impl Connection {
    /// A unicast connection to `ip`.
    #[must_use]
    pub fn ip(ip: IpAddr) -> Self {
        Self {
            address: Address::Ip(ip),
            ttl: None,
            count: None,
        }
    }
}
