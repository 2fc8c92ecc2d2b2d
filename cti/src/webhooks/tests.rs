//! Delivery tests against a receiver on a local socket: down at first, then
//! up; answering 500 then 200; the courier stopped and started again. The
//! step tests drive the courier on a clock of their own; the task tests run
//! the real tasks on tokio's paused clock.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use super::courier::Courier;
use super::*;
use crate::api::{Event, EventKind};

const T0: i64 = 1_750_000_000_000;
const SECRET: &str = "whsec_test_0123456789abcdef";

/// One request the receiver got.
#[derive(Debug)]
struct Received {
    target: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    answered: u16,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// Whether the signature verifies under [`SECRET`].
    fn signed(&self) -> bool {
        verify(
            SECRET,
            self.header("switchyard-timestamp"),
            &self.body,
            self.header("switchyard-signature"),
        )
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// What a receiver answers: the queued statuses, then `otherwise`.
#[derive(Debug)]
struct Script {
    queued: VecDeque<u16>,
    otherwise: u16,
}

/// A webhook receiver on a local port.
struct Receiver {
    got: mpsc::UnboundedReceiver<Received>,
    script: Arc<Mutex<Script>>,
    task: JoinHandle<()>,
}

impl Receiver {
    /// Answers `statuses`, then 200.
    async fn on(port: u16, statuses: &[u16]) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the port is free again");
        let script = Arc::new(Mutex::new(Script {
            queued: statuses.iter().copied().collect(),
            otherwise: 200,
        }));
        let (tx, got) = mpsc::unbounded_channel();
        let shared = Arc::clone(&script);
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(answer(conn, Arc::clone(&shared), tx.clone()));
            }
        });
        Self { got, script, task }
    }

    /// From now on answers `status` to everything.
    fn always(&self, status: u16) {
        let mut s = self.script.lock().expect("no test panics holding it");
        s.queued.clear();
        s.otherwise = status;
    }

    async fn next(&mut self) -> Received {
        self.got.recv().await.expect("the receiver runs")
    }

    fn drain(&mut self) -> Vec<Received> {
        std::iter::from_fn(|| self.got.try_recv().ok()).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    mut conn: tokio::net::TcpStream,
    script: Arc<Mutex<Script>>,
    tx: mpsc::UnboundedSender<Received>,
) {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut buf).await.expect("readable");
        assert!(n > 0, "the client closed before its request ended");
        bytes.extend_from_slice(&buf[..n]);
        if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8(bytes[..head_end].to_vec()).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let request_line = lines.next().expect("a request line").to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    let length: usize = headers["content-length"].parse().expect("a length");
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        let n = conn.read(&mut buf).await.expect("readable");
        assert!(n > 0, "the body ended early");
        body.extend_from_slice(&buf[..n]);
    }
    let status = {
        let mut s = script.lock().expect("unpoisoned");
        s.queued.pop_front().unwrap_or(s.otherwise)
    };
    let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    conn.write_all(reply.as_bytes()).await.expect("writable");
    let target = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let _ = tx.send(Received {
        target,
        headers,
        body,
        answered: status,
    });
}

/// A port nothing listens on (until a test binds it again).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    l.local_addr().expect("bound").port()
}

struct Harness {
    _dir: tempfile::TempDir,
    store: Store,
    bus: EventBus,
    now: Arc<AtomicI64>,
}

impl Harness {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open_file(&dir.path().join("node.db"))
            .await
            .expect("a fresh database");
        let bus = EventBus::open(store.clone(), 64).await.expect("bus opens");
        Self {
            _dir: dir,
            store,
            bus,
            now: Arc::new(AtomicI64::new(T0)),
        }
    }

    fn clock(&self) -> Clock {
        let now = Arc::clone(&self.now);
        Clock::from_fn(move || now.load(Ordering::SeqCst))
    }

    fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).expect("short");
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    async fn subscribe(&self, id: &str, port: u16, events: &[EventKind]) {
        let events: Vec<String> = events.iter().map(|k| k.as_str().to_owned()).collect();
        outbox::insert(
            &self.store,
            &outbox::NewRow {
                id,
                url: &format!("http://127.0.0.1:{port}/hooks?from=test"),
                events: &events,
                secret: SECRET,
                after_seq: self.bus.last_seq(),
                created_at: T0,
                created_by: "ada",
            },
        )
        .await
        .expect("subscription stored");
    }

    fn courier(&self, retry: RetryPolicy) -> Courier {
        let settings = Settings {
            retry,
            timeout: Duration::from_secs(5),
            seed: 7,
        };
        Courier::new(self.store.clone(), self.clock(), settings)
    }

    /// Starts the fan-out alone.
    fn fanout(&self) -> (JoinHandle<()>, watch::Receiver<i64>) {
        let (tx, rx) = watch::channel(i64::MIN);
        let task = fanout::spawn(
            self.bus.clone(),
            self.store.clone(),
            Arc::new(Notify::new()),
            tx,
        );
        (task, rx)
    }

    async fn deliveries(&self, id: &str) -> Vec<Delivery> {
        outbox::deliveries(&self.store, id, None, 100)
            .await
            .expect("readable")
    }
}

