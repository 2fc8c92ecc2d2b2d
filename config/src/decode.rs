//! Decoding the parsed TOML document into [`NodeConfig`], section by section.
//!
//! Each `*_section` function reads its keys (type and range problems are reported
//! by the [`Section`] reader), fills in defaults, resolves relative paths, and then
//! runs the section's cross-key checks, which point at the key the file set.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use crate::error::{ConfigError, ProblemKind, Problems};
use crate::reader::{Field, Section, resolve};
use crate::rules::{Bound, Order, check_order, digest_algorithms, trusted_sources};
use crate::sections::{
    AuthConfig, BridgeConfig, CallsConfig, DEFAULT_SQLITE_FILE, DrConfig, DrPrimary, DrStandby,
    HttpConfig, IvrConfig, LogConfig, MediaConfig, NodeConfig, NodeSection, RegistrarConfig,
    SipConfig, StoreConfig, StoreUrl, TlsConfig, TlsIdentity, advertise_for,
};

const NODE_KEYS: &[&str] = &["name", "data_dir"];
const SIP_KEYS: &[&str] = &[
    "listen",
    "port",
    "tls_port",
    "tls_cert",
    "tls_key",
    "advertise",
    "domain",
    "t1_ms",
    "t2_ms",
    "t4_ms",
    "tcp_idle_timeout_s",
    "recv_buffer_bytes",
];
const REGISTRAR_KEYS: &[&str] = &[
    "min_expires_s",
    "default_expires_s",
    "max_expires_s",
    "max_contacts",
];
const AUTH_KEYS: &[&str] = &[
    "algorithms",
    "nonce_ttl_s",
    "max_failures",
    "failure_window_s",
    "ban_s",
    "trusted",
];
const MEDIA_KEYS: &[&str] = &[
    "bind",
    "advertise",
    "rtp_port_min",
    "rtp_port_max",
    "rtp_timeout_s",
];
const STORE_KEYS: &[&str] = &["url", "cdr_batch_max"];
const CALLS_KEYS: &[&str] = &["ring_timeout_s", "max_duration_s", "record"];
const IVR_KEYS: &[&str] = &["flows", "prompts", "numbers", "endpoints"];
const HTTP_KEYS: &[&str] = &[
    "listen",
    "port",
    "grpc_port",
    "requests_per_second",
    "burst",
];
const LOG_KEYS: &[&str] = &["level"];
const BRIDGE_KEYS: &[&str] = &[
    "cloud",
    "server_name",
    "certs",
    "audio",
    "alert_below",
    "stats_period_s",
];
const DR_KEYS: &[&str] = &[
    "standby",
    "server_name",
    "listen",
    "certs",
    "lost_after_ms",
    "witness",
    "witness_timeout_ms",
];

/// Every section of the file and the keys it accepts, in the order the example
/// file documents them.
///
/// The `[trunks.NAME]` tables are not listed: their names are the file's own,
/// and each takes the keys [`crate::Trunk`] describes.
pub const SCHEMA: &[(&str, &[&str])] = &[
    ("node", NODE_KEYS),
    ("sip", SIP_KEYS),
    ("registrar", REGISTRAR_KEYS),
    ("auth", AUTH_KEYS),
    ("media", MEDIA_KEYS),
    ("store", STORE_KEYS),
    ("calls", CALLS_KEYS),
    ("ivr", IVR_KEYS),
    ("acd", crate::acd::ACD_KEYS),
    ("http", HTTP_KEYS),
    ("bridge", BRIDGE_KEYS),
    ("dr", DR_KEYS),
    ("log", LOG_KEYS),
];

/// The top-level table of `[trunks.NAME]` tables.
const TRUNKS: &str = "trunks";

