//! Media sections (`m=` and what follows) and typed attributes.
//!
//! Attributes stay in one ordered list ([`Attribute`]) so unknown ones keep
//! their place; the accessors on [`Media`] read the typed ones out of it.

use std::fmt;

use super::{Bandwidth, Connection};

/// An RTP payload type (0–127), as in `m=` format lists, `a=rtpmap` and `a=fmtp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pt(pub u8);

impl Pt {
    /// The highest valid payload type.
    pub const MAX: u8 = 127;

    /// Parses a decimal payload type from 0 to 127.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse::<u8>().ok().filter(|n| *n <= Self::MAX).map(Pt)
    }
}

impl fmt::Display for Pt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// The media type.
    pub kind: MediaKind,
    /// The transport port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// The `/<number of ports>` suffix, if written.
    pub port_count: Option<u16>,
    /// The transport protocol.
    pub proto: Proto,
    /// The format list: payload type numbers for RTP protocols (checked to be
    /// 0–127), tokens otherwise.
    pub formats: Vec<String>,
    /// `i=`: media title.
    pub info: Option<String>,
    /// Media-level `c=`, overriding the session's.
    pub connection: Option<Connection>,
    /// Media-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// Media-level `k=` (obsolete, kept verbatim).
    pub key: Option<String>,
    /// Media-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
}

/// The `<media>` field of `m=`. Known names match case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `audio`.
    Audio,
    /// `video`.
    Video,
    /// `text`.
    Text,
    /// `application`.
    Application,
    /// `message`.
    Message,
    /// `image` (T.38 fax).
    Image,
    /// Any other token, verbatim.
    Other(String),
}

/// The `<proto>` field of `m=`. Known names match case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Proto {
    /// `RTP/AVP` (RFC 3551).
    RtpAvp,
    /// `RTP/AVPF` (RFC 4585).
    RtpAvpf,
    /// `RTP/SAVP` (RFC 3711).
    RtpSavp,
    /// `RTP/SAVPF` (RFC 5124).
    RtpSavpf,
    /// `UDP/TLS/RTP/SAVPF` (RFC 5764, WebRTC).
    UdpTlsRtpSavpf,
    /// `udp`.
    Udp,
    /// `udptl` (T.38).
    Udptl,
    /// Any other token, verbatim.
    Other(String),
}

/// One `a=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`.
    Rtpmap(Rtpmap),
    /// `a=fmtp:<pt> <parameters>`.
    Fmtp(Fmtp),
    /// `a=ptime:<ms>`.
    Ptime(u32),
    /// `a=maxptime:<ms>`.
    Maxptime(u32),
    /// `a=sendrecv`, `a=sendonly`, `a=recvonly` or `a=inactive`.
    Direction(Direction),
    /// `a=rtcp:<port> [IN <addrtype> <address>]` (RFC 3605).
    Rtcp(Rtcp),
    /// `a=rtcp-mux` (RFC 5761).
    RtcpMux,
    /// `a=crypto:<tag> <suite> <key-params> [<session-params>]` (RFC 4568).
    Crypto(Crypto),
    /// Any other attribute, verbatim: `a=<name>` or `a=<name>:<value>`. Also a
    /// known flag written with a value, or an `fmtp` whose format is not a
    /// payload type.
    Other {
        /// The text before the first `:`.
        name: String,
        /// The text after the first `:`, if there is one.
        value: Option<String>,
    },
}

/// `a=rtpmap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtpmap {
    /// The payload type it maps.
    pub pt: Pt,
    /// The encoding name, as written (compare case-insensitively).
    pub encoding: String,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// The encoding parameters: the channel count for audio.
    pub channels: Option<u16>,
}

/// `a=fmtp` for an RTP payload type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    /// The payload type the parameters apply to.
    pub pt: Pt,
    /// The format-specific parameters, verbatim (e.g. `0-16`, `minptime=10;useinbandfec=1`).
    pub params: String,
}

/// The media direction attributes (RFC 8866 §6.7, RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `sendrecv`, the default.
    SendRecv,
    /// `sendonly`.
    SendOnly,
    /// `recvonly`.
    RecvOnly,
    /// `inactive`.
    Inactive,
}

/// `a=rtcp` (RFC 3605): where RTCP is received when not on port + 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtcp {
    /// The RTCP port.
    pub port: u16,
    /// The RTCP address, when not the connection address.
    pub address: Option<super::Address>,
}

