//! Transaction identity: the handle the TU holds ([`TsxKey`]) and the
//! matching keys the layer derives from messages (RFC 3261 §17.1.3, §17.2.3).
//!
//! A client transaction is found by the branch of the response's top Via and
//! its CSeq method. A server transaction is found by the request's branch,
//! sent-by and method (ACK looks for INVITE), or, when the branch does not
//! start with the magic cookie (an RFC 2543 peer), by Request-URI, From tag,
//! To tag, Call-ID, CSeq number and the whole top Via. Branches and tags are
//! derived from a seed and a counter with a bijective mixer: no RNG inside.

use std::fmt;

use crate::message::{HeaderName, MAGIC_COOKIE, Method, Request, Response};

/// The handle of one transaction, unique for the layer's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TsxKey {
    id: u64,
    client: bool,
}

impl TsxKey {
    pub(crate) fn new(id: u64, client: bool) -> TsxKey {
        TsxKey { id, client }
    }

    /// True for a client transaction (a request this side sent).
    pub fn is_client(self) -> bool {
        self.client
    }

    #[cfg(test)]
    pub(crate) fn test_server(id: u64) -> TsxKey {
        TsxKey { id, client: false }
    }
}

impl fmt::Display for TsxKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", if self.client { "c" } else { "s" }, self.id)
    }
}

/// True when a branch marks an RFC 3261 transaction id: the magic cookie
/// followed by at least one character (RFC 4475 `badbranch` has only the cookie).
pub(crate) fn is_rfc3261_branch(branch: &str) -> bool {
    branch.len() > MAGIC_COOKIE.len() && branch.starts_with(MAGIC_COOKIE)
}

/// The client-side match: top Via branch and CSeq method (§17.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ClientMatch {
    branch: String,
    method: Method,
}

impl ClientMatch {
    pub(crate) fn new(branch: &str, method: Method) -> ClientMatch {
        ClientMatch {
            branch: branch.to_ascii_lowercase(),
            method,
        }
    }

    /// The key a response asks for; `None` without a branch or CSeq.
    pub(crate) fn of_response(resp: &Response) -> Option<ClientMatch> {
        let via = resp.headers.top_via()?;
        let cseq = resp.headers.cseq()?;
        Some(ClientMatch::new(via.branch()?, cseq.method))
    }
}

/// The server-side match (§17.2.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ServerMatch {
    /// RFC 3261 peers: branch, sent-by and method.
    Branch {
        branch: String,
        host: String,
        port: Option<u16>,
        method: Method,
    },
    /// RFC 2543 peers: the fields that identified a transaction before branches.
    Legacy {
        uri: String,
        from_tag: Option<String>,
        to_tag: Option<String>,
        call_id: String,
        seq: u32,
        method: Method,
        top_via: String,
    },
}

impl ServerMatch {
    /// The key of `req` looking for a transaction of `method` (the request's
    /// own method; INVITE for ACK and for CANCEL's target). `to_tag` overrides
    /// the To tag of a legacy key (an ACK carries the response's tag).
    pub(crate) fn of(
        req: &Request,
        method: Method,
        to_tag: Option<Option<&str>>,
    ) -> Option<ServerMatch> {
        let via = req.headers.top_via()?;
        match via.branch() {
            Some(b) if is_rfc3261_branch(b) => Some(ServerMatch::Branch {
                branch: b.to_ascii_lowercase(),
                host: via.host.to_string().to_ascii_lowercase(),
                port: via.port,
                method,
            }),
            _ => Self::legacy(req, method, to_tag),
        }
    }

    fn legacy(req: &Request, method: Method, to_tag: Option<Option<&str>>) -> Option<ServerMatch> {
        let top_via = req.headers.values(&HeaderName::Via)?.first()?.to_string();
        let to = req.headers.to()?;
        let to_tag = match to_tag {
            Some(t) => t.map(str::to_owned),
            None => to.tag().map(str::to_owned),
        };
        Some(ServerMatch::Legacy {
            uri: req.uri.to_string(),
            from_tag: req.headers.from()?.tag().map(str::to_owned),
            to_tag,
            call_id: req.headers.call_id()?.to_owned(),
            seq: req.headers.cseq()?.seq,
            method,
            top_via,
        })
    }

    /// True for an RFC 2543 key.
    pub(crate) fn is_legacy(&self) -> bool {
        matches!(self, ServerMatch::Legacy { .. })
    }
}

/// The dialog an ACK for a 2xx belongs to (RFC 6026 §8.9 ties it to the
/// server INVITE in Accepted): Call-ID, CSeq number and To tag.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AckMatch {
    call_id: String,
    seq: u32,
    to_tag: Option<String>,
}

