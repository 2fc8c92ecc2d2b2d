//! The fan-out task: every event the bus publishes, in order, once; those
//! webhooks deliver become outbox rows.
//!
//! It subscribes first, then reads the backlog above its cursor (after a
//! restart: what it had not handled; on first start: nothing before now),
//! then follows live events. A lag, or a gap in the numbers, sends it back
//! to the backlog, so it never skips an event. The cursor moves with each
//! event's rows in one transaction, and every [`SKIP_SAVE`] events of other
//! kinds, so a restart re-reads little.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Notify, watch};

use super::{EVENTS, event_id, outbox};
use crate::api::{Event, EventBus, Published};
use crate::store::{Store, StoreError};

/// Events read from the backlog per query.
const PAGE: usize = 500;

/// Events of other kinds between two saves of the cursor.
const SKIP_SAVE: u32 = 256;

/// The wait before retrying after the store failed.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// The body every attempt of one delivery sends: the event as the stream
/// sends it, with `id` in place of `seq`.
#[derive(serde::Serialize)]
struct Body<'a> {
    id: String,
    #[serde(flatten)]
    event: &'a Event,
}

/// The body posted for `p`.
pub(super) fn body(p: &Published) -> String {
    let body = Body {
        id: event_id(p.seq),
        event: &p.event,
    };
    // An Event is plain data (strings, numbers, JSON values): it always
    // serialises.
    serde_json::to_string(&body).expect("an event serialises to JSON")
}

struct Fanout {
    store: Store,
    wake: Arc<Notify>,
    progress: watch::Sender<i64>,
    cursor: i64,
    skipped: u32,
}

/// Starts the fan-out on the current runtime; it runs until the bus
/// closes. Subscribes before returning, so no event published after this
/// call is missed, even before the task first runs.
pub(super) fn spawn(
    bus: EventBus,
    store: Store,
    wake: Arc<Notify>,
    progress: watch::Sender<i64>,
) -> tokio::task::JoinHandle<()> {
    let live = bus.subscribe();
    let now = bus.last_seq();
    tokio::spawn(run(bus, store, wake, progress, live, now))
}

/// The fan-out; `first` is where it starts when no cursor is stored.
async fn run(
    bus: EventBus,
    store: Store,
    wake: Arc<Notify>,
    progress: watch::Sender<i64>,
    mut live: tokio::sync::broadcast::Receiver<Arc<Published>>,
    first: i64,
) {
    let cursor = loop {
        match outbox::cursor(&store).await {
            Ok(Some(seq)) => break seq,
            Ok(None) => break first,
            Err(error) => store_failed(&error).await,
        }
    };
    let mut f = Fanout {
        store,
        wake,
        progress,
        cursor,
        skipped: 0,
    };
    loop {
        f.catch_up(&bus).await;
        let _ = f.progress.send(f.cursor);
        loop {
            match live.recv().await {
                Ok(p) if p.seq <= f.cursor => {}
                Ok(p) if p.seq == f.cursor + 1 => {
                    f.handle(&p).await;
                    let _ = f.progress.send(f.cursor);
                }
                // A gap (a new run's numbers, or a missed event): the
                // backlog says which.
                Ok(_) | Err(RecvError::Lagged(_)) => break,
                Err(RecvError::Closed) => return,
            }
        }
    }
}

impl Fanout {
    /// Handles every stored event above the cursor.
    async fn catch_up(&mut self, bus: &EventBus) {
        loop {
            let page = match bus.backlog(self.cursor, PAGE).await {
                Ok(page) => page,
                Err(error) => {
                    store_failed(&error).await;
                    continue;
                }
            };
            if page.is_empty() {
                return;
            }
            for p in &page {
                self.handle(p).await;
            }
        }
    }

    /// Writes `p`'s rows (retrying while the store fails) and moves on.
    async fn handle(&mut self, p: &Published) {
        if !EVENTS.contains(&p.event.kind) {
            self.skip(p.seq).await;
            return;
        }
        let body = body(p);
        loop {
            match outbox::enqueue(&self.store, p, &body).await {
                Ok(added) => {
                    if added > 0 {
                        self.wake.notify_one();
                    }
                    break;
                }
                Err(error) => store_failed(&error).await,
            }
        }
        self.cursor = p.seq;
        self.skipped = 0;
    }

    async fn skip(&mut self, seq: i64) {
        self.cursor = seq;
        self.skipped += 1;
        if self.skipped >= SKIP_SAVE {
            self.skipped = 0;
            if let Err(error) = outbox::advance(&self.store, seq).await {
                tracing::warn!(%error, "webhook cursor not saved");
            }
        }
    }
}

async fn store_failed(error: &StoreError) {
    tracing::warn!(%error, "webhook outbox: store failed; retrying");
    tokio::time::sleep(STORE_RETRY).await;
}
