//! Interop with SIPp 3.6: registration with digest auth, calls through the
//! node's B2BUA between a SIPp caller (UAC) and a SIPp phone registered to
//! the node (one SIPp sends the REGISTER, a second one runs the UAS scenario
//! at the registered Contact), CANCEL, BYE from either side, rejections, a
//! re-INVITE, a short burst, and the CDR each call leaves; late offers (an
//! INVITE without SDP) to an extension and to an IVR flow, with the test
//! carrying RTP itself; and a conference room of two whose third caller goes
//! to its flow's `full` branch.
//!
//! Scenarios live in `tests/interop/sipp/`, named for the behaviour they
//! test. SIPp 3.6 answers only MD5 challenges and reads the first
//! `algorithm=` of the challenge headers, so these nodes offer
//! `["MD5", "SHA-256"]`; the SHA-256 path is checked by the demo test in
//! this file with a hand-made digest.
//!
//! Each SIPp run is a child process with `-m N` and timeouts; its exit code
//! (0: every call succeeded) decides, and its error, message and log traces
//! are kept under the node's directory and printed on failure. Without
//! `sipp` on PATH the tests skip loudly, or fail when
//! `SWITCHYARD_REQUIRE_PEERS=1`.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::sipp::{
    SHORT, Sipp, SippDone, SippRun, late_offer_caller, one_call, pcmu_packet, phone, register,
};
use common::{Cdr, Node, NodeSpec, SipProbe, wait_until};

/// Challenge order SIPp can answer: it reads the first algorithm offered.
const SIPP_ALGORITHMS: &[&str] = &["MD5", "SHA-256"];
/// Sources whose INVITEs the node does not challenge.
const LOOPBACK: &[&str] = &["127.0.0.1"];
/// Upper bound for CDRs to reach the store after the calls ended.
const CDR_WAIT: Duration = Duration::from_secs(15);

fn sipp_available() -> bool {
    common::peer_available("sipp")
}

fn trusted_node() -> Node {
    Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        trusted: LOOPBACK,
        ..NodeSpec::default()
    })
}

/// Checks that every SDP the peer logged under `tag` points at the node's
/// relay (127.0.0.1, a port of its RTP range), not at the other peer.
fn assert_anchored(node: &Node, run: &SippDone, tag: &str, calls: usize) {
    let sdps = run.logged(tag);
    assert_eq!(
        sdps.len(),
        calls,
        "sipp {} logged {} `{tag}` SDPs, expected {calls}",
        run.name,
        sdps.len()
    );
    for words in sdps {
        let port: u16 = words
            .get(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bad `{tag}` log line {words:?}"));
        assert_eq!(
            words[0], "127.0.0.1",
            "{tag} SDP at sipp {} does not point at the node: {words:?}",
            run.name
        );
        assert!(
            node.ports.rtp().contains(&port),
            "{tag} SDP port {port} at sipp {} is outside the node's RTP range {:?}",
            run.name,
            node.ports.rtp()
        );
    }
}

/// Checks the CDRs against the calls made, as (caller, callee, disposition,
/// sip_status) in any order. An answered call's row may leave sip_status
/// empty or hold 200; expect `None` for it.
fn assert_cdrs(node: &Node, expected: &[(&str, &str, &str, Option<i64>)]) -> Vec<Cdr> {
    let rows = node.wait_cdrs(expected.len(), CDR_WAIT);
    for row in rows.iter().filter(|c| c.disposition == "answered") {
        assert!(
            row.answered && matches!(row.sip_status, None | Some(200)),
            "inconsistent answered CDR: {row:#?}"
        );
    }
    let status = |c: &Cdr| {
        if c.disposition == "answered" {
            None
        } else {
            c.sip_status
        }
    };
    let mut got: Vec<_> = rows
        .iter()
        .map(|c| {
            (
                c.caller.as_str(),
                c.callee.as_str(),
                c.disposition.as_str(),
                status(c),
            )
        })
        .collect();
    let mut want = expected.to_vec();
    got.sort();
    want.sort();
    assert_eq!(got, want, "CDRs differ from the calls made: {rows:#?}");
    rows
}

// ---------------------------------------------------------------- tests

#[test]
fn register_with_digest_auth() {
    if !sipp_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        ..NodeSpec::default()
    });
    let contact_port = node.ports.peer();
    let done = register(&node, "1001", contact_port);
    let challenge = done.logged("challenge");
    assert_eq!(challenge.len(), 1, "no 401 challenge logged");
    assert_eq!(
        challenge[0].last().map(String::as_str),
        Some("MD5"),
        "first algorithm offered: {challenge:?}"
    );
    let bound = done.logged("registered");
    assert_eq!(
        bound,
        vec![vec![format!("127.0.0.1:{contact_port}")]],
        "200 OK does not list the registered Contact"
    );
    assert!(
        done.messages().contains("qop=\"auth\""),
        "the challenge does not offer qop=\"auth\""
    );
    Sipp::new(&node, "wrong-password", "register-wrong-password")
        .target(&node)
        .service("1002")
        .args(&["-au", "1002", "-ap", "not-the-password"])
        .calls(1)
        .run(SHORT)
        .assert_ok();
}

#[test]
fn call_with_proxy_auth_is_relayed_and_media_anchored() {
    if !sipp_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        ..NodeSpec::default()
    });
    let uas = phone(&node, "1002", "uas-answer", 1, 0);
    let uac = Sipp::new(&node, "uac-auth", "uac-call-with-proxy-auth")
        .target(&node)
        .service("1002")
        .caller("1001")
        .auth(&node, "1001")
        .args(&["-auth_uri", &format!("1002@{}", node.sip_target())])
        .hold_ms(500)
        .calls(1)
        .run(SHORT)
        .assert_ok();
    let uas = uas.finish(SHORT).assert_ok();
    assert_anchored(&node, &uac, "answer", 1);
    assert_anchored(&node, &uas, "offer", 1);
    let rows = assert_cdrs(&node, &[("1001", "1002", "answered", None)]);
    assert!(
        rows[0].answered && rows[0].billsec_ms >= 400,
        "answered call with billsec {} ms",
        rows[0].billsec_ms
    );
}

#[test]
fn calls_from_a_trusted_source_are_not_challenged() {
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    let uas = phone(&node, "1002", "uas-answer", 5, 0);
    let uac = Sipp::new(&node, "uac-trusted", "uac-call-trusted")
        .target(&node)
        .service("1002")
        .caller("1001")
        .args(&["-l", "1", "-r", "10"])
        .hold_ms(200)
        .calls(5)
        .run(SHORT)
        .assert_ok();
    uas.finish(SHORT).assert_ok();
    assert_anchored(&node, &uac, "answer", 5);
    assert!(
        !uac.messages().contains("SIP/2.0 407"),
        "an INVITE from a trusted source was challenged"
    );
    assert_cdrs(&node, &[("1001", "1002", "answered", None); 5]);
}

