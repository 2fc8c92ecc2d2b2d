//! The registrar's location service (RFC 3261 §10.3): bindings from an
//! extension to the contacts where it can be reached.
//!
//! Pure logic: `now` is an input; the endpoint owns the one [`Location`] and
//! calls it after authentication. Each binding remembers the transport
//! [`Source`] the REGISTER came from, so calls reach phones behind NAT on the
//! address they really send from, over the connection they opened.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sip::message::{Contacts, HeaderName, NameAddr, Request, parse_delta};
use std::net::SocketAddr;

use sip::net::{Source, Target};

/// Registrar limits, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Shorter non-zero expiries get 423 Interval Too Brief.
    pub min_expires: u32,
    /// Used when the request names none.
    pub default_expires: u32,
    /// Longer expiries are shortened to this.
    pub max_expires: u32,
    /// Most contacts per extension; the oldest is dropped beyond it.
    pub max_contacts: usize,
}

/// One contact of an extension.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// The Contact as registered (URI and contact params).
    pub contact: NameAddr,
    /// Where the REGISTER came from.
    pub source: Source,
    /// When the binding lapses.
    pub expires_at: Instant,
    /// Call-ID and CSeq of the REGISTER that last refreshed it (§10.3 step 7).
    call_id: String,
    cseq: u32,
    /// When it was first added (for the oldest-first eviction).
    created: Instant,
}

impl Binding {
    /// Where requests for this contact go. Over TCP/TLS: the connection the
    /// phone registered on. Over UDP: the Contact's address when the phone
    /// sent from that same IP (not behind NAT), else the address the REGISTER
    /// really came from (symmetric signalling through the NAT binding).
    pub fn target(&self) -> Target {
        let contact = self
            .contact
            .uri
            .sip()
            .and_then(|u| u.host.ip().map(|ip| (ip, u.port)));
        let source_ip = self.source.remote.ip().to_canonical();
        let direct = match contact {
            Some((ip, port)) if ip.to_canonical() == source_ip => {
                let default = if self.source.transport == sip::net::TransportKind::Tls {
                    5061
                } else {
                    5060
                };
                Some(SocketAddr::new(ip, port.unwrap_or(default)))
            }
            _ => None,
        };
        match (self.source.transport.is_reliable(), direct) {
            // Over TCP/TLS the phone's own connection is used while it is
            // open; if it closed, a new one goes to the Contact (or, behind
            // NAT, back to where the phone connected from).
            (true, _) => Target {
                remote: direct.unwrap_or(self.source.remote),
                ..Target::from(self.source)
            },
            (false, Some(remote)) => Target {
                transport: self.source.transport,
                remote,
                conn: None,
            },
            (false, None) => Target::from(self.source),
        }
    }
}

/// Why a REGISTER was refused (the status to answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterError {
    /// 400 with a reason.
    Bad(&'static str),
    /// 423 with Min-Expires.
    IntervalTooBrief(u32),
}

/// All bindings, keyed by extension.
#[derive(Debug, Default)]
pub struct Location {
    bindings: HashMap<String, Vec<Binding>>,
}

impl Location {
    /// An empty location service.
    pub fn new() -> Location {
        Location::default()
    }

    /// Applies a REGISTER for `ext` (already authenticated) and returns the
    /// Contact header values to put in the 200, each with its `expires`.
    pub fn register(
        &mut self,
        now: Instant,
        ext: &str,
        req: &Request,
        source: Source,
        cfg: &RegistrarConfig,
    ) -> Result<Vec<String>, RegisterError> {
        let h = &req.headers;
        let call_id = h.call_id().unwrap_or_default().to_owned();
        let cseq = h.cseq().map_or(0, |c| c.seq);
        let header_expires = match h.get(&HeaderName::Expires) {
            Some(v) => Some(parse_delta(v).ok_or(RegisterError::Bad("bad Expires"))?),
            None => None,
        };
        match h.contacts() {
            None if h.count(&HeaderName::Contact) > 0 => {
                return Err(RegisterError::Bad("bad Contact"));
            }
            None => {}
            Some(Contacts::Star) => {
                if header_expires != Some(0) {
                    return Err(RegisterError::Bad("Contact: * requires Expires: 0"));
                }
                self.bindings.remove(ext);
            }
            Some(Contacts::List(contacts)) => {
                let wanted = contacts
                    .iter()
                    .map(|c| {
                        let e = c.params.get("expires").flatten().map(parse_delta);
                        let e = e.unwrap_or(
                            header_expires
                                .map(Some)
                                .unwrap_or(Some(cfg.default_expires)),
                        );
                        e.ok_or(RegisterError::Bad("bad expires parameter"))
                    })
                    .collect::<Result<Vec<u32>, _>>()?;
                if wanted.iter().any(|&e| e != 0 && e < cfg.min_expires) {
                    return Err(RegisterError::IntervalTooBrief(cfg.min_expires));
                }
                let list = self.bindings.entry(ext.to_owned()).or_default();
                for (contact, expires) in contacts.into_iter().zip(wanted) {
                    apply(
                        list,
                        now,
                        contact,
                        expires.min(cfg.max_expires),
                        source,
                        &call_id,
                        cseq,
                    );
                }
                list.sort_by_key(|b| b.created);
                while list.len() > cfg.max_contacts {
                    list.remove(0);
                }
            }
        }
        Ok(self.current(now, ext))
    }

