//! The engine's entities (agents, queues, calls) and the index keys that order them.
//!
//! Two ordered indexes carry every routing decision:
//! - per queue, `waiting`: the calls waiting for an agent, by [`WaitKey`] (priority
//!   first, then arrival order; calls put back after a missed offer go to the head);
//! - per queue, `available`: the members who are ready and idle, by [`AvailKey`]
//!   (tier level first, then the queue strategy's key).
//!
//! Invariant kept after every input (work conservation): no agent in any `available`
//! set is eligible for any call in any `waiting` set.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::time::Instant;

use super::timers::TimerId;
use crate::config::{Escalation, QueueConfig, Strategy};
use crate::ewt::{AbandonModel, HandleModel};
use crate::id::{AgentId, AgentSlot, CallId, CallSlot, QueueId, QueueSlot, SkillSlot};
use crate::io::{Activity, Presence};
use crate::stats::{AgentCounters, QueueCounters};

/// Order of a waiting call: higher priority first, then lower sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct WaitKey {
    pub(crate) priority: Reverse<i32>,
    pub(crate) seq: i64,
    pub(crate) call: CallSlot,
}

/// Order of an available agent in one queue: tier level, then the strategy's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct AvailKey {
    pub(crate) level: u8,
    pub(crate) k1: u64,
    pub(crate) k2: u64,
    pub(crate) agent: AgentSlot,
}

/// A skill and a level (an agent's proficiency or a call's minimum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SkillLevel {
    pub(crate) skill: SkillSlot,
    pub(crate) level: u8,
}

/// An agent's membership of one queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Membership {
    pub(crate) level: u8,
    pub(crate) queue: QueueSlot,
    pub(crate) position: u32,
}

/// What an agent is doing, with the engine's references.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Act {
    Idle,
    Reserved(CallSlot),
    OnCall(CallSlot),
    WrapUp { until: Instant, queue: QueueSlot },
    Cooldown { until: Instant },
}

impl Act {
    pub(crate) fn public(self) -> Activity {
        match self {
            Act::Idle => Activity::Idle,
            Act::Reserved(_) => Activity::Reserved,
            Act::OnCall(_) => Activity::OnCall,
            Act::WrapUp { .. } => Activity::WrapUp,
            Act::Cooldown { .. } => Activity::Cooldown,
        }
    }
}

pub(crate) struct AgentEntry {
    pub(crate) id: AgentId,
    pub(crate) presence: Presence,
    pub(crate) act: Act,
    /// Sorted by skill.
    pub(crate) skills: Vec<SkillLevel>,
    /// Sorted by (level, queue).
    pub(crate) tiers: Vec<Membership>,
    pub(crate) weight: u32,
    pub(crate) misses: u32,
    /// Order in which the agent last became available (longest idle = smallest).
    pub(crate) avail_seq: u64,
    /// Whether the agent sits in its queues' `available` sets.
    pub(crate) indexed: bool,
    pub(crate) timer: TimerId,
    pub(crate) counters: AgentCounters,
    /// Calls on the agent's phone the engine did not route (a consultation, a call
    /// to or from a colleague, an outbound call): none are offered meanwhile.
    pub(crate) direct_calls: u32,
}

impl AgentEntry {
    pub(crate) fn is_available(&self) -> bool {
        self.presence == Presence::Ready && self.act == Act::Idle && self.direct_calls == 0
    }

    /// What the agent is doing, as shown: on a call also when it is a direct one.
    pub(crate) fn activity(&self) -> Activity {
        match self.act {
            Act::Idle if self.direct_calls > 0 => Activity::OnCall,
            act => act.public(),
        }
    }

    /// The agent's proficiency in `skill` (0 without it).
    pub(crate) fn level_in(&self, skill: SkillSlot) -> u8 {
        self.skills
            .binary_search_by_key(&skill, |s| s.skill)
            .map_or(0, |i| self.skills[i].level)
    }

    pub(crate) fn tier_in(&self, queue: QueueSlot) -> Option<Membership> {
        self.tiers.iter().copied().find(|t| t.queue == queue)
    }
}

/// An escalation step with its queues resolved.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    WidenTiers(u8),
    LowerRequired(u8),
    DropRequired,
    AddQueues(Vec<QueueSlot>),
    RaisePriority(i32),
}

impl Step {
    pub(crate) fn of(action: &Escalation, resolve: impl Fn(&QueueId) -> QueueSlot) -> Self {
        match action {
            Escalation::WidenTiers { max_level } => Step::WidenTiers(*max_level),
            Escalation::LowerRequired { by } => Step::LowerRequired(*by),
            Escalation::DropRequired => Step::DropRequired,
            Escalation::AddQueues(qs) => Step::AddQueues(qs.iter().map(resolve).collect()),
            Escalation::RaisePriority { by } => Step::RaisePriority(*by),
        }
    }
}

pub(crate) struct QueueEntry {
    pub(crate) id: QueueId,
    pub(crate) cfg: QueueConfig,
    /// `cfg.escalation` resolved, in the same order (sorted by `after`).
    pub(crate) steps: Vec<Step>,
    pub(crate) waiting: BTreeSet<WaitKey>,
    pub(crate) available: BTreeSet<AvailKey>,
    /// Calls whose queue this is, waiting or ringing, callbacks excluded (for max_len).
    pub(crate) holding: u32,
    pub(crate) members: Vec<AgentSlot>,
    pub(crate) logged_in: u32,
    /// Round robin: (level, position) of the agent offered last.
    pub(crate) cursor: Option<(u8, u32)>,
    pub(crate) counters: QueueCounters,
    pub(crate) handle: HandleModel,
    pub(crate) patience: AbandonModel,
}

impl QueueEntry {
    pub(crate) fn strategy(&self) -> Strategy {
        self.cfg.strategy
    }
}

/// Where a call stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallState {
    Waiting,
    Offered {
        agents: Vec<AgentSlot>,
        deadline: Instant,
    },
    Connected {
        agent: AgentSlot,
        since: Instant,
    },
}

pub(crate) struct CallEntry {
    pub(crate) id: CallId,
    pub(crate) queue: QueueSlot,
    /// Queues added by escalation.
    pub(crate) extra: Vec<QueueSlot>,
    pub(crate) priority: i32,
    pub(crate) seq: i64,
    pub(crate) required: Vec<SkillLevel>,
    pub(crate) preferred: Vec<SkillLevel>,
    pub(crate) tier_limit: u8,
    /// When the call entered its current queue.
    pub(crate) entered: Instant,
    pub(crate) state: CallState,
    pub(crate) callback: bool,
    /// Whether the call counts in its queue (waiting or ringing, after admission).
    pub(crate) attached: bool,
    /// Index of the next escalation step of its queue.
    pub(crate) next_step: usize,
    pub(crate) next_announce: Option<Instant>,
    pub(crate) hops: u8,
    pub(crate) timer: TimerId,
}

impl CallEntry {
    pub(crate) fn key(&self, slot: CallSlot) -> WaitKey {
        WaitKey {
            priority: Reverse(self.priority),
            seq: self.seq,
            call: slot,
        }
    }

    /// The call's queues: its own first, then those added by escalation.
    pub(crate) fn queues(&self) -> impl Iterator<Item = QueueSlot> + '_ {
        std::iter::once(self.queue).chain(self.extra.iter().copied())
    }
}
