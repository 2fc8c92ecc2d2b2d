//! The typed configuration: one struct per TOML section, and their defaults.
//!
//! Every value here is already validated and resolved: durations are
//! [`Duration`]s, addresses are [`IpAddr`]s, relative paths have been joined to
//! the configuration file's directory (or to `node.data_dir` for the SQLite
//! file), and derived defaults (`sip.advertise`, `media.advertise`) are filled in.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ipnet::IpNet;

/// The whole node configuration, as loaded from one TOML file.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    /// `[node]`: identity and data directory.
    pub node: NodeSection,
    /// `[sip]`: SIP transports, addresses and RFC 3261 timers.
    pub sip: SipConfig,
    /// `[registrar]`: REGISTER expiry bounds and contact limits.
    pub registrar: RegistrarConfig,
    /// `[auth]`: digest authentication and brute-force protection.
    pub auth: AuthConfig,
    /// `[media]`: RTP addresses and port range.
    pub media: MediaConfig,
    /// `[store]`: the database.
    pub store: StoreConfig,
    /// `[calls]`: per-call limits.
    pub calls: CallsConfig,
    /// `[ivr]`: call flows, prompts, and the numbers they answer.
    pub ivr: IvrConfig,
    /// `[acd]`: queues, agents and routing rules (see `docs/acd.md`).
    pub acd: acd::AcdConfig,
    /// What the node does per `[acd]` queue beyond routing (alerts, survey), by
    /// queue name; every configured queue has an entry.
    pub queue_options: std::collections::BTreeMap<String, crate::acd::QueueOptions>,
    /// The `[[acd.agents]]` with `auto_answer = true`: their phones are asked to pick up
    /// ACD calls and calls placed for them by themselves (`Call-Info: …;answer-after=0`).
    pub auto_answer: std::collections::BTreeSet<String>,
    /// `[http]`: the CTI API and dashboard listener.
    pub http: HttpConfig,
    /// `[bridge]`: the link to the cloud side, when configured.
    pub bridge: Option<BridgeConfig>,
    /// `[dr]`: this node's part in disaster recovery, when configured.
    pub dr: Option<DrConfig>,
    /// `[log]`: log filtering.
    pub log: LogConfig,
    /// `[trunks.NAME]`: the SIP trunks outbound calls leave through, in file
    /// order; names and prefixes unique. None by default.
    pub trunks: Vec<crate::trunks::Trunk>,
}

/// `[node]`: the node's identity and where it keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSection {
    /// Name used in `Server`/`User-Agent` headers and logs: 1 to 64 characters
    /// from `A-Z a-z 0-9 - . _`.
    pub name: String,
    /// Directory for recordings, the SQLite file by default, and the
    /// self-signed TLS certificate when none is configured.
    pub data_dir: PathBuf,
}

/// `[sip]`: SIP transports, the addresses the node binds and advertises, and timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipConfig {
    /// Address the UDP, TCP and TLS listeners bind.
    pub listen: IpAddr,
    /// Port for UDP and TCP.
    pub port: u16,
    /// TLS listener; `None` when `tls_port = 0`.
    pub tls: Option<TlsConfig>,
    /// Address written into Via, Contact, Record-Route and SDP. Defaults to
    /// `listen`, or to the loopback address of the same family when `listen` is
    /// unspecified (`0.0.0.0` / `::`). Never unspecified.
    pub advertise: IpAddr,
    /// SIP domain of the node's users, also the digest realm.
    pub domain: String,
    /// RFC 3261 T1, the round-trip estimate. Always `<= t2`.
    pub t1: Duration,
    /// RFC 3261 T2, the maximum retransmit interval for non-INVITE requests and
    /// INVITE responses.
    pub t2: Duration,
    /// RFC 3261 T4, the maximum time a message stays in the network.
    pub t4: Duration,
    /// A TCP or TLS connection with no traffic for this long is closed.
    pub tcp_idle_timeout: Duration,
    /// Receive buffer requested for the UDP socket (`SO_RCVBUF`), in bytes.
    pub recv_buffer_bytes: usize,
}

/// The TLS listener of [`SipConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Port of the TLS listener; never equal to [`SipConfig::port`].
    pub port: u16,
    /// Where the certificate and key come from.
    pub identity: TlsIdentity,
}

/// Where the TLS listener's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsIdentity {
    /// PEM files named by `sip.tls_cert` and `sip.tls_key`, already resolved
    /// against the configuration file's directory. The loader does not open them.
    Files {
        /// The certificate chain (PEM).
        cert: PathBuf,
        /// The private key (PEM).
        key: PathBuf,
    },
    /// Neither key was given: the node generates a self-signed certificate for
    /// `sip.domain` and `sip.advertise` and keeps it under `node.data_dir`.
    SelfSigned,
}

/// `[registrar]`: bounds on REGISTER expiry and bindings per address of record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Shorter requested expiries are answered with 423 Interval Too Brief.
    pub min_expires: Duration,
    /// Expiry granted when the request asks for none.
    pub default_expires: Duration,
    /// Longer requested expiries are shortened to this.
    pub max_expires: Duration,
    /// Maximum contacts bound to one address of record.
    pub max_contacts: usize,
}

