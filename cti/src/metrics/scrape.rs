//! The HTTP side of the metrics: `GET /metrics`, which reads the gauges from
//! their owners and renders, and the middleware that times every API
//! request.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::{
    AGENTS, API_DURATION, API_ERRORS, CONFERENCE_PARTICIPANTS, CONFERENCE_ROOMS,
    CountRegistrations, Metrics, QUEUE_AGENTS_AVAILABLE, QUEUE_AGENTS_LOGGED_IN,
    QUEUE_LONGEST_WAIT, QUEUE_WAITING, REGISTERED_EXTENSIONS, REGISTRATIONS, Registrations,
    WEBHOOK_DELIVERIES,
};
use crate::api::{AgentActivity, AgentPresence, AgentSummary, ApiState, AppState};
use crate::endpoint::Command;
use crate::store::Store;
use crate::webhooks::{DeliveryState, outbox};

/// The exposition format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

const PRESENCES: [&str; 3] = ["ready", "not_ready", "logged_out"];
const ACTIVITIES: [&str; 5] = ["idle", "reserved", "on_call", "wrap_up", "cooldown"];

/// `GET /metrics`: no token (see `docs/api.md`).
pub(crate) async fn scrape(State(shared): State<AppState>) -> Response {
    let state = &shared.state;
    state.metrics.refresh(state).await;
    (
        [(header::CONTENT_TYPE, TEXT_FORMAT)],
        state.metrics.render(),
    )
        .into_response()
}

/// Times the request and counts 5xx answers, by route template.
pub(crate) async fn track_request(
    State(shared): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let started = tokio::time::Instant::now();
    let response = next.run(req).await;
    let status = response.status();
    let code = status.as_str();
    let m = &shared.state.metrics;
    let labels = [
        ("route", route.as_str()),
        ("method", method),
        ("status", code),
    ];
    m.histogram(API_DURATION, &labels)
        .record(started.elapsed().as_secs_f64());
    if status.is_server_error() {
        m.counter(API_ERRORS, &[("route", route.as_str()), ("status", code)])
            .increment(1);
    }
    response
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    /// Reads every gauge from its owner.
    async fn refresh(&self, state: &ApiState) {
        let (queues, agents, rooms) = tokio::join!(
            state.live.queues(),
            state.live.agents(),
            state.live.conferences()
        );
        self.gauge(CONFERENCE_ROOMS, &[]).set(rooms.len() as f64);
        // No room label: a room's name may come from what a caller keyed in.
        let callers = || rooms.iter().flat_map(|r| &r.participants);
        for (label, n) in [
            ("talking", callers().filter(|p| p.talking).count()),
            ("muted", callers().filter(|p| p.muted).count()),
            (
                "listening",
                callers().filter(|p| !p.talking && !p.muted).count(),
            ),
        ] {
            self.gauge(CONFERENCE_PARTICIPANTS, &[("state", label)])
                .set(n as f64);
        }
        for q in &queues {
            let labels = [("queue", q.queue.as_str())];
            self.gauge(QUEUE_WAITING, &labels).set(f64::from(q.waiting));
            self.gauge(QUEUE_LONGEST_WAIT, &labels)
                .set(q.longest_wait_ms as f64 / 1000.0);
            self.gauge(QUEUE_AGENTS_AVAILABLE, &labels)
                .set(f64::from(q.agents_available));
            self.gauge(QUEUE_AGENTS_LOGGED_IN, &labels)
                .set(f64::from(q.agents_logged_in));
        }
        self.set_agents(&agents);
        if let Some(source) = self.inner.registrations.get()
            && let Some(r) = source.count().await
        {
            self.gauge(REGISTRATIONS, &[]).set(r.contacts as f64);
            self.gauge(REGISTERED_EXTENSIONS, &[])
                .set(r.extensions as f64);
        }
        match outbox::counts(&state.store).await {
            Ok(counts) => {
                for s in DeliveryState::ALL {
                    let n = counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n);
                    self.gauge(WEBHOOK_DELIVERIES, &[("state", s.as_str())])
                        .set(n as f64);
                }
            }
            Err(error) => tracing::warn!(%error, "metrics: webhook outbox not counted"),
        }
    }

    /// Every (presence, activity) pair, zeros included, so that a state
    /// nobody is in reads 0 rather than its last count.
    fn set_agents(&self, agents: &[AgentSummary]) {
        for presence in PRESENCES {
            for activity in ACTIVITIES {
                let n = agents
                    .iter()
                    .filter(|a| presence_label(&a.presence) == presence)
                    .filter(|a| activity_label(a.activity) == activity)
                    .count();
                self.gauge(AGENTS, &[("presence", presence), ("activity", activity)])
                    .set(n as f64);
            }
        }
    }
}

fn presence_label(p: &AgentPresence) -> &'static str {
    match p {
        AgentPresence::Ready => "ready",
        AgentPresence::NotReady { .. } => "not_ready",
        AgentPresence::LoggedOut => "logged_out",
    }
}

fn activity_label(a: AgentActivity) -> &'static str {
    match a {
        AgentActivity::Idle => "idle",
        AgentActivity::Reserved => "reserved",
        AgentActivity::OnCall => "on_call",
        AgentActivity::WrapUp => "wrap_up",
        AgentActivity::Cooldown => "cooldown",
    }
}

/// Registrations from the endpoint's location service: the bindings of
/// every provisioned extension, asked all at once.
pub(crate) struct RegistrarCount {
    /// The endpoint's command channel.
    pub(crate) cmds: mpsc::UnboundedSender<Command>,
    /// The store that lists the extensions.
    pub(crate) store: Store,
}

impl CountRegistrations for RegistrarCount {
    fn count(&self) -> BoxFuture<'_, Option<Registrations>> {
        async move {
            let extensions = self.store.list_extensions().await.ok()?;
            let mut replies = Vec::with_capacity(extensions.len());
            for e in extensions {
                let (reply, rx) = oneshot::channel();
                self.cmds
                    .send(Command::Bindings { ext: e.ext, reply })
                    .ok()?;
                replies.push(rx);
            }
            let mut r = Registrations::default();
            for rx in replies {
                let bindings = rx.await.ok()?;
                if !bindings.is_empty() {
                    r.extensions += 1;
                    r.contacts += bindings.len() as u64;
                }
            }
            Some(r)
        }
        .boxed()
    }
}
