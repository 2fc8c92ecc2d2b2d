//! The speech-analytics worker pool: ASR, redaction and sentiment per stream.
//!
//! Contract:
//!
//! ```text
//! submit(Job) ──► bounded queue (live first, then recordings)
//!                   │  full: submit() waits, try_submit() returns Busy(job)
//!                   ▼
//!             worker threads (one recogniser each, min..=max of them)
//!                   │  redact ─► sentiment ─► trend
//!                   ▼
//!             results channel (bounded): Partial / Final / JobDone / JobFailed
//! ```
//!
//! A worker serves one job at a time; a live job holds its worker until its
//! stream ends, so the worker count is the number of streams transcribed at
//! once. [`Pool::rescale`] applies the pure [`policy`] to the current load and
//! starts or retires workers; [`Pool::spawn_autoscaler`] calls it on a tokio
//! interval. Time comes from tokio's clock (so a paused test clock drives it),
//! and `rescale` takes it as an argument. Nothing grows without bound: the
//! queue, the results channel and the worker count are all capped.
//! [`Pool::shutdown`] refuses new jobs, lets workers finish the queued ones,
//! and joins them.

mod job;
pub mod policy;
mod queue;
mod worker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::mpsc;

pub use job::{AnalyticsEvent, CallId, FinalTranscript, Job, JobKind, Party, StreamInput};
use policy::{Decision, Load, PolicyConfig, PolicyError, ScalePolicy};
use queue::{JobQueue, Refused};

use crate::asr::SpeechEngine;
use crate::sentiment::{SentimentModel, TrendConfig};

/// Sizes and policy of a [`Pool`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolConfig {
    /// Worker limits and scaling thresholds.
    pub policy: PolicyConfig,
    /// Jobs that may wait for a worker.
    pub queue_capacity: usize,
    /// Events that may wait for the results consumer.
    pub results_capacity: usize,
    /// How each stream's sentiment trend weighs history.
    pub trend: TrendConfig,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            policy: PolicyConfig::default(),
            queue_capacity: 64,
            results_capacity: 1024,
            trend: TrendConfig::default(),
        }
    }
}

/// Why a pool could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The scaling policy's limits are inconsistent.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A capacity is zero.
    #[error("queue and results capacities must be at least 1")]
    ZeroCapacity,
    /// The operating system refused a worker thread.
    #[error("could not start a worker thread: {0}")]
    Thread(std::io::Error),
}

/// Why a job was not accepted; the job comes back to the caller.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The queue is full (only from [`Pool::try_submit`]).
    #[error("analytics queue is full")]
    Busy(Box<Job>),
    /// The pool is shutting down.
    #[error("analytics pool is shut down")]
    Closed(Box<Job>),
}

impl From<Refused> for SubmitError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::Full(job) => Self::Busy(Box::new(job)),
            Refused::Closed(job) => Self::Closed(Box::new(job)),
        }
    }
}

/// Counters and gauges of a pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Workers running, less those told to retire.
    pub workers: usize,
    /// Workers in a job.
    pub busy: usize,
    /// Live jobs waiting.
    pub queued_live: usize,
    /// Recordings waiting.
    pub queued_recordings: usize,
    /// Jobs finished.
    pub completed: u64,
    /// Jobs abandoned on an engine error.
    pub failed: u64,
    /// Jobs refused because the queue was full.
    pub rejected: u64,
}

#[derive(Debug, Default)]
struct Counters {
    completed: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
}

/// What the workers share.
struct Shared {
    queue: JobQueue,
    engine: Arc<dyn SpeechEngine>,
    sentiment: Arc<dyn SentimentModel>,
    results: mpsc::Sender<AnalyticsEvent>,
    trend: TrendConfig,
    counters: Counters,
}

