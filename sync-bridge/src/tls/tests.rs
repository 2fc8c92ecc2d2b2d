//! Handshakes run in memory: rustls connections pumped into each other.

use std::time::SystemTime;

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ServerConnection};

use super::*;
use crate::pki::{Bundle, issue};

fn bundle() -> Bundle {
    issue(
        &["localhost".to_owned(), "127.0.0.1".to_owned()],
        SystemTime::now(),
    )
    .expect("issue")
}

fn server(trust: &Bundle, own: &Bundle) -> ServerTls {
    ServerTls::from_pem(&trust.ca_cert, &own.cloud_cert, &own.cloud_key).expect("server config")
}

fn client(trust: &Bundle, own: &Bundle) -> ClientTls {
    ClientTls::from_pem(&trust.ca_cert, &own.node_cert, &own.node_key).expect("client config")
}

#[derive(Debug)]
enum Refused {
    ByClient(rustls::Error),
    ByServer(rustls::Error),
}

/// Runs a handshake to completion; on success returns the client side.
fn handshake(
    c: &ClientTls,
    s: &ServerTls,
    name: &str,
) -> Result<(ClientConnection, ServerConnection), Refused> {
    let name = ServerName::try_from(name.to_owned()).expect("valid name");
    let mut cc = ClientConnection::new(c.config(), name).expect("client");
    let mut sc = ServerConnection::new(s.config()).expect("server");
    for _ in 0..20 {
        let mut buf = Vec::new();
        while cc.wants_write() {
            cc.write_tls(&mut buf).expect("memory write");
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            sc.read_tls(&mut rd).expect("memory read");
        }
        sc.process_new_packets().map_err(Refused::ByServer)?;
        let mut buf = Vec::new();
        while sc.wants_write() {
            sc.write_tls(&mut buf).expect("memory write");
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            cc.read_tls(&mut rd).expect("memory read");
        }
        cc.process_new_packets().map_err(Refused::ByClient)?;
        if !cc.is_handshaking() && !sc.is_handshaking() {
            return Ok((cc, sc));
        }
    }
    panic!("handshake did not finish");
}

#[test]
fn node_and_cloud_from_one_ca_agree_on_tls13_and_alpn() {
    let pki = bundle();
    let (cc, sc) =
        handshake(&client(&pki, &pki), &server(&pki, &pki), "localhost").expect("handshake");
    assert_eq!(
        cc.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(cc.alpn_protocol(), Some(ALPN));
    let peer = sc
        .peer_certificates()
        .expect("client presented a certificate");
    assert_eq!(
        peer[0].as_ref(),
        pki::parse_certs(&pki.node_cert).expect("pem")[0].as_ref()
    );
    handshake(&client(&pki, &pki), &server(&pki, &pki), "127.0.0.1").expect("IP SAN");
}

#[test]
fn node_refuses_a_cloud_certificate_from_another_ca() {
    let ours = bundle();
    let theirs = bundle();
    // The server trusts our CA for clients but presents a certificate from theirs.
    let s = server(&ours, &theirs);
    match handshake(&client(&ours, &ours), &s, "localhost") {
        Err(Refused::ByClient(rustls::Error::InvalidCertificate(e))) => {
            assert_eq!(e, rustls::CertificateError::UnknownIssuer);
        }
        other => panic!("expected the node to refuse, got {other:?}"),
    }
}

#[test]
fn cloud_refuses_a_node_certificate_from_another_ca() {
    let ours = bundle();
    let theirs = bundle();
    let c = client(&ours, &theirs);
    match handshake(&c, &server(&ours, &ours), "localhost") {
        Err(Refused::ByServer(rustls::Error::InvalidCertificate(e))) => {
            assert_eq!(e, rustls::CertificateError::UnknownIssuer);
        }
        other => panic!("expected the cloud to refuse, got {other:?}"),
    }
}

#[test]
fn cloud_refuses_a_node_without_a_certificate() {
    let pki = bundle();
    let anonymous = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_root_certificates(
            roots(&pki::parse_certs(&pki.ca_cert).expect("pem")).expect("roots"),
        )
        .with_no_client_auth();
    let mut anonymous = anonymous;
    anonymous.alpn_protocols = vec![ALPN.to_vec()];
    let c = ClientTls(Arc::new(anonymous));
    assert!(matches!(
        handshake(&c, &server(&pki, &pki), "localhost"),
        Err(Refused::ByServer(rustls::Error::NoCertificatesPresented))
    ));
}

#[test]
fn node_refuses_a_cloud_certificate_for_another_name() {
    let pki = bundle();
    match handshake(
        &client(&pki, &pki),
        &server(&pki, &pki),
        "bridge.example.com",
    ) {
        Err(Refused::ByClient(rustls::Error::InvalidCertificate(e))) => {
            assert!(format!("{e:?}").starts_with("NotValidForName"), "{e:?}");
        }
        other => panic!("expected the node to refuse, got {other:?}"),
    }
}

#[test]
fn a_node_certificate_cannot_serve_and_a_cloud_certificate_cannot_be_a_client() {
    let pki = bundle();
    // The cloud presenting the node's (client-auth) certificate.
    let s = ServerTls::from_pem(&pki.ca_cert, &pki.node_cert, &pki.node_key).expect("config");
    assert!(matches!(
        handshake(&client(&pki, &pki), &s, "switchyard-node"),
        Err(Refused::ByClient(rustls::Error::InvalidCertificate(_)))
    ));
    // The node presenting the cloud's (server-auth) certificate.
    let c = ClientTls::from_pem(&pki.ca_cert, &pki.cloud_cert, &pki.cloud_key).expect("config");
    assert!(matches!(
        handshake(&c, &server(&pki, &pki), "localhost"),
        Err(Refused::ByServer(rustls::Error::InvalidCertificate(_)))
    ));
}

#[test]
fn an_empty_trust_store_is_refused() {
    let pki = bundle();
    let chain = pki::parse_certs(&pki.node_cert).expect("pem");
    let key = pki::parse_key(&pki.node_key).expect("pem");
    assert!(matches!(
        ClientTls::new(&[], chain, key),
        Err(TlsError::NoAnchor)
    ));
}