/// Parses and decodes `text`; `file` names it in diagnostics, `base` is the
/// directory relative paths are joined to.
pub(crate) fn decode(text: &str, file: &Path, base: &Path) -> Result<NodeConfig, ConfigError> {
    let mut p = Problems::default();
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let at = e.span().unwrap_or(0..0);
            let message = format!("invalid TOML: {}", e.message());
            p.push(at, ProblemKind::Syntax, "", message);
            return Err(p.into_error(text, file));
        }
    };
    let names: Vec<&str> = SCHEMA
        .iter()
        .map(|(name, _)| *name)
        .chain([TRUNKS])
        .collect();
    let root = Section::root(doc.get_ref(), text, &names, &mut p);
    let config = decode_sections(&root, base, &mut p);
    if p.is_empty() {
        Ok(config)
    } else {
        Err(p.into_error(text, file))
    }
}

fn decode_sections(root: &Section<'_, '_>, base: &Path, p: &mut Problems) -> NodeConfig {
    let d = NodeConfig::default();
    let node = node_section(&root.section("node", NODE_KEYS, p), &d.node, base, p);
    let sip_table = root.section("sip", SIP_KEYS, p);
    let sip = sip_section(&sip_table, &d.sip, base, p);
    let http_table = root.section("http", HTTP_KEYS, p);
    let http = http_section(&http_table, &d.http, p);
    check_port_clash(&sip_table, &sip, &http_table, &http, p);
    let media = media_section(&root.section("media", MEDIA_KEYS, p), &d.media, &sip, p);
    let store_table = root.section("store", STORE_KEYS, p);
    let acd_table = root.section("acd", crate::acd::ACD_KEYS, p);
    let (acd, extras) = crate::acd::acd_section(&acd_table, root.src(), p);
    NodeConfig {
        registrar: registrar_section(
            &root.section("registrar", REGISTRAR_KEYS, p),
            &d.registrar,
            p,
        ),
        auth: auth_section(&root.section("auth", AUTH_KEYS, p), &d.auth, p),
        store: store_section(&store_table, &d.store, &node.data_dir, p),
        calls: calls_section(&root.section("calls", CALLS_KEYS, p), &d.calls, p),
        ivr: ivr_section(&root.section("ivr", IVR_KEYS, p), &node.data_dir, base, p),
        acd,
        queue_options: extras.queue_options,
        auto_answer: extras.auto_answer,
        log: log_section(&root.section("log", LOG_KEYS, p), &d.log, p),
        bridge: bridge_section(
            &root.section("bridge", BRIDGE_KEYS, p),
            &node.data_dir,
            base,
            p,
        ),
        dr: dr_section(&root.section("dr", DR_KEYS, p), &node.data_dir, base, p),
        trunks: crate::trunks::trunks(root, p),
        node,
        sip,
        media,
        http,
    }
}

fn node_section(
    s: &Section<'_, '_>,
    d: &NodeSection,
    base: &Path,
    p: &mut Problems,
) -> NodeSection {
    let expected = "1 to 64 characters from A-Z a-z 0-9 - . _";
    let name = s.parsed(p, "name", expected, |v| {
        valid_node_name(v).then(|| v.to_owned())
    });
    NodeSection {
        name: value_or(name, || d.name.clone()),
        data_dir: value_or(s.path(p, "data_dir", base), || d.data_dir.clone()),
    }
}

