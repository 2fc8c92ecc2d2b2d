//! `[ivr.endpoints]`: the HTTP endpoints IVR `http` steps call, by name.
//!
//! ```toml
//! [ivr.endpoints.crm]
//! url = "https://crm.example.com/api/v2"
//! ca_file = "tls/crm-ca.pem"
//! authorization = "Bearer 3f9c…"
//! ```
//!
//! A flow names an endpoint (`endpoint = "crm"`); the node owns its base URL,
//! the certificates that sign its server certificate and its credentials.
//! The URL is parsed here into an [`EndpointUrl`]; the CA file is resolved
//! against the configuration file's directory but not opened. An `https`
//! endpoint needs `ca_file` (no certificate store is built in), an `http` one
//! must not have it. The `authorization` value is kept in a [`Credential`],
//! whose `Debug` does not show it, and no diagnostic quotes it.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::error::{ProblemKind, Problems};
use crate::reader::Section;

/// Keys of one `[ivr.endpoints.NAME]` table.
pub(crate) const ENDPOINT_KEYS: &[&str] = &["url", "ca_file", "authorization"];

/// An HTTP endpoint an IVR `http` step may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpEndpoint {
    /// The name flows use (`endpoint = "crm"`): 1 to 64 of `A-Z a-z 0-9 - _`.
    pub name: String,
    /// The base URL; a step's `path` is appended to it.
    pub url: EndpointUrl,
    /// PEM certificates trusted for this endpoint's server certificate (a CA,
    /// a bundle, or the server's own self-signed certificate), resolved against
    /// the configuration file's directory. Always set for `https`, never for `http`.
    pub ca_file: Option<PathBuf>,
    /// The `Authorization` header value sent with every request, if any.
    pub authorization: Option<Credential>,
}

/// The scheme of an [`EndpointUrl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlScheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

/// A base URL: `http://` or `https://`, a host, an optional port and an
/// optional path; no user information, query or fragment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointUrl {
    scheme: UrlScheme,
    host: String,
    port: u16,
    path: String,
}

impl EndpointUrl {
    /// Parses `http[s]://HOST[:PORT][/PATH]`. HOST is a DNS name, an IPv4
    /// address or a bracketed IPv6 address; PATH holds only characters allowed
    /// in a URL path (`%XX` escapes included). Returns `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let (scheme, rest) = split_scheme(text)?;
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        let (host, port) = split_authority(authority)?;
        if !path.bytes().all(path_byte) || !escapes_ok(path) {
            return None;
        }
        let port = match port {
            Some(p) => p,
            None if scheme == UrlScheme::Https => 443,
            None => 80,
        };
        Some(Self {
            scheme,
            host,
            port,
            path: path.trim_end_matches('/').to_owned(),
        })
    }

    /// The scheme.
    #[must_use]
    pub fn scheme(&self) -> UrlScheme {
        self.scheme
    }

    /// The host: a DNS name or an IP address, without brackets.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (80 or 443 unless the URL names one).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path without a trailing `/`: empty, or starting with `/`.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The value of a `Host` header: the host (bracketed when IPv6) and the
    /// port when it is not the scheme's default.
    #[must_use]
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match (self.scheme, self.port) {
            (UrlScheme::Http, 80) | (UrlScheme::Https, 443) => host,
            (_, port) => format!("{host}:{port}"),
        }
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            UrlScheme::Http => "http",
            UrlScheme::Https => "https",
        };
        write!(f, "{scheme}://{}{}", self.authority(), self.path)
    }
}

/// A secret: a header value, or a trunk's digest password. `Debug` shows
/// `Credential(<redacted>)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential(pub(crate) String);

impl Credential {
    /// Keeps `secret` (for tests and callers that build a configuration in code).
    #[must_use]
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret itself, to put in a request header or hash into a digest
    /// response.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

fn split_scheme(text: &str) -> Option<(UrlScheme, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    if scheme.eq_ignore_ascii_case("http") {
        Some((UrlScheme::Http, rest))
    } else if scheme.eq_ignore_ascii_case("https") {
        Some((UrlScheme::Https, rest))
    } else {
        None
    }
}

/// `HOST[:PORT]` into the host (no brackets) and the port, if written.
pub(crate) fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (v6, after) = inner.split_once(']')?;
        v6.parse::<Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (v6, port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        (host.parse::<IpAddr>().is_ok() || dns_name(host)).then_some((host, port))?
    };
    let port = match port {
        None => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().ok().filter(|&n| n != 0)?)
        }
        Some(_) => return None,
    };
    Some((host.to_owned(), port))
}

fn dns_name(host: &str) -> bool {
    (1..=253).contains(&host.len())
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Characters of a URL path (RFC 3986 `pchar` and `/`).
fn path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b)
}

/// Every `%` starts a two-hex-digit escape.
fn escapes_ok(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    })
}

/// Decodes the `endpoints` table of `[ivr]`.
pub(crate) fn endpoints(ivr: &Section<'_, '_>, base: &Path, p: &mut Problems) -> Vec<HttpEndpoint> {
    let expected = "a table of endpoint name = { url = \"…\", … }";
    let mut out = Vec::new();
    for (name, table) in ivr.named_sections(p, "endpoints", ENDPOINT_KEYS, expected) {
        if !valid_name(name.get_ref()) {
            let what = format!(
                "{:?} is not an endpoint name (1 to 64 of A-Z a-z 0-9 - _)",
                name.get_ref()
            );
            ivr.invalid(
                p,
                name.span(),
                "endpoints",
                ProblemKind::InvalidValue,
                &what,
            );
            continue;
        }
        if let Some(e) = endpoint(name.get_ref(), name.span(), &table, base, p) {
            out.push(e);
        }
    }
    out
}

