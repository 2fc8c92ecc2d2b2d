//! Header names (with RFC 3261 §7.3.3 compact forms) and the ordered header list.
//!
//! Values are stored unfolded and trimmed, as text. Typed views (Via, CSeq,
//! name-addr, …) live in [`super::typed`] and parse on demand; headers the
//! stack does not use stay raw and are forwarded unchanged.

use std::fmt;

use super::scan::split_top;

macro_rules! header_names {
    ($( $variant:ident => $canon:literal $(, $compact:literal)? ; )*) => {
        /// A header field name. Known names are variants; compact forms parse to
        /// the same variant; anything else is kept as written.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $(
                #[doc = $canon]
                $variant,
            )*
            /// An extension header, in the case it was written.
            Other(Box<str>),
        }

        impl HeaderName {
            /// Parses a header name, case-insensitively, mapping compact forms.
            pub fn parse(s: &str) -> HeaderName {
                $(
                    if s.eq_ignore_ascii_case($canon) $(|| s.eq_ignore_ascii_case($compact))? {
                        return HeaderName::$variant;
                    }
                )*
                HeaderName::Other(s.into())
            }

            /// The canonical (long) form of the name.
            pub fn as_str(&self) -> &str {
                match self {
                    $( HeaderName::$variant => $canon, )*
                    HeaderName::Other(s) => s,
                }
            }
        }
    };
}

header_names! {
    Accept => "Accept";
    AcceptContact => "Accept-Contact", "a";
    AcceptEncoding => "Accept-Encoding";
    Allow => "Allow";
    AllowEvents => "Allow-Events", "u";
    Authorization => "Authorization";
    CallId => "Call-ID", "i";
    Contact => "Contact", "m";
    ContentDisposition => "Content-Disposition";
    ContentEncoding => "Content-Encoding", "e";
    ContentLength => "Content-Length", "l";
    ContentType => "Content-Type", "c";
    CSeq => "CSeq";
    Date => "Date";
    Event => "Event", "o";
    Expires => "Expires";
    From => "From", "f";
    MaxForwards => "Max-Forwards";
    MinExpires => "Min-Expires";
    ProxyAuthenticate => "Proxy-Authenticate";
    ProxyAuthorization => "Proxy-Authorization";
    ProxyRequire => "Proxy-Require";
    Reason => "Reason";
    RecordRoute => "Record-Route";
    ReferTo => "Refer-To", "r";
    ReferredBy => "Referred-By", "b";
    ReferSub => "Refer-Sub";
    Require => "Require";
    RetryAfter => "Retry-After";
    Route => "Route";
    Server => "Server";
    SessionExpires => "Session-Expires", "x";
    Subject => "Subject", "s";
    SubscriptionState => "Subscription-State";
    Supported => "Supported", "k";
    To => "To", "t";
    Unsupported => "Unsupported";
    UserAgent => "User-Agent";
    Via => "Via", "v";
    Warning => "Warning";
    WwwAuthenticate => "WWW-Authenticate";
}

