//! A standby's SIP port while it does not serve: every request (but ACK)
//! gets 503 Service Unavailable, so a phone that tries the standby while
//! the primary is alive moves on to the primary at once (RFC 3261 §21.5.4)
//! instead of waiting for a timeout.
//!
//! It holds the node's UDP and TCP SIP sockets; aborting the task frees them
//! for the node that starts at takeover. Unparsable input is dropped; nothing
//! here can panic on what arrives.

use std::net::SocketAddr;

use sip::message::{Message, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;

/// Binds the SIP port (UDP and TCP) and answers until aborted.
///
/// # Errors
///
/// The port cannot be bound.
pub(crate) async fn start(addr: SocketAddr) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let udp = UdpSocket::bind(addr).await?;
    let tcp = TcpListener::bind(addr).await?;
    Ok(tokio::spawn(serve(udp, tcp)))
}

async fn serve(udp: UdpSocket, tcp: TcpListener) {
    let mut connections = JoinSet::new();
    let mut buf = vec![0; 65_535];
    loop {
        tokio::select! {
            got = udp.recv_from(&mut buf) => {
                let Ok((n, peer)) = got else { continue };
                if let Some(answer) = answer(&buf[..n], false) {
                    let _ = udp.send_to(&answer, peer).await;
                }
            }
            conn = tcp.accept() => {
                if let Ok((stream, _)) = conn {
                    connections.spawn(serve_stream(stream));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Answers each message on a TCP connection; closes it on garbage.
async fn serve_stream(mut stream: TcpStream) {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0; 4096];
    loop {
        match sip::message::frame(&buf) {
            Ok(sip::message::Frame::Message(len)) => {
                let message: Vec<u8> = buf.drain(..len).collect();
                if let Some(answer) = answer(&message, true)
                    && stream.write_all(&answer).await.is_err()
                {
                    return;
                }
                continue;
            }
            Ok(sip::message::Frame::KeepAlive { len, ping }) => {
                buf.drain(..len);
                if ping && stream.write_all(b"\r\n").await.is_err() {
                    return;
                }
                continue;
            }
            Ok(sip::message::Frame::Incomplete) => {}
            Err(_) => return,
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The 503 for a request, or nothing (responses, ACK, garbage).
fn answer(bytes: &[u8], stream: bool) -> Option<Vec<u8>> {
    let Ok(Message::Request(req)) = sip::message::parse(bytes, stream) else {
        return None;
    };
    (req.method != sip::message::Method::Ack).then(|| refusal(&req).to_bytes())
}

fn refusal(req: &Request) -> Response {
    let mut resp = Response::to_request(req, 503);
    if let Some(mut to) = resp.headers.to()
        && to.tag().is_none()
    {
        let tag = format!("{:016x}", rand::random::<u64>());
        to.params.set("tag", Some(tag.as_str()));
        resp.headers
            .set(sip::message::HeaderName::To, to.to_string());
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTER: &str = "REGISTER sip:10.0.0.3 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bKabc\r\n\
        From: <sip:1001@10.0.0.3>;tag=1\r\n\
        To: <sip:1001@10.0.0.3>\r\n\
        Call-ID: reg-1\r\n\
        CSeq: 1 REGISTER\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn a_request_gets_503_with_its_transaction_headers_and_a_to_tag() {
        let answer = answer(REGISTER.as_bytes(), false).expect("answered");
        let Ok(Message::Response(resp)) = sip::message::parse(&answer, false) else {
            panic!("not a response");
        };
        assert_eq!(resp.status, 503);
        assert_eq!(resp.headers.call_id(), Some("reg-1"));
        assert!(resp.headers.to().is_some_and(|t| t.tag().is_some()));
        assert!(
            resp.headers
                .get(&sip::message::HeaderName::Via)
                .is_some_and(|v| v.contains("z9hG4bKabc"))
        );
    }

    #[test]
    fn ack_responses_and_garbage_get_nothing() {
        let ack = REGISTER
            .replace("REGISTER sip", "ACK sip")
            .replace("1 REGISTER", "1 ACK");
        assert!(answer(ack.as_bytes(), false).is_none());
        assert!(answer(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", false).is_none());
        assert!(answer(b"\x00\xff garbage", false).is_none());
        assert!(answer(b"", false).is_none());
    }
}
