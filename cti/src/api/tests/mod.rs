//! API tests on a real SQLite file in a temporary directory, a fake
//! [`LiveNode`], and the router driven in-process (and, for the event
//! streams, over a real socket).

mod alerts;
mod audit_chain;
mod bodies;
mod call_control;
mod callbacks;
mod cdrs;
mod conference_recordings;
mod event_stream;
mod grpc;
mod metrics;
mod rbac;
mod reports;
mod tokens;
mod webhooks;
mod wrap_up;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use futures_util::future::BoxFuture;
use tower::ServiceExt as _;

use super::users::{self, NewUser, TokenKind};
use super::*;
use crate::customers::{CustomerKeys, MASTER_KEY_LEN, NewCustomer, Tier};
use crate::store::{
    Cdr, CdrWriter, ConferenceRecording, Disposition, Recording, Routing, Voicemail,
};

/// The fake node's state, inspectable by tests.
#[derive(Debug, Default)]
pub(super) struct FakeState {
    pub(super) calls: Vec<CallSummary>,
    pub(super) agents: Vec<AgentSummary>,
    pub(super) queues: Vec<QueueSummary>,
    pub(super) conferences: Vec<ConferenceSummary>,
    pub(super) hung_up: Vec<String>,
    pub(super) states: Vec<(String, AgentPresence)>,
    pub(super) recordings: Vec<(String, RecordingAction)>,
    /// Every call control asked for, in order.
    pub(super) controls: Vec<(String, CallControl)>,
    /// When set, call controls are refused with it.
    pub(super) refusal: Option<ControlRefusal>,
    /// Every call placed, as (agent, to, auto answer).
    pub(super) dialled: Vec<(String, String, bool)>,
    /// When set, placing a call is refused with it.
    pub(super) dial_refusal: Option<DialRefusal>,
    /// Callbacks asked for and still waiting, as (id, queue, number, priority).
    pub(super) callbacks: Vec<(String, String, String, i32)>,
    /// Agents whose wrap-up was ended, in order.
    pub(super) wrap_ups_ended: Vec<String>,
    /// Every membership change asked for, as (agent, change).
    pub(super) memberships: Vec<(String, MembershipChange)>,
    /// Room recordings paused (`true`) or resumed, as (room, paused); only
    /// `huddle` is being recorded.
    pub(super) room_pauses: Vec<(String, bool)>,
}

/// A [`LiveNode`] answering from [`FakeState`]; hang-ups and state changes
/// are recorded, not applied.
#[derive(Debug, Default)]
pub(super) struct FakeLive(pub(super) Mutex<FakeState>);

impl FakeLive {
    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self
            .0
            .lock()
            .expect("no test panics while holding the fake's lock"))
    }
}

