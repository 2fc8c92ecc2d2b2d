//! The standby process: `switchyard node` with `[dr] listen`.
//!
//! It keeps the replica its primary sends (under `DATA_DIR/replica/`, the
//! extensions in its own store), answers its SIP port with 503 while the
//! [`Guard`] says refuse, and on takeover starts a full node on that port
//! with the primary's configuration laid over its own. When the primary
//! returns, the node drains (no new calls; calls in progress finish), the
//! standby hands its records back, and refuses again.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use config::{DrConfig, DrStandby, NodeConfig};
use sync_bridge::link::{BridgeConnection, BridgeServer, Incoming, LinkConfig, LinkError};
use sync_bridge::replica::{self, ReplicaKey};
use sync_bridge::tls::ServerTls;
use sync_bridge::wire::{Item, ItemKey, Kind, NodeId};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::failback;
use super::guard::{Action, Guard, GuardConfig, Phase, Service};
use super::state::{self, StandbyFile, StandbyState};
use crate::store::Store;

/// Why a standby could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StandbyError {
    /// The configuration has no `[dr] listen`.
    #[error("not a standby: [dr] listen is not set")]
    NotStandby,
    /// Certificates, the replica key or the node name are unusable.
    #[error("credentials: {0}")]
    Credentials(String),
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
    /// The configuration file could not be read again.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// How often records not yet merged are sent again, and how often a serving
/// standby looks at its calls.
const RETRY: Duration = Duration::from_secs(1);
/// Empty looks for records, once refusing again, before the standby stops
/// looking.
const SETTLE_LOOKS: u8 = 10;

/// Runs a standby until the process is stopped. `origin` is the
/// configuration file `cfg` was loaded from.
///
/// # Errors
///
/// [`StandbyError`] when it cannot start.
pub async fn run_standby(origin: &Path, cfg: NodeConfig) -> Result<(), StandbyError> {
    let Some(DrConfig::Standby(dr)) = cfg.dr.clone() else {
        return Err(StandbyError::NotStandby);
    };
    let local = std::fs::read_to_string(origin).map_err(|source| StandbyError::Read {
        path: origin.to_owned(),
        source,
    })?;
    let creds = |e: &dyn std::fmt::Display| StandbyError::Credentials(e.to_string());
    let dir = &dr.certs;
    let tls = ServerTls::from_files(
        &dir.join("ca.pem"),
        &dir.join("cloud.pem"),
        &dir.join("cloud.key"),
    )
    .map_err(|e| creds(&format!("{}: {e}", dir.display())))?;
    let key =
        sync_bridge::pki::load_replica_key(&dir.join("replica.key")).map_err(|e| creds(&e))?;
    let name = NodeId::new(&cfg.node.name).ok_or_else(|| {
        creds(&format!(
            "node name {:?} is not an identifier",
            cfg.node.name
        ))
    })?;
    let server = BridgeServer::bind(dr.listen, &tls, &name, &LinkConfig::default())
        .map_err(|e| creds(&e))?;
    let store = Store::open_config(&cfg.store.url).await?;
    let store_probe = store.clone();
    let sip = SocketAddr::new(cfg.sip.listen, cfg.sip.port);
    let refuser = super::refuser::start(sip)
        .await
        .map_err(|source| StandbyError::Bind {
            what: "SIP",
            source,
        })?;
    tracing::info!(%sip, replication = %dr.listen, "standby waiting for its primary");
    let mut standby = Standby {
        guard: Guard::new(GuardConfig {
            lost_after: dr.lost_after,
            witness: dr.witness.is_some(),
            witness_every: Duration::from_secs(1),
        }),
        replica: cfg.node.data_dir.join("replica"),
        origin: origin.to_owned(),
        local,
        dr,
        store,
        key,
        sip,
        refuser: Some(refuser),
        node: None,
        pending: None,
        handing: HashMap::new(),
        // Records from an earlier run wait for the primary too.
        owes: !failback::rows(&store_probe)
            .await
            .unwrap_or_default()
            .is_empty(),
        settled: 0,
        conn: None,
        witness: mpsc::channel(4),
    };
    if standby.replica.join("config.toml").exists() {
        // A replica on disk is the primary's last word: a standby restarted
        // during an outage must still take over.
        tracing::info!("replica from an earlier run on disk");
        standby.guard.heard(now());
    }
    standby.run(server).await;
    Ok(())
}

/// The node started at takeover.
struct Running {
    admission: watch::Sender<Service>,
    in_progress: Arc<AtomicUsize>,
}

