//! `GET /api/v1/events`: the event stream over WebSocket, and the [`Feed`]
//! it shares with the gRPC stream ([`super::grpc`]).
//!
//! Before the upgrade answer leaves, the server subscribes to live events;
//! it then sends every event numbered above `since` from the backlog, then
//! the live ones, skipping any it already sent. Each is one text message of
//! JSON ([`super::Published`]). A subscriber that falls behind the live
//! buffer reads the gap from the backlog, so a client sees every event it
//! may see, in order, exactly once per connection. Without `since` the
//! stream starts with the next event.
//!
//! Who sees what: an administrator everything; a supervisor the events
//! about their queues; an agent the events naming them as agent (their
//! calls, their state). Quality analysts have no stream.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use tokio::sync::broadcast::{self, error::RecvError};

use super::auth::{Principal, Role};
use super::error::QueryArgs;
use super::events::{EventBus, EventKind, Published};
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
    check_subscriber(&p)?;
    let upgrade = upgrade.map_err(|_| {
        ApiError::bad_request("expected a WebSocket upgrade (GET with Upgrade: websocket)")
    })?;
    // Fixed before the handshake answer leaves, so an event published
    // right after the client sees it is not missed.
    let feed = Feed::new(&shared.state.events, p, q.since);
    Ok(upgrade.on_upgrade(move |socket| run(socket, feed)))
}

/// Ok when `p` may have an event stream: administrators, supervisors and
/// agents with an agent id; else 403.
pub(crate) fn check_subscriber(p: &Principal) -> Result<(), ApiError> {
    p.require(&[Role::Admin, Role::Supervisor, Role::Agent])?;
    if p.role == Role::Agent {
        p.own_agent()?;
    }
    Ok(())
}

/// Whether `p` may see `e`.
pub(crate) fn visible(p: &Principal, e: &Published) -> bool {
    match p.role {
        Role::Admin => true,
        // Conference rooms belong to no queue: every supervisor follows them, as
        // every supervisor may list them.
        Role::Supervisor => {
            e.event.kind == EventKind::ConferenceParticipant
                || p.oversees(e.event.queues.iter().map(String::as_str))
        }
        Role::Agent => p.is_agent(e.event.agent.as_deref()),
        Role::QualityAnalyst => false,
    }
}

/// The event backlog could not be read: the stream cannot go on without a
/// gap, so it ends.
#[derive(Debug)]
pub(crate) struct BacklogUnreadable;

/// One subscriber's view of the bus: the events above a starting number
/// that its principal may see, from the backlog and then live, in order and
/// each once. A subscriber that lags behind the live buffer is caught up
/// from the backlog, so how fast it reads never holds up publishers.
///
/// [`Feed::next`] is cancel-safe: dropping its future loses no event.
pub(crate) struct Feed {
    bus: EventBus,
    live: broadcast::Receiver<Arc<Published>>,
    principal: Principal,
    /// The number of the last event passed on or skipped.
    last: i64,
    /// Backlog events read but not yet passed on.
    pending: VecDeque<Arc<Published>>,
    /// Whether the backlog may hold events above `last` not yet read.
    catching_up: bool,
}

impl Feed {
    /// A feed of the events numbered above `since` (clamped to the newest;
    /// `None`: from the next event on) that `principal` may see. Subscribes
    /// at once: nothing published after this call is missed.
    pub(crate) fn new(bus: &EventBus, principal: Principal, since: Option<i64>) -> Self {
        let live = bus.subscribe();
        let newest = bus.last_seq();
        Self {
            bus: bus.clone(),
            live,
            principal,
            last: since.map_or(newest, |s| s.clamp(0, newest)),
            pending: VecDeque::new(),
            catching_up: true,
        }
    }

    /// The next event, waiting for one if need be; `None` when the bus is
    /// gone (the node is stopping).
    ///
    /// # Errors
    ///
    /// [`BacklogUnreadable`] when catching up failed.
    pub(crate) async fn next(&mut self) -> Result<Option<Arc<Published>>, BacklogUnreadable> {
        loop {
            let event = if let Some(e) = self.pending.pop_front() {
                e
            } else if self.catching_up {
                self.read_backlog().await?;
                continue;
            } else {
                match self.live.recv().await {
                    Ok(e) => e,
                    Err(RecvError::Lagged(_)) => {
                        self.catching_up = true;
                        continue;
                    }
                    Err(RecvError::Closed) => return Ok(None),
                }
            };
            if self.take(&event) {
                return Ok(Some(event));
            }
        }
    }

    /// Reads the next page of the backlog into `pending`.
    async fn read_backlog(&mut self) -> Result<(), BacklogUnreadable> {
        let page = self
            .bus
            .backlog(self.last, BACKLOG_PAGE)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "event backlog unreadable");
                BacklogUnreadable
            })?;
        self.catching_up = page.len() == BACKLOG_PAGE;
        self.pending.extend(page);
        Ok(())
    }

    /// Whether `e` is new and visible; moves past it either way.
    fn take(&mut self, e: &Published) -> bool {
        if e.seq <= self.last {
            return false;
        }
        self.last = e.seq;
        visible(&self.principal, e)
    }
}

async fn run(mut socket: WebSocket, mut feed: Feed) {
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            next = feed.next() => {
                let sent = match next {
                    Ok(Some(e)) => send(&mut socket, &e).await,
                    Ok(None) => return,
                    Err(BacklogUnreadable) => Err(()),
                };
                if sent.is_err() {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            }
        }
    }
}

async fn send(socket: &mut WebSocket, e: &Published) -> Result<(), ()> {
    let text = serde_json::to_string(e).map_err(drop)?;
    socket.send(Message::Text(text.into())).await.map_err(drop)
}