fn valid_node_name(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

fn sip_section(s: &Section<'_, '_>, d: &SipConfig, base: &Path, p: &mut Problems) -> SipConfig {
    let listen = value_or(s.ip(p, "listen"), || d.listen);
    let port = s.number(p, "port", 1..=65_535);
    let tls_port = s.number(p, "tls_port", 0..=65_535);
    let t1 = s.millis(p, "t1_ms", 1..=10_000);
    let t2 = s.millis(p, "t2_ms", 1..=60_000);
    let domain = s.parsed(p, "domain", "a host name or IP address", host_name);
    let config = SipConfig {
        listen,
        port: port.as_ref().map_or(d.port, |f| f.value),
        tls: tls_config(s, d, base, p, tls_port.as_ref()),
        advertise: advertised(s, p, "advertise", advertise_for(listen)),
        domain: value_or(domain, || d.domain.clone()),
        t1: t1.as_ref().map_or(d.t1, |f| f.value),
        t2: t2.as_ref().map_or(d.t2, |f| f.value),
        t4: value_or(s.millis(p, "t4_ms", 1..=60_000), || d.t4),
        tcp_idle_timeout: value_or(s.seconds(p, "tcp_idle_timeout_s", 1..=86_400), || {
            d.tcp_idle_timeout
        }),
        recv_buffer_bytes: value_or(s.number(p, "recv_buffer_bytes", 4096..=1 << 30), || {
            d.recv_buffer_bytes
        }),
    };
    let low = Bound::millis(s, "t1_ms", t1.as_ref(), config.t1);
    let high = Bound::millis(s, "t2_ms", t2.as_ref(), config.t2);
    check_order(p, &low, &high, Order::AtMost);
    if let Some(tls) = &config.tls {
        let secure = Bound::new(s, "tls_port", tls_port.map(|f| f.key_at), tls.port);
        let plain = Bound::new(s, "port", port.map(|f| f.key_at), config.port);
        check_order(p, &secure, &plain, Order::Differs);
    }
    config
}

fn tls_config(
    s: &Section<'_, '_>,
    d: &SipConfig,
    base: &Path,
    p: &mut Problems,
    port: Option<&Field<u16>>,
) -> Option<TlsConfig> {
    let cert = s.path(p, "tls_cert", base);
    let key = s.path(p, "tls_key", base);
    let identity = match (cert, key) {
        (Some(cert), Some(key)) => TlsIdentity::Files {
            cert: cert.value,
            key: key.value,
        },
        (Some(f), None) => lone_tls_file(s, p, f, "tls_cert", "tls_key"),
        (None, Some(f)) => lone_tls_file(s, p, f, "tls_key", "tls_cert"),
        (None, None) => TlsIdentity::SelfSigned,
    };
    let default_port = d.tls.as_ref().map_or(0, |t| t.port);
    match port.map_or(default_port, |f| f.value) {
        0 => None,
        port => Some(TlsConfig { port, identity }),
    }
}

fn lone_tls_file(
    s: &Section<'_, '_>,
    p: &mut Problems,
    set: Field<PathBuf>,
    key: &str,
    missing: &str,
) -> TlsIdentity {
    // A missing key that is written but rejected has been reported already.
    if s.key_at(missing).is_none() {
        let what =
            format!("needs sip.{missing} as well (set neither for a self-signed certificate)");
        s.invalid(p, set.key_at, key, ProblemKind::Inconsistent, &what);
    }
    TlsIdentity::SelfSigned
}

/// An advertised address: never unspecified; `default` when the key is absent.
fn advertised(s: &Section<'_, '_>, p: &mut Problems, key: &str, default: IpAddr) -> IpAddr {
    match s.ip(p, key) {
        Some(f) if f.value.is_unspecified() => {
            let what = format!("must be an address peers can reach, found {}", f.value);
            let at = s.value_at(key).unwrap_or(f.key_at);
            s.invalid(p, at, key, ProblemKind::InvalidValue, &what);
            default
        }
        Some(f) => f.value,
        None => default,
    }
}

/// A SIP domain: a host name (letters, digits, `-`, `.`) or an IP address.
fn host_name(v: &str) -> Option<String> {
    let labels_ok = v.len() <= 253
        && v.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    (labels_ok || v.parse::<IpAddr>().is_ok()).then(|| v.to_owned())
}

fn registrar_section(
    s: &Section<'_, '_>,
    d: &RegistrarConfig,
    p: &mut Problems,
) -> RegistrarConfig {
    let min = s.seconds(p, "min_expires_s", 1..=86_400);
    let default = s.seconds(p, "default_expires_s", 1..=604_800);
    let max = s.seconds(p, "max_expires_s", 1..=604_800);
    let config = RegistrarConfig {
        min_expires: min.as_ref().map_or(d.min_expires, |f| f.value),
        default_expires: default.as_ref().map_or(d.default_expires, |f| f.value),
        max_expires: max.as_ref().map_or(d.max_expires, |f| f.value),
        max_contacts: value_or(s.number(p, "max_contacts", 1..=1000), || d.max_contacts),
    };
    let min = Bound::secs(s, "min_expires_s", min.as_ref(), config.min_expires);
    let default = Bound::secs(
        s,
        "default_expires_s",
        default.as_ref(),
        config.default_expires,
    );
    let max = Bound::secs(s, "max_expires_s", max.as_ref(), config.max_expires);
    // One report per section: min > max first, then the default's place between them.
    let _ = check_order(p, &min, &max, Order::AtMost)
        && check_order(p, &min, &default, Order::AtMost)
        && check_order(p, &default, &max, Order::AtMost);
    config
}

fn auth_section(s: &Section<'_, '_>, d: &AuthConfig, p: &mut Problems) -> AuthConfig {
    AuthConfig {
        algorithms: digest_algorithms(s, p).unwrap_or_else(|| d.algorithms.clone()),
        nonce_ttl: value_or(s.seconds(p, "nonce_ttl_s", 1..=86_400), || d.nonce_ttl),
        max_failures: value_or(s.number(p, "max_failures", 1..=1000), || d.max_failures),
        failure_window: value_or(s.seconds(p, "failure_window_s", 1..=86_400), || {
            d.failure_window
        }),
        ban: value_or(s.seconds(p, "ban_s", 1..=604_800), || d.ban),
        trusted: trusted_sources(s, p).unwrap_or_else(|| d.trusted.clone()),
    }
}

fn media_section(
    s: &Section<'_, '_>,
    d: &MediaConfig,
    sip: &SipConfig,
    p: &mut Problems,
) -> MediaConfig {
    let min = s.number(p, "rtp_port_min", 1..=65_535);
    let max = s.number(p, "rtp_port_max", 1..=65_535);
    let config = MediaConfig {
        bind: value_or(s.ip(p, "bind"), || d.bind),
        advertise: advertised(s, p, "advertise", sip.advertise),
        rtp_port_min: min.as_ref().map_or(d.rtp_port_min, |f| f.value),
        rtp_port_max: max.as_ref().map_or(d.rtp_port_max, |f| f.value),
        rtp_timeout: s
            .seconds(p, "rtp_timeout_s", 0..=86_400)
            .map_or(d.rtp_timeout, |f| (!f.value.is_zero()).then_some(f.value)),
    };
    if let Some(f) = &min
        && f.value % 2 != 0
    {
        let what = format!(
            "must be even (RTP takes even ports, RTCP the next odd one), found {}",
            f.value
        );
        s.invalid(
            p,
            f.key_at.clone(),
            "rtp_port_min",
            ProblemKind::InvalidValue,
            &what,
        );
    }
    let low = Bound::new(
        s,
        "rtp_port_min",
        min.map(|f| f.key_at),
        config.rtp_port_min,
    );
    let high = Bound::new(
        s,
        "rtp_port_max",
        max.map(|f| f.key_at),
        config.rtp_port_max,
    );
    check_order(p, &low, &high, Order::Below);
    config
}

fn store_section(
    s: &Section<'_, '_>,
    d: &StoreConfig,
    data_dir: &Path,
    p: &mut Problems,
) -> StoreConfig {
    let expected = "\"sqlite://PATH\" (PATH relative to node.data_dir) or \"postgres://…\"";
    let url = s.parsed(p, "url", expected, |v| store_url(v, data_dir));
    StoreConfig {
        url: value_or(url, || StoreUrl::Sqlite(data_dir.join(DEFAULT_SQLITE_FILE))),
        cdr_batch_max: value_or(s.number(p, "cdr_batch_max", 1..=65_536), || d.cdr_batch_max),
    }
}

fn store_url(v: &str, data_dir: &Path) -> Option<StoreUrl> {
    if let Some(path) = v.strip_prefix("sqlite://") {
        let usable = !path.is_empty() && !path.contains('?');
        return usable.then(|| StoreUrl::Sqlite(resolve(data_dir, path)));
    }
    let postgres = ["postgres://", "postgresql://"]
        .iter()
        .any(|scheme| v.strip_prefix(scheme).is_some_and(|rest| !rest.is_empty()));
    postgres.then(|| StoreUrl::Postgres(v.to_owned()))
}

fn calls_section(s: &Section<'_, '_>, d: &CallsConfig, p: &mut Problems) -> CallsConfig {
    CallsConfig {
        ring_timeout: value_or(s.seconds(p, "ring_timeout_s", 1..=3600), || d.ring_timeout),
        max_duration: value_or(s.seconds(p, "max_duration_s", 1..=604_800), || {
            d.max_duration
        }),
        record: value_or(s.boolean(p, "record"), || d.record),
    }
}

fn ivr_section(s: &Section<'_, '_>, data_dir: &Path, base: &Path, p: &mut Problems) -> IvrConfig {
    let flows = value_or(s.path(p, "flows", base), || data_dir.join("flows"));
    let prompts = value_or(s.path(p, "prompts", base), || data_dir.join("prompts"));
    let mut numbers: Vec<(String, String)> = Vec::new();
    let expected = "a table of dialled number = \"flow name\"";
    if let Some(table) = s.string_table(p, "numbers", expected) {
        for (number, flow) in table.value {
            if !valid_dialled(number.get_ref()) {
                let what = format!(
                    "{:?} is not a dialled number (1 to 32 of 0-9 * # +)",
                    number.get_ref()
                );
                s.invalid(
                    p,
                    number.span(),
                    "numbers",
                    ProblemKind::InvalidValue,
                    &what,
                );
            } else if !valid_flow_name(flow.get_ref()) {
                let what = format!(
                    "{:?} is not a flow name (a file stem: A-Z a-z 0-9 - _)",
                    flow.get_ref()
                );
                s.invalid(p, flow.span(), "numbers", ProblemKind::InvalidValue, &what);
            } else {
                numbers.push(((*number.get_ref()).to_owned(), (*flow.get_ref()).to_owned()));
            }
        }
    }
    IvrConfig {
        flows,
        prompts,
        numbers,
        endpoints: crate::endpoints::endpoints(s, base, p),
    }
}

fn valid_dialled(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit() || b"*#+".contains(&b))
}

