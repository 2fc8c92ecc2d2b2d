//! Live analysis of call audio through the worker [`Pool`]: each (call, party)
//! stream becomes a live job, its chunks flow through a bounded channel, and the
//! pool's final transcripts (already redacted and scored) come back as
//! [`Finding`]s for the node that sent the audio.
//!
//! A stream's utterance is closed after [`UTTERANCE_GAP`] without audio; a stream
//! idle for [`STREAM_IDLE`] ends and frees its worker. A stream the pool cannot
//! take (its queue full) is not analysed — the calls already being followed keep
//! their pace — and a stream that falls behind drops chunks rather than growing
//! memory. The pool's autoscaler grows and shrinks the workers with the queue's
//! depth and lag between the configured bounds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use sync_bridge::classify::{
    AudioChunk, CallRef, ResultBody, Samples, Sentiment as SentimentBody, Speaker, Transcript,
    decode,
};
use sync_bridge::wire::ItemKey;
use tokio::sync::mpsc;

use crate::pool::{AnalyticsEvent, CallId, FinalTranscript, Job, Party, Pool, StreamInput};

/// Silence (no chunks) that ends an utterance.
const UTTERANCE_GAP: Duration = Duration::from_millis(800);
/// Silence that ends a stream.
const STREAM_IDLE: Duration = Duration::from_secs(15);
/// Chunks queued per stream (4 s of 20 ms chunks).
const STREAM_QUEUE: usize = 200;
/// How often idle streams are looked at.
const SWEEP: Duration = Duration::from_millis(200);
/// Milliseconds of audio per chunk.
const CHUNK_MS: u128 = 20;

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
            ResultBody::Partial(t) => {
                // Each guess is its own result.
                h.update(t.text().as_bytes());
                (Some(t.call()), t.speaker(), t.seqs().0, 3_u8)
            }
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

/// A stream being analysed.
struct Stream {
    call: CallRef,
    speaker: Speaker,
    /// The first chunk's sequence number: utterance times count from it.
    first_seq: u64,
    chunks: mpsc::Sender<StreamInput>,
    last_audio: Instant,
    in_utterance: bool,
    found: mpsc::Sender<Finding>,
}

type Streams = Mutex<HashMap<(CallId, Party), Stream>>;

/// The pool and the streams in progress.
pub struct Analysis {
    pool: Option<Arc<Pool>>,
    workers: usize,
    streams: Arc<Streams>,
}

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis")
            .field("pool", &self.pool)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

fn lock(streams: &Streams) -> std::sync::MutexGuard<'_, HashMap<(CallId, Party), Stream>> {
    // A plain map: a panic elsewhere cannot leave it half-updated.
    streams.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Analysis {
    /// Analysis on `pool` with its results channel (none: audio is acknowledged
    /// and dropped); `workers` is the pool's upper bound, for the log.
    /// Must be called within a tokio runtime: it starts the result and sweep tasks.
    #[must_use]
    pub fn new(pool: Option<(Pool, mpsc::Receiver<AnalyticsEvent>)>, workers: usize) -> Self {
        let streams: Arc<Streams> = Arc::default();
        let pool = pool.map(|(pool, results)| {
            let pool = Arc::new(pool);
            Pool::spawn_autoscaler(&pool, Duration::from_secs(1));
            tokio::spawn(deliver(results, Arc::clone(&streams)));
            tokio::spawn(sweep(Arc::clone(&streams)));
            pool
        });
        Self {
            pool,
            workers,
            streams,
        }
    }

    /// The pool's upper bound of workers.
    #[must_use]
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// One audio item's payload: to its stream's job.
    pub fn audio(&self, payload: &[u8], found: &mpsc::Sender<Finding>) {
        let Some(pool) = &self.pool else {
            return;
        };
        let Ok(chunk) = decode::<AudioChunk>(payload) else {
            tracing::debug!("undecodable audio chunk dropped");
            return;
        };
        // The node sends linear PCM: 16 kHz from its audio tap, 8 kHz to a link
        // that agreed on payload version 1.
        let input = match chunk.samples() {
            Samples::Pcm16(pcm) => StreamInput::Audio(pcm),
            Samples::Pcm16Wide(pcm) => StreamInput::WideAudio(pcm),
            _ => return,
        };
        let (party, speaker) = match chunk.speaker() {
            Speaker::Caller => (Party::Caller, Speaker::Caller),
            _ => (Party::Agent, Speaker::Agent),
        };
        let id = (CallId::new(chunk.call().to_string()), party);
        let mut streams = lock(&self.streams);
        if !streams.contains_key(&id) {
            let (tx, rx) = mpsc::channel(STREAM_QUEUE);
            let job = Job::LiveAudio {
                call: id.0.clone(),
                party,
                chunks: rx,
            };
            if let Err(error) = pool.try_submit(job) {
                tracing::debug!(%error, "a new stream is not analysed");
                return;
            }
            streams.insert(
                id.clone(),
                Stream {
                    call: chunk.call(),
                    speaker,
                    first_seq: chunk.seq(),
                    chunks: tx,
                    last_audio: Instant::now(),
                    in_utterance: false,
                    found: found.clone(),
                },
            );
        }
        if let Some(stream) = streams.get_mut(&id) {
            stream.last_audio = Instant::now();
            stream.in_utterance = true;
            // A stream that falls behind loses this chunk, not memory.
            let _ = stream.chunks.try_send(input);
        }
    }
}

