//! Transport tests on real loopback sockets. Nothing sleeps: waits are on I/O,
//! bounded by a timeout only so a broken build fails instead of hanging, and
//! the idle timeout runs on tokio's paused clock.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

use super::*;
use crate::net::{ConnId, Target, Transmit, TransportKind};

const IDLE: Duration = Duration::from_secs(60);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn config() -> TransportConfig {
    TransportConfig {
        udp: Some(loopback()),
        tcp: Some(loopback()),
        recv_buffer: 256 * 1024,
        tcp_idle_timeout: IDLE,
        max_connections: 16,
        ..TransportConfig::default()
    }
}

fn message(call_id: &str, body: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:svc@127.0.0.1 SIP/2.0\r\nCall-ID: {call_id}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn next(rx: &mut mpsc::Receiver<Inbound>) -> Inbound {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an inbound message within the guard timeout")
        .expect("the inbound channel stays open")
}

async fn read_n<R: AsyncReadExt + Unpin>(r: &mut R, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    tokio::time::timeout(Duration::from_secs(10), r.read_exact(&mut buf))
        .await
        .expect("bytes within the guard timeout")
        .expect("the stream delivers them");
    buf
}

/// True when the peer closes (EOF or a reset) within the guard timeout.
async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await;
    matches!(read, Ok(Ok(0) | Err(_)))
}

async fn tcp_client(t: &Transports) -> TcpStream {
    let addr = t
        .local_addr(TransportKind::Tcp)
        .expect("TCP listener bound");
    TcpStream::connect(addr)
        .await
        .expect("connect to the TCP listener")
}

#[tokio::test]
async fn udp_round_trip_skips_keepalives() {
    let (t, mut rx) = Transports::bind(config()).await.expect("bind");
    let peer = UdpSocket::bind(loopback()).await.expect("bind peer");
    let server = t.local_addr(TransportKind::Udp).expect("UDP bound");
    peer.send_to(b"\r\n\r\n", server)
        .await
        .expect("send keepalive");
    peer.send_to(b"", server)
        .await
        .expect("send empty datagram");
    let request = message("udp-1", "");
    peer.send_to(&request, server).await.expect("send request");

    let got = next(&mut rx).await;
    assert_eq!(got.bytes, request);
    assert_eq!(got.source.transport, TransportKind::Udp);
    assert_eq!(got.source.remote, peer.local_addr().expect("peer addr"));
    assert_eq!(got.source.conn, None);

    let reply = message("udp-1", "reply");
    t.send(Transmit {
        target: got.source.into(),
        bytes: reply.clone(),
    });
    let mut buf = vec![0; 2048];
    let (n, from) = tokio::time::timeout(Duration::from_secs(10), peer.recv_from(&mut buf))
        .await
        .expect("reply within the guard timeout")
        .expect("receive reply");
    assert_eq!(&buf[..n], &reply[..]);
    assert_eq!(from, server);

    let stats = t.stats();
    assert_eq!(stats.datagrams_in, 1, "keep-alives are not forwarded");
    assert_eq!(stats.datagrams_out, 1);
    assert_eq!(stats.bytes_out, reply.len() as u64);
}

#[tokio::test]
async fn tcp_two_messages_in_one_write_become_two_inbounds() {
    let (t, mut rx) = Transports::bind(config()).await.expect("bind");
    let mut client = tcp_client(&t).await;
    let (first, second) = (message("a", "one"), message("b", "two"));
    client
        .write_all(&[first.clone(), second.clone()].concat())
        .await
        .expect("write");

    let a = next(&mut rx).await;
    let b = next(&mut rx).await;
    assert_eq!(a.bytes, first);
    assert_eq!(b.bytes, second);
    assert_eq!(a.source.transport, TransportKind::Tcp);
    assert_eq!(a.source.remote, client.local_addr().expect("client addr"));
    assert!(a.source.conn.is_some());
    assert_eq!(a.source.conn, b.source.conn);
    assert_eq!(t.stats().messages_in, 2);
}

#[tokio::test]
async fn tcp_message_split_over_three_writes_is_reassembled() {
    let (t, mut rx) = Transports::bind(config()).await.expect("bind");
    let mut client = tcp_client(&t).await;
    client.set_nodelay(true).expect("nodelay");
    let whole = message("split", "body-bytes");
    let (head, rest) = whole.split_at(20);
    let (middle, tail) = rest.split_at(rest.len() - 4);
    for part in [head, middle, tail] {
        client.write_all(part).await.expect("write part");
        client.flush().await.expect("flush");
    }
    let after = message("after", "");
    client.write_all(&after).await.expect("write follow-up");

    assert_eq!(next(&mut rx).await.bytes, whole);
    assert_eq!(
        next(&mut rx).await.bytes,
        after,
        "no partial message was forwarded"
    );
}

