//! The two plain HTTP requests the event-stream clients need before they
//! connect: `POST /api/v1/login` (a session token for a user name and
//! password) and `GET /api/v1/me` (the role behind a token).
//!
//! One HTTP/1.1 request per connection (`Connection: close`), the answer
//! read to its end and cut at its `Content-Length`, or de-chunked. Answers
//! over 1 MiB, and anything that does not parse, are errors, never panics.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Largest answer read.
const MAX_ANSWER: u64 = 1 << 20;
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request to the node's API failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiClientError {
    /// Connecting, sending or reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// No answer within the time allowed.
    #[error("no answer within {TIMEOUT:?}")]
    Timeout,
    /// The answer is not HTTP/1.1 as expected.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
    /// The node answered with an error status.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
}

#[derive(Deserialize)]
struct LoginAnswer {
    token: String,
}

#[derive(Deserialize)]
struct Me {
    role: String,
}

/// A session token for `user` and `password`.
pub async fn login(api: SocketAddr, user: &str, password: &str) -> Result<String, ApiClientError> {
    let body = serde_json::json!({ "user": user, "password": password }).to_string();
    let answer = request(api, "POST", "/api/v1/login", None, Some(&body)).await?;
    let parsed: LoginAnswer = serde_json::from_slice(&answer)
        .map_err(|_| ApiClientError::Malformed("login answer without a token"))?;
    Ok(parsed.token)
}

/// The role of the user behind `token` (`admin`, `supervisor`, …).
pub async fn role(api: SocketAddr, token: &str) -> Result<String, ApiClientError> {
    let answer = request(api, "GET", "/api/v1/me", Some(token), None).await?;
    let parsed: Me = serde_json::from_slice(&answer)
        .map_err(|_| ApiClientError::Malformed("/me answer without a role"))?;
    Ok(parsed.role)
}

/// The body of a 2xx answer to one request.
async fn request(
    api: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<Vec<u8>, ApiClientError> {
    let exchange = async {
        let mut stream = TcpStream::connect(api).await?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n");
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if let Some(b) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        head.push_str("\r\n");
        head.push_str(body.unwrap_or(""));
        stream.write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.take(MAX_ANSWER).read_to_end(&mut raw).await?;
        Ok::<_, ApiClientError>(raw)
    };
    let raw = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| ApiClientError::Timeout)??;
    parse_answer(&raw)
}

/// The body of a 2xx HTTP/1.1 answer, else the error it stands for.
pub(crate) fn parse_answer(raw: &[u8]) -> Result<Vec<u8>, ApiClientError> {
    let split = find(raw, b"\r\n\r\n").ok_or(ApiClientError::Malformed("no end of header"))?;
    let head = std::str::from_utf8(&raw[..split])
        .map_err(|_| ApiClientError::Malformed("header is not UTF-8"))?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or(ApiClientError::Malformed("no status line"))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest[..length.unwrap_or(rest.len()).min(rest.len())].to_vec()
    };
    if !(200..300).contains(&status) {
        let text = String::from_utf8_lossy(&body);
        return Err(ApiClientError::Status {
            status,
            body: text.chars().take(200).collect(),
        });
    }
    Ok(body)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A chunked body (RFC 9112 §7.1) without trailers.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, ApiClientError> {
    let mut out = Vec::new();
    loop {
        let end = find(rest, b"\r\n").ok_or(ApiClientError::Malformed("bad chunk"))?;
        let size_text = std::str::from_utf8(&rest[..end])
            .map_err(|_| ApiClientError::Malformed("bad chunk"))?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ApiClientError::Malformed("bad chunk size"))?;
        if size == 0 {
            return Ok(out);
        }
        let data = rest
            .get(end + 2..end + 2 + size)
            .ok_or(ApiClientError::Malformed("short chunk"))?;
        out.extend_from_slice(data);
        rest = rest
            .get(end + 2 + size + 2..)
            .ok_or(ApiClientError::Malformed("short chunk"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_by_length_and_by_chunks() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello-extra";
        assert_eq!(parse_answer(plain).ok(), Some(b"hello".to_vec()));
        let chunked =
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_answer(chunked).ok(), Some(b"abcde".to_vec()));
    }

    #[test]
    fn errors_and_garbage_are_typed() {
        let denied = b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 4\r\n\r\nslow";
        assert!(matches!(
            parse_answer(denied),
            Err(ApiClientError::Status { status: 429, ref body }) if body == "slow"
        ));
        for raw in [
            &b"garbage"[..],
            b"HTTP/1.1 abc\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n9\r\nab",
        ] {
            assert!(
                matches!(parse_answer(raw), Err(ApiClientError::Malformed(_))),
                "{raw:?}"
            );
        }
    }
}
