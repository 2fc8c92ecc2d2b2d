//! Server transactions: 100 Trying, absorbed retransmissions, Timers G, H,
//! I, J, L, the 2xx retransmission, the TU's deadline.

use super::*;
use crate::message::{HeaderName, Method};

fn times(ms_list: &[u64]) -> Vec<Duration> {
    ms_list.iter().map(|&m| ms(m)).collect()
}

#[test]
fn invite_gets_100_at_once_and_retransmissions_are_absorbed() {
    let mut p = Pair::udp();
    p.server.drop_next = 1; // the first 100 Trying is lost
    let key = p.send(request(Method::Invite, "absorb"));
    let (skey, _) = p.server.expect_request();
    assert_eq!(p.server.sent_at("SIP/2.0 100"), times(&[0]));
    p.client.expect_quiet();
    p.advance(ms(500));
    // The retransmitted INVITE got the 100 again and no second Request.
    assert_eq!(p.server.sent_at("SIP/2.0 100"), times(&[0, 500]));
    p.server.expect_quiet();
    assert_eq!(p.client.expect_response(key).status, 100);
    p.advance(ms(10_000));
    assert_eq!(
        p.client.sent_at("INVITE ").len(),
        2,
        "Proceeding: A stopped"
    );
    assert_eq!(p.server.layer.stats().absorbed, 1);
    assert_eq!(p.server.layer.stats().server_invite, 1);
    let _ = skey;
}

#[test]
fn invite_retransmission_gets_the_last_provisional() {
    let mut p = Pair::udp();
    p.send(request(Method::Invite, "ringing"));
    let (skey, req) = p.server.expect_request();
    p.respond(skey, answer(&req, 180));
    let from = p.client_source();
    let bytes = p.client.sent.first().map(|(_, t)| t.bytes.clone()).unwrap();
    p.server.layer.handle_received(p.now, from, &bytes);
    p.flush();
    assert_eq!(p.server.sent_at("SIP/2.0 180").len(), 2);
    p.server.expect_quiet();
}

#[test]
fn timer_g_doubles_capped_at_t2_and_h_times_out_at_32s() {
    let mut p = Pair::udp();
    p.send(request(Method::Invite, "g"));
    let (skey, req) = p.server.expect_request();
    p.client.drop_next = usize::MAX; // every ACK is lost
    p.respond(skey, answer(&req, 480));
    p.run_out();
    let want = times(&[
        0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500,
    ]);
    assert_eq!(p.server.sent_at("SIP/2.0 480"), want);
    assert_eq!(
        p.server.take_events(),
        [
            TsxEvent::TimedOut { key: skey },
            TsxEvent::Terminated { key: skey }
        ]
    );
    assert_eq!(p.server.layer.stats().timeouts, 1);
}

#[test]
fn timer_i_absorbs_ack_retransmissions_for_t4() {
    let mut p = Pair::udp();
    p.send(request(Method::Invite, "i"));
    let (skey, req) = p.server.expect_request();
    p.respond(skey, answer(&req, 486));
    let ack = p.client.sent.last().map(|(_, t)| t.bytes.clone()).unwrap();
    p.advance(ms(1000));
    let from = p.client_source();
    p.server.layer.handle_received(p.now, from, &ack);
    p.flush();
    p.server.expect_quiet();
    assert_eq!(p.server.layer.stats().absorbed, 1);
    p.advance(ms(3999));
    p.server.expect_quiet();
    p.advance(ms(1));
    p.server.expect(TsxEvent::Terminated { key: skey });
}

#[test]
fn timer_j_keeps_the_final_for_retransmissions_for_32s() {
    let mut p = Pair::udp();
    p.send(request(Method::Bye, "j"));
    let (skey, req) = p.server.expect_request();
    p.respond(skey, answer(&req, 200));
    let bye = p.client.sent.first().map(|(_, t)| t.bytes.clone()).unwrap();
    p.advance(ms(20_000));
    let from = p.client_source();
    p.server.layer.handle_received(p.now, from, &bye);
    p.flush();
    assert_eq!(p.server.sent_at("SIP/2.0 200"), times(&[0, 20_000]));
    p.server.expect_quiet();
    p.advance(ms(11_999));
    p.server.expect_quiet();
    p.advance(ms(1));
    p.server.expect(TsxEvent::Terminated { key: skey });
}