/// The worker pool. Share it behind an `Arc` to submit from many tasks.
pub struct Pool {
    shared: Arc<Shared>,
    policy: Mutex<ScalePolicy>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("engine", &self.shared.engine.name())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Pool {
    /// Starts `config.policy.min_workers` workers; returns the pool and its results.
    pub fn start(
        config: PoolConfig,
        engine: Arc<dyn SpeechEngine>,
        sentiment: Arc<dyn SentimentModel>,
    ) -> Result<(Self, mpsc::Receiver<AnalyticsEvent>), PoolError> {
        let policy = ScalePolicy::new(config.policy)?;
        if config.queue_capacity == 0 || config.results_capacity == 0 {
            return Err(PoolError::ZeroCapacity);
        }
        let (results, rx) = mpsc::channel(config.results_capacity);
        let pool = Self {
            shared: Arc::new(Shared {
                queue: JobQueue::new(config.queue_capacity),
                engine,
                sentiment,
                results,
                trend: config.trend,
                counters: Counters::default(),
            }),
            policy: Mutex::new(policy),
            threads: Mutex::new(Vec::new()),
        };
        pool.grow(config.policy.min_workers)?;
        Ok((pool, rx))
    }

    /// Queues a job, waiting while the queue is full.
    pub async fn submit(&self, job: Job) -> Result<(), SubmitError> {
        Ok(self.shared.queue.push(job, now()).await?)
    }

    /// Queues a job if there is room now; otherwise hands it back as `Busy`.
    pub fn try_submit(&self, job: Job) -> Result<(), SubmitError> {
        let result = self.shared.queue.try_push(job, now());
        if matches!(result, Err(Refused::Full(_))) {
            self.shared.counters.rejected.fetch_add(1, Ordering::AcqRel);
        }
        Ok(result?)
    }

    /// The load the scaling policy sees at `now`.
    #[must_use]
    pub fn load(&self, now: Instant) -> Load {
        let depth = self.shared.queue.depth(now);
        Load {
            queue_depth: depth.live + depth.recordings,
            oldest_lag: depth.oldest_lag,
            workers: depth.workers,
            idle_workers: depth.workers.saturating_sub(depth.busy),
        }
    }

    /// Asks the policy about the load at `now` and starts or retires workers.
    pub fn rescale(&self, now: Instant) -> Result<Decision, PoolError> {
        let load = self.load(now);
        let decision = self
            .policy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .decide(now, load);
        match decision {
            Decision::Grow(n) => self.grow(n)?,
            Decision::Shrink(n) => self.shared.queue.retire(n),
            Decision::Hold => {}
        }
        if decision != Decision::Hold {
            tracing::debug!(?decision, ?load, "analytics pool rescaled");
        }
        Ok(decision)
    }

    /// Calls [`Pool::rescale`] every `every` on the tokio clock until the pool is dropped.
    pub fn spawn_autoscaler(pool: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(pool);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(pool) = weak.upgrade() else { return };
                if let Err(e) = pool.rescale(now()) {
                    tracing::warn!(error = %e, "analytics pool could not rescale");
                }
            }
        })
    }

    /// Current counters.
    #[must_use]
    pub fn stats(&self) -> PoolStats {
        self.stats_with(self.shared.queue.depth(now()))
    }

    fn stats_with(&self, depth: queue::Depth) -> PoolStats {
        let c = &self.shared.counters;
        PoolStats {
            workers: depth.workers,
            busy: depth.busy,
            queued_live: depth.live,
            queued_recordings: depth.recordings,
            completed: c.completed.load(Ordering::Acquire),
            failed: c.failed.load(Ordering::Acquire),
            rejected: c.rejected.load(Ordering::Acquire),
        }
    }

    fn grow(&self, n: usize) -> Result<(), PoolError> {
        let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
        threads.retain(|t| !t.is_finished());
        for _ in 0..n {
            let shared = Arc::clone(&self.shared);
            shared.queue.worker_starting();
            let spawned = std::thread::Builder::new()
                .name("asr-worker".into())
                .spawn(move || worker::run(shared));
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(e) => {
                    self.shared.queue.worker_exited();
                    return Err(PoolError::Thread(e));
                }
            }
        }
        Ok(())
    }

    /// Refuses new jobs, lets the workers finish the queued ones, and waits for them.
    pub async fn shutdown(self) {
        self.shared.queue.close();
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        let joined = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        });
        let _ = joined.await;
    }
}

impl Drop for Pool {
    /// Closes the queue so idle workers exit; they finish queued jobs first.
    fn drop(&mut self) {
        self.shared.queue.close();
    }
}
