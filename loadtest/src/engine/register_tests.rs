//! The registration machine on simulated time.

use std::time::{Duration, Instant};

use sip::auth::{DigestAlgorithm, DigestConfig, DigestServer};
use sip::message::{HeaderName, Method, Request, Response, Uri};

use super::*;
use crate::scenario::{Account, Algorithm};

fn spec(password: Option<&str>) -> RegisterSpec {
    RegisterSpec {
        account: Account {
            user: "1001".into(),
            password: password.map(str::to_owned),
        },
        algorithm: Algorithm::Sha256,
        registrar: Uri::parse("sip:127.0.0.1").unwrap(),
        domain: "127.0.0.1".into(),
        contact: "<sip:1001@127.0.0.1:5070>".into(),
        call_id: "r1".into(),
        from_tag: "t".into(),
        cnonce: "c".into(),
        expires: 300,
        refresh: true,
    }
}

fn sent(out: &mut Vec<RegAction>) -> Request {
    match out.remove(0) {
        RegAction::Send(r) => r,
        other => panic!("expected a REGISTER, got {other:?}"),
    }
}

fn challenge(req: &Request) -> Response {
    let mut cfg = DigestConfig::new("127.0.0.1", [1; 32]);
    cfg.algorithms = vec![DigestAlgorithm::Md5, DigestAlgorithm::Sha256];
    let server = DigestServer::new(cfg).unwrap();
    let mut r = Response::to_request(req, 401);
    for v in server.challenge(1, [2; 16], false) {
        r.headers.push(HeaderName::WwwAuthenticate, v);
    }
    r
}

#[test]
fn challenge_answered_then_refresh_armed_from_granted_expiry() {
    let t0 = Instant::now();
    let mut reg = Registration::new(spec(Some("pw")));
    let mut out = Vec::new();
    reg.refresh(t0, &mut out);
    let first = sent(&mut out);
    assert_eq!(first.method, Method::Register);
    assert_eq!(first.headers.expires(), Some(300));
    reg.handle_response(t0 + Duration::from_millis(2), &challenge(&first), &mut out);
    let second = sent(&mut out);
    assert_eq!(second.headers.cseq().unwrap().seq, 2);
    let auth = second.headers.get(&HeaderName::Authorization).unwrap();
    assert!(auth.contains("algorithm=SHA-256"), "{auth}");
    let mut ok = Response::to_request(&second, 200);
    ok.headers
        .push(HeaderName::Contact, "<sip:1001@127.0.0.1:5070>;expires=120");
    reg.handle_response(t0 + Duration::from_millis(5), &ok, &mut out);
    assert!(
        matches!(&out[0], RegAction::Done(o) if o.failure.is_none() && o.latency == Duration::from_millis(5))
    );
    assert!(
        matches!(out[1], RegAction::ArmRefresh(at) if at == t0 + Duration::from_millis(5) + Duration::from_secs(96))
    );
    assert!(reg.is_registered() && !reg.is_busy());
}

#[test]
fn failures_and_removal() {
    let t0 = Instant::now();
    let mut reg = Registration::new(spec(None));
    let mut out = Vec::new();
    reg.refresh(t0, &mut out);
    let first = sent(&mut out);
    reg.handle_response(t0, &challenge(&first), &mut out);
    assert!(
        matches!(&out[0], RegAction::Done(o) if o.failure.as_deref() == Some("401 (no usable credentials)"))
    );
    out.clear();
    let mut reg = Registration::new(spec(Some("pw")));
    reg.refresh(t0, &mut out);
    let first = sent(&mut out);
    reg.handle_response(t0, &Response::to_request(&first, 403), &mut out);
    assert!(matches!(&out[0], RegAction::Done(o) if o.failure.as_deref() == Some("403")));
    out.clear();
    reg.remove(t0, &mut out);
    let removal = sent(&mut out);
    assert_eq!(removal.headers.expires(), Some(0));
    reg.handle_timeout(t0 + Duration::from_secs(32), &mut out);
    assert!(
        matches!(&out[0], RegAction::Done(o) if o.removal && o.failure.as_deref() == Some("timeout"))
    );
}
