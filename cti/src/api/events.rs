//! The event stream: numbered call, agent, queue and alert events.
//!
//! # Contract
//!
//! - [`EventBus::publish`] never waits: it gives the event the next sequence
//!   number, keeps it in an in-memory ring of the last `capacity` events,
//!   hands it to live subscribers and queues it for the `events` table.
//!   Within one run numbers are consecutive; after a restart they continue
//!   above every number handed out before (a block is reserved ahead in
//!   `event_seq`), so a client's `since` never names a reused number.
//! - [`EventBus::backlog`] returns what came after a number, in order, from
//!   the ring or, for older events, from the table (after the writer has
//!   caught up), so a reconnecting client misses nothing.
//! - [`EventBus::subscribe`] gives live events; a subscriber that falls
//!   behind is told how far ([`broadcast::error::RecvError::Lagged`]) and
//!   reads the rest through [`EventBus::backlog`].
//! - Who may see an event is decided by its `agent` and `queues` (see
//!   [`super::stream`]); the publisher fills them in.
//! - [`EventBus::observe`] adds a function that sees every event as it is
//!   published, synchronously and in order (the node's metrics count there).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::Row as _;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::store::{Db, Store, StoreError};

/// Numbers reserved ahead of the last one used.
const RESERVE_BLOCK: i64 = 10_000;
/// Events written per transaction at most.
const WRITE_BATCH: usize = 256;
/// Live events buffered per subscriber before it lags.
const LIVE_BUFFER: usize = 1024;
/// Attempts at stitching table and ring together while events pour in.
const BACKLOG_ATTEMPTS: usize = 4;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A queued call was offered to an agent.
    CallOffered,
    /// An agent's phone is ringing.
    CallRinging,
    /// An agent answered.
    CallAnswered,
    /// The call was put on hold (or taken off: see `data`).
    CallHeld,
    /// The call was transferred.
    CallTransferred,
    /// The call ended.
    CallEnded,
    /// An agent's presence or activity changed.
    AgentState,
    /// A queue's statistics.
    QueueStats,
    /// Something a supervisor should look at (an angry caller, a long wait).
    Alert,
    /// A call reached the node.
    CallCreated,
    /// A call's recording is written and indexed (`data.cdr_id`).
    RecordingReady,
    /// A caller answered a satisfaction survey.
    CsatSubmitted,
    /// A supervisor started, changed or ended listening, whispering or barging.
    CallMonitored,
    /// A transcript or sentiment score from the cloud's speech analytics.
    CallAnalysis,
    /// An agent's consultation (the first step of an attended transfer) rang,
    /// was answered, failed or was dropped (see `data.stage`).
    CallConsulted,
    /// A caller joined or left a conference room, was muted or unmuted, or
    /// started or stopped talking (see `data.what`); administrators and every
    /// supervisor see it (rooms belong to no queue).
    ConferenceParticipant,
    /// An ended call was wrapped up with a disposition code (`data.code`).
    CallWrapUp,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 17] = [
        Self::CallOffered,
        Self::CallRinging,
        Self::CallAnswered,
        Self::CallHeld,
        Self::CallTransferred,
        Self::CallEnded,
        Self::AgentState,
        Self::QueueStats,
        Self::Alert,
        Self::CallCreated,
        Self::RecordingReady,
        Self::CsatSubmitted,
        Self::CallMonitored,
        Self::CallAnalysis,
        Self::CallConsulted,
        Self::ConferenceParticipant,
        Self::CallWrapUp,
    ];

    /// The wire name: `call.offered`, `agent.state`, `alert`, …
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallOffered => "call.offered",
            Self::CallRinging => "call.ringing",
            Self::CallAnswered => "call.answered",
            Self::CallHeld => "call.held",
            Self::CallTransferred => "call.transferred",
            Self::CallEnded => "call.ended",
            Self::AgentState => "agent.state",
            Self::QueueStats => "queue.stats",
            Self::Alert => "alert",
            Self::CallCreated => "call.created",
            Self::RecordingReady => "recording.ready",
            Self::CsatSubmitted => "csat.submitted",
            Self::CallMonitored => "call.monitored",
            Self::CallAnalysis => "call.analysis",
            Self::CallConsulted => "call.consult",
            Self::ConferenceParticipant => "conference.participant",
            Self::CallWrapUp => "call.wrap_up",
        }
    }

    /// The kind whose wire name is `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl serde::Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An event to publish.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Event {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// When, in unix milliseconds.
    pub at: i64,
    /// The call it is about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The agent it is about, if any: that agent sees it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The queues it is about: their supervisors see it.
    pub queues: Vec<String>,
    /// The rest, by kind (see `docs/api.md`).
    pub data: serde_json::Value,
}

