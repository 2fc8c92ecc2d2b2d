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

    /// Every conference room with someone in it, and who.
    fn conferences(&self) -> BoxFuture<'_, Vec<ConferenceSummary>> {
        Box::pin(async { Vec::new() })
    }

    /// Mutes or unmutes call `call_id` in conference room `room`; `false` when it
    /// is not there.
    fn conference_mute<'a>(
        &'a self,
        room: &'a str,
        call_id: &'a str,
        muted: bool,
    ) -> BoxFuture<'a, bool> {
        let _ = (room, call_id, muted);
        Box::pin(async { false })
    }

    /// Pauses (silence is recorded) or resumes the recording of conference room
    /// `room`; `false` when there is no such room or it is not being recorded.
    fn conference_recording<'a>(&'a self, room: &'a str, paused: bool) -> BoxFuture<'a, bool> {
        let _ = (room, paused);
        Box::pin(async { false })
    }

    /// Pauses or resumes the recording of call `call_id`; `false` when there is
    /// no such call or it is not being recorded.
    fn record<'a>(&'a self, call_id: &'a str, action: RecordingAction) -> BoxFuture<'a, bool>;

    /// Starts, changes or stops a supervisor's listen / whisper / barge on call
    /// `call_id`. Starting rings the supervisor's phone; the answer comes once the
    /// INVITE is out, not when the supervisor picks up.
    fn monitor<'a>(
        &'a self,
        call_id: &'a str,
        request: MonitorRequest,
    ) -> BoxFuture<'a, Result<(), MonitorRefusal>> {
        let _ = (call_id, request);
        Box::pin(async { Err(MonitorRefusal::Unsupported) })
    }

    /// Places a call for agent `agent` to `to` (an extension, or a number a trunk
    /// routes): the agent's phones ring first, then `to`. Answers with the call's
    /// Call-ID once the agent's phones are ringing.
    fn dial<'a>(
        &'a self,
        agent: &'a str,
        to: &'a str,
        auto_answer: bool,
    ) -> BoxFuture<'a, Result<String, DialRefusal>> {
        let _ = (agent, to, auto_answer);
        Box::pin(async { Err(DialRefusal::Unavailable) })
    }

    /// Changes `agent`'s queues or skills, as the ACD keeps them (stored with the
    /// agent state: they outlive a restart).
    fn set_membership<'a>(
        &'a self,
        agent: &'a str,
        change: MembershipChange,
    ) -> BoxFuture<'a, Result<(), MembershipRefusal>> {
        let _ = (agent, change);
        Box::pin(async { Err(MembershipRefusal::Unavailable) })
    }

    /// Ends `agent`'s wrap-up now (their desktop's wrap-up is done): they may be
    /// offered the next call at once. `false` when there is no such agent.
    fn end_wrap_up<'a>(&'a self, agent: &'a str) -> BoxFuture<'a, bool> {
        let _ = agent;
        Box::pin(async { false })
    }

    /// Asks for a callback to `number` in `queue` (a web page's "call me back"):
    /// it waits like a caller who kept their place, and the first free agent is
    /// rung, then `number`. Answers with the callback's id.
    fn request_callback<'a>(
        &'a self,
        queue: &'a str,
        number: &'a str,
        priority: i32,
    ) -> BoxFuture<'a, Result<String, CallbackRefusal>> {
        let _ = (queue, number, priority);
        Box::pin(async { Err(CallbackRefusal::Unavailable) })
    }

    /// Withdraws callback `id` of `queue` while it still waits.
    fn cancel_callback<'a>(
        &'a self,
        queue: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), CallbackRefusal>> {
        let _ = (queue, id);
        Box::pin(async { Err(CallbackRefusal::Unavailable) })
    }

    /// Holds, resumes, transfers (blind or attended) call `call_id`, or starts or
    /// stops its recording.
    fn control<'a>(
        &'a self,
        call_id: &'a str,
        control: CallControl,
    ) -> BoxFuture<'a, Result<(), ControlRefusal>> {
        let _ = (call_id, control);
        Box::pin(async { Err(ControlRefusal::Unsupported) })
    }
}

