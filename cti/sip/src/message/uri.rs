//! SIP and SIPS URIs (RFC 3261 §19.1), with IPv6 references per RFC 5118, and
//! a fallback for every other absolute URI (`tel:`, `mailto:`, …).
//!
//! Escapes are kept as written: the user part is stored escaped and compared
//! unescaped, once (RFC 4475 §3.1.1.3: `value%41` is not `valueA`'s escape of an escape).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::scan::{decimal, unescape};

/// A URI as found in a Request-URI or a name-addr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` or `sips:`.
    Sip(SipUri),
    /// Any other scheme, kept verbatim (the node answers 416 to these).
    Other(String),
}

/// A `sip:`/`sips:` URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part, escaped as written.
    pub user: Option<String>,
    /// The password part, escaped as written (deprecated, but legal).
    pub password: Option<String>,
    /// Host.
    pub host: Host,
    /// Explicit port.
    pub port: Option<u16>,
    /// `;name=value` URI parameters in order.
    pub params: Params,
    /// The `?h=v&…` part, verbatim without the `?`. Never turned into headers.
    pub headers: Option<String>,
}

/// The host of a URI or a Via.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name, as written.
    Domain(String),
    /// An IP address (IPv6 is written in brackets).
    Ip(IpAddr),
}

/// An ordered list of `;name[=value]` parameters. Names compare case-insensitively;
/// values are kept as written (quoted strings keep their quotes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, Option<String>)>);

/// Why a URI did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// No `scheme:` prefix.
    #[error("URI has no scheme")]
    NoScheme,
    /// A character that may not appear in a URI.
    #[error("URI contains a forbidden character")]
    BadChar,
    /// The host is empty or malformed (e.g. an IPv6 address without brackets).
    #[error("bad host in URI")]
    BadHost,
    /// The port is not a number in 0..=65535.
    #[error("bad port in URI")]
    BadPort,
    /// A parameter is empty or malformed.
    #[error("bad URI parameter")]
    BadParam,
}

impl Uri {
    /// Parses any absolute URI; SIP and SIPS get the full structure.
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        let colon = s.find(':').ok_or(UriError::NoScheme)?;
        let scheme = &s[..colon];
        if !valid_scheme(scheme) {
            return Err(UriError::NoScheme);
        }
        if s.bytes()
            .any(|b| b <= b' ' || b == b'<' || b == b'>' || b == b'"' || b >= 0x7f)
        {
            return Err(UriError::BadChar);
        }
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            let secure = scheme.len() == 4;
            SipUri::parse_rest(secure, &s[colon + 1..]).map(Uri::Sip)
        } else {
            Ok(Uri::Other(s.to_owned()))
        }
    }

    /// The SIP URI, if this is one.
    pub fn sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Other(_) => None,
        }
    }
}

fn valid_scheme(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c))
}

impl SipUri {
    /// A `sip:user@host:port` URI with no parameters.
    pub fn new(user: Option<&str>, host: Host, port: Option<u16>) -> SipUri {
        SipUri {
            secure: false,
            user: user.map(str::to_owned),
            password: None,
            host,
            port,
            params: Params::default(),
            headers: None,
        }
    }

    fn parse_rest(secure: bool, s: &str) -> Result<SipUri, UriError> {
        // '@' cannot appear unescaped after the userinfo (RFC 3261 §25.1), so the
        // last one ends it; the user part itself may hold ';', '?', '/', ','.
        let (userinfo, rest) = match s.rfind('@') {
            Some(at) => (Some(&s[..at]), &s[at + 1..]),
            None => (None, s),
        };
        let (user, password) = match userinfo {
            Some(ui) => match ui.split_once(':') {
                Some((u, p)) => (Some(u.to_owned()), Some(p.to_owned())),
                None => (Some(ui.to_owned()), None),
            },
            None => (None, None),
        };
        let (before_q, headers) = match rest.split_once('?') {
            Some((a, h)) => (a, Some(h.to_owned())),
            None => (rest, None),
        };
        let (hostport, params) = match before_q.find(';') {
            Some(i) => (&before_q[..i], Params::parse(&before_q[i..], false)?),
            None => (before_q, Params::default()),
        };
        let (host, port) = parse_hostport(hostport)?;
        Ok(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// The user part with `%HH` escapes decoded once, as bytes.
    pub fn user_unescaped(&self) -> Option<Vec<u8>> {
        self.user.as_deref().map(unescape)
    }

    /// The value of the URI header `name` (`?name=value&…`, RFC 3261 §19.1.1; the
    /// name compared case-insensitively), with `%HH` escapes decoded once: the
    /// `Replaces` of a `Refer-To`, say. The first one when repeated.
    pub fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.headers.as_deref()?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            key.eq_ignore_ascii_case(name).then(|| unescape(value))
        })
    }

    /// The value of the `transport` parameter, lower-cased.
    pub fn transport(&self) -> Option<String> {
        self.params
            .get("transport")
            .flatten()
            .map(str::to_ascii_lowercase)
    }

    /// An address-of-record key: `user@host`, user unescaped, host lower-cased,
    /// no port or parameters (RFC 3261 §10.3 step 5).
    pub fn aor(&self) -> String {
        let user = self.user_unescaped().unwrap_or_default();
        let mut key = String::from_utf8_lossy(&user).into_owned();
        key.push('@');
        key.push_str(&self.host.to_string().to_ascii_lowercase());
        key
    }
}

