//! The bounded two-class job queue between submitters and worker threads.
//!
//! Contract: at most `capacity` jobs wait at once. Async submitters wait for
//! room ([`JobQueue::push`]) or are refused at once ([`JobQueue::try_push`]);
//! a slot is freed the moment a worker takes the job. Worker threads block in
//! [`JobQueue::take`], which hands out, in this order: a retire order (the pool
//! is shrinking), the oldest live job, the oldest recording, and once the
//! queue is closed and empty, [`Take::Closed`]. The queue also counts the
//! workers and how many of them are in a job, under the same lock as the
//! jobs, so a snapshot never sees a worker that is neither idle nor busy.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, TryAcquireError};

use super::job::{Job, JobKind};

/// A job and when it was queued.
#[derive(Debug)]
pub(crate) struct Queued {
    pub(crate) job: Job,
    pub(crate) enqueued: Instant,
}

/// What a worker gets from [`JobQueue::take`].
#[derive(Debug)]
pub(crate) enum Take {
    Job(Queued),
    Retire,
    Closed,
}

/// Why a job was not queued; it is handed back.
#[derive(Debug)]
pub(crate) enum Refused {
    Full(Job),
    Closed(Job),
}

#[derive(Debug, Default)]
struct State {
    live: VecDeque<Queued>,
    recordings: VecDeque<Queued>,
    retire: usize,
    closed: bool,
    workers: usize,
    busy: usize,
}

#[derive(Debug)]
pub(crate) struct JobQueue {
    state: Mutex<State>,
    wake: Condvar,
    room: Semaphore,
}

/// Queue depths and the oldest wait, at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Depth {
    pub(crate) live: usize,
    pub(crate) recordings: usize,
    pub(crate) oldest_lag: Duration,
    /// Workers running, less those told to retire.
    pub(crate) workers: usize,
    pub(crate) busy: usize,
}

