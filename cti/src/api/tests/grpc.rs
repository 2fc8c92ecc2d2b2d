//! The gRPC event stream over loopback TCP, through a client generated from
//! the same proto file: authentication, role filtering, order, replay after
//! a dropped subscription, and a subscriber that lags; and the feed both
//! event streams read.

use std::net::SocketAddr;
use std::time::Duration;

use tonic::Code;
use tonic::transport::{Channel, Endpoint};

use super::*;
use crate::api::stream::Feed;

/// The client code generated from `cti/proto/` (client side only).
#[allow(
    unreachable_pub,
    missing_docs,
    clippy::all,
    clippy::pedantic,
    reason = "generated code"
)]
mod pb {
    include!(concat!(env!("OUT_DIR"), "/client/switchyard.v1.rs"));
}

use pb::events_client::EventsClient;

/// How long a test waits for a message that must come.
const DEADLINE: Duration = Duration::from_secs(10);

type Events = tonic::Streaming<pb::Event>;

fn ev(n: i64, agent: &str, queue: &str) -> Event {
    Event::new(EventKind::CallRinging, T0 + n)
        .call(format!("call-{n}"))
        .agent(agent)
        .queue(queue)
        .data(serde_json::json!({ "n": n }))
}

/// Serves the harness's API over gRPC on a loopback port.
async fn serve_harness(h: &Harness) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(serve_grpc(listener, h.state.clone()));
    addr
}

/// A client whose HTTP/2 windows are the protocol's minimum, so a reader
/// that stops reading stops the server soon.
async fn client(addr: SocketAddr) -> EventsClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("a valid URI")
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .expect("connects over loopback");
    EventsClient::new(channel)
}

/// `Subscribe` with `authorization` set to `auth`.
async fn subscribe_with(
    addr: SocketAddr,
    auth: Option<&str>,
    after_seq: Option<i64>,
    kinds: &[&str],
) -> Result<Events, tonic::Status> {
    let mut req = tonic::Request::new(pb::SubscribeRequest {
        after_seq,
        kinds: kinds.iter().map(|k| (*k).to_owned()).collect(),
    });
    if let Some(auth) = auth {
        req.metadata_mut()
            .insert("authorization", auth.parse().expect("ASCII metadata"));
    }
    let response = client(addr).await.subscribe(req).await?;
    Ok(response.into_inner())
}

async fn subscribe(addr: SocketAddr, token: &str, after_seq: Option<i64>) -> Events {
    subscribe_with(addr, Some(&format!("Bearer {token}")), after_seq, &[])
        .await
        .expect("subscribed")
}

async fn next_event(events: &mut Events) -> pb::Event {
    tokio::time::timeout(DEADLINE, events.message())
        .await
        .expect("an event within the deadline")
        .expect("no error status")
        .expect("the stream is open")
}

async fn next_seqs(events: &mut Events, n: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(next_event(events).await.seq);
    }
    out
}

#[tokio::test]
async fn callers_without_a_valid_token_or_role_are_refused() {
    let h = Harness::new().await;
    let addr = serve_harness(&h).await;
    let admin = format!("Bearer {}", h.token(Role::Admin));
    let analyst = format!("Bearer {}", h.token(Role::QualityAnalyst));
    let cases: [(Option<&str>, &[&str], Code); 6] = [
        (None, &[], Code::Unauthenticated),
        (Some("Bearer sy_not-a-token"), &[], Code::Unauthenticated),
        (Some("Basic YWRhOnB3"), &[], Code::Unauthenticated),
        (Some(&analyst), &[], Code::PermissionDenied),
        (
            Some(&admin),
            &["call.ringing", "call.rang"],
            Code::InvalidArgument,
        ),
        (Some(&admin), &["agent.state"], Code::Ok),
    ];
    for (auth, kinds, code) in cases {
        let got = subscribe_with(addr, auth, None, kinds)
            .await
            .map_or_else(|status| status.code(), |_| Code::Ok);
        assert_eq!(got, code, "authorization {auth:?}, kinds {kinds:?}");
    }
}

#[tokio::test]
async fn a_supervisor_receives_their_queues_events_in_order() {
    let h = Harness::new().await;
    let addr = serve_harness(&h).await;
    let mut events = subscribe(addr, h.token(Role::Supervisor), None).await;
    let mut expected = Vec::new();
    for n in 0..6 {
        let queue = if n % 2 == 0 { "sales" } else { "support" };
        let seq = h.bus.publish(ev(n, "1002", queue));
        if queue == "sales" {
            expected.push(seq);
        }
    }
    let first = next_event(&mut events).await;
    assert_eq!(first.seq, expected[0]);
    assert_eq!(first.kind, "call.ringing");
    assert_eq!(first.at_ms, T0);
    assert_eq!(first.call_id.as_deref(), Some("call-0"));
    assert_eq!(first.agent.as_deref(), Some("1002"));
    assert_eq!(first.queues, ["sales"]);
    let data: serde_json::Value = serde_json::from_str(&first.data_json).expect("JSON data");
    assert_eq!(data, serde_json::json!({ "n": 0 }));
    assert_eq!(next_seqs(&mut events, 2).await, expected[1..]);
}

