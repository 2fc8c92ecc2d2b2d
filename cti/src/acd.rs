//! The node's ACD: one task that owns the [`acd::Acd`] engine and drives it.
//!
//! Call tasks and the endpoint send it [`AcdMsg`]s; it feeds them to the engine with
//! `now`, drains the engine's outputs and routes each to the call it names (a
//! [`QueueEvent`] on the channel the call gave when it queued). The engine's timer
//! (ring-no-answer, wrap-up, announcements, escalation, overflow) is this task's
//! timer. Nothing else touches the engine: agent and queue state have one owner.
//!
//! # Queries
//!
//! [`AcdHandle::status`], [`AcdHandle::queue_stats`], [`AcdHandle::agent_stats`] and
//! [`AcdHandle::agents`] ask the task for the engine's live figures and agent states
//! (answered between two inputs, so always consistent); they return empty when the
//! task has stopped. [`AcdHandle::set_presence`] changes an agent's presence as a
//! feature code does.
//!
//! # Persistence
//!
//! Started with [`AcdHandle::start`], the task restores the agents' presence, skills
//! and queue memberships from the store before it takes any call, and stores them
//! again whenever they change: after an input that changed an agent's presence (a
//! login, a break, a RONA not-ready), skills or tiers. Writes are throttled to one per
//! [`SAVE_INTERVAL`]: the first change after a quiet spell is written at once, the
//! rest of a burst together when the interval has passed. A final write is made when
//! the task stops, and [`AcdHandle::flush`] writes and waits. Calls are not stored:
//! their SIP dialogs do not survive a restart either.

use std::collections::HashMap;
use std::time::Duration;

use acd::{
    Acd, Activity, AgentId, AgentState, AgentStats, CallId, CallRequest, Input, Output, Presence,
    QueueStats,
};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::store::{AcdStateWriter, Store};

/// The shortest time between two writes of the agent state.
pub(crate) const SAVE_INTERVAL: Duration = Duration::from_secs(1);

/// What the ACD tells a queued call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QueueEvent {
    /// Ring this agent (their registered phones).
    Offer { agent: String },
    /// Stop ringing that agent.
    CancelOffer { agent: String },
    /// Tell the caller their place and the estimated wait.
    Announce {
        position: u32,
        ewt: Option<Duration>,
    },
    /// The call leaves the queue for `target`.
    Overflow { target: acd::OverflowTarget },
    /// The call waits in `queue` (the one the routing rules chose, or one it
    /// overflowed to).
    Queued { queue: String },
}

/// A message to the ACD task.
#[derive(Debug)]
pub(crate) enum AcdMsg {
    /// A call joins a queue; its events come back on `events`.
    Enqueue {
        request: CallRequest,
        events: UnboundedSender<QueueEvent>,
    },
    /// Any other engine input (presence, answered, refused, abandoned, ended).
    Input(Input),
    /// Every queue's and agent's live figures.
    Status { reply: oneshot::Sender<AcdStatus> },
    /// Every agent's presence and activity.
    Agents {
        reply: oneshot::Sender<Vec<AgentStatus>>,
    },
    /// Store the agent state now; reply once it is written.
    Flush { reply: oneshot::Sender<()> },
    /// The number to call `call` back on, should it overflow to a callback.
    Contact { call: CallId, contact: String },
    /// A callback asked for ahead (`request` is one, see
    /// [`CallRequest::as_callback`]) to `contact`; the reply says whether the engine
    /// took it (its queue exists).
    CallBack {
        request: CallRequest,
        contact: String,
        reply: oneshot::Sender<Result<(), acd::AcdError>>,
    },
    /// Joins or leaves a queue, or replaces skills (`Input::JoinQueue`,
    /// `LeaveQueue`, `SetSkills`); the reply says whether the engine took it.
    Membership {
        input: Input,
        reply: oneshot::Sender<Result<(), acd::AcdError>>,
    },
    /// Withdraws callback `call` of `queue` while it still waits.
    CancelCallBack {
        call: CallId,
        queue: acd::QueueId,
        reply: oneshot::Sender<Withdrawn>,
    },
}

