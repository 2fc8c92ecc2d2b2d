//! The engine's inputs and outputs, and the agent state types they carry.

use std::time::Duration;

use crate::config::{OverflowTarget, Proficiency, SkillRequirement, Tier};
use crate::id::{AgentId, CallId, QueueId, ReasonCode};
use crate::rules::Attributes;

/// Whether an agent is logged in, and ready for calls. Kept apart from [`Activity`]:
/// an agent may log out or go not ready while on a call; the call goes on, and the
/// agent gets no new offers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Presence {
    /// Not logged in.
    LoggedOut,
    /// Logged in and taking calls.
    Ready,
    /// Logged in, taking no calls, for this reason.
    NotReady(ReasonCode),
}

/// What an agent is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activity {
    /// Nothing: offered calls when also [`Presence::Ready`].
    Idle,
    /// A call is ringing the agent's phone.
    Reserved,
    /// Talking to a caller.
    OnCall,
    /// After-call work, ending after the queue's wrap-up time or on
    /// [`Input::EndWrapUp`].
    WrapUp,
    /// A short pause after a missed or refused offer.
    Cooldown,
}

/// The combined state shown on dashboards: the activity when the agent is busy,
/// otherwise the presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgentState {
    /// Logged out and idle.
    LoggedOut,
    /// Ready and idle: can be offered a call.
    Available,
    /// Ringing.
    Reserved,
    /// On a call.
    OnCall,
    /// In after-call work.
    WrapUp,
    /// Pausing after a missed or refused offer.
    Cooldown,
    /// Logged in, not ready, idle.
    NotReady,
}

impl AgentState {
    /// All states, in declaration order (the order of [`crate::StateDurations`]).
    pub const ALL: [AgentState; 7] = [
        AgentState::LoggedOut,
        AgentState::Available,
        AgentState::Reserved,
        AgentState::OnCall,
        AgentState::WrapUp,
        AgentState::Cooldown,
        AgentState::NotReady,
    ];

    /// The combined state of a presence and an activity.
    pub fn of(presence: &Presence, activity: Activity) -> Self {
        match (activity, presence) {
            (Activity::Reserved, _) => AgentState::Reserved,
            (Activity::OnCall, _) => AgentState::OnCall,
            (Activity::WrapUp, _) => AgentState::WrapUp,
            (Activity::Cooldown, _) => AgentState::Cooldown,
            (Activity::Idle, Presence::LoggedOut) => AgentState::LoggedOut,
            (Activity::Idle, Presence::Ready) => AgentState::Available,
            (Activity::Idle, Presence::NotReady(_)) => AgentState::NotReady,
        }
    }
}

/// A caller asking for an agent.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRequest {
    /// The call (caller leg's Call-ID).
    pub call: CallId,
    /// The queue; `None` lets the routing rules choose queue, priority and skills.
    pub queue: Option<QueueId>,
    /// Priority, higher first (VIP); a rule's `priority(…)` replaces it. Default 0.
    pub priority: i32,
    /// Skills the agent must have.
    pub required: Vec<SkillRequirement>,
    /// Skills that rank agents under skills-based best match.
    pub preferred: Vec<SkillRequirement>,
    /// Attributes the routing rules read.
    pub attributes: Attributes,
    /// A callback asked for ahead (from a web page, an integration): no caller is
    /// on the line, so it is never announced, never times out and does not count
    /// toward the queue's `max_len`; an agent it reaches gets
    /// [`Output::PlaceCallback`].
    pub callback: bool,
}

impl CallRequest {
    /// A request for `queue`, priority 0, no skills.
    pub fn to_queue(call: impl Into<CallId>, queue: impl Into<QueueId>) -> Self {
        Self {
            call: call.into(),
            queue: Some(queue.into()),
            priority: 0,
            required: Vec::new(),
            preferred: Vec::new(),
            attributes: Attributes::new(),
            callback: false,
        }
    }

    /// A request the routing rules route by `attributes`.
    pub fn by_rules(call: impl Into<CallId>, attributes: Attributes) -> Self {
        Self {
            queue: None,
            attributes,
            ..Self::to_queue(call, "")
        }
    }

    /// Makes it a callback asked for ahead (builder style; see
    /// [`CallRequest::callback`]).
    pub fn as_callback(mut self) -> Self {
        self.callback = true;
        self
    }

    /// Sets the priority (builder style).
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Adds a required skill (builder style).
    pub fn requiring(mut self, skill: &str, level: u8) -> Self {
        self.required.push(SkillRequirement::new(skill, level));
        self
    }

    /// Adds a preferred skill (builder style).
    pub fn preferring(mut self, skill: &str, level: u8) -> Self {
        self.preferred.push(SkillRequirement::new(skill, level));
        self
    }
}

/// Why an offered agent did not take the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefuseReason {
    /// The agent rejected the call. Not counted as a miss.
    Declined,
    /// The phone rang out (the node's own timer, or a 408/480). Counts as a miss.
    NoAnswer,
    /// The phone was busy (486). Not counted as a miss.
    Busy,
    /// The phone could not be reached (not registered, 404, transport error). Counts
    /// as a miss.
    Unreachable,
}

/// Why the engine withdrew an offer: the node stops ringing that agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CancelReason {
    /// Another agent answered first (ring-all).
    AnsweredElsewhere,
    /// The queue's ring timeout passed (counts as a miss).
    RingTimeout,
    /// The caller hung up.
    CallerAbandoned,
    /// The agent went not ready or logged out while ringing.
    AgentUnavailable,
}

