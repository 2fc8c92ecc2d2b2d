//! Typed views of the headers the stack acts on: Via, CSeq, name-addr
//! (From/To/Contact/Route/Record-Route), Contact lists.
//!
//! Each type parses from one (unfolded) value and displays back to a canonical
//! form; parsing never panics and rejects what RFC 3261's grammar rejects.

use std::fmt;

use super::method::Method;
use super::scan::{decimal, is_token, is_ws, quote_if_needed, quoted_len, unquote};
use super::uri::{Host, Params, Uri, parse_hostport};

/// Why a header value did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed {header} header: {why}")]
pub struct HeaderError {
    /// Which header.
    pub header: &'static str,
    /// What was wrong.
    pub why: &'static str,
}

fn err(header: &'static str, why: &'static str) -> HeaderError {
    HeaderError { header, why }
}

/// The transport named in a Via.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP
    Udp,
    /// TCP
    Tcp,
    /// TLS over TCP
    Tls,
    /// SCTP
    Sctp,
    /// WebSocket (RFC 7118)
    Ws,
    /// Secure WebSocket (RFC 7118)
    Wss,
    /// Any other token.
    Other(Box<str>),
}

impl Transport {
    /// Parses a transport token case-insensitively.
    pub fn parse(s: &str) -> Transport {
        match s.to_ascii_uppercase().as_str() {
            "UDP" => Transport::Udp,
            "TCP" => Transport::Tcp,
            "TLS" => Transport::Tls,
            "SCTP" => Transport::Sctp,
            "WS" => Transport::Ws,
            "WSS" => Transport::Wss,
            _ => Transport::Other(s.into()),
        }
    }

    /// The token as written in a Via.
    pub fn as_str(&self) -> &str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(s) => s,
        }
    }

    /// True for transports that deliver reliably (no retransmissions needed).
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

/// The RFC 3261 branch prefix that marks an RFC 3261-compliant transaction id.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    /// Transport.
    pub transport: Transport,
    /// sent-by host.
    pub host: Host,
    /// sent-by port.
    pub port: Option<u16>,
    /// Parameters (branch, received, rport, …).
    pub params: Params,
}

impl Via {
    /// Parses one Via element.
    pub fn parse(s: &str) -> Result<Via, HeaderError> {
        const H: &str = "Via";
        let mut rest = s.trim_matches([' ', '\t']);
        let mut fields = [""; 3];
        for (i, f) in fields.iter_mut().enumerate() {
            if i > 0 {
                rest = rest
                    .trim_start_matches([' ', '\t'])
                    .strip_prefix('/')
                    .ok_or(err(H, "bad sent-protocol"))?;
                rest = rest.trim_start_matches([' ', '\t']);
            }
            let end = rest.find(['/', ' ', '\t']).unwrap_or(rest.len());
            *f = &rest[..end];
            rest = &rest[end..];
        }
        if !fields[0].eq_ignore_ascii_case("SIP") || fields[1] != "2.0" || !is_token(fields[2]) {
            return Err(err(H, "bad sent-protocol"));
        }
        if !rest.starts_with([' ', '\t']) {
            return Err(err(H, "missing sent-by"));
        }
        let rest = rest.trim_start_matches([' ', '\t']);
        let (sent_by, params) = match rest.find(';') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let sent_by: String = sent_by
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let (host, port) = parse_hostport(&sent_by).map_err(|_| err(H, "bad sent-by"))?;
        let params = if params.is_empty() {
            Params::default()
        } else {
            Params::parse(params, true).map_err(|_| err(H, "bad parameter"))?
        };
        Ok(Via {
            transport: Transport::parse(fields[2]),
            host,
            port,
            params,
        })
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch").flatten()
    }

    /// The `rport` parameter: `Some(None)` when present without a value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params.get("rport").map(|v| v.and_then(decimal))
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport.as_str(), self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// `CSeq: <seq> <method>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number (32 bits, RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// Method.
    pub method: Method,
}

impl CSeq {
    /// Parses a CSeq value.
    pub fn parse(s: &str) -> Result<CSeq, HeaderError> {
        let s = s.trim_matches([' ', '\t']);
        let (n, m) = s
            .split_once([' ', '\t'])
            .ok_or(err("CSeq", "expected number and method"))?;
        let seq = decimal(n).ok_or(err("CSeq", "sequence number is not a 32-bit integer"))?;
        let method =
            Method::parse(m.trim_start_matches([' ', '\t'])).ok_or(err("CSeq", "bad method"))?;
        Ok(CSeq { seq, method })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// A name-addr or addr-spec with header parameters: the value of From, To,
/// Contact, Route, Record-Route, Refer-To.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name, unquoted.
    pub display: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// Header parameters (`tag`, `expires`, `q`, …), after the URI.
    pub params: Params,
}

impl NameAddr {
    /// A bare `<uri>`.
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Params::default(),
        }
    }

    /// Parses one name-addr / addr-spec with parameters.
    pub fn parse(s: &str) -> Result<NameAddr, HeaderError> {
        const H: &str = "address";
        let s = s.trim_matches([' ', '\t']);
        let (display, uri_text, rest) = if let Some(lt) = find_laquot(s)? {
            let display = parse_display(s[..lt].trim_matches([' ', '\t']))?;
            let gt = s[lt..].find('>').ok_or(err(H, "missing '>'"))? + lt;
            (display, &s[lt + 1..gt], &s[gt + 1..])
        } else {
            // addr-spec: parameters after ';' belong to the header (RFC 3261 §20.10).
            let end = s.find(';').unwrap_or(s.len());
            (None, s[..end].trim_end_matches([' ', '\t']), &s[end..])
        };
        let uri = Uri::parse(uri_text).map_err(|_| err(H, "bad URI"))?;
        let rest = rest.trim_start_matches([' ', '\t']);
        let params = if rest.is_empty() {
            Params::default()
        } else {
            Params::parse(rest, true).map_err(|_| err(H, "bad parameter"))?
        };
        Ok(NameAddr {
            display,
            uri,
            params,
        })
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag").flatten()
    }
}

