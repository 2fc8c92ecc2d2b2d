//! SIP messages: a strict parser, a serialiser and typed views (RFC 3261 §7, §20, §25).
//!
//! ```text
//!  bytes ──parse()──► Message { Request | Response }  ──to_bytes()──► bytes
//!  stream ──frame()──► one message's length (Content-Length framing)
//! ```
//!
//! The parser checks what RFC 3261 makes mandatory and reports, for a broken
//! request, the status to answer with ([`ParseError::status`]). Headers keep
//! their order and raw text; the ones the stack acts on have typed views
//! (`Via`, `CSeq`, `NameAddr`, `Contacts`) that parse on demand.

mod header;
mod method;
mod parse;
mod scan;
mod typed;
mod uri;

use std::fmt::Write as _;

pub use header::{Header, HeaderName, Headers};
pub use method::Method;
pub use parse::{Frame, MAX_BODY, MAX_HEAD, MAX_HEADERS, ParseError, frame, parse};
pub use typed::{CSeq, Contacts, HeaderError, MAGIC_COOKIE, NameAddr, Transport, Via};
pub use uri::{Host, Params, SipUri, Uri, UriError};

/// A SIP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Request-URI.
    pub uri: Uri,
    /// Headers, in order.
    pub headers: Headers,
    /// Body bytes (the serialiser writes Content-Length from its length).
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100..=699.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Headers, in order.
    pub headers: Headers,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// A request or a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Message {
    /// The headers of either kind.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// Serialises the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

impl Request {
    /// A request with no headers or body.
    pub fn new(method: Method, uri: Uri) -> Request {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// Serialises the request; Content-Length is always written from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::with_capacity(512 + self.body.len());
        let _ = write!(s, "{} {} SIP/2.0\r\n", self.method, self.uri);
        finish(s, &self.headers, &self.body)
    }
}

impl Response {
    /// A response to `req` (RFC 3261 §8.2.6): copies Via, From, To, Call-ID and
    /// CSeq. Adding the To tag is the caller's job.
    pub fn to_request(req: &Request, status: u16) -> Response {
        Response::from_headers(&req.headers, status)
    }

    /// A response built from a request's headers (also used for requests that
    /// failed to parse, via [`ParseError::headers`]).
    pub fn from_headers(h: &Headers, status: u16) -> Response {
        let mut headers = Headers::new();
        for hdr in h.iter() {
            if matches!(
                hdr.name,
                HeaderName::Via
                    | HeaderName::From
                    | HeaderName::To
                    | HeaderName::CallId
                    | HeaderName::CSeq
            ) {
                headers.push(hdr.name.clone(), hdr.value.clone());
            }
        }
        Response {
            status,
            reason: reason_phrase(status).to_owned(),
            headers,
            body: Vec::new(),
        }
    }

    /// Serialises the response; Content-Length is always written from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::with_capacity(384 + self.body.len());
        let _ = write!(s, "SIP/2.0 {} {}\r\n", self.status, self.reason);
        finish(s, &self.headers, &self.body)
    }

    /// True for 1xx.
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }
}

fn finish(mut s: String, headers: &Headers, body: &[u8]) -> Vec<u8> {
    for h in headers
        .iter()
        .filter(|h| h.name != HeaderName::ContentLength)
    {
        let _ = write!(s, "{}: {}\r\n", h.name, h.value);
    }
    let _ = write!(s, "Content-Length: {}\r\n\r\n", body.len());
    let mut out = s.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Typed access to the headers every transaction and dialog needs. On a
/// parsed message these are present and valid, so `None` means "absent in a
/// message built locally".
impl Headers {
    /// The Call-ID.
    pub fn call_id(&self) -> Option<&str> {
        self.get(&HeaderName::CallId)
    }

    /// The CSeq.
    pub fn cseq(&self) -> Option<CSeq> {
        CSeq::parse(self.get(&HeaderName::CSeq)?).ok()
    }

    /// The From address.
    pub fn from(&self) -> Option<NameAddr> {
        NameAddr::parse(self.get(&HeaderName::From)?).ok()
    }

    /// The To address.
    pub fn to(&self) -> Option<NameAddr> {
        NameAddr::parse(self.get(&HeaderName::To)?).ok()
    }

    /// The topmost Via.
    pub fn top_via(&self) -> Option<Via> {
        Via::parse(self.values(&HeaderName::Via)?.first()?).ok()
    }

    /// Every Via, top first.
    pub fn vias(&self) -> Vec<Via> {
        self.values(&HeaderName::Via)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| Via::parse(v).ok())
            .collect()
    }

    /// The Contact header(s); `None` when absent or malformed.
    pub fn contacts(&self) -> Option<Contacts> {
        if self.count(&HeaderName::Contact) == 0 {
            return None;
        }
        Contacts::parse(self.values(&HeaderName::Contact)?).ok()
    }

    /// Name-addrs of a list header such as Route or Record-Route, in order.
    pub fn name_addrs(&self, name: &HeaderName) -> Result<Vec<NameAddr>, HeaderError> {
        let values = self.values(name).ok_or(HeaderError {
            header: "address list",
            why: "unbalanced",
        })?;
        values.into_iter().map(NameAddr::parse).collect()
    }

    /// Max-Forwards.
    pub fn max_forwards(&self) -> Option<u8> {
        self.get(&HeaderName::MaxForwards)?.trim().parse().ok()
    }

    /// The Expires header, in seconds (values beyond u32 saturate).
    pub fn expires(&self) -> Option<u32> {
        parse_delta(self.get(&HeaderName::Expires)?)
    }
}

/// Parses a delta-seconds value, saturating at `u32::MAX` (RFC 3261 §25.1).
pub fn parse_delta(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        s.parse::<u64>()
            .map_or(u32::MAX, |v| v.min(u32::MAX as u64) as u32),
    )
}

/// The default reason phrase of a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match status / 100 {
            1 => "Progress",
            2 => "OK",
            3 => "Redirect",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

#[cfg(test)]
mod tests;