/// `a=crypto` (RFC 4568 SDES), fields kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// The tag (1 to 9 digits).
    pub tag: u32,
    /// The crypto suite, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub suite: String,
    /// The key parameters, e.g. `inline:<key||salt>|2^20|1:32`.
    pub key_params: String,
    /// The session parameters, e.g. `UNENCRYPTED_SRTCP`.
    pub session_params: Vec<String>,
}

/// A payload type resolved to its codec: from `a=rtpmap` or the RFC 3551
/// static table, with its `a=fmtp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The payload type.
    pub pt: Pt,
    /// The encoding name, as written.
    pub name: String,
    /// The clock rate in Hz.
    pub clock_rate: u32,
    /// The channel count (1 when not written).
    pub channels: u16,
    /// The `a=fmtp` parameters, if any.
    pub fmtp: Option<String>,
}

impl Media {
    /// An `m=` section with the given fields and no attributes.
    #[must_use]
    pub fn new(kind: MediaKind, port: u16, proto: Proto, formats: Vec<String>) -> Self {
        Self {
            kind,
            port,
            port_count: None,
            proto,
            formats,
            info: None,
            connection: None,
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        }
    }

    /// The media-level direction attribute (the last one, if repeated).
    #[must_use]
    pub fn direction(&self) -> Option<Direction> {
        last_direction(&self.attributes)
    }

    /// Replaces every media-level direction attribute by `direction`.
    pub fn set_direction(&mut self, direction: Direction) {
        self.attributes
            .retain(|a| !matches!(a, Attribute::Direction(_)));
        self.attributes.push(Attribute::Direction(direction));
    }

    /// The `a=rtcp` attribute, if any.
    #[must_use]
    pub fn rtcp(&self) -> Option<&Rtcp> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Rtcp(r) => Some(r),
            _ => None,
        })
    }

    /// Whether `a=rtcp-mux` is present.
    #[must_use]
    pub fn rtcp_mux(&self) -> bool {
        self.attributes
            .iter()
            .any(|a| matches!(a, Attribute::RtcpMux))
    }

    /// The `a=ptime` value, if any.
    #[must_use]
    pub fn ptime(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Ptime(ms) => Some(*ms),
            _ => None,
        })
    }

    /// The `a=maxptime` value, if any.
    #[must_use]
    pub fn maxptime(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Maxptime(ms) => Some(*ms),
            _ => None,
        })
    }

    /// The `a=crypto` lines.
    pub fn crypto(&self) -> impl Iterator<Item = &Crypto> {
        self.attributes.iter().filter_map(|a| match a {
            Attribute::Crypto(c) => Some(c),
            _ => None,
        })
    }

    /// The formats as RTP payload types, in offer order (non-numeric formats
    /// are skipped).
    #[must_use]
    pub fn payload_types(&self) -> Vec<Pt> {
        self.formats.iter().filter_map(|f| Pt::parse(f)).collect()
    }

    /// The formats resolved to codecs, in the order of the `m=` line. A
    /// dynamic payload type without `a=rtpmap` is skipped; the first
    /// `rtpmap`/`fmtp` of a payload type wins.
    #[must_use]
    pub fn payloads(&self) -> Vec<Payload> {
        let mut rtpmaps: [Option<&Rtpmap>; 128] = [None; 128];
        let mut fmtps: [Option<&str>; 128] = [None; 128];
        for attribute in &self.attributes {
            match attribute {
                Attribute::Rtpmap(r) => {
                    if let Some(slot) = rtpmaps.get_mut(usize::from(r.pt.0)) {
                        slot.get_or_insert(r);
                    }
                }
                Attribute::Fmtp(f) => {
                    if let Some(slot) = fmtps.get_mut(usize::from(f.pt.0)) {
                        slot.get_or_insert(&f.params);
                    }
                }
                _ => {}
            }
        }
        let resolve = |pt: Pt| {
            let index = usize::from(pt.0);
            let (name, clock_rate, channels) = match rtpmaps.get(index).copied().flatten() {
                Some(r) => (r.encoding.clone(), r.clock_rate, r.channels.unwrap_or(1)),
                None => {
                    let (name, rate, channels) = static_payload(pt)?;
                    (name.to_owned(), rate, channels)
                }
            };
            let fmtp = fmtps.get(index).copied().flatten().map(str::to_owned);
            Some(Payload {
                pt,
                name,
                clock_rate,
                channels,
                fmtp,
            })
        };
        self.payload_types()
            .into_iter()
            .filter_map(resolve)
            .collect()
    }
}

