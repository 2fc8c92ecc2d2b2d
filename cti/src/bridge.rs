//! The node's end of the sync bridge (`[bridge]` in the config).
//!
//! What crosses, and how:
//!
//! * **Call records**, classified (caller → keyed pseudonym, no Call-ID, no free
//!   text), are written to the `bridge_outbox` table in the same transaction as the
//!   CDR they describe (see [`crate::store::CdrWriter`]). A feeder task hands pending
//!   rows to the QUIC client; each row is deleted when the cloud acknowledges it, so
//!   a link that is down for hours loses nothing, and the cloud's duplicate filter
//!   makes a redelivery harmless.
//! * **Live audio** of answered calls (decoded from any codec the node speaks,
//!   20 ms per chunk, caller and agent apart) goes straight to the client while
//!   the link is up; while it is down, or the live queue is full, the chunks are
//!   dropped (the call itself is never affected) and the call is marked. A marked
//!   call that is recorded sends its recording instead when it ends: both channels,
//!   cut into segments at quiet moments, go to the outbox as history in the same
//!   transaction as the recording's index row, cross once a link agreed on payload
//!   version 4, and their results come back as `call.analysis` events with
//!   `"source": "recording"` and the `cdr_id` (see [`crate::bridge_recorded`]).
//!   Chunks are 16 kHz PCM, what the audio tap delivers and the
//!   cloud's speech models are trained on; a cloud that agreed only on payload
//!   version 1 gets them brought down to 8 kHz (one resampler per party).
//! * **Results** come back: transcripts and sentiment per party. They are published
//!   on the event stream (`call.analysis`), and a caller whose running sentiment
//!   falls below `[bridge] alert_below` raises a supervisor `alert`.
//!
//! Customer data never reaches this module: it sees CDRs and PCM only, and the
//! types it hands on can only be built by the classifier.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use media::codec::{Resampler, SampleRate};
use sync_bridge::classify::{
    AudioChunk, CallRef, CdrFacts, Classifier, Disposition as BridgeDisposition, Quality,
    ResultBody, Samples, Speaker,
};
use sync_bridge::link::{ClientEvent, ClientSetup, LinkConfig, run_client};
use sync_bridge::outbox::{Outbox, OutboxConfig, store as outbox_store};
use sync_bridge::tls::ClientTls;
use sync_bridge::wire::{Item, ItemKey, NodeId, Priority};
use tokio::sync::{Notify, mpsc};

use crate::api::{Event, EventBus, EventKind};
use crate::escalation::{Escalation, SentimentWatch};
use crate::store::{Cdr, Disposition, PartyQuality, Store};

/// Outbox rows handed to the client and not yet acknowledged, at most.
const MAX_HANDED: usize = 10_000;
/// Rows read from the table per pass.
const FEED_BATCH: u32 = 500;
/// Live audio chunks queued toward the client, at most (a slow link drops audio,
/// never grows memory).
const AUDIO_QUEUE: usize = 2_048;
/// How often the feeder looks at the table without being woken.
const FEED_POLL: Duration = Duration::from_secs(2);
/// The first payload version whose audio chunks may be 16 kHz.
const WIDE_AUDIO_VERSION: u16 = 2;

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum BridgeError {
    /// A certificate, key or the pseudonym key could not be read.
    #[error("bridge credentials in {dir}: {message}")]
    Credentials {
        /// The `[bridge] certs` directory.
        dir: String,
        /// What was wrong.
        message: String,
    },
}

