//! What the API asks the running node: its calls, agents and queues, and
//! the few controls it may exercise on them.
//!
//! The node implements [`LiveNode`] over its own tasks (the endpoint for
//! calls, the ACD task for agents and queues) and hands it to the API in
//! [`super::ApiState`]. The API keeps none of this state; it asks on every
//! request, and filters what it gets by the caller's role. Methods return
//! boxed futures so that the trait can be used as `Arc<dyn LiveNode>`.

use futures_util::future::BoxFuture;

/// Live calls, agents and queues of the node, and controls on them.
///
/// Implementations answer from the tasks that own the state; each method
/// should complete promptly (it is awaited inside an HTTP request).
pub trait LiveNode: Send + Sync {
    /// Every call in progress.
    fn calls(&self) -> BoxFuture<'_, Vec<CallSummary>>;

    /// Ends call `call_id` (both legs get BYE or CANCEL). Returns whether
    /// such a call was in progress.
    fn hang_up<'a>(&'a self, call_id: &'a str) -> BoxFuture<'a, bool>;

    /// Every configured agent and their state now.
    fn agents(&self) -> BoxFuture<'_, Vec<AgentSummary>>;

    /// Sets `agent`'s presence (through the ACD). Returns whether the agent
    /// is known.
    fn set_agent_state<'a>(
        &'a self,
        agent: &'a str,
        presence: AgentPresence,
    ) -> BoxFuture<'a, bool>;

    /// Every queue and its statistics now.
    fn queues(&self) -> BoxFuture<'_, Vec<QueueSummary>>;

    /// Pauses or resumes the recording of call `call_id`; `false` when there is
    /// no such call or it is not being recorded.
    fn record<'a>(&'a self, call_id: &'a str, action: RecordingAction) -> BoxFuture<'a, bool>;
}

/// What to do with a call's recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingAction {
    /// Stop writing audio (silence is kept for the time, so the file stays aligned).
    Pause,
    /// Write audio again.
    Resume,
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallPhase {
    /// Ringing an extension directly, not yet answered.
    Ringing,
    /// In an IVR flow.
    Ivr,
    /// Waiting in a queue.
    Queued,
    /// Offered to an agent whose phone rings.
    Offered,
    /// Connected.
    Talking,
    /// Connected, on hold.
    Held,
}

/// One call in progress.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallSummary {
    /// The call's id (the caller leg's SIP Call-ID).
    pub call_id: String,
    /// Calling number.
    pub caller: String,
    /// Dialled number.
    pub callee: String,
    /// Where it is.
    pub phase: CallPhase,
    /// When it started, unix ms.
    pub started_at: i64,
    /// When it was answered, unix ms.
    pub answered_at: Option<i64>,
    /// The queue it is in or came through.
    pub queue: Option<String>,
    /// The agent it is offered to or connected with.
    pub agent: Option<String>,
    /// The customer the IVR identified (by caller number or account), by id.
    pub customer: Option<i64>,
}

/// An agent's presence, as set by the agent or a supervisor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum AgentPresence {
    /// Taking calls.
    Ready,
    /// Logged in, taking no calls.
    NotReady {
        /// Why (a reason code such as `lunch`).
        #[serde(default)]
        reason: Option<String>,
    },
    /// Logged out.
    LoggedOut,
}

impl From<&AgentPresence> for acd::Presence {
    fn from(p: &AgentPresence) -> Self {
        match p {
            AgentPresence::Ready => Self::Ready,
            AgentPresence::NotReady { reason } => Self::NotReady(acd::ReasonCode::new(
                reason.as_deref().unwrap_or("not-ready"),
            )),
            AgentPresence::LoggedOut => Self::LoggedOut,
        }
    }
}

impl From<&acd::Presence> for AgentPresence {
    fn from(p: &acd::Presence) -> Self {
        match p {
            acd::Presence::Ready => Self::Ready,
            acd::Presence::NotReady(reason) => Self::NotReady {
                reason: Some(reason.as_str().to_owned()),
            },
            acd::Presence::LoggedOut => Self::LoggedOut,
        }
    }
}

/// What an agent is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AgentActivity {
    /// Nothing.
    Idle,
    /// A call rings their phone.
    Reserved,
    /// Talking.
    OnCall,
    /// After-call work.
    WrapUp,
    /// A short pause after a missed offer.
    Cooldown,
}

impl From<acd::Activity> for AgentActivity {
    fn from(a: acd::Activity) -> Self {
        match a {
            acd::Activity::Idle => Self::Idle,
            acd::Activity::Reserved => Self::Reserved,
            acd::Activity::OnCall => Self::OnCall,
            acd::Activity::WrapUp => Self::WrapUp,
            acd::Activity::Cooldown => Self::Cooldown,
        }
    }
}

/// One agent now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentSummary {
    /// Agent id (their extension).
    pub agent: String,
    /// Presence.
    pub presence: AgentPresence,
    /// Activity.
    pub activity: AgentActivity,
    /// The queues they serve.
    pub queues: Vec<String>,
    /// Calls handled since the node started.
    pub calls_handled: u64,
}

/// One queue now.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueueSummary {
    /// Queue name.
    pub queue: String,
    /// Callers waiting.
    pub waiting: u32,
    /// Longest current wait, milliseconds.
    pub longest_wait_ms: u64,
    /// Members logged in.
    pub agents_logged_in: u32,
    /// Members available.
    pub agents_available: u32,
    /// Calls that entered the queue.
    pub entered: u64,
    /// Calls answered.
    pub answered: u64,
    /// Calls abandoned.
    pub abandoned: u64,
    /// Service level in 0..=1, once a call counted.
    pub service_level: Option<f64>,
}

impl From<&acd::QueueStats> for QueueSummary {
    fn from(s: &acd::QueueStats) -> Self {
        Self {
            queue: s.queue.to_string(),
            waiting: s.waiting,
            longest_wait_ms: u64::try_from(s.longest_wait.as_millis()).unwrap_or(u64::MAX),
            agents_logged_in: s.agents_logged_in,
            agents_available: s.agents_available,
            entered: s.entered,
            answered: s.answered,
            abandoned: s.abandoned,
            service_level: s.service_level,
        }
    }
}