impl LiveNode for FakeLive {
    fn calls(&self) -> BoxFuture<'_, Vec<CallSummary>> {
        let calls = self.with(|s| s.calls.clone());
        Box::pin(async move { calls })
    }

    fn conferences(&self) -> BoxFuture<'_, Vec<ConferenceSummary>> {
        let rooms = self.with(|s| s.conferences.clone());
        Box::pin(async move { rooms })
    }

    fn hang_up<'a>(&'a self, call_id: &'a str) -> BoxFuture<'a, bool> {
        let known = self.with(|s| {
            let known = s.calls.iter().any(|c| c.call_id == call_id);
            if known {
                s.hung_up.push(call_id.to_owned());
            }
            known
        });
        Box::pin(async move { known })
    }

    fn record<'a>(&'a self, call_id: &'a str, action: RecordingAction) -> BoxFuture<'a, bool> {
        let known = self.with(|s| {
            let known = s.calls.iter().any(|c| c.call_id == call_id);
            if known {
                s.recordings.push((call_id.to_owned(), action));
            }
            known
        });
        Box::pin(async move { known })
    }

    fn set_membership<'a>(
        &'a self,
        agent: &'a str,
        change: MembershipChange,
    ) -> BoxFuture<'a, Result<(), MembershipRefusal>> {
        let answer = self.with(|s| {
            if !s.agents.iter().any(|a| a.agent == agent) {
                return Err(MembershipRefusal::UnknownAgent(agent.to_owned()));
            }
            let queue = match &change {
                MembershipChange::Join { queue, .. } | MembershipChange::Leave { queue } => {
                    Some(queue.clone())
                }
                _ => None,
            };
            if let Some(queue) = queue
                && !s.queues.iter().any(|q| q.queue == queue)
            {
                return Err(MembershipRefusal::UnknownQueue(queue));
            }
            s.memberships.push((agent.to_owned(), change));
            Ok(())
        });
        Box::pin(async move { answer })
    }

    fn conference_recording<'a>(&'a self, room: &'a str, paused: bool) -> BoxFuture<'a, bool> {
        let recorded = room == "huddle";
        if recorded {
            self.with(|s| s.room_pauses.push((room.to_owned(), paused)));
        }
        Box::pin(async move { recorded })
    }

    fn end_wrap_up<'a>(&'a self, agent: &'a str) -> BoxFuture<'a, bool> {
        self.with(|s| s.wrap_ups_ended.push(agent.to_owned()));
        Box::pin(async { true })
    }

    fn request_callback<'a>(
        &'a self,
        queue: &'a str,
        number: &'a str,
        priority: i32,
    ) -> BoxFuture<'a, Result<String, CallbackRefusal>> {
        let answer = self.with(|s| {
            if !s.queues.iter().any(|q| q.queue == queue) {
                return Err(CallbackRefusal::UnknownQueue(queue.to_owned()));
            }
            let id = format!("callback-{}", s.callbacks.len() + 1);
            s.callbacks
                .push((id.clone(), queue.to_owned(), number.to_owned(), priority));
            Ok(id)
        });
        Box::pin(async move { answer })
    }

    fn cancel_callback<'a>(
        &'a self,
        queue: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), CallbackRefusal>> {
        let answer = self.with(|s| {
            if id == "callback-ringing" {
                return Err(CallbackRefusal::InProgress(id.to_owned()));
            }
            let before = s.callbacks.len();
            s.callbacks.retain(|(i, q, ..)| !(i == id && q == queue));
            if s.callbacks.len() == before {
                return Err(CallbackRefusal::Unknown(id.to_owned()));
            }
            Ok(())
        });
        Box::pin(async move { answer })
    }

    fn dial<'a>(
        &'a self,
        agent: &'a str,
        to: &'a str,
        auto_answer: bool,
    ) -> BoxFuture<'a, Result<String, DialRefusal>> {
        let answer = self.with(|s| {
            if let Some(refusal) = s.dial_refusal.clone() {
                return Err(refusal);
            }
            s.dialled
                .push((agent.to_owned(), to.to_owned(), auto_answer));
            Ok(format!("placed-{}", s.dialled.len()))
        });
        Box::pin(async move { answer })
    }

    fn control<'a>(
        &'a self,
        call_id: &'a str,
        control: crate::api::CallControl,
    ) -> BoxFuture<'a, Result<(), crate::api::ControlRefusal>> {
        let answer = self.with(|s| {
            if !s.calls.iter().any(|c| c.call_id == call_id) {
                return Err(ControlRefusal::NoCall);
            }
            s.controls.push((call_id.to_owned(), control));
            s.refusal.clone().map_or(Ok(()), Err)
        });
        Box::pin(async move { answer })
    }

    fn monitor<'a>(
        &'a self,
        call_id: &'a str,
        request: crate::api::MonitorRequest,
    ) -> BoxFuture<'a, Result<(), crate::api::MonitorRefusal>> {
        let _ = request;
        let known = self.with(|s| s.calls.iter().any(|c| c.call_id == call_id));
        Box::pin(async move {
            known
                .then_some(())
                .ok_or(crate::api::MonitorRefusal::NoCall)
        })
    }

    fn agents(&self) -> BoxFuture<'_, Vec<AgentSummary>> {
        let agents = self.with(|s| s.agents.clone());
        Box::pin(async move { agents })
    }

    fn set_agent_state<'a>(
        &'a self,
        agent: &'a str,
        presence: AgentPresence,
    ) -> BoxFuture<'a, bool> {
        let known = self.with(|s| {
            let known = s.agents.iter().any(|a| a.agent == agent);
            if known {
                s.states.push((agent.to_owned(), presence));
            }
            known
        });
        Box::pin(async move { known })
    }

    fn queues(&self) -> BoxFuture<'_, Vec<QueueSummary>> {
        let queues = self.with(|s| s.queues.clone());
        Box::pin(async move { queues })
    }
}

/// The users every harness has, one per role.
pub(super) const ADMIN: &str = "ada";
pub(super) const SUPERVISOR: &str = "sam";
pub(super) const AGENT: &str = "alice";
pub(super) const ANALYST: &str = "quinn";

/// The caller on agent 1001's sales call, and the one on 1002's support
/// call: each a stored customer.
pub(super) const SALES_CALLER: &str = "+15551234567";
pub(super) const SUPPORT_CALLER: &str = "+15559876543";

/// A store, bus, fake node and router with one user per role.
pub(super) struct Harness {
    pub(super) _dir: tempfile::TempDir,
    pub(super) dir: std::path::PathBuf,
    pub(super) store: Store,
    pub(super) bus: EventBus,
    pub(super) live: Arc<FakeLive>,
    pub(super) clock: Arc<AtomicI64>,
    pub(super) state: ApiState,
    pub(super) router: Router,
    tokens: Vec<(Role, String)>,
}

