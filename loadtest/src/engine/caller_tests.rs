//! The caller machine on simulated time: responses are built from the
//! requests it sends, time is `t0 + offset`.

use std::time::{Duration, Instant};

use sip::auth::{DigestAlgorithm, DigestConfig, DigestServer};
use sip::message::{HeaderName, Method, Request, Response, Uri};

use super::*;
use crate::engine::sdp::make_offer;
use crate::scenario::{Account, Algorithm, G711};

fn spec() -> CallerSpec {
    let rtp = "127.0.0.1:40000".parse().unwrap();
    CallerSpec {
        workload: 0,
        call_id: "c1@test".into(),
        from_tag: "ft".into(),
        account: Account {
            user: "1006".into(),
            password: Some("pw".into()),
        },
        algorithm: Algorithm::Md5,
        cnonce: "cn".into(),
        uri: Uri::parse("sip:1001@127.0.0.1:5060").unwrap(),
        domain: "127.0.0.1".into(),
        contact: "<sip:1006@127.0.0.1:5070>".into(),
        offer: Some((make_offer(rtp, G711::Pcmu, 77, 1), 77)),
        hold: Duration::from_secs(2),
        hangs_up: true,
        max_call: Duration::from_secs(60),
        digits: vec![(
            Duration::from_secs(1),
            media::dtmf::Digit::from_char('5').unwrap(),
            Duration::from_millis(100),
        )],
    }
}

fn sent(out: &mut Vec<Action>) -> Request {
    let pos = out
        .iter()
        .position(|a| matches!(a, Action::Send(_)))
        .expect("a request was sent");
    match out.remove(pos) {
        Action::Send(r) => r,
        _ => unreachable!(),
    }
}

fn reply(req: &Request, status: u16) -> Response {
    let mut r = Response::to_request(req, status);
    if status > 100 {
        r.headers.set(
            HeaderName::To,
            format!("{};tag=callee", req.headers.get(&HeaderName::To).unwrap()),
        );
        r.headers
            .push(HeaderName::Contact, "<sip:1001@127.0.0.1:5060>");
    }
    r
}

fn answer_with_sdp(req: &Request) -> Response {
    let mut r = reply(req, 200);
    let sdp = make_offer("127.0.0.1:41000".parse().unwrap(), G711::Pcmu, 99, 2);
    r.headers.set(HeaderName::ContentType, "application/sdp");
    r.body = sdp;
    r
}

#[test]
fn answered_call_measures_setup_and_hangs_up_after_hold() {
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    let mut out = Vec::new();
    let mut call = Caller::start(t0, spec(), &mut out);
    let invite = sent(&mut out);
    assert_eq!(invite.method, Method::Invite);
    assert!(!invite.body.is_empty());
    call.handle(ms(3), CallerInput::Response(&reply(&invite, 100)), &mut out);
    call.handle(
        ms(40),
        CallerInput::Response(&reply(&invite, 180)),
        &mut out,
    );
    call.handle(
        ms(45),
        CallerInput::Response(&reply(&invite, 183)),
        &mut out,
    );
    assert!(out.is_empty());
    call.handle(
        ms(900),
        CallerInput::Response(&answer_with_sdp(&invite)),
        &mut out,
    );
    assert!(matches!(out.remove(0), Action::Ack(ack) if ack.method == Method::Ack));
    match out.remove(0) {
        Action::StartMedia(m) => {
            assert_eq!(m.remote, "127.0.0.1:41000".parse().unwrap());
            assert_eq!(
                (m.remote_ssrc, m.local_ssrc, m.event_pt),
                (Some(99), 77, Some(101))
            );
        }
        other => panic!("expected media, got {other:?}"),
    }
    let arms = std::mem::take(&mut out);
    assert!(matches!(arms[0], Action::Arm(CallerTimer::HangUp, at) if at == ms(2900)));
    assert!(matches!(arms[1], Action::Arm(CallerTimer::MaxCall, at) if at == ms(60_900)));
    assert!(matches!(arms[2], Action::Arm(CallerTimer::Digit(0), at) if at == ms(1900)));
    call.handle(
        ms(1900),
        CallerInput::Timer(CallerTimer::Digit(0)),
        &mut out,
    );
    assert!(matches!(out.remove(0), Action::SendDigit(d, _) if d.as_char() == '5'));
    call.handle(ms(2900), CallerInput::Timer(CallerTimer::HangUp), &mut out);
    let bye = sent(&mut out);
    assert_eq!(bye.method, Method::Bye);
    assert!(matches!(out.remove(0), Action::StopMedia));
    call.handle(ms(2902), CallerInput::Response(&reply(&bye, 200)), &mut out);
    let Some(Action::Finish(rec)) = out.pop() else {
        panic!("not finished")
    };
    assert_eq!(rec.ringing_at, Some(ms(40)));
    assert_eq!(rec.final_at, Some(ms(900)));
    assert!(rec.answered && rec.failure.is_none() && !rec.bye_failed);
    assert_eq!(rec.ended_by, Some(EndedBy::Caller));
    assert_eq!(rec.ended_at, ms(2902));
}