impl Event {
    /// An event of `kind` at `at` with no scope and no data.
    #[must_use]
    pub fn new(kind: EventKind, at: i64) -> Self {
        Self {
            kind,
            at,
            call_id: None,
            agent: None,
            queues: Vec::new(),
            data: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// The same event about call `id`.
    #[must_use]
    pub fn call(mut self, id: impl Into<String>) -> Self {
        self.call_id = Some(id.into());
        self
    }

    /// The same event about `agent`.
    #[must_use]
    pub fn agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    /// The same event about `queue` too.
    #[must_use]
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queues.push(queue.into());
        self
    }

    /// The same event carrying `data`.
    #[must_use]
    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }
}

/// A published event: its number and the event, as clients receive it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Published {
    /// Its sequence number.
    pub seq: i64,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

/// The publishing side and the history. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    ring: Mutex<Ring>,
    live: broadcast::Sender<Arc<Published>>,
    writer: mpsc::UnboundedSender<WriterMsg>,
    store: Store,
    observers: std::sync::RwLock<Vec<Observer>>,
}

/// A function handed every published event ([`EventBus::observe`]).
struct Observer(Box<dyn Fn(&Published) + Send + Sync>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

#[derive(Debug)]
struct Ring {
    events: VecDeque<Arc<Published>>,
    capacity: usize,
    next_seq: i64,
}

#[derive(Debug)]
enum WriterMsg {
    Persist(Arc<Published>),
    Flush(oneshot::Sender<()>),
}

impl EventBus {
    /// Opens the bus on `store`, keeping the last `capacity` events in
    /// memory, and starts its writer task on the current runtime.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the last number cannot be read or the
    /// next block reserved.
    pub async fn open(store: Store, capacity: usize) -> Result<Self, StoreError> {
        let next_seq = reserve_start(&store).await?;
        let (writer, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_events(
            store.clone(),
            rx,
            next_seq - 1 + RESERVE_BLOCK,
        ));
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        let ring = Ring {
            events: VecDeque::with_capacity(capacity.min(65_536)),
            capacity: capacity.max(1),
            next_seq,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                ring: Mutex::new(ring),
                live,
                writer,
                store,
                observers: std::sync::RwLock::default(),
            }),
        })
    }

    /// Publishes `event`; returns its sequence number.
    pub fn publish(&self, event: Event) -> i64 {
        let mut ring = self.lock();
        let seq = ring.next_seq;
        ring.next_seq += 1;
        let published = Arc::new(Published { seq, event });
        if ring.events.len() == ring.capacity {
            ring.events.pop_front();
        }
        ring.events.push_back(Arc::clone(&published));
        let observers = self.inner.observers.read();
        for observer in observers.unwrap_or_else(PoisonError::into_inner).iter() {
            (observer.0)(&published);
        }
        // Sent under the lock, so subscribers see numbers in order. No
        // subscriber is not an error, nor is a stopped writer (shutdown).
        let _ = self.inner.live.send(Arc::clone(&published));
        let _ = self.inner.writer.send(WriterMsg::Persist(published));
        seq
    }

    /// Hands every event published from now on to `f`, in order, before
    /// [`EventBus::publish`] returns (metrics count events this way). `f`
    /// runs under the bus's lock: it must be quick and must not publish.
    pub fn observe(&self, f: impl Fn(&Published) + Send + Sync + 'static) {
        // A list of boxed functions: a panic elsewhere cannot leave it half-written.
        let mut observers = self
            .inner
            .observers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        observers.push(Observer(Box::new(f)));
    }

    /// The number the last published event got (before any: one below the
    /// first this run will give).
    #[must_use]
    pub fn last_seq(&self) -> i64 {
        self.lock().next_seq - 1
    }

    /// Live events from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.inner.live.subscribe()
    }

    /// Up to `limit` events numbered above `since`, in order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when older events cannot be read.
    pub async fn backlog(
        &self,
        since: i64,
        limit: usize,
    ) -> Result<Vec<Arc<Published>>, StoreError> {
        let mut out: Vec<Arc<Published>> = Vec::new();
        let mut after = since;
        for _ in 0..BACKLOG_ATTEMPTS {
            let remaining = limit - out.len();
            // Everything below `boundary` is (once flushed) in the table.
            let boundary = {
                let ring = self.lock();
                let boundary = ring.events.front().map_or(ring.next_seq, |first| first.seq);
                if boundary <= after + 1 {
                    out.extend(from_ring(&ring, after, remaining));
                    return Ok(out);
                }
                boundary
            };
            self.flush().await;
            let older = read_events(&self.inner.store, after, boundary, remaining).await?;
            let full = older.len() == remaining;
            out.extend(older);
            if full {
                return Ok(out);
            }
            after = boundary - 1;
        }
        Err(StoreError::Corrupt(
            "events arrive faster than the backlog can be read".into(),
        ))
    }

    /// Waits until every event published so far is in the table.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inner.writer.send(WriterMsg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        // The ring is plain data updated in one step: a panic elsewhere
        // cannot leave it half-written.
        self.inner
            .ring
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn from_ring(ring: &Ring, after: i64, limit: usize) -> Vec<Arc<Published>> {
    let Some(first) = ring.events.front() else {
        return Vec::new();
    };
    let skip = usize::try_from(after + 1 - first.seq).unwrap_or(0);
    ring.events.iter().skip(skip).take(limit).cloned().collect()
}