#[test]
fn non_invite_retransmission_in_trying_is_dropped() {
    let mut p = Pair::udp();
    p.send(request(Method::Message, "trying"));
    p.server.expect_request();
    p.advance(ms(1600));
    assert_eq!(p.client.sent_at("MESSAGE ").len(), 3);
    assert!(
        p.server.sent.is_empty(),
        "nothing to resend before the TU answers"
    );
    p.server.expect_quiet();
    assert_eq!(p.server.layer.stats().absorbed, 2);
}

#[test]
fn unacked_2xx_is_retransmitted_capped_at_t2_then_times_out() {
    let mut p = Pair::udp();
    let key = p.send(request(Method::Invite, "no-ack"));
    let (skey, req) = p.server.expect_request();
    p.respond(skey, answer(&req, 200));
    p.client.take_events();
    p.run_out();
    let want = times(&[
        0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500,
    ]);
    assert_eq!(p.server.sent_at("SIP/2.0 200"), want);
    assert_eq!(
        p.server.take_events(),
        [
            TsxEvent::TimedOut { key: skey },
            TsxEvent::Terminated { key: skey }
        ]
    );
    assert_eq!(
        p.client.take_events(),
        [TsxEvent::Terminated { key }],
        "the 2xx retransmissions were absorbed"
    );
}

#[test]
fn invite_retransmission_in_accepted_is_absorbed_silently() {
    let mut p = Pair::udp();
    p.send(request(Method::Invite, "acc"));
    let (skey, req) = p.server.expect_request();
    p.respond(skey, answer(&req, 200));
    let invite = p.client.sent.first().map(|(_, t)| t.bytes.clone()).unwrap();
    let from = p.client_source();
    p.server.layer.handle_received(p.now, from, &invite);
    p.flush();
    p.server.expect_quiet();
    assert_eq!(
        p.server.sent_at("SIP/2.0 200").len(),
        1,
        "RFC 6026: no resend on the INVITE; the timer does that"
    );
}

#[test]
fn silent_tu_gets_408_from_the_layer() {
    let mut p = Pair::udp();
    let key = p.send(request(Method::Options, "silent"));
    let (skey, _) = p.server.expect_request();
    p.advance(ms(31_999));
    p.server.expect_quiet();
    p.advance(ms(1));
    assert_eq!(
        p.server.next_event(),
        Some(TsxEvent::TimedOut { key: skey })
    );
    assert_eq!(p.server.sent_at("SIP/2.0 408"), times(&[32_000]));
    // The client's Timer F fired at the same instant, before the 408 came.
    let ev = p.client.take_events();
    assert_eq!(
        ev[..2],
        [TsxEvent::TimedOut { key }, TsxEvent::Terminated { key }]
    );
    assert!(
        matches!(&ev[2..], [TsxEvent::StrayResponse { response, .. }] if response.status == 408)
    );
    p.server.layer.respond(
        p.now,
        &skey,
        answer(&super::request(Method::Options, "silent"), 200),
    );
    assert!(
        p.server.layer.poll_transmit().is_none(),
        "a late TU answer is ignored"
    );
}

#[test]
fn invite_tu_deadline_is_timer_c_from_the_last_provisional() {
    let mut p = Pair::udp();
    let key = p.send(request(Method::Invite, "queue"));
    let (skey, req) = p.server.expect_request();
    p.advance(ms(120_000));
    p.respond(skey, answer(&req, 182));
    p.advance(ms(180_999));
    assert!(p.server.sent_at("SIP/2.0 408").is_empty());
    p.advance(ms(1));
    assert_eq!(p.server.sent_at("SIP/2.0 408"), times(&[301_000]));
    assert_eq!(
        p.server.next_event(),
        Some(TsxEvent::TimedOut { key: skey })
    );
    let events = p.client.take_events();
    assert!(
        matches!(events.last(), Some(TsxEvent::Response { response, .. }) if response.status == 408),
        "{events:?}"
    );
    let _ = key;
}

