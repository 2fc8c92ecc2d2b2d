//! Bridge throughput over loopback QUIC: call records, then 20 ms audio
//! chunks, each sent by the node's outbox and acknowledged by a cloud that
//! stores nothing. Prints items/s and MB/s of payload.
//!
//! `cargo run --release -p switchyard-sync-bridge --example throughput [COUNT]`

use std::time::{Instant, SystemTime};

use sync_bridge::classify::{
    AudioChunk, CdrFacts, Classifier, Disposition, PseudonymKey, Quality, Samples, Speaker,
};
use sync_bridge::link::{BridgeServer, ClientEvent, ClientSetup, Incoming, LinkConfig, run_client};
use sync_bridge::outbox::{Outbox, OutboxConfig};
use sync_bridge::pki::issue;
use sync_bridge::tls::{ClientTls, ServerTls};
use sync_bridge::wire::{Item, NodeId, Priority};
use tokio::sync::mpsc;

fn records(c: &Classifier, n: u32) -> Vec<Item> {
    let quality = Quality {
        mos: 4.1,
        loss_pct: 0.2,
        jitter_ms: 4.0,
        rtt_ms: Some(35.0),
    };
    (0..n)
        .map(|i| {
            let id = format!("cdr-{i}");
            let facts = CdrFacts {
                cdr_id: &id,
                sip_call_id: "a84b4c76e66710@pc33.example.com",
                caller: "+15551234567",
                callee: "2000",
                started_at_ms: 1_700_000_000_000 + i64::from(i),
                answered_at_ms: Some(1_700_000_004_000 + i64::from(i)),
                ended_at_ms: 1_700_000_190_000 + i64::from(i),
                disposition: Disposition::Answered,
                hangup_cause: "caller_bye",
                sip_status: Some(200),
                caller_quality: Some(quality),
                callee_quality: Some(quality),
                ivr_path: Some("main.start main.menu main.sales"),
                ivr_outcome: Some("queued in `sales`"),
                queue: Some("sales"),
                queue_wait_ms: Some(12_000),
                agent: Some("1001"),
            };
            Item::classified(&c.call_record(&facts), Priority::History)
                .expect("a record fits a frame")
        })
        .collect()
}

fn audio(c: &Classifier, n: u32) -> Vec<Item> {
    let call = c.call_ref("call-1");
    let pcm: Vec<i16> = (0..160)
        .map(|i| ((i * 731) % 20_000 - 10_000) as i16)
        .collect();
    (0..n)
        .map(|i| {
            let chunk = AudioChunk::new(
                call,
                Speaker::Caller,
                u64::from(i),
                Samples::Pcm16(pcm.clone()),
            )
            .expect("160 samples");
            Item::classified(&chunk, Priority::LiveAudio).expect("a chunk fits a frame")
        })
        .collect()
}

/// Acknowledges everything that arrives, in batches.
async fn cloud(mut server: BridgeServer) {
    while let Some(Ok(mut conn)) = server.accept().await {
        tokio::spawn(async move {
            while let Some(Ok(first)) = conn.next().await {
                let mut keys = Vec::new();
                let mut take = |i: Incoming| {
                    if let Incoming::Item(item) = i {
                        keys.push(item.key());
                    }
                };
                take(first);
                while let Some(Ok(more)) = conn.try_next() {
                    take(more);
                }
                if conn.ack(&keys).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn run(label: &str, items: Vec<Item>, setup: ClientSetup) {
    let count = items.len();
    let bytes: usize = items.iter().map(|i| i.payload().len()).sum();
    let (item_tx, item_rx) = mpsc::channel(1024);
    let (event_tx, mut events) = mpsc::channel(1024);
    let started = Instant::now();
    let client = tokio::spawn(run_client(
        setup,
        Outbox::new(OutboxConfig::default()),
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
    let mut acked = 0;
    while let Some(event) = events.recv().await {
        if let ClientEvent::Acked(keys) = event {
            acked += keys.len();
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    client.await.expect("client task");
    println!(
        "{label:>6}: {acked} of {count} items acked in {elapsed:.3} s: {:.0} items/s, {:.2} MB/s payload ({} B/item)",
        acked as f64 / elapsed,
        bytes as f64 / elapsed / 1e6,
        bytes / count.max(1),
    );
}

#[tokio::main]
async fn main() {
    let count: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let pki = issue(&["localhost".to_owned()], SystemTime::now()).expect("issue certificates");
    let stls =
        ServerTls::from_pem(&pki.ca_cert, &pki.cloud_cert, &pki.cloud_key).expect("server tls");
    let ctls =
        ClientTls::from_pem(&pki.ca_cert, &pki.node_cert, &pki.node_key).expect("client tls");
    let cloud_id = NodeId::new("cloud").expect("valid id");
    let server = BridgeServer::bind(
        "127.0.0.1:0".parse().expect("addr"),
        &stls,
        &cloud_id,
        &LinkConfig::default(),
    )
    .expect("bind");
    let setup = ClientSetup {
        addr: server.local_addr().expect("bound"),
        server_name: "localhost".to_owned(),
        tls: ctls,
        node: NodeId::new("node").expect("valid id"),
        link: LinkConfig::default(),
    };
    tokio::spawn(cloud(server));
    let c = Classifier::new(&PseudonymKey::from_bytes(&[1; 32]).expect("32 bytes"));
    run("record", records(&c, count), setup.clone()).await;
    run("audio", audio(&c, count), setup).await;
}
