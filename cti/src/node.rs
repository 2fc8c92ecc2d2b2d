//! Wiring of the on-prem node: binds the transports and the media relay,
//! opens the store, and starts the endpoint task. [`Ctx`] is the small,
//! read-only context every call task shares (handles, not state).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use config::{DigestAlgorithm as CfgAlg, NodeConfig, TlsIdentity};
use media::{PortRange, Relay, RelayConfig};
use sip::auth::{DigestAlgorithm, DigestConfig, DigestServer, Throttle, ThrottleConfig};
use sip::message::{HeaderName, Headers, Host, Request, Response};
use sip::net::{Target, TransportKind};
use sip::transaction::{LayerConfig, ListenPorts, Timers, TransactionLayer, TsxKey};
use sip::transport::{TransportConfig, Transports};
use tokio::sync::{mpsc, oneshot};
use tracing::info;

use crate::endpoint::{CallRef, Command, Endpoint, EndpointConfig};
use crate::registrar::RegistrarConfig;
use crate::store::{CdrWriter, SrtpPolicy, Store};

/// Why the node could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A socket could not be bound.
    #[error("cannot bind {what}: {source}")]
    Bind {
        /// What was being bound.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// TLS material could not be loaded or made.
    #[error("TLS: {0}")]
    Tls(String),
    /// The media relay could not start.
    #[error("media relay: {0}")]
    Media(#[from] media::RelayError),
    /// Digest settings were refused.
    #[error("auth: {0}")]
    Auth(#[from] sip::auth::AuthError),
    /// The ACD configuration was refused.
    #[error("acd: {0}")]
    Acd(String),
    /// An IVR HTTP endpoint could not be set up (its CA file).
    #[error("ivr: {0}")]
    Ivr(String),
    /// The bridge to the cloud could not start (its certificates or keys).
    #[error("bridge: {0}")]
    Bridge(String),
}

/// The methods the node handles, for Allow headers.
const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, REGISTER";

/// What call tasks share: handles to the endpoint, store, relay, and the
/// few settings they need.
pub(crate) struct Ctx {
    cmds: mpsc::UnboundedSender<Command>,
    pub(crate) store: Store,
    pub(crate) cdrs: CdrWriter,
    pub(crate) relay: Relay,
    pub(crate) media_ip: IpAddr,
    advertise: Host,
    ports: Ports,
    pub(crate) ring_timeout: Duration,
    pub(crate) max_duration: Duration,
    pub(crate) linger: Duration,
    /// Where the node keeps its files (recordings under `recordings/`).
    pub(crate) data_dir: PathBuf,
    /// Answered calls are recorded.
    pub(crate) record: bool,
    /// Call flows, the numbers they answer, and prompts.
    pub(crate) flows: Arc<crate::flows::Flows>,
    /// The protected customer store, when a key is configured.
    pub(crate) customers: Option<crate::customers::Customers>,
    /// The ACD task, when queues are configured.
    pub(crate) acd: Option<crate::acd::AcdHandle>,
    /// The HTTP endpoints IVR `http` steps may call.
    pub(crate) endpoints: Arc<crate::http_step::Endpoints>,
    /// The CTI event stream calls publish to.
    pub(crate) events: crate::api::EventBus,
    /// The link to the cloud side, when `[bridge]` is configured.
    pub(crate) bridge: Option<Arc<crate::bridge::NodeBridge>>,
    /// What the node does per queue beyond routing (the post-call survey).
    pub(crate) queue_options: Arc<std::collections::BTreeMap<String, config::QueueOptions>>,
    /// Agents whose phones are asked to answer ACD and placed calls by themselves.
    pub(crate) auto_answer: Arc<std::collections::BTreeSet<String>>,
    /// The conference rooms IVR flows send callers to.
    pub(crate) rooms: crate::conference::Rooms,
    /// The trunks calls to external numbers leave by.
    pub(crate) trunks: crate::trunk::Trunks,
    /// Silence from a party after which its call is hung up (`[media] rtp_timeout_s`).
    pub(crate) rtp_timeout: Option<Duration>,
    user_agent: String,
}

#[derive(Clone, Copy)]
struct Ports {
    udp: u16,
    tcp: u16,
    tls: Option<u16>,
}

impl Ctx {
    pub(crate) fn send(&self, cmd: Command) {
        // The endpoint outlives every call; a send error means shutdown.
        let _ = self.cmds.send(cmd);
    }

    /// Starts a client transaction through the endpoint and returns its key.
    pub(crate) async fn send_request(
        &self,
        call: CallRef,
        request: Request,
        target: Target,
    ) -> TsxKey {
        let (reply, key) = oneshot::channel();
        self.send(Command::Send {
            call,
            request,
            target,
            reply,
        });
        match key.await {
            Ok(key) => key,
            // The endpoint has stopped: the node is shutting down; park the call.
            Err(_) => std::future::pending().await,
        }
    }

    /// Answers a server transaction with a bare status.
    pub(crate) fn respond(&self, key: &TsxKey, req: &Request, status: u16) {
        let mut resp = Response::to_request(req, status);
        self.response_headers(&mut resp.headers);
        self.send(Command::Respond {
            key: *key,
            response: resp,
        });
    }

    /// Our Contact for a leg on `kind`.
    pub(crate) fn contact(&self, kind: TransportKind) -> String {
        match kind {
            TransportKind::Udp => format!("<sip:switchyard@{}:{}>", self.advertise, self.ports.udp),
            TransportKind::Tcp => format!(
                "<sip:switchyard@{}:{};transport=tcp>",
                self.advertise, self.ports.tcp
            ),
            TransportKind::Tls => {
                let port = self.ports.tls.unwrap_or(self.ports.tcp);
                format!("<sip:switchyard@{}:{};transport=tls>", self.advertise, port)
            }
        }
    }

    /// The node's SIP port for `kind` (TLS: its TLS port, or TCP's without one).
    pub(crate) fn port(&self, kind: TransportKind) -> u16 {
        match kind {
            TransportKind::Udp => self.ports.udp,
            TransportKind::Tcp => self.ports.tcp,
            TransportKind::Tls => self.ports.tls.unwrap_or(self.ports.tcp),
        }
    }

    /// Headers every request the node originates carries.
    pub(crate) fn request_headers(&self, h: &mut Headers) {
        h.push(HeaderName::Allow, ALLOW);
        h.push(HeaderName::UserAgent, self.user_agent.as_str());
    }

    /// Headers every response the node sends carries.
    pub(crate) fn response_headers(&self, h: &mut Headers) {
        h.push(HeaderName::Allow, ALLOW);
        h.push(HeaderName::Supported, "timer, 100rel");
        h.push(HeaderName::Server, self.user_agent.as_str());
    }

    /// Whether every leg toward extension `ext` must be SRTP (its stored
    /// [`SrtpPolicy`]): only its phones on TLS ring, with the node's own key. A store
    /// that cannot answer counts as "required": the leg is refused rather than
    /// perhaps carried in plain RTP.
    pub(crate) async fn requires_srtp(&self, ext: &str) -> bool {
        match self.store.extension(ext).await {
            Ok(found) => found.is_some_and(|e| e.srtp == SrtpPolicy::Required),
            Err(error) => {
                tracing::warn!(%error, ext, "cannot read the extension's SRTP policy");
                true
            }
        }
    }

    /// Where extension `ext` is registered now (none while the endpoint is gone).
    pub(crate) async fn bindings(&self, ext: &str) -> Vec<crate::registrar::Binding> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Bindings {
            ext: ext.to_owned(),
            reply,
        });
        rx.await.unwrap_or_default()
    }

    /// A call reference and event channel for a call the node originates.
    pub(crate) async fn attach(
        &self,
    ) -> Option<(
        crate::endpoint::CallRef,
        mpsc::UnboundedReceiver<crate::endpoint::CallEvent>,
    )> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Attach { reply });
        rx.await.ok()
    }

    /// The SIP domain the node serves (for the URIs of calls it originates).
    pub(crate) fn domain(&self) -> &Host {
        &self.advertise
    }

    /// The leg another call gives up for `call`'s attended transfer: the call holding
    /// the dialog `call_id` with `tags` (see `Command::TakeLeg`).
    pub(crate) async fn take_leg(
        &self,
        call: CallRef,
        call_id: String,
        tags: [String; 2],
    ) -> Option<crate::call::HandOver> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::TakeLeg {
            call,
            call_id,
            tags,
            reply,
        });
        rx.await.ok().flatten()
    }

    /// A fresh tag (RFC 3261 §19.3: at least 32 bits of randomness).
    pub(crate) fn new_tag(&self) -> String {
        format!("{:016x}", rand::random::<u64>())
    }

    /// A fresh Call-ID for a leg the node originates.
    pub(crate) fn new_call_id(&self) -> String {
        format!("{:032x}@{}", rand::random::<u128>(), self.advertise)
    }
}