#[tokio::test]
async fn resubscribing_after_a_drop_mid_burst_delivers_every_event_once() {
    // A ring of two, so most of the replay comes from the table.
    let h = Harness::with_config(ApiConfig::new("t"), 2).await;
    let addr = serve_harness(&h).await;
    let token = h.token(Role::Supervisor).to_owned();
    let start = h.bus.last_seq();
    let mut events = subscribe(addr, &token, Some(start)).await;
    let mut published: Vec<i64> = (0..20)
        .map(|n| h.bus.publish(ev(n, "1001", "sales")))
        .collect();
    let mut received = next_seqs(&mut events, 7).await;
    drop(events);
    published.extend((20..25).map(|n| h.bus.publish(ev(n, "1001", "sales"))));

    let last = *received.last().expect("seven events");
    let mut events = subscribe(addr, &token, Some(last)).await;
    received.extend(next_seqs(&mut events, published.len() - 7).await);
    assert_eq!(received, published);
    // Nothing else was queued: the next event is the next one published.
    let sentinel = h.bus.publish(ev(25, "1001", "sales"));
    assert_eq!(next_seqs(&mut events, 1).await, [sentinel]);
}

#[tokio::test]
async fn an_agent_sees_only_their_own_events() {
    let h = Harness::new().await;
    let addr = serve_harness(&h).await;
    let mut agent = subscribe(addr, h.token(Role::Agent), None).await;
    let theirs = h.bus.publish(ev(1, "1001", "sales"));
    h.bus.publish(ev(2, "1002", "sales"));
    h.bus
        .publish(Event::new(EventKind::QueueStats, T0).queue("sales"));
    h.bus.publish(Event::new(EventKind::Alert, T0));
    let state = h
        .bus
        .publish(Event::new(EventKind::AgentState, T0).agent("1001"));
    h.bus.publish(ev(3, "1002", "support"));
    let last = h.bus.publish(ev(4, "1001", "support"));
    assert_eq!(next_seqs(&mut agent, 3).await, [theirs, state, last]);
}

#[tokio::test]
async fn kinds_narrow_the_stream() {
    let h = Harness::new().await;
    let addr = serve_harness(&h).await;
    let admin = format!("Bearer {}", h.token(Role::Admin));
    let mut events = subscribe_with(addr, Some(&admin), None, &["agent.state", "alert"])
        .await
        .expect("subscribed");
    h.bus.publish(ev(1, "1001", "sales"));
    let state = h
        .bus
        .publish(Event::new(EventKind::AgentState, T0).agent("1001"));
    h.bus.publish(ev(2, "1001", "sales"));
    let alert = h.bus.publish(Event::new(EventKind::Alert, T0));
    assert_eq!(next_seqs(&mut events, 2).await, [state, alert]);
}

#[tokio::test]
async fn the_feed_passes_each_event_once_where_backlog_and_live_overlap() {
    let h = Harness::new().await;
    let principal = Principal::local();
    let start = h.bus.last_seq();
    let mut feed = Feed::new(&h.bus, principal, Some(start));
    // Subscribed already, so these are both in the backlog and live.
    let published: Vec<i64> = (0..5)
        .map(|n| h.bus.publish(ev(n, "1001", "sales")))
        .collect();
    let mut got = Vec::new();
    for _ in 0..published.len() {
        got.push(next_from(&mut feed).await);
    }
    assert_eq!(got, published);
    let sentinel = h.bus.publish(ev(5, "1001", "sales"));
    assert_eq!(next_from(&mut feed).await, sentinel);
}

async fn next_from(feed: &mut Feed) -> i64 {
    tokio::time::timeout(DEADLINE, feed.next())
        .await
        .expect("an event within the deadline")
        .expect("the backlog is readable")
        .expect("the bus is open")
        .seq
}

#[tokio::test]
async fn a_subscriber_that_lags_still_gets_every_event_in_order() {
    let h = Harness::with_config(ApiConfig::new("t"), 4).await;
    let addr = serve_harness(&h).await;
    let mut events = subscribe(addr, h.token(Role::Admin), Some(h.bus.last_seq())).await;
    // The server task cannot run while these are published (one-thread
    // runtime): three times the live buffer overflows it, and the rest must
    // come from the table.
    let published: Vec<i64> = (0..3000)
        .map(|n| h.bus.publish(ev(n, "1001", "sales")))
        .collect();
    assert_eq!(next_seqs(&mut events, published.len()).await, published);
}
