use super::*;

const INVITE: &str = "INVITE sip:1002@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n\
Max-Forwards: 70\r\n\
f: \"Alice\" <sip:1001@127.0.0.1>;tag=a1\r\n\
t: <sip:1002@127.0.0.1>\r\n\
i: call-1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
m: <sip:1001@127.0.0.1:5070>\r\n\
c: application/sdp\r\n\
l: 4\r\n\
\r\n\
v=0\r\n";

fn req(text: &str) -> Request {
    match parse(text.as_bytes(), false).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

fn rejected(text: &str) -> ParseError {
    parse(text.as_bytes(), false).unwrap_err()
}

#[test]
fn parses_compact_forms_and_frames_body() {
    let r = req(INVITE);
    assert_eq!(r.method, Method::Invite);
    assert_eq!(r.headers.call_id(), Some("call-1@127.0.0.1"));
    assert_eq!(r.headers.cseq().unwrap().seq, 1);
    assert_eq!(r.headers.from().unwrap().tag(), Some("a1"));
    assert_eq!(r.headers.top_via().unwrap().rport(), Some(None));
    assert_eq!(r.body, b"v=0\r");
    let again = parse(&r.to_bytes(), true).unwrap();
    assert_eq!(again, Message::Request(r));
}

#[test]
fn folded_headers_are_unfolded() {
    let text = INVITE.replace("Max-Forwards: 70\r\n", "Subject: I know you're there,\r\n  pick up the phone\r\n\tand talk to me!\r\nMax-Forwards: 70\r\n");
    let r = req(&text);
    assert_eq!(
        r.headers.get(&HeaderName::Subject),
        Some("I know you're there, pick up the phone and talk to me!")
    );
}

#[test]
fn missing_mandatory_headers_get_400_with_headers_to_answer() {
    let e = rejected(&INVITE.replace("i: call-1@127.0.0.1\r\n", ""));
    assert_eq!(e.status, Some(400));
    let answer = Response::from_headers(e.headers.as_ref().unwrap(), 400);
    assert!(answer.headers.top_via().is_some());
}

#[test]
fn rejects_what_rfc_4475_calls_invalid() {
    assert_eq!(
        rejected(&INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS")).status,
        Some(400)
    );
    assert_eq!(
        rejected(&INVITE.replace("SIP/2.0\r\nVia", "SIP/7.0\r\nVia")).status,
        Some(505)
    );
    assert_eq!(
        rejected(&INVITE.replace("l: 4", "l: 9999")).status,
        Some(400)
    );
    assert_eq!(
        rejected(&INVITE.replace("l: 4", "l: -999")).status,
        Some(400)
    );
    assert_eq!(
        rejected(&INVITE.replace("l: 4", "l: 4\r\nContent-Length: 5")).status,
        Some(400)
    );
    assert_eq!(
        rejected(&INVITE.replace("CSeq: 1", "CSeq: 36893488147419103232")).status,
        Some(400)
    );
    assert_eq!(
        rejected(&INVITE.replace("t: <", "t: <sip:x@y>\r\nTo: <")).status,
        Some(400)
    );
    assert_eq!(
        rejected(&INVITE.replace(
            "INVITE sip:1002@127.0.0.1 SIP",
            "INVITE  sip:1002@127.0.0.1 SIP"
        ))
        .status,
        Some(400)
    );
    assert_eq!(
        rejected(&INVITE.replace(
            "INVITE sip:1002@127.0.0.1 SIP",
            "INVITE <sip:1002@127.0.0.1> SIP"
        ))
        .status,
        Some(400)
    );
}

#[test]
fn datagram_without_content_length_takes_the_rest_and_stream_takes_none() {
    let text = INVITE.replace("l: 4\r\n", "");
    assert_eq!(req(&text).body, b"v=0\r\n");
    match parse(text.as_bytes(), true).unwrap() {
        Message::Request(r) => assert!(r.body.is_empty()),
        Message::Response(_) => unreachable!(),
    }
}

#[test]
fn responses_parse_and_bad_codes_drop() {
    let resp = "SIP/2.0 100 \r\nVia: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\r\nCall-ID: x\r\nCSeq: 35 INVITE\r\nFrom: <sip:user@example.com>;tag=3\r\nTo: <sip:user@example.edu>\r\nContent-Length: 0\r\n\r\n";
    match parse(resp.as_bytes(), false).unwrap() {
        Message::Response(r) => assert_eq!((r.status, r.reason.as_str()), (100, "")),
        Message::Request(_) => unreachable!(),
    }
    let e = parse(resp.replace("100 ", "4294967301 Huge").as_bytes(), false).unwrap_err();
    assert_eq!(e.status, None);
}

#[test]
fn framing_by_content_length() {
    // "l: 4" declares 4 of the 5 body bytes: the fifth belongs to the next message.
    let bytes = &INVITE.as_bytes()[..INVITE.len() - 1];
    assert_eq!(frame(&bytes[..bytes.len() - 1]).unwrap(), Frame::Incomplete);
    assert_eq!(frame(bytes).unwrap(), Frame::Message(bytes.len()));
    let mut two = bytes.to_vec();
    two.extend_from_slice(bytes);
    assert_eq!(frame(&two).unwrap(), Frame::Message(bytes.len()));
    assert_eq!(
        frame(b"\r\n\r\nINVITE").unwrap(),
        Frame::KeepAlive { len: 4, ping: true }
    );
    assert_eq!(
        frame(b"\r\nINVITE").unwrap(),
        Frame::KeepAlive {
            len: 2,
            ping: false
        }
    );
    assert!(frame(INVITE.replace("l: 4", "l: x").as_bytes()).is_err());
    assert!(frame(&vec![b'a'; MAX_HEAD + 1]).is_err());
}

#[test]
fn pop_top_via_and_build_response() {
    let mut r = req(INVITE);
    r.headers
        .push_front(HeaderName::Via, "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKtop");
    assert_eq!(r.headers.top_via().unwrap().branch(), Some("z9hG4bKtop"));
    let resp = Response::to_request(&r, 180);
    assert_eq!(resp.headers.vias().len(), 2);
    assert_eq!(resp.reason, "Ringing");
    let bytes = resp.to_bytes();
    assert!(bytes.ends_with(b"Content-Length: 0\r\n\r\n"));
}
