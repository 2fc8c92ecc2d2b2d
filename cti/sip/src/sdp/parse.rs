//! The SDP parser: one pass over the lines, each line dispatched on its type
//! letter to the session or to the current media section.
//!
//! Work is linear in the input: lines are split once, every field is parsed
//! once, and the [`Limits`] are checked before the line that would exceed them
//! is processed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::error::quoted;
use super::media::{Attribute, Crypto, Direction, Fmtp, Media, MediaKind, Proto, Pt, Rtcp, Rtpmap};
use super::{AddrType, Address, Bandwidth, Connection, LineError, Origin, Sdp, SdpError, Timing};

/// Bounds on hostile input, checked while parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest body accepted, in bytes.
    pub max_bytes: usize,
    /// Most non-blank lines accepted.
    pub max_lines: usize,
    /// Most `m=` sections accepted.
    pub max_media: usize,
    /// Most formats on one `m=` line.
    pub max_formats: usize,
}

impl Default for Limits {
    /// 64 KiB, 1024 lines, 32 media sections, 128 formats per `m=` line: far
    /// above what any phone or WebRTC peer sends.
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024,
            max_lines: 1024,
            max_media: 32,
            max_formats: 128,
        }
    }
}

/// Parses `input` under `limits`.
pub(super) fn parse(input: &[u8], limits: &Limits) -> Result<Sdp, SdpError> {
    if input.len() > limits.max_bytes {
        return Err(SdpError::TooLarge {
            len: input.len(),
            limit: limits.max_bytes,
        });
    }
    let mut builder = Builder::default();
    let mut blank: Option<usize> = None;
    let mut lines = 0usize;
    for (index, raw) in input.split(|b| *b == b'\n').enumerate() {
        let number = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = String::from_utf8_lossy(raw);
        let text = text.trim_end_matches([' ', '\t']);
        if text.is_empty() {
            blank.get_or_insert(number);
            continue;
        }
        let at = |reason| SdpError::Line {
            line: number,
            reason,
        };
        if let Some(line) = blank {
            return Err(SdpError::Line {
                line,
                reason: LineError::BlankLine,
            });
        }
        lines += 1;
        if lines > limits.max_lines {
            return Err(SdpError::TooManyLines {
                limit: limits.max_lines,
            });
        }
        if text.contains(['\0', '\r']) {
            return Err(at(LineError::ControlChar));
        }
        builder.line(number, text, limits)?;
    }
    builder.finish()
}

/// The description being built, line by line.
#[derive(Default)]
struct Builder {
    started: bool,
    origin: Option<Origin>,
    session_name: Option<String>,
    info: Option<String>,
    uri: Option<String>,
    emails: Vec<String>,
    phones: Vec<String>,
    connection: Option<Connection>,
    bandwidths: Vec<Bandwidth>,
    times: Vec<Timing>,
    time_zones: Option<String>,
    key: Option<String>,
    attributes: Vec<Attribute>,
    media: Vec<Media>,
    media_lines: Vec<usize>,
}

impl Builder {
    /// Takes one non-blank line.
    fn line(&mut self, number: usize, text: &str, limits: &Limits) -> Result<(), SdpError> {
        let at = |reason| SdpError::Line {
            line: number,
            reason,
        };
        let bytes = text.as_bytes();
        if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_lowercase() {
            return Err(at(LineError::Syntax(quoted(text))));
        }
        let kind = char::from(bytes[0]);
        let value = &text[2..];
        if !self.started {
            if kind != 'v' {
                return Err(at(LineError::VersionFirst));
            }
            if value != "0" {
                return Err(at(LineError::Version(quoted(value))));
            }
            self.started = true;
            return Ok(());
        }
        if kind == 'm' {
            if self.media.len() >= limits.max_media {
                return Err(SdpError::TooManyMedia {
                    limit: limits.max_media,
                });
            }
            let media = parse_media_line(value, limits).map_err(at)?;
            self.media.push(media);
            self.media_lines.push(number);
            return Ok(());
        }
        match self.media.last_mut() {
            Some(media) => media_line(media, kind, value),
            None => self.session_line(kind, value),
        }
        .map_err(at)
    }