fn call_event(kind: EventKind, call: &str) -> Event {
    let data = match kind {
        EventKind::CallEnded => json!({"disposition": "answered", "cdr_id": format!("cdr-{call}")}),
        _ => json!({"caller": "1001", "callee": "500"}),
    };
    Event::new(kind, T0).call(call).queue("sales").data(data)
}

async fn fanned_out(progress: &mut watch::Receiver<i64>, seq: i64) {
    progress
        .wait_for(|&done| done >= seq)
        .await
        .expect("the fan-out runs");
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_every_event_once_it_is_up() {
    let h = Harness::new().await;
    let port = free_port();
    h.subscribe(
        "wh_a",
        port,
        &[EventKind::CallCreated, EventKind::CallEnded],
    )
    .await;
    let (_fanout, mut progress) = h.fanout();
    let created = h.bus.publish(call_event(EventKind::CallCreated, "c1"));
    h.bus
        .publish(Event::new(EventKind::AgentState, T0).agent("1001"));
    h.bus.publish(call_event(EventKind::CallAnswered, "c1"));
    let ended = h.bus.publish(call_event(EventKind::CallEnded, "c1"));
    fanned_out(&mut progress, ended).await;

    let mut courier = h.courier(RetryPolicy::default());
    assert_eq!(
        courier.deliver_due().await.expect("store"),
        2,
        "two subscribed events"
    );
    let rows = h.deliveries("wh_a").await;
    assert!(
        rows.iter()
            .all(|d| d.state == DeliveryState::Pending && d.attempts == 1)
    );
    assert!(
        rows.iter().all(|d| d
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("connect"))),
        "{rows:?}"
    );
    assert_eq!(
        courier.deliver_due().await.expect("store"),
        0,
        "backing off"
    );

    let mut receiver = Receiver::on(port, &[]).await;
    h.advance(Duration::from_secs(5));
    assert_eq!(courier.deliver_due().await.expect("store"), 2);
    let got = [receiver.next().await, receiver.next().await];
    let ids: BTreeSet<&str> = got
        .iter()
        .map(|r| r.header("switchyard-event-id"))
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([&*event_id(created), &*event_id(ended)])
    );
    for r in &got {
        assert!(r.signed(), "signature of {r:?}");
        assert_eq!(r.target, "/hooks?from=test");
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(
            r.header("switchyard-timestamp"),
            ((T0 + 5000) / 1000).to_string()
        );
        let body = r.json();
        assert_eq!(body["id"], r.header("switchyard-event-id"));
        assert_eq!(body["call_id"], "c1");
        assert!(["call.created", "call.ended"].contains(&body["type"].as_str().unwrap_or("")));
    }
    let rows = h.deliveries("wh_a").await;
    assert!(
        rows.iter()
            .all(|d| d.state == DeliveryState::Delivered && d.attempts == 2),
        "{rows:?}"
    );
    h.advance(Duration::from_secs(3600));
    assert_eq!(
        courier.deliver_due().await.expect("store"),
        0,
        "delivered once"
    );
    assert!(receiver.drain().is_empty());
}

#[tokio::test]
async fn a_500_is_retried_with_the_same_id_and_body_until_a_200() {
    let h = Harness::new().await;
    let port = free_port();
    let mut receiver = Receiver::on(port, &[500]).await;
    h.subscribe("wh_b", port, &[EventKind::CallEnded]).await;
    let (_fanout, mut progress) = h.fanout();
    let seq = h.bus.publish(call_event(EventKind::CallEnded, "c2"));
    fanned_out(&mut progress, seq).await;

    let mut courier = h.courier(RetryPolicy::default());
    courier.deliver_due().await.expect("store");
    let first = receiver.next().await;
    assert_eq!(first.answered, 500);
    let row = &h.deliveries("wh_b").await[0];
    assert_eq!(
        (row.state, row.attempts, row.last_status),
        (DeliveryState::Pending, 1, Some(500))
    );
    let next = row.next_attempt_at.expect("scheduled");
    let backoff = next - T0;
    assert!(
        (2500..=5000).contains(&backoff),
        "first backoff {backoff} ms"
    );

    h.advance(Duration::from_millis(
        u64::try_from(backoff).expect("positive"),
    ));
    courier.deliver_due().await.expect("store");
    let second = receiver.next().await;
    assert_eq!(second.answered, 200);
    assert!(first.signed() && second.signed());
    assert_eq!(
        first.header("switchyard-event-id"),
        second.header("switchyard-event-id")
    );
    assert_eq!(first.body, second.body, "the same body on every attempt");
    let row = &h.deliveries("wh_b").await[0];
    assert_eq!(
        (
            row.state,
            row.attempts,
            row.last_status,
            row.next_attempt_at
        ),
        (DeliveryState::Delivered, 2, Some(200), None)
    );
}