/// A desktop's request on a connected call.
#[derive(Debug, Clone, PartialEq)]
pub enum CallControl {
    /// The caller hears the hold prompt, the agent silence.
    Hold,
    /// Back to talking.
    Resume,
    /// Hang the agent up and ring extension `to` for the caller.
    Transfer {
        /// The extension to ring.
        to: String,
    },
    /// Attended transfer, first step: the caller is held (hearing silence) and
    /// extension `to` rings for the agent, who talks with it alone.
    Consult {
        /// The extension to consult.
        to: String,
    },
    /// Attended transfer, last step: the caller and the consulted party talk, the
    /// agent's phone gets a BYE.
    CompleteConsult,
    /// Drops the consultation (CANCEL or BYE to the consulted party); the caller
    /// and the agent talk again.
    CancelConsult,
    /// Starts recording a connected call that is not being recorded.
    StartRecording,
    /// Stops the call's recording: the file is finished and indexed now.
    StopRecording,
    /// Hangs the agent up and puts the caller in `queue`, ahead of everyone
    /// waiting there (a supervisor's call, or the queue's sentiment rule).
    Escalate {
        /// The queue to move the caller to.
        queue: String,
        /// The caller's score that set the rule off; `None` when a person asked.
        sentiment: Option<f64>,
    },
}

/// A change to an agent's queues or skills.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MembershipChange {
    /// Joins `queue` (or moves within it) at tier `level` (1 first), `position`
    /// within the tier (linear strategies).
    Join {
        /// The queue.
        queue: String,
        /// The tier, 1 first.
        level: u8,
        /// The place within the tier.
        position: u32,
    },
    /// Leaves `queue`.
    Leave {
        /// The queue.
        queue: String,
    },
    /// Replaces the agent's skills: name and level 1..=5.
    Skills(Vec<(String, u8)>),
}

/// Why an agent's queues or skills could not be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MembershipRefusal {
    /// No such agent.
    #[error("no agent {0}")]
    UnknownAgent(String),
    /// No such queue.
    #[error("no queue {0}")]
    UnknownQueue(String),
    /// The ACD refused the change (a level out of range).
    #[error("{0}")]
    Invalid(String),
    /// The node has no ACD.
    #[error("the node has no ACD")]
    Unavailable,
}

/// Why a callback could not be asked for or withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackRefusal {
    /// No such queue.
    #[error("no queue {0}")]
    UnknownQueue(String),
    /// No such callback waits (placed and over, or never asked for).
    #[error("no callback {0} is waiting")]
    Unknown(String),
    /// An agent is being rung for it, or talks on it.
    #[error("callback {0} is being placed")]
    InProgress(String),
    /// The node has no ACD.
    #[error("the node takes no callbacks")]
    Unavailable,
}

/// Why a call could not be placed for an agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialRefusal {
    /// The extension has no registered phone (or one the node would have to reach
    /// in SRTP).
    #[error("extension {0} has no registered phone")]
    NotRegistered(String),
    /// Neither an extension with a phone nor a number a trunk routes.
    #[error("no extension or trunk route for {0}")]
    NoRoute(String),
    /// The node cannot place calls now (no media port free, shutting down).
    #[error("the node cannot place a call now")]
    Unavailable,
}

/// Why a call-control request could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlRefusal {
    /// No such call in progress.
    #[error("no such call")]
    NoCall,
    /// The call is not connected to an agent.
    #[error("the call is not connected to an agent")]
    NotConnected,
    /// Hold on a held call.
    #[error("the call is on hold already")]
    AlreadyHeld,
    /// Resume on a call that is not held.
    #[error("the call is not on hold")]
    NotHeld,
    /// The transfer target has no registered phone.
    #[error("extension {0} has no registered phone")]
    NotRegistered(String),
    /// A consultation is going on: finish or drop it first.
    #[error("a consultation is in progress")]
    Consulting,
    /// Complete or drop asked of a call with no consultation.
    #[error("no consultation is in progress")]
    NoConsultation,
    /// Complete asked before the consulted party answered.
    #[error("the consulted party has not answered")]
    ConsultNotAnswered,
    /// A supervisor or conference party is on the call: the consultation needs
    /// the mixing leg they use.
    #[error("a supervisor or conference party is on the call")]
    ThirdParty,
    /// No media port free, or the call's media cannot be held this way.
    #[error("no media for the consultation")]
    NoMedia,
    /// Start asked of a call that is being recorded, or was (one recording per call).
    #[error("the call is being recorded, or was already")]
    AlreadyRecorded,
    /// Stop asked of a call that is not being recorded.
    #[error("the call is not being recorded")]
    NotRecorded,
    /// The call's codec is not G.711, or the file could not be created.
    #[error("the call cannot be recorded: {0}")]
    NotRecordable(String),
    /// Escalation to a queue the node does not have.
    #[error("no queue {0}")]
    UnknownQueue(String),
    /// Escalation to the queue the call came through.
    #[error("the call came through queue {0} already")]
    SameQueue(String),
    /// The node cannot do this.
    #[error("call control is not available")]
    Unsupported,
}