fn valid_flow_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `[bridge]`: `None` unless `cloud` names an address.
fn bridge_section(
    s: &Section<'_, '_>,
    data_dir: &Path,
    base: &Path,
    p: &mut Problems,
) -> Option<BridgeConfig> {
    let expected = "a host:port address such as \"10.0.0.5:4433\", or \"\" for none";
    // `cloud = ""` (the default) leaves the node on its own.
    let cloud = s.parsed(p, "cloud", expected, |v| {
        if v.is_empty() {
            Some(None)
        } else {
            v.parse::<std::net::SocketAddr>().ok().map(Some)
        }
    });
    let server_name = s
        .parsed(p, "server_name", "a DNS name or IP address", |v| {
            (!v.is_empty() && v.len() <= 253 && !v.contains(char::is_whitespace))
                .then(|| v.to_owned())
        })
        .map_or_else(|| "localhost".to_owned(), |f| f.value);
    let certs = value_or(s.path(p, "certs", base), || data_dir.join("bridge"));
    let audio = s.boolean(p, "audio").is_none_or(|f| f.value);
    let alert_below = s
        .float(p, "alert_below", -1.0..=1.0)
        .map_or(-0.5, |f| f.value);
    let stats_period = s
        .seconds(p, "stats_period_s", 1..=86_400)
        .map_or(std::time::Duration::from_secs(900), |f| f.value);
    Some(BridgeConfig {
        cloud: cloud?.value?,
        server_name,
        certs,
        audio,
        alert_below,
        stats_period,
    })
}