#[tokio::test]
async fn a_delivery_is_kept_as_failed_after_the_last_attempt() {
    let h = Harness::new().await;
    let port = free_port();
    h.subscribe("wh_c", port, &[EventKind::CallCreated]).await;
    let (_fanout, mut progress) = h.fanout();
    let seq = h.bus.publish(call_event(EventKind::CallCreated, "c3"));
    fanned_out(&mut progress, seq).await;
    let retry = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    let mut courier = h.courier(retry);
    for _ in 0..3 {
        assert_eq!(courier.deliver_due().await.expect("store"), 1);
        h.advance(Duration::from_secs(60));
    }
    assert_eq!(courier.deliver_due().await.expect("store"), 0, "given up");
    let rows = h.deliveries("wh_c").await;
    assert_eq!(
        (rows[0].state, rows[0].attempts),
        (DeliveryState::Failed, 3)
    );
    let failed = outbox::deliveries(&h.store, "wh_c", Some(DeliveryState::Failed), 10)
        .await
        .expect("readable");
    assert_eq!(failed.len(), 1);
}

#[tokio::test]
async fn a_subscription_gets_only_events_after_it_was_made() {
    let h = Harness::new().await;
    let (_fanout, mut progress) = h.fanout();
    let before = h.bus.publish(call_event(EventKind::CallCreated, "early"));
    fanned_out(&mut progress, before).await;
    h.subscribe("wh_d", free_port(), &[EventKind::CallCreated])
        .await;
    let after = h.bus.publish(call_event(EventKind::CallCreated, "late"));
    fanned_out(&mut progress, after).await;
    let rows = h.deliveries("wh_d").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].event_id, event_id(after));
}

#[tokio::test]
async fn pending_rows_survive_a_restart_and_events_published_meanwhile_are_not_lost() {
    let h = Harness::new().await;
    let port = free_port();
    let mut receiver = Receiver::on(port, &[]).await;
    receiver.always(503);
    h.subscribe(
        "wh_e",
        port,
        &[EventKind::CallCreated, EventKind::CallEnded],
    )
    .await;
    let (fanout, mut progress) = h.fanout();
    let mut sent = BTreeSet::new();
    let mut last = 0;
    for call in ["r1", "r2", "r3"] {
        last = h.bus.publish(call_event(EventKind::CallCreated, call));
        sent.insert(event_id(last));
    }
    fanned_out(&mut progress, last).await;
    let mut courier = h.courier(RetryPolicy::default());
    assert_eq!(courier.deliver_due().await.expect("store"), 3);
    assert!(
        receiver
            .drain()
            .iter()
            .all(|r| r.answered == 503 && r.signed())
    );

    // The node stops: both tasks go, the outbox stays.
    fanout.abort();
    let _ = fanout.await;
    drop(courier);
    let late = event_id(h.bus.publish(call_event(EventKind::CallEnded, "r1")));
    sent.insert(late.clone());

    // It starts again: the fan-out resumes at its cursor, the courier
    // finds the pending rows.
    receiver.always(200);
    let (_fanout, mut progress) = h.fanout();
    fanned_out(&mut progress, h.bus.last_seq()).await;
    let mut courier = h.courier(RetryPolicy::default());
    h.advance(Duration::from_secs(10));
    assert_eq!(courier.deliver_due().await.expect("store"), 4);
    let got = receiver.drain();
    assert!(got.iter().all(|r| r.answered == 200 && r.signed()));
    let ids: BTreeSet<String> = got
        .iter()
        .map(|r| r.header("switchyard-event-id").to_owned())
        .collect();
    assert_eq!((ids, got.len()), (sent, 4));
    let rows = h.deliveries("wh_e").await;
    assert_eq!(rows.len(), 4, "no event fanned out twice");
    for d in &rows {
        let attempts = if d.event_id == late { 1 } else { 2 };
        assert_eq!(
            (d.state, d.attempts),
            (DeliveryState::Delivered, attempts),
            "{d:?}"
        );
    }
}

#[tokio::test]
async fn the_running_tasks_deliver_as_soon_as_an_event_is_published() {
    let h = Harness::new().await;
    let port = free_port();
    let mut receiver = Receiver::on(port, &[]).await;
    h.subscribe("wh_f", port, &[EventKind::CallAnswered]).await;
    let settings = Settings {
        seed: 3,
        ..Settings::default()
    };
    let mut tasks = Webhooks::start(h.store.clone(), h.bus.clone(), h.clock(), settings);
    let seq = h.bus.publish(call_event(EventKind::CallAnswered, "c9"));
    tasks.fanned_out(seq).await;
    let r = receiver.next().await;
    assert!(r.signed());
    assert_eq!(r.header("switchyard-event-id"), event_id(seq));
    assert_eq!(r.json()["type"], "call.answered");
}