/// Why a call left its queue for an overflow target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OverflowReason {
    /// The queue was at its maximum length.
    QueueFull,
    /// The caller waited the queue's maximum wait.
    TimedOut,
    /// No agent of the queue was logged in.
    NoAgents,
    /// No routing rule matched (the target is then always disconnect).
    NoRoute,
    /// The call has overflowed from queue to queue too often (the target is then
    /// always disconnect).
    TooManyHops,
}

/// An event for the engine.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Input {
    /// A caller asks for an agent.
    Enqueue(CallRequest),
    /// The caller hung up, or the node gave up on a callback, before being connected.
    /// For a connected call this is the same as [`Input::CallEnded`].
    Abandon(CallId),
    /// An agent logs in or out, or changes readiness.
    SetPresence {
        /// The agent.
        agent: AgentId,
        /// The new presence.
        presence: Presence,
    },
    /// The offered agent answered: the node bridges the call.
    Answered {
        /// The call.
        call: CallId,
        /// The agent who answered.
        agent: AgentId,
    },
    /// The offered agent did not take the call.
    Refused {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// Why.
        reason: RefuseReason,
    },
    /// A connected call ended; the agent starts wrap-up.
    CallEnded(CallId),
    /// The agent finished after-call work early.
    EndWrapUp(AgentId),
    /// The agent joins a queue (or changes its tier there).
    JoinQueue {
        /// The agent.
        agent: AgentId,
        /// The membership.
        tier: Tier,
    },
    /// The agent leaves a queue.
    LeaveQueue {
        /// The agent.
        agent: AgentId,
        /// The queue.
        queue: QueueId,
    },
    /// The agent's skills are replaced.
    SetSkills {
        /// The agent.
        agent: AgentId,
        /// The new skills.
        skills: Vec<Proficiency>,
    },
    /// A call the engine did not route started (`active`) or ended on the phone of
    /// `agent`: a consultation, a call to or from a colleague, an outbound call.
    /// While one is up the agent is offered nothing and shows as on a call; when
    /// the last ends, waiting callers may be offered at once. Ignored for an
    /// extension that is no agent.
    DirectCall {
        /// The agent (any extension; only agents count).
        agent: AgentId,
        /// The call started (`true`) or ended.
        active: bool,
    },
    /// Nothing but the passage of time (the deadline from `poll_timeout` was reached).
    Timeout,
}

impl Input {
    /// `SetPresence` to [`Presence::Ready`].
    pub fn ready(agent: impl Into<AgentId>) -> Self {
        Input::SetPresence {
            agent: agent.into(),
            presence: Presence::Ready,
        }
    }

    /// `SetPresence` to [`Presence::NotReady`] with `reason`.
    pub fn not_ready(agent: impl Into<AgentId>, reason: &str) -> Self {
        Input::SetPresence {
            agent: agent.into(),
            presence: Presence::NotReady(ReasonCode::new(reason)),
        }
    }

    /// `SetPresence` to [`Presence::LoggedOut`].
    pub fn logout(agent: impl Into<AgentId>) -> Self {
        Input::SetPresence {
            agent: agent.into(),
            presence: Presence::LoggedOut,
        }
    }
}

/// A decision for the node to carry out.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// The call entered `queue` (after routing rules, or an overflow to a queue).
    Queued {
        /// The call.
        call: CallId,
        /// The queue.
        queue: QueueId,
        /// Its priority there.
        priority: i32,
    },
    /// Ring `agent` with `call`; report [`Input::Answered`] or [`Input::Refused`].
    Offer {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The call's queue.
        queue: QueueId,
    },
    /// `agent` is reserved for a callback call: ring the agent and dial the caller
    /// back; report the outcome as for an offer.
    PlaceCallback {
        /// The call (the callback's original Call-ID).
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The call's queue.
        queue: QueueId,
    },
    /// Stop ringing `agent` for `call`.
    CancelOffer {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// Why.
        reason: CancelReason,
    },
    /// Tell the caller their position (1 = next) and estimated wait.
    Announce {
        /// The call.
        call: CallId,
        /// Position among callers ahead for the same agents, 1-based.
        position: u32,
        /// Estimated wait; `None` when no agent who could take the call is working.
        ewt: Option<Duration>,
    },
    /// The call overflowed. For [`OverflowTarget::Queue`] it is now in that queue (a
    /// `Queued` follows); for [`OverflowTarget::Callback`] it keeps its place; for the
    /// others it has left the engine.
    Overflow {
        /// The call.
        call: CallId,
        /// The queue it overflowed from (`None` for [`OverflowReason::NoRoute`]).
        from: Option<QueueId>,
        /// Why.
        reason: OverflowReason,
        /// Where to.
        target: OverflowTarget,
    },
    /// An escalation step of the call's queue was applied to the call.
    Escalate {
        /// The call.
        call: CallId,
        /// The queue whose step it was.
        queue: QueueId,
        /// Index of the step in the queue's escalation list (sorted by `after`).
        step: u32,
    },
    /// The agent's presence or activity changed.
    AgentStateChanged {
        /// The agent.
        agent: AgentId,
        /// Presence now.
        presence: Presence,
        /// Activity now.
        activity: Activity,
    },
}