/// TCP end to end: the callee registers over TCP from one SIPp process (whose
/// connection then closes) and takes the call in another, so the node must
/// open a new connection to the registered Contact; the caller's INVITE,
/// ACK and BYE come over a TCP connection of their own.
#[test]
fn call_over_tcp_reaches_a_callee_registered_over_tcp() {
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    let uas = Sipp::new(&node, "uas-tcp-1002", "uas-answer")
        .args(&["-t", "t1"])
        .calls(1)
        .hold_ms(0)
        .start();
    let port = uas.port;
    wait_until("sipp to listen on TCP", Duration::from_secs(10), || {
        std::net::TcpListener::bind(("127.0.0.1", port))
            .is_err()
            .then_some(())
    });
    Sipp::new(&node, "register-tcp-1002", "register-digest")
        .target(&node)
        .service("1002")
        .auth(&node, "1002")
        .args(&["-key", "contact_port", &port.to_string(), "-t", "t1"])
        .calls(1)
        .run(SHORT)
        .assert_ok();
    let uac = Sipp::new(&node, "uac-tcp", "uac-call-trusted")
        .target(&node)
        .service("1002")
        .caller("1001")
        .args(&["-t", "t1"])
        .hold_ms(200)
        .calls(1)
        .run(SHORT)
        .assert_ok();
    uas.finish(SHORT).assert_ok();
    assert!(
        uac.messages().contains("SIP/2.0/TCP"),
        "the caller did not use TCP"
    );
    assert_cdrs(&node, &[("1001", "1002", "answered", None)]);
}

#[test]
fn cancel_before_answer_gives_487() {
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    one_call(
        &node,
        "uas-ring-until-cancelled",
        "uac-cancel-after-ringing",
    );
    assert_cdrs(&node, &[("1001", "1002", "cancelled", Some(487))]);
}

#[test]
fn callee_hangs_up() {
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    let uas = phone(&node, "1002", "uas-answer-then-hang-up", 1, 1000);
    Sipp::new(&node, "uac-callee-bye", "uac-call-callee-hangs-up")
        .target(&node)
        .service("1002")
        .caller("1001")
        .calls(1)
        .run(SHORT)
        .assert_ok();
    uas.finish(SHORT).assert_ok();
    let rows = assert_cdrs(&node, &[("1001", "1002", "answered", None)]);
    assert!(
        rows[0].billsec_ms >= 900,
        "callee hung up after 1 s, billsec {} ms",
        rows[0].billsec_ms
    );
}

#[test]
fn unregistered_extension_gets_480_and_unknown_number_404() {
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    for (callee, scenario) in [
        ("1003", "uac-call-unavailable-480"),
        ("9999", "uac-call-unknown-404"),
    ] {
        Sipp::new(&node, scenario, scenario)
            .target(&node)
            .service(callee)
            .caller("1001")
            .calls(1)
            .run(SHORT)
            .assert_ok();
    }
    assert_cdrs(
        &node,
        &[
            ("1001", "1003", "unavailable", Some(480)),
            ("1001", "9999", "not_found", Some(404)),
        ],
    );
}

/// Ring timeout: nobody answers within `[calls] ring_timeout_s`, so the caller
/// gets 480 and the ringing phone a CANCEL (to which it answers 487).
#[test]
fn unanswered_call_times_out_with_480_and_cancels_the_callee() {
    if !sipp_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        trusted: LOOPBACK,
        ring_timeout_s: 2,
        ..NodeSpec::default()
    });
    one_call(
        &node,
        "uas-ring-until-cancelled",
        "uac-call-unavailable-480",
    );
    assert_cdrs(&node, &[("1001", "1002", "no_answer", Some(480))]);
}

/// RFC 4733 digits relayed through the node are seen by it: SIPp plays its
/// captures of 1, 5 and # (each with three redundant end packets) into an
/// answered call, and the node reports each digit once, from the caller.
#[test]
fn rfc4733_digits_from_the_caller_are_seen_by_the_node() {
    if !sipp_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        trusted: LOOPBACK,
        log: "info,cti::call=debug",
        ..NodeSpec::default()
    });
    one_call(&node, "uas-answer", "uac-call-sends-dtmf");
    let rows = assert_cdrs(&node, &[("1001", "1002", "answered", None)]);
    assert!(
        rows[0].mos.0.is_none(),
        "telephone-events alone are no audio to rate: {:?}",
        rows[0].mos
    );
    assert_eq!(
        node.digits_seen("caller"),
        "15#",
        "digits the node reported:\n{}",
        node.log_tail(60)
    );
}

/// SDES keys in an SDP offer over UDP would cross the network in the clear:
/// the call is refused with 488 (no relay, no fallback to plain RTP), and the
/// registered callee is never rung.
#[test]
fn srtp_offer_over_udp_is_refused_with_488() {
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    register(&node, "1002", node.ports.peer());
    Sipp::new(&node, "uac-srtp-udp", "uac-srtp-over-udp-refused")
        .target(&node)
        .service("1002")
        .caller("1001")
        .calls(1)
        .run(SHORT)
        .assert_ok();
    assert_cdrs(&node, &[("1001", "1002", "failed", Some(488))]);
}

#[test]
fn busy_callee_gives_486() {
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    one_call(&node, "uas-busy-486", "uac-call-busy-486");
    assert_cdrs(&node, &[("1001", "1002", "busy", Some(486))]);
}

#[test]
fn reinvite_is_relayed_with_its_direction() {
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    let uas = phone(&node, "1002", "uas-answer-reinvite", 1, 0);
    let uac = Sipp::new(&node, "uac-reinvite", "uac-reinvite-hold")
        .target(&node)
        .service("1002")
        .caller("1001")
        .hold_ms(300)
        .calls(1)
        .run(SHORT)
        .assert_ok();
    let uas = uas.finish(SHORT).assert_ok();
    assert_anchored(&node, &uac, "reanswer", 1);
    let reoffer = uas.logged("reoffer");
    assert_eq!(reoffer.len(), 1, "the callee got no re-INVITE");
    assert_eq!(
        reoffer[0][0], "127.0.0.1",
        "re-INVITE SDP not anchored: {reoffer:?}"
    );
    assert!(
        node.ports
            .rtp()
            .contains(&reoffer[0][1].parse::<u16>().unwrap_or(0)),
        "re-INVITE SDP port outside the relay: {reoffer:?}"
    );
    assert_eq!(
        reoffer[0].get(2).map(String::as_str),
        Some("sendonly"),
        "hold direction lost in the relayed re-INVITE: {reoffer:?}"
    );
    assert_cdrs(&node, &[("1001", "1002", "answered", None)]);
}

/// A re-INVITE without SDP (a late offer mid-call): the callee's 200 carries the
/// offer, the node relays it to the caller anchored, and the ACK to the callee
/// waits for the caller's answer, which it carries anchored too.
#[test]
fn a_reinvite_without_sdp_carries_the_callers_answer_in_the_ack() {
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    let uas = phone(&node, "1002", "uas-answer-sdpless-reinvite", 1, 0);
    let uac = Sipp::new(&node, "uac-sdpless-reinvite", "uac-reinvite-without-sdp")
        .target(&node)
        .service("1002")
        .caller("1001")
        .hold_ms(300)
        .calls(1)
        .run(SHORT)
        .assert_ok();
    let uas = uas.finish(SHORT).assert_ok();
    // The callee's offer reached the caller anchored; the caller's answer reached
    // the callee in the ACK, anchored too.
    assert_anchored(&node, &uac, "reoffer", 1);
    assert_anchored(&node, &uas, "reanswer", 1);
    assert_cdrs(&node, &[("1001", "1002", "answered", None)]);
}

