//! One recognition worker: a dedicated OS thread that owns one recogniser.
//!
//! Contract: the thread creates its recogniser (speech engines load models
//! and their decoders are often not `Send`, so it never leaves the thread),
//! then takes jobs from the queue until told to retire or the queue closes.
//! Per job it resets the recogniser, feeds the audio in 20 ms chunks, redacts
//! every partial and final transcript, scores each final's sentiment, folds it
//! into the party's trend, and sends the events with `blocking_send` on the
//! bounded results channel (a slow consumer slows the workers, it does not
//! grow memory). Recognition is CPU-bound, which is why it runs here and not
//! on the async runtime. Measuring processing time is the only clock use.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::Shared;
use super::job::{AnalyticsEvent, CallId, FinalTranscript, Job, JobKind, Party, StreamInput};
use super::queue::Take;
use crate::asr::{AsrError, AsrEvent, CHUNK_SAMPLES, Recogniser, phone_duration};
use crate::redact::redact;
use crate::sentiment::Trend;

/// The worker thread's body.
pub(super) fn run(shared: Arc<Shared>) {
    match start_recogniser(&shared) {
        // `serve` returns when the queue has uncounted this worker …
        Some(recogniser) => serve(&shared, recogniser),
        // … otherwise the worker uncounts itself.
        None => shared.queue.worker_exited(),
    }
}

fn start_recogniser(shared: &Shared) -> Option<Box<dyn Recogniser>> {
    match shared.engine.recogniser() {
        Ok(recogniser) => Some(recogniser),
        Err(e) => {
            tracing::warn!(error = %e, "recognition worker could not start");
            let _ = shared.results.blocking_send(AnalyticsEvent::WorkerFailed {
                error: e.to_string(),
            });
            None
        }
    }
}

fn serve(shared: &Shared, mut recogniser: Box<dyn Recogniser>) {
    loop {
        let queued = match shared.queue.take() {
            Take::Job(queued) => queued,
            Take::Retire | Take::Closed => return,
        };
        let last = Stream::new(shared, &queued.job).run(queued.job, recogniser.as_mut());
        // Count before reporting, so whoever sees the report sees the count.
        let failed = matches!(last, AnalyticsEvent::JobFailed { .. });
        let counter = if failed {
            &shared.counters.failed
        } else {
            &shared.counters.completed
        };
        counter.fetch_add(1, Ordering::AcqRel);
        shared.queue.job_finished();
        let _ = shared.results.blocking_send(last);
        if failed && recogniser.reset().is_err() {
            // The decoder is wedged: replace it, or give up the worker.
            match start_recogniser(shared) {
                Some(fresh) => recogniser = fresh,
                None => return shared.queue.worker_exited(),
            }
        }
    }
}

/// One job's analysis state.
struct Stream<'a> {
    shared: &'a Shared,
    call: CallId,
    party: Party,
    kind: JobKind,
    trend: Trend,
    events: Vec<AsrEvent>,
    samples: u64,
    processing: Duration,
}

impl<'a> Stream<'a> {
    fn new(shared: &'a Shared, job: &Job) -> Self {
        let (call, party) = job.stream();
        Self {
            shared,
            call: call.clone(),
            party,
            kind: job.kind(),
            trend: Trend::new(shared.trend),
            events: Vec::new(),
            samples: 0,
            processing: Duration::ZERO,
        }
    }

    /// Runs the job; returns its closing event (`JobDone` or `JobFailed`), unsent.
    fn run(mut self, job: Job, recogniser: &mut dyn Recogniser) -> AnalyticsEvent {
        let result = match job {
            Job::Recording { pcm, .. } => self.recording(&pcm, recogniser),
            Job::LiveAudio { chunks, .. } => self.live(chunks, recogniser),
        };
        match result {
            Ok(()) => AnalyticsEvent::JobDone {
                call: self.call.clone(),
                party: self.party,
                kind: self.kind,
                audio: phone_duration(self.samples),
                processing: self.processing,
            },
            Err(e) => {
                tracing::warn!(call = %self.call, error = %e, "recognition failed");
                AnalyticsEvent::JobFailed {
                    call: self.call.clone(),
                    party: self.party,
                    error: e.to_string(),
                }
            }
        }
    }

    fn recording(&mut self, pcm: &[i16], recogniser: &mut dyn Recogniser) -> Result<(), AsrError> {
        self.timed(|_| recogniser.reset())?;
        for chunk in pcm.chunks(CHUNK_SAMPLES) {
            self.samples += chunk.len() as u64;
            self.timed(|events| recogniser.feed(chunk, events))?;
            self.publish();
        }
        self.timed(|events| recogniser.end_utterance(events))?;
        self.publish();
        Ok(())
    }

    fn live(
        &mut self,
        mut chunks: mpsc::Receiver<StreamInput>,
        recogniser: &mut dyn Recogniser,
    ) -> Result<(), AsrError> {
        self.timed(|_| recogniser.reset())?;
        while let Some(input) = chunks.blocking_recv() {
            match input {
                StreamInput::Audio(pcm) => {
                    self.samples += pcm.len() as u64;
                    self.timed(|events| recogniser.feed(&pcm, events))?;
                }
                StreamInput::WideAudio(pcm) => {
                    // Counted at the phone rate, as the job's duration is.
                    self.samples += pcm.len() as u64 / 2;
                    self.timed(|events| recogniser.feed_wide(&pcm, events))?;
                }
                StreamInput::EndUtterance => {
                    self.timed(|events| recogniser.end_utterance(events))?;
                }
            }
            self.publish();
        }
        self.timed(|events| recogniser.end_utterance(events))?;
        self.publish();
        Ok(())
    }

    /// Runs one recogniser call, adding its duration to the processing time.
    fn timed(
        &mut self,
        call: impl FnOnce(&mut Vec<AsrEvent>) -> Result<(), AsrError>,
    ) -> Result<(), AsrError> {
        let started = Instant::now();
        let result = call(&mut self.events);
        self.processing += started.elapsed();
        result
    }

    /// Redacts, scores and sends the recogniser's pending events.
    fn publish(&mut self) {
        for event in std::mem::take(&mut self.events) {
            let out = match event {
                AsrEvent::Partial(h) => AnalyticsEvent::Partial {
                    call: self.call.clone(),
                    party: self.party,
                    utterance: h.utterance,
                    text: redact(&h.text).text,
                },
                AsrEvent::Final(h) => {
                    let clean = redact(&h.text);
                    let sentiment = self.shared.sentiment.score(&clean.text);
                    self.trend.observe(sentiment);
                    AnalyticsEvent::Final(FinalTranscript {
                        call: self.call.clone(),
                        party: self.party,
                        utterance: h.utterance,
                        text: clean.text,
                        redacted: clean.found,
                        start: h.start,
                        end: h.end,
                        sentiment,
                        trend_average: self.trend.average().unwrap_or(sentiment.score),
                        direction: self.trend.direction(),
                    })
                }
            };
            // A dropped receiver means nobody wants results; the job still
            // runs to the end so the stream's sender sees it consumed.
            let _ = self.shared.results.blocking_send(out);
        }
    }
}