/// What a node is started with besides its configuration.
#[derive(Debug, Default)]
pub struct NodeOptions {
    /// The text of the configuration file, which a primary replicates to its
    /// standby (`[dr] standby`); without it only the store's state goes.
    pub config_text: Option<String>,
    /// On a standby that took over: whether it serves registrations and new
    /// calls now.
    pub admission: Option<tokio::sync::watch::Receiver<crate::standby::Service>>,
    /// Where the number of calls in progress is published.
    pub in_progress: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

/// Runs a node until the process is stopped.
pub async fn run_node(cfg: NodeConfig) -> Result<(), NodeError> {
    run_node_with(cfg, NodeOptions::default()).await
}

/// [`run_node`] with [`NodeOptions`].
pub async fn run_node_with(cfg: NodeConfig, options: NodeOptions) -> Result<(), NodeError> {
    // Every call holds four RTP/RTCP sockets: take all the descriptors the
    // system allows this process.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => info!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let store = Store::open_config(&cfg.store.url).await?;
    let media_rt = media_runtime().map_err(|source| NodeError::Bind {
        what: "media runtime",
        source,
    })?;
    let relay = {
        let _enter = media_rt.enter();
        Relay::new(RelayConfig {
            bind_ip: cfg.media.bind,
            advertise_ip: cfg.media.advertise,
            ports: PortRange {
                min: cfg.media.rtp_port_min,
                max: cfg.media.rtp_port_max,
            },
            recv_buffer: 1 << 20,
        })?
    };
    let sip = &cfg.sip;
    let tls = match &sip.tls {
        Some(t) => Some((
            std::net::SocketAddr::new(sip.listen, t.port),
            tls_server(&cfg, &t.identity)?,
        )),
        None => None,
    };
    let tcfg = TransportConfig {
        udp: Some(std::net::SocketAddr::new(sip.listen, sip.port)),
        tcp: Some(std::net::SocketAddr::new(sip.listen, sip.port)),
        tls,
        tls_client: None,
        recv_buffer: sip.recv_buffer_bytes,
        tcp_idle_timeout: sip.tcp_idle_timeout,
        max_connections: 10_000,
    };
    let (transports, inbound) = Transports::bind(tcfg)
        .await
        .map_err(|source| NodeError::Bind {
            what: "SIP",
            source,
        })?;
    let ports = Ports {
        udp: transports
            .local_addr(TransportKind::Udp)
            .map_or(sip.port, |a| a.port()),
        tcp: transports
            .local_addr(TransportKind::Tcp)
            .map_or(sip.port, |a| a.port()),
        tls: transports.local_addr(TransportKind::Tls).map(|a| a.port()),
    };
    let advertise = Host::Ip(sip.advertise);
    let mut lcfg = LayerConfig::new(advertise.clone());
    lcfg.timers = Timers {
        t1: sip.t1,
        t2: sip.t2,
        t4: sip.t4,
        ..Timers::default()
    };
    lcfg.ports = ListenPorts {
        udp: ports.udp,
        tcp: ports.tcp,
        tls: ports.tls.unwrap_or(ports.tcp),
    };
    let layer = TransactionLayer::new(lcfg, rand::random());
    let flows = Arc::new(crate::flows::Flows::load(&cfg.ivr));
    let endpoints = Arc::new(
        crate::http_step::Endpoints::load(&cfg.ivr.endpoints)
            .map_err(|e| NodeError::Ivr(e.to_string()))?,
    );
    tokio::spawn(crate::flows::watch(Arc::clone(&flows)));
    let customers = customer_store(&cfg, &store).await;
    let events = crate::api::EventBus::open(store.clone(), 10_000).await?;
    let (escalations, escalation_rx) = mpsc::unbounded_channel();
    let bridge = match &cfg.bridge {
        Some(b) => Some(
            crate::bridge::start(
                b,
                &cfg.node.name,
                store.clone(),
                events.clone(),
                escalations,
            )
            .map_err(|e| NodeError::Bridge(e.to_string()))?,
        ),
        None => None,
    };
    let cdrs = CdrWriter::spawn_with(store.clone(), cfg.store.cdr_batch_max, bridge.clone());
    if let Some(config::DrConfig::Primary(dr)) = &cfg.dr {
        crate::standby::primary::start(dr, &cfg, store.clone(), options.config_text.clone())
            .map_err(|e| NodeError::Bridge(format!("standby link: {e}")))?;
    }
    // Lives as long as the node: dropping it stops the deliveries.
    let _webhooks = crate::webhooks::Webhooks::start(
        store.clone(),
        events.clone(),
        crate::api::Clock::system(),
        crate::webhooks::Settings::default(),
    );
    let (callback_tx, mut callback_rx) = mpsc::unbounded_channel();
    let (dial_tx, mut dial_rx) = mpsc::unbounded_channel();
    let memberships = crate::acd::Memberships::default();
    let acd = if cfg.acd.queues.is_empty() {
        None
    } else {
        let engine = acd::Acd::new(cfg.acd.clone()).map_err(|e| NodeError::Acd(e.to_string()))?;
        info!(
            queues = cfg.acd.queues.len(),
            agents = cfg.acd.agents.len(),
            "ACD started"
        );
        let agent_events = crate::acd::AgentEvents {
            bus: events.clone(),
            queues: memberships.clone(),
        };
        Some(
            crate::acd::AcdHandle::start(
                engine,
                store.clone(),
                Some(agent_events),
                Some(callback_tx),
            )
            .await,
        )
    };
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    tokio::spawn(escalate(escalation_rx, cmd_tx.clone()));
    if let (Some(bridge), Some(acd), Some(b)) = (&bridge, &acd, &cfg.bridge) {
        tokio::spawn(crate::bridge_stats::run(
            Arc::clone(bridge),
            acd.clone(),
            store.clone(),
            b.stats_period,
        ));
    }
    let archive = crate::conference::Archive {
        store: store.clone(),
        dir: cfg.node.data_dir.join("recordings").join("conference"),
    };
    let rooms = crate::conference::Rooms::new(events.clone(), archive);
    let live = crate::live::NodeLive {
        cmds: cmd_tx.clone(),
        acd: acd.clone(),
        memberships,
        bridge: bridge.clone(),
        rooms: rooms.clone(),
        dials: dial_tx,
    };
    serve_api(&cfg, &store, customers.clone(), events.clone(), live).await?;
    let ctx = Arc::new(Ctx {
        cmds: cmd_tx,
        store,
        cdrs,
        relay,
        media_ip: cfg.media.advertise,
        advertise,
        ports,
        ring_timeout: cfg.calls.ring_timeout,
        max_duration: cfg.calls.max_duration,
        linger: sip.t1 * 64,
        data_dir: cfg.node.data_dir.clone(),
        record: cfg.calls.record,
        flows: Arc::clone(&flows),
        endpoints,
        events,
        bridge,
        customers,
        acd,
        queue_options: Arc::new(cfg.queue_options.clone()),
        auto_answer: Arc::new(cfg.auto_answer.clone()),
        rooms,
        trunks: crate::trunk::Trunks::new(&cfg.trunks),
        rtp_timeout: cfg.media.rtp_timeout,
        user_agent: format!(
            "Switchyard/{} ({})",
            env!("CARGO_PKG_VERSION"),
            cfg.node.name
        ),
    });
    for line in ctx.trunks.lines() {
        if line.trunk.register.is_some() {
            tokio::spawn(crate::carrier_registration::run(
                Arc::clone(&ctx),
                Arc::clone(line),
            ));
        }
    }
    let callback_ctx = Arc::clone(&ctx);
    tokio::spawn(async move {
        while let Some(request) = callback_rx.recv().await {
            tokio::spawn(crate::call::originate::call_back(
                Arc::clone(&callback_ctx),
                request,
            ));
        }
    });
    let dial_ctx = Arc::clone(&ctx);
    tokio::spawn(async move {
        while let Some(request) = dial_rx.recv().await {
            tokio::spawn(crate::call::originate::run(Arc::clone(&dial_ctx), request));
        }
    });
    let endpoint = Endpoint::new(
        layer,
        transports,
        digest_server(&cfg)?,
        throttle(&cfg),
        endpoint_config(&cfg, &options),
        ctx,
    );
    info!(udp = ports.udp, tcp = ports.tcp, tls = ?ports.tls, "SIP listening");
    endpoint.run(inbound, cmd_rx).await;
    media_rt.shutdown_background();
    Ok(())
}

/// The customer store, keyed from `DATA_DIR/customer.key` (made on first start) or
/// the `SWITCHYARD_CUSTOMER_KEY` environment variable; `None` (lookups find nobody)
/// when neither can be used.
async fn customer_store(cfg: &NodeConfig, store: &Store) -> Option<crate::customers::Customers> {
    let keys = match customer_keys(cfg) {
        Ok(keys) => keys,
        Err(error) => {
            tracing::warn!(%error, "customer store disabled");
            return None;
        }
    };
    let customers = crate::customers::Customers::new(store, keys);
    if let Err(error) = customers.check_key().await {
        tracing::error!(%error, "customer store disabled: the key does not open it");
        return None;
    }
    Some(customers)
}

/// Binds the CTI API's listener (`[http]`) and serves it in a task of its own,
/// answering from `live`.
async fn serve_api(
    cfg: &NodeConfig,
    store: &Store,
    customers: Option<crate::customers::Customers>,
    events: crate::api::EventBus,
    live: crate::live::NodeLive,
) -> Result<(), NodeError> {
    let listener = tokio::net::TcpListener::bind((cfg.http.listen, cfg.http.port))
        .await
        .map_err(|source| NodeError::Bind {
            what: "HTTP",
            source,
        })?;
    let cmds = live.cmds.clone();
    let queues_watched = live.acd.is_some();
    let live: Arc<dyn crate::api::LiveNode> = Arc::new(live);
    if queues_watched {
        tokio::spawn(crate::queue_watch::run(
            Arc::clone(&live),
            events.clone(),
            cfg.queue_options.clone(),
        ));
    }
    let state = crate::api::ApiState::new(
        store.clone(),
        customers,
        events,
        live,
        crate::api::ApiConfig {
            requests_per_second: cfg.http.requests_per_second,
            burst: cfg.http.burst,
            wrap_up_codes: cfg
                .queue_options
                .iter()
                .filter(|(_, o)| !o.wrap_up_codes.is_empty())
                .map(|(q, o)| (q.clone(), o.wrap_up_codes.clone()))
                .collect(),
            service_levels: cfg
                .acd
                .queues
                .iter()
                .map(|q| {
                    let ms =
                        u64::try_from(q.service_level_threshold.as_millis()).unwrap_or(u64::MAX);
                    (q.id.to_string(), ms)
                })
                .collect(),
            ..crate::api::ApiConfig::new(cfg.sip.domain.clone())
        },
    );
    start_metrics(&state.metrics, cmds, store.clone());
    if let Some(port) = cfg.http.grpc_port {
        serve_grpc(cfg.http.listen, port, state.clone()).await?;
    }
    info!(listen = %cfg.http.listen, port = cfg.http.port, "CTI API listening");
    tokio::spawn(async move {
        if let Err(error) = crate::api::serve(listener, state).await {
            tracing::error!(%error, "CTI API stopped");
        }
    });
    Ok(())
}

/// Counts registrations at each scrape, installs the recorder for the
/// whole process, and folds histograms in when nobody scrapes.
fn start_metrics(
    metrics: &crate::metrics::Metrics,
    cmds: mpsc::UnboundedSender<Command>,
    store: Store,
) {
    metrics.count_registrations_with(crate::metrics::RegistrarCount { cmds, store });
    if !metrics.install() {
        tracing::warn!(
            "another metrics recorder is installed: /metrics shows the node's own series"
        );
    }
    tokio::spawn(metrics.clone().upkeep());
}

/// Binds the gRPC event stream's listener (`http.grpc_port`) and serves it
/// in a task of its own.
async fn serve_grpc(
    listen: std::net::IpAddr,
    port: u16,
    state: crate::api::ApiState,
) -> Result<(), NodeError> {
    let listener = tokio::net::TcpListener::bind((listen, port))
        .await
        .map_err(|source| NodeError::Bind {
            what: "gRPC",
            source,
        })?;
    info!(%listen, port, "gRPC event stream listening");
    tokio::spawn(async move {
        if let Err(error) = crate::api::serve_grpc(listener, state).await {
            tracing::error!(%error, "gRPC event stream stopped");
        }
    });
    Ok(())
}

/// The environment variable that holds the customer store's master key (it wins over
/// the key file).
pub const CUSTOMER_KEY_ENV: &str = "SWITCHYARD_CUSTOMER_KEY";

/// The customer store's keys: from [`CUSTOMER_KEY_ENV`] when set, else from
/// `DATA_DIR/customer.key` (created, mode 0600, when missing).
///
/// # Errors
///
/// A key that is malformed, or a key file that cannot be read or made.
pub fn customer_keys(
    cfg: &NodeConfig,
) -> Result<crate::customers::CustomerKeys, crate::customers::KeyError> {
    use crate::customers::CustomerKeys;
    if std::env::var_os(CUSTOMER_KEY_ENV).is_some() {
        return CustomerKeys::from_env(CUSTOMER_KEY_ENV);
    }
    CustomerKeys::generate_file(cfg.node.data_dir.join("customer.key"))
}

/// RTP is relayed on a runtime of its own, one worker per core, so that
/// packet forwarding never waits behind signalling and signalling (one
/// thread: the endpoint, call tasks and the store) does not pay for
/// cross-thread wake-ups on every message.
fn media_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("media")
        .enable_all()
        .build()
}

