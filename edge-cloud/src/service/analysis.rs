//! Live analysis of call audio: one recogniser per (call, party), each on its own
//! worker thread, at most `workers` at a time.
//!
//! Chunks of a stream go to its thread through a bounded queue (a stream that falls
//! behind drops audio rather than growing memory). A stream's utterance ends when
//! the engine detects it or after [`UTTERANCE_GAP`] without audio; its final text is
//! redacted, scored for sentiment and handed back as two [`Finding`]s (transcript,
//! sentiment). A stream idle for [`STREAM_IDLE`] ends and frees its worker. When
//! every worker is busy a new stream is refused (logged, its audio dropped): the
//! calls already being analysed keep their real-time pace.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use sync_bridge::classify::{
    AudioChunk, CallRef, ResultBody, Samples, Sentiment as SentimentBody, Speaker, Transcript,
    decode,
};
use sync_bridge::wire::ItemKey;
use tokio::sync::mpsc;

use crate::asr::{AsrEvent, SpeechEngine};
use crate::sentiment::SentimentModel;

/// Silence (no chunks) that ends an utterance.
const UTTERANCE_GAP: Duration = Duration::from_millis(800);
/// Silence that ends a stream.
const STREAM_IDLE: Duration = Duration::from_secs(15);
/// Chunks queued per stream (4 s of 20 ms chunks).
const STREAM_QUEUE: usize = 200;

/// One result of the analysis, ready for the node and the store.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What it is, as it crosses the bridge.
    pub body: ResultBody,
    /// The redacted utterance it came from.
    pub text: String,
    /// Its sentiment, −1..1.
    pub sentiment: f64,
}

impl Finding {
    /// The result's idempotency key: the utterance and the kind of result.
    #[must_use]
    pub fn key(&self) -> ItemKey {
        let mut h = Sha256::new();
        let (call, speaker, seq, kind) = match &self.body {
            ResultBody::Transcript(t) => (Some(t.call()), t.speaker(), t.seqs().0, 1_u8),
            ResultBody::Sentiment(s) => (Some(s.call()), s.speaker(), s.up_to_seq(), 2_u8),
            _ => (None, Speaker::Caller, 0, 0),
        };
        if let Some(call) = call {
            h.update(call.as_bytes());
        }
        h.update([u8::from(speaker == Speaker::Agent), kind]);
        h.update(seq.to_be_bytes());
        let digest = h.finalize();
        let mut key = [0_u8; 16];
        key.copy_from_slice(&digest[..16]);
        ItemKey::from_u128(u128::from_be_bytes(key))
    }
}

/// The speech and sentiment engines and the streams in progress.
pub struct Analysis {
    engine: Option<Arc<dyn SpeechEngine>>,
    sentiment: Arc<dyn SentimentModel>,
    workers: usize,
    streams: Arc<Mutex<HashMap<(CallRef, Speaker), SyncSender<Vec<i16>>>>>,
}

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis")
            .field("engine", &self.engine.as_ref().map(|e| e.name()))
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl Analysis {
    /// Analysis with `engine` (none: audio is acknowledged and dropped) on at most
    /// `workers` streams at once.
    #[must_use]
    pub fn new(
        engine: Option<Arc<dyn SpeechEngine>>,
        sentiment: Arc<dyn SentimentModel>,
        workers: usize,
    ) -> Self {
        Self {
            engine,
            sentiment,
            workers: workers.max(1),
            streams: Arc::default(),
        }
    }

    /// Streams that may run at once.
    #[must_use]
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// One audio item's payload: to its stream's recogniser.
    pub fn audio(&self, payload: &[u8], found: &mpsc::Sender<Finding>) {
        let Some(engine) = &self.engine else {
            return;
        };
        let Ok(chunk) = decode::<AudioChunk>(payload) else {
            tracing::debug!("undecodable audio chunk dropped");
            return;
        };
        // The node sends linear PCM (it decodes G.711 for its own recorder anyway).
        let Samples::Pcm16(pcm) = chunk.samples() else {
            return;
        };
        let id = (chunk.call(), chunk.speaker());
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        if !streams.contains_key(&id) {
            if streams.len() >= self.workers {
                tracing::debug!("every worker busy: a new stream is not analysed");
                return;
            }
            let (tx, rx) = sync_channel(STREAM_QUEUE);
            let stream = Stream {
                id,
                first_seq: chunk.seq(),
                seq: chunk.seq(),
                sentiment: Arc::clone(&self.sentiment),
                found: found.clone(),
            };
            let engine = Arc::clone(engine);
            let streams_ref = Arc::clone(&self.streams);
            std::thread::spawn(move || {
                stream.run(engine.as_ref(), &rx);
                streams_ref
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
            });
            streams.insert(id, tx);
        }
        if let Some(tx) = streams.get(&id)
            && let Err(TrySendError::Disconnected(_)) = tx.try_send(pcm)
        {
            streams.remove(&id);
        }
    }
}

/// One party's audio on one call, on its worker thread.
struct Stream {
    id: (CallRef, Speaker),
    first_seq: u64,
    seq: u64,
    sentiment: Arc<dyn SentimentModel>,
    found: mpsc::Sender<Finding>,
}

impl Stream {
    fn run(mut self, engine: &dyn SpeechEngine, rx: &Receiver<Vec<i16>>) {
        let mut recogniser = match engine.recogniser() {
            Ok(r) => r,
            Err(error) => return tracing::warn!(%error, "no recogniser for a stream"),
        };
        let mut events = Vec::new();
        let mut in_utterance = false;
        let mut idle = Duration::ZERO;
        loop {
            match rx.recv_timeout(UTTERANCE_GAP) {
                Ok(pcm) => {
                    idle = Duration::ZERO;
                    if !in_utterance {
                        self.first_seq = self.seq;
                    }
                    in_utterance = true;
                    self.seq += 1;
                    if recogniser.feed(&pcm, &mut events).is_err() {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    idle += UTTERANCE_GAP;
                    if in_utterance {
                        in_utterance = false;
                        if recogniser.end_utterance(&mut events).is_err() {
                            return;
                        }
                    } else if idle >= STREAM_IDLE {
                        return;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = recogniser.end_utterance(&mut events);
                    self.report(&mut events);
                    return;
                }
            }
            self.report(&mut events);
        }
    }

    /// Final transcripts become findings; partial ones are not sent.
    fn report(&mut self, events: &mut Vec<AsrEvent>) {
        for event in events.drain(..) {
            let AsrEvent::Final(h) = event else {
                continue;
            };
            if h.text.trim().is_empty() {
                continue;
            }
            let text = crate::redact::redact(&h.text).text;
            let score = self.sentiment.score(&text);
            let (call, speaker) = self.id;
            let transcript =
                Transcript::new(call, speaker, (self.first_seq, self.seq), text.clone(), 1.0);
            let sentiment = SentimentBody::new(call, speaker, self.seq, score.compound as f32);
            for body in [
                ResultBody::Transcript(transcript),
                ResultBody::Sentiment(sentiment),
            ] {
                let finding = Finding {
                    body,
                    text: text.clone(),
                    sentiment: score.compound,
                };
                if self.found.blocking_send(finding).is_err() {
                    return;
                }
            }
            self.first_seq = self.seq;
        }
    }
}
