//! Reading one HTTP/1.1 response, sans-IO: bytes in, a [`Response`] or a
//! [`ResponseError`] out.
//!
//! Feed each received slice to [`ResponseReader::handle_data`] until it returns
//! `Ok(Some(_))`; when the peer closes first, call [`ResponseReader::handle_eof`].
//! The body is framed by `Transfer-Encoding: chunked`, else `Content-Length`,
//! else the end of the stream (RFC 9112 §6.3); 204 and 304 have none, and
//! interim 1xx responses are skipped. Every byte received counts against the
//! reader's limit, so a response that does not fit fails with
//! [`ResponseError::TooLarge`] as soon as that is known.
//!
//! Work is linear in the input: the head is scanned once and a chunked body is
//! decoded as it arrives. No input panics. After a response or an error the
//! reader is spent: more data is ignored and the end of stream is `Truncated`.

use std::ops::Range;

/// A complete response: the final status and the decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// The status code, 100..=599 (never 1xx: those are skipped).
    pub(crate) status: u16,
    /// The body, with any chunked framing removed.
    pub(crate) body: Vec<u8>,
}

/// Why the bytes received are not a usable response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ResponseError {
    /// More bytes than the limit were sent or announced.
    #[error("the response exceeds {0} bytes")]
    TooLarge(usize),
    /// The status line is not `HTTP/1.x NNN reason`.
    #[error("malformed status line")]
    StatusLine,
    /// A header line is malformed (no colon, a bad name, a folded line).
    #[error("malformed header line")]
    Header,
    /// `Content-Length` is not a number, or two values disagree.
    #[error("malformed or conflicting Content-Length")]
    ContentLength,
    /// A transfer coding other than `chunked` alone.
    #[error("unsupported Transfer-Encoding")]
    TransferEncoding,
    /// `101 Switching Protocols`, which was not asked for.
    #[error("unexpected protocol switch")]
    Upgrade,
    /// A malformed chunk size line or chunk end.
    #[error("malformed chunked body")]
    Chunk,
    /// The stream ended before the response was complete.
    #[error("the connection closed before the response was complete")]
    Truncated,
}

/// How the body of the response being read is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body (204, 304).
    Empty,
    /// Exactly this many bytes.
    Length(usize),
    /// Chunked transfer coding.
    Chunked,
    /// Until the peer closes.
    Close,
}

/// What one step of the chunked decoder found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// More bytes are needed.
    More,
    /// Go on from this input position, expecting this.
    Next(usize, Chunk),
    /// The last chunk and the trailers are read.
    Done,
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk size line.
    Size,
    /// Expecting this many data bytes.
    Data(usize),
    /// Expecting the line end after chunk data.
    DataEnd,
    /// Expecting trailer lines or the final empty line.
    Trailer,
}

#[derive(Debug)]
enum State {
    /// Looking for the end of a head that starts at `start`.
    Head { start: usize },
    /// The final head is read; its body starts at `body_at`.
    Body {
        status: u16,
        framing: Framing,
        body_at: usize,
    },
    /// Decoding a chunked body; raw input is consumed up to `at`.
    Chunked {
        status: u16,
        at: usize,
        chunk: Chunk,
    },
    /// A response was returned or an error reported.
    Spent,
}

/// Reads one response from the bytes of a connection.
#[derive(Debug)]
pub(crate) struct ResponseReader {
    raw: Vec<u8>,
    limit: usize,
    /// Where the next search for a line end resumes.
    scan: usize,
    state: State,
    body: Vec<u8>,
}

