//! The IVR `http` step: a small HTTP/1.1 client for the operator's endpoints
//! (CRM, ticketing), named in `[ivr.endpoints]`.
//!
//! # Contract
//!
//! - [`Endpoints::load`] runs once at node start: it turns the configured
//!   endpoints into ready ones, reading each `https` endpoint's `ca_file` into
//!   the only trust anchors of its TLS client configuration.
//! - [`Endpoints::call`] carries out one `Command::Http` and always returns an
//!   [`HttpOutcome`]: `Response` for any status the endpoint answers with,
//!   `Failed` for an unknown endpoint name, a connection, TLS or I/O error, a
//!   malformed or over-long response, or the request's timeout, which bounds the
//!   whole exchange (name resolution, connect, handshake, request, response).
//!   It never panics and is cancel-safe: dropping the future drops the connection.
//! - One connection per request, `Connection: close`. The step's `path` is
//!   appended to the base URL's path; bytes not allowed in a request target
//!   are percent-encoded. `POST` and `PUT` send the body fields as a JSON object
//!   of strings; `GET` sends them (the flow language gives it none) as a query.
//! - At most [`MAX_RESPONSE`] bytes are read. A JSON object body gives the
//!   fields ([`fields::json_fields`]); any other body gives none.
//! - Logs name the endpoint, method, status and error, never the path, body or
//!   credentials: those may hold what the caller typed or the operator's secrets.

mod fields;
mod response;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use config::{Credential, EndpointUrl, HttpEndpoint, UrlScheme};
use ivr::{HttpMethod, HttpOutcome, HttpRequest};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{debug, warn};

use response::{Response, ResponseError, ResponseReader};

/// The most response bytes read (head and body); a longer response fails.
pub(crate) const MAX_RESPONSE: usize = 64 * 1024;

/// The endpoints `http` steps may call, by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Endpoints {
    by_name: HashMap<String, Endpoint>,
}

/// One endpoint, ready to be called.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    name: String,
    url: EndpointUrl,
    tls: Option<Arc<rustls::ClientConfig>>,
    authorization: Option<Credential>,
}

/// Why the configured endpoints could not be made ready.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum EndpointError {
    /// The CA file could not be read.
    #[error("ivr.endpoints.{name}: cannot read ca_file {}: {source}", path.display())]
    ReadCaFile {
        /// The endpoint.
        name: String,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The CA file holds no certificate rustls accepts as a trust anchor.
    #[error("ivr.endpoints.{name}: ca_file {} holds no usable PEM certificate", path.display())]
    NoCertificate {
        /// The endpoint.
        name: String,
        /// The file.
        path: std::path::PathBuf,
    },
    /// rustls refused the configuration.
    #[error("ivr.endpoints.{name}: TLS configuration rejected: {source}")]
    Tls {
        /// The endpoint.
        name: String,
        /// Why.
        #[source]
        source: rustls::Error,
    },
}

/// Why one exchange failed (logged, then answered as `Failed`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
enum ExchangeError {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS handshake failed: {0}")]
    Handshake(std::io::Error),
    #[error("the host is not a valid TLS server name")]
    ServerName,
    #[error("https endpoint without a TLS configuration")]
    NoTls,
    #[error("sending the request failed: {0}")]
    Send(std::io::Error),
    #[error("reading the response failed: {0}")]
    Receive(std::io::Error),
    #[error(transparent)]
    Response(#[from] ResponseError),
}

impl Endpoints {
    /// Makes the configured endpoints ready, reading each `https` endpoint's CA file.
    pub(crate) fn load(configured: &[HttpEndpoint]) -> Result<Self, EndpointError> {
        let mut by_name = HashMap::with_capacity(configured.len());
        for e in configured {
            let tls = match &e.ca_file {
                Some(path) => Some(client_config(&e.name, path)?),
                None => None,
            };
            let endpoint = Endpoint {
                name: e.name.clone(),
                url: e.url.clone(),
                tls,
                authorization: e.authorization.clone(),
            };
            by_name.insert(e.name.clone(), endpoint);
        }
        Ok(Self { by_name })
    }

