//! What comes off the wire: Via stamping and response routing, broken
//! requests, stray responses, RFC 2543 peers (RFC 4475 `inv2543`, `badbranch`).

use std::net::SocketAddr;

use super::*;
use crate::message::Method;

fn layer() -> TransactionLayer {
    TransactionLayer::new(config(SERVER.parse().unwrap()), 9)
}

fn udp_from(addr: &str) -> Source {
    Source {
        transport: TransportKind::Udp,
        remote: addr.parse().unwrap(),
        conn: None,
    }
}

fn drain(l: &mut TransactionLayer) -> (Vec<Transmit>, Vec<TsxEvent>) {
    let t = std::iter::from_fn(|| l.poll_transmit()).collect();
    let e = std::iter::from_fn(|| l.poll_event()).collect();
    (t, e)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/rfc4475/{name}.dat",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn response_of(t: &Transmit) -> Response {
    match parse(&t.bytes, false) {
        Ok(Message::Response(r)) => r,
        other => panic!("expected a response: {other:?}"),
    }
}

const NATTED: &str = "OPTIONS sip:bob@192.0.2.2 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.7:5060;rport;branch=z9hG4bKnat\r\n\
From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: nat@x\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

#[test]
fn natted_request_gets_received_and_rport_and_answer_goes_to_source() {
    let t0 = Instant::now();
    let mut l = layer();
    let from = udp_from("203.0.113.9:40000");
    l.handle_received(t0, from, NATTED.as_bytes());
    let (_, ev) = drain(&mut l);
    let [
        TsxEvent::Request {
            key,
            request,
            source,
        },
    ] = &ev[..]
    else {
        panic!("{ev:?}")
    };
    assert_eq!(*source, from);
    let via = request.headers.top_via().unwrap();
    assert_eq!(via.params.get("received"), Some(Some("203.0.113.9")));
    assert_eq!(via.rport(), Some(Some(40000)));
    l.respond(t0, key, answer(request, 200));
    let (tx, _) = drain(&mut l);
    assert_eq!(tx[0].target.remote, from.remote);
    let resp = response_of(&tx[0]);
    assert_eq!(resp.headers.top_via().unwrap().rport(), Some(Some(40000)));
}

#[test]
fn without_rport_the_answer_goes_to_received_and_via_port() {
    let t0 = Instant::now();
    let mut l = layer();
    let text = NATTED.replace("10.0.0.7:5060;rport;", "10.0.0.7:5070;");
    l.handle_received(t0, udp_from("203.0.113.9:40000"), text.as_bytes());
    let (_, ev) = drain(&mut l);
    let [TsxEvent::Request { key, request, .. }] = &ev[..] else {
        panic!("{ev:?}")
    };
    l.respond(t0, key, answer(request, 200));
    let (tx, _) = drain(&mut l);
    assert_eq!(
        tx[0].target.remote,
        "203.0.113.9:5070".parse::<SocketAddr>().unwrap()
    );
}

#[test]
fn broken_request_is_answered_statelessly() {
    let t0 = Instant::now();
    let mut l = layer();
    let from = udp_from("192.0.2.1:5060");
    let no_call_id = NATTED.replace("Call-ID: nat@x\r\n", "");
    l.handle_received(t0, from, no_call_id.as_bytes());
    let (tx, ev) = drain(&mut l);
    assert!(ev.is_empty());
    let [t] = &tx[..] else { panic!("{tx:?}") };
    // No Call-ID to copy, so the answer is not a complete response either.
    let text = String::from_utf8_lossy(&t.bytes);
    assert!(
        text.starts_with("SIP/2.0 400 Bad Request (missing or repeated Call-ID)\r\n"),
        "{text}"
    );
    assert!(
        text.contains(";received=192.0.2.1") && text.contains(";rport=5060"),
        "{text}"
    );
    assert!(text.contains("To: <sip:bob@example.com>;tag="), "{text}");
    assert_eq!(t.target.remote, from.remote);
    let bad_version = NATTED.replace("192.0.2.2 SIP/2.0", "192.0.2.2 SIP/7.0");
    l.handle_received(t0, from, bad_version.as_bytes());
    let (tx, _) = drain(&mut l);
    assert_eq!(response_of(&tx[0]).status, 505);
    let s = l.stats();
    assert_eq!((s.parse_failures, s.live()), (2, 0));
    assert_eq!(l.poll_timeout(), None);
}

#[test]
fn broken_ack_and_garbage_get_no_answer() {
    let t0 = Instant::now();
    let mut l = layer();
    let from = udp_from("192.0.2.1:5060");
    let ack = NATTED
        .replace("OPTIONS sip", "ACK sip")
        .replace("1 OPTIONS", "1 ACK")
        .replace("Call-ID: nat@x\r\n", "");
    for bytes in [
        ack.as_bytes(),
        b"\x00\xffhello",
        b"SIP/2.0 200 OK\r\n\r\n",
        b"\r\n\r\n",
    ] {
        l.handle_received(t0, from, bytes);
    }
    assert_eq!(drain(&mut l), (vec![], vec![]));
    assert_eq!(
        l.stats().parse_failures,
        3,
        "the CRLF keep-alive is not a failure"
    );
}

