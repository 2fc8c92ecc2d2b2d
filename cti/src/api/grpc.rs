//! The event stream over gRPC, for integrators: the `switchyard.v1.Events`
//! service of `cti/proto/switchyard/v1/events.proto`.
//!
//! # Contract
//!
//! - `Subscribe` carries the same events as the WebSocket stream, through
//!   the same [`Feed`]: events numbered above `after_seq` from the backlog,
//!   then live ones, in order and each once; without `after_seq`, from the
//!   next event on. A subscriber that reads slowly is caught up from the
//!   backlog, never holds up the bus, and holds at most the bus's live
//!   buffer plus one HTTP/2 window of events.
//! - Authentication and visibility are the API's own: the
//!   `authorization: Bearer TOKEN` metadata goes through
//!   [`super::auth::identify`] (with the per-token rate limit) and the
//!   caller must pass [`super::stream::check_subscriber`]; each event is
//!   filtered by [`super::stream::visible`].
//! - Failures are statuses: `UNAUTHENTICATED`, `PERMISSION_DENIED`,
//!   `INVALID_ARGUMENT` (an unknown kind), `RESOURCE_EXHAUSTED`; a backlog
//!   that cannot be read ends the stream with `UNAVAILABLE`, and the client
//!   resubscribes from its last `seq`. The stream ends cleanly when the
//!   node stops.
//! - Event data travels as a JSON string, the WebSocket stream's `data`
//!   verbatim: a `google.protobuf.Struct` would turn every number into a
//!   double (millisecond times and ids above 2^53 would lose digits) and
//!   add a second rendering of the same object to keep in step.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tonic::{Request, Response, Status};

use super::auth::{self, Principal};
use super::events::{EventKind, Published};
use super::stream::{self as ws, BacklogUnreadable, Feed};
use super::{ApiError, Shared};

/// The code `protox` and `tonic-prost-build` generate from the proto file
/// (server side only).
#[allow(
    unreachable_pub,
    missing_docs,
    clippy::all,
    clippy::pedantic,
    reason = "generated code"
)]
mod proto {
    include!(concat!(env!("OUT_DIR"), "/server/switchyard.v1.rs"));
}

use proto::events_server::{Events, EventsServer};

/// How often an idle connection is pinged.
const KEEPALIVE: Duration = Duration::from_secs(30);
/// How long a ping may go unanswered before the connection, and the
/// subscriptions on it, are dropped.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `switchyard.v1.Events` on `listener` until it fails.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
) -> Result<(), tonic::transport::Error> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .serve_with_incoming(EventsServer::new(EventService { shared }), incoming)
        .await
}

/// The service: the API's state and limiters.
struct EventService {
    shared: Arc<Shared>,
}

/// The events of one subscription.
type EventStream = Pin<Box<dyn Stream<Item = Result<proto::Event, Status>> + Send>>;

#[tonic::async_trait]
impl Events for EventService {
    type SubscribeStream = EventStream;

    async fn subscribe(
        &self,
        request: Request<proto::SubscribeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let token = match request.metadata().get("authorization") {
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(auth::bearer_token)
                    .ok_or_else(|| Status::unauthenticated("expected `Bearer TOKEN`"))?,
            ),
            None => None,
        };
        let principal = auth::identify(&self.shared, token.as_deref())
            .await
            .map_err(status)?;
        ws::check_subscriber(&principal).map_err(status)?;
        let request = request.into_inner();
        let kinds = KindFilter::parse(&request.kinds)?;
        tracing::debug!(user = %principal.user, after = ?request.after_seq, "gRPC subscription");
        Ok(Response::new(events(
            &self.shared,
            principal,
            request.after_seq,
            kinds,
        )))
    }
}

/// The stream of one subscription: the feed, narrowed to `kinds`.
fn events(
    shared: &Shared,
    principal: Principal,
    after: Option<i64>,
    kinds: KindFilter,
) -> EventStream {
    let feed = Feed::new(&shared.state.events, principal, after);
    Box::pin(futures_util::stream::unfold(
        Some((feed, kinds)),
        |state| async move {
            let (mut feed, kinds) = state?;
            loop {
                match feed.next().await {
                    Ok(Some(e)) if kinds.admits(e.event.kind) => {
                        return Some((Ok(to_proto(&e)), Some((feed, kinds))));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return None,
                    Err(BacklogUnreadable) => {
                        let end =
                            Status::unavailable("the event backlog is unreadable: resubscribe");
                        return Some((Err(end), None));
                    }
                }
            }
        },
    ))
}

/// The kinds a subscriber asked for; empty: all.
#[derive(Debug)]
struct KindFilter(Vec<EventKind>);

impl KindFilter {
    fn parse(names: &[String]) -> Result<Self, Status> {
        names
            .iter()
            .map(|name| {
                EventKind::parse(name)
                    .ok_or_else(|| Status::invalid_argument(format!("unknown event kind {name:?}")))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn admits(&self, kind: EventKind) -> bool {
        self.0.is_empty() || self.0.contains(&kind)
    }
}

fn to_proto(e: &Published) -> proto::Event {
    let event = &e.event;
    proto::Event {
        seq: e.seq,
        kind: event.kind.as_str().to_owned(),
        at_ms: event.at,
        call_id: event.call_id.clone(),
        agent: event.agent.clone(),
        queues: event.queues.clone(),
        data_json: event.data.to_string(),
    }
}

/// The gRPC status for an API error of the same meaning.
fn status(e: ApiError) -> Status {
    use axum::http::StatusCode;
    let message = e.message().to_owned();
    match e.status() {
        StatusCode::UNAUTHORIZED => Status::unauthenticated(message),
        StatusCode::FORBIDDEN => Status::permission_denied(message),
        StatusCode::BAD_REQUEST => Status::invalid_argument(message),
        StatusCode::TOO_MANY_REQUESTS => Status::resource_exhausted(message),
        StatusCode::SERVICE_UNAVAILABLE => Status::unavailable(message),
        _ => Status::internal(message),
    }
}
