//! The CTI API: REST endpoints and a WebSocket event stream for agent
//! desktops, supervisors, quality analysts and administrators.
//!
//! # Contract
//!
//! - [`serve`] answers HTTP/1.1 on a listener the node bound, until the
//!   listener fails; [`router`] gives the same routes for embedding.
//! - Every request but `POST /api/v1/login`, `GET /api/v1/openapi.json`,
//!   `GET /metrics` (Prometheus text; no personal data) and the static
//!   `GET /dashboard` page carries `Authorization: Bearer TOKEN`.
//!   Tokens are random 32-byte values the database holds only as SHA-256
//!   hashes ([`users`]); passwords are Argon2id hashes. What each [`Role`]
//!   may do is checked in every handler, against the [`Principal`] the token
//!   names.
//! - Live state (calls, agents, queues) is not kept here: the node answers
//!   through the [`LiveNode`] trait it implements. Durable state (users,
//!   tokens, CDRs, recordings, voicemails, the audit log, events) is in the
//!   node's [`Store`].
//! - Every administrator and supervisor action, and every read of customer
//!   data, recordings or exports, appends a row to the hash-chained
//!   [`audit`] log before the answer is sent.
//! - [`EventBus::publish`] numbers events; `GET /api/v1/events?since=SEQ`
//!   replays what a client missed, then streams live, filtered by role.
//!   [`serve_grpc`] serves the same stream as the gRPC call
//!   `switchyard.v1.Events/Subscribe` (`cti/proto/`), with the same tokens.
//!   The [`alerts`] in force are kept from the same events for
//!   `GET /api/v1/alerts`.
//! - Errors are JSON `{"error": {"code", "message"}}` with a fitting status.
//!   Bad input never panics. Tokens, passwords and customer fields are never
//!   logged; audit rows name customers by id only.
//! - Limits: request bodies over [`ApiConfig::max_body_bytes`] get 413, and
//!   each token (and each client address, for logins) has a token bucket;
//!   an empty bucket gets 429 with `Retry-After`.
//!
//! `docs/api.md` is the reference for clients: endpoints, roles, events.

pub mod alerts;
pub mod audit;
mod auth;
mod dashboard;
mod error;
pub mod events;
mod grpc;
mod handlers;
mod limits;
pub mod live;
mod openapi;
mod stream;
pub mod users;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::MethodFilter;

use crate::customers::Customers;
use crate::store::Store;

pub use auth::{Principal, Role};
pub use error::ApiError;
pub use events::{Event, EventBus, EventKind, Published};
pub use live::{
    AgentActivity, AgentPresence, AgentSummary, CallAnalysis, CallControl, CallPhase, CallSummary,
    CallbackRefusal, ConferenceParticipant, ConferenceSummary, ControlRefusal, DialRefusal,
    LiveNode, MembershipChange, MembershipRefusal, MonitorMode, MonitorRefusal, MonitorRequest,
    QueueSummary, RecordingAction,
};
pub use users::{IssuedToken, NewUser, User, UserError};

/// Tunables of the API. [`ApiConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiConfig {
    /// The SIP digest realm extensions added through the API are hashed for
    /// (the node's `sip.domain`).
    pub realm: String,
    /// How long a token from `POST /api/v1/login` is valid.
    pub session_ttl: Duration,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Sustained requests per second each token may make.
    pub requests_per_second: u32,
    /// Requests a token may make at once before the sustained rate applies.
    pub burst: u32,
    /// Login attempts each client address may make per minute.
    pub logins_per_minute: u32,
    /// The wrap-up codes of each queue that lists some (`[[acd.queues]]
    /// wrap_up_codes`); a call of another queue, or of none, takes any
    /// well-formed code.
    pub wrap_up_codes: std::collections::BTreeMap<String, Vec<String>>,
    /// Each queue's service level threshold in milliseconds (`service_level_s`),
    /// for the reports.
    pub service_levels: std::collections::BTreeMap<String, u64>,
}