#[tokio::test]
async fn tcp_ping_gets_a_pong_and_is_not_forwarded() {
    let (t, mut rx) = Transports::bind(config()).await.expect("bind");
    let mut client = tcp_client(&t).await;
    client.write_all(b"\r\n\r\n").await.expect("write ping");
    assert_eq!(read_n(&mut client, 2).await, b"\r\n");

    let request = message("after-ping", "");
    client.write_all(&request).await.expect("write request");
    assert_eq!(next(&mut rx).await.bytes, request);
    assert_eq!(t.stats().messages_in, 1);
}

#[tokio::test]
async fn tcp_bad_content_length_closes_the_connection() {
    let (t, _rx) = Transports::bind(config()).await.expect("bind");
    let mut client = tcp_client(&t).await;
    client
        .write_all(b"OPTIONS sip:svc@127.0.0.1 SIP/2.0\r\nContent-Length: ten\r\n\r\n")
        .await
        .expect("write");
    assert!(closed_by_peer(&mut client).await);
    assert_eq!(t.stats().framing_errors, 1);
}

#[tokio::test]
async fn tcp_response_goes_back_on_the_request_connection() {
    let (t, mut rx) = Transports::bind(config()).await.expect("bind");
    let mut alice = tcp_client(&t).await;
    let mut bob = tcp_client(&t).await;
    alice
        .write_all(&message("alice", ""))
        .await
        .expect("alice writes");
    let from_alice = next(&mut rx).await;
    bob.write_all(&message("bob", ""))
        .await
        .expect("bob writes");
    let from_bob = next(&mut rx).await;
    assert_ne!(from_alice.source.conn, from_bob.source.conn);

    let (to_alice, to_bob) = (message("alice", "answer-a"), message("bob", "answer-b"));
    t.send(Transmit {
        target: from_bob.source.into(),
        bytes: to_bob.clone(),
    });
    t.send(Transmit {
        target: from_alice.source.into(),
        bytes: to_alice.clone(),
    });
    assert_eq!(read_n(&mut alice, to_alice.len()).await, to_alice);
    assert_eq!(read_n(&mut bob, to_bob.len()).await, to_bob);
    assert_eq!(
        t.stats().connections_opened,
        0,
        "no new connection was opened"
    );
}

#[tokio::test]
async fn tcp_outbound_opens_one_connection_and_reuses_it() {
    let (t, mut rx) = Transports::bind(config()).await.expect("bind");
    let peer = TcpListener::bind(loopback()).await.expect("bind peer");
    let peer_addr = peer.local_addr().expect("peer addr");
    let target = Target {
        transport: TransportKind::Tcp,
        remote: peer_addr,
        conn: None,
    };
    let (first, second) = (message("out-1", ""), message("out-2", "x"));
    t.send(Transmit {
        target,
        bytes: first.clone(),
    });
    t.send(Transmit {
        target,
        bytes: second.clone(),
    });

    let (mut stream, _) = peer.accept().await.expect("accept");
    let both = read_n(&mut stream, first.len() + second.len()).await;
    assert_eq!(both, [first, second].concat());

    let answer = message("out-1", "answer");
    stream.write_all(&answer).await.expect("peer answers");
    let got = next(&mut rx).await;
    assert_eq!(got.bytes, answer);
    assert_eq!(got.source.remote, peer_addr);
    assert!(got.source.conn.is_some());

    // A stale connection id falls back to the open connection to the peer.
    let third = message("out-3", "");
    t.send(Transmit {
        target: Target {
            conn: Some(ConnId(u64::MAX)),
            ..target
        },
        bytes: third.clone(),
    });
    assert_eq!(read_n(&mut stream, third.len()).await, third);
    let stats = t.stats();
    assert_eq!(stats.connections_opened, 1);
    assert_eq!(stats.connections_open, 1);
    assert_eq!(stats.messages_out, 3);
}

