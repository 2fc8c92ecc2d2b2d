//! Defaults, derived defaults and path resolution of valid configurations.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{ConfigError, DigestAlgorithm, NodeConfig, StoreUrl, TlsIdentity};

fn parse(text: &str) -> NodeConfig {
    match NodeConfig::parse(text, Path::new("/etc/switchyard/node.toml")) {
        Ok(config) => config,
        Err(err) => panic!("{err}"),
    }
}

#[test]
fn an_empty_file_gives_the_defaults() {
    let config = parse("");
    assert_eq!(config, NodeConfig::default());
    assert_eq!(parse("# only a comment\n\n"), config);
    assert_eq!(parse("[sip]\n[media]\n"), config);

    assert_eq!(config.node.name, "switchyard");
    assert_eq!(config.node.data_dir, Path::new("/var/lib/switchyard"));
    assert_eq!(config.sip.listen, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(config.sip.port, 5060);
    let tls = config
        .sip
        .tls
        .as_ref()
        .map(|t| (t.port, t.identity.clone()));
    assert_eq!(tls, Some((5061, TlsIdentity::SelfSigned)));
    assert_eq!(config.sip.advertise, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(config.sip.domain, "switchyard.local");
    assert_eq!(
        (config.sip.t1, config.sip.t2, config.sip.t4),
        (
            Duration::from_millis(500),
            Duration::from_secs(4),
            Duration::from_secs(5)
        )
    );
    assert_eq!(config.sip.tcp_idle_timeout, Duration::from_secs(300));
    assert_eq!(config.sip.recv_buffer_bytes, 4_194_304);
    assert_eq!(config.registrar.min_expires, Duration::from_secs(60));
    assert_eq!(config.registrar.default_expires, Duration::from_secs(3600));
    assert_eq!(config.registrar.max_expires, Duration::from_secs(7200));
    assert_eq!(config.registrar.max_contacts, 10);
    assert_eq!(
        config.auth.algorithms,
        [DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
    );
    assert_eq!(config.auth.nonce_ttl, Duration::from_secs(300));
    assert_eq!(config.auth.max_failures, 5);
    assert_eq!(config.auth.failure_window, Duration::from_secs(60));
    assert_eq!(config.auth.ban, Duration::from_secs(300));
    assert!(config.auth.trusted.is_empty());
    assert!(!config.auth.trusts(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert_eq!(config.media.bind, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(config.media.advertise, config.sip.advertise);
    assert_eq!(
        (config.media.rtp_port_min, config.media.rtp_port_max),
        (20_000, 30_000)
    );
    assert_eq!(
        config.store.url,
        StoreUrl::Sqlite(PathBuf::from("/var/lib/switchyard/switchyard.db"))
    );
    assert_eq!(config.store.cdr_batch_max, 512);
    assert_eq!(config.calls.ring_timeout, Duration::from_secs(60));
    assert_eq!(config.calls.max_duration, Duration::from_secs(14_400));
    assert!(!config.calls.record);
    assert_eq!(config.http.listen, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(config.http.port, 8080);
    assert_eq!(config.http.grpc_port, None);
    assert_eq!(config.log.level, "info");
}

#[test]
fn default_for_puts_the_database_in_the_data_dir() {
    let config = NodeConfig::default_for(Path::new("/srv/sy"));
    assert_eq!(config.node.data_dir, Path::new("/srv/sy"));
    assert_eq!(
        config.store.url,
        StoreUrl::Sqlite(PathBuf::from("/srv/sy/switchyard.db"))
    );
    assert_eq!(
        config.store.url.to_string(),
        "sqlite:///srv/sy/switchyard.db"
    );
}

#[test]
fn relative_paths_resolve_against_the_file_and_the_data_dir() {
    let config = parse(
        "[node]\ndata_dir = \"data\"\n[sip]\ntls_cert = \"./tls/node.crt\"\n\
         tls_key = \"/etc/ssl/node.key\"\n[store]\nurl = \"sqlite://db/x.db\"\n",
    );
    assert_eq!(config.node.data_dir, Path::new("/etc/switchyard/data"));
    let identity = config.sip.tls.map(|t| t.identity);
    assert_eq!(
        identity,
        Some(TlsIdentity::Files {
            cert: PathBuf::from("/etc/switchyard/tls/node.crt"),
            key: PathBuf::from("/etc/ssl/node.key"),
        })
    );
    assert_eq!(
        config.store.url,
        StoreUrl::Sqlite(PathBuf::from("/etc/switchyard/data/db/x.db"))
    );
    let absolute = parse("[store]\nurl = \"sqlite:///tmp/sy.db\"\n");
    assert_eq!(
        absolute.store.url,
        StoreUrl::Sqlite(PathBuf::from("/tmp/sy.db"))
    );
}

#[test]
fn a_file_without_a_directory_keeps_paths_relative() {
    let config = NodeConfig::parse("[node]\ndata_dir = \"./d\"\n", Path::new("n.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.node.data_dir, Path::new("d"));
    let here = NodeConfig::parse("[node]\ndata_dir = \".\"\n", Path::new("n.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(here.node.data_dir.as_os_str(), ".");
}

#[test]
fn postgres_urls_are_kept_as_written() {
    for url in [
        "postgres://sy:pw@db/sy",
        "postgresql://db.example/sy?sslmode=require",
    ] {
        let config = parse(&format!("[store]\nurl = \"{url}\"\n"));
        assert_eq!(config.store.url, StoreUrl::Postgres(url.to_owned()));
        assert_eq!(config.store.url.to_string(), url);
    }
}

#[test]
fn advertise_follows_listen_and_media_follows_sip() {
    let specific = parse("[sip]\nlisten = \"192.0.2.10\"\n");
    assert_eq!(specific.sip.advertise, IpAddr::from([192, 0, 2, 10]));
    assert_eq!(specific.media.advertise, specific.sip.advertise);

    let v6 = parse("[sip]\nlisten = \"::\"\n");
    assert_eq!(v6.sip.advertise, IpAddr::V6(Ipv6Addr::LOCALHOST));

    let explicit =
        parse("[sip]\nadvertise = \"203.0.113.7\"\n[media]\nadvertise = \"203.0.113.8\"\n");
    assert_eq!(explicit.sip.advertise, IpAddr::from([203, 0, 113, 7]));
    assert_eq!(explicit.media.advertise, IpAddr::from([203, 0, 113, 8]));
}

#[test]
fn tls_port_zero_disables_tls_and_frees_its_port() {
    let config = parse("[sip]\ntls_port = 0\n[http]\nport = 5061\n");
    assert_eq!(config.sip.tls, None);
    assert_eq!(config.http.port, 5061);
}

#[test]
fn grpc_port_zero_serves_no_grpc() {
    assert_eq!(parse("[http]\ngrpc_port = 0\n").http.grpc_port, None);
    assert_eq!(
        parse("[http]\ngrpc_port = 8081\n").http.grpc_port,
        Some(8081)
    );
    // On another address than SIP's, a SIP port number is free for gRPC.
    let apart = parse("[sip]\nlisten = \"192.0.2.1\"\n[http]\ngrpc_port = 5060\n");
    assert_eq!(apart.http.grpc_port, Some(5060));
}

#[test]
fn http_may_share_a_port_number_on_another_address() {
    let config = parse("[sip]\nlisten = \"192.0.2.1\"\n[http]\nport = 5060\n");
    assert_eq!(config.http.port, 5060);
}

#[test]
fn integers_in_any_toml_notation_are_accepted() {
    let config = parse("[sip]\nrecv_buffer_bytes = 0x10_0000\nt2_ms = 8_000\n");
    assert_eq!(config.sip.recv_buffer_bytes, 1 << 20);
    assert_eq!(config.sip.t2, Duration::from_secs(8));
}

#[test]
fn algorithms_keep_the_written_order() {
    let config = parse("[auth]\nalgorithms = [\"MD5\", \"SHA-256\"]\n");
    assert_eq!(
        config.auth.algorithms,
        [DigestAlgorithm::Md5, DigestAlgorithm::Sha256]
    );
    let only = parse("auth.algorithms = [\"SHA-256\"]\n");
    assert_eq!(only.auth.algorithms, [DigestAlgorithm::Sha256]);
}

#[test]
fn trusted_sources_are_parsed_in_the_written_order() {
    let config = parse("[auth]\ntrusted = [\"127.0.0.1\", \"10.0.0.0/8\", \"2001:db8::/32\"]\n");
    let written: Vec<String> = config
        .auth
        .trusted
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(written, ["127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32"]);
    assert!(config.auth.trusts(IpAddr::V4(Ipv4Addr::new(10, 200, 0, 1))));
    assert!(
        config
            .auth
            .trusts(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 7, 0, 0, 0, 0, 1)))
    );
    assert!(!config.auth.trusts(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))));
    assert!(!config.auth.trusts(IpAddr::V6(Ipv6Addr::LOCALHOST)));

    let empty = parse("auth.trusted = []\n");
    assert!(empty.auth.trusted.is_empty());
    assert_eq!(empty, NodeConfig::default());
}

#[test]
fn load_reads_the_file_and_resolves_against_its_directory() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("config-load-test");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("node.toml");
    std::fs::write(&file, "[node]\ndata_dir = \"var\"\n[sip]\nport = 5070\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let config = NodeConfig::load(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.sip.port, 5070);
    assert_eq!(config.node.data_dir, dir.join("var"));

    std::fs::write(&file, "[sip]\nport = 0\n").unwrap_or_else(|e| panic!("{e}"));
    let err = NodeConfig::load(&file).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:8: sip.port: expected an integer 1..=65535, found 0",
            file.display()
        )
    );
}

#[test]
fn load_reports_a_missing_file() {
    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such-dir/node.toml");
    let err = NodeConfig::load(&missing).unwrap_err();
    assert!(matches!(&err, ConfigError::Read { path, .. } if path == &missing));
    assert!(err.diagnostics().is_empty());
    assert!(err.to_string().starts_with(&missing.display().to_string()));
}
