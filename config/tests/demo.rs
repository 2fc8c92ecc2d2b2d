//! The demo's generated configuration parses back to the demo configuration.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use config::{DigestAlgorithm, NodeConfig, StoreUrl, TlsConfig, TlsIdentity, demo_toml};
use proptest::prelude::*;

fn expected(dir: &Path, sip_port: u16, http_port: u16) -> NodeConfig {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut c = NodeConfig::default_for(dir);
    c.node.name = "switchyard-demo".to_owned();
    c.sip.listen = loopback;
    c.sip.advertise = loopback;
    c.sip.port = sip_port;
    c.sip.tls = sip_port.checked_add(1).map(|port| TlsConfig {
        port,
        identity: TlsIdentity::SelfSigned,
    });
    c.sip.domain = "127.0.0.1".to_owned();
    c.auth.algorithms = vec![DigestAlgorithm::Md5];
    c.media.bind = loopback;
    c.media.advertise = loopback;
    c.http.listen = loopback;
    c.http.port = http_port;
    c.ivr.numbers = vec![
        ("500".to_owned(), "main".to_owned()),
        ("800".to_owned(), "huddle".to_owned()),
    ];
    c
}

/// `config` is the demo configuration: the ACD part by its shape (and the engine
/// accepts it; every queue has its options), everything else field by field.
fn demo_matches(config: &NodeConfig, dir: &Path, sip_port: u16, http_port: u16) -> bool {
    let queues: Vec<&str> = config.acd.queues.iter().map(|q| q.id.as_str()).collect();
    let agents: Vec<&str> = config.acd.agents.iter().map(|a| a.id.as_str()).collect();
    let mut rest = config.clone();
    rest.acd = expected(dir, sip_port, http_port).acd;
    rest.queue_options = expected(dir, sip_port, http_port).queue_options;
    let mut with_options: Vec<&str> = config.queue_options.keys().map(String::as_str).collect();
    with_options.sort_unstable();
    let mut sorted = queues.clone();
    sorted.sort_unstable();
    with_options == sorted
        && queues == ["premium", "sales", "support", "billing"]
        && agents == ["1005", "1006", "1007", "1008"]
        && acd::Acd::new(config.acd.clone()).is_ok()
        && rest == expected(dir, sip_port, http_port)
}

fn load_back(dir: &Path, sip_port: u16, http_port: u16) -> NodeConfig {
    let text = demo_toml(dir, sip_port, http_port);
    NodeConfig::parse(&text, &dir.join("switchyard.toml"))
        .unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
}

#[test]
fn demo_config_round_trips() {
    let dir = Path::new("/tmp/switchyard-demo");
    let config = load_back(dir, 5060, 8080);
    assert!(demo_matches(&config, dir, 5060, 8080), "{config:#?}");
    assert_eq!(
        config.store.url,
        StoreUrl::Sqlite(PathBuf::from("/tmp/switchyard-demo/switchyard.db"))
    );
    assert_eq!(config.sip.tls.map(|t| t.port), Some(5061));
    assert!(!config.calls.record, "the demo does not record calls");
    assert!(
        config.auth.trusted.is_empty(),
        "the demo authenticates every source"
    );
}

#[test]
fn demo_dir_with_quotes_and_backslashes_round_trips() {
    let dir = Path::new("/tmp/a \"quoted\" dir\\with\\backslashes/ünï");
    assert!(demo_matches(
        &load_back(dir, 15060, 18080),
        dir,
        15060,
        18080
    ));
}

#[test]
fn demo_relative_dir_names_the_file_directory() {
    let dir = Path::new("demo-data");
    assert!(demo_toml(dir, 5060, 8080).contains("data_dir = \".\""));
    assert!(demo_matches(&load_back(dir, 5060, 8080), dir, 5060, 8080));
}

#[test]
fn demo_on_the_last_port_disables_tls() {
    let dir = Path::new("/srv/demo");
    let config = load_back(dir, u16::MAX, 8080);
    assert_eq!(config.sip.tls, None);
    assert!(demo_matches(&config, dir, u16::MAX, 8080));
}

proptest! {
    #[test]
    fn demo_config_round_trips_for_any_ports(
        sip_port in 1u16..,
        http_port in 1u16..,
        dir in "/[a-zA-Z0-9 _.\"\\\\-]{1,30}",
    ) {
        prop_assume!(http_port != sip_port && Some(http_port) != sip_port.checked_add(1));
        let dir = PathBuf::from(dir);
        prop_assert!(demo_matches(&load_back(&dir, sip_port, http_port), &dir, sip_port, http_port));
    }
}