/// A phone's Transfer button, twice: a REFER to a number nobody has is accepted and
/// its NOTIFY says 404, and the call goes on (the transferor would fail on an
/// early BYE); a REFER to 1003 is reported as `100 Trying` then `200 OK`, the
/// transferor gets the node's BYE, 1003 rings for the caller, answers, and hangs
/// up, which ends the caller's call.
#[test]
fn a_refer_from_the_callee_transfers_the_caller_and_a_refused_one_changes_nothing() {
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    let transferor = Sipp::new(&node, "transferor-1002", "uas-answer-then-refer")
        .args(&["-key", "unreachable", "4711", "-key", "target", "1003"])
        .hold_ms(700)
        .calls(1)
        .start()
        .bound();
    register(&node, "1002", transferor.port);
    let target = phone(&node, "1003", "uas-answer-then-hang-up", 1, 700);
    Sipp::new(&node, "uac-transferred", "uac-call-callee-hangs-up")
        .target(&node)
        .service("1002")
        .caller("1001")
        .calls(1)
        .run(SHORT)
        .assert_ok();
    let transferor = transferor.finish(SHORT).assert_ok();
    target.finish(SHORT).assert_ok();
    let notified: Vec<String> = transferor
        .logged("notify")
        .into_iter()
        .map(|words| words.join(" "))
        .collect();
    assert_eq!(
        notified,
        [
            "404 Not Found terminated;reason=noresource",
            "100 Trying active;expires=60",
            "200 OK terminated;reason=noresource",
        ],
        "the NOTIFYs' sipfrag and subscription state"
    );
    let cdrs = node.wait_cdrs(1, CDR_WAIT);
    let cdr = &cdrs[0];
    assert_eq!(
        (
            cdr.callee.as_str(),
            cdr.agent.as_deref(),
            cdr.disposition.as_str()
        ),
        ("1002", Some("1003"), "answered"),
        "{cdr:#?}"
    );
}

/// A carrier behind `[trunks.carrier]`, on the first peer port; the password is
/// what its SIPp checks the node's credentials against.
const CARRIER: &str = r#"
[trunks.carrier]
address = "127.0.0.1:@FIRST_PEER_PORT@"
username = "acct1234"
password = "trunk-secret-7f3a"
caller_id = "+15550001111"
prefixes = ["9"]
strip = ["9"]
max_calls = 2
"#;

/// The SIPp carrier behind [`CARRIER`] running `scenario`, checking the node's
/// digest against the trunk's credentials.
fn carrier(node: &Node, scenario: &str) -> Sipp {
    Sipp::new(node, "carrier", scenario).args(&[
        "-key",
        "user",
        "acct1234",
        "-key",
        "password",
        "trunk-secret-7f3a",
    ])
}

/// An extension dials 9 and a number: the node sends it (without the 9) to the
/// carrier presenting the trunk's caller ID, answers the carrier's 401 with the
/// trunk's credentials (SIPp verifies the digest), and the call is anchored on the
/// relay both ways. The password never reaches the node's log.
#[test]
fn an_extension_dials_out_by_a_trunk_that_asks_for_credentials() {
    if !sipp_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        log: "debug",
        extra: CARRIER.to_owned(),
        ..NodeSpec::default()
    });
    let carrier = carrier(&node, "uas-carrier-digest")
        .calls(1)
        .start()
        .bound();
    let dialled = "95551234567";
    let caller = Sipp::new(&node, "uac-out", "uac-call-with-proxy-auth")
        .target(&node)
        .service(dialled)
        .caller("1001")
        .auth(&node, "1001")
        .args(&["-auth_uri", &format!("{dialled}@{}", node.sip_target())])
        .hold_ms(500)
        .calls(1)
        .run(SHORT)
        .assert_ok();
    let carrier = carrier.finish(SHORT).assert_ok();
    assert_eq!(carrier.logged("dialled"), [["5551234567"]]);
    let from = carrier.logged("from").concat().join(" ");
    assert!(
        from.contains("sip:+15550001111@"),
        "From at the carrier: {from}"
    );
    assert_eq!(
        carrier.logged("cseq"),
        [["2"]],
        "the authorized INVITE's CSeq"
    );
    assert_anchored(&node, &carrier, "offer", 1);
    assert_anchored(&node, &caller, "answer", 1);
    assert_cdrs(&node, &[("1001", dialled, "answered", None)]);
    let log = node.log_text();
    assert!(
        log.contains("out by a trunk"),
        "the node logged the trunk call"
    );
    assert!(
        !log.contains("trunk-secret-7f3a"),
        "the trunk's password in the log"
    );
    // The trunk's place is back once the call has ended.
    let api = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let metrics = common::api::request(api, "GET", "/metrics", None, None).expect("metrics");
    assert!(
        metrics
            .body
            .lines()
            .any(|l| l == r#"switchyard_trunk_calls{trunk="carrier"} 0"#),
        "trunk gauge in:\n{}",
        metrics.body
    );
}