/// `[dr]`: `None` unless `standby` or `listen` names an address; both is an
/// error.
fn dr_section(
    s: &Section<'_, '_>,
    data_dir: &Path,
    base: &Path,
    p: &mut Problems,
) -> Option<DrConfig> {
    let expected = "a host:port address such as \"10.0.0.9:4434\", or \"\" for none";
    let address = |p: &mut Problems, key: &str| {
        s.parsed(p, key, expected, |v| {
            if v.is_empty() {
                Some(None)
            } else {
                v.parse::<std::net::SocketAddr>().ok().map(Some)
            }
        })
        .and_then(|f| f.value)
    };
    let standby = address(p, "standby");
    let listen = address(p, "listen");
    let witness = address(p, "witness");
    let server_name = s
        .parsed(p, "server_name", "a DNS name or IP address", |v| {
            (!v.is_empty() && v.len() <= 253 && !v.contains(char::is_whitespace))
                .then(|| v.to_owned())
        })
        .map_or_else(|| "localhost".to_owned(), |f| f.value);
    let certs = value_or(s.path(p, "certs", base), || data_dir.join("bridge"));
    let lost_after = value_or(s.millis(p, "lost_after_ms", 500..=600_000), || {
        std::time::Duration::from_secs(3)
    });
    let witness_timeout = value_or(s.millis(p, "witness_timeout_ms", 50..=10_000), || {
        std::time::Duration::from_millis(500)
    });
    match (standby, listen) {
        (Some(standby), None) => Some(DrConfig::Primary(DrPrimary {
            standby,
            server_name,
            certs,
        })),
        (None, Some(listen)) => Some(DrConfig::Standby(DrStandby {
            listen,
            certs,
            lost_after,
            witness,
            witness_timeout,
        })),
        (Some(_), Some(_)) => {
            let at = s.key_at("listen").unwrap_or_else(|| s.span());
            s.invalid(
                p,
                at,
                "listen",
                ProblemKind::Inconsistent,
                "a node is either a primary (`standby`) or a standby (`listen`), not both",
            );
            None
        }
        (None, None) => None,
    }
}