impl JobQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            room: Semaphore::new(capacity),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every
        // critical section is a single push, pop or counter change.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job`, waiting for room.
    pub(crate) async fn push(&self, job: Job, now: Instant) -> Result<(), Refused> {
        match self.room.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(Refused::Closed(job)),
        }
        self.insert(job, now)
    }

    /// Queues `job` if there is room now.
    pub(crate) fn try_push(&self, job: Job, now: Instant) -> Result<(), Refused> {
        match self.room.try_acquire() {
            Ok(permit) => permit.forget(),
            Err(TryAcquireError::NoPermits) => return Err(Refused::Full(job)),
            Err(TryAcquireError::Closed) => return Err(Refused::Closed(job)),
        }
        self.insert(job, now)
    }

    fn insert(&self, job: Job, enqueued: Instant) -> Result<(), Refused> {
        let mut state = self.lock();
        if state.closed {
            return Err(Refused::Closed(job));
        }
        let queued = Queued { job, enqueued };
        match queued.job.kind() {
            JobKind::Live => state.live.push_back(queued),
            JobKind::Recording => state.recordings.push_back(queued),
        }
        drop(state);
        self.wake.notify_one();
        Ok(())
    }

    /// Counts a worker thread about to start.
    pub(crate) fn worker_starting(&self) {
        self.lock().workers += 1;
    }

    /// Uncounts a worker that exits without being told to (it could not start).
    pub(crate) fn worker_exited(&self) {
        let mut state = self.lock();
        state.workers = state.workers.saturating_sub(1);
    }

    /// Marks the end of a job taken with [`JobQueue::take`].
    pub(crate) fn job_finished(&self) {
        let mut state = self.lock();
        state.busy = state.busy.saturating_sub(1);
    }

    /// Blocks the calling worker thread until there is something for it. On
    /// [`Take::Retire`] and [`Take::Closed`] the worker is uncounted: it must exit.
    pub(crate) fn take(&self) -> Take {
        let mut state = self.lock();
        loop {
            if state.retire > 0 {
                state.retire -= 1;
                state.workers = state.workers.saturating_sub(1);
                return Take::Retire;
            }
            if let Some(q) = state
                .live
                .pop_front()
                .or_else(|| state.recordings.pop_front())
            {
                state.busy += 1;
                drop(state);
                self.room.add_permits(1);
                return Take::Job(q);
            }
            if state.closed {
                state.workers = state.workers.saturating_sub(1);
                return Take::Closed;
            }
            state = self
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Tells `n` workers to exit (idle ones at once, busy ones after their job).
    pub(crate) fn retire(&self, n: usize) {
        let mut state = self.lock();
        state.retire = (state.retire + n).min(state.workers);
        drop(state);
        self.wake.notify_all();
    }

    /// Refuses new jobs; workers finish what is queued, then get [`Take::Closed`].
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.room.close();
        self.wake.notify_all();
    }

    pub(crate) fn depth(&self, now: Instant) -> Depth {
        let state = self.lock();
        let oldest = [state.live.front(), state.recordings.front()]
            .into_iter()
            .flatten()
            .map(|q| q.enqueued)
            .min();
        Depth {
            live: state.live.len(),
            recordings: state.recordings.len(),
            oldest_lag: oldest.map_or(Duration::ZERO, |t| now.saturating_duration_since(t)),
            workers: state.workers.saturating_sub(state.retire),
            busy: state.busy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::job::{CallId, Party};
    use super::*;

    fn recording(id: &str) -> Job {
        Job::Recording {
            call: CallId::new(id),
            party: Party::Caller,
            pcm: Vec::new(),
        }
    }

    fn live(id: &str) -> Job {
        let (_tx, rx) = tokio::sync::mpsc::channel(1);
        Job::LiveAudio {
            call: CallId::new(id),
            party: Party::Agent,
            chunks: rx,
        }
    }

    fn taken_id(q: &JobQueue) -> String {
        match q.take() {
            Take::Job(q) => q.job.stream().0.to_string(),
            other => panic!("expected a job, got {other:?}"),
        }
    }

    #[test]
    fn live_jobs_jump_the_queue_and_lag_is_the_oldest_wait() {
        let t0 = Instant::now();
        let q = JobQueue::new(4);
        q.try_push(recording("r1"), t0).unwrap();
        q.try_push(live("l1"), t0 + Duration::from_secs(1)).unwrap();
        q.try_push(recording("r2"), t0 + Duration::from_secs(2))
            .unwrap();
        let d = q.depth(t0 + Duration::from_secs(5));
        assert_eq!(
            (d.live, d.recordings, d.oldest_lag),
            (1, 2, Duration::from_secs(5))
        );
        assert_eq!(taken_id(&q), "l1");
        assert_eq!(taken_id(&q), "r1");
        assert_eq!(taken_id(&q), "r2");
        assert_eq!(q.depth(t0).oldest_lag, Duration::ZERO);
    }

    #[test]
    fn full_queue_hands_the_job_back_and_taking_frees_a_slot() {
        let t0 = Instant::now();
        let q = JobQueue::new(2);
        q.try_push(recording("a"), t0).unwrap();
        q.try_push(recording("b"), t0).unwrap();
        match q.try_push(recording("c"), t0) {
            Err(Refused::Full(job)) => assert_eq!(job.stream().0.as_str(), "c"),
            other => panic!("{other:?}"),
        }
        assert_eq!(taken_id(&q), "a");
        q.try_push(recording("c"), t0).unwrap();
    }

    #[test]
    fn retire_orders_come_before_jobs_and_close_drains_first() {
        let t0 = Instant::now();
        let q = JobQueue::new(4);
        q.worker_starting();
        q.worker_starting();
        q.try_push(recording("a"), t0).unwrap();
        q.retire(5);
        assert_eq!(
            q.depth(t0).workers,
            0,
            "retire is capped at the workers there are"
        );
        assert!(matches!(q.take(), Take::Retire));
        assert!(matches!(q.take(), Take::Retire));
        q.worker_starting();
        q.close();
        assert!(matches!(
            q.try_push(recording("b"), t0),
            Err(Refused::Closed(_))
        ));
        assert_eq!(taken_id(&q), "a");
        assert_eq!((q.depth(t0).workers, q.depth(t0).busy), (1, 1));
        q.job_finished();
        assert!(matches!(q.take(), Take::Closed));
        assert_eq!(q.depth(t0).workers, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn push_waits_for_room() {
        let t0 = Instant::now();
        let q = std::sync::Arc::new(JobQueue::new(1));
        q.try_push(recording("a"), t0).unwrap();
        let waiting = tokio::time::timeout(Duration::from_secs(1), q.push(recording("b"), t0));
        assert!(
            waiting.await.is_err(),
            "push must wait while the queue is full"
        );
        let taker = std::thread::spawn({
            let q = q.clone();
            move || taken_id(&q)
        });
        q.push(recording("b"), t0).await.unwrap();
        assert_eq!(taker.join().unwrap(), "a");
        assert_eq!(q.depth(t0).recordings, 1);
    }
}