/// Closes utterances after a gap and ends idle streams.
async fn sweep(streams: Arc<Streams>) {
    let mut tick = tokio::time::interval(SWEEP);
    loop {
        tick.tick().await;
        let now = Instant::now();
        lock(&streams).retain(|_, s| {
            let quiet = now.saturating_duration_since(s.last_audio);
            if s.in_utterance && quiet >= UTTERANCE_GAP {
                s.in_utterance = false;
                let _ = s.chunks.try_send(StreamInput::EndUtterance);
            }
            // Dropping the sender ends the job and frees its worker.
            quiet < STREAM_IDLE && !s.chunks.is_closed()
        });
    }
}

/// Hands each final transcript to the node whose stream it came from, as a
/// transcript and a sentiment [`Finding`].
async fn deliver(mut results: mpsc::Receiver<AnalyticsEvent>, streams: Arc<Streams>) {
    while let Some(event) = results.recv().await {
        let t = match event {
            AnalyticsEvent::Final(t) => t,
            AnalyticsEvent::Partial {
                call, party, text, ..
            } => {
                deliver_partial(&streams, &call, party, text).await;
                continue;
            }
            _ => continue,
        };
        if t.text.trim().is_empty() {
            continue;
        }
        let target = {
            let streams = lock(&streams);
            streams
                .get(&(t.call.clone(), t.party))
                .map(|s| (s.call, s.speaker, s.first_seq, s.found.clone()))
        };
        let Some((call, speaker, first_seq, found)) = target else {
            continue;
        };
        for finding in findings(&t, call, speaker, first_seq) {
            if found.send(finding).await.is_err() {
                break;
            }
        }
    }
}

/// Hands the best guess so far for an utterance in progress to its node.
async fn deliver_partial(streams: &Streams, call: &CallId, party: Party, text: String) {
    if text.trim().is_empty() {
        return;
    }
    let target = {
        let streams = lock(streams);
        streams
            .get(&(call.clone(), party))
            .map(|s| (s.call, s.speaker, s.first_seq, s.found.clone()))
    };
    let Some((call, speaker, seq, found)) = target else {
        return;
    };
    let partial = Transcript::new(call, speaker, (seq, seq), text.clone(), 0.0);
    let finding = Finding {
        body: ResultBody::Partial(partial),
        text,
        sentiment: 0.0,
    };
    // A full queue drops a guess: the next one, or the final, follows.
    let _ = found.try_send(finding);
}

/// The transcript and sentiment results of one final utterance.
fn findings(t: &FinalTranscript, call: CallRef, speaker: Speaker, first_seq: u64) -> [Finding; 2] {
    let seq = |d: Duration| first_seq + u64::try_from(d.as_millis() / CHUNK_MS).unwrap_or(0);
    let (from, to) = (seq(t.start), seq(t.end));
    let compound = t.sentiment.compound;
    let transcript = Transcript::new(call, speaker, (from, to), t.text.clone(), 1.0);
    let sentiment = SentimentBody::new(call, speaker, to, compound as f32);
    [
        ResultBody::Transcript(transcript),
        ResultBody::Sentiment(sentiment),
    ]
    .map(|body| Finding {
        body,
        text: t.text.clone(),
        sentiment: compound,
    })
}