#[test]
fn response_with_unknown_branch_is_stray() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(config(CLIENT.parse().unwrap()), 3);
    let key = l.send_request(
        t0,
        request(Method::Options, "s"),
        Target {
            transport: TransportKind::Udp,
            remote: SERVER.parse().unwrap(),
            conn: None,
        },
    );
    let (tx, _) = drain(&mut l);
    let Ok(Message::Request(sent)) = parse(&tx[0].bytes, false) else {
        panic!()
    };
    let from = udp_from(SERVER);
    let mut stray = Response::to_request(&sent, 200);
    stray.headers.set(
        HeaderName::Via,
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKother",
    );
    l.handle_received(t0, from, &stray.to_bytes());
    let mut foreign = Response::to_request(&sent, 200);
    let via = sent
        .headers
        .get(&HeaderName::Via)
        .unwrap()
        .replace("192.0.2.1", "192.0.2.77");
    foreign.headers.set(HeaderName::Via, via);
    l.handle_received(t0, from, &foreign.to_bytes());
    let (_, ev) = drain(&mut l);
    assert!(
        matches!(
            &ev[..],
            [
                TsxEvent::StrayResponse { .. },
                TsxEvent::StrayResponse { .. }
            ]
        ),
        "{ev:?}"
    );
    assert_eq!(l.stats().stray_responses, 2);
    l.handle_received(t0, from, &Response::to_request(&sent, 200).to_bytes());
    let (_, ev) = drain(&mut l);
    assert!(matches!(&ev[..], [TsxEvent::Response { key: k, .. }] if *k == key));
}

#[test]
fn rfc2543_invite_matches_retransmissions_and_its_ack() {
    let t0 = Instant::now();
    let mut l = layer();
    let from = udp_from("192.0.2.5:5060");
    let inv = fixture("inv2543");
    l.handle_received(t0, from, &inv);
    let (tx, ev) = drain(&mut l);
    let [TsxEvent::Request { key, request, .. }] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(response_of(&tx[0]).status, 100);
    assert_eq!(
        tx[0].target.remote,
        "192.0.2.5:5060".parse::<SocketAddr>().unwrap(),
        "received IP, default port"
    );
    l.handle_received(t0, from, &inv);
    let (tx, ev) = drain(&mut l);
    assert!(ev.is_empty(), "a retransmission, not a new request");
    assert_eq!(tx.len(), 1);
    let busy = answer(request, 486);
    l.respond(t0, key, busy.clone());
    drain(&mut l);
    // An RFC 2543 ACK: no branch, the To tag of our response.
    let mut ack = Request::new(Method::Ack, request.uri.clone());
    ack.headers
        .push(HeaderName::Via, "SIP/2.0/UDP iftgw.example.com");
    for h in [HeaderName::From, HeaderName::CallId] {
        ack.headers
            .push(h.clone(), request.headers.get(&h).unwrap());
    }
    ack.headers
        .push(HeaderName::To, busy.headers.get(&HeaderName::To).unwrap());
    ack.headers.push(HeaderName::CSeq, "56 ACK");
    l.handle_received(t0 + ms(100), from, &ack.to_bytes());
    let (tx, ev) = drain(&mut l);
    assert_eq!((tx.len(), ev.len()), (0, 0), "absorbed by the transaction");
    l.handle_timeout(t0 + ms(5100));
    let (_, ev) = drain(&mut l);
    assert_eq!(
        ev,
        [TsxEvent::Terminated { key: *key }],
        "Timer I after the ACK"
    );
}

#[test]
fn bare_magic_cookie_falls_back_to_rfc2543_matching() {
    let t0 = Instant::now();
    let mut l = layer();
    let from = udp_from("192.0.2.1:5060");
    let msg = fixture("badbranch");
    l.handle_received(t0, from, &msg);
    l.handle_received(t0, from, &msg);
    let (_, ev) = drain(&mut l);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, TsxEvent::Request { .. }))
            .count(),
        1,
        "{ev:?}"
    );
    assert_eq!(l.stats().absorbed, 1);
}

#[test]
fn ack_for_unknown_2xx_goes_to_the_tu() {
    let t0 = Instant::now();
    let mut l = layer();
    let ack = NATTED
        .replace("OPTIONS sip", "ACK sip")
        .replace("1 OPTIONS", "1 ACK");
    l.handle_received(t0, udp_from("192.0.2.1:5060"), ack.as_bytes());
    let (tx, ev) = drain(&mut l);
    assert!(tx.is_empty());
    assert!(matches!(&ev[..], [TsxEvent::Ack { request, .. }] if request.method == Method::Ack));
}

#[test]
fn outgoing_requests_get_via_max_forwards_and_user_agent() {
    let t0 = Instant::now();
    let mut cfg = config(CLIENT.parse().unwrap());
    cfg.user_agent = Some("switchyard".into());
    cfg.ports.tls = 5071;
    let mut l = TransactionLayer::new(cfg, 4);
    let target = Target {
        transport: TransportKind::Tls,
        remote: SERVER.parse().unwrap(),
        conn: None,
    };
    l.send_request(t0, request(Method::Options, "v"), target);
    let (tx, _) = drain(&mut l);
    let Ok(Message::Request(r)) = parse(&tx[0].bytes, true) else {
        panic!()
    };
    let via = r.headers.top_via().unwrap();
    assert_eq!(
        via.to_string().split(';').next(),
        Some("SIP/2.0/TLS 192.0.2.1:5071")
    );
    assert!(via.branch().unwrap().starts_with("z9hG4bK") && via.rport() == Some(None));
    assert_eq!(r.headers.max_forwards(), Some(70));
    assert_eq!(r.headers.get(&HeaderName::UserAgent), Some("switchyard"));
    assert_eq!(tx[0].target, target);
}