impl ResponseReader {
    /// A reader that fails once more than `limit` bytes arrive.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            raw: Vec::new(),
            limit,
            scan: 0,
            state: State::Head { start: 0 },
            body: Vec::new(),
        }
    }

    /// Takes received bytes; `Some` once the response is complete.
    pub(crate) fn handle_data(&mut self, data: &[u8]) -> Result<Option<Response>, ResponseError> {
        if matches!(self.state, State::Spent) {
            return Ok(None);
        }
        // Bytes past the limit are only an error if the response is not complete before them.
        let room = self.limit.saturating_sub(self.raw.len());
        let over = data.len() > room;
        self.raw.extend_from_slice(data.get(..room).unwrap_or(data));
        match self.advance() {
            Ok(Some(r)) => {
                self.state = State::Spent;
                Ok(Some(r))
            }
            Ok(None) if over => self.fail(ResponseError::TooLarge(self.limit)),
            Ok(None) => Ok(None),
            Err(e) => self.fail(e),
        }
    }

    /// The peer closed the stream: the response if it is complete (or
    /// delimited by the close), else why not.
    pub(crate) fn handle_eof(&mut self) -> Result<Response, ResponseError> {
        let state = std::mem::replace(&mut self.state, State::Spent);
        match state {
            State::Body {
                status,
                framing: Framing::Close,
                body_at,
            } => Ok(Response {
                status,
                body: self.raw.get(body_at..).unwrap_or_default().to_vec(),
            }),
            _ => Err(ResponseError::Truncated),
        }
    }

    fn fail<T>(&mut self, e: ResponseError) -> Result<T, ResponseError> {
        self.state = State::Spent;
        Err(e)
    }

    /// Moves through the states as far as the bytes received allow.
    fn advance(&mut self) -> Result<Option<Response>, ResponseError> {
        loop {
            match self.state {
                State::Head { start } => {
                    let Some(end) = self.head_end(start) else {
                        return Ok(None);
                    };
                    self.state = self.head(start..end)?;
                }
                State::Body {
                    status,
                    framing,
                    body_at,
                } => return Ok(self.framed_body(status, framing, body_at)),
                State::Chunked { status, at, chunk } => match self.chunk(at, chunk)? {
                    Step::More => return Ok(None),
                    Step::Next(at, chunk) => self.state = State::Chunked { status, at, chunk },
                    Step::Done => {
                        let body = std::mem::take(&mut self.body);
                        return Ok(Some(Response { status, body }));
                    }
                },
                State::Spent => return Ok(None),
            }
        }
    }

    /// The end (after the blank line) of the head starting at `start`, if received.
    fn head_end(&mut self, start: usize) -> Option<usize> {
        let from = self.scan.max(start);
        let found = self
            .raw
            .get(from..)?
            .iter()
            .enumerate()
            .find_map(|(i, &b)| {
                let at = from + i;
                (b == b'\n').then(|| self.blank_line_after(at)).flatten()
            });
        if found.is_none() {
            // A line end in the last two bytes may still begin the blank line.
            self.scan = self.raw.len().saturating_sub(2).max(start);
        }
        found
    }

    /// If a blank line follows the line end at `at`, the index after it.
    fn blank_line_after(&self, at: usize) -> Option<usize> {
        match self.raw.get(at + 1..) {
            Some([b'\n', ..]) => Some(at + 2),
            Some([b'\r', b'\n', ..]) => Some(at + 3),
            _ => None,
        }
    }

    /// Parses the head in `range` and decides what comes next.
    fn head(&mut self, range: Range<usize>) -> Result<State, ResponseError> {
        let end = range.end;
        let text = self.raw.get(range).unwrap_or_default();
        let head = parse_head(text, self.limit)?;
        self.scan = end;
        Ok(match (head.status, head.framing) {
            (101, _) => return Err(ResponseError::Upgrade),
            (100..=199, _) => State::Head { start: end },
            (status, Framing::Chunked) => State::Chunked {
                status,
                at: end,
                chunk: Chunk::Size,
            },
            (status, framing) => State::Body {
                status,
                framing,
                body_at: end,
            },
        })
    }

    fn framed_body(&mut self, status: u16, framing: Framing, body_at: usize) -> Option<Response> {
        let body = match framing {
            Framing::Empty => Vec::new(),
            Framing::Length(n) => self.raw.get(body_at..body_at.checked_add(n)?)?.to_vec(),
            Framing::Close | Framing::Chunked => return None,
        };
        Some(Response { status, body })
    }

    /// Decodes one step of a chunked body from `at`.
    fn chunk(&mut self, at: usize, chunk: Chunk) -> Result<Step, ResponseError> {
        match chunk {
            Chunk::Size => {
                let Some((line, next)) = self.line(at) else {
                    return Ok(Step::More);
                };
                let size = chunk_size(line)?;
                if size > self.limit {
                    return Err(ResponseError::TooLarge(self.limit));
                }
                let chunk = if size == 0 {
                    Chunk::Trailer
                } else {
                    Chunk::Data(size)
                };
                Ok(Step::Next(next, chunk))
            }
            Chunk::Data(n) => {
                let Some(data) = at.checked_add(n).and_then(|end| self.raw.get(at..end)) else {
                    return Ok(Step::More);
                };
                self.body.extend_from_slice(data);
                Ok(Step::Next(at + n, Chunk::DataEnd))
            }
            Chunk::DataEnd => match self.raw.get(at..) {
                Some([b'\n', ..]) => Ok(Step::Next(at + 1, Chunk::Size)),
                Some([b'\r', b'\n', ..]) => Ok(Step::Next(at + 2, Chunk::Size)),
                Some([] | [b'\r']) | None => Ok(Step::More),
                Some(_) => Err(ResponseError::Chunk),
            },
            Chunk::Trailer => match self.line(at) {
                None => Ok(Step::More),
                Some(([], _)) => Ok(Step::Done),
                Some((_, next)) => Ok(Step::Next(next, Chunk::Trailer)),
            },
        }
    }

    /// The line starting at `at` (without its line end) and where the next starts.
    fn line(&mut self, at: usize) -> Option<(&[u8], usize)> {
        let from = self.scan.max(at);
        let Some(nl) = self.raw.get(from..)?.iter().position(|&b| b == b'\n') else {
            self.scan = self.raw.len();
            return None;
        };
        let end = from + nl;
        self.scan = end + 1;
        let line = self.raw.get(at..end)?;
        Some((line.strip_suffix(b"\r").unwrap_or(line), end + 1))
    }
}