/// The attended transfer of a desk phone. Agent 1002 (the test's own UA: one phone
/// with two calls) answers 1001 and holds it (the hold reaches 1001 through the
/// node, which answers `recvonly`), calls 1003 through the node, then REFERs the
/// first call with `Replaces` naming its dialog of the second. The node NOTIFYs
/// `100 Trying` then `200 OK`, BYEs both of the agent's legs, re-INVITEs 1003 onto
/// the first call's media and takes 1001 off hold; 1001 hangs up later, which
/// reaches 1003.
#[test]
fn a_phones_attended_transfer_joins_the_caller_and_the_target() {
    use common::ua::{Ua, sdp};
    use sip::dialog::Dialog;
    use sip::message::{HeaderName, Method};
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    let mut agent = Ua::bind(node.ports.peer(), node.sip_addr());
    register(&node, "1002", agent.port());
    let target = phone(&node, "1003", "uas-answer-reinvite", 1, 0);
    let caller = Sipp::new(&node, "caller-held", "uac-call-held-and-resumed")
        .target(&node)
        .service("1002")
        .caller("1001")
        .hold_ms(1500)
        .calls(1)
        .start();

    // The first call: the agent answers, then holds it.
    let invite = agent.request(Method::Invite, None, SHORT);
    let contact = agent.contact("1002");
    agent.respond(
        &invite,
        200,
        "agent-x",
        &contact,
        Some(&sdp(40_000, 1, "sendrecv")),
    );
    let x_id = invite.headers.call_id().expect("a Call-ID").to_owned();
    agent.request(Method::Ack, Some(&x_id), SHORT);
    let mut x = Dialog::uas(&invite, "agent-x").expect("the first call's dialog");
    let seq = agent.send_in_dialog(
        &mut x,
        Method::Invite,
        &contact,
        &[],
        Some(&sdp(40_000, 2, "sendonly")),
    );
    assert_eq!(
        agent.response(&x_id, seq, 200, SHORT).status,
        200,
        "the hold"
    );
    agent.send(x.ack(seq));

    // The second call: the agent calls 1003, then transfers the first to it.
    let y = agent.call("1002", "1003", &sdp(40_002, 1, "sendrecv"), SHORT);
    let id = y.id();
    let replaces = format!(
        "{}%3Bto-tag%3D{}%3Bfrom-tag%3D{}",
        id.call_id.replace('@', "%40"),
        id.remote_tag,
        id.local_tag
    );
    let refer_to = format!("<sip:1003@127.0.0.1?Replaces={replaces}>");
    let seq = agent.send_in_dialog(
        &mut x,
        Method::Refer,
        &contact,
        &[(HeaderName::ReferTo, refer_to)],
        None,
    );
    assert_eq!(agent.response(&x_id, seq, 200, SHORT).status, 202);

    // NOTIFYs on the first call, a BYE on each: in whatever order they come.
    let (mut sipfrags, mut byes) = (Vec::new(), Vec::new());
    while sipfrags.len() < 2 || byes.len() < 2 {
        let req = agent.any_request(SHORT);
        agent.respond(&req, 200, "", &contact, None);
        let call_id = req.headers.call_id().unwrap_or_default().to_owned();
        match req.method {
            Method::Notify => {
                assert_eq!(call_id, x_id, "NOTIFY on the REFER's dialog");
                let body = String::from_utf8_lossy(&req.body).into_owned();
                sipfrags.push(body.lines().next().unwrap_or_default().to_owned());
            }
            Method::Bye => byes.push(call_id),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(sipfrags, ["SIP/2.0 100 Trying", "SIP/2.0 200 OK"]);
    byes.sort();
    let mut expected = vec![x_id.clone(), id.call_id.clone()];
    expected.sort();
    assert_eq!(byes, expected, "both of the agent's legs end");

    let caller = caller.finish(SHORT).assert_ok();
    let target = target.finish(SHORT).assert_ok();
    assert_eq!(
        caller.logged("held").first().map(|l| l[0].as_str()),
        Some("sendonly")
    );
    assert_eq!(
        caller.logged("resumed").first().map(|l| l[0].as_str()),
        Some("sendrecv"),
        "the node took the caller off hold"
    );
    // 1003 was moved onto the first call's media, anchored on the relay.
    assert_anchored(&node, &target, "reoffer", 1);
    let cdrs = node.wait_cdrs(2, CDR_WAIT);
    let rows: Vec<(&str, &str, Option<&str>, &str)> = cdrs
        .iter()
        .map(|c| {
            (
                c.caller.as_str(),
                c.callee.as_str(),
                c.agent.as_deref(),
                c.hangup_cause.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("1001", "1002", Some("1003"), "caller_bye"),
            ("1002", "1003", None, "replaced"),
        ]
    );
}

/// A phone transfers its caller to an external number: the REFER's target goes out
/// by the trunk (digest answered), the carrier answers, and the caller's BYE reaches
/// it. The first REFER (to a number nobody has) still changes nothing.
#[test]
fn a_refer_to_an_external_number_goes_out_by_the_trunk() {
    if !sipp_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        trusted: LOOPBACK,
        extra: CARRIER.to_owned(),
        ..NodeSpec::default()
    });
    let carrier = carrier(&node, "uas-carrier-digest")
        .calls(1)
        .start()
        .bound();
    let transferor = Sipp::new(&node, "transferor-1002", "uas-answer-then-refer")
        .args(&[
            "-key",
            "unreachable",
            "4711",
            "-key",
            "target",
            "95551234567",
        ])
        .hold_ms(500)
        .calls(1)
        .start()
        .bound();
    register(&node, "1002", transferor.port);
    Sipp::new(&node, "uac-transferred-out", "uac-call-trusted")
        .target(&node)
        .service("1002")
        .caller("1001")
        .hold_ms(4000)
        .calls(1)
        .run(SHORT)
        .assert_ok();
    transferor.finish(SHORT).assert_ok();
    let carrier = carrier.finish(SHORT).assert_ok();
    assert_eq!(carrier.logged("dialled"), [["5551234567"]]);
    assert_anchored(&node, &carrier, "offer", 1);
    let cdrs = node.wait_cdrs(1, CDR_WAIT);
    assert_eq!(
        (cdrs[0].agent.as_deref(), cdrs[0].disposition.as_str()),
        (Some("95551234567"), "answered"),
        "{:#?}",
        cdrs[0]
    );
}

/// A trunk with `register = true`: the node registers to the carrier (the SIPp
/// registrar challenges, verifies the digest, grants 4 s) and refreshes in time;
/// the carrier's inbound call comes to the registered Contact with the DID in
/// `To`, from the carrier's address, which is trusted without any `[auth]
/// trusted`: it rings extension 1002.
#[test]
fn a_trunk_registers_to_its_carrier_and_takes_its_inbound_calls() {
    if !sipp_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        extra: format!("{CARRIER}register = true\n"),
        ..NodeSpec::default()
    });
    let registrar = Sipp::new(&node, "registrar", "uas-carrier-registrar")
        .args(&[
            "-key",
            "user",
            "acct1234",
            "-key",
            "password",
            "trunk-secret-7f3a",
        ])
        .calls(1)
        .start()
        .bound()
        .finish(Duration::from_secs(20))
        .assert_ok();
    let contact = format!("sip:acct1234@127.0.0.1:{}", node.ports.sip());
    let (first, refresh) = (registrar.logged("first"), registrar.logged("refresh"));
    assert_eq!(
        first.first().map(|l| &l[..2]),
        Some(&[contact.clone(), "600".to_owned()][..])
    );
    assert_eq!(
        refresh.first().map(|l| &l[..2]),
        Some(&[contact, "600".to_owned()][..])
    );
    assert_eq!(
        registrar.logged("verified").len(),
        2,
        "both REGISTERs authenticated"
    );
    let api = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let metrics = common::api::request(api, "GET", "/metrics", None, None).expect("metrics");
    assert!(
        metrics
            .body
            .lines()
            .any(|l| l == r#"switchyard_trunk_registered{trunk="carrier"} 1"#),
        "registration gauge in:\n{}",
        metrics.body
    );

    let uas = phone(&node, "1002", "uas-answer", 1, 0);
    Sipp::new(&node, "did-call", "uac-carrier-did")
        .target(&node)
        .service("1002")
        .caller("+15557654321")
        .args(&["-key", "contact_user", "acct1234"])
        .hold_ms(300)
        .calls(1)
        .run(SHORT)
        .assert_ok();
    uas.finish(SHORT).assert_ok();
    assert_cdrs(&node, &[("+15557654321", "1002", "answered", None)]);
}

/// A call from a trusted source (a trunk, an SBC) never leaves by a trunk: the
/// number is unknown (404) and the carrier sees nothing.
#[test]
fn a_trusted_source_cannot_dial_out_by_a_trunk() {
    if !sipp_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        trusted: LOOPBACK,
        extra: CARRIER.to_owned(),
        ..NodeSpec::default()
    });
    let carrier = UdpSocket::bind(("127.0.0.1", node.ports.peer())).expect("the carrier's port");
    carrier
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("a read timeout");
    Sipp::new(&node, "uac-trusted-out", "uac-call-unknown-404")
        .target(&node)
        .service("95551234567")
        .caller("1001")
        .calls(1)
        .run(SHORT)
        .assert_ok();
    let mut buf = [0_u8; 2048];
    assert!(carrier.recv(&mut buf).is_err(), "the carrier got a request");
    assert_cdrs(&node, &[("1001", "95551234567", "not_found", Some(404))]);
}