/// What became of a callback the API asked to withdraw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Withdrawn {
    /// It was waiting, and is no more.
    Done,
    /// No such callback (placed and over, or never asked for).
    Unknown,
    /// An agent is being rung for it or talks on it: it goes on.
    InProgress,
}

/// The engine's live figures at one instant.
#[derive(Debug, Clone, Default)]
pub(crate) struct AcdStatus {
    /// Every queue, in configuration order.
    pub(crate) queues: Vec<QueueStats>,
    /// Every agent, in configuration order (presence and activity included).
    pub(crate) agents: Vec<AgentStats>,
}

/// One agent's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AgentStatus {
    /// The agent (extension).
    pub(crate) agent: AgentId,
    /// Logged in, ready, not ready (with the reason).
    pub(crate) presence: Presence,
    /// What the agent is doing.
    pub(crate) activity: Activity,
}

impl AgentStatus {
    /// The combined state a dashboard shows.
    #[allow(dead_code, reason = "read by the CTI API")]
    pub(crate) fn state(&self) -> AgentState {
        AgentState::of(&self.presence, self.activity)
    }
}

/// A handle on the ACD task. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct AcdHandle {
    tx: UnboundedSender<AcdMsg>,
}

impl AcdHandle {
    /// Starts the task around `engine`, without persistence.
    #[allow(dead_code, reason = "a node without a store; the tests")]
    pub(crate) fn spawn(engine: Acd) -> Self {
        Self::spawn_with(engine, None, None, None)
    }

    /// Restores the agent state stored in `store` into `engine` (a fresh one), then
    /// starts the task, which keeps the stored state up to date. A state that cannot
    /// be read is logged and skipped: agents then start as configured.
    pub(crate) async fn start(
        mut engine: Acd,
        store: Store,
        events: Option<AgentEvents>,
        callbacks: Option<UnboundedSender<crate::call::originate::CallbackRequest>>,
    ) -> Self {
        let stored = match store.acd_state().await {
            Ok(stored) => stored,
            Err(error) => {
                warn!(%error, "stored ACD agent state unreadable; agents start as configured");
                acd::PersistentState::default()
            }
        };
        if !stored.agents.is_empty() {
            let report = engine.restore(now(), &stored);
            info!(
                agents = stored.agents.len(),
                ?report,
                "ACD agent state restored"
            );
        }
        let writer = AcdStateWriter::spawn(store, stored);
        Self::spawn_with(engine, Some(writer), events, callbacks)
    }

    fn spawn_with(
        engine: Acd,
        writer: Option<AcdStateWriter>,
        events: Option<AgentEvents>,
        callbacks: Option<UnboundedSender<crate::call::originate::CallbackRequest>>,
    ) -> Self {
        let (tx, rx) = unbounded_channel();
        let mut task = Task::new(engine, writer);
        if let Some(events) = &events {
            events.queues.refresh(&task.engine);
        }
        task.events = events;
        task.callbacks = callbacks;
        tokio::spawn(run(task, rx));
        Self { tx }
    }

    pub(crate) fn send(&self, msg: AcdMsg) {
        // The task lives as long as the node.
        let _ = self.tx.send(msg);
    }

    pub(crate) fn input(&self, input: Input) {
        self.send(AcdMsg::Input(input));
    }

    /// Logs `agent` in or out, or changes their readiness.
    #[allow(dead_code, reason = "called by the CTI API")]
    pub(crate) fn set_presence(&self, agent: impl Into<AgentId>, presence: Presence) {
        self.input(Input::SetPresence {
            agent: agent.into(),
            presence,
        });
    }

    /// Every queue's and agent's live figures; `None` once the task has stopped.
    #[allow(dead_code, reason = "called by the CTI API")]
    pub(crate) async fn status(&self) -> Option<AcdStatus> {
        let (reply, rx) = oneshot::channel();
        self.send(AcdMsg::Status { reply });
        rx.await.ok()
    }