#[test]
fn a_full_layer_answers_503_statelessly() {
    let mut p = Pair::udp();
    p.server.layer = TransactionLayer::new(
        LayerConfig {
            max_transactions: 2,
            ..config(p.server.addr)
        },
        2,
    );
    for call in ["f1", "f2", "f3"] {
        p.send(request(Method::Options, call));
    }
    assert_eq!(p.server.take_events().len(), 2);
    let busy = p.server.sent_msgs("SIP/2.0 503");
    assert_eq!(busy.len(), 1);
    assert_eq!(busy[0].headers().call_id(), Some("f3"));
    assert!(
        busy[0].headers().to().unwrap().tag().is_some(),
        "stateless answers carry a To tag"
    );
    assert_eq!(p.server.layer.stats().rejected_overload, 1);
    assert_eq!(p.server.layer.stats().server_non_invite, 2);
}

#[test]
fn sustained_churn_keeps_the_deadline_heap_bounded() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(config(SERVER.parse().unwrap()), 7);
    let from = Source {
        transport: TransportKind::Udp,
        remote: CLIENT.parse().unwrap(),
        conn: None,
    };
    let (mut now, mut peak_armed, mut peak_live, mut n) = (t0, 0usize, 0usize, 0u32);
    // 50 requests a second for 5 minutes; each answered 1 s later, which
    // leaves its Answer deadline stale in the heap.
    let mut pending: VecDeque<(Instant, TsxKey, Request)> = VecDeque::new();
    while now < t0 + ms(300_000) {
        now += ms(20);
        let mut r = request(Method::Options, &format!("churn{n}"));
        r.headers.push_front(
            HeaderName::Via,
            format!("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKchurn{n}"),
        );
        n += 1;
        l.handle_received(now, from, &r.to_bytes());
        while let Some(e) = l.poll_event() {
            if let TsxEvent::Request { key, request, .. } = e {
                pending.push_back((now + ms(1000), key, request));
            }
        }
        while pending.front().is_some_and(|(at, ..)| *at <= now) {
            let (_, key, req) = pending.pop_front().unwrap();
            l.respond(now, &key, answer(&req, 200));
        }
        l.handle_timeout(now);
        while l.poll_transmit().is_some() {}
        if n % 50 == 0 {
            let armed: usize = l.tsxs.values().map(|t| t.timers.armed()).sum();
            peak_armed = peak_armed.max(armed);
            peak_live = peak_live.max(l.stats().live());
            assert!(
                l.heap.len() <= 2 * peak_armed + 64,
                "heap {} for {} armed",
                l.heap.len(),
                armed
            );
        }
    }
    assert!(
        peak_live > 1500,
        "J keeps ~33 s of transactions alive: {peak_live}"
    );
    while let Some(t) = l.poll_timeout() {
        l.handle_timeout(t);
    }
    assert_eq!((l.stats().live(), l.heap.len()), (0, 0));
}

#[test]
fn respond_and_end_leaves_no_state_and_a_retransmission_is_new() {
    let mut p = Pair::udp();
    p.send(request(Method::Register, "challenge"));
    let (skey, req) = p.server.expect_request();
    let now = p.now;
    p.server
        .layer
        .respond_and_end(now, &skey, answer(&req, 401));
    p.flush();
    assert_eq!(p.server.sent_at("SIP/2.0 401").len(), 1);
    assert_eq!(p.server.layer.stats().live(), 0, "nothing stays to absorb");
    p.server.expect(TsxEvent::Terminated { key: skey });
    // The client's retransmission (its 401 was, say, lost) is a new request.
    let from = p.client_source();
    let bytes = p.client.sent.first().map(|(_, t)| t.bytes.clone()).unwrap();
    p.server.layer.handle_received(p.now, from, &bytes);
    p.flush();
    let (again, _) = p.server.expect_request();
    assert_ne!(again, skey);
}
