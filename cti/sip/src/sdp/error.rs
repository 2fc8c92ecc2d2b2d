//! Errors of SDP parsing and of offer/answer negotiation.
//!
//! Parse errors are the peer's fault (the node answers 400 or 488); they carry
//! the 1-based line number and a typed reason. Offending values are cut to a
//! short prefix so an error never holds a large part of hostile input.

/// Longest offending value an error keeps, in characters.
const MAX_QUOTED: usize = 40;

/// Why a session description could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The body is empty (or only blank lines).
    #[error("empty session description")]
    Empty,
    /// The body is longer than [`Limits::max_bytes`](super::Limits::max_bytes).
    #[error("session description of {len} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The body's length.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// More lines than [`Limits::max_lines`](super::Limits::max_lines).
    #[error("more than {limit} lines")]
    TooManyLines {
        /// The limit in force.
        limit: usize,
    },
    /// More `m=` sections than [`Limits::max_media`](super::Limits::max_media).
    #[error("more than {limit} media sections")]
    TooManyMedia {
        /// The limit in force.
        limit: usize,
    },
    /// A line is malformed or misplaced.
    #[error("line {line}: {reason}")]
    Line {
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: LineError,
    },
    /// A mandatory line is absent.
    #[error("missing {0}= line")]
    Missing(char),
    /// A media section with a non-zero port has no `c=`, and neither has the
    /// session.
    #[error(
        "line {line}: media section has no connection address (no c= here nor at session level)"
    )]
    NoConnection {
        /// The line of the `m=` that lacks one.
        line: usize,
    },
}

/// What is wrong with one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// Not of the form `<letter>=<value>`.
    #[error("not a <type>=<value> line: {0:?}")]
    Syntax(String),
    /// A blank line before the end of the body.
    #[error("blank line inside the description")]
    BlankLine,
    /// The line contains a NUL byte or a carriage return that does not end it.
    #[error("NUL or stray carriage return in line")]
    ControlChar,
    /// The first line is not `v=`.
    #[error("the description must start with v=")]
    VersionFirst,
    /// `v=` is not 0.
    #[error("unsupported SDP version {0:?}")]
    Version(String),
    /// A type letter RFC 8866 does not define.
    #[error("unknown line type {0:?}")]
    UnknownType(char),
    /// A line type that may appear once per section appears again.
    #[error("duplicate {0}= line")]
    Duplicate(char),
    /// A line type in a place it may not appear (`o=` in a media section,
    /// `r=` before any `t=`).
    #[error("{0}= line not allowed here")]
    Misplaced(char),
    /// Fewer or more fields than the line type has.
    #[error("{line_type}= line: expected {expected}")]
    Fields {
        /// The line type (`o`, `c`, `m`, or an attribute name).
        line_type: &'static str,
        /// The expected shape.
        expected: &'static str,
    },
    /// Only network type `IN` is supported.
    #[error("unsupported network type {0:?}")]
    NetType(String),
    /// Only address types `IP4` and `IP6` are supported.
    #[error("unsupported address type {0:?}")]
    AddrType(String),
    /// The address does not parse or does not match its address type.
    #[error("bad address {0:?}")]
    Address(String),
    /// A port is not a number from 0 to 65535.
    #[error("bad port {0:?}")]
    Port(String),
    /// A number field does not parse.
    #[error("bad {field} {value:?}")]
    Number {
        /// Which field.
        field: &'static str,
        /// The offending text.
        value: String,
    },
    /// An RTP payload type is not a number from 0 to 127.
    #[error("bad RTP payload type {0:?}")]
    PayloadType(String),
    /// An `m=` line lists more formats than [`Limits::max_formats`](super::Limits::max_formats).
    #[error("more than {0} formats")]
    TooManyFormats(usize),
    /// An attribute name is empty.
    #[error("empty attribute name")]
    AttributeName,
}

/// Why no answer can be built for an offer. The node answers 488.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// The offer has no audio stream the node can take (an `audio` section
    /// with a non-zero port over `RTP/AVP` or `RTP/AVPF`).
    #[error("the offer has no usable audio stream")]
    NoAudio,
    /// Audio was offered, but with no codec the node supports.
    #[error("no codec in common with the offer")]
    NoCommonCodec,
}

/// `text` cut to [`MAX_QUOTED`] characters, for an error payload.
pub(super) fn quoted(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