    /// Every queue's live figures (`acd::Acd::all_queue_stats`), in configuration
    /// order.
    #[allow(dead_code, reason = "called by the CTI API")]
    pub(crate) async fn queue_stats(&self) -> Vec<QueueStats> {
        self.status().await.unwrap_or_default().queues
    }

    /// Every agent's live figures (`acd::Acd::all_agent_stats`), in configuration
    /// order.
    #[allow(dead_code, reason = "called by the CTI API")]
    pub(crate) async fn agent_stats(&self) -> Vec<AgentStats> {
        self.status().await.unwrap_or_default().agents
    }

    /// Every agent's presence and activity, in configuration order.
    #[allow(dead_code, reason = "called by the CTI API")]
    pub(crate) async fn agents(&self) -> Vec<AgentStatus> {
        let (reply, rx) = oneshot::channel();
        self.send(AcdMsg::Agents { reply });
        rx.await.unwrap_or_default()
    }

    /// Asks for a callback to `contact` ahead (`request` made with
    /// [`CallRequest::as_callback`]); `Err` when the engine refuses it (no such
    /// queue, a duplicate id) or the task has stopped.
    pub(crate) async fn call_back(
        &self,
        request: CallRequest,
        contact: String,
    ) -> Result<(), Option<acd::AcdError>> {
        let (reply, rx) = oneshot::channel();
        self.send(AcdMsg::CallBack {
            request,
            contact,
            reply,
        });
        rx.await.map_err(|_| None)?.map_err(Some)
    }

    /// Joins or leaves a queue, or replaces an agent's skills (`input` is one of
    /// `Input::JoinQueue`, `LeaveQueue`, `SetSkills`); `Err` with the engine's
    /// refusal (no such agent or queue, a bad level), or `None` once the task has
    /// stopped.
    pub(crate) async fn change_membership(
        &self,
        input: Input,
    ) -> Result<(), Option<acd::AcdError>> {
        let (reply, rx) = oneshot::channel();
        self.send(AcdMsg::Membership { input, reply });
        rx.await.map_err(|_| None)?.map_err(Some)
    }

    /// Withdraws callback `call` of `queue` if it still waits.
    pub(crate) async fn cancel_call_back(&self, call: CallId, queue: acd::QueueId) -> Withdrawn {
        let (reply, rx) = oneshot::channel();
        self.send(AcdMsg::CancelCallBack { call, queue, reply });
        rx.await.unwrap_or(Withdrawn::Unknown)
    }

    /// Stores the agent state now and waits until it is written (at once without
    /// persistence; never past the task's end).
    #[allow(dead_code, reason = "called at shutdown and by the CTI API")]
    pub(crate) async fn flush(&self) {
        let (reply, rx) = oneshot::channel();
        self.send(AcdMsg::Flush { reply });
        let _ = rx.await;
    }
}

/// The engine's clock: tokio's (so a paused test clock applies).
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// The task's state: the engine, the queued calls' channels and the persistence.
struct Task {
    engine: Acd,
    calls: HashMap<CallId, UnboundedSender<QueueEvent>>,
    saver: Option<Saver>,
    /// Where agent state changes are published (the CTI event stream).
    events: Option<AgentEvents>,
    /// Callback numbers of queued calls.
    contacts: HashMap<CallId, String>,
    /// Where the callbacks the engine asks for are placed.
    callbacks: Option<UnboundedSender<crate::call::originate::CallbackRequest>>,
}

/// Each agent's queues as the ACD has them now — the configuration, then what the
/// store restored and the API changed — for scoping what supervisors see. The ACD
/// task writes it; the API and the event stream read it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Memberships(std::sync::Arc<std::sync::RwLock<HashMap<String, Vec<String>>>>);