/// The first number to hand out: above every stored event and every block
/// reserved before; reserves the next block. One statement, so that no
/// other writer can come between the read and the write.
async fn reserve_start(store: &Store) -> Result<i64, StoreError> {
    let row = sqlx::query::<Db>(
        "INSERT INTO event_seq (id, reserved)
         SELECT 1, COALESCE(MAX(seq), 0) + $1 FROM events WHERE TRUE
         ON CONFLICT (id) DO UPDATE SET reserved = CASE
             WHEN event_seq.reserved > excluded.reserved - $1 THEN event_seq.reserved + $1
             ELSE excluded.reserved END
         RETURNING reserved",
    )
    .bind(RESERVE_BLOCK)
    .fetch_one(store.pool())
    .await?;
    let reserved: i64 = row.try_get("reserved")?;
    Ok(reserved - RESERVE_BLOCK + 1)
}

/// Raises the reserved mark to `upto` (never lowers it).
async fn save_reserved(
    conn: &mut <Db as sqlx::Database>::Connection,
    upto: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query::<Db>(
        "INSERT INTO event_seq (id, reserved) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET reserved = CASE
             WHEN excluded.reserved > event_seq.reserved THEN excluded.reserved
             ELSE event_seq.reserved END",
    )
    .bind(upto)
    .execute(conn)
    .await
    .map(drop)
}

/// The writer task: batches events into the table, extending the reserved
/// block as numbers approach its end, and answers flushes once everything
/// before them is written.
async fn write_events(store: Store, mut rx: mpsc::UnboundedReceiver<WriterMsg>, mut reserved: i64) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    let mut flushes = Vec::new();
    while let Some(msg) = rx.recv().await {
        let mut next = Some(msg);
        while let Some(msg) = next.take() {
            match msg {
                WriterMsg::Persist(e) => batch.push(e),
                WriterMsg::Flush(done) => flushes.push(done),
            }
            if batch.len() < WRITE_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if let Some(last) = batch.last().map(|e| e.seq) {
            let extend = (last + RESERVE_BLOCK / 2 > reserved).then_some(last + RESERVE_BLOCK);
            match insert_events(&store, &batch, extend).await {
                Ok(()) => reserved = extend.unwrap_or(reserved),
                Err(error) => {
                    tracing::warn!(%error, events = batch.len(), "events not stored");
                }
            }
            batch.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn insert_events(
    store: &Store,
    batch: &[Arc<Published>],
    reserve: Option<i64>,
) -> Result<(), sqlx::Error> {
    let mut tx = store.pool().begin().await?;
    let mut q = sqlx::QueryBuilder::<Db>::new(
        "INSERT INTO events (seq, at, kind, call_id, agent, queues, data) ",
    );
    q.push_values(batch, |mut row, p| {
        let e = &p.event;
        row.push_bind(p.seq)
            .push_bind(e.at)
            .push_bind(e.kind.as_str())
            .push_bind(e.call_id.clone())
            .push_bind(e.agent.clone())
            .push_bind(e.queues.join(" "))
            .push_bind(e.data.to_string());
    });
    q.push(" ON CONFLICT (seq) DO NOTHING");
    q.build().execute(&mut *tx).await?;
    if let Some(upto) = reserve {
        save_reserved(&mut tx, upto).await?;
    }
    tx.commit().await
}

/// Stored events numbered above `after` and below `before`, at most `limit`.
async fn read_events(
    store: &Store,
    after: i64,
    before: i64,
    limit: usize,
) -> Result<Vec<Arc<Published>>, StoreError> {
    let rows = sqlx::query::<Db>(
        "SELECT seq, at, kind, call_id, agent, queues, data FROM events
         WHERE seq > $1 AND seq < $2 ORDER BY seq LIMIT $3",
    )
    .bind(after)
    .bind(before)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(event_from_row).collect()
}

fn event_from_row(row: &<Db as sqlx::Database>::Row) -> Result<Arc<Published>, StoreError> {
    let seq: i64 = row.try_get("seq")?;
    let kind: String = row.try_get("kind")?;
    let kind = EventKind::parse(&kind)
        .ok_or_else(|| StoreError::Corrupt(format!("event {seq}: unknown kind {kind:?}")))?;
    let queues: String = row.try_get("queues")?;
    let data: String = row.try_get("data")?;
    let data = serde_json::from_str(&data)
        .map_err(|_| StoreError::Corrupt(format!("event {seq}: data is not JSON")))?;
    Ok(Arc::new(Published {
        seq,
        event: Event {
            kind,
            at: row.try_get("at")?,
            call_id: row.try_get("call_id")?,
            agent: row.try_get("agent")?,
            queues: queues.split_whitespace().map(str::to_owned).collect(),
            data,
        },
    }))
}
