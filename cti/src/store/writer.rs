//! Group commit of call records.
//!
//! Call tasks hand their [`Cdr`] to a [`CdrWriter`] and wait. One writer task
//! drains the bounded queue: it takes every record waiting (up to
//! `batch_max`), inserts them in a single transaction and then answers each
//! caller with the outcome of that commit. While one transaction runs, the
//! next batch queues up, so under load the number of transactions grows with
//! the number of commits the disk can do, not with the number of calls.
//!
//! A caller that stops waiting (its future dropped) after its record was
//! queued does not take the record back: it is still written. The writer task
//! ends when every [`CdrWriter`] clone has been dropped and the queue is empty.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::{Cdr, Store, StoreError, cdr::insert_batch, cdr::insert_batch_with_outbox};

/// Queued records per unit of `batch_max`: one batch being committed, one
/// filling.
const QUEUE_BATCHES: usize = 2;

/// Submits call records to the group-commit task. Cloning shares the task.
#[derive(Debug, Clone)]
pub struct CdrWriter {
    queue: mpsc::Sender<Queued>,
    counters: Arc<Counters>,
}

/// Where a committed CDR's bridge item goes: the classifier that makes it and the
/// bridge to wake once it is committed.
pub(crate) type Outboxing = Arc<crate::bridge::NodeBridge>;

/// Counters of a [`CdrWriter`]'s task, shared by its clones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CdrWriterStats {
    /// Transactions committed.
    pub commits: u64,
    /// Records in committed transactions.
    pub rows: u64,
    /// Transactions that failed (every record in them was reported failed).
    pub failed_commits: u64,
    /// The most records taken into one transaction.
    pub largest_batch: u64,
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    rows: AtomicU64,
    failed_commits: AtomicU64,
    largest_batch: AtomicU64,
}

#[derive(Debug)]
struct Queued {
    cdr: Cdr,
    done: oneshot::Sender<Result<(), StoreError>>,
}

impl CdrWriter {
    /// Starts the writer task on the current tokio runtime; it commits at
    /// most `batch_max` records per transaction (at least one).
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime.
    #[must_use]
    pub fn spawn(store: Store, batch_max: usize) -> Self {
        Self::spawn_with(store, batch_max, None)
    }

    /// [`CdrWriter::spawn`], and each record's classified copy goes into the
    /// bridge outbox in the same transaction as the record.
    pub(crate) fn spawn_with(store: Store, batch_max: usize, outbox: Option<Outboxing>) -> Self {
        let batch_max = batch_max.max(1);
        let (queue, rx) = mpsc::channel(batch_max.saturating_mul(QUEUE_BATCHES));
        let counters = Arc::new(Counters::default());
        tokio::spawn(run(store, rx, batch_max, Arc::clone(&counters), outbox));
        Self { queue, counters }
    }

    /// Queues `cdr` and resolves once the transaction holding it has
    /// committed. Waits for queue space when the writer is behind.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when that transaction failed,
    /// [`StoreError::WriterStopped`] when the writer task is gone.
    pub async fn write(&self, cdr: Cdr) -> Result<(), StoreError> {
        let (done, outcome) = oneshot::channel();
        self.queue
            .send(Queued { cdr, done })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        outcome.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// A snapshot of the task's counters.
    #[must_use]
    pub fn stats(&self) -> CdrWriterStats {
        let c = &self.counters;
        CdrWriterStats {
            commits: c.commits.load(Ordering::Relaxed),
            rows: c.rows.load(Ordering::Relaxed),
            failed_commits: c.failed_commits.load(Ordering::Relaxed),
            largest_batch: c.largest_batch.load(Ordering::Relaxed),
        }
    }
}

async fn run(
    store: Store,
    mut rx: mpsc::Receiver<Queued>,
    batch_max: usize,
    counters: Arc<Counters>,
    outbox: Option<Outboxing>,
) {
    let mut batch = Vec::with_capacity(batch_max);
    while rx.recv_many(&mut batch, batch_max).await > 0 {
        let cdrs = batch.iter().map(|q| &q.cdr);
        let outcome = match &outbox {
            None => insert_batch(&store, cdrs).await,
            Some(bridge) => insert_batch_with_outbox(&store, cdrs, bridge).await,
        };
        if outcome.is_ok()
            && let Some(bridge) = &outbox
        {
            bridge.committed();
        }
        let rows = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        counters.largest_batch.fetch_max(rows, Ordering::Relaxed);
        match outcome {
            Ok(()) => {
                counters.commits.fetch_add(1, Ordering::Relaxed);
                counters.rows.fetch_add(rows, Ordering::Relaxed);
                for queued in batch.drain(..) {
                    let _ = queued.done.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(rows, error = %e, "call record batch failed");
                counters.failed_commits.fetch_add(1, Ordering::Relaxed);
                let e = Arc::new(e);
                for queued in batch.drain(..) {
                    let _ = queued.done.send(Err(StoreError::Database(Arc::clone(&e))));
                }
            }
        }
    }
    tracing::debug!("call record writer stopped");
}