impl Direction {
    /// Whether the side that wrote this direction sends media.
    #[must_use]
    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    /// Whether the side that wrote this direction receives media.
    #[must_use]
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }

    /// The direction from whether a side sends and whether it receives.
    #[must_use]
    pub fn from_flags(sends: bool, receives: bool) -> Self {
        match (sends, receives) {
            (true, true) => Self::SendRecv,
            (true, false) => Self::SendOnly,
            (false, true) => Self::RecvOnly,
            (false, false) => Self::Inactive,
        }
    }

    /// The attribute name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }
}

impl MediaKind {
    /// Reads a `<media>` token.
    #[must_use]
    pub fn from_token(token: &str) -> Self {
        const KNOWN: [(&str, MediaKind); 6] = [
            ("audio", MediaKind::Audio),
            ("video", MediaKind::Video),
            ("text", MediaKind::Text),
            ("application", MediaKind::Application),
            ("message", MediaKind::Message),
            ("image", MediaKind::Image),
        ];
        KNOWN
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(token))
            .map_or_else(|| Self::Other(token.to_owned()), |(_, kind)| kind)
    }

    /// The token as written in `m=`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Text => "text",
            Self::Application => "application",
            Self::Message => "message",
            Self::Image => "image",
            Self::Other(token) => token,
        }
    }
}

impl Proto {
    /// Reads a `<proto>` token.
    #[must_use]
    pub fn from_token(token: &str) -> Self {
        const KNOWN: [(&str, Proto); 7] = [
            ("RTP/AVP", Proto::RtpAvp),
            ("RTP/AVPF", Proto::RtpAvpf),
            ("RTP/SAVP", Proto::RtpSavp),
            ("RTP/SAVPF", Proto::RtpSavpf),
            ("UDP/TLS/RTP/SAVPF", Proto::UdpTlsRtpSavpf),
            ("udp", Proto::Udp),
            ("udptl", Proto::Udptl),
        ];
        KNOWN
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(token))
            .map_or_else(|| Self::Other(token.to_owned()), |(_, proto)| proto)
    }

    /// The token as written in `m=`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::RtpAvp => "RTP/AVP",
            Self::RtpAvpf => "RTP/AVPF",
            Self::RtpSavp => "RTP/SAVP",
            Self::RtpSavpf => "RTP/SAVPF",
            Self::UdpTlsRtpSavpf => "UDP/TLS/RTP/SAVPF",
            Self::Udp => "udp",
            Self::Udptl => "udptl",
            Self::Other(token) => token,
        }
    }

    /// Whether formats are RTP payload types under this protocol.
    #[must_use]
    pub fn is_rtp(&self) -> bool {
        match self {
            Self::RtpAvp
            | Self::RtpAvpf
            | Self::RtpSavp
            | Self::RtpSavpf
            | Self::UdpTlsRtpSavpf => true,
            Self::Udp | Self::Udptl => false,
            Self::Other(token) => token.to_ascii_uppercase().contains("RTP/"),
        }
    }
}

/// The last direction attribute in `attributes`.
pub(super) fn last_direction(attributes: &[Attribute]) -> Option<Direction> {
    attributes.iter().rev().find_map(|a| match a {
        Attribute::Direction(d) => Some(*d),
        _ => None,
    })
}

/// The RFC 3551 static audio payload types: name, clock rate, channels.
pub(super) fn static_payload(pt: Pt) -> Option<(&'static str, u32, u16)> {
    Some(match pt.0 {
        0 => ("PCMU", 8000, 1),
        3 => ("GSM", 8000, 1),
        4 => ("G723", 8000, 1),
        5 => ("DVI4", 8000, 1),
        6 => ("DVI4", 16000, 1),
        7 => ("LPC", 8000, 1),
        8 => ("PCMA", 8000, 1),
        9 => ("G722", 8000, 1),
        10 => ("L16", 44100, 2),
        11 => ("L16", 44100, 1),
        12 => ("QCELP", 8000, 1),
        13 => ("CN", 8000, 1),
        15 => ("G728", 8000, 1),
        16 => ("DVI4", 11025, 1),
        17 => ("DVI4", 22050, 1),
        18 => ("G729", 8000, 1),
        _ => return None,
    })
}