/// The status and framing of a response head (status line and header lines).
#[derive(Debug)]
struct Head {
    status: u16,
    framing: Framing,
}

fn parse_head(text: &[u8], limit: usize) -> Result<Head, ResponseError> {
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status = status_line(lines.next().unwrap_or_default())?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut codings = 0usize;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = header(line)?;
        if name.eq_ignore_ascii_case(b"content-length") {
            length = Some(content_length(value, length)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            for coding in value
                .split(|&b| b == b',')
                .map(trim)
                .filter(|c| !c.is_empty())
            {
                codings += 1;
                chunked = coding.eq_ignore_ascii_case(b"chunked");
            }
        }
    }
    let framing = match (status, codings, length) {
        (204 | 304, _, _) => Framing::Empty,
        (_, 0, Some(n)) if n > limit => return Err(ResponseError::TooLarge(limit)),
        (_, 0, Some(n)) => Framing::Length(n),
        (_, 0, None) => Framing::Close,
        (_, 1, _) if chunked => Framing::Chunked,
        _ => return Err(ResponseError::TransferEncoding),
    };
    Ok(Head { status, framing })
}

/// `HTTP/1.x NNN[ reason]`.
fn status_line(line: &[u8]) -> Result<u16, ResponseError> {
    let rest = line
        .strip_prefix(b"HTTP/1.")
        .ok_or(ResponseError::StatusLine)?;
    let (code, reason_ok) = match rest {
        [minor, b' ', a, b, c, tail @ ..] if minor.is_ascii_digit() => {
            ([*a, *b, *c], tail.is_empty() || tail.first() == Some(&b' '))
        }
        _ => return Err(ResponseError::StatusLine),
    };
    if !reason_ok || !code.iter().all(u8::is_ascii_digit) {
        return Err(ResponseError::StatusLine);
    }
    let status = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if (100..=599).contains(&status) {
        Ok(status)
    } else {
        Err(ResponseError::StatusLine)
    }
}

/// `name: value` with the value's surrounding whitespace removed.
fn header(line: &[u8]) -> Result<(&[u8], &[u8]), ResponseError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(ResponseError::Header)?;
    let (name, value) = line.split_at(colon);
    let token = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    if name.is_empty() || !name.iter().all(token) {
        return Err(ResponseError::Header);
    }
    Ok((name, trim(value.get(1..).unwrap_or_default())))
}

/// A Content-Length value (a list of equal numbers is one number), which
/// must agree with an earlier one.
fn content_length(value: &[u8], earlier: Option<usize>) -> Result<usize, ResponseError> {
    let mut found = earlier;
    for part in value.split(|&b| b == b',').map(trim) {
        let n = decimal(part).ok_or(ResponseError::ContentLength)?;
        if found.is_some_and(|f| f != n) {
            return Err(ResponseError::ContentLength);
        }
        found = Some(n);
    }
    found.ok_or(ResponseError::ContentLength)
}

fn decimal(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0usize, |n, d| {
        n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })
}

/// A chunk size line: hex digits, then optional whitespace and `;extensions`.
fn chunk_size(line: &[u8]) -> Result<usize, ResponseError> {
    let hex_len = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let (hex, rest) = line.split_at(hex_len);
    let rest = trim(rest);
    if hex.is_empty() || hex.len() > 15 || !(rest.is_empty() || rest.first() == Some(&b';')) {
        return Err(ResponseError::Chunk);
    }
    hex.iter()
        .try_fold(0usize, |n, &d| {
            let v = char::from(d).to_digit(16)?;
            n.checked_mul(16)?.checked_add(v as usize)
        })
        .ok_or(ResponseError::Chunk)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let ws = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !ws(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
