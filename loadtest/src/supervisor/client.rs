//! One event-stream client, as a supervisor's dashboard would be: it opens
//! `GET /api/v1/events` as a WebSocket with its bearer token, retries a 429
//! after the `Retry-After` the node gives, accounts for every message in its
//! [`ClientTally`], and when the stream drops while the run goes on it
//! reconnects with `since=` the last event it received (as the API asks of
//! clients), at most [`MAX_RECONNECTS`] times. It closes when told to stop.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::summary::ClientRecord;
use super::tally::{Arrival, ClientTally};

/// Reconnections one client makes at most.
pub(super) const MAX_RECONNECTS: u64 = 5;
/// How long a client keeps trying to connect (429s included).
const CONNECT_WITHIN: Duration = Duration::from_secs(60);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What one client is to do.
pub(super) struct Plan {
    /// Client index.
    pub(super) index: usize,
    /// Token index.
    pub(super) group: usize,
    /// Whether the token sees every event.
    pub(super) sees_all: bool,
    /// The bearer token.
    pub(super) token: Arc<str>,
    /// The node's API.
    pub(super) api: SocketAddr,
    /// Wait this long before the first handshake (pacing).
    pub(super) start_after: Duration,
}

/// State every client of a fleet shares.
pub(super) struct Shared {
    /// The run's start, once the engine started.
    pub(super) start: OnceLock<Instant>,
    /// When the fleet began, the origin of `last_event_ms`.
    pub(super) epoch: Instant,
    /// Milliseconds from `epoch` to the last event any client received.
    pub(super) last_event_ms: AtomicU64,
    /// Events received by all clients so far.
    pub(super) delivered: Arc<AtomicU64>,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Shared {
    fn arrival(&self) -> Arrival {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let t = now();
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let since_epoch = u64::try_from(t.duration_since(self.epoch).as_millis()).unwrap_or(0);
        self.last_event_ms.fetch_max(since_epoch, Ordering::Relaxed);
        Arrival {
            unix_ms,
            second: self
                .start
                .get()
                .map(|s| t.saturating_duration_since(*s).as_secs()),
        }
    }
}

/// Why one handshake failed.
enum Refusal {
    /// 429: try again after this long.
    RateLimited(Duration),
    /// Anything else, in a few words.
    Failed(String),
}

/// Runs one client until `stop` turns true; reports on `connected`
/// whether its first handshake succeeded.
pub(super) async fn run(
    plan: Plan,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    connected: mpsc::UnboundedSender<bool>,
) -> ClientRecord {
    let mut record = ClientRecord {
        group: plan.group,
        sees_all: plan.sees_all,
        ..ClientRecord::default()
    };
    tokio::select! {
        () = tokio::time::sleep(plan.start_after) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
    let began = now();
    let first = establish(&plan, None, &mut record, &mut stop).await;
    let _ = connected.send(first.is_some());
    // The fleet counts reports until every sender is gone.
    drop(connected);
    let Some(mut ws) = first else {
        return record;
    };
    record.connect_ms = Some(now().duration_since(began).as_secs_f64() * 1000.0);
    loop {
        if listen(&mut ws, &shared, &mut record.tally, &mut stop).await {
            let _ = ws.close(None).await;
            return record;
        }
        record.disconnects += 1;
        if record.reconnects >= MAX_RECONNECTS {
            return record;
        }
        let since = record.tally.last_seq();
        match establish(&plan, since, &mut record, &mut stop).await {
            Some(again) => {
                record.reconnects += 1;
                ws = again;
            }
            None => return record,
        }
    }
}

/// Reads events until told to stop (`true`) or the stream ends (`false`).
async fn listen(
    ws: &mut Ws,
    shared: &Shared,
    tally: &mut ClientTally,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    loop {
        if *stop.borrow() {
            return true;
        }
        tokio::select! {
            biased;
            changed = stop.changed() => {
                // A fleet that went away stops its clients too.
                if changed.is_err() {
                    return true;
                }
            }
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => tally.handle_message(text.as_str(), shared.arrival()),
                Some(Ok(Message::Binary(_))) => tally.malformed += 1,
                Some(Ok(Message::Close(_)) | Err(_)) | None => return false,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// A connected stream, retrying 429s for up to [`CONNECT_WITHIN`]; `None`
/// when it could not connect (the cause is in `record.failure`) or the
/// fleet stopped meanwhile.
async fn establish(
    plan: &Plan,
    since: Option<i64>,
    record: &mut ClientRecord,
    stop: &mut watch::Receiver<bool>,
) -> Option<Ws> {
    let deadline = now() + CONNECT_WITHIN;
    loop {
        if *stop.borrow() {
            record.failure = Some("stopped before connecting".into());
            return None;
        }
        let wait = match handshake(plan, since).await {
            Ok(ws) => return Some(ws),
            Err(Refusal::RateLimited(wait)) => {
                record.rate_limited += 1;
                wait
            }
            Err(Refusal::Failed(why)) => {
                record.failure = Some(why);
                return None;
            }
        };
        if now() + wait > deadline {
            record.failure = Some(format!("rate limited for {CONNECT_WITHIN:?}"));
            return None;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }
}

async fn handshake(plan: &Plan, since: Option<i64>) -> Result<Ws, Refusal> {
    let query = since.map_or(String::new(), |s| format!("?since={s}"));
    let url = format!("ws://{}/api/v1/events{query}", plan.api);
    let mut request = url
        .into_client_request()
        .map_err(|e| Refusal::Failed(format!("bad request: {e}")))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", plan.token))
        .map_err(|_| Refusal::Failed("token is not a header value".into()))?;
    request.headers_mut().insert(header::AUTHORIZATION, bearer);
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(answer)) if answer.status().as_u16() == 429 => {
            let secs = answer
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(1)
                .clamp(1, 60);
            // Spread the retries of clients refused together.
            let spread = Duration::from_millis((plan.index as u64 * 7) % 500);
            Err(Refusal::RateLimited(Duration::from_secs(secs) + spread))
        }
        Err(WsError::Http(answer)) => Err(Refusal::Failed(format!(
            "HTTP {}",
            answer.status().as_u16()
        ))),
        Err(WsError::Io(e)) => Err(Refusal::Failed(format!("{:?}", e.kind()))),
        Err(e) => Err(Refusal::Failed(e.to_string())),
    }
}
