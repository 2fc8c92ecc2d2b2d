//! The primary's side of disaster recovery: keeps its standby's replica up to
//! date, and merges what the standby hands back.
//!
//! Every [`SCAN`] the task collects the state ([`super::state`]): the cut
//! configuration, the extensions, and the digests of every flow and prompt.
//! Files the standby has not been sent (by content) go first, then the state
//! when it differs from the last one sent; all as sealed items through an
//! outbox, so what the link loses is sent again. The outbox's heartbeats
//! (every second on a quiet link) are what the standby's guard listens for.
//!
//! Records handed back (`FAILBACK_RECORD`) are merged into the store and
//! answered with a `FAILBACK_ACK` item naming them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use config::{DrPrimary, NodeConfig};
use sync_bridge::link::{ClientEvent, ClientSetup, LinkConfig, run_client};
use sync_bridge::outbox::{Outbox, OutboxConfig};
use sync_bridge::replica::{self, ReplicaKey};
use sync_bridge::tls::ClientTls;
use sync_bridge::wire::{Item, ItemKey, Kind, NodeId};
use tokio::sync::mpsc;

use super::failback::{self, Row};
use super::state::{self, Folder, StandbyFile, StandbyState};
use crate::store::Store;

/// How often the state is collected.
pub(crate) const SCAN: Duration = Duration::from_secs(2);

/// Starts the replication link and its tasks.
///
/// # Errors
///
/// The certificates or the replica key cannot be read, the configuration
/// text does not parse, or the node name is not an identifier.
pub(crate) fn start(
    dr: &DrPrimary,
    cfg: &NodeConfig,
    store: Store,
    config_text: Option<String>,
) -> Result<(), String> {
    let dir = &dr.certs;
    let tls = ClientTls::from_files(
        &dir.join("ca.pem"),
        &dir.join("node.pem"),
        &dir.join("node.key"),
    )
    .map_err(|e| format!("{}: {e}", dir.display()))?;
    let key =
        sync_bridge::pki::load_replica_key(&dir.join("replica.key")).map_err(|e| e.to_string())?;
    let node = NodeId::new(&cfg.node.name)
        .ok_or_else(|| format!("node name {:?} is not an identifier", cfg.node.name))?;
    let setup = ClientSetup {
        addr: dr.standby,
        server_name: dr.server_name.clone(),
        tls,
        node,
        link: LinkConfig::default(),
    };
    let cut = match config_text.as_deref().map(state::cut_config) {
        Some(Ok(cut)) => cut,
        Some(Err(error)) => return Err(error.to_string()),
        None => String::new(),
    };
    let (items_tx, items_rx) = mpsc::channel(1024);
    let (events_tx, events_rx) = mpsc::channel(256);
    let key = Arc::new(key);
    tokio::spawn(run_client(
        setup,
        Outbox::new(OutboxConfig::default()),
        items_rx,
        events_tx,
    ));
    let source = Source {
        cut,
        flows: cfg.ivr.flows.clone(),
        prompts: cfg.ivr.prompts.clone(),
    };
    tokio::spawn(replicate(
        source,
        store.clone(),
        Arc::clone(&key),
        items_tx.clone(),
    ));
    tokio::spawn(handle_events(events_rx, store, key, items_tx));
    tracing::info!(standby = %dr.standby, "replication to the standby started");
    Ok(())
}

/// Where the state comes from.
struct Source {
    cut: String,
    flows: PathBuf,
    prompts: PathBuf,
}

/// File digests, read again only when a file's length or time changes.
#[derive(Default)]
struct Digests(HashMap<PathBuf, (u64, SystemTime, [u8; 32])>);

impl Digests {
    fn of(&mut self, path: &Path) -> Option<[u8; 32]> {
        let meta = std::fs::metadata(path).ok()?;
        let stamp = (meta.len(), meta.modified().ok()?);
        if let Some((len, time, digest)) = self.0.get(path)
            && (*len, *time) == stamp
        {
            return Some(*digest);
        }
        let digest = state::digest(&std::fs::read(path).ok()?);
        self.0.insert(path.to_owned(), (stamp.0, stamp.1, digest));
        Some(digest)
    }
}

