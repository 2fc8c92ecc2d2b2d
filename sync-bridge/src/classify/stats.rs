//! Queue and agent statistics for one reporting period: counts and times
//! only, keyed by a [`Label`].

use serde::Serialize;

use super::{Classifier, Label, Outbound, sealed};
use crate::wire::Kind;

/// A queue's figures for one period, as the node's ACD counts them.
#[derive(Clone, Copy, Debug)]
pub struct QueueFacts<'a> {
    /// The queue's configured name.
    pub queue: &'a str,
    /// Start of the period (unix ms).
    pub period_start_ms: i64,
    /// Length of the period.
    pub period_ms: u32,
    /// Calls that entered the queue.
    pub offered: u32,
    /// Calls an agent answered.
    pub answered: u32,
    /// Calls the caller gave up on.
    pub abandoned: u32,
    /// Calls answered within the service-level threshold.
    pub within_service_level: u32,
    /// Callers waiting at the end of the period.
    pub waiting: u32,
    /// Agents ready at the end of the period.
    pub agents_ready: u32,
    /// Longest current wait among callers waiting or ringing at the end of the
    /// period.
    pub longest_wait_ms: u64,
    /// Sum of the waits of answered calls.
    pub total_wait_ms: u64,
}

/// A queue's figures on the bridge. Made only by [`Classifier::queue_stats`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(any(test, feature = "cloud"), derive(serde::Deserialize))]
pub struct QueueStats {
    queue: Label,
    period_start_ms: i64,
    period_ms: u32,
    offered: u32,
    answered: u32,
    abandoned: u32,
    within_service_level: u32,
    waiting: u32,
    agents_ready: u32,
    longest_wait_ms: u64,
    total_wait_ms: u64,
}

/// An agent's figures for one period.
#[derive(Clone, Copy, Debug)]
pub struct AgentFacts<'a> {
    /// The agent's extension or user name.
    pub agent: &'a str,
    /// Start of the period (unix ms).
    pub period_start_ms: i64,
    /// Length of the period.
    pub period_ms: u32,
    /// Calls offered to the agent.
    pub offered: u32,
    /// Calls the agent handled.
    pub handled: u32,
    /// Time in calls.
    pub talk_ms: u64,
    /// Time ready and idle.
    pub ready_ms: u64,
    /// Time in after-call work.
    pub wrap_up_ms: u64,
}

/// An agent's figures on the bridge. Made only by [`Classifier::agent_stats`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(any(test, feature = "cloud"), derive(serde::Deserialize))]
pub struct AgentStats {
    agent: Label,
    period_start_ms: i64,
    period_ms: u32,
    offered: u32,
    handled: u32,
    talk_ms: u64,
    ready_ms: u64,
    wrap_up_ms: u64,
}

impl Classifier {
    /// The bridge's copy of a queue's figures.
    #[must_use]
    pub fn queue_stats(&self, f: &QueueFacts<'_>) -> QueueStats {
        QueueStats {
            queue: self.label(f.queue),
            period_start_ms: f.period_start_ms,
            period_ms: f.period_ms,
            offered: f.offered,
            answered: f.answered,
            abandoned: f.abandoned,
            within_service_level: f.within_service_level,
            waiting: f.waiting,
            agents_ready: f.agents_ready,
            longest_wait_ms: f.longest_wait_ms,
            total_wait_ms: f.total_wait_ms,
        }
    }

    /// The bridge's copy of an agent's figures.
    #[must_use]
    pub fn agent_stats(&self, f: &AgentFacts<'_>) -> AgentStats {
        AgentStats {
            agent: self.label(f.agent),
            period_start_ms: f.period_start_ms,
            period_ms: f.period_ms,
            offered: f.offered,
            handled: f.handled,
            talk_ms: f.talk_ms,
            ready_ms: f.ready_ms,
            wrap_up_ms: f.wrap_up_ms,
        }
    }
}

impl QueueStats {
    /// The queue.
    #[must_use]
    pub fn queue(&self) -> &Label {
        &self.queue
    }
    /// Start of the period (unix ms).
    #[must_use]
    pub fn period_start_ms(&self) -> i64 {
        self.period_start_ms
    }
    /// Length of the period.
    #[must_use]
    pub fn period_ms(&self) -> u32 {
        self.period_ms
    }
    /// Calls that entered the queue.
    #[must_use]
    pub fn offered(&self) -> u32 {
        self.offered
    }
    /// Calls answered.
    #[must_use]
    pub fn answered(&self) -> u32 {
        self.answered
    }
    /// Calls abandoned.
    #[must_use]
    pub fn abandoned(&self) -> u32 {
        self.abandoned
    }
    /// Calls answered within the service level.
    #[must_use]
    pub fn within_service_level(&self) -> u32 {
        self.within_service_level
    }
    /// Callers waiting at the end.
    #[must_use]
    pub fn waiting(&self) -> u32 {
        self.waiting
    }
    /// Agents ready at the end.
    #[must_use]
    pub fn agents_ready(&self) -> u32 {
        self.agents_ready
    }
    /// Longest current wait among callers waiting or ringing at the end of the
    /// period.
    #[must_use]
    pub fn longest_wait_ms(&self) -> u64 {
        self.longest_wait_ms
    }
    /// Sum of waits of answered calls.
    #[must_use]
    pub fn total_wait_ms(&self) -> u64 {
        self.total_wait_ms
    }
}

impl AgentStats {
    /// The agent.
    #[must_use]
    pub fn agent(&self) -> &Label {
        &self.agent
    }
    /// Start of the period (unix ms).
    #[must_use]
    pub fn period_start_ms(&self) -> i64 {
        self.period_start_ms
    }
    /// Length of the period.
    #[must_use]
    pub fn period_ms(&self) -> u32 {
        self.period_ms
    }
    /// Calls offered.
    #[must_use]
    pub fn offered(&self) -> u32 {
        self.offered
    }
    /// Calls handled.
    #[must_use]
    pub fn handled(&self) -> u32 {
        self.handled
    }
    /// Time in calls.
    #[must_use]
    pub fn talk_ms(&self) -> u64 {
        self.talk_ms
    }
    /// Time ready and idle.
    #[must_use]
    pub fn ready_ms(&self) -> u64 {
        self.ready_ms
    }
    /// Time in after-call work.
    #[must_use]
    pub fn wrap_up_ms(&self) -> u64 {
        self.wrap_up_ms
    }
}

fn period_identity(label: &Label, start_ms: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(&start_ms.to_be_bytes());
    out.extend_from_slice(label.to_string().as_bytes());
}

impl sealed::Sealed for QueueStats {}

impl Outbound for QueueStats {
    const KIND: Kind = Kind::QUEUE_STATS;

    fn identity(&self, out: &mut Vec<u8>) {
        period_identity(&self.queue, self.period_start_ms, out);
    }
}

impl sealed::Sealed for AgentStats {}

impl Outbound for AgentStats {
    const KIND: Kind = Kind::AGENT_STATS;

    fn identity(&self, out: &mut Vec<u8>) {
        period_identity(&self.agent, self.period_start_ms, out);
    }
}