struct Standby {
    guard: Guard,
    dr: DrStandby,
    replica: PathBuf,
    origin: PathBuf,
    local: String,
    store: Store,
    key: ReplicaKey,
    sip: SocketAddr,
    refuser: Option<JoinHandle<()>>,
    node: Option<Running>,
    /// A state whose files have not all arrived.
    pending: Option<StandbyState>,
    /// Records handed back and not yet merged: key → (table, row key).
    handing: HashMap<ItemKey, (String, String)>,
    /// Whether the store may hold records the primary has not merged: it
    /// served, or an earlier run left some. Otherwise nothing is looked for.
    owes: bool,
    /// Looks in a row that found nothing while refusing (a record the node
    /// commits just after its last call still gets a few chances).
    settled: u8,
    conn: Option<BridgeConnection>,
    witness: (mpsc::Sender<bool>, mpsc::Receiver<bool>),
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

type Next = Option<Result<Incoming, LinkError>>;

async fn next_from(conn: &mut Option<BridgeConnection>) -> Next {
    match conn {
        Some(c) => c.next().await,
        None => std::future::pending().await,
    }
}

impl Standby {
    async fn run(&mut self, mut server: BridgeServer) {
        let mut retry = tokio::time::interval(RETRY);
        loop {
            let deadline = self.guard.next_deadline();
            let wait = async move {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                conn = server.accept() => match conn {
                    Some(Ok(conn)) => {
                        tracing::info!(primary = conn.peer().as_str(), "primary connected");
                        self.conn = Some(conn);
                        self.guard.heard(now());
                    }
                    Some(Err(error)) => tracing::debug!(%error, "replication handshake failed"),
                    None => return,
                },
                incoming = next_from(&mut self.conn) => self.on_incoming(incoming).await,
                Some(answered) = self.witness.1.recv() => {
                    tracing::info!(answered, "witness asked");
                    self.guard.witness(answered, now());
                }
                _ = retry.tick() => self.on_retry().await,
                () = wait => {}
            }
            self.guard.tick(now());
            if let Some(node) = &self.node {
                self.guard.calls(node.in_progress.load(Ordering::Relaxed));
            }
            while let Some(action) = self.guard.poll_action() {
                self.act(action).await;
            }
        }
    }

    async fn on_incoming(&mut self, incoming: Next) {
        match incoming {
            Some(Ok(Incoming::Item(item))) => {
                self.guard.heard(now());
                self.on_item(&item).await;
                if let Some(conn) = &mut self.conn
                    && let Err(error) = conn.ack(&[item.key()]).await
                {
                    tracing::debug!(%error, "ack not sent");
                }
            }
            Some(Ok(_)) => self.guard.heard(now()),
            Some(Err(error)) => {
                tracing::warn!(%error, "replication link lost");
                self.conn = None;
            }
            None => self.conn = None,
        }
    }