/// A digest algorithm the node offers in its challenges (RFC 7616).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// `SHA-256`.
    Sha256,
    /// `MD5`, for older phones.
    Md5,
}

impl DigestAlgorithm {
    /// The token used in the configuration file and in `algorithm=` parameters.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Md5 => "MD5",
        }
    }
}

/// `[auth]`: digest authentication and the ban on repeated failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Algorithms offered in challenges, in this order; never empty, no repeats.
    pub algorithms: Vec<DigestAlgorithm>,
    /// How long an issued nonce is accepted.
    pub nonce_ttl: Duration,
    /// Failed authentications from one source, within `failure_window`, that
    /// trigger a ban.
    pub max_failures: u32,
    /// The window in which failures are counted.
    pub failure_window: Duration,
    /// How long a banned source is ignored.
    pub ban: Duration,
    /// Sources whose INVITEs are not challenged for digest credentials (trunks,
    /// an SBC, a load generator on loopback); empty by default, so every
    /// source authenticates. See [`AuthConfig::trusts`].
    pub trusted: Vec<IpNet>,
}

impl AuthConfig {
    /// Whether `source` is in one of the [`trusted`](Self::trusted) networks.
    #[must_use]
    pub fn trusts(&self, source: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(source))
    }
}

/// `[media]`: where RTP is bound and advertised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Address RTP/RTCP sockets bind.
    pub bind: IpAddr,
    /// Address written into SDP `c=` lines; defaults to `sip.advertise`.
    pub advertise: IpAddr,
    /// Lowest RTP port (even; RTCP uses the next odd port).
    pub rtp_port_min: u16,
    /// Highest port of the range (inclusive); greater than `rtp_port_min`.
    pub rtp_port_max: u16,
    /// A call whose party has sent neither RTP nor RTCP for this long, while its
    /// SDP says it sends, is hung up (a phone gone without a BYE); `None`: never.
    pub rtp_timeout: Option<Duration>,
}

/// `[store]`: the node's database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Which database to open.
    pub url: StoreUrl,
    /// Maximum call records written in one group commit.
    pub cdr_batch_max: usize,
}

/// The database of [`StoreConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// An embedded SQLite file (`sqlite://PATH`); a relative path has been
    /// joined to `node.data_dir`.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://…` or `postgresql://…`), kept as written.
    Postgres(String),
}

impl std::fmt::Display for StoreUrl {
    /// The URL form a database driver accepts (`sqlite:///var/lib/x.db`, …).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => f.write_str(url),
        }
    }
}

/// `[calls]`: limits applied to every call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallsConfig {
    /// An unanswered outgoing leg is cancelled after this long.
    pub ring_timeout: Duration,
    /// A call is hung up after this long.
    pub max_duration: Duration,
    /// Answered calls are recorded to WAV files under the data directory.
    pub record: bool,
}

/// `[ivr]`: where call flows and prompts are, and which dialled numbers a flow answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrConfig {
    /// Directory of flow files (`NAME.toml`, the flow's name is the file's stem).
    pub flows: PathBuf,
    /// Directory of prompts (`LANGUAGE/NAME.wav`).
    pub prompts: PathBuf,
    /// Dialled number → flow name, in file order. A number here is answered by the
    /// node and runs the flow; every other number rings the extension it names.
    pub numbers: Vec<(String, String)>,
    /// `[ivr.endpoints]`: the HTTP endpoints `http` steps may call, in file order,
    /// names unique.
    pub endpoints: Vec<crate::endpoints::HttpEndpoint>,
}

/// `[http]`: the CTI API and supervisor dashboard listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Address the HTTP listener binds.
    pub listen: IpAddr,
    /// Port of the HTTP listener.
    pub port: u16,
    /// Port of the gRPC event stream on the same address; `None` (the
    /// default, `grpc_port = 0`) serves no gRPC.
    pub grpc_port: Option<u16>,
    /// Sustained API requests per second each token may make.
    pub requests_per_second: u32,
    /// API requests a token may make at once before the sustained rate
    /// applies.
    pub burst: u32,
}

/// `[bridge]`: the encrypted link to the cloud side (speech analytics, disaster
/// recovery). Absent, or without `cloud`, the node runs on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeConfig {
    /// The cloud's bridge address (`host:port`, UDP: QUIC).
    pub cloud: std::net::SocketAddr,
    /// The name the cloud's certificate carries (`switchyard certs init --name`).
    pub server_name: String,
    /// Directory holding `ca.pem`, `node.pem`, `node.key` and `pseudonym.key`
    /// (made by `switchyard certs init`); default `DATA_DIR/bridge`.
    pub certs: PathBuf,
    /// Whether answered calls' audio streams to the cloud for transcription.
    pub audio: bool,
    /// A caller whose running sentiment (−1..1) falls below this raises a
    /// supervisor alert.
    pub alert_below: f64,
    /// The length of a statistics period (`stats_period_s`, 1..=86400; default
    /// 15 minutes): queue and agent figures cross once per period.
    pub stats_period: std::time::Duration,
}

