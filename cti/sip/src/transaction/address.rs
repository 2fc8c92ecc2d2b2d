//! Addressing: what a received request's top Via learns about its sender
//! (RFC 3261 §18.2.1, RFC 3581 §4) and where a response goes (§18.2.2,
//! RFC 3581 §4).
//!
//! No DNS here: a Via host that is a domain name, with no `received`, falls
//! back to the address the request came from.

use std::net::{IpAddr, SocketAddr};

use crate::message::{HeaderName, Headers, Transport, Via};
use crate::net::{Source, Target};

/// Stamps the top Via of a received request: `received=` when its host is
/// not the source IP (or when `rport` asks for it), and the source port in an
/// empty `rport`. Returns the top Via as stamped; `None` without a valid Via.
pub(crate) fn stamp_via(headers: &mut Headers, source: &Source) -> Option<Via> {
    let mut via = headers.top_via()?;
    let ip = source.remote.ip().to_canonical();
    let wants_rport = via.rport() == Some(None);
    let host_matches = via.host.ip().map(|h| h.to_canonical()) == Some(ip);
    // A `received` the sender wrote itself is never trusted: it would let any
    // peer point our responses at a third party (a reflection attack).
    let forged_received = via
        .params
        .get("received")
        .is_some_and(|r| r.and_then(parse_ip) != Some(ip));
    if !wants_rport && host_matches && !forged_received {
        return Some(via);
    }
    if wants_rport {
        via.params
            .set("rport", Some(&source.remote.port().to_string()));
    }
    via.params.set("received", Some(&ip.to_string()));
    headers.pop_first_value(&HeaderName::Via)?;
    headers.push_front(HeaderName::Via, via.to_string());
    Some(via)
}

/// Where a response to a request with top Via `via`, received from
/// `source`, is sent.
pub(crate) fn response_target(via: &Via, source: &Source) -> Target {
    if source.transport.is_reliable() {
        return Target::from(*source);
    }
    let remote = if via.rport().is_some() {
        source.remote
    } else {
        let received = via.params.get("received").flatten().and_then(parse_ip);
        match received.or_else(|| via.host.ip()) {
            Some(ip) => {
                SocketAddr::new(ip, via.port.unwrap_or_else(|| default_port(&via.transport)))
            }
            None => source.remote,
        }
    };
    Target {
        transport: source.transport,
        remote,
        conn: None,
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

fn default_port(t: &Transport) -> u16 {
    if matches!(t, Transport::Tls) {
        5061
    } else {
        5060
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{ConnId, TransportKind};

    fn src(kind: TransportKind, addr: &str) -> Source {
        let conn = kind.is_reliable().then_some(ConnId(9));
        Source {
            transport: kind,
            remote: addr.parse().unwrap(),
            conn,
        }
    }

    fn headers(via: &str) -> Headers {
        let mut h = Headers::new();
        h.push(
            HeaderName::Via,
            format!("{via}, SIP/2.0/UDP proxy.example.com"),
        );
        h.push(HeaderName::CallId, "x");
        h
    }

    #[test]
    fn received_added_only_when_host_differs() {
        let s = src(TransportKind::Udp, "192.0.2.1:5060");
        let mut h = headers("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1");
        let v = stamp_via(&mut h, &s).unwrap();
        assert!(v.params.get("received").is_none());
        let mut h = headers("SIP/2.0/UDP pc.example.com:5070;branch=z9hG4bK1");
        let v = stamp_via(&mut h, &s).unwrap();
        assert_eq!(v.params.get("received"), Some(Some("192.0.2.1")));
        assert_eq!(h.top_via(), Some(v.clone()));
        assert_eq!(h.vias().len(), 2, "the second Via survives");
        assert_eq!(
            response_target(&v, &s).remote,
            "192.0.2.1:5070".parse().unwrap()
        );
    }

    #[test]
    fn empty_rport_is_filled_and_wins() {
        let s = src(TransportKind::Udp, "203.0.113.7:40123");
        let mut h = headers("SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK1");
        let v = stamp_via(&mut h, &s).unwrap();
        assert_eq!(v.rport(), Some(Some(40123)));
        assert_eq!(v.params.get("received"), Some(Some("203.0.113.7")));
        assert_eq!(response_target(&v, &s).remote, s.remote);
        // RFC 3581: received is added even when the host matches.
        let s = src(TransportKind::Udp, "10.0.0.5:5060");
        let mut h = headers("SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK1");
        assert_eq!(
            stamp_via(&mut h, &s).unwrap().params.get("received"),
            Some(Some("10.0.0.5"))
        );
    }

    #[test]
    fn udp_without_rport_uses_via_port_or_default() {
        let s = src(TransportKind::Udp, "192.0.2.9:1111");
        let v = Via::parse("SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK1").unwrap();
        assert_eq!(
            response_target(&v, &s).remote,
            "192.0.2.4:5060".parse().unwrap()
        );
        let v = Via::parse("SIP/2.0/TLS 192.0.2.4;branch=z9hG4bK1").unwrap();
        assert_eq!(
            response_target(&v, &s).remote,
            "192.0.2.4:5061".parse().unwrap()
        );
        let v = Via::parse("SIP/2.0/UDP host.example.com:5099;branch=z9hG4bK1").unwrap();
        assert_eq!(
            response_target(&v, &s).remote,
            s.remote,
            "domain without received: no DNS, use the source"
        );
        let mut h = Headers::new();
        h.push(
            HeaderName::Via,
            "SIP/2.0/UDP 127.0.0.1:5070;received=192.0.2.99",
        );
        let s = Source {
            transport: crate::net::TransportKind::Udp,
            remote: "127.0.0.1:5070".parse().unwrap(),
            conn: None,
        };
        let stamped = stamp_via(&mut h, &s).unwrap();
        assert_eq!(
            stamped.params.get("received"),
            Some(Some("127.0.0.1")),
            "a forged received is overwritten"
        );
        assert_eq!(response_target(&stamped, &s).remote, s.remote);
        let v = Via::parse("SIP/2.0/UDP [2001:db8::1];received=2001:db8::9").unwrap();
        assert_eq!(
            response_target(&v, &s).remote,
            "[2001:db8::9]:5060".parse().unwrap()
        );
    }

    #[test]
    fn reliable_goes_back_on_the_connection() {
        let s = src(TransportKind::Tls, "192.0.2.9:3333");
        let v = Via::parse("SIP/2.0/TLS 192.0.2.4;rport;branch=z9hG4bK1").unwrap();
        let t = response_target(&v, &s);
        assert_eq!(
            (t.conn, t.remote, t.transport),
            (Some(ConnId(9)), s.remote, TransportKind::Tls)
        );
    }
}