/// A party gone without a BYE (`[media] rtp_timeout_s = 2`): a call whose phones
/// send no RTP at all is hung up both ways (`rtp_timeout`); a call whose phones
/// talk (RTP both ways, longer than the timeout) stays up, and is hung up once
/// the callee falls silent.
#[test]
fn a_party_that_stops_sending_rtp_is_hung_up_after_the_timeout() {
    if !sipp_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        trusted: LOOPBACK,
        rtp_timeout_s: Some(2),
        ..NodeSpec::default()
    });
    let silent = phone(&node, "1002", "uas-answer", 1, 0);
    Sipp::new(&node, "uac-silent", "uac-call-callee-hangs-up")
        .target(&node)
        .service("1002")
        .caller("1001")
        .calls(1)
        .run(SHORT)
        .assert_ok();
    silent.finish(SHORT).assert_ok();

    let (caller_rtp, callee_rtp) = (
        UdpSocket::bind("127.0.0.1:0").expect("the caller's media"),
        UdpSocket::bind("127.0.0.1:0").expect("the callee's media"),
    );
    let port = |s: &UdpSocket| s.local_addr().expect("bound").port().to_string();
    let callee = Sipp::new(&node, "callee-talks", "uas-answer-media-at-key")
        .args(&["-key", "rtp", &port(&callee_rtp)])
        .calls(1)
        .start()
        .bound();
    register(&node, "1003", callee.port);
    let caller = Sipp::new(&node, "caller-talks", "uac-call-media-at-key")
        .target(&node)
        .service("1003")
        .caller("1001")
        .args(&["-key", "rtp", &port(&caller_rtp)])
        .calls(1)
        .start();
    let to_b = SocketAddr::from(([127, 0, 0, 1], common::sipp::logged_port(&callee, "offer")));
    let to_a = SocketAddr::from(([127, 0, 0, 1], common::sipp::logged_port(&caller, "answer")));
    // Both talk for 5 s (2.5 timeouts), then the callee stops and the caller goes on.
    let talk = |socket: &UdpSocket, to: SocketAddr, ssrc: u32, packets: u16| {
        for seq in 0..packets {
            let packet = pcmu_packet(seq, ssrc, std::iter::repeat_n(0xd5, 160));
            socket.send_to(&packet, to).expect("send RTP");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    std::thread::scope(|s| {
        s.spawn(|| talk(&callee_rtp, to_b, 0xb0b, 250));
        talk(&caller_rtp, to_a, 0xa11ce, 250);
        assert_eq!(
            node.cdrs().len(),
            1,
            "the talking call is still up after 5 s"
        );
        talk(&caller_rtp, to_a, 0xa11ce, 250);
    });
    caller.finish(SHORT).assert_ok();
    callee.finish(SHORT).assert_ok();
    let cdrs = node.wait_cdrs(2, CDR_WAIT);
    let causes: Vec<(&str, &str)> = cdrs
        .iter()
        .map(|c| (c.callee.as_str(), c.hangup_cause.as_str()))
        .collect();
    assert_eq!(causes, [("1002", "rtp_timeout"), ("1003", "rtp_timeout")]);
    assert!(
        cdrs[1].billsec_ms >= 6_000,
        "the talking call lasted {} ms: up while both talked, and past the callee's silence",
        cdrs[1].billsec_ms
    );
}

/// Session timers (RFC 4028) on the caller's leg: negotiated in the 200
/// (`Session-Expires` back with `refresher=uac`, `Require: timer`), a refresh by
/// UPDATE answered by the node itself (the callee's SIPp would fail on an UPDATE),
/// a refresh by re-INVITE relayed and answered with `Session-Expires` again; an
/// interval under 90 s gets 422 with `Min-SE: 90`, and an option tag the node
/// lacks still gets 420 naming only it.
#[test]
fn session_timers_are_negotiated_and_refreshes_answered() {
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    let callee = phone(&node, "1002", "uas-answer-reinvite", 1, 0);
    let caller = Sipp::new(&node, "uac-timer", "uac-session-timer")
        .target(&node)
        .service("1002")
        .caller("1001")
        .hold_ms(300)
        .calls(1)
        .run(SHORT)
        .assert_ok();
    callee.finish(SHORT).assert_ok();
    for (tag, value) in [
        ("negotiated", "90;refresher=uac"),
        ("update", "90;refresher=uac"),
        ("reinvite", "90;refresher=uac"),
        ("require", "timer"),
    ] {
        let logged = caller.logged(tag);
        assert_eq!(
            logged.first().and_then(|l| l.first()).map(String::as_str),
            Some(value),
            "{tag}: {logged:?}"
        );
    }

    let probe = SipProbe::new("127.0.0.1");
    let invite = |headers: &str| {
        let local = probe.local();
        format!(
            "INVITE sip:1002@{target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             From: <sip:1001@127.0.0.1>;tag=t1\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: {id}\r\n\
             CSeq: 1 INVITE\r\nContact: <sip:1001@{local}>\r\nMax-Forwards: 70\r\n{headers}\
             Content-Length: 0\r\n\r\n",
            target = node.sip_target(),
            branch = common::unique("z9hG4bK"),
            id = common::unique("timer"),
        )
    };
    let short = probe
        .exchange(
            &invite("Supported: timer\r\nSession-Expires: 60\r\n"),
            node.sip_addr(),
            SHORT,
        )
        .expect("an answer");
    assert_eq!(short.status, 422);
    assert_eq!(short.headers("Min-SE"), ["90"]);
    let required = probe
        .exchange(
            &invite("Require: timer, 100rel, precondition\r\n"),
            node.sip_addr(),
            SHORT,
        )
        .expect("an answer");
    assert_eq!(required.status, 420);
    assert_eq!(required.headers("Unsupported"), ["precondition"]);
}

/// A caller the node answers itself (here in a conference room) re-INVITEs with
/// its SDP unchanged, as trunks refresh sessions: the node answers 200 with its own
/// SDP, same origin line, instead of the 481 it used to send (which made a trunk
/// drop a caller waiting in a queue at its first refresh).
#[test]
fn a_caller_in_a_flow_can_re_invite() {
    if !sipp_available() {
        return;
    }
    let node = pair_room_node();
    let caller = Sipp::new(&node, "uac-refresh-flow", "uac-reinvite-a-flow")
        .target(&node)
        .service("801")
        .caller("1001")
        .hold_ms(300)
        .calls(1)
        .run(SHORT)
        .assert_ok();
    let (first, again) = (caller.logged("first"), caller.logged("again"));
    assert!(!first.is_empty(), "the 200's origin was logged");
    assert_eq!(first, again, "the node's SDP is unchanged");
}

#[test]
fn burst_of_200_calls_at_50_cps_has_no_failures() {
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    let uas = phone(&node, "1002", "uas-answer", 200, 0);
    Sipp::new(&node, "uac-burst", "uac-call-trusted")
        .target(&node)
        .service("1002")
        .caller("1001")
        .args(&["-r", "50", "-l", "200"])
        .hold_ms(1000)
        .calls(200)
        .run(Duration::from_secs(90))
        .assert_ok();
    uas.finish(SHORT).assert_ok();
    let rows = node.wait_cdrs(200, CDR_WAIT);
    let answered = rows.iter().filter(|c| c.disposition == "answered").count();
    assert_eq!(
        (rows.len(), answered),
        (200, 200),
        "CDRs after the burst: {:#?}",
        &rows[..rows.len().min(5)]
    );
}

#[test]
fn repeated_auth_failures_ban_the_source() {
    if !sipp_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        ..NodeSpec::default()
    });
    Sipp::new(&node, "brute-force", "register-wrong-password")
        .target(&node)
        .service("1001")
        .args(&["-au", "1001", "-ap", "guess", "-l", "1"])
        .calls(5)
        .run(SHORT)
        .assert_ok();
    let probe = SipProbe::new("127.0.0.1");
    assert!(
        probe
            .options(node.sip_addr(), Duration::from_secs(2))
            .is_none(),
        "a source with 5 failed authentications within 60 s is still answered"
    );
    let other = SipProbe::new("127.0.0.2");
    let answer = other.options(node.sip_addr(), Duration::from_secs(2));
    assert_eq!(
        answer.map(|r| r.status),
        Some(200),
        "the ban reaches beyond the failing source address"
    );
}