/// The harness's start time (unix ms).
pub(super) const T0: i64 = 1_750_000_000_000;

impl Harness {
    pub(super) async fn new() -> Self {
        // The test clock stands still, so buckets never refill: room for
        // every request a test makes.
        let mut config = ApiConfig::new("switchyard.test");
        config.burst = 100_000;
        config.wrap_up_codes.insert(
            "sales".to_owned(),
            vec!["sale".to_owned(), "no_sale".to_owned()],
        );
        Self::with_config(config, 64).await
    }

    pub(super) async fn with_config(config: ApiConfig, ring: usize) -> Self {
        let dir = tempfile::tempdir().expect("a writable temporary directory");
        let store = Store::open_file(&dir.path().join("node.db"))
            .await
            .expect("a fresh database opens");
        let bus = EventBus::open(store.clone(), ring)
            .await
            .expect("bus opens");
        let live = Arc::new(FakeLive::default());
        let clock = Arc::new(AtomicI64::new(T0));
        let keys = CustomerKeys::from_master_key(&[7; MASTER_KEY_LEN]);
        let customers = crate::customers::Customers::new(&store, keys);
        let time = Arc::clone(&clock);
        let state = ApiState::new(
            store.clone(),
            Some(customers),
            bus.clone(),
            Arc::clone(&live) as Arc<dyn LiveNode>,
            config,
        )
        .with_clock(Clock::from_fn(move || time.load(Ordering::SeqCst)));
        let router = router(state.clone());
        let mut h = Self {
            dir: dir.path().to_path_buf(),
            _dir: dir,
            store,
            bus,
            live,
            clock,
            state,
            router,
            tokens: Vec::new(),
        };
        h.add_users().await;
        h
    }

    async fn add_users(&mut self) {
        let people = [
            (ADMIN, Role::Admin, None, vec![]),
            (SUPERVISOR, Role::Supervisor, None, vec!["sales".to_owned()]),
            (AGENT, Role::Agent, Some("1001".to_owned()), vec![]),
            (ANALYST, Role::QualityAnalyst, None, vec![]),
        ];
        for (name, role, agent, queues) in people {
            let token = self.add_user(name, role, agent, queues).await;
            self.tokens.push((role, token));
        }
    }

    /// Creates a user (password `correct horse <name>`) and returns an API
    /// token for them.
    pub(super) async fn add_user(
        &self,
        name: &str,
        role: Role,
        agent: Option<String>,
        queues: Vec<String>,
    ) -> String {
        let user = NewUser {
            name: name.to_owned(),
            password: format!("correct horse {name}"),
            role,
            agent,
            queues,
        };
        users::insert(&self.store, &user, T0)
            .await
            .expect("valid user");
        users::issue(&self.store, name, TokenKind::Api, None, None, T0)
            .await
            .expect("token issued")
            .token
    }