fn digest_server(cfg: &NodeConfig) -> Result<DigestServer, NodeError> {
    let mut dc = DigestConfig::new(cfg.sip.domain.clone(), rand::random());
    dc.nonce_ttl = cfg.auth.nonce_ttl;
    dc.algorithms = cfg
        .auth
        .algorithms
        .iter()
        .map(|a| match a {
            CfgAlg::Sha256 => DigestAlgorithm::Sha256,
            CfgAlg::Md5 => DigestAlgorithm::Md5,
        })
        .collect();
    Ok(DigestServer::new(dc)?)
}

fn throttle(cfg: &NodeConfig) -> Throttle {
    Throttle::new(ThrottleConfig {
        max_failures: cfg.auth.max_failures as usize,
        window: cfg.auth.failure_window,
        ban: cfg.auth.ban,
        ..ThrottleConfig::default()
    })
}

fn endpoint_config(cfg: &NodeConfig, options: &NodeOptions) -> EndpointConfig {
    let r = &cfg.registrar;
    EndpointConfig {
        registrar: RegistrarConfig {
            min_expires: r.min_expires.as_secs() as u32,
            default_expires: r.default_expires.as_secs() as u32,
            max_expires: r.max_expires.as_secs() as u32,
            max_contacts: r.max_contacts,
        },
        trusted: cfg.auth.trusted.clone(),
        admission: options.admission.clone(),
        in_progress: options.in_progress.clone(),
    }
}