#[test]
fn proxy_challenge_is_answered_once_with_a_new_cseq() {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut call = Caller::start(t0, spec(), &mut out);
    let invite = sent(&mut out);
    let mut challenge = reply(&invite, 407);
    let mut cfg = DigestConfig::new("127.0.0.1", [9; 32]);
    cfg.algorithms = vec![DigestAlgorithm::Md5];
    let server = DigestServer::new(cfg).unwrap();
    for v in server.challenge(1, [3; 16], false) {
        challenge.headers.push(HeaderName::ProxyAuthenticate, v);
    }
    call.handle(t0, CallerInput::Response(&challenge), &mut out);
    let again = sent(&mut out);
    assert_eq!(again.headers.cseq().unwrap().seq, 2);
    assert_eq!(again.headers.call_id(), invite.headers.call_id());
    assert!(
        again
            .headers
            .get(&HeaderName::ProxyAuthorization)
            .unwrap()
            .contains("username=\"1006\"")
    );
    // A second challenge is a failure, not a loop.
    call.handle(t0, CallerInput::Response(&challenge), &mut out);
    let Some(Action::Finish(rec)) = out.pop() else {
        panic!("not finished")
    };
    assert_eq!(rec.failure, Some(Failure::Status(407)));
    assert!(rec.challenged);
}

#[test]
fn failures_are_classified() {
    let t0 = Instant::now();
    let at = t0 + Duration::from_millis(5);
    type Script<'a> = &'a [&'a dyn Fn(&Request) -> Option<Response>];
    let finish = |inputs: Script<'_>, unreachable: bool| {
        let mut out = Vec::new();
        let mut call = Caller::start(t0, spec(), &mut out);
        let invite = sent(&mut out);
        for f in inputs {
            if let Some(r) = f(&invite) {
                call.handle(at, CallerInput::Response(&r), &mut out);
            }
        }
        if unreachable {
            call.handle(at, CallerInput::Unreachable, &mut out);
        }
        call.handle(at, CallerInput::TimedOut, &mut out);
        match out.pop() {
            Some(Action::Finish(rec)) => rec,
            other => panic!("not finished: {other:?}"),
        }
    };
    let busy = finish(&[&|i| Some(reply(i, 486))], false);
    assert_eq!(
        (busy.failure, busy.final_at),
        (Some(Failure::Status(486)), Some(at))
    );
    assert_eq!(finish(&[], false).failure, Some(Failure::Timeout));
    assert_eq!(finish(&[], true).failure, Some(Failure::Transport));
    let mut no_password = spec();
    no_password.account.password = None;
    let mut out = Vec::new();
    let mut call = Caller::start(t0, no_password, &mut out);
    let invite = sent(&mut out);
    call.handle(at, CallerInput::Response(&reply(&invite, 401)), &mut out);
    let Some(Action::Finish(rec)) = out.pop() else {
        panic!("not finished")
    };
    assert_eq!(rec.failure, Some(Failure::Auth(401)));
}

#[test]
fn remote_bye_ends_the_call_and_abandon_marks_it() {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut call = Caller::start(t0, spec(), &mut out);
    let invite = sent(&mut out);
    call.handle(
        t0,
        CallerInput::Response(&answer_with_sdp(&invite)),
        &mut out,
    );
    out.clear();
    call.handle(t0, CallerInput::RemoteBye, &mut out);
    assert!(matches!(out[0], Action::StopMedia));
    assert!(matches!(&out[1], Action::Finish(r) if r.ended_by == Some(EndedBy::Callee)));

    let mut out = Vec::new();
    let mut call = Caller::start(t0, spec(), &mut out);
    let invite = sent(&mut out);
    call.handle(
        t0,
        CallerInput::Response(&answer_with_sdp(&invite)),
        &mut out,
    );
    out.clear();
    call.handle(t0, CallerInput::Abandon, &mut out);
    assert!(matches!(&out[1], Action::Finish(r) if r.ended_by == Some(EndedBy::Abandoned)));
}