/// Parses `host[:port]` with bracketed IPv6 references (RFC 5118 §4.3–4.4).
pub(crate) fn parse_hostport(s: &str) -> Result<(Host, Option<u16>), UriError> {
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let end = inner.find(']').ok_or(UriError::BadHost)?;
        let ip: Ipv6Addr = inner[..end].parse().map_err(|_| UriError::BadHost)?;
        let after = &inner[end + 1..];
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(UriError::BadPort)?),
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (h, p) = match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        (Host::parse(h)?, p)
    };
    let port = match port {
        Some(p) => Some(decimal::<u16>(p).ok_or(UriError::BadPort)?),
        None => None,
    };
    Ok((host, port))
}

impl Host {
    /// Parses a domain name or IPv4 address (IPv6 must come in brackets).
    pub fn parse(s: &str) -> Result<Host, UriError> {
        if s.is_empty() || s.len() > 255 {
            return Err(UriError::BadHost);
        }
        if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return s
                .parse::<Ipv4Addr>()
                .map(|ip| Host::Ip(ip.into()))
                .map_err(|_| UriError::BadHost);
        }
        let ok = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        if !ok || s.starts_with(['.', '-']) {
            return Err(UriError::BadHost);
        }
        Ok(Host::Domain(s.to_owned()))
    }

    /// The IP address, when the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ip(ip) => Some(*ip),
            Host::Domain(_) => None,
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Host {
        Host::Ip(ip)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

impl Params {
    /// Parses `;a=b;c…` (the leading `;` included). `quoted` allows quoted-string
    /// values, as header parameters do; URI parameters never have them.
    pub(crate) fn parse(s: &str, quoted: bool) -> Result<Params, UriError> {
        let s = s.strip_prefix(';').ok_or(UriError::BadParam)?;
        let parts = if quoted {
            super::scan::split_top(s, b';').ok_or(UriError::BadParam)?
        } else {
            s.split(';').collect()
        };
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            let p = p.trim_matches([' ', '\t']);
            let (name, value) = match p.split_once('=') {
                Some((n, v)) => (
                    n.trim_end_matches([' ', '\t']),
                    Some(v.trim_start_matches([' ', '\t'])),
                ),
                None => (p, None),
            };
            if name.is_empty() || value == Some("") || !param_text_ok(name) {
                return Err(UriError::BadParam);
            }
            if let Some(v) = value
                && !(quoted && v.starts_with('"'))
                && !param_text_ok(v)
            {
                return Err(UriError::BadParam);
            }
            out.push((name.to_owned(), value.map(str::to_owned)));
        }
        Ok(Params(out))
    }

    /// `Some(value)` when the parameter is present (`Some(None)` for a flag).
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// True when the parameter is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets (replacing) a parameter.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_owned);
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    /// Removes a parameter.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

fn param_text_ok(s: &str) -> bool {
    s.bytes()
        .all(|b| b > b' ' && b != 0x7f && !b";,?<>\"".contains(&b))
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, v) in &self.0 {
            match v {
                Some(v) => write!(f, ";{n}={v}")?,
                None => write!(f, ";{n}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Other(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri {
        match Uri::parse(s).unwrap() {
            Uri::Sip(u) => u,
            Uri::Other(o) => panic!("not sip: {o}"),
        }
    }

    #[test]
    fn uri_headers_are_found_by_name_and_unescaped() {
        let u = sip("sip:1003@pbx?Subject=hi&replaces=abc%40host%3Bto-tag%3D1&Replaces=second");
        assert_eq!(
            u.header("Replaces").as_deref(),
            Some(&b"abc@host;to-tag=1"[..]),
            "case-insensitive, the first of two"
        );
        assert_eq!(u.header("subject").as_deref(), Some(&b"hi"[..]));
        assert_eq!(u.header("Priority"), None);
        assert_eq!(sip("sip:1003@pbx").header("Replaces"), None);
    }

    #[test]
    fn parses_unusual_user_parts() {
        let u = sip(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        );
        assert_eq!(
            u.user.as_deref(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password.as_deref(),
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        assert_eq!(u.host, Host::Domain("example.com".into()));
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        let u = sip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(u.user_unescaped().unwrap(), b"sips:user@example.com");
    }

    #[test]
    fn ipv6_references() {
        let u = sip("sip:[2001:db8::10]:5070;transport=tcp");
        assert_eq!(u.host, Host::Ip("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport().as_deref(), Some("tcp"));
        // RFC 5118 §4.3: the last group is part of the address, not a port.
        let u = sip("sip:[2001:db8::10:5070]");
        assert_eq!(u.port, None);
        assert!(Uri::parse("sip:2001:db8::10").is_err());
        assert!(Uri::parse("sip:[2001:db8::10").is_err());
        assert!(Uri::parse("sip:[2001:db8::10]x").is_err());
    }

    #[test]
    fn other_schemes_and_rejections() {
        assert!(matches!(
            Uri::parse("tel:+1-800-555-0100").unwrap(),
            Uri::Other(_)
        ));
        assert!(matches!(
            Uri::parse("soap.beep://192.0.2.103:3002").unwrap(),
            Uri::Other(_)
        ));
        assert!(Uri::parse("<sip:user@example.com>").is_err());
        assert!(Uri::parse("sip:user@example.com; lr").is_err());
        assert!(Uri::parse("sip:user@exa mple.com").is_err());
        assert!(Uri::parse("sip:").is_err());
        assert!(Uri::parse("sip:u@h:99999").is_err());
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "sip:alice@example.com",
            "sips:alice:pw@[::1]:5061;transport=tls;lr",
            "sip:example.com?Route=%3Csip:example.com%3E",
            "sip:192.0.2.1:5060;maddr=239.255.255.1;ttl=15",
        ] {
            assert_eq!(Uri::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn aor_unescapes_once_and_lowercases_host() {
        assert_eq!(
            sip("sip:%75se%72@EXAMPLE.com:5070;x").aor(),
            "user@example.com"
        );
        assert_eq!(sip("sip:value%2541@h").aor(), "value%41@h");
    }
}