// ---------------------------------------------------------------- demo

/// The demo provisions 1001–1010 and offers MD5 only (baresip 1.0 refuses a
/// registrar that also offers SHA-256), the same way for unknown users.
#[test]
fn demo_node_provisions_extensions_and_challenges_with_md5() {
    let node = Node::demo();
    let exts: Vec<&str> = node.passwords().keys().map(String::as_str).collect();
    let wanted: Vec<String> = (1001..=1010).map(|e: u16| e.to_string()).collect();
    assert_eq!(exts, wanted, "demo-credentials.txt does not list 1001-1010");
    let probe = SipProbe::new("127.0.0.1");
    let (first, offered, algorithms) = first_challenge(&probe, &node);
    assert_eq!(
        algorithms,
        [Some("MD5".to_owned())],
        "challenges: {offered:?}"
    );
    let unknown = raw_register(&probe, &node, "9999", 1, None);
    assert_eq!(
        challenge_shape(&unknown),
        challenge_shape(&first),
        "an unknown user is challenged differently"
    );
}

/// A node with the default algorithms challenges with SHA-256 first, then
/// MD5 (RFC 8760), and accepts a hand-made SHA-256 digest, since neither
/// SIPp 3.6 nor baresip 1.0 computes one. Known and unknown users get the
/// same challenge.
#[test]
fn sha256_is_challenged_first_and_accepted() {
    let node = Node::start(&NodeSpec::default());
    let probe = SipProbe::new("127.0.0.1");
    let (first, offered, algorithms) = first_challenge(&probe, &node);
    assert_eq!(
        algorithms,
        [Some("SHA-256".to_owned()), Some("MD5".to_owned())],
        "challenges: {offered:?}"
    );
    assert!(
        offered
            .iter()
            .all(|c| digest_param(c, "qop").as_deref() == Some("auth")),
        "challenges: {offered:?}"
    );
    let unknown = raw_register(&probe, &node, "9999", 1, None);
    assert_eq!(
        challenge_shape(&unknown),
        challenge_shape(&first),
        "an unknown user is challenged differently from a known one"
    );
    let authorization = sha256_authorization(&node, "1001", &offered[0]);
    let second = raw_register(&probe, &node, "1001", 2, Some(&authorization));
    assert_eq!(
        second.status, 200,
        "REGISTER with a SHA-256 digest:\n{}",
        second.text
    );
}

/// REGISTERs 1001 without credentials; returns the 401, its challenges and
/// the algorithm each offers, in order.
fn first_challenge(
    probe: &SipProbe,
    node: &Node,
) -> (common::SipResponse, Vec<String>, Vec<Option<String>>) {
    let first = raw_register(probe, node, "1001", 1, None);
    assert_eq!(
        first.status, 401,
        "unauthenticated REGISTER:\n{}",
        first.text
    );
    let offered = first.headers("WWW-Authenticate");
    let algorithms = offered
        .iter()
        .map(|c| digest_param(c, "algorithm"))
        .collect();
    (first, offered, algorithms)
}

/// Status and (algorithm, qop, realm) of each challenge: what must not
/// tell a known user from an unknown one.
#[derive(Debug, PartialEq)]
struct ChallengeShape {
    status: u16,
    challenges: Vec<(Option<String>, Option<String>, Option<String>)>,
}

fn challenge_shape(response: &common::SipResponse) -> ChallengeShape {
    let challenges = response.headers("WWW-Authenticate");
    let params = |c: &String| {
        let p = |name| digest_param(c, name);
        (p("algorithm"), p("qop"), p("realm"))
    };
    ChallengeShape {
        status: response.status,
        challenges: challenges.iter().map(params).collect(),
    }
}

fn raw_register(
    probe: &SipProbe,
    node: &Node,
    ext: &str,
    cseq: u32,
    authorization: Option<&str>,
) -> common::SipResponse {
    let local = probe.local();
    let call_id = format!("reg-{ext}-{}", local.port());
    let branch = common::unique("z9hG4bK");
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "REGISTER sip:{target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
         From: <sip:{ext}@127.0.0.1>;tag=t{ext}\r\nTo: <sip:{ext}@127.0.0.1>\r\nCall-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\nContact: <sip:{ext}@{local}>\r\nExpires: 300\r\nMax-Forwards: 70\r\n{auth}Content-Length: 0\r\n\r\n",
        target = node.sip_target(),
    );
    probe
        .exchange(&request, node.sip_addr(), Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no answer to REGISTER for {ext}"))
}

