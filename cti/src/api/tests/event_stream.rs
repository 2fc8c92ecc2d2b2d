//! The event bus (numbering, ring and table, restart) and the WebSocket
//! stream (replay on reconnect, role filtering) over a real socket.

use std::time::Duration;

use futures_util::StreamExt as _;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use super::*;
use crate::api::stream::visible;

/// How long a test waits for a message that must come.
const DEADLINE: Duration = Duration::from_secs(10);

fn ev(n: i64, agent: &str, queue: &str) -> Event {
    Event::new(EventKind::CallRinging, T0 + n)
        .call(format!("call-{n}"))
        .agent(agent)
        .queue(queue)
        .data(serde_json::json!({ "n": n }))
}

#[tokio::test]
async fn backlog_reads_the_ring_and_the_table_in_order() {
    let h = Harness::with_config(ApiConfig::new("t"), 3).await;
    let first = h.bus.last_seq() + 1;
    let seqs: Vec<i64> = (0..10)
        .map(|n| h.bus.publish(ev(n, "1001", "sales")))
        .collect();
    assert_eq!(seqs, (first..first + 10).collect::<Vec<_>>());
    // Seven of the ten left the ring of three: they come from the table.
    let all = h.bus.backlog(first - 1, 100).await.expect("backlog");
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs);
    assert_eq!(all[4].event, ev(4, "1001", "sales"));
    let some = h.bus.backlog(first + 1, 4).await.expect("backlog");
    assert_eq!(some.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs[2..6]);
    let tail = h.bus.backlog(first + 8, 100).await.expect("backlog");
    assert_eq!(tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [first + 9]);
    assert!(
        h.bus
            .backlog(first + 9, 100)
            .await
            .expect("backlog")
            .is_empty()
    );
}

#[tokio::test]
async fn a_restart_continues_numbering_above_every_number_handed_out() {
    let h = Harness::new().await;
    let a = h.bus.publish(ev(1, "1001", "sales"));
    let b = h.bus.publish(ev(2, "1001", "sales"));
    h.bus.flush().await;
    // A second bus on the same store stands for the node after a restart,
    // including one whose last events never reached the table.
    let again = EventBus::open(h.store.clone(), 8).await.expect("reopened");
    let c = again.publish(ev(3, "1001", "sales"));
    assert!(c > b && b == a + 1, "{a} {b} {c}");
    let third = EventBus::open(h.store.clone(), 8).await.expect("reopened");
    assert!(third.publish(ev(4, "1001", "sales")) > c);
    // Events of the earlier run are replayed from the table.
    let old = third.backlog(a - 1, 10).await.expect("backlog");
    assert_eq!(
        old.iter().take(2).map(|e| e.seq).collect::<Vec<_>>(),
        [a, b]
    );
}

#[test]
fn visibility_follows_the_role() {
    let p = |role, agent: Option<&str>, queues: &[&str]| Principal {
        user: "u".to_owned(),
        role,
        agent: agent.map(str::to_owned),
        queues: queues.iter().map(|q| (*q).to_owned()).collect(),
        token_hash: String::new(),
    };
    let e = Published {
        seq: 1,
        event: ev(1, "1001", "sales"),
    };
    let unscoped = Published {
        seq: 2,
        event: Event::new(EventKind::Alert, T0),
    };
    let admin = p(Role::Admin, None, &[]);
    assert!(visible(&admin, &e) && visible(&admin, &unscoped));
    assert!(visible(&p(Role::Supervisor, None, &["sales"]), &e));
    assert!(!visible(&p(Role::Supervisor, None, &["support"]), &e));
    assert!(!visible(&p(Role::Supervisor, None, &["sales"]), &unscoped));
    assert!(visible(&p(Role::Agent, Some("1001"), &[]), &e));
    assert!(!visible(&p(Role::Agent, Some("1002"), &[]), &e));
    assert!(!visible(&p(Role::Agent, None, &[]), &e));
    assert!(!visible(&p(Role::QualityAnalyst, None, &[]), &e));
    // Conference rooms belong to no queue: every supervisor follows them.
    let room = Published {
        seq: 3,
        event: Event::new(EventKind::ConferenceParticipant, T0).call("call-9"),
    };
    assert!(visible(&admin, &room));
    assert!(visible(&p(Role::Supervisor, None, &["support"]), &room));
    assert!(visible(&p(Role::Supervisor, None, &[]), &room));
    assert!(!visible(&p(Role::Agent, Some("1001"), &[]), &room));
    assert!(!visible(&p(Role::QualityAnalyst, None, &[]), &room));
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Serves the harness's API on a loopback port.
async fn serve_harness(h: &Harness) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(serve(listener, h.state.clone()));
    addr
}

async fn connect(addr: std::net::SocketAddr, token: &str, since: Option<i64>) -> Client {
    let query = since.map(|s| format!("?since={s}")).unwrap_or_default();
    let mut req = format!("ws://{addr}/api/v1/events{query}")
        .into_client_request()
        .expect("a valid URL");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("a header value"),
    );
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("handshake");
    ws
}

