//! The canonical serialiser: CRLF line ends and RFC 8866 field order
//! (`v o s i u e p c b t r z k a`, then per media `m i c b k a`).
//!
//! Strings are written through [`Clean`], which drops CR, LF and NUL, so a
//! value built by hand can never split into extra lines.

use std::fmt::{self, Display, Formatter, Write as _};

use super::media::{Attribute, Crypto, Media, Rtcp, Rtpmap};
use super::{AddrType, Address, Bandwidth, Connection, Origin, Sdp, Timing};

/// Writes a string without the characters that would end or corrupt a line.
struct Clean<'a>(&'a str);

impl Display for Clean<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['\r', '\n', '\0']) {
            f.write_str(&rest[..at])?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

impl Display for Sdp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("v=0\r\n")?;
        write!(f, "o={}\r\n", self.origin)?;
        if self.session_name.is_empty() {
            f.write_str("s= \r\n")?;
        } else {
            write!(f, "s={}\r\n", Clean(&self.session_name))?;
        }
        text_line(f, 'i', self.info.as_deref())?;
        text_line(f, 'u', self.uri.as_deref())?;
        for email in &self.emails {
            text_line(f, 'e', Some(email))?;
        }
        for phone in &self.phones {
            text_line(f, 'p', Some(phone))?;
        }
        if let Some(connection) = &self.connection {
            write!(f, "c={connection}\r\n")?;
        }
        for bandwidth in &self.bandwidths {
            write!(f, "b={bandwidth}\r\n")?;
        }
        if self.times.is_empty() {
            f.write_str("t=0 0\r\n")?;
        }
        for timing in &self.times {
            write!(f, "{timing}")?;
        }
        text_line(f, 'z', self.time_zones.as_deref())?;
        text_line(f, 'k', self.key.as_deref())?;
        for attribute in &self.attributes {
            write!(f, "a={attribute}\r\n")?;
        }
        for media in &self.media {
            write!(f, "{media}")?;
        }
        Ok(())
    }
}

impl Display for Media {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", Clean(self.kind.as_str()), self.port)?;
        if let Some(count) = self.port_count {
            write!(f, "/{count}")?;
        }
        write!(f, " {}", Clean(self.proto.as_str()))?;
        for format in &self.formats {
            write!(f, " {}", Clean(format))?;
        }
        f.write_str("\r\n")?;
        text_line(f, 'i', self.info.as_deref())?;
        if let Some(connection) = &self.connection {
            write!(f, "c={connection}\r\n")?;
        }
        for bandwidth in &self.bandwidths {
            write!(f, "b={bandwidth}\r\n")?;
        }
        text_line(f, 'k', self.key.as_deref())?;
        for attribute in &self.attributes {
            write!(f, "a={attribute}\r\n")?;
        }
        Ok(())
    }
}

/// Writes `<kind>=<text>` when `text` is present.
fn text_line(f: &mut Formatter<'_>, kind: char, text: Option<&str>) -> fmt::Result {
    match text {
        Some(text) => write!(f, "{kind}={}\r\n", Clean(text)),
        None => Ok(()),
    }
}

impl Display for Origin {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} IN {}",
            Clean(&self.username),
            Clean(&self.session_id),
            self.session_version,
            self.address
        )
    }
}

impl Display for Address {
    /// `<addrtype> <address>`, e.g. `IP6 2001:db8::1`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.addrtype())?;
        match self {
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Fqdn { name, .. } => write!(f, "{}", Clean(name)),
        }
    }
}

impl Display for AddrType {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ip4 => "IP4",
            Self::Ip6 => "IP6",
        })
    }
}

impl Display for Connection {
    /// `IN <addrtype> <address>[/<ttl>][/<count>]`; the TTL is written for
    /// IPv4 only, as RFC 8866 defines it only there.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "IN {}", self.address)?;
        if self.address.addrtype() == AddrType::Ip4 {
            if let Some(ttl) = self.ttl {
                write!(f, "/{ttl}")?;
            } else if self.count.is_some() {
                // A count needs a TTL before it on IPv4; 255 is the widest scope.
                f.write_str("/255")?;
            }
        }
        if let Some(count) = self.count {
            write!(f, "/{count}")?;
        }
        Ok(())
    }
}

impl Display for Bandwidth {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", Clean(&self.kind), self.value)
    }
}

impl Display for Timing {
    /// The `t=` line and its `r=` lines, each ended by CRLF.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "t={} {}\r\n", self.start, self.stop)?;
        for repeat in &self.repeats {
            write!(f, "r={}\r\n", Clean(repeat))?;
        }
        Ok(())
    }
}

impl Display for Attribute {
    /// The text after `a=`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rtpmap(rtpmap) => write!(f, "rtpmap:{rtpmap}"),
            Self::Fmtp(fmtp) if fmtp.params.is_empty() => write!(f, "fmtp:{}", fmtp.pt),
            Self::Fmtp(fmtp) => write!(f, "fmtp:{} {}", fmtp.pt, Clean(&fmtp.params)),
            Self::Ptime(ms) => write!(f, "ptime:{ms}"),
            Self::Maxptime(ms) => write!(f, "maxptime:{ms}"),
            Self::Direction(direction) => f.write_str(direction.as_str()),
            Self::Rtcp(rtcp) => write!(f, "rtcp:{rtcp}"),
            Self::RtcpMux => f.write_str("rtcp-mux"),
            Self::Crypto(crypto) => write!(f, "crypto:{crypto}"),
            Self::Other { name, value: None } => write!(f, "{}", Clean(name)),
            Self::Other {
                name,
                value: Some(value),
            } => {
                write!(f, "{}:{}", Clean(name), Clean(value))
            }
        }
    }
}

impl Display for Rtpmap {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.pt,
            Clean(&self.encoding),
            self.clock_rate
        )?;
        if let Some(channels) = self.channels {
            write!(f, "/{channels}")?;
        }
        Ok(())
    }
}

impl Display for Rtcp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.port)?;
        if let Some(address) = &self.address {
            write!(f, " IN {address}")?;
        }
        Ok(())
    }
}

impl Display for Crypto {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.tag,
            Clean(&self.suite),
            Clean(&self.key_params)
        )?;
        for param in &self.session_params {
            f.write_char(' ')?;
            write!(f, "{}", Clean(param))?;
        }
        Ok(())
    }
}