impl Memberships {
    /// `agent`'s queues, or `None` for no such agent.
    pub(crate) fn of(&self, agent: &str) -> Option<Vec<String>> {
        self.read().get(agent).cloned()
    }

    /// Whether `agent` is a configured agent.
    pub(crate) fn contains(&self, agent: &str) -> bool {
        self.read().contains_key(agent)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Vec<String>>> {
        // Written whole under the lock: a poisoned map is still a consistent one.
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes every agent's queues from `engine`.
    fn refresh(&self, engine: &Acd) {
        let map = engine
            .agent_ids()
            .map(|a| {
                let queues = engine.agent_queues(a).unwrap_or_default();
                (
                    a.to_string(),
                    queues.iter().map(ToString::to_string).collect(),
                )
            })
            .collect();
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = map;
    }
}

/// The CTI event stream, and each agent's queues (a supervisor sees the agents of
/// the queues they supervise).
#[derive(Debug, Clone)]
pub(crate) struct AgentEvents {
    pub(crate) bus: crate::api::EventBus,
    pub(crate) queues: Memberships,
}

impl AgentEvents {
    fn publish(&self, agent: &AgentId, presence: &Presence, activity: acd::Activity) {
        let state = acd::AgentState::of(presence, activity);
        let mut event = crate::api::Event::new(crate::api::EventKind::AgentState, unix_ms())
            .agent(agent.to_string());
        for queue in self.queues.of(agent.as_str()).into_iter().flatten() {
            event = event.queue(queue.clone());
        }
        let data = serde_json::json!({
            "presence": crate::api::AgentPresence::from(presence),
            "activity": crate::api::AgentActivity::from(activity),
            "state": format!("{state:?}").to_lowercase(),
        });
        self.bus.publish(event.data(data));
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Keeps the stored agent state up to date.
struct Saver {
    writer: AcdStateWriter,
    /// Each agent's presence as last seen, to notice a change.
    presence: HashMap<AgentId, Presence>,
    throttle: Throttle,
}

/// When to write a change: the first one after a quiet spell at once, later ones at
/// most once per [`SAVE_INTERVAL`], together.
#[derive(Debug, Default)]
struct Throttle {
    /// A change not yet handed to the writer.
    dirty: bool,
    last_save: Option<Instant>,
}

impl Throttle {
    fn changed(&mut self) {
        self.dirty = true;
    }

    /// When a pending change becomes due, if it must wait.
    fn deadline(&self) -> Option<Instant> {
        if self.dirty {
            self.last_save.map(|last| last + SAVE_INTERVAL)
        } else {
            None
        }
    }

    /// Whether to write now; if so, the change counts as written at `now`.
    fn poll(&mut self, now: Instant) -> bool {
        let due = self.dirty
            && self
                .last_save
                .is_none_or(|last| now >= last + SAVE_INTERVAL);
        if due {
            self.saved(now);
        }
        due
    }

    fn saved(&mut self, now: Instant) {
        self.dirty = false;
        self.last_save = Some(now);
    }
}

async fn run(mut task: Task, mut rx: UnboundedReceiver<AcdMsg>) {
    // Restoring queued the agents' state changes.
    task.drain();
    loop {
        let deadline = task.engine.poll_timeout().map(Instant::from_std);
        let save_at = task.saver.as_ref().and_then(|s| s.throttle.deadline());
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(msg) => task.handle(msg),
                None => break,
            },
            () = sleep_until_some(deadline) => task.feed(Input::Timeout),
            () = sleep_until_some(save_at) => {}
        }
        task.drain();
        task.save_if_due();
    }
    if let Some(saver) = task.saver.as_mut().filter(|s| s.throttle.dirty) {
        let generation = saver.save(&task.engine);
        saver.writer.written(generation).await;
    }
}

impl Task {
    fn new(engine: Acd, writer: Option<AcdStateWriter>) -> Self {
        let saver = writer.map(|writer| Saver {
            writer,
            presence: engine
                .agent_ids()
                .filter_map(|a| Some((a.clone(), engine.agent_status(a)?.0)))
                .collect(),
            throttle: Throttle::default(),
        });
        Self {
            engine,
            calls: HashMap::new(),
            saver,
            events: None,
            contacts: HashMap::new(),
            callbacks: None,
        }
    }

    fn handle(&mut self, msg: AcdMsg) {
        match msg {
            AcdMsg::Enqueue { request, events } => {
                self.calls.insert(request.call.clone(), events);
                self.feed(Input::Enqueue(request));
            }
            AcdMsg::Input(input) => {
                if let Input::Abandon(call) | Input::CallEnded(call) = &input {
                    self.calls.remove(call);
                    self.contacts.remove(call);
                }
                self.feed(input);
            }
            AcdMsg::Status { reply } => {
                let at = now();
                let _ = reply.send(AcdStatus {
                    queues: self.engine.all_queue_stats(at).collect(),
                    agents: self.engine.all_agent_stats(at).collect(),
                });
            }
            AcdMsg::Agents { reply } => {
                let _ = reply.send(self.agents());
            }
            AcdMsg::Flush { reply } => self.flush(reply),
            AcdMsg::Contact { call, contact } => {
                self.contacts.insert(call, contact);
            }
            AcdMsg::CallBack {
                request,
                contact,
                reply,
            } => {
                // The number first: an agent free now gets the callback at once.
                let call = request.call.clone();
                self.contacts.insert(call.clone(), contact);
                let taken = self.engine.handle_input(now(), Input::Enqueue(request));
                if taken.is_err() {
                    self.contacts.remove(&call);
                }
                let _ = reply.send(taken);
            }
            AcdMsg::Membership { input, reply } => {
                let taken = self.engine.handle_input(now(), input);
                if taken.is_ok() {
                    if let Some(saver) = &mut self.saver {
                        saver.throttle.changed();
                    }
                    if let Some(events) = &self.events {
                        events.queues.refresh(&self.engine);
                    }
                }
                let _ = reply.send(taken);
            }
            AcdMsg::CancelCallBack { call, queue, reply } => {
                let outcome = match self.engine.call_status(&call) {
                    Some(status) if status.queue() != &queue => Withdrawn::Unknown,
                    Some(acd::CallStatus::Waiting { callback: true, .. }) => {
                        self.contacts.remove(&call);
                        self.feed(Input::Abandon(call));
                        Withdrawn::Done
                    }
                    Some(_) => Withdrawn::InProgress,
                    None => Withdrawn::Unknown,
                };
                let _ = reply.send(outcome);
            }
        }
    }

    /// Hands a callback the engine reserved an agent for to the node.
    fn place_callback(&mut self, call: &CallId, agent: &AgentId, queue: &acd::QueueId) {
        let (Some(contact), Some(callbacks)) = (self.contacts.get(call), &self.callbacks) else {
            warn!(call = %call, "callback without a number to call; dropped");
            return;
        };
        info!(call = %call, agent = %agent, "placing a callback");
        let _ = callbacks.send(crate::call::originate::CallbackRequest {
            call: call.to_string(),
            agent: agent.to_string(),
            queue: queue.to_string(),
            contact: contact.clone(),
        });
    }

    fn feed(&mut self, input: Input) {
        let membership = matches!(
            input,
            Input::JoinQueue { .. } | Input::LeaveQueue { .. } | Input::SetSkills { .. }
        );
        match self.engine.handle_input(now(), input) {
            Ok(()) if membership => {
                if let Some(saver) = &mut self.saver {
                    saver.throttle.changed();
                }
            }
            Ok(()) => {}
            Err(error) => warn!(%error, "ACD input refused"),
        }
    }

    fn agents(&self) -> Vec<AgentStatus> {
        self.engine
            .agent_ids()
            .filter_map(|agent| {
                let (presence, activity) = self.engine.agent_status(agent)?;
                Some(AgentStatus {
                    agent: agent.clone(),
                    presence,
                    activity,
                })
            })
            .collect()
    }

    fn drain(&mut self) {
        while let Some(output) = self.engine.poll_output() {
            if let Output::AgentStateChanged {
                agent,
                presence,
                activity,
            } = &output
            {
                if let Some(saver) = &mut self.saver {
                    saver.presence_seen(agent, presence);
                }
                if let Some(events) = &self.events {
                    events.publish(agent, presence, *activity);
                }
            }
            if let Output::PlaceCallback { call, agent, queue } = &output {
                self.place_callback(call, agent, queue);
            }
            route(output, &mut self.calls);
        }
    }

    fn save_if_due(&mut self) {
        if let Some(saver) = &mut self.saver
            && saver.throttle.poll(Instant::now())
        {
            saver.writer.submit(self.engine.persistent_state());
        }
    }

    fn flush(&mut self, reply: oneshot::Sender<()>) {
        let Some(saver) = &mut self.saver else {
            let _ = reply.send(());
            return;
        };
        let generation = saver.save(&self.engine);
        let writer = saver.writer.clone();
        tokio::spawn(async move {
            writer.written(generation).await;
            let _ = reply.send(());
        });
    }
}

impl Saver {
    fn presence_seen(&mut self, agent: &AgentId, presence: &Presence) {
        if self.presence.get(agent) != Some(presence) {
            self.presence.insert(agent.clone(), presence.clone());
            self.throttle.changed();
        }
    }

    /// Hands the engine's state to the writer now; returns its snapshot number.
    fn save(&mut self, engine: &Acd) -> u64 {
        self.throttle.saved(Instant::now());
        self.writer.submit(engine.persistent_state())
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn route(output: Output, calls: &mut HashMap<CallId, UnboundedSender<QueueEvent>>) {
    let (call, event) = match output {
        Output::Offer { call, agent, queue } => {
            debug!(call = %call, agent = %agent, queue = %queue, "offer");
            (
                call,
                QueueEvent::Offer {
                    agent: agent_name(&agent),
                },
            )
        }
        Output::CancelOffer {
            call,
            agent,
            reason,
        } => {
            debug!(call = %call, agent = %agent, ?reason, "offer cancelled");
            (
                call,
                QueueEvent::CancelOffer {
                    agent: agent_name(&agent),
                },
            )
        }
        Output::Announce {
            call,
            position,
            ewt,
        } => (call, QueueEvent::Announce { position, ewt }),
        Output::Queued { call, queue, .. } => (
            call,
            QueueEvent::Queued {
                queue: queue.to_string(),
            },
        ),
        Output::Overflow {
            call,
            reason,
            target,
            ..
        } => {
            debug!(call = %call, ?reason, ?target, "overflow");
            (call, QueueEvent::Overflow { target })
        }
        Output::AgentStateChanged {
            agent,
            presence,
            activity,
        } => {
            info!(agent = %agent, ?presence, ?activity, "agent state");
            return;
        }
        other => {
            debug!(?other, "ACD output");
            return;
        }
    };
    if let Some(tx) = calls.get(&call)
        && tx.send(event).is_err()
    {
        calls.remove(&call);
    }
}

fn agent_name(agent: &AgentId) -> String {
    agent.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use acd::{AcdConfig, AgentConfig, QueueConfig, ReasonCode, RonaPolicy, Strategy, Tier};

    const RING: Duration = Duration::from_secs(3);
    const WRAP_UP: Duration = Duration::from_secs(5);

    /// Queue `q` (linear): a1 at level 1 first, a2 at level 2; one miss makes an
    /// agent not ready.
    fn engine() -> Acd {
        let mut queue = QueueConfig::new("q", Strategy::Linear);
        queue.ring_timeout = RING;
        queue.wrap_up = WRAP_UP;
        let config = AcdConfig {
            queues: vec![queue, QueueConfig::new("other", Strategy::RingAll)],
            agents: vec![
                AgentConfig::new("a1").with_tier("q", 1, 0),
                AgentConfig::new("a2").with_tier("q", 2, 0),
            ],
            rona: RonaPolicy {
                max_misses: 1,
                ..RonaPolicy::default()
            },
            ..AcdConfig::default()
        };
        Acd::new(config).expect("the test configuration is valid")
    }

    fn enqueue(acd: &AcdHandle, call: &str) -> UnboundedReceiver<QueueEvent> {
        let (events, rx) = unbounded_channel();
        acd.send(AcdMsg::Enqueue {
            request: CallRequest::to_queue(call, "q"),
            events,
        });
        rx
    }

    /// The call's next event, past the `Queued` notices (which queue it waits in).
    async fn next(rx: &mut UnboundedReceiver<QueueEvent>) -> QueueEvent {
        loop {
            let event = rx
                .recv()
                .await
                .expect("the ACD task keeps the call's channel");
            if !matches!(event, QueueEvent::Queued { .. }) {
                return event;
            }
        }
    }

    fn offer(agent: &str) -> QueueEvent {
        QueueEvent::Offer {
            agent: agent.to_owned(),
        }
    }

    fn status(agent: &str, presence: Presence, activity: Activity) -> AgentStatus {
        AgentStatus {
            agent: agent.into(),
            presence,
            activity,
        }
    }

    async fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("a writable temporary directory");
        let store = Store::open_file(&dir.path().join("node.db"))
            .await
            .expect("a fresh database");
        (dir, store)
    }

    #[tokio::test(start_paused = true)]
    async fn queries_report_presence_activity_and_queue_figures() {
        let acd = AcdHandle::spawn(engine());
        acd.set_presence("a1", Presence::Ready);
        acd.set_presence("a2", Presence::NotReady(ReasonCode::new("lunch")));
        assert_eq!(
            acd.agents().await,
            vec![
                status("a1", Presence::Ready, Activity::Idle),
                status("a2", Presence::NotReady("lunch".into()), Activity::Idle),
            ]
        );
        let _events = enqueue(&acd, "c1");
        let queues = acd.queue_stats().await;
        assert_eq!(queues.len(), 2);
        assert_eq!(queues[0].queue.as_str(), "q");
        assert_eq!(queues[0].entered, 1);
        assert_eq!(queues[0].agents_logged_in, 2);
        assert_eq!(queues[0].agents_available, 0, "a1 rings, a2 is on a break");
        let agents = acd.agent_stats().await;
        assert_eq!(agents[0].activity, Activity::Reserved);
        assert_eq!(agents[1].presence, Presence::NotReady("lunch".into()));
        assert_eq!(
            acd.agents().await[0].state(),
            AgentState::Reserved,
            "the combined state of a ringing agent"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_missed_offer_moves_on_and_the_agent_goes_not_ready() {
        let acd = AcdHandle::spawn(engine());
        acd.set_presence("a1", Presence::Ready);
        acd.set_presence("a2", Presence::Ready);
        let start = Instant::now();
        let mut events = enqueue(&acd, "c1");
        assert_eq!(
            next(&mut events).await,
            offer("a1"),
            "linear: level 1 first"
        );
        let cancel = next(&mut events).await;
        assert_eq!(
            cancel,
            QueueEvent::CancelOffer {
                agent: "a1".to_owned()
            }
        );
        assert!(start.elapsed() >= RING, "rang {:?}", start.elapsed());
        assert_eq!(next(&mut events).await, offer("a2"));
        assert_eq!(
            acd.agents().await[0],
            status(
                "a1",
                Presence::NotReady(ReasonCode::no_answer()),
                Activity::Idle
            )
        );
        assert_eq!(acd.agent_stats().await[0].offers_missed, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_call_the_agent_gets_no_offer_until_wrap_up_has_passed() {
        let acd = AcdHandle::spawn(engine());
        acd.set_presence("a2", Presence::Ready);
        let mut first = enqueue(&acd, "c1");
        assert_eq!(next(&mut first).await, offer("a2"));
        acd.input(Input::Answered {
            call: "c1".into(),
            agent: "a2".into(),
        });
        acd.input(Input::CallEnded("c1".into()));
        let ended = Instant::now();
        let mut second = enqueue(&acd, "c2");
        assert_eq!(
            acd.agents().await[1],
            status("a2", Presence::Ready, Activity::WrapUp)
        );
        assert_eq!(next(&mut second).await, offer("a2"));
        assert!(
            ended.elapsed() >= WRAP_UP,
            "offered {:?} after the call",
            ended.elapsed()
        );
    }

    #[tokio::test]
    async fn agent_state_is_restored_when_the_task_starts_again() {
        let (_dir, store) = temp_store().await;
        let before = AcdHandle::start(engine(), store.clone(), None, None).await;
        before.set_presence("a1", Presence::NotReady("training".into()));
        before.set_presence("a2", Presence::Ready);
        before.input(Input::JoinQueue {
            agent: "a2".into(),
            tier: Tier {
                queue: "other".into(),
                level: 1,
                position: 0,
            },
        });
        before.flush().await;
        drop(before);

        let after = AcdHandle::start(engine(), store.clone(), None, None).await;
        assert_eq!(
            after.agents().await,
            vec![
                status("a1", Presence::NotReady("training".into()), Activity::Idle),
                status("a2", Presence::Ready, Activity::Idle),
            ]
        );
        let queues = after.queue_stats().await;
        assert_eq!(queues[1].agents_available, 1, "a2 is back in `other`");
        // A caller reaches a2 with no new login.
        let mut events = enqueue(&after, "c1");
        assert_eq!(next(&mut events).await, offer("a2"));
    }

    #[tokio::test]
    async fn a_rona_not_ready_is_a_change_to_store() {
        let (_dir, store) = temp_store().await;
        let writer = AcdStateWriter::spawn(store, acd::PersistentState::default());
        let mut task = Task::new(engine(), Some(writer));
        let dirty = |task: &Task| task.saver.as_ref().is_some_and(|s| s.throttle.dirty);
        task.feed(Input::ready("a1"));
        task.drain();
        assert!(dirty(&task), "a login changes presence");
        if let Some(saver) = task.saver.as_mut() {
            saver.save(&task.engine);
        }
        assert!(!dirty(&task));

        let (events, _rx) = unbounded_channel();
        task.handle(AcdMsg::Enqueue {
            request: CallRequest::to_queue("c1", "q"),
            events,
        });
        task.drain();
        assert!(!dirty(&task), "ringing changes activity only");
        task.feed(Input::Refused {
            call: "c1".into(),
            agent: "a1".into(),
            reason: acd::RefuseReason::NoAnswer,
        });
        task.drain();
        assert!(dirty(&task), "RONA made a1 not ready");

        if let Some(saver) = task.saver.as_mut() {
            saver.save(&task.engine);
        }
        task.feed(Input::LeaveQueue {
            agent: "a1".into(),
            queue: "q".into(),
        });
        task.drain();
        assert!(dirty(&task), "a membership change");
    }

    #[test]
    fn writes_are_throttled_to_one_per_interval() {
        let t0 = Instant::now(); // only anchor; everything else is arithmetic
        let mut throttle = Throttle::default();
        assert!(!throttle.poll(t0), "nothing changed");
        throttle.changed();
        assert!(throttle.poll(t0), "the first change is written at once");
        throttle.changed();
        let soon = t0 + SAVE_INTERVAL / 2;
        assert!(!throttle.poll(soon), "the next waits");
        throttle.changed();
        assert_eq!(throttle.deadline(), Some(t0 + SAVE_INTERVAL));
        assert!(throttle.poll(t0 + SAVE_INTERVAL), "both written together");
        assert_eq!(throttle.deadline(), None);
        let quiet = t0 + SAVE_INTERVAL * 5;
        throttle.changed();
        assert!(throttle.poll(quiet), "after a quiet spell, at once again");
    }
}