/// The value of `name` in a Digest challenge, quotes removed.
fn digest_param(challenge: &str, name: &str) -> Option<String> {
    let params = challenge.trim().strip_prefix("Digest")?;
    params.split(',').find_map(|p| {
        let (key, value) = p.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// RFC 7616 digest response with qop=auth and SHA-256.
fn sha256_authorization(node: &Node, ext: &str, challenge: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let h = |s: String| format!("{:x}", Sha256::digest(s.as_bytes()));
    let realm = digest_param(challenge, "realm").expect("realm in challenge");
    let nonce = digest_param(challenge, "nonce").expect("nonce in challenge");
    let uri = format!("sip:{}", node.sip_target());
    let cnonce = "0a4f113b";
    let ha1 = h(format!("{ext}:{realm}:{}", node.password(ext)));
    let ha2 = h(format!("REGISTER:{uri}"));
    let response = h(format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
    let opaque = digest_param(challenge, "opaque")
        .map(|o| format!(", opaque=\"{o}\""))
        .unwrap_or_default();
    format!(
        "Digest username=\"{ext}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", \
         algorithm=SHA-256, cnonce=\"{cnonce}\", qop=auth, nc=00000001{opaque}"
    )
}

/// 801 answers with a room of two whose `full` branch plays a prompt and hangs up.
const PAIR_IVR: &str = r#"
[ivr]
flows = "flows"
prompts = "prompts"
numbers = { "801" = "pair" }
"#;

/// A trusted node where 801 seats callers in the room of two (`PAIR_FLOW`).
fn pair_room_node() -> Node {
    Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        trusted: LOOPBACK,
        extra: PAIR_IVR.to_owned(),
        setup: Some(|dir: &std::path::Path| {
            std::fs::create_dir_all(dir.join("flows")).expect("create the flows directory");
            std::fs::write(dir.join("flows/pair.toml"), PAIR_FLOW).expect("write the flow");
            common::copy_demo_prompts(dir);
        }),
        ..NodeSpec::default()
    })
}

const PAIR_FLOW: &str = r#"[flow]
start = "room"
languages = ["en"]

[steps.room]
type = "conference"
room = "pair"
max = 2
full = "full"

[steps.full]
type = "play"
play = ["room_full"]
next = "bye"

[steps.bye]
type = "hangup"
"#;

/// `conference.participant` events so far, as (call id, what, caller).
fn room_events(node: &Node) -> Vec<(String, String, String)> {
    common::read_events(node)
        .into_iter()
        .filter(|(kind, ..)| kind == "conference.participant")
        .map(|(_, call_id, data)| {
            let data: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
            let text = |key: &str| data[key].as_str().unwrap_or_default().to_owned();
            (call_id.unwrap_or_default(), text("what"), text("caller"))
        })
        .collect()
}

#[test]
fn the_third_caller_of_a_room_of_two_goes_to_the_flows_full_branch() {
    if !sipp_available() {
        return;
    }
    let node = pair_room_node();
    let seated: Vec<SippRun> = ["1001", "1002"]
        .into_iter()
        .map(|caller| {
            let run = Sipp::new(&node, &format!("seated-{caller}"), "uac-call-trusted")
                .target(&node)
                .service("801")
                .caller(caller)
                .hold_ms(8000)
                .calls(1)
                .start();
            // One at a time, so the room's order is known.
            wait_until("the caller to take a seat", SHORT, || {
                room_events(&node)
                    .iter()
                    .any(|(_, what, who)| what == "joined" && who == caller)
                    .then_some(())
            });
            run
        })
        .collect();
    // The third hears the full branch's prompt (about 4 s), then the flow hangs up.
    Sipp::new(&node, "third", "uac-call-callee-hangs-up")
        .target(&node)
        .service("801")
        .caller("1003")
        .calls(1)
        .run(SHORT)
        .assert_ok();
    for run in seated {
        run.finish(SHORT).assert_ok();
    }
    let cdrs = node.wait_cdrs(3, CDR_WAIT);
    let by_caller = |caller: &str| -> &Cdr {
        cdrs.iter()
            .find(|c| c.caller == caller)
            .unwrap_or_else(|| panic!("no CDR of {caller}: {cdrs:#?}"))
    };
    for caller in ["1001", "1002"] {
        let cdr = by_caller(caller);
        assert_eq!(
            cdr.ivr_outcome.as_deref(),
            Some("conference pair"),
            "{cdr:#?}"
        );
    }
    let third = by_caller("1003");
    assert_eq!(
        third.ivr_path.as_deref(),
        Some("pair.room pair.full pair.bye"),
        "{third:#?}"
    );
    assert_eq!(
        third.ivr_outcome.as_deref(),
        Some("the flow hung up"),
        "{third:#?}"
    );
    assert!(
        third.billsec_ms >= 3_000,
        "the prompt plays to its end before the hang-up: {third:#?}"
    );
    let events = room_events(&node);
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|(_, what, who)| (what.as_str(), who.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("joined", "1001"),
            ("joined", "1002"),
            ("left", "1001"),
            ("left", "1002")
        ],
        "the third caller never sat in the room: {events:#?}"
    );
}

/// Sends 50 packets (one second) from `from` to `to`, and counts those of them
/// `at` receives (PCMU with the payload `fill`) within two seconds of the last.
fn relayed(from: &UdpSocket, to: SocketAddr, at: &UdpSocket, fill: u8) -> usize {
    at.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("a read timeout");
    let mut buf = [0_u8; 1500];
    let mut got = 0;
    for seq in 0..50_u16 {
        from.send_to(
            &pcmu_packet(seq, 0x5157_0000 | u32::from(fill), [fill; 160]),
            to,
        )
        .expect("send RTP");
        std::thread::sleep(Duration::from_millis(20)); // paced like a phone, not awaited
        while let Ok(n) = at.recv(&mut buf) {
            got += usize::from(
                n == 172 && buf[1] & 0x7f == 0 && buf[12..n].iter().all(|&b| b == fill),
            );
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        if let Ok(n) = at.recv(&mut buf) {
            got += usize::from(
                n == 172 && buf[1] & 0x7f == 0 && buf[12..n].iter().all(|&b| b == fill),
            );
        }
    }
    got
}

#[test]
fn a_late_offer_to_an_extension_gets_the_nodes_offer_on_both_legs() {
    use common::api::{first_admin, request};
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    let callee_media = UdpSocket::bind("127.0.0.1:0").expect("bind the callee's media");
    let port = |s: &UdpSocket| s.local_addr().expect("bound").port().to_string();
    // The callee sends early media (183 with SDP): the caller's 183 carries none.
    let callee = Sipp::new(&node, "callee-1002", "uas-early-media-at-key")
        .args(&["-key", "rtp", &port(&callee_media)])
        .calls(1)
        .start()
        .bound();
    register(&node, "1002", callee.port);
    let (caller, caller_media) = late_offer_caller(&node, "1002", "1001");
    // The callee got the node's offer in the INVITE, the caller in the 200.
    let node_b = common::sipp::logged_port(&callee, "offer");
    let node_a = common::sipp::logged_port(&caller, "offer");
    let relay = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    // Only once the caller's ACK has set side A can the callee's audio reach it.
    let api = relay(node.ports.http());
    let token = first_admin(&node);
    let live = wait_until("the call to be answered", SHORT, || {
        let reply = request(api, "GET", "/api/v1/calls", Some(&token), None)?;
        let calls = reply.json();
        calls
            .as_array()?
            .iter()
            .find(|c| c["phase"] == "talking")
            .cloned()
    });
    let to_callee = relayed(&caller_media, relay(node_a), &callee_media, 0x11);
    let to_caller = relayed(&callee_media, relay(node_b), &caller_media, 0x22);
    assert!(
        to_callee >= 45 && to_caller >= 45,
        "relayed {to_callee} of 50 to the callee and {to_caller} of 50 to the caller"
    );
    let call_id = live["call_id"].as_str().expect("a call id");
    let hangup = format!("/api/v1/calls/{call_id}/hangup");
    let ended = request(api, "POST", &hangup, Some(&token), None).expect("an answer");
    assert_eq!(ended.status, 204, "{}", ended.body);
    let caller = caller.finish(SHORT).assert_ok();
    callee.finish(SHORT).assert_ok();
    let early = caller.logged("early");
    assert_eq!(
        early,
        [Vec::<String>::new()],
        "one 183, without SDP, reached the caller"
    );
    assert_cdrs(&node, &[("1001", "1002", "answered", None)]);
}

/// 802 plays the demo's beep, then hangs up.
const BEEP_IVR: &str = r#"
[ivr]
flows = "flows"
prompts = "prompts"
numbers = { "802" = "beep" }
"#;

const BEEP_FLOW: &str = r#"[flow]
start = "beep"
languages = ["en"]

[steps.beep]
type = "play"
play = ["beep"]
next = "bye"

[steps.bye]
type = "hangup"
"#;

#[test]
fn a_late_offer_to_an_ivr_flow_hears_its_prompt_in_the_codec_of_the_ack() {
    if !sipp_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        trusted: LOOPBACK,
        extra: BEEP_IVR.to_owned(),
        setup: Some(|dir: &std::path::Path| {
            std::fs::create_dir_all(dir.join("flows")).expect("create the flows directory");
            std::fs::write(dir.join("flows/beep.toml"), BEEP_FLOW).expect("write the flow");
            common::copy_demo_prompts(dir);
        }),
        ..NodeSpec::default()
    });
    let (caller, media) = late_offer_caller(&node, "802", "1001");
    // The beep comes to the address of the caller's answer, in PCMU (the first
    // codec of the node's offer, which the caller took).
    media
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a read timeout");
    let mut buf = [0_u8; 1500];
    let mut packets = 0;
    let mut loud = 0;
    while let Ok(n) = media.recv(&mut buf) {
        assert_eq!(buf[1] & 0x7f, 0, "PCMU, as the caller answered");
        packets += 1;
        // PCMU silence is 0xff/0x7f; a tone swings far from it.
        loud += usize::from(buf[12..n].iter().any(|&b| b & 0x7f < 0x60));
        media
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("a read timeout");
    }
    caller.finish(SHORT).assert_ok();
    assert!(
        packets >= 10 && loud >= 5,
        "{packets} packets, {loud} with audio"
    );
    let cdr = node.wait_cdrs(1, CDR_WAIT).remove(0);
    assert_eq!(
        cdr.ivr_path.as_deref(),
        Some("beep.beep beep.bye"),
        "{cdr:#?}"
    );
    assert_eq!(
        cdr.ivr_outcome.as_deref(),
        Some("the flow hung up"),
        "{cdr:#?}"
    );
}

