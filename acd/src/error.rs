//! Errors: [`ConfigError`] when building the engine, [`AcdError`] when an input names
//! something the engine does not know or contradicts its state.
//!
//! An `AcdError` leaves the engine unchanged. Most are races the node must expect and
//! handle (an answer arriving after the engine cancelled the offer on ring timeout:
//! hang up the agent's leg), none is fatal.

use crate::id::{AgentId, CallId, QueueId};
use crate::rules::RuleError;

/// A configuration the engine cannot be built from.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Two queues with one name.
    #[error("queue `{0}` is defined twice")]
    DuplicateQueue(QueueId),
    /// Two agents with one name.
    #[error("agent `{0}` is defined twice")]
    DuplicateAgent(AgentId),
    /// A queue named somewhere (tier, overflow, escalation) that is not defined.
    #[error("{context} names unknown queue `{queue}`")]
    UnknownQueue {
        /// Where the name appears (`"agent 1001 tier"`, `"queue sales overflow"`).
        context: String,
        /// The unknown name.
        queue: QueueId,
    },
    /// A skill level outside 1–5, or a tier level of 0.
    #[error("{context}: level {level} is out of range")]
    BadLevel {
        /// Where.
        context: String,
        /// The level given.
        level: u8,
    },
    /// A duration that must be non-zero is zero (ring timeout, announcement period).
    #[error("{0} must be non-zero")]
    ZeroDuration(String),
    /// A duration longer than a year (deadlines must stay representable).
    #[error("{0} is longer than a year")]
    DurationTooLong(String),
    /// An agent weight of zero.
    #[error("agent `{0}` has weight 0 (must be at least 1)")]
    ZeroWeight(AgentId),
    /// A routing rule names an unknown queue or a queue with another strategy.
    #[error("routing rules: {0}")]
    Rule(#[from] RuleError),
}

/// An input the engine rejects; the engine's state is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcdError {
    /// No agent by this name.
    #[error("unknown agent `{0}`")]
    UnknownAgent(AgentId),
    /// No live call by this name (already ended, overflowed out, or never enqueued).
    #[error("unknown call `{0}`")]
    UnknownCall(CallId),
    /// No queue by this name.
    #[error("unknown queue `{0}`")]
    UnknownQueue(QueueId),
    /// A call enqueued while it is still in the engine.
    #[error("call `{0}` is already in the ACD")]
    DuplicateCall(CallId),
    /// An answer or refusal for an offer that is not (or no longer) outstanding.
    #[error("call `{call}` is not being offered to agent `{agent}`")]
    NoSuchOffer {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
    },
    /// A skill or tier level out of range in a runtime change.
    #[error("level {0} is out of range")]
    BadLevel(u8),
}