    /// Carries out `request` against the endpoint it names (`Failed` when none does).
    pub(crate) async fn call(&self, request: &HttpRequest) -> HttpOutcome {
        match self.by_name.get(&request.endpoint) {
            Some(endpoint) => call(endpoint, request).await,
            None => {
                warn!(endpoint = %request.endpoint, "http step names no endpoint of [ivr.endpoints]; the flow takes its fallback");
                HttpOutcome::Failed
            }
        }
    }
}

/// A TLS client configuration trusting only the certificates in `path`.
fn client_config(name: &str, path: &Path) -> Result<Arc<rustls::ClientConfig>, EndpointError> {
    let pem = std::fs::read(path).map_err(|source| EndpointError::ReadCaFile {
        name: name.to_owned(),
        path: path.to_path_buf(),
        source,
    })?;
    let mut roots = rustls::RootCertStore::empty();
    // A system bundle may hold certificates webpki cannot use; the rest still count.
    let (added, _ignored) = roots
        .add_parsable_certificates(CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok));
    if added == 0 {
        return Err(EndpointError::NoCertificate {
            name: name.to_owned(),
            path: path.to_path_buf(),
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| EndpointError::Tls {
            name: name.to_owned(),
            source,
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Carries out `request` against `endpoint`, within `request.timeout`.
pub(crate) async fn call(endpoint: &Endpoint, request: &HttpRequest) -> HttpOutcome {
    let method = request.method;
    let name = &endpoint.name;
    match tokio::time::timeout(request.timeout, exchange(endpoint, request)).await {
        Ok(Ok(response)) => {
            let fields = fields::json_fields(&response.body);
            debug!(endpoint = %name, %method, status = response.status, fields = fields.len(), "http step answered");
            HttpOutcome::Response {
                status: response.status,
                fields,
            }
        }
        Ok(Err(error)) => {
            warn!(endpoint = %name, %method, %error, "http step failed; the flow takes its fallback");
            HttpOutcome::Failed
        }
        Err(_) => {
            let timeout_ms = request.timeout.as_millis();
            warn!(endpoint = %name, %method, timeout_ms, "http step timed out; the flow takes its fallback");
            HttpOutcome::Failed
        }
    }
}

async fn exchange(endpoint: &Endpoint, request: &HttpRequest) -> Result<Response, ExchangeError> {
    let url = &endpoint.url;
    let bytes = request_bytes(endpoint, request);
    let tcp = TcpStream::connect((url.host(), url.port()))
        .await
        .map_err(ExchangeError::Connect)?;
    // Small requests: send them without waiting for Nagle's acknowledgement.
    let _ = tcp.set_nodelay(true);
    match url.scheme() {
        UrlScheme::Http => converse(tcp, &bytes).await,
        UrlScheme::Https => {
            let config = endpoint.tls.clone().ok_or(ExchangeError::NoTls)?;
            let server = ServerName::try_from(url.host().to_owned())
                .map_err(|_| ExchangeError::ServerName)?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(server, tcp)
                .await
                .map_err(ExchangeError::Handshake)?;
            converse(tls, &bytes).await
        }
    }
}

/// Sends the request and reads one response.
async fn converse<S>(mut stream: S, request: &[u8]) -> Result<Response, ExchangeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(request)
        .await
        .map_err(ExchangeError::Send)?;
    stream.flush().await.map_err(ExchangeError::Send)?;
    let mut reader = ResponseReader::new(MAX_RESPONSE);
    let mut buf = vec![0u8; 8192];
    loop {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(ExchangeError::Receive)?;
        let Some(data) = buf.get(..n).filter(|d| !d.is_empty()) else {
            return Ok(reader.handle_eof()?);
        };
        if let Some(response) = reader.handle_data(data)? {
            return Ok(response);
        }
    }
}

/// The whole request: head and (for POST and PUT) a JSON body.
fn request_bytes(endpoint: &Endpoint, request: &HttpRequest) -> Vec<u8> {
    let mut target = request_target(endpoint.url.path(), &request.path);
    let body = if matches!(request.method, HttpMethod::Get) {
        if !request.body.is_empty() {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(&query(&request.body));
        }
        None
    } else {
        Some(json_body(&request.body))
    };
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nHost: {}\r\nUser-Agent: switchyard\r\nAccept: application/json\r\nConnection: close\r\n",
        request.method,
        endpoint.url.authority()
    );
    if let Some(auth) = &endpoint.authorization {
        head.push_str("Authorization: ");
        head.push_str(auth.expose());
        head.push_str("\r\n");
    }
    if let Some(body) = &body {
        head.push_str("Content-Type: application/json\r\n");
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_deref().unwrap_or_default());
    bytes
}

/// The base path joined with the step's path, with every byte not allowed in
/// a request target percent-encoded (`%` itself is kept: the path is already encoded).
fn request_target(base: &str, path: &str) -> String {
    let path = encode(path, |b| target_byte(b) || b == b'%');
    let joined = match path.as_bytes().first() {
        None => base.to_owned(),
        Some(b'/' | b'?') => format!("{base}{path}"),
        Some(_) => format!("{base}/{path}"),
    };
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

/// Bytes a request target may carry as they are (RFC 3986 `pchar`, `/` and `?`).
fn target_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b)
}

/// `key=value&…`, each part percent-encoded except unreserved characters.
fn query(fields: &[(String, String)]) -> String {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k, unreserved), encode(v, unreserved)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The body fields as a JSON object of strings.
fn json_body(fields: &[(String, String)]) -> Vec<u8> {
    let object: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(object).to_string().into_bytes()
}

#[cfg(test)]
mod tests;
