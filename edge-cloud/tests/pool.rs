//! Worker-pool mechanics with a scripted speech engine: queueing order,
//! backpressure, scaling, redaction and sentiment on the results, failures.
//! (The real engine runs through the pool in `asr_wer.rs`.) No sleeps: a gate
//! holds the scripted recognisers, and time is tokio's paused clock.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use edge_cloud::asr::{AsrError, AsrEvent, CHUNK_SAMPLES, Hypothesis, Recogniser, SpeechEngine};
use edge_cloud::pool::policy::{Decision, PolicyConfig};
use edge_cloud::pool::{
    AnalyticsEvent, CallId, FinalTranscript, Job, JobKind, Party, Pool, PoolConfig, StreamInput,
    SubmitError,
};
use edge_cloud::redact::PiiKind;
use edge_cloud::sentiment::{Label, VaderModel};
use tokio::sync::mpsc;

/// Words the scripted engine can "hear": a chunk whose first sample is `i + 1` says `VOCAB[i]`.
const VOCAB: &[&str] = &[
    "i", "want", "a", "refund", "my", "card", "is", "four", "one", "thank", "you", "so", "much",
    "that", "was", "helpful", "hello", "status", "order", "of", "the", "this", "terrible",
];

/// Audio that the scripted engine hears as `text`, followed by one silent chunk.
fn speech(text: &str) -> Vec<i16> {
    let mut pcm = Vec::new();
    for word in text.split_whitespace() {
        let index = VOCAB
            .iter()
            .position(|w| *w == word)
            .expect("word in VOCAB");
        let mut chunk = vec![0i16; CHUNK_SAMPLES];
        chunk[0] = index as i16 + 1;
        pcm.extend(chunk);
    }
    pcm.extend([0i16; CHUNK_SAMPLES]);
    pcm
}

/// A latch the scripted recognisers wait on before decoding.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    changed: Condvar,
}

impl Gate {
    fn pass(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.changed.wait(open).unwrap();
        }
    }
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.changed.notify_all();
    }
}

/// Hears [`VOCAB`] words; a silent chunk ends the utterance. Reports the first
/// word of every job on `started`, then waits at the gate.
struct ScriptedEngine {
    gate: Arc<Gate>,
    started: mpsc::UnboundedSender<&'static str>,
    fail_start: bool,
}

struct Scripted {
    gate: Arc<Gate>,
    started: mpsc::UnboundedSender<&'static str>,
    words: Vec<&'static str>,
    utterance: u32,
    fresh: bool,
}

impl SpeechEngine for ScriptedEngine {
    fn name(&self) -> &'static str {
        "scripted"
    }
    fn recogniser(&self) -> Result<Box<dyn Recogniser>, AsrError> {
        if self.fail_start {
            return Err(AsrError::EngineStart("no model".into()));
        }
        Ok(Box::new(Scripted {
            gate: self.gate.clone(),
            started: self.started.clone(),
            words: Vec::new(),
            utterance: 0,
            fresh: true,
        }))
    }
}

impl Scripted {
    fn hypothesis(&self) -> Hypothesis {
        Hypothesis {
            utterance: self.utterance,
            text: self.words.join(" "),
            start: Duration::ZERO,
            end: Duration::ZERO,
        }
    }
}

impl Recogniser for Scripted {
    fn feed(&mut self, pcm: &[i16], events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        let code = pcm.first().copied().unwrap_or(0);
        if code < 0 {
            return Err(AsrError::Decode("scripted failure"));
        }
        if self.fresh {
            self.fresh = false;
            let first = usize::try_from(code - 1).map_or("(silence)", |i| VOCAB[i]);
            let _ = self.started.send(first);
            self.gate.pass();
        }
        match code {
            0 => self.end_utterance(events)?,
            c => {
                self.words.push(VOCAB[c as usize - 1]);
                events.push(AsrEvent::Partial(self.hypothesis()));
            }
        }
        Ok(())
    }
    fn end_utterance(&mut self, events: &mut Vec<AsrEvent>) -> Result<(), AsrError> {
        if !self.words.is_empty() {
            events.push(AsrEvent::Final(self.hypothesis()));
            self.words.clear();
            self.utterance += 1;
        }
        Ok(())
    }
    fn reset(&mut self) -> Result<(), AsrError> {
        self.words.clear();
        self.utterance = 0;
        self.fresh = true;
        Ok(())
    }
}

struct Harness {
    pool: Arc<Pool>,
    results: mpsc::Receiver<AnalyticsEvent>,
    started: mpsc::UnboundedReceiver<&'static str>,
    gate: Arc<Gate>,
}