/// Loads the TLS identity, or makes and keeps a self-signed one in the data dir.
fn tls_server(cfg: &NodeConfig, id: &TlsIdentity) -> Result<Arc<rustls::ServerConfig>, NodeError> {
    let tls_err = |e: &dyn std::fmt::Display| NodeError::Tls(e.to_string());
    let (cert, key) = match id {
        TlsIdentity::Files { cert, key } => (
            std::fs::read(cert).map_err(|e| tls_err(&format_args!("{}: {e}", cert.display())))?,
            std::fs::read(key).map_err(|e| tls_err(&format_args!("{}: {e}", key.display())))?,
        ),
        TlsIdentity::SelfSigned => {
            let dir = cfg.node.data_dir.join("tls");
            let (cp, kp) = (dir.join("node.crt"), dir.join("node.key"));
            if !cp.exists() || !kp.exists() {
                let (c, k) = sip::transport::self_signed(&[
                    cfg.sip.domain.clone(),
                    cfg.sip.advertise.to_string(),
                ])
                .map_err(|e| tls_err(&e))?;
                std::fs::create_dir_all(&dir).map_err(|e| tls_err(&e))?;
                std::fs::write(&cp, c).map_err(|e| tls_err(&e))?;
                write_private(&kp, k.as_bytes()).map_err(|e| tls_err(&e))?;
            }
            (
                std::fs::read(&cp).map_err(|e| tls_err(&e))?,
                std::fs::read(&kp).map_err(|e| tls_err(&e))?,
            )
        }
    };
    sip::transport::tls_server_config(&cert, &key).map_err(|e| tls_err(&e))
}

/// Writes a file only its owner can read (a private key).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

/// Hands each sentiment escalation the bridge found to its call; a call that has
/// ended or moved on in the meantime refuses, which is only logged.
async fn escalate(
    mut found: mpsc::UnboundedReceiver<crate::escalation::Escalation>,
    cmds: mpsc::UnboundedSender<Command>,
) {
    while let Some(e) = found.recv().await {
        let (reply, answer) = oneshot::channel();
        let control = crate::api::CallControl::Escalate {
            queue: e.to.clone(),
            sentiment: Some(e.sentiment),
        };
        let sent = cmds.send(Command::Control {
            call_id: e.call_id.clone(),
            control,
            reply,
        });
        if sent.is_err() {
            return;
        }
        match answer.await {
            Ok(Ok(())) => {
                info!(call_id = %e.call_id, to = %e.to, "escalated on the caller's sentiment")
            }
            Ok(Err(refusal)) => {
                info!(call_id = %e.call_id, to = %e.to, %refusal, "sentiment escalation not carried out");
            }
            Err(_) => {}
        }
    }
}
