//! The bridge over real QUIC connections on loopback.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use sqlx::{Connection as _, SqliteConnection};
use sync_bridge::classify::{
    AudioChunk, CdrFacts, Classifier, Disposition, PseudonymKey, Samples, Speaker,
};
use sync_bridge::link::{
    BridgeClient, BridgeServer, ClientEvent, ClientSetup, Incoming, LinkConfig, run_client,
};
use sync_bridge::outbox::{Outbox, OutboxConfig, Window, dedup};
use sync_bridge::pki::{Bundle, issue};
use sync_bridge::tls::{ClientTls, ServerTls};
use sync_bridge::wire::{Item, ItemKey, NodeId, Priority};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Upper bound for any one step; a hang fails the test instead of blocking.
const STEP: Duration = Duration::from_secs(20);

fn pki() -> Bundle {
    issue(&["localhost".to_owned()], SystemTime::now()).expect("issue")
}

fn server_tls(p: &Bundle) -> ServerTls {
    ServerTls::from_pem(&p.ca_cert, &p.cloud_cert, &p.cloud_key).expect("server tls")
}

fn client_tls(trust: &Bundle, own: &Bundle) -> ClientTls {
    ClientTls::from_pem(&trust.ca_cert, &own.node_cert, &own.node_key).expect("client tls")
}

fn id(name: &str) -> NodeId {
    NodeId::new(name).expect("valid id")
}

fn link() -> LinkConfig {
    LinkConfig {
        reconnect_min: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(200),
        ..LinkConfig::default()
    }
}

fn setup(addr: SocketAddr, tls: ClientTls, link: LinkConfig) -> ClientSetup {
    ClientSetup {
        addr,
        server_name: "localhost".to_owned(),
        tls,
        node: id("node-1"),
        link,
    }
}

/// 1,000 classified items: call records of both record classes and audio.
fn items() -> Vec<Item> {
    let c = Classifier::new(&PseudonymKey::from_bytes(&[3; 32]).expect("32 bytes"));
    (0..1000u32)
        .map(|i| {
            let cdr_id = format!("cdr-{i}");
            if i % 3 == 0 {
                let chunk = AudioChunk::new(
                    c.call_ref(&cdr_id),
                    Speaker::Caller,
                    u64::from(i),
                    Samples::Pcm16(vec![7; 160]),
                )
                .expect("160 samples");
                return Item::classified(&chunk, Priority::LiveAudio).expect("fits");
            }
            let facts = CdrFacts {
                cdr_id: &cdr_id,
                sip_call_id: "x",
                caller: "+15551230000",
                callee: "1001",
                started_at_ms: i64::from(i),
                answered_at_ms: Some(i64::from(i) + 1),
                ended_at_ms: i64::from(i) + 9,
                disposition: Disposition::Answered,
                hangup_cause: "caller_bye",
                sip_status: Some(200),
                caller_quality: None,
                callee_quality: None,
                ivr_path: Some("main.start main.menu"),
                ivr_outcome: Some("queued in `sales`"),
                queue: Some("sales"),
                queue_wait_ms: Some(3000),
                agent: Some("1001"),
            };
            let priority = if i % 3 == 1 {
                Priority::ResultBearing
            } else {
                Priority::History
            };
            Item::classified(&c.call_record(&facts), priority).expect("fits")
        })
        .collect()
}

/// Binds a server on `addr`, retrying while the previous socket is let go.
async fn bind_again(addr: SocketAddr, tls: &ServerTls) -> BridgeServer {
    for _ in 0..10_000 {
        if let Ok(server) = BridgeServer::bind(addr, tls, &id("cloud"), &link()) {
            return server;
        }
        tokio::task::yield_now().await;
    }
    panic!("could not bind {addr} again");
}

/// What the cloud side saw.
#[derive(Default)]
struct Received {
    accepted: HashSet<ItemKey>,
    duplicates: usize,
}

/// Stores one item through the duplicate filter.
async fn store(db: &mut SqliteConnection, seen: &mut Received, item: &Item) {
    if dedup::accept(db, item.key(), 0)
        .await
        .expect("dedup insert")
    {
        assert!(
            seen.accepted.insert(item.key()),
            "accepted twice: {:?}",
            item.key()
        );
    } else {
        seen.duplicates += 1;
    }
}

/// What the node's owner heard from it.
#[derive(Default)]
struct NodeSaw {
    acked: Vec<ItemKey>,
    connects: usize,
    drops: usize,
}