    /// A line before the first `m=`.
    fn session_line(&mut self, kind: char, value: &str) -> Result<(), LineError> {
        match kind {
            'o' => once(&mut self.origin, parse_origin(value)?, kind),
            's' => once(&mut self.session_name, value.to_owned(), kind),
            'i' => once(&mut self.info, value.to_owned(), kind),
            'u' => once(&mut self.uri, value.to_owned(), kind),
            'e' => push(&mut self.emails, value.to_owned()),
            'p' => push(&mut self.phones, value.to_owned()),
            'c' => once(&mut self.connection, parse_connection(value)?, kind),
            'b' => push(&mut self.bandwidths, parse_bandwidth(value)?),
            't' => push(&mut self.times, parse_timing(value)?),
            'r' => match self.times.last_mut() {
                Some(timing) => push(&mut timing.repeats, value.to_owned()),
                None => Err(LineError::Misplaced(kind)),
            },
            'z' => once(&mut self.time_zones, value.to_owned(), kind),
            'k' => once(&mut self.key, value.to_owned(), kind),
            'a' => push(&mut self.attributes, parse_attribute(value)?),
            'v' => Err(LineError::Duplicate(kind)),
            _ => Err(LineError::UnknownType(kind)),
        }
    }

    /// Checks the mandatory lines and assembles the description.
    fn finish(self) -> Result<Sdp, SdpError> {
        if !self.started {
            return Err(SdpError::Empty);
        }
        let origin = self.origin.ok_or(SdpError::Missing('o'))?;
        let session_name = self.session_name.ok_or(SdpError::Missing('s'))?;
        if self.connection.is_none() {
            let lacking = self.media.iter().zip(&self.media_lines);
            if let Some((_, line)) = lacking
                .into_iter()
                .find(|(m, _)| m.port != 0 && m.connection.is_none())
            {
                return Err(SdpError::NoConnection { line: *line });
            }
        }
        let mut sdp = Sdp::new(origin, session_name);
        sdp.info = self.info;
        sdp.uri = self.uri;
        sdp.emails = self.emails;
        sdp.phones = self.phones;
        sdp.connection = self.connection;
        sdp.bandwidths = self.bandwidths;
        if !self.times.is_empty() {
            sdp.times = self.times;
        }
        sdp.time_zones = self.time_zones;
        sdp.key = self.key;
        sdp.attributes = self.attributes;
        sdp.media = self.media;
        Ok(sdp)
    }
}

/// A line inside a media section.
fn media_line(media: &mut Media, kind: char, value: &str) -> Result<(), LineError> {
    match kind {
        'i' => once(&mut media.info, value.to_owned(), kind),
        'c' => once(&mut media.connection, parse_connection(value)?, kind),
        'b' => push(&mut media.bandwidths, parse_bandwidth(value)?),
        'k' => once(&mut media.key, value.to_owned(), kind),
        'a' => push(&mut media.attributes, parse_attribute(value)?),
        'v' | 'o' | 's' | 'u' | 'e' | 'p' | 't' | 'r' | 'z' => Err(LineError::Misplaced(kind)),
        _ => Err(LineError::UnknownType(kind)),
    }
}

/// Appends to a field that may repeat.
fn push<T>(list: &mut Vec<T>, value: T) -> Result<(), LineError> {
    list.push(value);
    Ok(())
}

/// Stores `value` in a field that may be set once per section.
fn once<T>(slot: &mut Option<T>, value: T, kind: char) -> Result<(), LineError> {
    if slot.is_some() {
        return Err(LineError::Duplicate(kind));
    }
    *slot = Some(value);
    Ok(())
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
fn parse_origin(value: &str) -> Result<Origin, LineError> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [username, session_id, version, nettype, addrtype, address] = fields[..] else {
        return Err(LineError::Fields {
            line_type: "o",
            expected: "<username> <sess-id> <sess-version> IN <addrtype> <address>",
        });
    };
    check_nettype(nettype)?;
    Ok(Origin {
        username: username.to_owned(),
        session_id: session_id.to_owned(),
        session_version: number("session version", version)?,
        address: parse_address(parse_addrtype(addrtype)?, address)?,
    })
}

/// `c=<nettype> <addrtype> <address>[/<ttl>][/<count>]`.
fn parse_connection(value: &str) -> Result<Connection, LineError> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [nettype, addrtype, address] = fields[..] else {
        return Err(LineError::Fields {
            line_type: "c",
            expected: "IN <addrtype> <address>",
        });
    };
    check_nettype(nettype)?;
    let addrtype = parse_addrtype(addrtype)?;
    let mut parts = address.split('/');
    let host = parts.next().unwrap_or_default();
    let suffix: Vec<&str> = parts.collect();
    let (ttl, count) = match (addrtype, &suffix[..]) {
        (_, []) => (None, None),
        (AddrType::Ip4, [ttl]) => (Some(number("TTL", ttl)?), None),
        (AddrType::Ip4, [ttl, count]) => (
            Some(number("TTL", ttl)?),
            Some(number("address count", count)?),
        ),
        (AddrType::Ip6, [count]) => (None, Some(number("address count", count)?)),
        _ => return Err(LineError::Address(quoted(address))),
    };
    Ok(Connection {
        address: parse_address(addrtype, host)?,
        ttl,
        count,
    })
}

