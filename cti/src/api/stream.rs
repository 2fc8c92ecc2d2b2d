//! `GET /api/v1/events`: the event stream over WebSocket.
//!
//! After the upgrade the server subscribes to live events first, then sends
//! every event numbered above `since` from the backlog, then the live ones,
//! skipping any it already sent. Each is one text message of JSON
//! ([`super::Published`]). A subscriber that falls behind the live buffer
//! reads the gap from the backlog, so a client sees every event it may see,
//! in order, exactly once per connection. Without `since` the stream starts
//! with the next event.
//!
//! Who sees what: an administrator everything; a supervisor the events
//! about their queues; an agent the events naming them as agent (their
//! calls, their state). Quality analysts have no stream.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;

use super::auth::{Principal, Role};
use super::error::QueryArgs;
use super::events::{EventBus, Published};
use super::{ApiError, AppState};

/// Backlog events read per query.
const BACKLOG_PAGE: usize = 500;

/// Query of the stream.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct StreamQuery {
    /// Send events numbered above this first.
    since: Option<i64>,
}

/// Upgrades to a WebSocket carrying the caller's events.
pub(crate) async fn events(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryArgs(q): QueryArgs<StreamQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin, Role::Supervisor, Role::Agent])?;
    if p.role == Role::Agent {
        p.own_agent()?;
    }
    let upgrade = upgrade.map_err(|_| {
        ApiError::bad_request("expected a WebSocket upgrade (GET with Upgrade: websocket)")
    })?;
    let bus = shared.state.events.clone();
    // Fixed before the handshake answer leaves, so an event published
    // right after the client sees it is not missed.
    let last = bus.last_seq();
    let since = q.since.map_or(last, |s| s.max(0).min(last));
    Ok(upgrade.on_upgrade(move |socket| run(socket, bus, p, since)))
}

/// Whether `p` may see `e`.
pub(crate) fn visible(p: &Principal, e: &Published) -> bool {
    match p.role {
        Role::Admin => true,
        Role::Supervisor => p.oversees(e.event.queues.iter().map(String::as_str)),
        Role::Agent => p.is_agent(e.event.agent.as_deref()),
        Role::QualityAnalyst => false,
    }
}

/// Why a stream ends.
enum End {
    /// The client closed or the socket failed.
    Client,
    /// The backlog could not be read.
    Store,
}

async fn run(mut socket: WebSocket, bus: EventBus, p: Principal, since: i64) {
    let mut live = bus.subscribe();
    let mut last = since;
    if let Err(End::Store) = catch_up(&mut socket, &bus, &p, &mut last).await {
        let _ = socket.send(Message::Close(None)).await;
        return;
    }
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            event = live.recv() => {
                let result = match event {
                    Ok(e) => send_if_new(&mut socket, &p, &mut last, &e).await,
                    Err(RecvError::Lagged(_)) => catch_up(&mut socket, &bus, &p, &mut last).await,
                    Err(RecvError::Closed) => return,
                };
                if result.is_err() {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            }
        }
    }
}

/// Sends the backlog above `last`, page by page.
async fn catch_up(
    socket: &mut WebSocket,
    bus: &EventBus,
    p: &Principal,
    last: &mut i64,
) -> Result<(), End> {
    loop {
        let page = bus.backlog(*last, BACKLOG_PAGE).await.map_err(|error| {
            tracing::warn!(%error, "event backlog unreadable");
            End::Store
        })?;
        for e in &page {
            send_if_new(socket, p, last, e).await?;
        }
        if page.len() < BACKLOG_PAGE {
            return Ok(());
        }
    }
}

async fn send_if_new(
    socket: &mut WebSocket,
    p: &Principal,
    last: &mut i64,
    e: &Arc<Published>,
) -> Result<(), End> {
    if e.seq <= *last {
        return Ok(());
    }
    *last = e.seq;
    if !visible(p, e) {
        return Ok(());
    }
    let text = serde_json::to_string(&**e).map_err(|_| End::Client)?;
    socket
        .send(Message::Text(text.into()))
        .await
        .map_err(|_| End::Client)
}