/// Starts the node's side with `items` to deliver; returns its task and a
/// task that collects its events.
fn start_node(
    addr: SocketAddr,
    pki: &Bundle,
    items: Vec<Item>,
) -> (JoinHandle<Outbox>, JoinHandle<NodeSaw>) {
    let (item_tx, item_rx) = mpsc::channel(128);
    let (event_tx, mut events) = mpsc::channel(1024);
    let config = OutboxConfig {
        window: Window {
            max_items: 64,
            max_bytes: 1 << 20,
        },
        ..OutboxConfig::default()
    };
    let client = tokio::spawn(run_client(
        setup(addr, client_tls(pki, pki), link()),
        Outbox::new(config),
        item_rx,
        event_tx,
    ));
    tokio::spawn(async move {
        for item in items {
            if item_tx.send(item).await.is_err() {
                return;
            }
        }
    });
    let collector = tokio::spawn(async move {
        let mut saw = NodeSaw::default();
        while let Some(event) = events.recv().await {
            match event {
                ClientEvent::Acked(keys) => saw.acked.extend(keys),
                ClientEvent::Connected { .. } => saw.connects += 1,
                ClientEvent::Disconnected(_) => saw.drops += 1,
                _ => {}
            }
        }
        saw
    });
    (client, collector)
}

/// The cloud's first life: takes 600 items, withholds the acks of
/// #401..=#450, then goes away mid-stream.
async fn first_life(mut server: BridgeServer, db: &mut SqliteConnection, seen: &mut Received) {
    let mut conn = timeout(STEP, server.accept())
        .await
        .expect("in time")
        .expect("open")
        .expect("handshake");
    assert_eq!(conn.peer(), &id("node-1"));
    let mut received = 0;
    while received < 600 {
        match timeout(STEP, conn.next()).await.expect("in time") {
            Some(Ok(Incoming::Item(item))) => {
                received += 1;
                store(db, seen, &item).await;
                if !(401..=450).contains(&received) {
                    conn.ack(&[item.key()]).await.expect("ack");
                }
            }
            Some(Ok(_)) => {}
            other => panic!("connection ended early: {other:?}"),
        }
    }
    drop(conn);
    server.shutdown().await;
}

