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
//!
//! A recorded segment (audio the node could not stream live, sent from the
//! call's recording) becomes a recording job of its own, served when no live
//! job waits; [`Analysis::recording`] hands back a channel of its findings that
//! closes when the job has ended. Their sequence numbers count 20 ms frames
//! from the start of the recording ([`RecordedAudio::SEQ_MS`]), so a finding
//! says where in the call its words were.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use sync_bridge::classify::{
    AudioChunk, CallRef, RecordedAudio, ResultBody, Samples, Sentiment as SentimentBody, Speaker,
    Transcript, decode,
};
use sync_bridge::wire::ItemKey;
use tokio::sync::mpsc;

use crate::pool::{
    AnalyticsEvent, CallId, FinalTranscript, Job, JobKind, Party, Pool, StreamInput,
};

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
/// Findings of one recorded segment queued for its consumer.
const SEGMENT_FINDINGS: usize = 64;

/// One result of the analysis, ready for the node and the store.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What it is, as it crosses the bridge.
    pub body: ResultBody,
    /// The redacted utterance it came from.
    pub text: String,
    /// Its sentiment, −1..1.
    pub sentiment: f64,
    /// Whether it came from recorded audio (not a live stream).
    pub recorded: bool,
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
        if self.recorded {
            // Recorded and live results of one call never share a key.
            h.update(b"recorded");
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

/// A recorded segment being analysed: where its findings go.
struct Segment {
    call: CallRef,
    speaker: Speaker,
    /// Where the segment starts in the recording, in 20 ms frames.
    first_seq: u64,
    found: mpsc::Sender<Finding>,
}

type Segments = Mutex<HashMap<(CallId, Party), Segment>>;

/// The pool and the streams in progress.
pub struct Analysis {
    pool: Option<Arc<Pool>>,
    workers: usize,
    streams: Arc<Streams>,
    segments: Arc<Segments>,
    /// Numbers each recording job, so a segment sent twice is two jobs.
    next_job: AtomicU64,
}

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis")
            .field("pool", &self.pool)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

fn lock<T>(map: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A plain map: a panic elsewhere cannot leave it half-updated.
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Analysis {
    /// Analysis on `pool` with its results channel (none: audio is acknowledged
    /// and dropped); `workers` is the pool's upper bound, for the log.
    /// Must be called within a tokio runtime: it starts the result and sweep tasks.
    #[must_use]
    pub fn new(pool: Option<(Pool, mpsc::Receiver<AnalyticsEvent>)>, workers: usize) -> Self {
        let streams: Arc<Streams> = Arc::default();
        let segments: Arc<Segments> = Arc::default();
        let pool = pool.map(|(pool, results)| {
            let pool = Arc::new(pool);
            Pool::spawn_autoscaler(&pool, Duration::from_secs(1));
            tokio::spawn(deliver(
                results,
                Arc::clone(&streams),
                Arc::clone(&segments),
            ));
            tokio::spawn(sweep(Arc::clone(&streams)));
            pool
        });
        Self {
            pool,
            workers,
            streams,
            segments,
            next_job: AtomicU64::new(0),
        }
    }

    /// The pool's upper bound of workers.
    #[must_use]
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Whether audio is analysed at all (a pool is configured).
    #[must_use]
    pub fn analyses(&self) -> bool {
        self.pool.is_some()
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

    /// Analyses one recorded segment as a recording job (queued behind live
    /// audio; waits while the pool's queue is full). Its findings come on the
    /// returned channel, which closes once the job has ended, done or failed.
    /// `None` when there is no pool ([`Analysis::analyses`]), or it is shutting
    /// down: the segment is not analysed.
    pub async fn recording(&self, segment: &RecordedAudio) -> Option<mpsc::Receiver<Finding>> {
        let pool = self.pool.as_ref()?;
        let party = match segment.speaker() {
            Speaker::Caller => Party::Caller,
            Speaker::Agent => Party::Agent,
        };
        let n = self.next_job.fetch_add(1, Ordering::Relaxed);
        let call = CallId::new(format!("{}#{}.{n}", segment.call(), segment.segment()));
        let (found, rx) = mpsc::channel(SEGMENT_FINDINGS);
        let target = Segment {
            call: segment.call(),
            speaker: segment.speaker(),
            first_seq: segment.offset_ms() / RecordedAudio::SEQ_MS,
            found,
        };
        lock(&self.segments).insert((call.clone(), party), target);
        let job = Job::Recording {
            call: call.clone(),
            party,
            pcm: segment.samples(),
        };
        if let Err(error) = pool.submit(job).await {
            tracing::warn!(%error, "a recorded segment is not analysed");
            lock(&self.segments).remove(&(call, party));
            return None;
        }
        Some(rx)
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

/// Hands each final transcript to the node whose stream (or recorded segment)
/// it came from, as a transcript and a sentiment [`Finding`]; closes a
/// segment's channel when its job ends.
async fn deliver(
    mut results: mpsc::Receiver<AnalyticsEvent>,
    streams: Arc<Streams>,
    segments: Arc<Segments>,
) {
    while let Some(event) = results.recv().await {
        let t = match event {
            AnalyticsEvent::Final(t) => t,
            AnalyticsEvent::Partial {
                call, party, text, ..
            } => {
                deliver_partial(&streams, &call, party, text).await;
                continue;
            }
            AnalyticsEvent::JobDone {
                call,
                party,
                kind: JobKind::Recording,
                ..
            } => {
                // Dropping the sender closes the segment's channel.
                lock(&segments).remove(&(call, party));
                continue;
            }
            AnalyticsEvent::JobFailed { call, party, error } => {
                if lock(&segments).remove(&(call, party)).is_some() {
                    tracing::warn!(%error, "a recorded segment's analysis failed");
                }
                continue;
            }
            _ => continue,
        };
        if t.text.trim().is_empty() {
            continue;
        }
        let id = (t.call.clone(), t.party);
        let live = lock(&streams)
            .get(&id)
            .map(|s| (s.call, s.speaker, s.first_seq, s.found.clone(), false));
        let target = live.or_else(|| {
            lock(&segments)
                .get(&id)
                .map(|s| (s.call, s.speaker, s.first_seq, s.found.clone(), true))
        });
        let Some((call, speaker, first_seq, found, recorded)) = target else {
            continue;
        };
        for mut finding in findings(&t, call, speaker, first_seq) {
            finding.recorded = recorded;
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
        recorded: false,
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
        recorded: false,
    })
}

#[cfg(test)]
mod tests {
    use sync_bridge::classify::{Classifier, KEY_LEN, PseudonymKey, SentimentLabel};

    use super::*;
    use crate::asr::{AsrError, AsrEvent, Hypothesis, Recogniser, SpeechEngine};
    use crate::pool::PoolConfig;
    use crate::sentiment::VaderModel;

    /// Hears "i want a refund this is terrible" from 1 s to 2 s of any audio
    /// that has a sound in it, and reports it when the audio ends.
    struct OneSentence;

    struct Hearing {
        heard: bool,
    }

    impl SpeechEngine for OneSentence {
        fn name(&self) -> &'static str {
            "one sentence"
        }
        fn recogniser(&self) -> Result<Box<dyn Recogniser>, AsrError> {
            Ok(Box::new(Hearing { heard: false }))
        }
    }

    impl Recogniser for Hearing {
        fn feed(&mut self, pcm: &[i16], _: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
            self.heard |= pcm.iter().any(|&s| s != 0);
            Ok(())
        }
        fn end_utterance(&mut self, events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
            if std::mem::take(&mut self.heard) {
                events.push(AsrEvent::Final(Hypothesis {
                    utterance: 0,
                    text: "i want a refund this is terrible".into(),
                    start: Duration::from_secs(1),
                    end: Duration::from_secs(2),
                }));
            }
            Ok(())
        }
        fn reset(&mut self) -> Result<(), AsrError> {
            self.heard = false;
            Ok(())
        }
    }

    fn analysis() -> Analysis {
        let pool = Pool::start(
            PoolConfig::default(),
            Arc::new(OneSentence),
            Arc::new(VaderModel::call_center()),
        )
        .expect("a pool");
        Analysis::new(Some(pool), 1)
    }

    fn segment(offset_ms: u64, pcm: &[i16]) -> RecordedAudio {
        let key = PseudonymKey::from_bytes(&[5; KEY_LEN]).expect("32 bytes");
        let call = Classifier::new(&key).call_ref("cdr-1");
        RecordedAudio::new(call, Speaker::Caller, (2, true), offset_ms, pcm).expect("fits")
    }

    #[tokio::test]
    async fn a_recorded_segments_findings_say_where_in_the_call_they_were() {
        let analysis = analysis();
        let words = segment(60_000, &[700; 24_000]);
        let mut found = analysis.recording(&words).await.expect("queued");
        let mut findings = Vec::new();
        while let Some(finding) = found.recv().await {
            findings.push(finding);
        }
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert!(findings.iter().all(|f| f.recorded));
        let ResultBody::Transcript(t) = &findings[0].body else {
            panic!("a transcript first: {findings:?}");
        };
        // 60 s into the recording, then 1 s to 2 s into the segment.
        assert_eq!(t.seqs(), (3050, 3100));
        assert_eq!(t.call(), words.call());
        assert!(t.text().contains("refund"));
        let ResultBody::Sentiment(s) = &findings[1].body else {
            panic!("then its sentiment: {findings:?}");
        };
        assert_eq!(s.label(), SentimentLabel::Negative);
        // A recorded finding never shares a key with a live one.
        let mut live = findings[0].clone();
        live.recorded = false;
        assert_ne!(live.key(), findings[0].key());
    }

    #[tokio::test]
    async fn a_silent_segment_ends_with_no_findings_and_no_pool_analyses_nothing() {
        let analysis = analysis();
        let mut found = analysis
            .recording(&segment(0, &[0; 8000]))
            .await
            .expect("queued");
        assert!(found.recv().await.is_none(), "closed without findings");
        let idle = Analysis::new(None, 0);
        assert!(!idle.analyses());
        assert!(idle.recording(&segment(0, &[1; 80])).await.is_none());
    }
}