/// `[dr]`: disaster recovery. A node with `standby` set replicates to that
/// standby; a node with `listen` set *is* a standby.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DrConfig {
    /// This node serves and replicates to a standby.
    Primary(DrPrimary),
    /// This node waits for its primary to be lost, then serves.
    Standby(DrStandby),
}

/// `[dr]` on the serving node.
#[derive(Debug, Clone, PartialEq)]
pub struct DrPrimary {
    /// The standby's replication address (`host:port`, UDP: QUIC).
    pub standby: std::net::SocketAddr,
    /// The name the standby's certificate carries.
    pub server_name: String,
    /// Directory holding `ca.pem`, `node.pem`, `node.key` and `replica.key`.
    pub certs: PathBuf,
}

/// `[dr]` on the standby.
#[derive(Debug, Clone, PartialEq)]
pub struct DrStandby {
    /// Where the primary's replication link arrives (UDP: QUIC).
    pub listen: std::net::SocketAddr,
    /// Directory holding `ca.pem`, `cloud.pem`, `cloud.key` and `replica.key`.
    pub certs: PathBuf,
    /// Silence on the replication link after which the primary is suspect.
    pub lost_after: std::time::Duration,
    /// The primary's SIP address, asked with OPTIONS before taking over: a
    /// primary that answers is alive and only the link is cut.
    pub witness: Option<std::net::SocketAddr>,
    /// How long the witness may take to answer.
    pub witness_timeout: std::time::Duration,
}

/// `[log]`: log filtering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A `tracing` `EnvFilter` directive (`info`, `sip=debug,info`, …). The
    /// loader only checks that it is non-empty and has no control characters;
    /// the node reports a directive its filter cannot parse.
    pub level: String,
}

impl NodeConfig {
    /// `node.data_dir` when the file does not set it.
    pub const DEFAULT_DATA_DIR: &'static str = "/var/lib/switchyard";

    /// The configuration an empty file gives, with `node.data_dir` set to
    /// `data_dir` (used as given) and the SQLite file inside it.
    #[must_use]
    pub fn default_for(data_dir: &Path) -> Self {
        let sip = SipConfig::default();
        Self {
            node: NodeSection {
                name: "switchyard".to_owned(),
                data_dir: data_dir.to_path_buf(),
            },
            media: MediaConfig {
                bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                advertise: sip.advertise,
                rtp_port_min: 20_000,
                rtp_port_max: 30_000,
                rtp_timeout: Some(Duration::from_secs(60)),
            },
            sip,
            registrar: RegistrarConfig {
                min_expires: Duration::from_secs(60),
                default_expires: Duration::from_secs(3600),
                max_expires: Duration::from_secs(7200),
                max_contacts: 10,
            },
            auth: AuthConfig {
                algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
                nonce_ttl: Duration::from_secs(300),
                max_failures: 5,
                failure_window: Duration::from_secs(60),
                ban: Duration::from_secs(300),
                trusted: Vec::new(),
            },
            store: StoreConfig {
                url: StoreUrl::Sqlite(data_dir.join(DEFAULT_SQLITE_FILE)),
                cdr_batch_max: 512,
            },
            calls: CallsConfig {
                ring_timeout: Duration::from_secs(60),
                max_duration: Duration::from_secs(14_400),
                record: false,
            },
            ivr: IvrConfig {
                flows: data_dir.join("flows"),
                prompts: data_dir.join("prompts"),
                numbers: Vec::new(),
                endpoints: Vec::new(),
            },
            acd: acd::AcdConfig::default(),
            http: HttpConfig {
                listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
                port: 8080,
                grpc_port: None,
                requests_per_second: 20,
                burst: 40,
            },
            bridge: None,
            dr: None,
            queue_options: std::collections::BTreeMap::new(),
            auto_answer: std::collections::BTreeSet::new(),
            log: LogConfig {
                level: "info".to_owned(),
            },
            trunks: Vec::new(),
        }
    }
}

impl Default for NodeConfig {
    /// [`NodeConfig::default_for`] with [`NodeConfig::DEFAULT_DATA_DIR`].
    fn default() -> Self {
        Self::default_for(Path::new(Self::DEFAULT_DATA_DIR))
    }
}

/// The SQLite file name used when `store.url` is not set.
pub(crate) const DEFAULT_SQLITE_FILE: &str = "switchyard.db";

impl Default for SipConfig {
    fn default() -> Self {
        let listen = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        Self {
            listen,
            port: 5060,
            tls: Some(TlsConfig {
                port: 5061,
                identity: TlsIdentity::SelfSigned,
            }),
            advertise: advertise_for(listen),
            domain: "switchyard.local".to_owned(),
            t1: Duration::from_millis(500),
            t2: Duration::from_millis(4000),
            t4: Duration::from_millis(5000),
            tcp_idle_timeout: Duration::from_secs(300),
            recv_buffer_bytes: 4 * 1024 * 1024,
        }
    }
}

/// The address to advertise when only the listen address is known.
pub(crate) fn advertise_for(listen: IpAddr) -> IpAddr {
    match listen {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        other => other,
    }
}