/// The running bridge, shared by the CDR writer and every call.
pub(crate) struct NodeBridge {
    classifier: Classifier,
    audio: bool,
    alert_below: f64,
    up: AtomicBool,
    /// The payload version the link agreed on (0 before the first connection).
    version: AtomicU16,
    wake: Notify,
    live: mpsc::Sender<Item>,
    /// Call references of calls streaming audio → their Call-ID, for results.
    calls: Mutex<HashMap<CallRef, String>>,
    /// Each party's running sentiment, per call.
    trend: Mutex<HashMap<(CallRef, bool), f64>>,
    /// Calls whose caller already raised a sentiment alert.
    alerted: Mutex<HashSet<CallRef>>,
    /// The latest analysis of each live call, by Call-ID, for the API.
    analysis: Mutex<HashMap<String, crate::api::CallAnalysis>>,
    /// 16 → 8 kHz per (call, caller?) stream, for a cloud without 16 kHz audio.
    narrow: Mutex<HashMap<(CallRef, bool), Resampler>>,
    /// Streaming calls that missed some of their audio (dropped chunks).
    missed: Mutex<HashSet<CallRef>>,
    /// Recorded audio of calls that missed some: segments in hand, and the
    /// calls their results name.
    pub(crate) recorded: crate::bridge_recorded::RecordedBacklog,
    /// Answered calls whose queue escalates on the caller's sentiment.
    watches: Mutex<HashMap<CallRef, SentimentWatch>>,
    /// Where a fired watch goes: the node hands it to the call.
    escalations: mpsc::UnboundedSender<Escalation>,
}

