//! The agent machine on simulated time.

use std::time::{Duration, Instant};

use sip::message::{HeaderName, Method, Request, parse};
use sip::transaction::TsxKey;

use super::*;
use crate::engine::sdp::{make_answer, make_offer};
use crate::scenario::G711;

fn invite(call_id: &str) -> Request {
    let text = format!(
        "INVITE sip:1001@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{call_id}\r\n\
         From: <sip:1006@127.0.0.1>;tag=a\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:node@127.0.0.1:5060>\r\nContent-Length: 0\r\n\r\n"
    );
    match parse(text.as_bytes(), false).unwrap() {
        sip::message::Message::Request(r) => r,
        sip::message::Message::Response(_) => unreachable!(),
    }
}

fn key() -> TsxKey {
    // Keys come from the transaction layer; a throwaway layer makes real ones.
    let mut layer = sip::transaction::TransactionLayer::new(
        sip::transaction::LayerConfig::new(sip::message::Host::parse("127.0.0.1").unwrap()),
        1,
    );
    let target = sip::net::Target {
        transport: sip::net::TransportKind::Udp,
        remote: "127.0.0.1:5060".parse().unwrap(),
        conn: None,
    };
    layer.send_request(Instant::now(), invite("k"), target)
}

fn offer(call_id: &str, handle: Option<Duration>) -> Box<Offer> {
    let sdp = make_offer("127.0.0.1:41000".parse().unwrap(), G711::Pcmu, 5, 1);
    Box::new(Offer {
        key: key(),
        invite: invite(call_id),
        tag: "agenttag".into(),
        answer: make_answer(&sdp, "127.0.0.1:40000".parse().unwrap(), G711::Pcmu, 6, 2),
        answer_delay: Duration::from_millis(800),
        handle_time: handle,
        wrap_up: Duration::from_secs(3),
    })
}

fn statuses(out: &[AgentAction]) -> Vec<u16> {
    out.iter()
        .filter_map(|a| match a {
            AgentAction::Respond(_, r) => Some(r.status),
            _ => None,
        })
        .collect()
}

#[test]
fn rings_answers_talks_hangs_up_and_wraps_up() {
    let t0 = Instant::now();
    let s = |n| t0 + Duration::from_millis(n);
    let mut agent = Agent::new("<sip:1001@127.0.0.1:5070>".into(), 486);
    let mut out = Vec::new();
    agent.handle(
        t0,
        AgentInput::Invite(offer("c1", Some(Duration::from_secs(10)))),
        &mut out,
    );
    assert_eq!(statuses(&out), [180]);
    assert!(matches!(out[1], AgentAction::Arm(AgentTimer::Answer(1), at) if at == s(800)));
    out.clear();
    // A second call while this one rings: busy.
    agent.handle(s(100), AgentInput::Invite(offer("c2", None)), &mut out);
    assert_eq!(statuses(&out), [486]);
    out.clear();
    agent.handle(s(800), AgentInput::Timer(AgentTimer::Answer(1)), &mut out);
    let AgentAction::Respond(_, ok) = &out[0] else {
        panic!("no 200")
    };
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers.to().unwrap().tag(), Some("agenttag"));
    assert!(ok.headers.get(&HeaderName::ContentType).is_some() && !ok.body.is_empty());
    assert!(matches!(out[1], AgentAction::StartMedia(m) if m.remote_ssrc == Some(5)));
    assert!(matches!(out[2], AgentAction::Arm(AgentTimer::HangUp(1), at) if at == s(10_800)));
    out.clear();
    agent.handle(
        s(10_800),
        AgentInput::Timer(AgentTimer::HangUp(1)),
        &mut out,
    );
    assert!(matches!(&out[0], AgentAction::Send(bye) if bye.method == Method::Bye));
    assert!(matches!(out[1], AgentAction::StopMedia));
    out.clear();
    agent.handle(s(10_810), AgentInput::ByeDone, &mut out);
    assert!(matches!(
        out[0],
        AgentAction::CallEnded {
            answered: true,
            agent_hung_up: true
        }
    ));
    assert!(matches!(out[1], AgentAction::Arm(AgentTimer::Ready(1), at) if at == s(13_810)));
    assert!(!agent.is_idle());
    agent.handle(s(13_810), AgentInput::Timer(AgentTimer::Ready(1)), &mut out);
    assert!(agent.is_idle());
}

#[test]
fn cancel_while_ringing_and_stale_timers() {
    let t0 = Instant::now();
    let mut agent = Agent::new("<sip:1001@127.0.0.1:5070>".into(), 486);
    let mut out = Vec::new();
    agent.handle(t0, AgentInput::Invite(offer("c1", None)), &mut out);
    out.clear();
    agent.handle(t0, AgentInput::Cancelled, &mut out);
    assert_eq!(statuses(&out), [487]);
    assert!(agent.is_idle());
    out.clear();
    // The first call's answer timer fires during the second call's ringing.
    agent.handle(t0, AgentInput::Invite(offer("c2", None)), &mut out);
    out.clear();
    agent.handle(t0, AgentInput::Timer(AgentTimer::Answer(1)), &mut out);
    assert!(out.is_empty(), "a stale timer did something: {out:?}");
    // Caller hangs up the second call once answered.
    agent.handle(t0, AgentInput::Timer(AgentTimer::Answer(2)), &mut out);
    out.clear();
    agent.handle(t0, AgentInput::RemoteBye, &mut out);
    assert!(matches!(out[0], AgentAction::StopMedia));
    assert!(matches!(
        out[1],
        AgentAction::CallEnded {
            answered: true,
            agent_hung_up: false
        }
    ));
}
