//! The message parser (datagrams) and framer (streams).
//!
//! [`parse`] takes one datagram or one framed stream message and returns a
//! validated [`Message`]: the mandatory headers are present, single where they
//! must be, and parse; CSeq's method matches; Content-Length is sane. A request
//! that fails gets a [`ParseError`] carrying the status a UAS should answer and
//! the headers needed to build that answer. [`frame`] finds message boundaries
//! in a TCP/TLS byte stream by Content-Length (RFC 3261 §18.3).

use super::header::{HeaderName, Headers};
use super::method::Method;
use super::scan::{decimal, is_token, is_word_char};
use super::typed::{CSeq, Contacts, NameAddr, Via};
use super::uri::Uri;
use super::{Message, Request, Response};

/// Largest header section accepted, in bytes.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// Most header lines accepted.
pub const MAX_HEADERS: usize = 256;

/// Why a message was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    /// Human-readable cause, suitable for a response's reason phrase suffix.
    pub reason: &'static str,
    /// The status a UAS should answer a broken *request* with (400, 505, …);
    /// `None` for responses and for input too broken to answer.
    pub status: Option<u16>,
    /// The request's headers when the header section itself parsed, so the
    /// answer can copy Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6.2).
    pub headers: Option<Headers>,
}

impl ParseError {
    fn fatal(reason: &'static str) -> ParseError {
        ParseError {
            reason,
            status: None,
            headers: None,
        }
    }
}

/// What a stream holds at its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet.
    Incomplete,
    /// A keep-alive (RFC 5626 §3.5.1): `CRLFCRLF` ping (answer with CRLF) or a
    /// lone CRLF pong. Skip this many bytes.
    KeepAlive {
        /// Bytes to skip.
        len: usize,
        /// True for a ping, which wants a pong.
        ping: bool,
    },
    /// A complete message of this many bytes.
    Message(usize),
}

/// Finds the first message in a stream buffer.
pub fn frame(buf: &[u8]) -> Result<Frame, ParseError> {
    if buf.starts_with(b"\r\n\r\n") {
        return Ok(Frame::KeepAlive { len: 4, ping: true });
    }
    if buf.starts_with(b"\r\n") {
        return Ok(match buf.get(2) {
            Some(b'\r') if buf.len() < 4 => Frame::Incomplete,
            None => Frame::Incomplete,
            _ => Frame::KeepAlive {
                len: 2,
                ping: false,
            },
        });
    }
    let Some((head_len, body_start)) = head_end(buf) else {
        return if buf.len() > MAX_HEAD {
            Err(ParseError::fatal("header section too large"))
        } else {
            Ok(Frame::Incomplete)
        };
    };
    let head = std::str::from_utf8(&buf[..head_len])
        .map_err(|_| ParseError::fatal("header section is not UTF-8"))?;
    let mut len = None;
    for line in unfolded_lines(head).skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if HeaderName::parse(name.trim_end_matches([' ', '\t'])) == HeaderName::ContentLength {
            let v: usize = decimal(value.trim()).ok_or(ParseError::fatal("bad Content-Length"))?;
            if len.is_some_and(|l| l != v) {
                return Err(ParseError::fatal("conflicting Content-Length"));
            }
            len = Some(v);
        }
    }
    let len = len.unwrap_or(0);
    if len > MAX_BODY {
        return Err(ParseError::fatal("body too large"));
    }
    let total = body_start + len;
    Ok(if buf.len() >= total {
        Frame::Message(total)
    } else {
        Frame::Incomplete
    })
}

/// Parses one message. On a datagram (`stream == false`) a missing
/// Content-Length means the body runs to the end, and bytes after the
/// declared body are ignored (RFC 3261 §18.3).
pub fn parse(buf: &[u8], stream: bool) -> Result<Message, ParseError> {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let buf = &buf[start..];
    let (head_len, body_start) =
        head_end(buf).ok_or(ParseError::fatal("no end of header section"))?;
    if head_len > MAX_HEAD {
        return Err(ParseError::fatal("header section too large"));
    }
    let head = std::str::from_utf8(&buf[..head_len])
        .map_err(|_| ParseError::fatal("header section is not UTF-8"))?;
    let mut lines = unfolded_lines(head);
    let start_line = lines.next().ok_or(ParseError::fatal("empty message"))?;
    let is_request = !start_line.starts_with("SIP/");
    let headers = parse_headers(lines, is_request)?;
    let fail = |reason, status| ParseError {
        reason,
        status: is_request.then_some(status),
        headers: Some(headers.clone()),
    };
    let start = if is_request {
        parse_request_line(&start_line)
            .map(StartLine::Request)
            .map_err(|(r, s)| fail(r, s))?
    } else {
        parse_status_line(&start_line)
            .map(StartLine::Status)
            .map_err(|r| fail(r, 400))?
    };
    let body = take_body(&headers, &buf[body_start..], stream).map_err(|r| fail(r, 400))?;
    validate_common(&headers).map_err(|r| fail(r, 400))?;
    Ok(match start {
        StartLine::Request((method, uri)) => {
            validate_request(&method, &headers).map_err(|r| fail(r, 400))?;
            Message::Request(Request {
                method,
                uri,
                headers,
                body,
            })
        }
        StartLine::Status((status, reason)) => Message::Response(Response {
            status,
            reason,
            headers,
            body,
        }),
    })
}

enum StartLine {
    Request((Method, Uri)),
    Status((u16, String)),
}

/// Returns (end of the last header line, start of the body).
fn head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'\n', &buf[from..]) {
        let nl = from + i;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some((nl, nl + 2)),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some((nl, nl + 3)),
            _ => from = nl + 1,
        }
    }
    None
}

