//! CANCEL on both sides (RFC 3261 §9), and Timer C.

use super::*;
use crate::message::Method;

fn cancel_requests(node: &Node) -> Vec<Request> {
    node.sent_msgs("CANCEL ")
        .into_iter()
        .map(|m| match m {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!("filtered on the request line"),
        })
        .collect()
}

#[test]
fn cancel_in_proceeding_then_487() {
    let mut p = Pair::udp();
    let inv = p.send(request(Method::Invite, "c1"));
    let (skey, req) = p.server.expect_request();
    assert_eq!(p.client.expect_response(inv).status, 100);
    let ckey = p.client.layer.cancel(p.now, &inv).expect("cancellable");
    assert_eq!(
        p.client.layer.cancel(p.now, &inv),
        Some(ckey),
        "asking again gives the same CANCEL"
    );
    p.flush();
    let cancel = cancel_requests(&p.client)
        .pop()
        .expect("CANCEL sent at once");
    assert_eq!(
        cancel.headers.top_via().unwrap().branch(),
        req.headers.top_via().unwrap().branch()
    );
    assert_eq!(
        cancel.headers.cseq().unwrap().seq,
        req.headers.cseq().unwrap().seq
    );
    match p.server.next_event() {
        Some(TsxEvent::Cancelled { invite, cancel }) => {
            assert_eq!(invite, skey);
            assert_eq!(cancel.method, Method::Cancel);
        }
        other => panic!("expected Cancelled, got {other:?}"),
    }
    assert_eq!(p.client.expect_response(ckey).status, 200);
    p.respond(skey, answer(&req, 487));
    assert_eq!(p.client.expect_response(inv).status, 487);
    assert_eq!(p.client.sent_at("ACK ").len(), 1);
    p.run_out();
    assert_eq!(
        p.client.take_events(),
        [
            TsxEvent::Terminated { key: ckey },
            TsxEvent::Terminated { key: inv }
        ]
    );
    assert_eq!(
        p.server.take_events(),
        [TsxEvent::Terminated { key: skey }],
        "the CANCEL's own transaction is silent"
    );
    assert_eq!(
        (p.client.layer.stats().live(), p.server.layer.stats().live()),
        (0, 0)
    );
}

#[test]
fn cancel_waits_for_a_provisional() {
    let mut p = Pair::udp();
    p.server.drop_next = 1; // the 100 Trying is lost
    let inv = p.send(request(Method::Invite, "c2"));
    let (skey, _) = p.server.expect_request();
    p.advance(ms(100));
    let ckey = p.client.layer.cancel(p.now, &inv).expect("cancellable");
    p.flush();
    assert!(
        p.client.sent_at("CANCEL ").is_empty(),
        "§9.1: no CANCEL before a provisional"
    );
    p.advance(ms(400));
    // The INVITE retransmission drew the 100 again; the CANCEL follows it.
    assert_eq!(p.client.sent_at("CANCEL "), [ms(500)]);
    assert!(
        matches!(p.server.next_event(), Some(TsxEvent::Cancelled { invite, .. }) if invite == skey)
    );
    assert_eq!(p.client.expect_response(inv).status, 100);
    assert_eq!(p.client.expect_response(ckey).status, 200);
}

#[test]
fn pending_cancel_is_dropped_when_a_final_comes_first() {
    let mut p = Pair::udp();
    p.server.drop_next = 1;
    let inv = p.send(request(Method::Invite, "c3"));
    let (skey, req) = p.server.expect_request();
    let ckey = p.client.layer.cancel(p.now, &inv).expect("cancellable");
    p.respond(skey, answer(&req, 486));
    assert_eq!(p.client.expect_response(inv).status, 486);
    p.client.expect(TsxEvent::Terminated { key: ckey });
    assert!(p.client.sent_at("CANCEL ").is_empty());
    assert_eq!(
        p.client.layer.cancel(p.now, &inv),
        None,
        "final: nothing to cancel"
    );
}

#[test]
fn cancel_after_a_lost_2xx_gets_200_and_no_cancelled() {
    let mut p = Pair::udp();
    let inv = p.send(request(Method::Invite, "c4"));
    let (skey, req) = p.server.expect_request();
    p.client.expect_response(inv);
    p.server.drop_next = 1;
    p.respond(skey, answer(&req, 200));
    let ckey = p
        .client
        .layer
        .cancel(p.now, &inv)
        .expect("the client saw no final yet");
    p.flush();
    p.server.expect_quiet();
    assert_eq!(p.client.expect_response(ckey).status, 200);
    p.advance(ms(500));
    // The 2xx retransmission arrives; the TU gets it and must ACK, then BYE.
    assert_eq!(p.client.expect_response(inv).status, 200);
}

#[test]
fn unmatched_cancel_gets_481() {
    let mut p = Pair::udp();
    let mut cancel = request(Method::Cancel, "nothing");
    cancel.headers.push_front(
        HeaderName::Via,
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnone",
    );
    let from = p.client_source();
    p.server
        .layer
        .handle_received(p.now, from, &cancel.to_bytes());
    p.server
        .layer
        .handle_received(p.now, from, &cancel.to_bytes());
    p.flush();
    assert_eq!(
        p.server.sent_at("SIP/2.0 481").len(),
        2,
        "the retransmission got the same answer"
    );
    p.server.expect_quiet();
    assert_eq!(p.server.layer.stats().absorbed, 1);
    let m = p.server.sent_msgs("SIP/2.0 481");
    assert_eq!(m[0], m[1]);
}

#[test]
fn cancel_retransmission_is_absorbed() {
    let mut p = Pair::udp();
    let inv = p.send(request(Method::Invite, "c5"));
    p.server.expect_request();
    p.client.expect_response(inv);
    p.server.drop_next = 1; // the 200 to the CANCEL is lost
    let ckey = p.client.layer.cancel(p.now, &inv).expect("cancellable");
    p.flush();
    assert!(matches!(
        p.server.next_event(),
        Some(TsxEvent::Cancelled { .. })
    ));
    p.advance(ms(500));
    p.server.expect_quiet();
    assert_eq!(p.server.sent_at("SIP/2.0 200"), [ms(0), ms(500)]);
    assert_eq!(p.client.expect_response(ckey).status, 200);
}

#[test]
fn timer_c_cancels_a_ringing_invite_then_gives_up() {
    let mut p = Pair::udp();
    let inv = p.send(request(Method::Invite, "c6"));
    let (skey, req) = p.server.expect_request();
    p.respond(skey, answer(&req, 180));
    p.client.take_events();
    p.server.drop_next = usize::MAX; // the far end goes silent
    p.advance(ms(181_000));
    assert_eq!(p.client.sent_at("CANCEL "), [ms(181_000)]);
    assert_eq!(
        p.client.layer.cancel(p.now, &inv),
        None,
        "the layer's own CANCEL has no key"
    );
    p.client.expect_quiet();
    p.advance(ms(32_000));
    assert_eq!(
        p.client.take_events(),
        [
            TsxEvent::TimedOut { key: inv },
            TsxEvent::Terminated { key: inv }
        ]
    );
    p.run_out();
    p.client.expect_quiet(); // the CANCEL's transaction ends without events
    assert_eq!(p.client.layer.stats().live(), 0);
}