impl ApiConfig {
    /// Defaults: 12 h sessions, 64 KiB bodies, 20 requests/s with bursts of
    /// 40 per token, 10 logins a minute per address.
    #[must_use]
    pub fn new(realm: impl Into<String>) -> Self {
        Self {
            realm: realm.into(),
            session_ttl: Duration::from_secs(12 * 3600),
            max_body_bytes: 64 * 1024,
            requests_per_second: 20,
            burst: 40,
            logins_per_minute: 10,
            wrap_up_codes: std::collections::BTreeMap::new(),
            service_levels: std::collections::BTreeMap::new(),
        }
    }
}

/// The wall clock the API stamps times with, in unix milliseconds. Tests
/// pass a fixed or stepped one.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    #[must_use]
    pub fn system() -> Self {
        Self(Arc::new(unix_ms_now))
    }

    /// A clock that reads `f`.
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Now, in unix milliseconds.
    #[must_use]
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// The system clock in unix milliseconds (0 before 1970, saturating far
/// after).
#[must_use]
pub fn unix_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Everything the API needs from the node. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    /// The node's store.
    pub store: Store,
    /// The protected customer store; `None` when no key is configured
    /// (customer lookups then answer 503).
    pub customers: Option<Customers>,
    /// The event stream the node publishes to.
    pub events: EventBus,
    /// Live calls, agents and queues.
    pub live: Arc<dyn LiveNode>,
    /// Tunables.
    pub config: ApiConfig,
    /// The wall clock.
    pub clock: Clock,
    /// The node's metrics, counting the events published on `events`.
    pub metrics: crate::metrics::Metrics,
    /// The alerts in force, following `events`.
    pub alerts: Arc<alerts::AlertBoard>,
}

impl ApiState {
    /// State on the system clock.
    #[must_use]
    pub fn new(
        store: Store,
        customers: Option<Customers>,
        events: EventBus,
        live: Arc<dyn LiveNode>,
        config: ApiConfig,
    ) -> Self {
        let metrics = crate::metrics::Metrics::new();
        metrics.watch(&events);
        let alerts = Arc::new(alerts::AlertBoard::default());
        let board = Arc::clone(&alerts);
        events.observe(move |p| board.handle(p));
        Self {
            store,
            customers,
            events,
            live,
            config,
            clock: Clock::system(),
            metrics,
            alerts,
        }
    }

    /// The same state reading `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

/// What handlers share: the node's state and the API's own limiters.
pub(crate) struct Shared {
    pub(crate) state: ApiState,
    pub(crate) limits: limits::Limits,
}

/// The router state handlers extract.
pub(crate) type AppState = Arc<Shared>;

/// Serves the API on `listener` until it fails. Each connection is its own
/// task; the client address is kept for login rate limits.
///
/// # Errors
///
/// The listener's I/O error.
pub async fn serve(listener: tokio::net::TcpListener, state: ApiState) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await
}

/// Serves the event stream over gRPC (`switchyard.v1.Events`) on
/// `listener` until it fails. Tokens and roles are those of [`serve`]; the
/// rate limit applies to each `Subscribe` call, with buckets of its own.
///
/// # Errors
///
/// The listener's or the HTTP/2 server's error.
pub async fn serve_grpc(listener: tokio::net::TcpListener, state: ApiState) -> std::io::Result<()> {
    let limits = limits::Limits::new(&state.config);
    let shared = Arc::new(Shared { state, limits });
    grpc::serve(listener, shared)
        .await
        .map_err(std::io::Error::other)
}

