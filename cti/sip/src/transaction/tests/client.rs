//! Client transactions: retransmission schedules, timeouts, ACK of non-2xx,
//! Accepted, reliable transports.

use super::*;
use crate::message::{HeaderName, Method};

fn times(ms_list: &[u64]) -> Vec<Duration> {
    ms_list.iter().map(|&m| ms(m)).collect()
}

#[test]
fn timer_a_doubles_without_cap_until_b_at_32s() {
    let mut p = Pair::udp();
    p.client.drop_next = usize::MAX; // the server never hears anything
    let key = p.send(request(Method::Invite, "a"));
    p.advance(ms(31_999));
    p.client.expect_quiet();
    p.advance(ms(1));
    assert_eq!(
        p.client.sent_at("INVITE "),
        times(&[0, 500, 1500, 3500, 7500, 15_500, 31_500])
    );
    p.client.expect(TsxEvent::TimedOut { key });
    p.client.expect(TsxEvent::Terminated { key });
    let s = p.client.layer.stats();
    assert_eq!((s.retransmissions, s.timeouts, s.live()), (6, 1, 0));
    assert_eq!(p.client.layer.poll_timeout(), None);
}

#[test]
fn timer_e_doubles_capped_at_t2_until_f_at_32s() {
    let mut p = Pair::udp();
    p.client.drop_next = usize::MAX;
    let key = p.send(request(Method::Options, "e"));
    p.run_out();
    let want = times(&[
        0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500,
    ]);
    assert_eq!(p.client.sent_at("OPTIONS "), want);
    assert_eq!(p.elapsed(), ms(32_000));
    assert_eq!(
        p.client.take_events(),
        [TsxEvent::TimedOut { key }, TsxEvent::Terminated { key }]
    );
}

#[test]
fn timer_e_runs_at_t2_once_proceeding() {
    let mut p = Pair::udp();
    let key = p.send(request(Method::Register, "p"));
    let (skey, req) = p.server.expect_request();
    p.respond(skey, answer(&req, 100));
    assert_eq!(p.client.expect_response(key).status, 100);
    p.advance(ms(10_000));
    // E was armed for T1 in Trying; from Proceeding it is reset to T2.
    assert_eq!(p.client.sent_at("REGISTER "), times(&[0, 500, 4500, 8500]));
    // Each retransmission got the last provisional again, which the TU sees.
    assert_eq!(p.server.sent_at("SIP/2.0 100").len(), 4);
    p.respond(skey, answer(&req, 200));
    let events = p.client.take_events();
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, TsxEvent::Response { .. }))
            .count(),
        4,
        "3×100 then 200: {events:?}"
    );
    assert!(
        matches!(events.last(), Some(TsxEvent::Response { response, .. }) if response.status == 200)
    );
}

#[test]
fn timer_k_ends_client_non_invite_t4_after_final() {
    let mut p = Pair::udp();
    let key = p.send(request(Method::Options, "k"));
    let (skey, req) = p.server.expect_request();
    p.advance(ms(1000));
    p.respond(skey, answer(&req, 200));
    assert_eq!(p.client.expect_response(key).status, 200);
    p.advance(ms(4999));
    p.client.expect_quiet();
    p.advance(ms(1));
    p.client.expect(TsxEvent::Terminated { key });
    assert_eq!(p.client.layer.stats().live(), 0);
}

#[test]
fn lost_final_response_is_recovered_by_retransmission() {
    let mut p = Pair::udp();
    let key = p.send(request(Method::Options, "lost"));
    let (skey, req) = p.server.expect_request();
    p.server.drop_next = 1;
    p.respond(skey, answer(&req, 200));
    p.client.expect_quiet();
    p.advance(ms(500));
    // The client retransmitted at T1; the server answered with the stored final.
    assert_eq!(p.server.sent_at("SIP/2.0 200"), times(&[0, 500]));
    assert_eq!(p.client.expect_response(key).status, 200);
    p.client.expect_quiet();
    assert_eq!(p.server.layer.stats().absorbed, 1);
    p.server.expect_quiet();
}