fn endpoint(
    name: &str,
    name_at: std::ops::Range<usize>,
    s: &Section<'_, '_>,
    base: &Path,
    p: &mut Problems,
) -> Option<HttpEndpoint> {
    let expected = "an http:// or https:// URL (host, optional port and path; no query)";
    let url = s.parsed(p, "url", expected, EndpointUrl::parse);
    let ca_file = s.path(p, "ca_file", base);
    let authorization = credential(s, p);
    if !s.has("url") {
        s.invalid(
            p,
            name_at,
            "url",
            ProblemKind::InvalidValue,
            "every endpoint needs a url",
        );
    }
    let url = url?.value;
    match (url.scheme(), &ca_file) {
        (UrlScheme::Https, None) if !s.has("ca_file") => {
            let what = "an https endpoint needs ca_file: the PEM certificates that sign its \
                        server certificate (a system bundle such as \
                        /etc/ssl/certs/ca-certificates.crt will do)";
            let at = s.value_at("url").unwrap_or_default();
            s.invalid(p, at, "url", ProblemKind::Inconsistent, what);
        }
        (UrlScheme::Http, Some(f)) => {
            let what = "is only used by https endpoints";
            s.invalid(
                p,
                f.key_at.clone(),
                "ca_file",
                ProblemKind::Inconsistent,
                what,
            );
        }
        _ => {}
    }
    Some(HttpEndpoint {
        name: name.to_owned(),
        url,
        ca_file: ca_file.map(|f| f.value),
        authorization,
    })
}

/// The `authorization` value; a rejected one is reported without quoting it.
fn credential(s: &Section<'_, '_>, p: &mut Problems) -> Option<Credential> {
    let f = s.string(
        p,
        "authorization",
        "a header value such as \"Bearer TOKEN\"",
    )?;
    let usable = !f.value.trim().is_empty()
        && f.value.len() <= 4096
        && f.value
            .bytes()
            .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic());
    if usable {
        return Some(Credential(f.value.to_owned()));
    }
    let what = "expected a header value (1 to 4096 printable ASCII characters, no line \
                breaks); the value is not shown";
    let at = s.value_at("authorization").unwrap_or(f.key_at);
    s.invalid(p, at, "authorization", ProblemKind::InvalidValue, what);
    None
}

pub(crate) fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> Option<(UrlScheme, String, u16, String)> {
        EndpointUrl::parse(text).map(|u| (u.scheme, u.host, u.port, u.path))
    }

    #[test]
    fn urls_parse_into_scheme_host_port_and_path() {
        use UrlScheme::{Http, Https};
        let cases = [
            ("http://crm.local", Http, "crm.local", 80, ""),
            (
                "HTTPS://crm.example.com/api/v2/",
                Https,
                "crm.example.com",
                443,
                "/api/v2",
            ),
            (
                "http://10.0.0.7:8081/x%20y",
                Http,
                "10.0.0.7",
                8081,
                "/x%20y",
            ),
            (
                "https://[2001:db8::1]:8443/",
                Https,
                "2001:db8::1",
                8443,
                "",
            ),
            ("http://[::1]", Http, "::1", 80, ""),
        ];
        for (text, scheme, host, port, path) in cases {
            let expected = Some((scheme, host.to_owned(), port, path.to_owned()));
            assert_eq!(parts(text), expected, "{text}");
        }
    }

    #[test]
    fn malformed_urls_are_refused() {
        for text in [
            "",
            "crm.local",
            "ftp://crm.local",
            "http://",
            "http://user:pw@crm.local/",
            "http://crm.local/a?b=1",
            "http://crm.local/#top",
            "http://crm.local:0/",
            "http://crm.local:65536/",
            "http://crm.local:+80/",
            "http://crm.local:/",
            "http://crm local/",
            "http://-crm.local/",
            "http://crm..local/",
            "http://[::1/",
            "http://[crm]/",
            "http://[::1]x/",
            "http://crm.local/a b",
            "http://crm.local/%zz",
            "http://crm.local/%4",
            "http://crm.local/é",
            "http://crm.local/a\r\nHost: x",
        ] {
            assert_eq!(parts(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_authority_names_the_port_only_when_it_is_not_the_default() {
        let cases = [
            ("http://crm.local:80/a", "crm.local", "http://crm.local/a"),
            (
                "https://crm.local:8443",
                "crm.local:8443",
                "https://crm.local:8443",
            ),
            ("http://[::1]:8080/", "[::1]:8080", "http://[::1]:8080"),
            ("https://[::1]/", "[::1]", "https://[::1]"),
        ];
        for (text, authority, display) in cases {
            let url = EndpointUrl::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(url.authority(), authority);
            assert_eq!(url.to_string(), display);
        }
    }

    #[test]
    fn a_credential_does_not_show_in_debug_output() {
        let c = Credential("Bearer s3cret".to_owned());
        assert_eq!(c.expose(), "Bearer s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
