//! `switchyard cloud`: the cloud end of the sync bridge.
//!
//! One process listens for nodes (QUIC, mutual TLS anchored on the operator's CA),
//! stores what they send in its analytics store, and analyses call audio live:
//!
//! ```text
//!  node ──Item(call record)──► dedup + store (one transaction) ──► Ack
//!  node ──Item(audio chunk)──► per (call, party) recogniser ──► transcript
//!                                 (worker threads)              │ redacted, scored
//!  node ◄──Result(transcript, sentiment)────────────────────────┘ and stored
//! ```
//!
//! Every item is acknowledged only after it is stored (records) or taken by its
//! recogniser (audio), so the node's outbox never loses one; the received-keys
//! table makes a redelivered record a no-op. The store holds only what the node's
//! classifier let through: pseudonyms, labels, figures, redacted text.

mod analysis;
mod config;
mod store;

use std::sync::Arc;

use sync_bridge::classify::{CallRecord, ResultBody, decode};
use sync_bridge::link::{BridgeConnection, BridgeServer, Incoming, LinkConfig};
use sync_bridge::tls::ServerTls;
use sync_bridge::wire::{AnalysisResult, Item, ItemKey, Kind, NodeId};
use tokio::sync::mpsc;

pub use self::analysis::{Analysis, Finding};
pub use self::config::{CloudConfig, ConfigError};
pub use self::store::CloudStore;

/// Why the cloud service stopped or could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloudError {
    /// The configuration file was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The certificates could not be loaded.
    #[error("certificates in {dir}: {message}")]
    Certificates {
        /// The certificate directory.
        dir: String,
        /// What was wrong.
        message: String,
    },
    /// The bridge socket could not be bound.
    #[error("bridge: {0}")]
    Link(#[from] sync_bridge::link::LinkError),
    /// The analytics store failed.
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    /// The speech engine could not start.
    #[error("speech engine: {0}")]
    Engine(String),
}

/// Acknowledgements sent in one frame at most.
const ACK_BATCH: usize = 256;

/// Runs the cloud service until the process is stopped.
///
/// # Errors
///
/// A [`CloudError`] when it cannot start, or when the listener fails.
pub async fn run(cfg: CloudConfig, analysis: Arc<Analysis>) -> Result<(), CloudError> {
    let dir = &cfg.certs;
    let tls = ServerTls::from_files(
        &dir.join("ca.pem"),
        &dir.join("cloud.pem"),
        &dir.join("cloud.key"),
    )
    .map_err(|e| CloudError::Certificates {
        dir: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let store = CloudStore::open(&cfg.data_dir.join("cloud.db")).await?;
    let name = NodeId::new(&cfg.name).ok_or_else(|| ConfigError::Invalid {
        key: "name",
        message: "an identifier (letters, digits, - _ .)".to_owned(),
    })?;
    let mut server = BridgeServer::bind(cfg.listen, &tls, &name, &LinkConfig::default())?;
    tracing::info!(listen = %server.local_addr()?, workers = analysis.workers(), "cloud bridge listening");
    while let Some(conn) = server.accept().await {
        match conn {
            Ok(conn) => {
                tracing::info!(node = ?conn.peer(), "node connected");
                tokio::spawn(serve(conn, store.clone(), Arc::clone(&analysis)));
            }
            Err(error) => tracing::warn!(%error, "a node was refused"),
        }
    }
    Ok(())
}

/// Serves one node's connection until it ends.
async fn serve(mut conn: BridgeConnection, store: CloudStore, analysis: Arc<Analysis>) {
    let (found_tx, mut found_rx) = mpsc::channel::<Finding>(1024);
    let mut acks: Vec<ItemKey> = Vec::new();
    loop {
        tokio::select! {
            incoming = conn.next() => {
                let Some(incoming) = incoming else { break };
                match incoming {
                    Ok(Incoming::Item(item)) => {
                        if take(&store, &analysis, &found_tx, &item).await {
                            acks.push(item.key());
                        }
                        // Acknowledge in batches, but never sit on one when idle.
                        while acks.len() < ACK_BATCH {
                            match conn.try_next() {
                                Some(Ok(Incoming::Item(item))) => {
                                    if take(&store, &analysis, &found_tx, &item).await {
                                        acks.push(item.key());
                                    }
                                }
                                Some(Ok(_)) => {}
                                Some(Err(_)) | None => break,
                            }
                        }
                        if conn.ack(&acks).await.is_err() {
                            break;
                        }
                        acks.clear();
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::info!(%error, "node connection ended");
                        break;
                    }
                }
            }
            Some(found) = found_rx.recv() => {
                // Partial transcripts are payload version 3, and not kept.
                if matches!(found.body, ResultBody::Partial(_)) && conn.version() < 3 {
                    continue;
                }
                if let Err(error) = store.add_finding(&found).await {
                    tracing::warn!(%error, "finding not stored");
                }
                let result = AnalysisResult { key: found.key(), body: found.body.clone() };
                if conn.send_result(result).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Stores or analyses one item; `false` when it must not be acknowledged (a
/// store failure: the node will send it again).
async fn take(
    store: &CloudStore,
    analysis: &Analysis,
    found: &mpsc::Sender<Finding>,
    item: &Item,
) -> bool {
    match item.kind() {
        Kind::CALL_RECORD => match decode::<CallRecord>(item.payload()) {
            Ok(record) => match store.add_record(item.key(), &record).await {
                Ok(_) => true,
                Err(error) => {
                    tracing::warn!(%error, "call record not stored");
                    false
                }
            },
            Err(error) => {
                // A record this version cannot read will not read better later.
                tracing::warn!(%error, "undecodable call record dropped");
                true
            }
        },
        Kind::AUDIO_CHUNK => {
            analysis.audio(item.payload(), found);
            true
        }
        _ => {
            // Queue and agent statistics: kept for dashboards in a later version.
            store.note_other(item.key()).await.is_ok()
        }
    }
}
