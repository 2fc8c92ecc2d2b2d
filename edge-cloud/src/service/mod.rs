//! `switchyard cloud`: the cloud end of the sync bridge.
//!
//! One process listens for nodes (QUIC, mutual TLS anchored on the operator's CA),
//! stores what they send in its analytics store, and analyses call audio live:
//!
//! ```text
//!  node ──Item(call record)──► dedup + store (one transaction) ──► Ack
//!  node ──Item(audio chunk)──► per (call, party) recogniser ──► transcript
//!  node ──Item(recorded)─────► recording job per segment ─────► │ redacted, scored
//!                                 (worker threads)              │ and stored
//!  node ◄──Result(transcript, sentiment)────────────────────────┘
//! ```
//!
//! Every item is acknowledged only after it is stored (records) or taken by its
//! recogniser (audio), so the node's outbox never loses one; the received-keys
//! table makes a redelivered record a no-op. A recorded-audio segment (audio the
//! node could not stream live, sent from the call's recording) is acknowledged
//! only once it has been analysed and its findings stored: until then it stays
//! in the node's outbox, so a cloud that restarts mid-analysis gets it again
//! (a segment analysed twice stores its findings once: their keys are derived
//! from the call, party and place in the recording). The store holds only what
//! the node's classifier let through: pseudonyms, labels, figures, redacted text.

mod analysis;
mod config;
mod store;

use std::sync::Arc;

use sync_bridge::classify::{
    AgentStats, CallRecord, QueueStats, RecordedAudio, ResultBody, decode,
};
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

/// A recorded segment, analysed: its findings, to store before it is
/// acknowledged.
#[derive(Debug)]
struct Analysed {
    key: ItemKey,
    findings: Vec<Finding>,
}

/// Where [`take`] sends what it starts.
struct Sinks {
    found: mpsc::Sender<Finding>,
    analysed: mpsc::Sender<Analysed>,
}

/// Serves one node's connection until it ends.
async fn serve(mut conn: BridgeConnection, store: CloudStore, analysis: Arc<Analysis>) {
    let (found_tx, mut found_rx) = mpsc::channel::<Finding>(1024);
    let (analysed_tx, mut analysed_rx) = mpsc::channel::<Analysed>(64);
    let sinks = Sinks {
        found: found_tx,
        analysed: analysed_tx,
    };
    let mut acks: Vec<ItemKey> = Vec::new();
    loop {
        tokio::select! {
            incoming = conn.next() => {
                let Some(incoming) = incoming else { break };
                match incoming {
                    Ok(Incoming::Item(item)) => {
                        if take(&store, &analysis, &sinks, &item).await {
                            acks.push(item.key());
                        }
                        // Acknowledge in batches, but never sit on one when idle.
                        while acks.len() < ACK_BATCH {
                            match conn.try_next() {
                                Some(Ok(Incoming::Item(item))) => {
                                    if take(&store, &analysis, &sinks, &item).await {
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
            Some(analysed) = analysed_rx.recv() => {
                if keep_analysed(&store, &mut conn, analysed).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Stores a recorded segment's findings, sends them to the node, and
/// acknowledges the segment. A store failure leaves it unacknowledged (the node
/// sends it again after a reconnect); `Err` when the connection is gone.
async fn keep_analysed(
    store: &CloudStore,
    conn: &mut BridgeConnection,
    analysed: Analysed,
) -> Result<(), sync_bridge::link::LinkError> {
    for found in &analysed.findings {
        if let Err(error) = store.add_finding(found).await {
            tracing::warn!(%error, "recorded finding not stored; the segment waits");
            return Ok(());
        }
    }
    for found in analysed.findings {
        let result = AnalysisResult {
            key: found.key(),
            body: found.body,
        };
        conn.send_result(result).await?;
    }
    if let Err(error) = store.note_other(analysed.key).await {
        tracing::warn!(%error, "recorded segment not noted; it waits");
        return Ok(());
    }
    conn.ack(&[analysed.key]).await
}

/// Analyses one recorded segment and hands its findings to the connection once
/// its job has ended. Nothing is handed on when the pool refuses it (shutting
/// down): the segment stays unacknowledged.
async fn analyse_segment(
    analysis: Arc<Analysis>,
    segment: RecordedAudio,
    key: ItemKey,
    analysed: mpsc::Sender<Analysed>,
) {
    let Some(mut found) = analysis.recording(&segment).await else {
        return;
    };
    let mut findings = Vec::new();
    while let Some(finding) = found.recv().await {
        findings.push(finding);
    }
    tracing::debug!(
        call = %segment.call(),
        segment = segment.segment(),
        findings = findings.len(),
        "recorded segment analysed"
    );
    // The connection may be gone: the node then sends the segment again.
    let _ = analysed.send(Analysed { key, findings }).await;
}

/// Stores or analyses one item; `false` when it must not be acknowledged (a
/// store failure: the node will send it again).
async fn take(store: &CloudStore, analysis: &Arc<Analysis>, sinks: &Sinks, item: &Item) -> bool {
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
            analysis.audio(item.payload(), &sinks.found);
            true
        }
        Kind::RECORDED_AUDIO if analysis.analyses() => {
            match decode::<RecordedAudio>(item.payload()) {
                Ok(segment) => {
                    let (analysis, done) = (Arc::clone(analysis), sinks.analysed.clone());
                    tokio::spawn(analyse_segment(analysis, segment, item.key(), done));
                    // Acknowledged once analysed and stored (`keep_analysed`).
                    false
                }
                Err(error) => {
                    tracing::warn!(%error, "undecodable recorded segment dropped");
                    true
                }
            }
        }
        Kind::QUEUE_STATS => match decode::<QueueStats>(item.payload()) {
            Ok(stats) => stored(store.add_queue_stats(item.key(), &stats).await, "queue"),
            Err(error) => {
                tracing::warn!(%error, "undecodable queue statistics dropped");
                true
            }
        },
        Kind::AGENT_STATS => match decode::<AgentStats>(item.payload()) {
            Ok(stats) => stored(store.add_agent_stats(item.key(), &stats).await, "agent"),
            Err(error) => {
                tracing::warn!(%error, "undecodable agent statistics dropped");
                true
            }
        },
        _ => store.note_other(item.key()).await.is_ok(),
    }
}

/// Whether a statistics row is safely stored (and may be acknowledged).
fn stored(outcome: Result<bool, sqlx::Error>, kind: &str) -> bool {
    match outcome {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(%error, kind, "statistics not stored");
            false
        }
    }
}