fn policy(min: usize, max: usize) -> PolicyConfig {
    PolicyConfig {
        min_workers: min,
        max_workers: max,
        grow_depth: 2,
        grow_lag: Duration::from_secs(2),
        shrink_after: Duration::from_secs(30),
        grow_cooldown: Duration::from_secs(5),
        shrink_cooldown: Duration::from_secs(10),
        max_step: 2,
    }
}

fn harness(policy: PolicyConfig, queue_capacity: usize, gate_open: bool) -> Harness {
    let gate = Arc::new(Gate::default());
    if gate_open {
        gate.open();
    }
    let (started_tx, started) = mpsc::unbounded_channel();
    let engine = ScriptedEngine {
        gate: gate.clone(),
        started: started_tx,
        fail_start: false,
    };
    let config = PoolConfig {
        policy,
        queue_capacity,
        ..PoolConfig::default()
    };
    let (pool, results) = Pool::start(
        config,
        Arc::new(engine),
        Arc::new(VaderModel::call_center()),
    )
    .unwrap();
    Harness {
        pool: Arc::new(pool),
        results,
        started,
        gate,
    }
}

fn recording(call: &str, text: &str) -> Job {
    Job::Recording {
        call: CallId::new(call),
        party: Party::Caller,
        pcm: speech(text),
    }
}

/// Events up to and including the next `JobDone`/`JobFailed`.
async fn until_job_end(results: &mut mpsc::Receiver<AnalyticsEvent>) -> Vec<AnalyticsEvent> {
    let mut events = Vec::new();
    loop {
        let event = results.recv().await.expect("pool still running");
        let end = matches!(
            event,
            AnalyticsEvent::JobDone { .. } | AnalyticsEvent::JobFailed { .. }
        );
        events.push(event);
        if end {
            return events;
        }
    }
}

