//! The control plane end to end: datagrams in, replies out, media through a real relay.

use std::time::Duration;

use tokio::net::UdpSocket;

use super::*;

fn control(min: u16) -> Control {
    let relay = Relay::new(RelayConfig {
        bind_ip: LOCALHOST,
        advertise_ip: LOCALHOST,
        ports: PortRange { min, max: min + 15 },
        recv_buffer: 0,
    })
    .expect("valid test config");
    Control::new(relay)
}

fn datagram(cookie: &str, message: &Value) -> Vec<u8> {
    let mut out = format!("{cookie} ").into_bytes();
    message.encode(&mut out);
    out
}

/// Sends `message` and returns the decoded reply, checking the cookie comes back.
fn exchange(control: &mut Control, message: &Value) -> Value {
    let reply = control
        .handle_datagram(&datagram("c1", message))
        .expect("a cookie gets a reply");
    let body = reply.strip_prefix(b"c1 ").expect("same cookie");
    bencode::decode(body).expect("replies are valid bencode")
}

fn result(reply: &Value) -> (&str, &str) {
    let text = |key| reply.get(key).and_then(Value::as_str).unwrap_or_default();
    (text("result"), text("error-reason"))
}

fn sdp_for(addr: SocketAddr) -> Value {
    Value::text(&format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n",
        ip = addr.ip(),
        port = addr.port()
    ))
}

fn offer(call: &str, to: SocketAddr) -> Value {
    Value::dict([
        ("command", Value::text("offer")),
        ("call-id", Value::text(call)),
        ("from-tag", Value::text("f")),
        ("sdp", sdp_for(to)),
    ])
}

fn answer(call: &str, to: SocketAddr) -> Value {
    Value::dict([
        ("command", Value::text("answer")),
        ("call-id", Value::text(call)),
        ("from-tag", Value::text("f")),
        ("to-tag", Value::text("t")),
        ("sdp", sdp_for(to)),
    ])
}

fn relay_address(reply: &Value) -> SocketAddr {
    let body = reply
        .get("sdp")
        .and_then(Value::as_str)
        .expect("sdp in reply");
    sdp::audio_endpoint(body).expect("rewritten sdp names the relay")
}

#[tokio::test]
async fn offer_and_answer_relay_media_between_the_two_parties() {
    let mut control = control(24_300);
    let caller = UdpSocket::bind((LOCALHOST, 0)).await.expect("caller");
    let callee = UdpSocket::bind((LOCALHOST, 0)).await.expect("callee");
    let bound = |s: &UdpSocket| s.local_addr().expect("bound");
    let to_callee = exchange(&mut control, &offer("call-1", bound(&caller)));
    assert_eq!(result(&to_callee), ("ok", ""));
    let to_caller = exchange(&mut control, &answer("call-1", bound(&callee)));
    assert_eq!(result(&to_caller), ("ok", ""));
    let (side_a, side_b) = (relay_address(&to_caller), relay_address(&to_callee));
    assert_ne!(side_a, side_b);
    assert!((24_300..=24_315).contains(&side_a.port()));

    caller.send_to(b"hello", side_a).await.expect("send");
    let mut buf = [0; 16];
    let wait = Duration::from_secs(5);
    let (len, from) = tokio::time::timeout(wait, callee.recv_from(&mut buf))
        .await
        .expect("relayed in time")
        .expect("received");
    assert_eq!((&buf[..len], from), (&b"hello"[..], side_b));

    let statistics = Value::dict([("command", Value::text("statistics"))]);
    let counts = exchange(&mut control, &statistics);
    for (key, expected) in [
        ("calls", 1),
        ("relayed", 1),
        ("dropped", 0),
        ("send-failed", 0),
    ] {
        assert_eq!(counts.get(key), Some(&Value::Int(expected)), "{key}");
    }
}

#[tokio::test]
async fn delete_frees_the_call_and_unknown_calls_are_refused() {
    let mut control = control(24_320);
    let phone = SocketAddr::new(LOCALHOST, 5_000);
    let first = relay_address(&exchange(&mut control, &offer("c", phone)));
    let again = relay_address(&exchange(&mut control, &offer("c", phone)));
    assert_eq!(first, again, "a repeated offer keeps the call's ports");
    let delete = Value::dict([
        ("command", Value::text("delete")),
        ("call-id", Value::text("c")),
        ("from-tag", Value::text("f")),
    ]);
    assert_eq!(result(&exchange(&mut control, &delete)).0, "ok");
    assert_eq!(
        result(&exchange(&mut control, &delete)),
        ("error", "Call-ID not found")
    );
    assert_eq!(
        result(&exchange(&mut control, &answer("c", phone))),
        ("error", "Unknown call-id")
    );
}

#[tokio::test]
async fn bad_requests_get_reasons_and_no_cookie_gets_silence() {
    let mut control = control(24_340);
    let ping = Value::dict([("command", Value::text("ping"))]);
    assert_eq!(result(&exchange(&mut control, &ping)).0, "pong");
    let no_sdp = Value::dict([
        ("command", Value::text("offer")),
        ("call-id", Value::text("c")),
        ("from-tag", Value::text("f")),
    ]);
    assert_eq!(
        result(&exchange(&mut control, &no_sdp)),
        ("error", "No sdp in message")
    );
    let mut no_audio = offer("c", SocketAddr::new(LOCALHOST, 1));
    if let Value::Dict(map) = &mut no_audio {
        map.insert(b"sdp".to_vec(), Value::text("v=0\r\n"));
    }
    assert_eq!(
        result(&exchange(&mut control, &no_audio)),
        ("error", "no m=audio line")
    );
    let unknown = Value::dict([("command", Value::text("frobnicate"))]);
    assert_eq!(
        result(&exchange(&mut control, &unknown)),
        ("error", "Unrecognized command 'frobnicate'")
    );
    let garbage = control.handle_datagram(b"c9 d7:command").expect("cookie");
    assert!(garbage.starts_with(b"c9 d12:error-reason"));
    assert_eq!(control.handle_datagram(b"no-space-at-all"), None);
    assert_eq!(control.handle_datagram(b" d4:pingi1ee"), None);
}

#[test]
fn options_parse_and_bad_ones_are_named() {
    let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    let parsed = parse_args(args(
        "--listen 127.0.0.2:9 --ports 100-200 --threads 2 --recv-buffer 65536",
    ));
    assert_eq!(
        parsed,
        Ok(Options {
            listen: "127.0.0.2:9".parse().expect("addr"),
            ports: PortRange { min: 100, max: 200 },
            threads: 2,
            recv_buffer: 65_536,
        })
    );
    assert_eq!(
        parse_args(args("--ports 5")),
        Err("--ports 5: not MIN-MAX".into())
    );
    assert_eq!(
        parse_args(args("--threads")),
        Err("--threads needs a value".into())
    );
    assert_eq!(
        parse_args(args("--bogus 1")),
        Err("unknown option --bogus".into())
    );
}