impl AckMatch {
    /// The dialog an ACK request belongs to.
    pub(crate) fn of_ack(ack: &Request) -> Option<AckMatch> {
        Some(AckMatch {
            call_id: ack.headers.call_id()?.to_owned(),
            seq: ack.headers.cseq()?.seq,
            to_tag: ack.headers.to()?.tag().map(str::to_owned),
        })
    }

    /// The dialog a 2xx response establishes.
    pub(crate) fn of_response(resp: &Response) -> Option<AckMatch> {
        Some(AckMatch {
            call_id: resp.headers.call_id()?.to_owned(),
            seq: resp.headers.cseq()?.seq,
            to_tag: resp.headers.to()?.tag().map(str::to_owned),
        })
    }
}

/// Deterministic identifiers: branches and tags from a seed, no RNG.
#[derive(Clone, Debug)]
pub(crate) struct IdSource {
    seed: u64,
    counter: u64,
}

impl IdSource {
    pub(crate) fn new(seed: u64) -> IdSource {
        IdSource {
            seed: mix(seed),
            counter: 0,
        }
    }

    fn next(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        // Both steps are bijections of the counter, so values never repeat
        // within 2^64 draws for a given seed.
        mix(self.seed ^ mix(self.counter))
    }

    /// A fresh RFC 3261 branch: the magic cookie and 16 hex digits.
    pub(crate) fn branch(&mut self) -> String {
        format!("{MAGIC_COOKIE}{:016x}", self.next())
    }

    /// A tag that is the same for the same inputs (RFC 3261 §8.2.7: a
    /// stateless UAS gives retransmissions of a request the same To tag).
    pub(crate) fn stable_tag(&self, parts: &[&str]) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for p in parts {
            for &b in p.as_bytes().iter().chain(std::iter::once(&0u8)) {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{:012x}", mix(h ^ self.seed) >> 16)
    }
}

/// The splitmix64 finaliser: a cheap bijective mixer.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, parse};

    fn req(text: &str) -> Request {
        match parse(text.as_bytes(), false) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    const OPTIONS: &str = "OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP A.example.com:5060;branch=z9hG4bKAbC\r\n\
From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: x@y\r\nCSeq: 3 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn branches_are_unique_and_seeded() {
        let mut a = IdSource::new(7);
        let mut b = IdSource::new(8);
        let xs: std::collections::HashSet<String> = (0..1000).map(|_| a.branch()).collect();
        assert_eq!(xs.len(), 1000);
        assert!(xs.iter().all(|x| is_rfc3261_branch(x) && x.len() == 23));
        assert_ne!(IdSource::new(7).branch(), b.branch());
        assert_eq!(a.stable_tag(&["x", "y"]), a.stable_tag(&["x", "y"]));
        assert_ne!(a.stable_tag(&["x", "y"]), a.stable_tag(&["xy", ""]));
    }

    #[test]
    fn server_match_uses_branch_sent_by_and_method() {
        let r = req(OPTIONS);
        let k = ServerMatch::of(&r, Method::Options, None).unwrap();
        let same = req(&OPTIONS
            .replace("z9hG4bKAbC", "z9hG4bKabc")
            .replace("A.example", "a.example"));
        assert_eq!(
            ServerMatch::of(&same, Method::Options, None),
            Some(k.clone())
        );
        let other_port = req(&OPTIONS.replace(":5060", ":5070"));
        assert_ne!(
            ServerMatch::of(&other_port, Method::Options, None),
            Some(k.clone())
        );
        assert_ne!(ServerMatch::of(&r, Method::Invite, None), Some(k));
    }

    #[test]
    fn bare_cookie_and_missing_branch_fall_back_to_rfc2543() {
        assert!(!is_rfc3261_branch(MAGIC_COOKIE));
        let bare = req(&OPTIONS.replace("z9hG4bKAbC", "z9hG4bK"));
        assert!(
            ServerMatch::of(&bare, Method::Options, None)
                .unwrap()
                .is_legacy()
        );
        let none = req(&OPTIONS.replace(";branch=z9hG4bKAbC", ""));
        let k = ServerMatch::of(&none, Method::Options, None).unwrap();
        assert!(k.is_legacy());
        let later_cseq = req(&OPTIONS
            .replace(";branch=z9hG4bKAbC", "")
            .replace("CSeq: 3", "CSeq: 4"));
        assert_ne!(ServerMatch::of(&later_cseq, Method::Options, None), Some(k));
    }
}