/// The next event on `ws`.
async fn next_event(ws: &mut Client) -> serde_json::Value {
    loop {
        let msg = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("an event within the deadline")
            .expect("the stream is open")
            .expect("a well-formed message");
        if let WsMessage::Text(text) = msg {
            return serde_json::from_str(text.as_str()).expect("events are JSON");
        }
    }
}

async fn next_seqs(ws: &mut Client, n: usize) -> Vec<i64> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(next_event(ws).await["seq"].as_i64().expect("a seq"));
    }
    out
}

#[tokio::test]
async fn reconnecting_with_since_delivers_exactly_the_missed_events() {
    // A ring of two, so part of the replay comes from the table.
    let h = Harness::with_config(ApiConfig::new("t"), 2).await;
    let addr = serve_harness(&h).await;
    let admin = h.token(Role::Admin).to_owned();
    let e1 = h.bus.publish(ev(1, "1001", "sales"));
    let e2 = h.bus.publish(ev(2, "1002", "support"));

    let mut ws = connect(addr, &admin, Some(e1 - 1)).await;
    assert_eq!(next_seqs(&mut ws, 2).await, [e1, e2]);
    let e3 = h.bus.publish(ev(3, "1001", "sales"));
    let live = next_event(&mut ws).await;
    assert_eq!(live["seq"], e3);
    assert_eq!(live["type"], "call.ringing");
    assert_eq!(live["call_id"], "call-3");
    assert_eq!(live["data"]["n"], 3);
    ws.close(None).await.expect("closed");
    drop(ws);

    let missed: Vec<i64> = (4..=7)
        .map(|n| h.bus.publish(ev(n, "1001", "sales")))
        .collect();
    let mut ws = connect(addr, &admin, Some(e3)).await;
    assert_eq!(next_seqs(&mut ws, missed.len()).await, missed);
    // Nothing else was queued: the next message is the next live event.
    let sentinel = h.bus.publish(ev(8, "1001", "sales"));
    assert_eq!(next_seqs(&mut ws, 1).await, [sentinel]);
}

#[tokio::test]
async fn without_since_the_stream_starts_with_the_next_event() {
    let h = Harness::new().await;
    let addr = serve_harness(&h).await;
    h.bus.publish(ev(1, "1001", "sales"));
    let mut ws = connect(addr, h.token(Role::Admin), None).await;
    let next = h.bus.publish(ev(2, "1001", "sales"));
    assert_eq!(next_seqs(&mut ws, 1).await, [next]);
}

#[tokio::test]
async fn agents_and_supervisors_receive_only_their_events() {
    let h = Harness::new().await;
    let addr = serve_harness(&h).await;
    let start = h.bus.last_seq();
    let mut agent = connect(addr, h.token(Role::Agent), Some(start)).await;
    let mut sup = connect(addr, h.token(Role::Supervisor), Some(start)).await;
    let theirs = h.bus.publish(ev(1, "1001", "sales"));
    let other_agent_same_queue = h.bus.publish(ev(2, "1002", "sales"));
    h.bus.publish(ev(3, "1002", "support"));
    h.bus.publish(Event::new(EventKind::Alert, T0));
    let agent_state = h
        .bus
        .publish(Event::new(EventKind::AgentState, T0).agent("1001"));
    let sales_stats = h
        .bus
        .publish(Event::new(EventKind::QueueStats, T0).queue("sales"));
    assert_eq!(next_seqs(&mut agent, 2).await, [theirs, agent_state]);
    assert_eq!(
        next_seqs(&mut sup, 3).await,
        [theirs, other_agent_same_queue, sales_stats]
    );
}

#[tokio::test]
async fn a_slow_subscriber_that_lags_still_gets_every_event_in_order() {
    let h = Harness::with_config(ApiConfig::new("t"), 4).await;
    let addr = serve_harness(&h).await;
    let start = h.bus.last_seq();
    let mut ws = connect(addr, h.token(Role::Admin), Some(start)).await;
    // Far more than the live buffer, published before the client reads.
    let published: Vec<i64> = (0..3000)
        .map(|n| h.bus.publish(ev(n, "1001", "sales")))
        .collect();
    assert_eq!(next_seqs(&mut ws, published.len()).await, published);
}

#[tokio::test]
async fn quality_analysts_have_no_stream() {
    let h = Harness::new().await;
    let addr = serve_harness(&h).await;
    let mut req = format!("ws://{addr}/api/v1/events")
        .into_client_request()
        .expect("URL");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", h.token(Role::QualityAnalyst))
            .parse()
            .expect("header"),
    );
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
        }
        other => panic!(
            "expected a 403 handshake refusal, got {:?}",
            other.map(|_| ())
        ),
    }
    // A browser-style connection with the token in the query works.
    let url = format!(
        "ws://{addr}/api/v1/events?access_token={}",
        h.token(Role::Admin)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("handshake");
    let seq = h.bus.publish(ev(1, "1001", "sales"));
    assert_eq!(next_seqs(&mut ws, 1).await, [seq]);
}