/// Click-to-dial to an external number (`POST /api/v1/calls` with `auto_answer`):
/// the agent's phone (SIPp, 1001) gets an INVITE that asks it to answer by itself
/// and shows the number; once it answers, the node calls the number out by the
/// trunk, answers the carrier's digest challenge, and the carrier's early media
/// (183 with SDP) reaches the agent before the carrier answers. Then the relay
/// carries both ways, the desktop hangs up, and the CDR names the number as caller
/// and 1001 as callee.
#[test]
fn an_agent_dials_out_by_a_trunk_and_hears_the_carriers_early_media() {
    use common::api::{first_admin, request};
    if !sipp_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        log: "info,cti::call=debug",
        extra: CARRIER.to_owned(),
        ..NodeSpec::default()
    });
    let carrier_media = UdpSocket::bind("127.0.0.1:0").expect("bind the carrier's media");
    let agent_media = UdpSocket::bind("127.0.0.1:0").expect("bind the agent's media");
    let port = |s: &UdpSocket| s.local_addr().expect("bound").port().to_string();
    let carrier = carrier(&node, "uas-carrier-early-media")
        .args(&["-key", "rtp", &port(&carrier_media)])
        .hold_ms(8000)
        .calls(1)
        .start()
        .bound();
    let agent = Sipp::new(&node, "agent-1001", "uas-auto-answer-media-at-key")
        .args(&["-key", "rtp", &port(&agent_media)])
        .calls(1)
        .start()
        .bound();
    register(&node, "1001", agent.port);
    let api = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let dial = request(
        api,
        "POST",
        "/api/v1/calls",
        Some(&token),
        Some(r#"{"from":"1001","to":"95551234567","auto_answer":true}"#),
    )
    .expect("the API answers");
    assert_eq!(dial.status, 201, "{}", dial.body);
    let call_id = dial.json()["call_id"]
        .as_str()
        .expect("a call id")
        .to_owned();
    let relay = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let node_b = common::sipp::logged_port(&agent, "offer");
    let node_a = common::sipp::logged_port(&carrier, "offer");
    // The carrier rings with early media (it answers 8 s after its 183): sent while
    // the API still shows the call ringing, it reaches the agent before the 200.
    // The agent hears the node's ringback meanwhile: only the carrier's packets count.
    let mut early = 0;
    let mut buf = [0_u8; 1500];
    let mut count = |socket: &UdpSocket| {
        while let Ok(n) = socket.recv(&mut buf) {
            early += usize::from(n == 172 && buf[12..n].iter().all(|&b| b == 0x33));
        }
    };
    agent_media.set_nonblocking(true).expect("non-blocking");
    for seq in 0..50_u16 {
        carrier_media
            .send_to(&pcmu_packet(seq, 0x5157_0033, [0x33; 160]), relay(node_a))
            .expect("send RTP");
        std::thread::sleep(Duration::from_millis(20)); // paced like a phone, not awaited
        count(&agent_media);
    }
    std::thread::sleep(Duration::from_millis(200)); // the last packets' way through
    count(&agent_media);
    agent_media.set_nonblocking(false).expect("blocking again");
    let calls = request(api, "GET", "/api/v1/calls", Some(&token), None).expect("the API answers");
    assert_eq!(
        calls.json()[0]["phase"],
        "ringing",
        "still ringing: {}",
        calls.body
    );
    assert!(
        early >= 45,
        "{early} of 50 early-media packets reached the agent"
    );
    wait_until("the call to be talking", SHORT, || {
        let reply = request(api, "GET", "/api/v1/calls", Some(&token), None)?;
        (reply.json()[0]["phase"] == "talking").then_some(())
    });
    let to_agent = relayed(&carrier_media, relay(node_a), &agent_media, 0x44);
    let to_carrier = relayed(&agent_media, relay(node_b), &carrier_media, 0x55);
    assert!(
        to_agent >= 45 && to_carrier >= 45,
        "relayed {to_agent} of 50 to the agent and {to_carrier} of 50 to the carrier"
    );
    let hangup = format!("/api/v1/calls/{call_id}/hangup");
    let ended = request(api, "POST", &hangup, Some(&token), None).expect("an answer");
    assert_eq!(ended.status, 204, "{}", ended.body);
    let carrier = carrier.finish(SHORT).assert_ok();
    let agent = agent.finish(SHORT).assert_ok();
    assert_eq!(carrier.logged("dialled"), [["5551234567"]]);
    assert_eq!(
        carrier.logged("cseq"),
        [["2"]],
        "the authorized INVITE's CSeq"
    );
    let from = carrier.logged("from").concat().join(" ");
    assert!(
        from.contains("sip:+15550001111@"),
        "From at the carrier: {from}"
    );
    let shown = agent.logged("from").concat().join(" ");
    assert!(
        shown.contains("sip:95551234567@"),
        "From at the agent: {shown}"
    );
    let cdrs = assert_cdrs(&node, &[("95551234567", "1001", "answered", None)]);
    assert_eq!(cdrs[0].ivr_outcome.as_deref(), Some("outbound"));
}

/// A caller that requires reliable provisional responses (RFC 3262, `Require:
/// 100rel`, as some carriers' SBCs do) is no longer refused with 420: the callee's
/// 183 with early media reaches it with `Require: 100rel` and an `RSeq`, its PRACK
/// (naming that `RSeq` in `RAck`) gets a 200, the call is answered on the relay. The
/// order (a 2xx after a reliable answer waits for its PRACK), retransmissions and
/// the 500 after 64·T1 without PRACK are `call::prack`'s unit tests.
#[test]
fn a_caller_that_requires_100rel_gets_reliable_provisional_responses() {
    if !sipp_available() {
        return;
    }
    let node = trusted_node();
    let callee_media = UdpSocket::bind("127.0.0.1:0").expect("bind the callee's media");
    let port = callee_media.local_addr().expect("bound").port().to_string();
    let callee = Sipp::new(&node, "callee-1002", "uas-early-media-at-key")
        .args(&["-key", "rtp", &port])
        .calls(1)
        .start()
        .bound();
    register(&node, "1002", callee.port);
    let caller = Sipp::new(&node, "caller-100rel", "uac-call-100rel")
        .target(&node)
        .service("1002")
        .caller("1001")
        .hold_ms(500)
        .calls(1)
        .run(SHORT)
        .assert_ok();
    callee.finish(SHORT).assert_ok();
    let rseq = caller.logged("rseq");
    assert_eq!(rseq.len(), 1, "one reliable 183: {rseq:?}");
    let early = caller.logged("rseq").concat().join(" ");
    assert!(early.contains("100rel"), "{early}");
    assert_anchored(&node, &caller, "answer", 1);
    assert_cdrs(&node, &[("1001", "1002", "answered", None)]);
}