/// The API's routes with their state, for [`serve`] or to merge with other
/// routes (a dashboard) under one listener.
pub fn router(state: ApiState) -> Router {
    let limits = limits::Limits::new(&state.config);
    let max_body = state.config.max_body_bytes;
    let shared = Arc::new(Shared { state, limits });
    // The dashboard is a static page outside the API (and its OpenAPI
    // document): it holds no data and needs no token.
    let public = route_table(Routes::new(), Access::Public)
        .router
        .route("/dashboard", axum::routing::get(dashboard::page));
    let private = route_table(Routes::new(), Access::Token).router.layer(
        axum::middleware::from_fn_with_state(Arc::clone(&shared), auth::authenticate),
    );
    public
        .merge(private)
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            crate::metrics::track_request,
        ))
        .with_state(shared)
}

/// Which routes a [`route_table`] pass adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// No token: login and the OpenAPI document.
    Public,
    /// Bearer token required.
    Token,
}

/// Every route, once. The same table drives the router and the check that
/// the OpenAPI document lists each route.
fn route_table(r: Routes, access: Access) -> Routes {
    use handlers::{
        admin, callbacks, calls, cdrs, control, customers, media, membership, monitor, recording,
        reports,
    };
    if access == Access::Public {
        return r
            .add(Method::POST, "/api/v1/login", auth::login)
            .add(Method::GET, "/api/v1/openapi.json", openapi::document)
            .add(Method::GET, "/metrics", crate::metrics::scrape);
    }
    r.add(Method::POST, "/api/v1/logout", auth::logout)
        .add(Method::GET, "/api/v1/me", auth::me)
        .add(Method::GET, "/api/v1/users", admin::list_users)
        .add(Method::POST, "/api/v1/users", admin::add_user)
        .add(Method::DELETE, "/api/v1/users/{name}", admin::remove_user)
        .add(
            Method::POST,
            "/api/v1/users/{name}/tokens",
            admin::issue_token,
        )
        .add(Method::GET, "/api/v1/audit", admin::audit_log)
        .add(Method::GET, "/api/v1/audit/verify", admin::audit_verify)
        .add(Method::GET, "/api/v1/extensions", admin::list_extensions)
        .add(Method::POST, "/api/v1/extensions", admin::add_extension)
        .add(
            Method::DELETE,
            "/api/v1/extensions/{ext}",
            admin::remove_extension,
        )
        .add(
            Method::PATCH,
            "/api/v1/extensions/{ext}",
            admin::update_extension,
        )
        .add(Method::GET, "/api/v1/cdrs", cdrs::search)
        .add(Method::GET, "/api/v1/cdrs.csv", cdrs::export_csv)
        .add(Method::GET, "/api/v1/customers/lookup", customers::lookup)
        .add(Method::GET, "/api/v1/recordings/{cdr_id}", media::recording)
        .add(
            Method::GET,
            "/api/v1/conference-recordings",
            media::conference_recordings,
        )
        .add(
            Method::GET,
            "/api/v1/conference-recordings/{id}/audio",
            media::conference_recording_audio,
        )
        .add(Method::GET, "/api/v1/voicemails", media::voicemails)
        .add(
            Method::GET,
            "/api/v1/voicemails/{id}/audio",
            media::voicemail_audio,
        )
        .add(Method::GET, "/api/v1/calls", calls::list_calls)
        .add(Method::POST, "/api/v1/calls", control::dial)
        .add(Method::POST, "/api/v1/calls/{id}/hangup", calls::hang_up)
        .add(
            Method::POST,
            "/api/v1/calls/{id}/recording",
            recording::record,
        )
        .add(
            Method::DELETE,
            "/api/v1/calls/{id}/recording",
            recording::stop,
        )
        .add(
            Method::POST,
            "/api/v1/calls/{id}/recording/pause",
            recording::pause,
        )
        .add(
            Method::POST,
            "/api/v1/calls/{id}/recording/resume",
            recording::resume,
        )
        .add(Method::POST, "/api/v1/calls/{id}/hold", control::hold)
        .add(Method::POST, "/api/v1/calls/{id}/resume", control::resume)
        .add(
            Method::POST,
            "/api/v1/calls/{id}/transfer",
            control::transfer,
        )
        .add(
            Method::POST,
            "/api/v1/calls/{id}/escalate",
            control::escalate,
        )
        .add(Method::POST, "/api/v1/calls/{id}/consult", control::consult)
        .add(
            Method::DELETE,
            "/api/v1/calls/{id}/consult",
            control::cancel_consult,
        )
        .add(
            Method::POST,
            "/api/v1/calls/{id}/consult/complete",
            control::complete_consult,
        )
        .add(
            Method::POST,
            "/api/v1/calls/{id}/conference",
            control::conference,
        )
        .add(
            Method::DELETE,
            "/api/v1/calls/{id}/conference",
            control::end_conference,
        )
        .add(Method::POST, "/api/v1/calls/{id}/monitor", monitor::start)
        .add(Method::DELETE, "/api/v1/calls/{id}/monitor", monitor::stop)
        .add(Method::GET, "/api/v1/agents", calls::list_agents)
        .add(
            Method::POST,
            "/api/v1/agents/{id}/state",
            calls::set_agent_state,
        )
        .add(Method::PUT, "/api/v1/cdrs/{id}/wrap-up", cdrs::wrap_up)
        .add(
            Method::PUT,
            "/api/v1/agents/{id}/queues/{queue}",
            membership::join,
        )
        .add(
            Method::DELETE,
            "/api/v1/agents/{id}/queues/{queue}",
            membership::leave,
        )
        .add(
            Method::PUT,
            "/api/v1/agents/{id}/skills",
            membership::skills,
        )
        .add(
            Method::POST,
            "/api/v1/conferences/{room}/recording/pause",
            calls::pause_conference_recording,
        )
        .add(
            Method::POST,
            "/api/v1/conferences/{room}/recording/resume",
            calls::resume_conference_recording,
        )
        .add(Method::GET, "/api/v1/reports/queues", reports::queues)
        .add(Method::GET, "/api/v1/reports/agents", reports::agents)
        .add(Method::GET, "/api/v1/queues", calls::list_queues)
        .add(
            Method::POST,
            "/api/v1/queues/{queue}/callbacks",
            callbacks::request,
        )
        .add(
            Method::DELETE,
            "/api/v1/queues/{queue}/callbacks/{id}",
            callbacks::cancel,
        )
        .add(Method::GET, "/api/v1/conferences", calls::list_conferences)
        .add(
            Method::POST,
            "/api/v1/conferences/{room}/participants/{call_id}/mute",
            calls::mute_in_conference,
        )
        .add(
            Method::DELETE,
            "/api/v1/conferences/{room}/participants/{call_id}",
            calls::remove_from_conference,
        )
        .add(Method::GET, "/api/v1/alerts", calls::list_alerts)
        .add(Method::GET, "/api/v1/events", stream::events)
        .add(Method::GET, "/api/v1/webhooks", handlers::webhooks::list)
        .add(Method::POST, "/api/v1/webhooks", handlers::webhooks::create)
        .add(
            Method::DELETE,
            "/api/v1/webhooks/{id}",
            handlers::webhooks::remove,
        )
        .add(
            Method::GET,
            "/api/v1/webhooks/{id}/deliveries",
            handlers::webhooks::deliveries,
        )
}

/// A router under construction that remembers each (method, path) it got.
struct Routes {
    router: Router<AppState>,
    table: Vec<(Method, &'static str)>,
}

impl Routes {
    fn new() -> Self {
        Self {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            // Only the standard methods above are used.
            .expect("a standard HTTP method");
        self.router = self.router.route(path, axum::routing::on(filter, handler));
        self.table.push((method, path));
        self
    }
}

/// Every (method, path) the router serves, public and token routes.
#[cfg(test)]
pub(crate) fn all_routes() -> Vec<(Method, &'static str)> {
    let mut all = route_table(Routes::new(), Access::Public).table;
    all.extend(route_table(Routes::new(), Access::Token).table);
    all
}