/// How a supervisor joins a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorMode {
    /// Hear caller and agent; nobody hears the supervisor.
    Listen,
    /// Also talk to the agent; the caller does not hear it (coaching).
    Whisper,
    /// Talk to both: a three-way call.
    Barge,
}

/// What a supervisor asks of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorRequest {
    /// Ring `supervisor`'s phone and mix the call for it in `mode`; on a call the same
    /// supervisor already monitors, change the mode.
    Start {
        /// The supervisor's extension.
        supervisor: String,
        /// How to join.
        mode: MonitorMode,
    },
    /// Hang up the supervisor's leg.
    Stop,
}

/// Why a monitor request could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorRefusal {
    /// No such call in progress.
    #[error("no such call")]
    NoCall,
    /// The call is not connected to an agent (ringing, in the IVR, queued).
    #[error("the call is not connected to an agent")]
    NotConnected,
    /// The supervisor's extension has no registered phone.
    #[error("extension {0} has no registered phone")]
    NotRegistered(String),
    /// Another supervisor is on the call.
    #[error("supervisor {0} is already on the call")]
    Busy(String),
    /// An agent is consulting before an attended transfer: its third leg is in use.
    #[error("a consultation is in progress on the call")]
    Consulting,
    /// No media port for the supervisor's leg.
    #[error("no media port free for the supervisor")]
    NoMedia,
    /// Stop asked of a call nobody monitors.
    #[error("nobody monitors the call")]
    NotMonitored,
    /// The node cannot monitor calls.
    #[error("monitoring is not available")]
    Unsupported,
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
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// What speech analytics said about the call so far (with `[bridge]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<CallAnalysis>,
    /// The conference room the caller is in, if an IVR flow sent them to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conference: Option<String>,
}

/// Speech analytics of a live call, per party: the latest (redacted)
/// transcript and sentiment, and the running sentiment trend.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CallAnalysis {
    /// The caller's side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<PartyAnalysis>,
    /// The agent's side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<PartyAnalysis>,
}

/// One party's latest analysis.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartyAnalysis {
    /// The latest utterance, PII redacted in the cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// The latest utterance's sentiment, -1..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<f64>,
    /// The running (exponentially weighted) sentiment, -1..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<f64>,
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

/// A conference room now: its name and the callers in it, in the order they joined.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConferenceSummary {
    /// The room's name (from the flow's `conference` step).
    pub room: String,
    /// Who is in it.
    pub participants: Vec<ConferenceParticipant>,
}

/// A caller in a conference room.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConferenceParticipant {
    /// The call's id, as in [`CallSummary::call_id`].
    pub call_id: String,
    /// Calling number.
    pub caller: String,
    /// When the caller joined the room, unix ms.
    pub joined_at: i64,
    /// Whether the room does not hear them (`*` on their phone, or the API).
    pub muted: bool,
    /// Whether they are talking (louder than −40 dBFS for 40 ms, until 400 ms
    /// of quiet).
    pub talking: bool,
}

/// One queue now.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueueSummary {
    /// Queue name.
    pub queue: String,
    /// Callers waiting.
    pub waiting: u32,
    /// Of those, callbacks (callers who kept their place, callbacks asked ahead).
    pub callbacks_waiting: u32,
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
            callbacks_waiting: s.callbacks_waiting,
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