fn http_section(s: &Section<'_, '_>, d: &HttpConfig, p: &mut Problems) -> HttpConfig {
    HttpConfig {
        listen: value_or(s.ip(p, "listen"), || d.listen),
        port: value_or(s.number(p, "port", 1..=65_535), || d.port),
        grpc_port: s
            .number(p, "grpc_port", 0..=65_535)
            .map_or(d.grpc_port, |f| Some(f.value).filter(|&port| port != 0)),
        requests_per_second: value_or(s.number(p, "requests_per_second", 1..=100_000), || {
            d.requests_per_second
        }),
        burst: value_or(s.number(p, "burst", 1..=100_000), || d.burst),
    }
}

/// `http.port` and `http.grpc_port` must differ, and neither may be a SIP
/// TCP port when the SIP and HTTP addresses overlap.
fn check_port_clash(
    sip_table: &Section<'_, '_>,
    sip: &SipConfig,
    http_table: &Section<'_, '_>,
    http: &HttpConfig,
    p: &mut Problems,
) {
    let http_port = Bound::new(http_table, "port", http_table.key_at("port"), http.port);
    let grpc_port = http.grpc_port.map(|port| {
        let key_at = http_table.key_at("grpc_port");
        Bound::new(http_table, "grpc_port", key_at, port)
    });
    let grpc_apart = grpc_port
        .as_ref()
        .is_none_or(|grpc| check_order(p, grpc, &http_port, Order::Differs));
    let overlap =
        sip.listen == http.listen || sip.listen.is_unspecified() || http.listen.is_unspecified();
    if !overlap {
        return;
    }
    let sip_port = Bound::new(sip_table, "port", sip_table.key_at("port"), sip.port);
    let tls_port = sip.tls.as_ref().map(|tls| {
        let key_at = sip_table.key_at("tls_port");
        Bound::new(sip_table, "tls_port", key_at, tls.port)
    });
    let listeners = std::iter::once(&http_port).chain(grpc_port.as_ref().filter(|_| grpc_apart));
    for port in listeners {
        if check_order(p, port, &sip_port, Order::Differs)
            && let Some(tls_port) = &tls_port
        {
            check_order(p, port, tls_port, Order::Differs);
        }
    }
}

fn log_section(s: &Section<'_, '_>, d: &LogConfig, p: &mut Problems) -> LogConfig {
    let expected = "a non-empty tracing filter directive such as \"info\"";
    let level = s.parsed(p, "level", expected, |v| {
        let usable = !v.trim().is_empty() && !v.chars().any(char::is_control);
        usable.then(|| v.to_owned())
    });
    LogConfig {
        level: value_or(level, || d.level.clone()),
    }
}

fn value_or<T>(field: Option<Field<T>>, default: impl FnOnce() -> T) -> T {
    field.map_or_else(default, |f| f.value)
}
