//! SIP over TLS: a rustls client that trusts the node's self-signed
//! certificate registers with SHA-256 digest credentials
//! over one TLS connection (401, then 200 on the same connection).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use common::{Node, NodeSpec};
use sip::auth::{Challenge, DigestAlgorithm, DigestRequest, respond};
use sip::message::{Frame, HeaderName, Message, Response, frame, parse};

fn read_response(tls: &mut impl Read, buf: &mut Vec<u8>) -> Response {
    loop {
        if let Ok(Frame::Message(n)) = frame(buf) {
            let msg = parse(&buf[..n], true).expect("the node sends valid SIP");
            buf.drain(..n);
            match msg {
                Message::Response(r) if r.status >= 200 => return r,
                Message::Response(_) => continue,
                Message::Request(r) => panic!("unexpected request {}", r.method),
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tls.read(&mut chunk).expect("read from the TLS connection");
        assert!(n > 0, "the node closed the TLS connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn register(port: u16, local: &str, cseq: u32, auth: Option<&str>) -> String {
    format!(
        "REGISTER sips:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bKtls{cseq};rport\r\n\
         From: <sips:1001@127.0.0.1>;tag=tls1\r\nTo: <sips:1001@127.0.0.1>\r\nCall-ID: tls-register-1\r\n\
         CSeq: {cseq} REGISTER\r\nContact: <sips:1001@{local};transport=tls>\r\nMax-Forwards: 70\r\nExpires: 300\r\n{auth}\
         Content-Length: 0\r\n\r\n",
        auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default()
    )
}

#[test]
fn register_over_tls_with_sha256_digest() {
    let node = Node::start(&NodeSpec {
        tls: true,
        ..NodeSpec::default()
    });
    let port = node.ports.tls();
    let pem =
        std::fs::read(node.dir().join("tls/node.crt")).expect("the node made its certificate");
    let config: Arc<rustls::ClientConfig> =
        sip::transport::tls_client_config_trusting(&pem).expect("client config");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("server name");
    let conn = rustls::ClientConnection::new(config, name).expect("TLS client");
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect to the TLS port");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let local = tcp.local_addr().expect("local address").to_string();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut buf = Vec::new();

    tls.write_all(register(port, &local, 1, None).as_bytes())
        .expect("send REGISTER");
    let challenge = read_response(&mut tls, &mut buf);
    assert_eq!(challenge.status, 401);
    let offered: Vec<Challenge> = challenge
        .headers
        .get_all(&HeaderName::WwwAuthenticate)
        .map(|v| Challenge::parse(v).expect("valid challenge"))
        .collect();
    assert_eq!(
        offered.iter().map(|c| c.algorithm).collect::<Vec<_>>(),
        [DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
    );

    let uri = format!("sips:127.0.0.1:{port}");
    let req = DigestRequest {
        method: "REGISTER",
        uri: &uri,
        body: None,
    };
    let auth = respond(
        &offered[0],
        "1001",
        node.password("1001"),
        &req,
        "c0ffee",
        1,
    )
    .expect("credentials");
    tls.write_all(register(port, &local, 2, Some(&auth)).as_bytes())
        .expect("send REGISTER with credentials");
    let ok = read_response(&mut tls, &mut buf);
    assert_eq!(ok.status, 200, "{ok:?}");
    let contacts: Vec<&str> = ok.headers.get_all(&HeaderName::Contact).collect();
    assert_eq!(contacts.len(), 1);
    assert!(contacts[0].contains("transport=tls"), "{contacts:?}");
}