impl HeaderName {
    /// Headers whose value is a comma-separated list that may also be split
    /// over several lines (RFC 3261 §7.3.1). Only these are split by
    /// [`Headers::values`].
    pub fn is_list(&self) -> bool {
        matches!(
            self,
            HeaderName::Via
                | HeaderName::Contact
                | HeaderName::Route
                | HeaderName::RecordRoute
                | HeaderName::Allow
                | HeaderName::Supported
                | HeaderName::Require
                | HeaderName::ProxyRequire
                | HeaderName::Unsupported
                | HeaderName::Accept
                | HeaderName::AcceptEncoding
                | HeaderName::AllowEvents
        )
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One header line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The name.
    pub name: HeaderName,
    /// The value, unfolded and trimmed.
    pub value: String,
}

/// The headers of a message, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// An empty list.
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.0
            .iter()
            .find(|h| &h.name == name)
            .map(|h| h.value.as_str())
    }

    /// Every line of `name`, unsplit.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |h| &h.name == name)
            .map(|h| h.value.as_str())
    }

    /// Every list element of `name` across all its lines, trimmed. Elements are
    /// split at top-level commas for list headers only; `None` when a value has
    /// an unterminated quote or `<`.
    pub fn values(&self, name: &HeaderName) -> Option<Vec<&str>> {
        let mut out = Vec::new();
        for v in self
            .0
            .iter()
            .filter(|h| &h.name == name)
            .map(|h| h.value.as_str())
        {
            if name.is_list() {
                out.extend(
                    split_top(v, b',')?
                        .into_iter()
                        .map(|s| s.trim_matches([' ', '\t'])),
                );
            } else {
                out.push(v);
            }
        }
        Some(out)
    }

    /// Number of lines of `name`.
    pub fn count(&self, name: &HeaderName) -> usize {
        self.0.iter().filter(|h| &h.name == name).count()
    }

    /// Appends a line.
    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.push(Header {
            name,
            value: value.into(),
        });
    }

    /// Inserts a line before every other (a new top Via).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.insert(
            0,
            Header {
                name,
                value: value.into(),
            },
        );
    }

    /// Replaces every line of `name` with one line, in the place of the first.
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter().position(|h| h.name == name) {
            Some(i) => {
                self.0[i].value = value;
                let mut seen = 0usize;
                self.0.retain(|h| {
                    h.name != name || {
                        seen += 1;
                        seen == 1
                    }
                });
            }
            None => self.push(name, value),
        }
    }

    /// Removes every line of `name`; returns how many there were.
    pub fn remove(&mut self, name: &HeaderName) -> usize {
        let before = self.0.len();
        self.0.retain(|h| &h.name != name);
        before - self.0.len()
    }

    /// Removes the first list element of `name` (e.g. the top Via, even when
    /// several Vias share one line). Returns it.
    pub fn pop_first_value(&mut self, name: &HeaderName) -> Option<String> {
        let i = self.0.iter().position(|h| &h.name == name)?;
        let parts = split_top(&self.0[i].value, b',')?;
        let first = parts[0].trim().to_owned();
        if parts.len() == 1 {
            self.0.remove(i);
        } else {
            let rest = self.0[i].value[parts[0].len() + 1..].trim().to_owned();
            self.0[i].value = rest;
        }
        Some(first)
    }

    /// All lines in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case_insensitive_names() {
        assert_eq!(HeaderName::parse("v"), HeaderName::Via);
        assert_eq!(HeaderName::parse("VIA"), HeaderName::Via);
        assert_eq!(HeaderName::parse("i"), HeaderName::CallId);
        assert_eq!(HeaderName::parse("l"), HeaderName::ContentLength);
        assert_eq!(HeaderName::parse("cseq"), HeaderName::CSeq);
        assert_eq!(
            HeaderName::parse("C%6Fntact"),
            HeaderName::Other("C%6Fntact".into())
        );
        assert_eq!(HeaderName::parse("X-Foo").as_str(), "X-Foo");
    }

    #[test]
    fn list_values_split_across_lines() {
        let mut h = Headers::new();
        h.push(
            HeaderName::Via,
            "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b",
        );
        h.push(HeaderName::Via, "SIP/2.0/TCP c");
        h.push(HeaderName::Subject, "a, b");
        assert_eq!(h.values(&HeaderName::Via).unwrap().len(), 3);
        assert_eq!(h.values(&HeaderName::Subject).unwrap(), ["a, b"]);
        assert_eq!(
            h.pop_first_value(&HeaderName::Via).unwrap(),
            "SIP/2.0/UDP a;branch=z9hG4bK1"
        );
        assert_eq!(
            h.values(&HeaderName::Via).unwrap(),
            ["SIP/2.0/UDP b", "SIP/2.0/TCP c"]
        );
        h.set(HeaderName::Via, "SIP/2.0/UDP x");
        assert_eq!(h.count(&HeaderName::Via), 1);
        assert_eq!(h.remove(&HeaderName::Subject), 1);
    }
}