#[test]
fn non_2xx_is_acked_by_the_client_and_absorbed_by_the_server() {
    let mut p = Pair::udp();
    let key = p.send(request(Method::Invite, "busy"));
    let (skey, req) = p.server.expect_request();
    p.respond(skey, answer(&req, 486));
    assert_eq!(p.client.expect_response(key).status, 100);
    assert_eq!(p.client.expect_response(key).status, 486);
    let Some(Message::Request(ack)) = p.client.sent_msgs("ACK ").pop() else {
        panic!("no ACK")
    };
    let Some(Message::Request(inv)) = p.client.sent_msgs("INVITE ").pop() else {
        panic!("no INVITE")
    };
    assert_eq!(
        ack.headers.top_via(),
        inv.headers.top_via(),
        "same branch (§17.1.1.3)"
    );
    assert_eq!(ack.headers.to().unwrap().tag(), Some("b-tag"));
    assert_eq!(
        ack.headers.cseq().unwrap().seq,
        inv.headers.cseq().unwrap().seq
    );
    assert_eq!(ack.uri, inv.uri);
    p.server.expect_quiet(); // no Ack event: the transaction absorbed it
    // Server: Timer I (T4) after the ACK. Client: Timer D (32 s).
    p.advance(ms(5000));
    p.server.expect(TsxEvent::Terminated { key: skey });
    p.client.expect_quiet();
    p.advance(ms(27_000));
    p.client.expect(TsxEvent::Terminated { key });
    assert_eq!(
        p.server.sent_at("SIP/2.0 486").len(),
        1,
        "no G retransmission after the ACK"
    );
}

#[test]
fn retransmitted_final_is_acked_again_in_completed() {
    let mut p = Pair::udp();
    p.send(request(Method::Invite, "reack"));
    let (skey, req) = p.server.expect_request();
    p.client.drop_next = 1; // the ACK is lost
    p.respond(skey, answer(&req, 603));
    p.advance(ms(500));
    // Timer G resent the 603; the client absorbed it and sent the ACK again.
    assert_eq!(p.server.sent_at("SIP/2.0 603"), times(&[0, 500]));
    assert_eq!(p.client.sent_at("ACK "), times(&[0, 500]));
    assert_eq!(p.client.take_events().len(), 2, "100 and one 603");
    p.advance(ms(3000));
    assert_eq!(
        p.server.sent_at("SIP/2.0 603").len(),
        2,
        "confirmed: G stopped"
    );
    assert_eq!(p.client.layer.stats().absorbed, 1);
}

#[test]
fn timer_d_is_32s_on_udp() {
    let mut p = Pair::udp();
    let key = p.send(request(Method::Invite, "d"));
    let (skey, req) = p.server.expect_request();
    p.respond(skey, answer(&req, 404));
    p.client.take_events();
    p.advance(ms(31_999));
    p.client.expect_quiet();
    p.advance(ms(1));
    p.client.expect(TsxEvent::Terminated { key });
}

#[test]
fn first_2xx_reported_once_and_retransmissions_reacked() {
    let mut p = Pair::udp();
    let invite = request(Method::Invite, "ok");
    let key = p.send(invite.clone());
    let (skey, req) = p.server.expect_request();
    p.respond(skey, answer(&req, 200));
    assert_eq!(p.client.expect_response(key).status, 100);
    let ok = p.client.expect_response(key);
    // The TU is slow to ACK: retransmitted 2xx are absorbed meanwhile.
    p.advance(ms(2000));
    assert_eq!(p.server.sent_at("SIP/2.0 200"), times(&[0, 500, 1500]));
    p.client.expect_quiet();
    let target = p.to_server();
    p.client
        .layer
        .ack_2xx(p.now, &key, ack_for(&invite, &ok), target);
    p.flush();
    let (TsxEvent::Ack { request, .. }, None) =
        (p.server.next_event().unwrap(), p.server.next_event())
    else {
        panic!("expected one Ack")
    };
    assert_eq!(request.headers.to().unwrap().tag(), Some("b-tag"));
    assert_ne!(
        request.headers.top_via().unwrap().branch(),
        req.headers.top_via().unwrap().branch(),
        "new branch"
    );
    p.advance(ms(30_000));
    assert_eq!(
        p.server.sent_at("SIP/2.0 200").len(),
        3,
        "no 2xx after the ACK"
    );
    assert_eq!(
        p.client.take_events(),
        [TsxEvent::Terminated { key }],
        "Timer M at 32 s"
    );
    assert_eq!(
        p.server.take_events(),
        [TsxEvent::Terminated { key: skey }],
        "Timer L at 32 s, no TimedOut"
    );
}

