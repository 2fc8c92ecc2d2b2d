//! SIP request methods (RFC 3261 §7.1 and the extension RFCs).

use std::fmt;

use super::scan::is_token;

/// A SIP method. Methods are case-sensitive (RFC 3261 §7.1): `invite` is an
/// extension method, not INVITE.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// RFC 3261
    Invite,
    /// RFC 3261
    Ack,
    /// RFC 3261
    Bye,
    /// RFC 3261
    Cancel,
    /// RFC 3261
    Register,
    /// RFC 3261
    Options,
    /// RFC 6086
    Info,
    /// RFC 3311
    Update,
    /// RFC 3262
    Prack,
    /// RFC 6665
    Subscribe,
    /// RFC 6665
    Notify,
    /// RFC 3515
    Refer,
    /// RFC 3428
    Message,
    /// RFC 3903
    Publish,
    /// Any other `token`, kept as it was written.
    Extension(Box<str>),
}

impl Method {
    /// Parses a method token; `None` when `s` is not a `token`.
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            other if is_token(other) => Method::Extension(other.into()),
            _ => return None,
        })
    }

    /// The method as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Extension(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_case_sensitive_tokens() {
        assert_eq!(Method::parse("INVITE"), Some(Method::Invite));
        assert_eq!(
            Method::parse("invite"),
            Some(Method::Extension("invite".into()))
        );
        assert_eq!(
            Method::parse("RE%47IST%45R").map(|m| m.to_string()),
            Some("RE%47IST%45R".to_owned())
        );
        assert_eq!(Method::parse("IN VITE"), None);
        assert_eq!(Method::parse(""), None);
    }
}