    async fn on_item(&mut self, item: &Item) {
        let opened = match replica::open(&self.key, item) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(%error, kind = %item.kind(), "replica item refused");
                return;
            }
        };
        match item.kind() {
            Kind::STANDBY_FILE => match postcard::from_bytes::<StandbyFile>(&opened) {
                Ok(file) => {
                    if let Err(error) = state::write_file(&self.replica, &file) {
                        tracing::warn!(%error, "replica file refused");
                    }
                    if let Some(pending) = self.pending.take() {
                        self.apply(pending).await;
                    }
                }
                Err(error) => tracing::warn!(%error, "replica file unreadable"),
            },
            Kind::STANDBY_STATE => match postcard::from_bytes::<StandbyState>(&opened) {
                Ok(state) => self.apply(state).await,
                Err(error) => tracing::warn!(%error, "replica state unreadable"),
            },
            Kind::FAILBACK_ACK => match postcard::from_bytes::<Vec<u128>>(&opened) {
                Ok(keys) => self.merged(&keys).await,
                Err(error) => tracing::warn!(%error, "hand-back answer unreadable"),
            },
            other => tracing::warn!(kind = %other, "unexpected item from the primary"),
        }
    }

    /// Applies a state whose files are all here; keeps it pending otherwise.
    async fn apply(&mut self, state: StandbyState) {
        if let Err(error) = self.merged_config(&state.config) {
            tracing::error!(%error, "the primary's configuration does not load here; the last good one stays");
            return;
        }
        match state::settle_files(&self.replica, &state) {
            Ok(()) => {}
            Err(state::StateError::Missing(_)) => {
                self.pending = Some(state);
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "replica files not settled");
                return;
            }
        }
        if let Err(error) = state::apply_extensions(&self.store, &state.extensions).await {
            tracing::warn!(%error, "replica extensions not stored");
            return;
        }
        let agents: BTreeMap<String, Vec<failback::Columns>> =
            serde_json::from_str(&state.agents).unwrap_or_default();
        if self.node.is_none()
            && let Err(error) = failback::replace_agent_tables(&self.store, &agents).await
        {
            tracing::warn!(%error, "replica agent state not stored");
            return;
        }
        let saved = std::fs::create_dir_all(&self.replica)
            .and_then(|()| std::fs::write(self.replica.join("config.toml"), &state.config));
        if let Err(error) = saved {
            tracing::warn!(%error, "replica configuration not saved");
            return;
        }
        tracing::info!(
            extensions = state.extensions.len(),
            agents = agents.get("acd_agents").map_or(0, Vec::len),
            files = state.files.len(),
            "replica up to date"
        );
    }

    /// The node configuration a takeover runs with.
    fn merged_config(&self, taken: &str) -> Result<NodeConfig, String> {
        let text = state::lay_over(&self.local, taken, &self.replica).map_err(|e| e.to_string())?;
        NodeConfig::parse(&text, &self.origin).map_err(|e| e.to_string())
    }

    async fn act(&mut self, action: Action) {
        match action {
            Action::AskWitness => {
                let Some(addr) = self.dr.witness else { return };
                let timeout = self.dr.witness_timeout;
                let tx = self.witness.0.clone();
                tokio::spawn(async move {
                    let _ = tx.send(super::witness::ask(addr, timeout).await).await;
                });
            }
            Action::Serve(Service::Accept) => self.take_over().await,
            Action::Serve(service) => {
                tracing::info!(?service, "standby service");
                if let Some(node) = &self.node {
                    let _ = node.admission.send(service);
                }
            }
            Action::HandBack => self.hand_back().await,
        }
    }

    async fn take_over(&mut self) {
        if let Some(node) = &self.node {
            tracing::warn!("primary lost again: serving");
            let _ = node.admission.send(Service::Accept);
            return;
        }
        let taken = std::fs::read_to_string(self.replica.join("config.toml")).unwrap_or_default();
        let cfg = match self.merged_config(&taken) {
            Ok(cfg) => cfg,
            Err(error) => {
                tracing::error!(%error, "replica configuration unusable: serving with the standby's own");
                match NodeConfig::parse(&self.local, &self.origin) {
                    Ok(cfg) => cfg,
                    Err(error) => {
                        tracing::error!(%error, "no configuration to serve with");
                        return;
                    }
                }
            }
        };
        if let Some(refuser) = self.refuser.take() {
            refuser.abort();
            // Aborted: its sockets are closed once this returns.
            let _ = refuser.await;
        }
        let (admission, rx) = watch::channel(Service::Accept);
        let in_progress = Arc::new(AtomicUsize::new(0));
        let options = crate::node::NodeOptions {
            config_text: None,
            admission: Some(rx),
            in_progress: Some(Arc::clone(&in_progress)),
        };
        tracing::warn!(sip = %self.sip, "primary lost: taking over");
        tokio::spawn(async move {
            if let Err(error) = crate::node::run_node_with(cfg, options).await {
                tracing::error!(%error, "the standby's node stopped");
            }
        });
        self.node = Some(Running {
            admission,
            in_progress,
        });
    }

    /// Sends every record not yet merged; reports when none is left.
    async fn hand_back(&mut self) {
        let rows = match failback::rows(&self.store).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "records to hand back not read");
                return;
            }
        };
        if rows.is_empty() {
            self.handing.clear();
            if self.guard.service() == Service::Refuse {
                self.settled = self.settled.saturating_add(1);
                self.owes = self.settled < SETTLE_LOOKS;
            }
            if let Phase::HandingBack { records_sent: true } = self.guard.phase() {
                tracing::info!("hand-back complete");
                self.guard.handed_back();
            }
            return;
        }
        let Some(conn) = &mut self.conn else { return };
        let mut sent = 0;
        for row in rows {
            let key = row.item_key();
            let Ok(bytes) = serde_json::to_vec(&row) else {
                continue;
            };
            match replica::seal(&self.key, Kind::FAILBACK_RECORD, key, &bytes) {
                Ok(item) => {
                    if conn.send_item(item).await.is_err() {
                        return;
                    }
                    sent += 1;
                    self.handing.insert(key, (row.table, row.key));
                }
                Err(error) => tracing::warn!(%error, "record not handed back"),
            }
        }
        tracing::info!(records = sent, "records handed back to the primary");
    }

    async fn merged(&mut self, keys: &[u128]) {
        for key in keys {
            if let Some((table, row)) = self.handing.remove(&ItemKey::from_u128(*key))
                && let Err(error) = failback::forget(&self.store, &table, &row).await
            {
                tracing::warn!(%error, "merged record not forgotten");
            }
        }
        if self.handing.is_empty() {
            self.hand_back().await;
        }
    }

    /// Sends what the primary has not merged yet while it is connected and
    /// the standby does not serve: records written after the last look, lost
    /// with a link, or left by an earlier run of the standby.
    async fn on_retry(&mut self) {
        let back = matches!(
            self.guard.phase(),
            Phase::HandingBack { records_sent: true } | Phase::Following
        );
        if self.guard.service() != Service::Refuse {
            self.owes = true;
            self.settled = 0;
        }
        if back && self.conn.is_some() && self.owes {
            self.hand_back().await;
        }
    }
}