    /// Live bindings of `ext`, most recently refreshed first.
    pub fn lookup(&self, now: Instant, ext: &str) -> Vec<Binding> {
        let mut live: Vec<Binding> = self
            .bindings
            .get(ext)
            .into_iter()
            .flatten()
            .filter(|b| b.expires_at > now)
            .cloned()
            .collect();
        live.sort_by_key(|b| std::cmp::Reverse(b.expires_at));
        live
    }

    /// Drops lapsed bindings; returns how many.
    pub fn purge(&mut self, now: Instant) -> usize {
        let mut dropped = 0;
        self.bindings.retain(|_, list| {
            let before = list.len();
            list.retain(|b| b.expires_at > now);
            dropped += before - list.len();
            !list.is_empty()
        });
        dropped
    }

    /// Number of live bindings (for metrics).
    pub fn len(&self) -> usize {
        self.bindings.values().map(Vec::len).sum()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    fn current(&self, now: Instant, ext: &str) -> Vec<String> {
        self.lookup(now, ext)
            .into_iter()
            .map(|b| {
                let mut c = b.contact.clone();
                let left = b.expires_at.saturating_duration_since(now).as_secs();
                c.params.set("expires", Some(&left.to_string()));
                c.to_string()
            })
            .collect()
    }
}

fn apply(
    list: &mut Vec<Binding>,
    now: Instant,
    mut contact: NameAddr,
    expires: u32,
    source: Source,
    call_id: &str,
    cseq: u32,
) {
    contact.params.remove("expires");
    let key = contact.uri.to_string();
    let pos = list.iter().position(|b| b.contact.uri.to_string() == key);
    if let Some(i) = pos {
        // §10.3 step 7: a refresh with the same Call-ID must carry a higher CSeq.
        if list[i].call_id == call_id && cseq <= list[i].cseq {
            return;
        }
        if expires == 0 {
            list.remove(i);
            return;
        }
        let b = &mut list[i];
        (b.contact, b.source, b.call_id, b.cseq) = (contact, source, call_id.to_owned(), cseq);
        b.expires_at = now + Duration::from_secs(expires.into());
    } else if expires > 0 {
        list.push(Binding {
            contact,
            source,
            expires_at: now + Duration::from_secs(expires.into()),
            call_id: call_id.to_owned(),
            cseq,
            created: now,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip::message::{Message, parse};
    use sip::net::TransportKind;

    const CFG: RegistrarConfig = RegistrarConfig {
        min_expires: 60,
        default_expires: 3600,
        max_expires: 7200,
        max_contacts: 3,
    };

    fn register(cseq: u32, contact: &str, extra: &str) -> Request {
        let text = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK{cseq}\r\n\
From: <sip:1001@127.0.0.1>;tag=f\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: reg-1\r\nCSeq: {cseq} REGISTER\r\n\
Contact: {contact}\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match parse(text.as_bytes(), false).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }

    fn src() -> Source {
        Source {
            transport: TransportKind::Udp,
            remote: "203.0.113.5:40000".parse().unwrap(),
            conn: None,
        }
    }

    #[test]
    fn bindings_expire_refresh_and_unregister() {
        let t0 = Instant::now();
        let mut loc = Location::new();
        let ok = loc
            .register(
                t0,
                "1001",
                &register(1, "<sip:1001@10.0.0.1:5070>", "Expires: 120\r\n"),
                src(),
                &CFG,
            )
            .unwrap();
        assert_eq!(ok, ["<sip:1001@10.0.0.1:5070>;expires=120"]);
        assert_eq!(loc.lookup(t0 + Duration::from_secs(119), "1001").len(), 1);
        assert!(loc.lookup(t0 + Duration::from_secs(120), "1001").is_empty());
        // Refresh, then an out-of-order CSeq that must not change anything.
        loc.register(
            t0 + Duration::from_secs(100),
            "1001",
            &register(2, "<sip:1001@10.0.0.1:5070>", "Expires: 120\r\n"),
            src(),
            &CFG,
        )
        .unwrap();
        loc.register(
            t0 + Duration::from_secs(101),
            "1001",
            &register(2, "<sip:1001@10.0.0.1:5070>;expires=0", ""),
            src(),
            &CFG,
        )
        .unwrap();
        assert_eq!(loc.lookup(t0 + Duration::from_secs(200), "1001").len(), 1);
        loc.register(
            t0 + Duration::from_secs(102),
            "1001",
            &register(3, "<sip:1001@10.0.0.1:5070>;expires=0", ""),
            src(),
            &CFG,
        )
        .unwrap();
        assert!(loc.lookup(t0 + Duration::from_secs(103), "1001").is_empty());
    }

    #[test]
    fn multiple_contacts_star_and_limits() {
        let t0 = Instant::now();
        let mut loc = Location::new();
        let two = "<sip:1001@10.0.0.1:5070>, <sip:1001@10.0.0.2:5070>;expires=300";
        assert_eq!(
            loc.register(t0, "1001", &register(1, two, ""), src(), &CFG)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            loc.register(
                t0,
                "1001",
                &register(2, "<sip:1001@10.0.0.3>", "Expires: 30\r\n"),
                src(),
                &CFG
            ),
            Err(RegisterError::IntervalTooBrief(60))
        );
        assert_eq!(
            loc.register(t0, "1001", &register(3, "*", "Expires: 5\r\n"), src(), &CFG),
            Err(RegisterError::Bad("Contact: * requires Expires: 0"))
        );
        let over = "<sip:a@10.0.0.3>, <sip:b@10.0.0.4>";
        assert_eq!(
            loc.register(
                t0 + Duration::from_secs(1),
                "1001",
                &register(4, over, ""),
                src(),
                &CFG
            )
            .unwrap()
            .len(),
            3
        );
        assert!(
            loc.register(t0, "1001", &register(5, "*", "Expires: 0\r\n"), src(), &CFG)
                .unwrap()
                .is_empty()
        );
        assert!(loc.is_empty());
        // A query (no Contact) lists without changing.
        let mut q = register(6, "<sip:x@y>", "");
        q.headers.remove(&HeaderName::Contact);
        assert!(
            loc.register(t0, "1001", &q, src(), &CFG)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn calls_go_to_the_contact_unless_the_phone_is_behind_nat() {
        let t0 = Instant::now();
        let mut loc = Location::new();
        let local = Source {
            transport: TransportKind::Udp,
            remote: "10.0.0.1:40000".parse().unwrap(),
            conn: None,
        };
        loc.register(
            t0,
            "1001",
            &register(1, "<sip:1001@10.0.0.1:5070>", ""),
            local,
            &CFG,
        )
        .unwrap();
        assert_eq!(
            loc.lookup(t0, "1001")[0].target().remote,
            "10.0.0.1:5070".parse().unwrap()
        );
        loc.register(
            t0,
            "1002",
            &register(1, "<sip:1002@10.0.0.1:5070>", ""),
            src(),
            &CFG,
        )
        .unwrap();
        assert_eq!(
            loc.lookup(t0, "1002")[0].target().remote,
            src().remote,
            "NATed: reply to where it came from"
        );
    }

    #[test]
    fn uri_params_stay_and_contact_params_do_not() {
        let t0 = Instant::now();
        let mut loc = Location::new();
        loc.register(
            t0,
            "1001",
            &register(1, "sip:1001@gw1.example.net;unknownparam", ""),
            src(),
            &CFG,
        )
        .unwrap();
        loc.register(
            t0,
            "1002",
            &register(1, "<sip:1002@gw1.example.net;unknownparam>", ""),
            src(),
            &CFG,
        )
        .unwrap();
        assert_eq!(
            loc.lookup(t0, "1001")[0].contact.uri.to_string(),
            "sip:1001@gw1.example.net"
        );
        assert_eq!(
            loc.lookup(t0, "1002")[0].contact.uri.to_string(),
            "sip:1002@gw1.example.net;unknownparam"
        );
    }
}
