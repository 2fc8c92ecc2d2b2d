//! The HTTP/1.1 client deliveries use: one `POST` per connection
//! (`Connection: close`), `http://` or `https://` (rustls, trusting the
//! operating system's certificate store), the whole exchange bounded by a
//! timeout. Only the status line of the answer is read.
//!
//! Errors never carry the URL's path or query (they may hold a receiver's
//! token), nor headers or body.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use config::{EndpointUrl, UrlScheme};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest status line read.
const MAX_STATUS_LINE: usize = 8 * 1024;

/// The longest URL accepted.
const MAX_URL: usize = 2048;

/// Where a webhook is delivered: its URL, checked and split once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Destination {
    url: EndpointUrl,
    /// Path and query as written, `/` when the URL has none.
    target: String,
}

impl Destination {
    /// Parses `http[s]://HOST[:PORT][/PATH][?QUERY]`: no user information,
    /// no fragment, printable ASCII only. `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        if text.len() > MAX_URL || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        if text.contains('#') {
            return None;
        }
        let (scheme, rest) = text.split_once("://")?;
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        let url = EndpointUrl::parse(&format!("{scheme}://{authority}"))?;
        let target = match tail {
            "" => "/".to_owned(),
            t if t.starts_with('/') => t.to_owned(),
            t => format!("/{t}"),
        };
        Some(Self { url, target })
    }

    /// The host, for logs.
    pub(crate) fn host(&self) -> &str {
        self.url.host()
    }
}

/// Why a `POST` failed. Carries no URL path, header or body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum PostError {
    /// No TCP connection.
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    /// The TLS handshake failed (certificate, protocol).
    #[error("TLS handshake failed: {0}")]
    Handshake(std::io::Error),
    /// The host is not a name a certificate can be checked against.
    #[error("the host is not a valid TLS server name")]
    ServerName,
    /// An `https` URL, and no trust anchors could be loaded.
    #[error("no trusted certificates are available for https")]
    NoTls,
    /// Writing the request failed.
    #[error("sending failed: {0}")]
    Send(std::io::Error),
    /// Reading the answer failed.
    #[error("reading the answer failed: {0}")]
    Receive(std::io::Error),
    /// The answer does not start with an HTTP/1.x status line.
    #[error("the answer is not HTTP/1.x")]
    Malformed,
    /// The exchange took longer than the timeout.
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

/// Sends deliveries. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Client {
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
}

impl Client {
    /// A client trusting the operating system's certificates (without any,
    /// `https` deliveries fail with [`PostError::NoTls`]).
    pub(crate) fn new(timeout: Duration) -> Self {
        // Read once per process: the store does not change while it runs.
        static TLS: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
        Self {
            tls: TLS.get_or_init(system_tls).clone(),
            timeout,
        }
    }

    /// `POST`s `body` (JSON) with `headers` to `dest`; the answer's status.
    pub(crate) async fn post(
        &self,
        dest: &Destination,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<u16, PostError> {
        let request = request_bytes(dest, headers, body);
        tokio::time::timeout(self.timeout, self.exchange(dest, &request))
            .await
            .map_err(|_| PostError::TimedOut(self.timeout))?
    }

    async fn exchange(&self, dest: &Destination, request: &[u8]) -> Result<u16, PostError> {
        let url = &dest.url;
        let tcp = TcpStream::connect((url.host(), url.port()))
            .await
            .map_err(PostError::Connect)?;
        let _ = tcp.set_nodelay(true);
        match url.scheme() {
            UrlScheme::Http => converse(tcp, request).await,
            UrlScheme::Https => {
                let config = self.tls.clone().ok_or(PostError::NoTls)?;
                let server = ServerName::try_from(url.host().to_owned())
                    .map_err(|_| PostError::ServerName)?;
                let tls = tokio_rustls::TlsConnector::from(config)
                    .connect(server, tcp)
                    .await
                    .map_err(PostError::Handshake)?;
                converse(tls, request).await
            }
        }
    }
}

fn request_bytes(dest: &Destination, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: Switchyard/{}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        dest.target,
        dest.url.authority(),
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Sends the request, reads up to the end of the status line.
async fn converse<S>(mut stream: S, request: &[u8]) -> Result<u16, PostError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(request).await.map_err(PostError::Send)?;
    stream.flush().await.map_err(PostError::Send)?;
    let mut line = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await.map_err(PostError::Receive)?;
        let Some(data) = buf.get(..n).filter(|d| !d.is_empty()) else {
            return status(&line).ok_or(PostError::Malformed);
        };
        line.extend_from_slice(data);
        if let Some(end) = line.iter().position(|&b| b == b'\n') {
            return status(&line[..end]).ok_or(PostError::Malformed);
        }
        if line.len() > MAX_STATUS_LINE {
            return Err(PostError::Malformed);
        }
    }
}

/// The code of `HTTP/1.x NNN …`.
fn status(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// A TLS client configuration over the system's trust anchors, if any load.
fn system_tls() -> Option<Arc<rustls::ClientConfig>> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!("no system CA certificates: https webhooks cannot be delivered");
        return None;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Some(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_keep_path_and_query_as_written() {
        let d = Destination::parse("https://hooks.example.com/in/abc/?token=x1").expect("valid");
        assert_eq!(d.host(), "hooks.example.com");
        assert_eq!(d.url.port(), 443);
        assert_eq!(d.target, "/in/abc/?token=x1");
        let d = Destination::parse("http://127.0.0.1:8080").expect("valid");
        assert_eq!((d.url.port(), d.target.as_str()), (8080, "/"));
        let d = Destination::parse("http://[::1]:9?a=b").expect("valid");
        assert_eq!((d.host(), d.target.as_str()), ("::1", "/?a=b"));
    }

    #[test]
    fn bad_destinations_are_refused() {
        for bad in [
            "ftp://example.com/",
            "example.com/hook",
            "http://user:pw@example.com/",
            "http://example.com/a b",
            "http://example.com/#frag",
            "http://example.com:0/",
            "http://exa_mple.com/",
            "http:///path",
            "",
        ] {
            assert_eq!(Destination::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Destination::parse(&format!("http://e.com/{}", "a".repeat(MAX_URL))),
            None
        );
    }

    #[test]
    fn status_lines() {
        assert_eq!(status(b"HTTP/1.1 204 No Content\r"), Some(204));
        assert_eq!(status(b"HTTP/1.0 500"), Some(500));
        assert_eq!(status(b"HTTP/2 200"), None);
        assert_eq!(status(b"HTTP/1.1 2x0 OK"), None);
        assert_eq!(status(b"HTTP/1.1  200"), None);
        assert_eq!(status(b""), None);
    }
}