fn finals(events: &[AnalyticsEvent]) -> Vec<&FinalTranscript> {
    events
        .iter()
        .filter_map(|e| match e {
            AnalyticsEvent::Final(f) => Some(f),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn recording_comes_back_redacted_and_scored() {
    let mut h = harness(policy(1, 1), 4, true);
    let mut pcm =
        speech("my card is four one one one one one one one one one one one one one one one");
    pcm.extend(speech("this is terrible"));
    pcm.extend(speech("thank you so much that was helpful"));
    let job = Job::Recording {
        call: CallId::new("c1"),
        party: Party::Agent,
        pcm,
    };
    h.pool.submit(job).await.unwrap();
    let events = until_job_end(&mut h.results).await;

    let f = finals(&events);
    let texts: Vec<&str> = f.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "my card is [CARD]",
            "this is terrible",
            "thank you so much that was helpful"
        ]
    );
    assert_eq!(f[0].redacted, [PiiKind::Card]);
    assert_eq!(f.iter().map(|f| f.utterance).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(f[1].sentiment.label, Label::Negative);
    assert_eq!(f[2].sentiment.label, Label::Positive);
    // The trend follows: down after "terrible", back up after the thanks.
    assert!(f[1].trend_average < f[0].trend_average);
    assert!(f[2].trend_average > f[1].trend_average);
    assert!(
        f.iter()
            .all(|f| f.call.as_str() == "c1" && f.party == Party::Agent)
    );
    for e in &events {
        if let AnalyticsEvent::Partial { text, .. } = e {
            assert!(
                !text.contains("one one one one"),
                "partial leaked digits: {text}"
            );
        }
    }
    match events.last() {
        Some(AnalyticsEvent::JobDone { kind, audio, .. }) => {
            assert_eq!(*kind, JobKind::Recording);
            // 19 + 1, 3 + 1 and 7 + 1 chunks of 20 ms.
            assert_eq!(*audio, Duration::from_millis(20 * 32));
        }
        other => panic!("last event {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn live_stream_ends_utterances_on_request_and_on_close() {
    let mut h = harness(policy(1, 1), 4, true);
    let (tx, chunks) = mpsc::channel(64);
    h.pool
        .submit(Job::LiveAudio {
            call: CallId::new("live"),
            party: Party::Caller,
            chunks,
        })
        .await
        .unwrap();
    let words = speech("i want a refund");
    for chunk in words[..4 * CHUNK_SAMPLES].chunks(CHUNK_SAMPLES) {
        tx.send(StreamInput::Audio(chunk.to_vec())).await.unwrap();
    }
    tx.send(StreamInput::EndUtterance).await.unwrap();
    let hello = speech("hello");
    tx.send(StreamInput::Audio(hello[..CHUNK_SAMPLES].to_vec()))
        .await
        .unwrap();
    drop(tx);
    let events = until_job_end(&mut h.results).await;
    let f = finals(&events);
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[0].text.as_str(), f[0].sentiment.label),
        ("i want a refund", Label::Negative)
    );
    assert_eq!(f[1].text, "hello");
    assert!(matches!(
        events.last(),
        Some(AnalyticsEvent::JobDone {
            kind: JobKind::Live,
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn live_jobs_are_served_before_recordings() {
    let mut h = harness(policy(1, 1), 4, false);
    h.pool.submit(recording("first", "hello")).await.unwrap();
    assert_eq!(h.started.recv().await, Some("hello"));
    // The only worker is held; queue a recording, then a live stream.
    h.pool.submit(recording("rec", "status")).await.unwrap();
    let (tx, chunks) = mpsc::channel(4);
    tx.send(StreamInput::Audio(
        speech("order")[..CHUNK_SAMPLES].to_vec(),
    ))
    .await
    .unwrap();
    drop(tx);
    h.pool
        .submit(Job::LiveAudio {
            call: CallId::new("live"),
            party: Party::Caller,
            chunks,
        })
        .await
        .unwrap();
    let stats = h.pool.stats();
    assert_eq!(
        (stats.busy, stats.queued_live, stats.queued_recordings),
        (1, 1, 1)
    );
    h.gate.open();
    let mut order = Vec::new();
    for _ in 0..3 {
        if let Some(AnalyticsEvent::JobDone { call, .. }) =
            until_job_end(&mut h.results).await.pop()
        {
            order.push(call.to_string());
        }
    }
    assert_eq!(order, ["first", "live", "rec"]);
}

#[tokio::test(start_paused = true)]
async fn full_queue_pushes_back() {
    let mut h = harness(policy(1, 1), 2, false);
    h.pool.submit(recording("held", "hello")).await.unwrap();
    assert_eq!(h.started.recv().await, Some("hello"));
    h.pool.try_submit(recording("q1", "hello")).unwrap();
    h.pool.try_submit(recording("q2", "hello")).unwrap();
    match h.pool.try_submit(recording("q3", "hello")) {
        Err(SubmitError::Busy(job)) => assert_eq!(job.stream().0.as_str(), "q3"),
        other => panic!("expected Busy, got {other:?}"),
    }
    assert_eq!(h.pool.stats().rejected, 1);
    // submit() waits instead; it cannot finish while the worker is held.
    let waited = tokio::time::timeout(
        Duration::from_secs(60),
        h.pool.submit(recording("q3", "hello")),
    );
    assert!(waited.await.is_err());
    h.gate.open();
    h.pool.submit(recording("q3", "hello")).await.unwrap();
    for _ in 0..4 {
        until_job_end(&mut h.results).await;
    }
    assert_eq!(h.pool.stats().completed, 4);
}

#[tokio::test(start_paused = true)]
async fn pool_grows_under_pressure_and_shrinks_when_calm() {
    let mut h = harness(policy(1, 3), 8, false);
    let t0 = tokio::time::Instant::now().into_std();
    for word in ["hello", "status", "order", "refund", "card"] {
        h.pool.submit(recording(word, word)).await.unwrap();
    }
    assert_eq!(h.started.recv().await, Some("hello"));
    assert_eq!(h.pool.load(t0).queue_depth, 4);
    assert_eq!(h.pool.rescale(t0).unwrap(), Decision::Grow(2));
    assert_eq!(h.pool.stats().workers, 3);
    // The two new workers each take a job and wait at the gate.
    let mut next = vec![
        h.started.recv().await.unwrap(),
        h.started.recv().await.unwrap(),
    ];
    next.sort_unstable();
    assert_eq!(next, ["order", "status"]);
    let busy = h.pool.load(t0 + Duration::from_secs(1));
    assert_eq!(
        (busy.queue_depth, busy.workers, busy.idle_workers),
        (2, 3, 0)
    );
    // At the maximum: holds even under pressure.
    assert_eq!(
        h.pool.rescale(t0 + Duration::from_secs(10)).unwrap(),
        Decision::Hold
    );

    h.gate.open();
    for _ in 0..5 {
        until_job_end(&mut h.results).await;
    }
    let calm = t0 + Duration::from_secs(20);
    assert_eq!(h.pool.rescale(calm).unwrap(), Decision::Hold);
    assert_eq!(
        h.pool.rescale(calm + Duration::from_secs(30)).unwrap(),
        Decision::Shrink(1)
    );
    assert_eq!(h.pool.stats().workers, 2);
    // A new calm period starts at the next look and must last 30 s again.
    assert_eq!(
        h.pool.rescale(calm + Duration::from_secs(40)).unwrap(),
        Decision::Hold
    );
    assert_eq!(
        h.pool.rescale(calm + Duration::from_secs(70)).unwrap(),
        Decision::Shrink(1)
    );
    assert_eq!(
        h.pool.rescale(calm + Duration::from_secs(500)).unwrap(),
        Decision::Hold
    );
    assert_eq!(h.pool.stats().workers, 1);
    // The remaining worker still serves.
    h.pool.submit(recording("after", "hello")).await.unwrap();
    assert!(matches!(
        until_job_end(&mut h.results).await.pop(),
        Some(AnalyticsEvent::JobDone { .. })
    ));
}

/// Moves the paused clock and lets due tasks run.
async fn advance(by: Duration) {
    tokio::time::advance(by).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn autoscaler_reacts_to_queue_lag_on_the_tokio_clock() {
    let mut h = harness(policy(1, 2), 8, false);
    h.pool.submit(recording("held", "hello")).await.unwrap();
    assert_eq!(h.started.recv().await, Some("hello"));
    h.pool.submit(recording("waiting", "status")).await.unwrap();
    let scaler = Pool::spawn_autoscaler(&h.pool, Duration::from_secs(1));
    // One job queued: below grow_depth, so only its lag (2 s) can trigger growth.
    advance(Duration::from_millis(1500)).await;
    assert_eq!(h.pool.stats().workers, 1);
    advance(Duration::from_secs(1)).await;
    assert_eq!(h.pool.stats().workers, 2);
    assert_eq!(h.started.recv().await, Some("status"));
    scaler.abort();
    h.gate.open();
}

#[tokio::test(start_paused = true)]
async fn engine_failures_are_reported_and_the_worker_carries_on() {
    let mut h = harness(policy(1, 1), 4, true);
    let job = Job::Recording {
        call: CallId::new("bad"),
        party: Party::Caller,
        pcm: vec![-1; CHUNK_SAMPLES],
    };
    h.pool.submit(job).await.unwrap();
    let events = until_job_end(&mut h.results).await;
    assert!(
        matches!(events.last(), Some(AnalyticsEvent::JobFailed { call, .. }) if call.as_str() == "bad")
    );
    h.pool.submit(recording("good", "hello")).await.unwrap();
    assert!(matches!(
        until_job_end(&mut h.results).await.pop(),
        Some(AnalyticsEvent::JobDone { .. })
    ));
    let stats = h.pool.stats();
    assert_eq!((stats.failed, stats.completed), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_worker_without_an_engine_says_so() {
    let (started, _rx) = mpsc::unbounded_channel();
    let engine = ScriptedEngine {
        gate: Arc::new(Gate::default()),
        started,
        fail_start: true,
    };
    let (pool, mut results) = Pool::start(
        PoolConfig::default(),
        Arc::new(engine),
        Arc::new(VaderModel::plain()),
    )
    .unwrap();
    assert!(matches!(
        results.recv().await,
        Some(AnalyticsEvent::WorkerFailed { .. })
    ));
    pool.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_finishes_queued_jobs_then_closes_results() {
    let h = harness(policy(1, 1), 4, false);
    let Harness {
        pool,
        mut results,
        mut started,
        gate,
    } = h;
    pool.submit(recording("a", "hello")).await.unwrap();
    pool.submit(recording("b", "status")).await.unwrap();
    assert_eq!(started.recv().await, Some("hello"));
    gate.open();
    let pool = Arc::into_inner(pool).expect("only owner");
    pool.shutdown().await;
    let mut done = Vec::new();
    while let Some(event) = results.recv().await {
        if let AnalyticsEvent::JobDone { call, .. } = event {
            done.push(call.to_string());
        }
    }
    assert_eq!(done, ["a", "b"]);
}

#[test]
fn bad_configuration_is_refused() {
    let (started, _rx) = mpsc::unbounded_channel();
    let engine: Arc<dyn SpeechEngine> = Arc::new(ScriptedEngine {
        gate: Arc::new(Gate::default()),
        started,
        fail_start: false,
    });
    let sentiment = Arc::new(VaderModel::plain());
    let bad_policy = PoolConfig {
        policy: policy(3, 2),
        ..PoolConfig::default()
    };
    assert!(Pool::start(bad_policy, engine.clone(), sentiment.clone()).is_err());
    let no_queue = PoolConfig {
        queue_capacity: 0,
        ..PoolConfig::default()
    };
    assert!(Pool::start(no_queue, engine, sentiment).is_err());
}