impl std::fmt::Debug for NodeBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeBridge")
            .field("audio", &self.audio)
            .field("up", &self.up.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Reads the credentials and starts the client, the feeder and the result handler.
///
/// # Errors
///
/// [`BridgeError::Credentials`] when the certificates or keys cannot be loaded.
pub(crate) fn start(
    cfg: &config::BridgeConfig,
    node_name: &str,
    store: Store,
    events: EventBus,
    escalations: mpsc::UnboundedSender<Escalation>,
) -> Result<Arc<NodeBridge>, BridgeError> {
    let dir = &cfg.certs;
    let fail = |message: String| BridgeError::Credentials {
        dir: dir.display().to_string(),
        message,
    };
    let tls = ClientTls::from_files(
        &dir.join("ca.pem"),
        &dir.join("node.pem"),
        &dir.join("node.key"),
    )
    .map_err(|e| fail(e.to_string()))?;
    let key = sync_bridge::pki::load_pseudonym_key(&dir.join("pseudonym.key"))
        .map_err(|e| fail(e.to_string()))?;
    let node = NodeId::new(node_name)
        .ok_or_else(|| fail(format!("node name {node_name:?} is not an identifier")))?;
    let setup = ClientSetup {
        addr: cfg.cloud,
        server_name: cfg.server_name.clone(),
        tls,
        node,
        link: LinkConfig::default(),
    };
    let (items_tx, items_rx) = mpsc::channel(AUDIO_QUEUE);
    let (events_tx, events_rx) = mpsc::channel(1024);
    let bridge = Arc::new(NodeBridge {
        classifier: Classifier::new(&key),
        audio: cfg.audio,
        alert_below: cfg.alert_below,
        up: AtomicBool::new(false),
        version: AtomicU16::new(0),
        wake: Notify::new(),
        live: items_tx.clone(),
        calls: Mutex::default(),
        trend: Mutex::default(),
        alerted: Mutex::default(),
        analysis: Mutex::default(),
        narrow: Mutex::default(),
        missed: Mutex::default(),
        recorded: crate::bridge_recorded::RecordedBacklog::default(),
        watches: Mutex::default(),
        escalations,
    });
    let handed = Arc::new(Mutex::new(HashSet::new()));
    tokio::spawn(run_client(
        setup,
        Outbox::new(OutboxConfig::default()),
        items_rx,
        events_tx,
    ));
    tokio::spawn(feed(
        Arc::clone(&bridge),
        store.clone(),
        items_tx,
        Arc::clone(&handed),
    ));
    tokio::spawn(crate::bridge_recorded::load(
        Arc::clone(&bridge),
        store.clone(),
    ));
    tokio::spawn(handle_events(
        Arc::clone(&bridge),
        store,
        events,
        events_rx,
        handed,
    ));
    tracing::info!(cloud = %cfg.cloud, audio = cfg.audio, "bridge to the cloud started");
    Ok(bridge)
}

impl NodeBridge {
    /// The outbox item for `cdr`: its classified record, delivered before history.
    pub(crate) fn classify_cdr(&self, cdr: &Cdr) -> Option<Item> {
        let quality = |q: &Option<PartyQuality>| {
            q.map(|q| Quality {
                mos: q.mos,
                loss_pct: q.loss_pct,
                jitter_ms: q.jitter_ms,
                rtt_ms: q.rtt_ms,
            })
        };
        let facts = CdrFacts {
            cdr_id: &cdr.id,
            sip_call_id: &cdr.call_id,
            caller: &cdr.caller,
            callee: &cdr.callee,
            started_at_ms: cdr.started_at,
            answered_at_ms: cdr.answered_at,
            ended_at_ms: cdr.ended_at,
            disposition: disposition(cdr.disposition),
            hangup_cause: &cdr.hangup_cause,
            sip_status: cdr.sip_status,
            caller_quality: quality(&cdr.caller_quality),
            callee_quality: quality(&cdr.callee_quality),
            ivr_path: cdr.routing.ivr_path.as_deref(),
            ivr_outcome: cdr.routing.ivr_outcome.as_deref(),
            queue: cdr.routing.queue.as_deref(),
            queue_wait_ms: cdr.routing.queue_wait_ms,
            agent: cdr.routing.agent.as_deref(),
        };
        let record = self.classifier.call_record(&facts);
        match Item::classified(&record, Priority::ResultBearing) {
            Ok(item) => Some(item),
            Err(error) => {
                tracing::warn!(%error, "call record not classified for the bridge");
                None
            }
        }
    }

    /// New rows are in the outbox table.
    pub(crate) fn committed(&self) {
        self.wake.notify_one();
    }

    /// Whether answered calls stream their audio.
    pub(crate) fn streams_audio(&self) -> bool {
        self.audio
    }

    /// Starts a call's audio stream; returns the reference its chunks carry.
    pub(crate) fn open_call(&self, cdr_id: &str, call_id: &str) -> CallRef {
        let call = self.classifier.call_ref(cdr_id);
        lock(&self.calls).insert(call, call_id.to_owned());
        call
    }

    /// The bridge's name for the call whose CDR id is `cdr_id`.
    pub(crate) fn call_ref(&self, cdr_id: &str) -> CallRef {
        self.classifier.call_ref(cdr_id)
    }

    /// The call ended: no more chunks, and results that arrive late are dropped.
    /// Returns whether any of its audio was missed (chunks dropped).
    pub(crate) fn close_call(&self, call: CallRef) -> bool {
        if let Some(call_id) = lock(&self.calls).remove(&call) {
            lock(&self.analysis).remove(&call_id);
        }
        lock(&self.trend).retain(|(c, _), _| *c != call);
        lock(&self.alerted).remove(&call);
        lock(&self.narrow).retain(|(c, _), _| *c != call);
        lock(&self.watches).remove(&call);
        lock(&self.missed).remove(&call)
    }

    /// One chunk of a party's audio, `pcm` at the audio tap's 16 kHz
    /// ([`media::AUDIO_RATE`]). Dropped while the link is down or behind, and
    /// the call marked as having missed audio.
    pub(crate) fn audio_chunk(&self, call: CallRef, caller: bool, seq: u64, pcm: &[i16]) {
        if pcm.is_empty() {
            return;
        }
        if !self.up.load(Ordering::Relaxed) || !self.stream_chunk(call, caller, seq, pcm) {
            lock(&self.missed).insert(call);
        }
    }

    /// Classifies one chunk and queues it for the client; `false` when it was
    /// dropped.
    fn stream_chunk(&self, call: CallRef, caller: bool, seq: u64, pcm: &[i16]) -> bool {
        let speaker = if caller {
            Speaker::Caller
        } else {
            Speaker::Agent
        };
        let samples = self.samples_for_link(call, caller, pcm);
        let Ok(chunk) = AudioChunk::new(call, speaker, seq, samples) else {
            return false;
        };
        Item::classified(&chunk, Priority::LiveAudio)
            .is_ok_and(|item| self.live.try_send(item).is_ok())
    }

    /// `pcm` (16 kHz) as the agreed payload version can carry it.
    fn samples_for_link(&self, call: CallRef, caller: bool, pcm: &[i16]) -> Samples {
        if self.version.load(Ordering::Relaxed) >= WIDE_AUDIO_VERSION {
            return Samples::Pcm16Wide(pcm.to_vec());
        }
        let mut narrow = Vec::with_capacity(pcm.len() / 2);
        lock(&self.narrow)
            .entry((call, caller))
            .or_insert_with(|| Resampler::new(media::AUDIO_RATE, SampleRate::Hz8000))
            .process(pcm, &mut narrow);
        Samples::Pcm16(narrow)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain maps: a panic elsewhere cannot leave them half-updated.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn disposition(d: Disposition) -> BridgeDisposition {
    match d {
        Disposition::Answered => BridgeDisposition::Answered,
        Disposition::Busy => BridgeDisposition::Busy,
        Disposition::NoAnswer => BridgeDisposition::NoAnswer,
        Disposition::Cancelled => BridgeDisposition::Cancelled,
        Disposition::Unavailable => BridgeDisposition::Unavailable,
        Disposition::NotFound => BridgeDisposition::NotFound,
        _ => BridgeDisposition::Failed,
    }
}

/// Hands pending outbox rows to the client, oldest first within each priority,
/// keeping at most [`MAX_HANDED`] unacknowledged.
async fn feed(
    bridge: Arc<NodeBridge>,
    store: Store,
    items: mpsc::Sender<Item>,
    handed: Arc<Mutex<HashSet<ItemKey>>>,
) {
    loop {
        let room = MAX_HANDED.saturating_sub(lock(&handed).len());
        if room > 0 {
            let limit = FEED_BATCH.min(u32::try_from(room).unwrap_or(FEED_BATCH));
            match outbox_store::load_pending(store.pool(), limit).await {
                Ok(rows) => {
                    for item in rows {
                        let version = bridge.version.load(Ordering::Relaxed);
                        if !bridge.recorded.admit(&item, version, &lock(&handed)) {
                            continue;
                        }
                        if !lock(&handed).insert(item.key()) {
                            continue;
                        }
                        if items.send(item).await.is_err() {
                            return;
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "bridge outbox not read"),
            }
        }
        let _ = tokio::time::timeout(FEED_POLL, bridge.wake.notified()).await;
    }
}

/// Acts on what the client reports: acknowledged rows are deleted, results are
/// published.
async fn handle_events(
    bridge: Arc<NodeBridge>,
    store: Store,
    events: EventBus,
    mut rx: mpsc::Receiver<ClientEvent>,
    handed: Arc<Mutex<HashSet<ItemKey>>>,
) {
    while let Some(event) = rx.recv().await {
        match event {
            ClientEvent::Connected { peer, version, .. } => {
                bridge.version.store(version, Ordering::Relaxed);
                bridge.up.store(true, Ordering::Relaxed);
                tracing::info!(cloud = ?peer, version, "bridge link up");
            }
            ClientEvent::Disconnected(error) if bridge.up.swap(false, Ordering::Relaxed) => {
                tracing::warn!(%error, "bridge link down");
            }
            ClientEvent::Acked(keys) => {
                if let Err(error) = outbox_store::remove(store.pool(), &keys).await {
                    tracing::warn!(%error, "acknowledged outbox rows not removed");
                }
                let mut handed = lock(&handed);
                for key in &keys {
                    handed.remove(key);
                }
                drop(handed);
                bridge.wake.notify_one();
            }
            ClientEvent::Result(result) => bridge.publish_result(&events, result.body),
            _ => {}
        }
    }
}

impl NodeBridge {
    /// Publishes a transcript or sentiment for the live call it belongs to, and an
    /// alert when the caller's sentiment falls below the threshold.
    fn publish_result(&self, events: &EventBus, body: ResultBody) {
        let (call, speaker) = match &body {
            ResultBody::Transcript(t) | ResultBody::Partial(t) => (t.call(), t.speaker()),
            ResultBody::Sentiment(s) => (s.call(), s.speaker()),
            _ => return,
        };
        let Some(call_id) = lock(&self.calls).get(&call).cloned() else {
            // A call that ended: its recording's results, if it sent one.
            self.recorded.publish(events, &body);
            return;
        };
        let party = if speaker == Speaker::Caller {
            "caller"
        } else {
            "agent"
        };
        let data = match &body {
            ResultBody::Transcript(t) => serde_json::json!({
                "party": party, "transcript": t.text(), "confidence": t.confidence(),
            }),
            ResultBody::Partial(t) => serde_json::json!({ "party": party, "partial": t.text() }),
            ResultBody::Sentiment(s) => {
                let score = f64::from(s.score());
                let trend = self.update_trend(call, speaker == Speaker::Caller, score);
                let caller = speaker == Speaker::Caller;
                if caller {
                    self.watch_caller(call, &call_id, score);
                }
                if caller && trend < self.alert_below && lock(&self.alerted).insert(call) {
                    let alert = serde_json::json!({
                        "severity": "warning",
                        "reason": format!("caller sentiment {trend:.2} below {:.2}", self.alert_below),
                        "sentiment": trend,
                    });
                    events.publish(
                        Event::new(EventKind::Alert, crate::api::unix_ms_now())
                            .call(call_id.clone())
                            .data(alert),
                    );
                }
                serde_json::json!({ "party": party, "sentiment": score, "trend": trend })
            }
            _ => return,
        };
        self.remember(&call_id, speaker == Speaker::Caller, &data);
        events.publish(
            Event::new(EventKind::CallAnalysis, crate::api::unix_ms_now())
                .call(call_id)
                .data(data),
        );
    }

    /// The classifier every item on the bridge is made by.
    pub(crate) fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// Watches the caller of answered call `call` for its queue's sentiment
    /// escalation (`None`: the queue has none, or no longer: a new agent's queue).
    pub(crate) fn watch_sentiment(&self, call: CallRef, rule: Option<config::SentimentEscalation>) {
        let mut watches = lock(&self.watches);
        match rule {
            Some(rule) => watches.insert(call, SentimentWatch::new(rule)),
            None => watches.remove(&call),
        };
    }

    /// Counts one of the caller's utterances toward the call's escalation.
    fn watch_caller(&self, call: CallRef, call_id: &str, score: f64) {
        let mut watches = lock(&self.watches);
        let Some(watch) = watches.get_mut(&call) else {
            return;
        };
        if watch.observe(score) {
            let to = watch.target().to_owned();
            watches.remove(&call);
            let _ = self.escalations.send(Escalation {
                call_id: call_id.to_owned(),
                to,
                sentiment: score,
            });
        }
    }

    /// Keeps a result as the call's latest, for [`NodeBridge::analysis_of`].
    fn remember(&self, call_id: &str, caller: bool, data: &serde_json::Value) {
        let mut all = lock(&self.analysis);
        let analysis = all.entry(call_id.to_owned()).or_default();
        let party = if caller {
            &mut analysis.caller
        } else {
            &mut analysis.agent
        };
        let party = party.get_or_insert_with(Default::default);
        if let Some(text) = data["transcript"].as_str() {
            party.transcript = Some(text.to_owned());
        }
        if let Some(score) = data["sentiment"].as_f64() {
            party.sentiment = Some(score);
        }
        if let Some(trend) = data["trend"].as_f64() {
            party.trend = Some(trend);
        }
    }

    /// The latest analysis of the live call `call_id`, if any came back.
    pub(crate) fn analysis_of(&self, call_id: &str) -> Option<crate::api::CallAnalysis> {
        lock(&self.analysis).get(call_id).cloned()
    }

    /// The party's running sentiment: an exponentially weighted mean of its
    /// utterances (the latest counts for a third).
    fn update_trend(&self, call: CallRef, caller: bool, score: f64) -> f64 {
        let mut trend = lock(&self.trend);
        let value = trend
            .entry((call, caller))
            .and_modify(|t| *t = *t * 2.0 / 3.0 + score / 3.0)
            .or_insert(score);
        *value
    }
}

#[cfg(test)]
mod tests {
    use sync_bridge::classify::{KEY_LEN, PseudonymKey};

    use super::*;

    fn bridge(version: u16) -> NodeBridge {
        bridge_escalating(version, mpsc::unbounded_channel().0)
    }

    fn bridge_escalating(
        version: u16,
        escalations: mpsc::UnboundedSender<Escalation>,
    ) -> NodeBridge {
        let key = PseudonymKey::from_bytes(&[7; KEY_LEN]).expect("32 bytes");
        let (live, _) = mpsc::channel(1);
        NodeBridge {
            classifier: Classifier::new(&key),
            audio: true,
            alert_below: -0.5,
            up: AtomicBool::new(true),
            version: AtomicU16::new(version),
            wake: Notify::new(),
            live,
            calls: Mutex::default(),
            trend: Mutex::default(),
            alerted: Mutex::default(),
            narrow: Mutex::default(),
            missed: Mutex::default(),
            recorded: crate::bridge_recorded::RecordedBacklog::default(),
            analysis: Mutex::default(),
            watches: Mutex::default(),
            escalations,
        }
    }

    #[test]
    fn a_watched_callers_run_of_low_scores_asks_the_call_to_escalate_once() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let bridge = bridge_escalating(2, tx);
        let call = bridge.open_call("cdr-1", "call-1");
        let cfg = config::NodeConfig::parse(
            "[[acd.queues]]\nname = \"senior\"\n[[acd.queues]]\nname = \"sales\"\nescalate_to = \"senior\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let rule = cfg.queue_options["sales"].escalation.clone();
        // Unwatched, nothing happens however low the scores.
        bridge.watch_caller(call, "call-1", -0.9);
        bridge.watch_caller(call, "call-1", -0.9);
        assert!(rx.try_recv().is_err());
        bridge.watch_sentiment(call, rule);
        bridge.watch_caller(call, "call-1", -0.7);
        assert!(rx.try_recv().is_err(), "one low utterance is not a run");
        bridge.watch_caller(call, "call-1", -0.6);
        let escalation = rx.try_recv().expect("the run completes");
        assert_eq!(
            escalation,
            Escalation {
                call_id: "call-1".to_owned(),
                to: "senior".to_owned(),
                sentiment: -0.6
            }
        );
        bridge.watch_caller(call, "call-1", -0.9);
        bridge.watch_caller(call, "call-1", -0.9);
        assert!(rx.try_recv().is_err(), "once per watch");
    }

    #[test]
    fn a_live_calls_latest_analysis_is_kept_per_party_until_it_ends() {
        let bridge = bridge(2);
        let call = bridge.open_call("cdr-1", "call-1");
        let said = serde_json::json!({ "party": "caller", "transcript": "i want a refund" });
        bridge.remember("call-1", true, &said);
        let scored = serde_json::json!({ "party": "caller", "sentiment": -0.6, "trend": -0.4 });
        bridge.remember("call-1", true, &scored);
        let agent = serde_json::json!({ "party": "agent", "sentiment": 0.3, "trend": 0.3 });
        bridge.remember("call-1", false, &agent);
        let analysis = bridge.analysis_of("call-1").expect("kept");
        let caller = analysis.caller.expect("the caller's side");
        assert_eq!(caller.transcript.as_deref(), Some("i want a refund"));
        assert_eq!((caller.sentiment, caller.trend), (Some(-0.6), Some(-0.4)));
        let agent = analysis.agent.expect("the agent's side");
        assert_eq!((agent.transcript, agent.trend), (None, Some(0.3)));
        assert_eq!(bridge.analysis_of("call-2"), None);
        bridge.close_call(call);
        assert_eq!(
            bridge.analysis_of("call-1"),
            None,
            "forgotten with the call"
        );
    }

    /// 20 ms of a `hz` tone at 16 kHz, frame `n` of a continuous stream.
    fn frame(hz: f64, n: usize) -> Vec<i16> {
        (n * 320..(n + 1) * 320)
            .map(|i| (8000.0 * (std::f64::consts::TAU * hz * i as f64 / 16_000.0).sin()) as i16)
            .collect()
    }

    #[test]
    fn a_version_2_link_gets_16_khz_chunks_as_tapped() {
        let bridge = bridge(2);
        let call = bridge.classifier.call_ref("cdr-1");
        let pcm = frame(1000.0, 0);
        assert_eq!(
            bridge.samples_for_link(call, true, &pcm),
            Samples::Pcm16Wide(pcm)
        );
    }

    #[test]
    fn a_version_1_link_gets_each_party_narrowed_to_8_khz_without_seams() {
        let bridge = bridge(1);
        let call = bridge.classifier.call_ref("cdr-2");
        let mut caller = Vec::new();
        for n in 0..10 {
            let Samples::Pcm16(narrow) = bridge.samples_for_link(call, true, &frame(1000.0, n))
            else {
                panic!("8 kHz PCM for a version 1 link");
            };
            assert_eq!(narrow.len(), 160);
            caller.extend(narrow);
            // The agent's stream has a resampler of its own.
            let agent = bridge.samples_for_link(call, false, &frame(300.0, n));
            assert!(matches!(agent, Samples::Pcm16(ref s) if s.len() == 160));
        }
        // One continuous 1 kHz tone at full amplitude, with no seam at the chunk
        // edges: no step is steeper than the sine's own (2 · 8000 · sin(π/8)).
        let settled = &caller[400..];
        let peak = settled.iter().map(|s| s.unsigned_abs()).max();
        assert!(peak.is_some_and(|p| (7600..8400).contains(&p)), "{peak:?}");
        let steepest = settled
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max();
        assert!(steepest.is_some_and(|s| s < 6500), "{steepest:?}");
        bridge.close_call(call);
        assert!(lock(&bridge.narrow).is_empty());
    }

    #[test]
    fn a_call_that_lost_chunks_says_so_when_it_closes() {
        let bridge = bridge(2);
        let whole = bridge.open_call("cdr-1", "call-1");
        let cut = bridge.open_call("cdr-2", "call-2");
        bridge.up.store(false, Ordering::Relaxed);
        bridge.audio_chunk(cut, true, 0, &frame(300.0, 0));
        bridge.audio_chunk(whole, true, 0, &[]);
        assert!(bridge.close_call(cut), "dropped while the link was down");
        assert!(!bridge.close_call(whole), "nothing to drop");
        assert!(!bridge.close_call(cut), "asked once");
        // Link up, but the live queue cannot take the chunk.
        bridge.up.store(true, Ordering::Relaxed);
        let full = bridge.open_call("cdr-3", "call-3");
        bridge.audio_chunk(full, false, 0, &frame(300.0, 0));
        assert!(bridge.close_call(full), "dropped by the queue");
    }
}
