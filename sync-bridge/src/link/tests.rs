//! Protocol violations by a raw QUIC peer that holds valid certificates.

use std::time::{Duration, SystemTime};

use quinn::crypto::rustls::QuicClientConfig;
use tokio::time::timeout;

use super::*;
use crate::pki::issue;
use crate::tls::{ClientTls, ServerTls};
use crate::wire::{Ack, DecodeError, ItemKey};

const STEP: Duration = Duration::from_secs(20);

async fn pair() -> (BridgeServer, quinn::Connection, quinn::Endpoint) {
    let p = issue(&["localhost".to_owned()], SystemTime::now()).expect("issue");
    let stls = ServerTls::from_pem(&p.ca_cert, &p.cloud_cert, &p.cloud_key).expect("tls");
    let ctls = ClientTls::from_pem(&p.ca_cert, &p.node_cert, &p.node_key).expect("tls");
    let node = NodeId::new("cloud").expect("valid id");
    let server = BridgeServer::bind(
        "127.0.0.1:0".parse().expect("addr"),
        &stls,
        &node,
        &LinkConfig::default(),
    )
    .expect("bind");
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("endpoint");
    let crypto = QuicClientConfig::try_from(ctls.config()).expect("quic tls");
    let config = quinn::ClientConfig::new(Arc::new(crypto));
    let addr = server.local_addr().expect("addr");
    let conn = endpoint
        .connect_with(config, addr, "localhost")
        .expect("connect")
        .await
        .expect("handshake");
    (server, conn, endpoint)
}

#[tokio::test]
async fn garbage_instead_of_hello_is_a_decode_error() {
    let (mut server, conn, _endpoint) = pair().await;
    let (mut send, _recv) = conn.open_bi().await.expect("stream");
    send.write_all(&[0u8; 16]).await.expect("write");
    let outcome = timeout(STEP, server.accept())
        .await
        .expect("in time")
        .expect("open");
    assert!(
        matches!(outcome, Err(LinkError::Decode(DecodeError::BadMagic(0)))),
        "{outcome:?}"
    );
    let closed = timeout(STEP, conn.closed()).await.expect("in time");
    assert!(
        matches!(&closed, quinn::ConnectionError::ApplicationClosed(c) if c.error_code == code::PROTOCOL.into()),
        "{closed:?}"
    );
}

#[tokio::test]
async fn a_frame_out_of_place_ends_the_connection() {
    let (mut server, conn, _endpoint) = pair().await;
    let (mut send, _recv) = conn.open_bi().await.expect("stream");
    let hello = our_hello(&NodeId::new("node").expect("valid id"));
    write_frame(&mut send, &Frame::Hello(hello))
        .await
        .expect("write");
    let mut accepted = timeout(STEP, server.accept())
        .await
        .expect("in time")
        .expect("open")
        .expect("hello accepted");
    assert_eq!(accepted.peer().as_str(), "node");
    assert_eq!(accepted.version(), *PAYLOAD_VERSIONS.end());
    let ack = Frame::Ack(Ack {
        keys: vec![ItemKey::from_u128(1)],
    });
    write_frame(&mut send, &ack).await.expect("write");
    let next = timeout(STEP, accepted.next()).await.expect("in time");
    assert!(
        matches!(next, Some(Err(LinkError::Unexpected("ack")))),
        "{next:?}"
    );
    assert!(accepted.next().await.is_none(), "nothing after the error");
}