#[test]
fn lost_ack_for_2xx_is_resent_on_the_2xx_retransmission() {
    let mut p = Pair::udp();
    let invite = request(Method::Invite, "ack-lost");
    let key = p.send(invite.clone());
    let (skey, req) = p.server.expect_request();
    p.respond(skey, answer(&req, 200));
    p.client.expect_response(key);
    let ok = p.client.expect_response(key);
    p.client.drop_next = 1;
    let target = p.to_server();
    p.client
        .layer
        .ack_2xx(p.now, &key, ack_for(&invite, &ok), target);
    p.flush();
    p.server.expect_quiet();
    p.advance(ms(500));
    assert_eq!(p.client.sent_at("ACK "), times(&[0, 500]));
    assert!(matches!(p.server.next_event(), Some(TsxEvent::Ack { .. })));
    p.server.expect_quiet();
    p.client.expect_quiet();
}

#[test]
fn a_2xx_from_another_fork_is_reported_too() {
    let mut p = Pair::udp();
    let key = p.send(request(Method::Invite, "fork"));
    let (skey, req) = p.server.expect_request();
    p.respond(skey, answer(&req, 200));
    p.client.take_events();
    let mut other = answer(&req, 200);
    other
        .headers
        .set(HeaderName::To, "<sip:bob@192.0.2.2>;tag=fork-2");
    let from = Source {
        transport: TransportKind::Udp,
        remote: p.server.addr,
        conn: None,
    };
    p.client
        .layer
        .handle_received(p.now, from, &other.to_bytes());
    p.flush();
    let r = p.client.expect_response(key);
    assert_eq!(r.headers.to().unwrap().tag(), Some("fork-2"));
    p.client
        .layer
        .handle_received(p.now, from, &other.to_bytes());
    p.flush();
    p.client.expect_quiet();
}

#[test]
fn reliable_transport_never_retransmits_and_b_still_fires() {
    let mut p = Pair::new(TransportKind::Tcp);
    p.client.drop_next = usize::MAX;
    let inv = p.send(request(Method::Invite, "tcp-b"));
    let opt = p.send(request(Method::Options, "tcp-f"));
    p.run_out();
    assert_eq!(p.client.sent.len(), 2);
    assert_eq!(p.elapsed(), ms(32_000));
    let ev = p.client.take_events();
    assert!(
        ev.contains(&TsxEvent::TimedOut { key: inv })
            && ev.contains(&TsxEvent::TimedOut { key: opt })
    );
    assert_eq!(p.client.layer.stats().retransmissions, 0);
}

#[test]
fn reliable_transport_has_zero_wait_timers() {
    let mut p = Pair::new(TransportKind::Tcp);
    let opt = p.send(request(Method::Options, "tcp-k"));
    let (so, ro) = p.server.expect_request();
    p.respond(so, answer(&ro, 200));
    // K and J are zero: both ends are gone at once.
    assert_eq!(p.client.expect_response(opt).status, 200);
    p.client.expect(TsxEvent::Terminated { key: opt });
    p.server.expect(TsxEvent::Terminated { key: so });
    let inv = p.send(request(Method::Invite, "tcp-d"));
    let (si, ri) = p.server.expect_request();
    p.respond(si, answer(&ri, 486));
    // D and I are zero: the ACK ends the server side, the 486 the client's.
    p.client.expect_response(inv);
    p.client.expect_response(inv);
    p.client.expect(TsxEvent::Terminated { key: inv });
    p.server.expect(TsxEvent::Terminated { key: si });
    assert_eq!(
        (p.client.layer.stats().live(), p.server.layer.stats().live()),
        (0, 0)
    );
    assert_eq!(p.server.layer.poll_timeout(), None);
    let to = p.server.sent.last().map(|(_, t)| t.target).unwrap();
    assert_eq!(
        to.conn,
        Some(ConnId(1)),
        "responses go back on the request's connection"
    );
}

#[test]
fn poll_timeout_skips_disarmed_deadlines() {
    let mut p = Pair::udp();
    p.send(request(Method::Options, "poll"));
    let (skey, req) = p.server.expect_request();
    p.respond(skey, answer(&req, 200));
    // E and F are disarmed; only K (T4) remains.
    assert_eq!(p.client.layer.poll_timeout(), Some(p.t0 + ms(5000)));
}