/// Position of the `<` that opens a name-addr's URI, skipping a quoted display name.
fn find_laquot(s: &str) -> Result<Option<usize>, HeaderError> {
    let mut i = 0;
    if s.starts_with('"') {
        i = quoted_len(s).ok_or(err("address", "unterminated quoted string"))?;
    }
    Ok(s[i..].find('<').map(|p| p + i))
}

fn parse_display(d: &str) -> Result<Option<String>, HeaderError> {
    if d.is_empty() {
        return Ok(None);
    }
    if d.starts_with('"') {
        let len = quoted_len(d).ok_or(err("address", "unterminated quoted string"))?;
        if len != d.len() {
            return Err(err("address", "text after quoted display name"));
        }
        return Ok(Some(unquote(d)));
    }
    // *(token LWS): tokens separated by white space.
    if d.split(|c: char| is_ws(c as u8))
        .filter(|t| !t.is_empty())
        .all(is_token)
    {
        Ok(Some(d.to_owned()))
    } else {
        Err(err(
            "address",
            "display name is neither tokens nor a quoted string",
        ))
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "{} ", quote_if_needed(d))?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// The value of Contact headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contacts {
    /// `Contact: *` (remove all bindings).
    Star,
    /// A list of addresses.
    List(Vec<NameAddr>),
}

impl Contacts {
    /// Parses the list elements of every Contact line.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Contacts, HeaderError> {
        let values: Vec<&str> = values.into_iter().collect();
        if values.iter().any(|v| v.trim() == "*") {
            return if values.len() == 1 {
                Ok(Contacts::Star)
            } else {
                Err(err("Contact", "'*' mixed with addresses"))
            };
        }
        values
            .into_iter()
            .map(NameAddr::parse)
            .collect::<Result<_, _>>()
            .map(Contacts::List)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_odd_whitespace_and_ipv6() {
        let v = Via::parse("SIP  /   2.0  /UDP    192.0.2.2;received=192.0.2.1;branch=390skdjuw")
            .unwrap();
        assert_eq!(v.transport, Transport::Udp);
        assert_eq!(v.host.to_string(), "192.0.2.2");
        assert_eq!(v.branch(), Some("390skdjuw"));
        let v =
            Via::parse("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3")
                .unwrap();
        assert_eq!(v.params.get("received"), Some(Some("2001:db8::9:255")));
        let v = Via::parse("SIP/2.0/UDP host:5070;rport").unwrap();
        assert_eq!((v.port, v.rport()), (Some(5070), Some(None)));
        assert_eq!(
            Via::parse("SIP/2.0/TCP a.example.com;branch=x")
                .unwrap()
                .to_string(),
            "SIP/2.0/TCP a.example.com;branch=x"
        );
    }

    #[test]
    fn via_rejects_extraneous_separators() {
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/3.0/UDP h").is_err());
    }

    #[test]
    fn name_addr_forms() {
        let a = NameAddr::parse("\"caller\"<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(
            (a.display.as_deref(), a.tag()),
            (Some("caller"), Some("323"))
        );
        let a = NameAddr::parse(
            "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=_token~1'+`*%!-.",
        )
        .unwrap();
        assert_eq!(a.display.as_deref(), Some("token1~` token2'+_ token3*%!.-"));
        let a = NameAddr::parse("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(a.uri.sip().unwrap().params.0.is_empty());
        assert!(a.params.has("unknownparam"));
        let a = NameAddr::parse("<sip:+19725552222@gw1.example.net;unknownparam>").unwrap();
        assert!(a.uri.sip().unwrap().params.has("unknownparam"));
        assert!(NameAddr::parse("\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(NameAddr::parse("\"Watson, Thomas\" < sip:t.watson@example.org >").is_err());
        assert!(NameAddr::parse("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
        assert!(NameAddr::parse("isbn:2983792873").is_ok());
    }

    #[test]
    fn cseq_bounds() {
        assert_eq!(CSeq::parse("0009 INVITE").unwrap().seq, 9);
        assert!(CSeq::parse("36893488147419103232 INVITE").is_err());
        assert!(CSeq::parse("-1 INVITE").is_err());
        assert!(CSeq::parse("1").is_err());
    }
}