async fn replicate(source: Source, store: Store, key: Arc<ReplicaKey>, items: mpsc::Sender<Item>) {
    let mut digests = Digests::default();
    let mut sent_files: HashSet<(Folder, String, [u8; 32])> = HashSet::new();
    let mut sent_state: Option<[u8; 32]> = None;
    let mut scan = tokio::time::interval(SCAN);
    loop {
        scan.tick().await;
        let extensions = match state::extensions(&store).await {
            Ok(e) => e,
            Err(error) => {
                tracing::warn!(%error, "standby state not collected");
                continue;
            }
        };
        let mut agents = BTreeMap::new();
        for name in failback::AGENT_TABLES {
            match failback::table(&store, name).await {
                Ok(rows) => {
                    agents.insert((*name).to_owned(), rows);
                }
                Err(error) => tracing::warn!(%error, table = name, "agent state not collected"),
            }
        }
        let mut files = BTreeMap::new();
        for (folder, root) in [
            (Folder::Flows, &source.flows),
            (Folder::Prompts, &source.prompts),
        ] {
            for path in state::list_files(root) {
                let Some(digest) = digests.of(&root.join(&path)) else {
                    continue;
                };
                if !sent_files.contains(&(folder, path.clone(), digest)) {
                    let Ok(bytes) = std::fs::read(root.join(&path)) else {
                        continue;
                    };
                    let file = StandbyFile {
                        folder,
                        path: path.clone(),
                        bytes,
                    };
                    if !send(&key, Kind::STANDBY_FILE, &file, &items).await {
                        return;
                    }
                    sent_files.insert((folder, path.clone(), digest));
                }
                files.insert((folder, path), digest);
            }
        }
        let state = StandbyState {
            config: source.cut.clone(),
            extensions,
            agents: serde_json::to_string(&agents).unwrap_or_default(),
            files,
        };
        let Ok(encoded) = postcard::to_stdvec(&state) else {
            continue;
        };
        let digest = state::digest(&encoded);
        if sent_state != Some(digest) {
            if !send(&key, Kind::STANDBY_STATE, &state, &items).await {
                return;
            }
            sent_state = Some(digest);
        }
    }
}

/// Seals `value` as an item of `kind` keyed by its content; `false` once the
/// link task is gone.
async fn send<T: serde::Serialize>(
    key: &ReplicaKey,
    kind: Kind,
    value: &T,
    items: &mpsc::Sender<Item>,
) -> bool {
    let Ok(bytes) = postcard::to_stdvec(value) else {
        return true;
    };
    let digest = state::digest(&bytes);
    let mut id = [0; 16];
    id.copy_from_slice(&digest[..16]);
    match replica::seal(
        key,
        kind,
        ItemKey::from_u128(u128::from_be_bytes(id)),
        &bytes,
    ) {
        Ok(item) => items.send(item).await.is_ok(),
        Err(error) => {
            tracing::warn!(%error, %kind, "not replicated");
            true
        }
    }
}

async fn handle_events(
    mut events: mpsc::Receiver<ClientEvent>,
    store: Store,
    key: Arc<ReplicaKey>,
    items: mpsc::Sender<Item>,
) {
    let mut up = false;
    while let Some(event) = events.recv().await {
        match event {
            ClientEvent::Connected { peer, .. } => {
                up = true;
                tracing::info!(standby = ?peer, "standby link up");
            }
            ClientEvent::Disconnected(error) if up => {
                up = false;
                tracing::warn!(%error, "standby link down");
            }
            ClientEvent::Item(item) => merge_back(&store, &key, &item, &items).await,
            _ => {}
        }
    }
}

/// Merges one handed-back record and tells the standby.
async fn merge_back(store: &Store, key: &ReplicaKey, item: &Item, items: &mpsc::Sender<Item>) {
    if item.kind() != Kind::FAILBACK_RECORD {
        tracing::warn!(kind = %item.kind(), "unexpected item from the standby");
        return;
    }
    let row: Row = match replica::open(key, item)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(row) => row,
        Err(error) => {
            tracing::warn!(%error, "handed-back record refused");
            return;
        }
    };
    match failback::merge(store, &row).await {
        Ok(_) => {
            let merged = vec![item.key().as_u128()];
            // The link task is gone only when the node stops.
            let _ = send(key, Kind::FAILBACK_ACK, &merged, items).await;
            tracing::debug!(table = row.table, "handed-back record merged");
        }
        Err(error) => tracing::warn!(%error, "handed-back record not merged"),
    }
}