#[tokio::test]
async fn tcp_idle_connection_closes_after_the_timeout() {
    let (t, mut rx) = Transports::bind(config()).await.expect("bind");
    let mut client = tcp_client(&t).await;
    client.write_all(&message("idle", "")).await.expect("write");
    next(&mut rx).await;

    tokio::time::pause();
    tokio::time::advance(IDLE / 2).await;
    assert_eq!(
        t.stats().connections_open,
        1,
        "still open halfway through the timeout"
    );
    tokio::time::advance(IDLE).await;
    // Back to the real clock, so waiting on the socket cannot move time.
    tokio::time::resume();
    assert!(closed_by_peer(&mut client).await);
    assert_eq!(t.stats().closed_idle, 1);
}

#[tokio::test]
async fn tcp_connections_beyond_the_limit_are_refused() {
    let (t, mut rx) = Transports::bind(TransportConfig {
        max_connections: 1,
        ..config()
    })
    .await
    .expect("bind");
    let mut first = tcp_client(&t).await;
    first.write_all(&message("first", "")).await.expect("write");
    next(&mut rx).await;

    let mut second = tcp_client(&t).await;
    assert!(closed_by_peer(&mut second).await);
    let stats = t.stats();
    assert_eq!(stats.connections_refused, 1);
    assert_eq!(stats.connections_accepted, 1);
}

fn tls_pair() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let (cert, key) = self_signed(&["127.0.0.1".to_string()]).expect("self-signed certificate");
    let server = tls_server_config(cert.as_bytes(), key.as_bytes()).expect("server config");
    let client = tls_client_config_trusting(cert.as_bytes()).expect("client config");
    (server, client)
}

fn tls_only(server: Arc<rustls::ServerConfig>) -> TransportConfig {
    TransportConfig {
        udp: None,
        tcp: None,
        tls: Some((loopback(), server)),
        ..config()
    }
}

#[tokio::test]
async fn tls_client_message_and_reply_on_the_same_connection() {
    let (server, client_config) = tls_pair();
    let (t, mut rx) = Transports::bind(tls_only(server)).await.expect("bind");
    let addr = t
        .local_addr(TransportKind::Tls)
        .expect("TLS listener bound");
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let connector = tokio_rustls::TlsConnector::from(client_config);
    let name = ServerName::IpAddress(addr.ip().into());
    let mut client = connector.connect(name, tcp).await.expect("TLS handshake");

    let request = message("tls-1", "secret");
    client.write_all(&request).await.expect("write");
    client.flush().await.expect("flush");
    let got = next(&mut rx).await;
    assert_eq!(got.bytes, request);
    assert_eq!(got.source.transport, TransportKind::Tls);
    assert!(got.source.conn.is_some());

    let reply = message("tls-1", "ok");
    t.send(Transmit {
        target: got.source.into(),
        bytes: reply.clone(),
    });
    assert_eq!(read_n(&mut client, reply.len()).await, reply);
}

#[tokio::test]
async fn tls_outbound_connects_and_the_answer_returns_on_it() {
    let (server, client_config) = tls_pair();
    let (b, mut b_rx) = Transports::bind(tls_only(server)).await.expect("bind b");
    let a_config = TransportConfig {
        udp: None,
        tcp: None,
        tls_client: Some(client_config),
        ..config()
    };
    let (a, mut a_rx) = Transports::bind(a_config).await.expect("bind a");
    let b_addr = b
        .local_addr(TransportKind::Tls)
        .expect("TLS listener bound");

    let request = message("tls-out", "");
    a.send(Transmit {
        target: Target {
            transport: TransportKind::Tls,
            remote: b_addr,
            conn: None,
        },
        bytes: request.clone(),
    });
    let at_b = next(&mut b_rx).await;
    assert_eq!(at_b.bytes, request);
    assert_eq!(at_b.source.transport, TransportKind::Tls);

    let answer = message("tls-out", "answer");
    b.send(Transmit {
        target: at_b.source.into(),
        bytes: answer.clone(),
    });
    let at_a = next(&mut a_rx).await;
    assert_eq!(at_a.bytes, answer);
    assert_eq!(at_a.source.transport, TransportKind::Tls);
    assert_eq!(at_a.source.remote, b_addr);
    assert_eq!(a.stats().connections_opened, 1);
    assert_eq!(b.stats().connections_accepted, 1);
}

#[tokio::test]
async fn tls_send_without_client_config_is_dropped() {
    let (t, _rx) = Transports::bind(config()).await.expect("bind");
    let remote = SocketAddr::from(([127, 0, 0, 1], 5061));
    t.send(Transmit {
        target: Target {
            transport: TransportKind::Tls,
            remote,
            conn: None,
        },
        bytes: message("x", ""),
    });
    let stats = t.stats();
    assert_eq!(stats.send_drops, 1);
    assert_eq!(stats.connections_open, 0);
}