fn check_nettype(nettype: &str) -> Result<(), LineError> {
    if nettype.eq_ignore_ascii_case("IN") {
        Ok(())
    } else {
        Err(LineError::NetType(quoted(nettype)))
    }
}

fn parse_addrtype(token: &str) -> Result<AddrType, LineError> {
    if token.eq_ignore_ascii_case("IP4") {
        Ok(AddrType::Ip4)
    } else if token.eq_ignore_ascii_case("IP6") {
        Ok(AddrType::Ip6)
    } else {
        Err(LineError::AddrType(quoted(token)))
    }
}

/// A literal of the given type, or a host name. Text that looks like an IP
/// literal but does not parse as one of the given type is an error.
fn parse_address(addrtype: AddrType, token: &str) -> Result<Address, LineError> {
    let literal = match addrtype {
        AddrType::Ip4 => Ipv4Addr::from_str(token).ok().map(IpAddr::V4),
        AddrType::Ip6 => Ipv6Addr::from_str(token).ok().map(IpAddr::V6),
    };
    if let Some(ip) = literal {
        return Ok(Address::Ip(ip));
    }
    let looks_numeric = token.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let host_chars = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if token.is_empty() || looks_numeric || !host_chars {
        return Err(LineError::Address(quoted(token)));
    }
    Ok(Address::Fqdn {
        addrtype,
        name: token.to_owned(),
    })
}

/// `b=<bwtype>:<bandwidth>`.
fn parse_bandwidth(value: &str) -> Result<Bandwidth, LineError> {
    match value.split_once(':') {
        Some((kind, amount)) if !kind.is_empty() && !kind.contains([' ', '\t']) => Ok(Bandwidth {
            kind: kind.to_owned(),
            value: number("bandwidth", amount)?,
        }),
        _ => Err(LineError::Fields {
            line_type: "b",
            expected: "<bwtype>:<bandwidth>",
        }),
    }
}