    /// The token of the harness user with `role`.
    pub(super) fn token(&self, role: Role) -> &str {
        self.tokens
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, t)| t.as_str())
            .expect("every role has a user")
    }

    /// Sends a request through the router.
    pub(super) async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Vec<u8>, axum::http::HeaderMap) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_owned())
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(req.body(body).expect("a well-formed test request"))
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body is readable");
        (status, bytes.to_vec(), headers)
    }

    /// A request as `role`, answered with JSON (or null for empty bodies).
    pub(super) async fn json(
        &self,
        role: Role,
        method: Method,
        uri: &str,
        body: Option<&str>,
    ) -> (StatusCode, serde_json::Value) {
        let (status, bytes, _) = self.call(method, uri, Some(self.token(role)), body).await;
        let value = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
        };
        (status, value)
    }

    /// Live calls, agents and queues; customers, CDRs, a recording, a
    /// conference room's recording and voicemails to go with them.
    pub(super) async fn seed(&self) {
        self.live.with(|s| {
            s.calls = vec![
                call("c-sales", SALES_CALLER, "sales", "1001"),
                call("c-support", SUPPORT_CALLER, "support", "1002"),
            ];
            s.agents = vec![agent("1001", "sales"), agent("1002", "support")];
            s.queues = vec![queue("sales"), queue("support")];
        });
        let customers = self.state.customers.as_ref().expect("configured");
        for (name, account, phone) in [
            ("Ada Sales", "AC-100", SALES_CALLER),
            ("Bob Support", "AC-200", SUPPORT_CALLER),
        ] {
            customers
                .insert(NewCustomer {
                    name: name.to_owned(),
                    phones: vec![phone.to_owned()],
                    email: None,
                    account: account.to_owned(),
                    tier: Tier::Gold,
                    language: crate::customers::Language::default(),
                })
                .await
                .expect("valid customer");
        }
        self.seed_cdrs().await;
        self.seed_media().await;
        self.store
            .add_extension(
                "2001",
                "secret-password",
                "switchyard.test",
                None,
                crate::store::SrtpPolicy::Optional,
                T0 / 1000,
            )
            .await
            .expect("extension added");
    }

    async fn seed_cdrs(&self) {
        let writer = CdrWriter::spawn(self.store.clone(), 16);
        let rows = [
            (
                "cdr-1",
                "1001",
                "500",
                Some(("sales", "1001")),
                Disposition::Answered,
                1,
            ),
            (
                "cdr-2",
                "1002",
                "500",
                Some(("support", "1002")),
                Disposition::Answered,
                2,
            ),
            ("cdr-3", "1003", "1001", None, Disposition::NoAnswer, 3),
            ("cdr-4", "1003", "1004", None, Disposition::Busy, 4),
            (
                "cdr-5",
                SALES_CALLER,
                "500",
                Some(("sales", "1001")),
                Disposition::Answered,
                5,
            ),
        ];
        for (id, caller, callee, routed, disposition, minute) in rows {
            let start = T0 + minute * 60_000;
            let mut cdr = Cdr::begin(&format!("call-{id}"), caller, callee, start);
            cdr.id = id.to_owned();
            cdr.finish(disposition, "caller_bye", Some(200), start + 30_000);
            if let Some((queue, agent)) = routed {
                cdr.routing = Routing {
                    queue: Some(queue.to_owned()),
                    agent: Some(agent.to_owned()),
                    ..Routing::default()
                };
            }
            writer.write(cdr).await.expect("CDR committed");
        }
    }

    async fn seed_media(&self) {
        let rec = self.dir.join("cdr-1.wav");
        std::fs::write(&rec, b"RIFF\x24\0\0\0WAVEfmt recorded audio").expect("write file");
        self.store
            .add_recording(&Recording {
                cdr_id: "cdr-1".to_owned(),
                path: rec.display().to_string(),
                started_at: T0,
                duration_ms: 1000,
            })
            .await
            .expect("recording indexed");
        let room = self.dir.join("conf-1.wav");
        std::fs::write(&room, b"RIFF\x24\0\0\0WAVEfmt room audio").expect("write file");
        self.store
            .add_conference_recording(&ConferenceRecording {
                id: "conf-1".to_owned(),
                room: "huddle".to_owned(),
                path: room.display().to_string(),
                started_at: T0,
                duration_ms: 0,
                participants: 0,
                finished: false,
            })
            .await
            .expect("conference recording indexed");
        for (id, mailbox) in [("vm-1", "1001"), ("vm-2", "1002")] {
            let path = self.dir.join(format!("{id}.wav"));
            std::fs::write(&path, format!("RIFF voicemail {id}")).expect("write file");
            self.store
                .add_voicemail(&Voicemail {
                    id: id.to_owned(),
                    mailbox: mailbox.to_owned(),
                    cdr_id: "cdr-3".to_owned(),
                    caller: "1003".to_owned(),
                    path,
                    duration_ms: 2000,
                    created_at: T0,
                })
                .await
                .expect("voicemail indexed");
        }
    }

    /// Every audit row so far.
    pub(super) async fn audit_rows(&self) -> Vec<audit::AuditEntry> {
        audit::entries(&self.store, 0, 1000)
            .await
            .expect("audit readable")
    }
}

fn call(id: &str, caller: &str, queue: &str, agent: &str) -> CallSummary {
    CallSummary {
        call_id: id.to_owned(),
        caller: caller.to_owned(),
        callee: "500".to_owned(),
        phase: CallPhase::Talking,
        started_at: T0,
        answered_at: Some(T0 + 5000),
        queue: Some(queue.to_owned()),
        agent: Some(agent.to_owned()),
        customer: None,
        analysis: None,
        conference: None,
    }
}

fn agent(id: &str, queue: &str) -> AgentSummary {
    AgentSummary {
        agent: id.to_owned(),
        presence: AgentPresence::Ready,
        activity: AgentActivity::OnCall,
        queues: vec![queue.to_owned()],
        calls_handled: 3,
    }
}

fn queue(name: &str) -> QueueSummary {
    QueueSummary {
        queue: name.to_owned(),
        waiting: 2,
        callbacks_waiting: 0,
        longest_wait_ms: 40_000,
        agents_logged_in: 1,
        agents_available: 0,
        entered: 10,
        answered: 7,
        abandoned: 1,
        service_level: Some(0.7),
    }
}