/// The cloud's second life: stores and acks in batches until the node,
/// done, closes the connection.
async fn second_life(mut server: BridgeServer, db: &mut SqliteConnection, seen: &mut Received) {
    let mut conn = timeout(STEP, server.accept())
        .await
        .expect("in time")
        .expect("open")
        .expect("handshake");
    while let Some(next) = timeout(STEP, conn.next()).await.expect("in time") {
        let first = match next {
            Ok(Incoming::Item(item)) => item,
            Ok(_) => continue,
            // The node closes the connection once everything was acked.
            Err(_) => break,
        };
        let mut batch = vec![first];
        while let Some(Ok(Incoming::Item(item))) = conn.try_next() {
            batch.push(item);
        }
        for item in &batch {
            store(db, seen, item).await;
        }
        let keys: Vec<_> = batch.iter().map(Item::key).collect();
        if conn.ack(&keys).await.is_err() {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_arrive_exactly_once_across_a_server_restart() {
    let pki = pki();
    let stls = server_tls(&pki);
    let server = BridgeServer::bind(
        "127.0.0.1:0".parse().expect("addr"),
        &stls,
        &id("cloud"),
        &link(),
    )
    .expect("bind");
    let addr = server.local_addr().expect("addr");
    let mut db = SqliteConnection::connect("sqlite::memory:")
        .await
        .expect("db");
    dedup::create_table(&mut db).await.expect("table");
    let all = items();
    let want: HashSet<ItemKey> = all.iter().map(Item::key).collect();
    assert_eq!(want.len(), 1000);
    let (client, collector) = start_node(addr, &pki, all);

    let mut seen = Received::default();
    first_life(server, &mut db, &mut seen).await;
    assert_eq!(seen.accepted.len(), 600);
    second_life(bind_again(addr, &stls).await, &mut db, &mut seen).await;

    let outbox = timeout(STEP, client)
        .await
        .expect("client finished")
        .expect("no panic");
    assert_eq!((outbox.pending_len(), outbox.in_flight_len()), (0, 0));
    assert!(
        outbox.stats().requeued >= 50,
        "unacked items were sent again: {:?}",
        outbox.stats()
    );
    let NodeSaw {
        acked,
        connects,
        drops,
    } = timeout(STEP, collector)
        .await
        .expect("events ended")
        .expect("no panic");
    assert_eq!(seen.accepted, want, "every item stored");
    assert!(
        seen.duplicates >= 50,
        "withheld acks cause redelivery, got {} duplicates",
        seen.duplicates
    );
    assert_eq!(acked.len(), 1000, "each item acked once to the owner");
    assert_eq!(acked.into_iter().collect::<HashSet<_>>(), want);
    assert!(
        connects >= 2 && drops >= 1,
        "connects {connects}, drops {drops}"
    );
}

#[tokio::test]
async fn a_node_from_another_ca_is_refused() {
    let ours = pki();
    let theirs = pki();
    let mut server = BridgeServer::bind(
        "127.0.0.1:0".parse().expect("addr"),
        &server_tls(&ours),
        &id("cloud"),
        &link(),
    )
    .expect("bind");
    let addr = server.local_addr().expect("addr");
    let node = timeout(
        STEP,
        BridgeClient::connect(&setup(addr, client_tls(&ours, &theirs), link())),
    )
    .await
    .expect("in time");
    assert!(node.is_err(), "the node's certificate must be refused");
    let refused = timeout(STEP, server.accept())
        .await
        .expect("in time")
        .expect("open");
    assert!(refused.is_err());
}

#[tokio::test]
async fn a_cloud_from_another_ca_is_refused() {
    let ours = pki();
    let theirs = pki();
    let server = BridgeServer::bind(
        "127.0.0.1:0".parse().expect("addr"),
        &server_tls(&theirs),
        &id("cloud"),
        &link(),
    )
    .expect("bind");
    let addr = server.local_addr().expect("addr");
    let node = timeout(
        STEP,
        BridgeClient::connect(&setup(addr, client_tls(&ours, &ours), link())),
    )
    .await
    .expect("in time");
    let err = node.expect_err("the cloud's certificate must be refused");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}

/// A loopback UDP relay that can be made to drop everything.
async fn relay(to: SocketAddr, black_hole: Arc<AtomicBool>) -> SocketAddr {
    let front = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let back = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    back.connect(to).await.expect("connect");
    let addr = front.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut a, mut b) = (vec![0; 65_536], vec![0; 65_536]);
        let mut client = None;
        loop {
            tokio::select! {
                Ok((n, from)) = front.recv_from(&mut a) => {
                    client = Some(from);
                    if !black_hole.load(Ordering::Relaxed) {
                        let _ = back.send(&a[..n]).await;
                    }
                }
                Ok(n) = back.recv(&mut b) => {
                    if let (Some(c), false) = (client, black_hole.load(Ordering::Relaxed)) {
                        let _ = front.send_to(&b[..n], c).await;
                    }
                }
            }
        }
    });
    addr
}

#[tokio::test]
async fn a_silent_cloud_is_noticed_within_the_idle_timeout() {
    let pki = pki();
    let fast = LinkConfig {
        keep_alive: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(400),
        ..link()
    };
    let mut server = BridgeServer::bind(
        "127.0.0.1:0".parse().expect("addr"),
        &server_tls(&pki),
        &id("cloud"),
        &fast,
    )
    .expect("bind");
    let black_hole = Arc::new(AtomicBool::new(false));
    let addr = relay(server.local_addr().expect("addr"), black_hole.clone()).await;
    let (_item_tx, item_rx) = mpsc::channel(8);
    let (event_tx, mut events) = mpsc::channel(8);
    let client = tokio::spawn(run_client(
        setup(addr, client_tls(&pki, &pki), fast),
        Outbox::new(OutboxConfig::default()),
        item_rx,
        event_tx,
    ));
    let _conn = timeout(STEP, server.accept())
        .await
        .expect("in time")
        .expect("open")
        .expect("handshake");
    assert!(matches!(
        timeout(STEP, events.recv()).await.expect("in time"),
        Some(ClientEvent::Connected { .. })
    ));

    // Keep-alives keep a quiet link up well past the idle timeout...
    assert!(
        timeout(Duration::from_millis(1000), events.recv())
            .await
            .is_err(),
        "link dropped while healthy"
    );
    // ...and a link that stops carrying packets is declared dead soon after.
    black_hole.store(true, Ordering::Relaxed);
    let started = tokio::time::Instant::now();
    let event = timeout(STEP, events.recv()).await.expect("in time");
    assert!(
        matches!(event, Some(ClientEvent::Disconnected(_))),
        "{event:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    client.abort();
}