/// Lines of the header section with folding undone (RFC 3261 §7.3.1).
fn unfolded_lines(head: &str) -> impl Iterator<Item = std::borrow::Cow<'_, str>> {
    let mut raw = head
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .peekable();
    std::iter::from_fn(move || {
        let first = raw.next()?;
        if !raw.peek().is_some_and(|n| n.starts_with([' ', '\t'])) {
            return Some(std::borrow::Cow::Borrowed(first));
        }
        let mut line = first.trim_end_matches([' ', '\t']).to_owned();
        while let Some(next) = raw.next_if(|n| n.starts_with([' ', '\t'])) {
            line.push(' ');
            line.push_str(next.trim_matches([' ', '\t']));
        }
        Some(std::borrow::Cow::Owned(line))
    })
}

fn parse_headers<'a>(
    lines: impl Iterator<Item = std::borrow::Cow<'a, str>>,
    is_request: bool,
) -> Result<Headers, ParseError> {
    let status = is_request.then_some(400);
    let bad = |reason| ParseError {
        reason,
        status,
        headers: None,
    };
    let mut headers = Headers::new();
    for line in lines {
        if headers.len() >= MAX_HEADERS {
            return Err(bad("too many headers"));
        }
        let (name, value) = line.split_once(':').ok_or(bad("header line without ':'"))?;
        let name = name.trim_end_matches([' ', '\t']);
        if !is_token(name) {
            return Err(bad("bad header name"));
        }
        headers.push(HeaderName::parse(name), value.trim_matches([' ', '\t']));
    }
    Ok(headers)
}

fn take_body(headers: &Headers, rest: &[u8], stream: bool) -> Result<Vec<u8>, &'static str> {
    let mut declared: Option<usize> = None;
    for v in headers.get_all(&HeaderName::ContentLength) {
        let n = decimal(v).ok_or("bad Content-Length")?;
        if declared.is_some_and(|d| d != n) {
            return Err("conflicting Content-Length");
        }
        declared = Some(n);
    }
    let len = match declared {
        Some(n) if n > rest.len() => return Err("Content-Length larger than the message"),
        Some(n) => n,
        None if stream => 0,
        None => rest.len(),
    };
    if len > MAX_BODY {
        return Err("body too large");
    }
    Ok(rest[..len].to_vec())
}

fn parse_request_line(line: &str) -> Result<(Method, Uri), (&'static str, u16)> {
    let mut parts = line.split(' ');
    let (Some(m), Some(u), Some(v), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(("malformed Request-Line", 400));
    };
    if v != "SIP/2.0" {
        let looks_like_version = v.starts_with("SIP/") && v[4..].split_once('.').is_some();
        return Err(if looks_like_version {
            ("SIP version not supported", 505)
        } else {
            ("malformed Request-Line", 400)
        });
    }
    let method = Method::parse(m).ok_or(("bad method", 400))?;
    let uri = Uri::parse(u).map_err(|_| ("bad Request-URI", 400))?;
    Ok((method, uri))
}

fn parse_status_line(line: &str) -> Result<(u16, String), &'static str> {
    let rest = line.strip_prefix("SIP/2.0 ").ok_or("bad Status-Line")?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let status = decimal::<u16>(code)
        .filter(|c| code.len() == 3 && (100..700).contains(c))
        .ok_or("bad status code")?;
    Ok((status, reason.to_owned()))
}

/// Checks shared by requests and responses.
fn validate_common(h: &Headers) -> Result<(), &'static str> {
    for (name, reason) in [
        (HeaderName::From, "missing or repeated From"),
        (HeaderName::To, "missing or repeated To"),
        (HeaderName::CallId, "missing or repeated Call-ID"),
        (HeaderName::CSeq, "missing or repeated CSeq"),
    ] {
        if h.count(&name) != 1 {
            return Err(reason);
        }
    }
    let vias = h.values(&HeaderName::Via).ok_or("bad Via")?;
    if vias.is_empty() {
        return Err("missing Via");
    }
    for v in vias {
        Via::parse(v).map_err(|_| "bad Via")?;
    }
    NameAddr::parse(h.get(&HeaderName::From).unwrap_or_default()).map_err(|_| "bad From")?;
    NameAddr::parse(h.get(&HeaderName::To).unwrap_or_default()).map_err(|_| "bad To")?;
    CSeq::parse(h.get(&HeaderName::CSeq).unwrap_or_default()).map_err(|_| "bad CSeq")?;
    let call_id = h.get(&HeaderName::CallId).unwrap_or_default();
    if call_id.is_empty() || !call_id.bytes().all(|b| is_word_char(b) || b == b'@') {
        return Err("bad Call-ID");
    }
    Ok(())
}

fn validate_request(method: &Method, h: &Headers) -> Result<(), &'static str> {
    let cseq = CSeq::parse(h.get(&HeaderName::CSeq).unwrap_or_default()).map_err(|_| "bad CSeq")?;
    if &cseq.method != method {
        return Err("CSeq method does not match the request method");
    }
    match h.count(&HeaderName::MaxForwards) {
        0 => {}
        1 => {
            decimal::<u8>(h.get(&HeaderName::MaxForwards).unwrap_or_default())
                .ok_or("bad Max-Forwards")?;
        }
        _ => return Err("repeated Max-Forwards"),
    }
    if h.count(&HeaderName::Contact) > 0 {
        Contacts::parse(h.values(&HeaderName::Contact).ok_or("bad Contact")?)
            .map_err(|_| "bad Contact")?;
    }
    Ok(())
}
