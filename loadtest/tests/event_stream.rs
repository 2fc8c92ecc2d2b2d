//! The event-stream clients (`supervisors = N`) against a scripted node on
//! loopback: they look up their token's role, send it as a bearer header,
//! retry a 429 after its `Retry-After`, and after the node drops a stream
//! reconnect with `since=` the last event they received, so the summary
//! shows every event once and no gap.
//!
//! The scripted node sends events only after the run's start, and the
//! clients stop once no event came for their linger time: nothing here
//! waits for a fixed time except the one-second `Retry-After` the node asks
//! for.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::SinkExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

use switchyard_load::scenario::{ApiCredentials, SupervisorLoad};
use switchyard_load::supervisor::Fleet;

const TOKEN: &str = "sy_test-token";

/// What the scripted node saw.
#[derive(Default)]
struct Seen {
    /// `since` of each stream request, in order.
    since: Vec<Option<i64>>,
    /// Authorization headers of stream requests.
    auth: Vec<String>,
    /// Stream requests refused with 429.
    refused: u32,
}

struct ScriptedNode {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    go: watch::Sender<bool>,
}

async fn scripted_node() -> ScriptedNode {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("bound");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (go, go_rx) = watch::channel(false);
    let shared = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, Arc::clone(&shared), go_rx.clone()));
        }
    });
    ScriptedNode { addr, seen, go }
}

fn event(seq: i64) -> String {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    format!(r#"{{"seq":{seq},"type":"call.created","at":{at},"call_id":"c{seq}","data":{{}}}}"#)
}

async fn serve(mut stream: TcpStream, seen: Arc<Mutex<Seen>>, mut go: watch::Receiver<bool>) {
    let mut first = [0u8; 16];
    let n = stream.peek(&mut first).await.unwrap_or(0);
    if first[..n].starts_with(b"GET /api/v1/me") {
        let mut head = vec![0u8; 4096];
        let _ = stream.read(&mut head).await;
        let body = r#"{"name":"watcher","role":"admin","agent":null,"queues":[]}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        return;
    }
    let mut since = None;
    // The error type is tungstenite's handshake callback's, not ours.
    #[allow(clippy::result_large_err)]
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let mut s = seen.lock().expect("not poisoned");
        since = req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("since="))
            .and_then(|v| v.parse::<i64>().ok());
        if s.refused == 0 {
            s.refused += 1;
            let mut refusal = ErrorResponse::new(None);
            *refusal.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            refusal
                .headers_mut()
                .insert("retry-after", "1".parse().expect("a header value"));
            return Err(refusal);
        }
        s.since.push(since);
        let auth = req.headers().get("authorization");
        s.auth
            .push(auth.and_then(|v| v.to_str().ok()).unwrap_or("").to_owned());
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, check).await else {
        return;
    };
    let _ = go.wait_for(|g| *g).await;
    // First stream: events 1-3, then the node drops it. After a
    // reconnect with since=3: events 4 and 5, and the stream stays open.
    let (events, close) = match since {
        None => (1..=3, true),
        Some(_) => (4..=5, false),
    };
    for seq in events {
        if ws.send(Message::text(event(seq))).await.is_err() {
            return;
        }
    }
    if close {
        drop(ws);
        return;
    }
    while let Some(Ok(m)) = futures_util::StreamExt::next(&mut ws).await {
        if m.is_close() {
            return;
        }
    }
}

#[tokio::test]
async fn clients_retry_reconnect_with_since_and_see_every_event_once() {
    let node = scripted_node().await;
    let load = SupervisorLoad {
        clients: 2,
        api: node.addr,
        credentials: ApiCredentials::Tokens(vec![TOKEN.to_owned()]),
        connect_rate: None,
        linger: Duration::from_millis(300),
        linger_max: Duration::from_secs(20),
    };
    let mut fleet = Fleet::launch(&load).expect("the clients' thread starts");
    let connected = fleet.connected().await.expect("the token works");
    assert_eq!((connected.clients, connected.connected), (2, 2));
    fleet.start(Instant::now());
    node.go.send_replace(true);
    let s = fleet.finish().await.expect("a summary");

    assert_eq!(s.roles, ["admin"]);
    assert_eq!((s.connected, s.rate_limited), (2, 1), "one 429, retried");
    assert_eq!((s.disconnects, s.reconnects), (2, 2), "{s:#?}");
    assert_eq!(s.events_received, 10, "five events for each client");
    assert_eq!(s.published_in_range, Some(5));
    assert_eq!((s.gaps, s.duplicates, s.malformed), (0, 0, 0));
    assert_eq!(s.complete_clients, 2);
    assert_eq!(s.kinds.get("call.created"), Some(&10));
    assert!(
        s.delivery_ms.max >= 0.0 && s.delivery_ms.max < 5_000.0,
        "{:?}",
        s.delivery_ms
    );
    let seen = node.seen.lock().expect("not poisoned");
    assert_eq!(seen.auth, vec![format!("Bearer {TOKEN}"); 4]);
    let mut since = seen.since.clone();
    since.sort();
    assert_eq!(since, [None, None, Some(3), Some(3)]);
}