/// `t=<start> <stop>`.
fn parse_timing(value: &str) -> Result<Timing, LineError> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [start, stop] = fields[..] else {
        return Err(LineError::Fields {
            line_type: "t",
            expected: "<start-time> <stop-time>",
        });
    };
    Ok(Timing {
        start: number("start time", start)?,
        stop: number("stop time", stop)?,
        repeats: Vec::new(),
    })
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...`.
fn parse_media_line(value: &str, limits: &Limits) -> Result<Media, LineError> {
    let mut fields = value.split_ascii_whitespace();
    let (Some(kind), Some(port), Some(proto)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(LineError::Fields {
            line_type: "m",
            expected: "<media> <port> <proto> <fmt> ...",
        });
    };
    let (port, port_count) = match port.split_once('/') {
        Some((port, count)) => (parse_port(port)?, Some(number("port count", count)?)),
        None => (parse_port(port)?, None),
    };
    let proto = Proto::from_token(proto);
    let mut formats = Vec::new();
    for format in fields {
        if formats.len() >= limits.max_formats {
            return Err(LineError::TooManyFormats(limits.max_formats));
        }
        if proto.is_rtp() && Pt::parse(format).is_none() {
            return Err(LineError::PayloadType(quoted(format)));
        }
        formats.push(format.to_owned());
    }
    if formats.is_empty() && port != 0 {
        return Err(LineError::Fields {
            line_type: "m",
            expected: "at least one format",
        });
    }
    let mut media = Media::new(MediaKind::from_token(kind), port, proto, formats);
    media.port_count = port_count;
    Ok(media)
}

/// `a=<name>[:<value>]`, typed when the name is known.
fn parse_attribute(text: &str) -> Result<Attribute, LineError> {
    let (name, value) = match text.split_once(':') {
        Some((name, value)) => (name, Some(value)),
        None => (text, None),
    };
    if name.is_empty() {
        return Err(LineError::AttributeName);
    }
    let required = |expected| LineError::Fields {
        line_type: "a",
        expected,
    };
    let attribute = match (name, value) {
        ("rtpmap", Some(v)) => Attribute::Rtpmap(parse_rtpmap(v)?),
        ("rtpmap", None) => return Err(required("rtpmap:<pt> <encoding>/<clock rate>")),
        ("fmtp", Some(v)) => parse_fmtp(v),
        ("fmtp", None) => return Err(required("fmtp:<format> <parameters>")),
        ("ptime", Some(v)) => Attribute::Ptime(number("ptime", v.trim_start())?),
        ("maxptime", Some(v)) => Attribute::Maxptime(number("maxptime", v.trim_start())?),
        ("ptime" | "maxptime", None) => return Err(required("ptime:<milliseconds>")),
        ("rtcp", Some(v)) => Attribute::Rtcp(parse_rtcp(v)?),
        ("rtcp", None) => return Err(required("rtcp:<port> [IN <addrtype> <address>]")),
        ("crypto", Some(v)) => Attribute::Crypto(parse_crypto(v)?),
        ("crypto", None) => return Err(required("crypto:<tag> <suite> <key-params>")),
        ("sendrecv", None) => Attribute::Direction(Direction::SendRecv),
        ("sendonly", None) => Attribute::Direction(Direction::SendOnly),
        ("recvonly", None) => Attribute::Direction(Direction::RecvOnly),
        ("inactive", None) => Attribute::Direction(Direction::Inactive),
        ("rtcp-mux", None) => Attribute::RtcpMux,
        _ => Attribute::Other {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        },
    };
    Ok(attribute)
}

/// `rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`.
fn parse_rtpmap(value: &str) -> Result<Rtpmap, LineError> {
    let shape = LineError::Fields {
        line_type: "rtpmap",
        expected: "<pt> <encoding>/<clock rate>[/<channels>]",
    };
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [pt, encoding] = fields[..] else {
        return Err(shape);
    };
    let pt = Pt::parse(pt).ok_or_else(|| LineError::PayloadType(quoted(pt)))?;
    let parts: Vec<&str> = encoding.split('/').collect();
    let (name, rate, channels) = match parts[..] {
        [name, rate] => (name, rate, None),
        [name, rate, channels] => (name, rate, Some(number("channel count", channels)?)),
        _ => return Err(shape),
    };
    if name.is_empty() {
        return Err(shape);
    }
    Ok(Rtpmap {
        pt,
        encoding: name.to_owned(),
        clock_rate: number("clock rate", rate)?,
        channels,
    })
}

/// `fmtp:<format> <parameters>`; an `fmtp` whose format is not an RTP payload
/// type is kept as [`Attribute::Other`].
fn parse_fmtp(value: &str) -> Attribute {
    let (format, params) = match value.split_once([' ', '\t']) {
        Some((format, params)) => (format, params.trim_start()),
        None => (value, ""),
    };
    match Pt::parse(format) {
        Some(pt) => Attribute::Fmtp(Fmtp {
            pt,
            params: params.to_owned(),
        }),
        None => Attribute::Other {
            name: "fmtp".to_owned(),
            value: Some(value.to_owned()),
        },
    }
}

/// `rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
fn parse_rtcp(value: &str) -> Result<Rtcp, LineError> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    match fields[..] {
        [port] => Ok(Rtcp {
            port: parse_port(port)?,
            address: None,
        }),
        [port, nettype, addrtype, address] => {
            check_nettype(nettype)?;
            Ok(Rtcp {
                port: parse_port(port)?,
                address: Some(parse_address(parse_addrtype(addrtype)?, address)?),
            })
        }
        _ => Err(LineError::Fields {
            line_type: "rtcp",
            expected: "<port> [IN <addrtype> <address>]",
        }),
    }
}

/// `crypto:<tag> <crypto-suite> <key-params> [<session-param> ...]` (RFC 4568).
fn parse_crypto(value: &str) -> Result<Crypto, LineError> {
    let mut fields = value.split_ascii_whitespace();
    let (Some(tag), Some(suite), Some(key_params)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(LineError::Fields {
            line_type: "crypto",
            expected: "<tag> <crypto-suite> <key-params> [<session-params>]",
        });
    };
    if tag.len() > 9 {
        return Err(LineError::Number {
            field: "crypto tag",
            value: quoted(tag),
        });
    }
    Ok(Crypto {
        tag: number("crypto tag", tag)?,
        suite: suite.to_owned(),
        key_params: key_params.to_owned(),
        session_params: fields.map(str::to_owned).collect(),
    })
}

fn parse_port(text: &str) -> Result<u16, LineError> {
    number::<u16>("port", text).map_err(|_| LineError::Port(quoted(text)))
}

/// A decimal number of ASCII digits only (no sign, no spaces).
fn number<T: FromStr>(field: &'static str, text: &str) -> Result<T, LineError> {
    let bad = || LineError::Number {
        field,
        value: quoted(text),
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}
