//! Plain configuration data for the engine: queues, agents, routing rules and policies.
//!
//! These are simple public structs with defaults so that a file loader can fill them in
//! field by field; [`crate::Acd::new`] checks them (unknown queues, skill levels out of
//! range, rules naming queues that do not exist) and reports a [`crate::ConfigError`].
//! Durations are [`Duration`]s; levels are small integers with their range stated.

use std::time::Duration;

use crate::id::{AgentId, QueueId};
use crate::rules::RuleSet;

/// Everything the engine is built from.
#[derive(Clone, Debug, PartialEq)]
pub struct AcdConfig {
    /// The queues (groups). Names must be unique.
    pub queues: Vec<QueueConfig>,
    /// The agents the engine knows, with their skills and queue memberships. Names must
    /// be unique. Agents start logged out.
    pub agents: Vec<AgentConfig>,
    /// Routing rules applied to calls enqueued without a queue.
    pub rules: RuleSet,
    /// Ring-no-answer and refusal handling, for all queues.
    pub rona: RonaPolicy,
    /// How many times one call may overflow from queue to queue before it is
    /// disconnected instead (guards against overflow cycles). Default 4.
    pub max_overflow_hops: u8,
    /// Seed of the engine's pseudo-random generator (random and weighted-random
    /// strategies). The same seed and the same inputs give the same decisions.
    pub rng_seed: u64,
}

impl Default for AcdConfig {
    fn default() -> Self {
        Self {
            queues: Vec::new(),
            agents: Vec::new(),
            rules: RuleSet::default(),
            rona: RonaPolicy::default(),
            max_overflow_hops: 4,
            rng_seed: 0x5eed,
        }
    }
}

/// How a queue picks among the agents who may take a call.
///
/// Every strategy first prefers agents at a lower tier level (see [`Tier::level`]); the
/// strategy orders agents within a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Strategy {
    /// The agent who has been available the longest.
    LongestIdle,
    /// The next agent after the one offered last, by tier position, wrapping around.
    RoundRobin,
    /// The agent who has answered the fewest calls since the engine started; ties go to
    /// the longest idle.
    FewestCalls,
    /// The agent with the least total talk time; ties go to the longest idle.
    LeastTalkTime,
    /// Every eligible available agent rings at once; the first to answer takes the call.
    RingAll,
    /// Always from the top: the lowest tier position that is available.
    Linear,
    /// A uniformly random eligible agent (seeded, see [`AcdConfig::rng_seed`]).
    Random,
    /// A random eligible agent, chosen with probability proportional to
    /// [`AgentConfig::weight`].
    WeightedRandom,
    /// The agent whose proficiencies best match the call's skills (sum of the agent's
    /// levels in the required and preferred skills); ties go to the longest idle.
    SkillsBestMatch,
}

impl Strategy {
    /// All strategies, in documentation order.
    pub const ALL: [Strategy; 9] = [
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::FewestCalls,
        Strategy::LeastTalkTime,
        Strategy::RingAll,
        Strategy::Linear,
        Strategy::Random,
        Strategy::WeightedRandom,
        Strategy::SkillsBestMatch,
    ];

    /// The strategy's name in configuration and routing rules (`"round_robin"`).
    pub fn name(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest_idle",
            Strategy::RoundRobin => "round_robin",
            Strategy::FewestCalls => "fewest_calls",
            Strategy::LeastTalkTime => "least_talk_time",
            Strategy::RingAll => "ring_all",
            Strategy::Linear => "linear",
            Strategy::Random => "random",
            Strategy::WeightedRandom => "weighted_random",
            Strategy::SkillsBestMatch => "skills_best_match",
        }
    }

    /// The strategy with this name, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One queue.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueConfig {
    /// The queue's name.
    pub id: QueueId,
    /// How an agent is chosen for a call.
    pub strategy: Strategy,
    /// How long an offered agent rings before the offer counts as missed. Must be
    /// non-zero. Default 20 s.
    pub ring_timeout: Duration,
    /// After-call work granted to the agent after each call from this queue; zero
    /// makes the agent available at once. Default 10 s.
    pub wrap_up: Duration,
    /// Only agents whose tier level in the queue is at most this may take calls at
    /// first; [`Escalation::WidenTiers`] raises it. Default 255 (every level).
    pub tier_limit: u8,
    /// Most calls waiting in the queue (callbacks not counted); the next caller
    /// overflows to [`OverflowPolicy::when_full`]. `None`: unlimited.
    pub max_len: Option<u32>,
    /// Longest a caller waits before overflowing to [`OverflowPolicy::when_timed_out`].
    /// `None`: no limit. Callbacks never time out.
    pub max_wait: Option<Duration>,
    /// Where calls go when the queue cannot keep them.
    pub overflow: OverflowPolicy,
    /// Steps applied to a waiting call as its wait grows, in order of `after`.
    pub escalation: Vec<EscalationStep>,
    /// Position and estimated-wait announcements; `None` for none.
    pub announce: Option<Announcements>,
    /// The `T` of the service level: a call answered within this counts as in service
    /// level. Default 20 s.
    pub service_level_threshold: Duration,
    /// Mean handle time assumed for wait estimates until calls have been measured.
    /// Default 180 s.
    pub expected_handle_time: Duration,
}

impl QueueConfig {
    /// A queue with the given strategy and defaults for everything else.
    pub fn new(id: impl Into<QueueId>, strategy: Strategy) -> Self {
        Self {
            id: id.into(),
            strategy,
            ring_timeout: Duration::from_secs(20),
            wrap_up: Duration::from_secs(10),
            tier_limit: u8::MAX,
            max_len: None,
            max_wait: None,
            overflow: OverflowPolicy::default(),
            escalation: Vec::new(),
            announce: None,
            service_level_threshold: Duration::from_secs(20),
            expected_handle_time: Duration::from_secs(180),
        }
    }
}

/// Where a call goes when its queue cannot keep it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum OverflowTarget {
    /// Into another queue, at its tail, with the call's priority and skills.
    Queue(QueueId),
    /// To voicemail: the node records a message into this mailbox. The call leaves the
    /// engine.
    Voicemail(String),
    /// The caller keeps their place and hangs up; when an agent is reserved for the
    /// call the engine emits [`crate::Output::PlaceCallback`].
    Callback,
    /// To the cloud side (hybrid overflow). The call leaves the engine.
    Cloud,
    /// The node plays a busy message and hangs up. The call leaves the engine.
    Disconnect,
}

/// Overflow targets per cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverflowPolicy {
    /// When the queue already holds [`QueueConfig::max_len`] callers. Default: disconnect.
    pub when_full: OverflowTarget,
    /// When a caller has waited [`QueueConfig::max_wait`]. Default: voicemail box
    /// `"default"`.
    pub when_timed_out: OverflowTarget,
    /// When no agent of the queue is logged in (on enqueue, and for every caller
    /// waiting when the last one logs out). `None`: callers wait anyway. Default `None`.
    pub when_no_agents: Option<OverflowTarget>,
}

impl Default for OverflowPolicy {
    fn default() -> Self {
        Self {
            when_full: OverflowTarget::Disconnect,
            when_timed_out: OverflowTarget::Voicemail("default".into()),
            when_no_agents: None,
        }
    }
}

/// One escalation step: `action` is applied once a call has waited `after` in the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EscalationStep {
    /// Time since the call entered the queue.
    pub after: Duration,
    /// What changes.
    pub action: Escalation,
}

/// What an escalation step changes for the waiting call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Escalation {
    /// Agents with tier level up to `max_level` become eligible.
    WidenTiers {
        /// The new tier limit (never lowers the current one).
        max_level: u8,
    },
    /// Every required skill level is lowered by `by` (not below 1).
    LowerRequired {
        /// Levels to subtract.
        by: u8,
    },
    /// Required skills become preferred: any member may take the call.
    DropRequired,
    /// Agents of these queues may take the call too (it also waits in them, in
    /// arrival order).
    AddQueues(Vec<QueueId>),
    /// The call's priority grows by `by`.
    RaisePriority {
        /// Added to the priority.
        by: i32,
    },
}

/// Position and wait-time announcements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announcements {
    /// Delay after entering the queue before the first announcement (zero: at once).
    pub first_after: Duration,
    /// Time between announcements. Must be non-zero.
    pub period: Duration,
}

/// One agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentConfig {
    /// The agent's name (extension or login).
    pub id: AgentId,
    /// Skills with proficiency 1 (novice) to 5 (expert).
    pub skills: Vec<Proficiency>,
    /// Queue memberships.
    pub tiers: Vec<Tier>,
    /// Weight for [`Strategy::WeightedRandom`]; must be at least 1. Default 1.
    pub weight: u32,
}

impl AgentConfig {
    /// An agent with no skills, no queues and weight 1.
    pub fn new(id: impl Into<AgentId>) -> Self {
        Self {
            id: id.into(),
            skills: Vec::new(),
            tiers: Vec::new(),
            weight: 1,
        }
    }

    /// Adds a membership (builder style).
    pub fn with_tier(mut self, queue: impl Into<QueueId>, level: u8, position: u32) -> Self {
        self.tiers.push(Tier {
            queue: queue.into(),
            level,
            position,
        });
        self
    }

    /// Adds a skill (builder style).
    pub fn with_skill(mut self, skill: &str, level: u8) -> Self {
        self.skills.push(Proficiency {
            skill: skill.to_owned(),
            level,
        });
        self
    }
}

/// An agent's proficiency in one skill.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Proficiency {
    /// Skill name (`"spanish"`, `"billing"`).
    pub skill: String,
    /// 1 (novice) to 5 (expert).
    pub level: u8,
}

/// An agent's membership of one queue.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tier {
    /// The queue.
    pub queue: QueueId,
    /// Tier level, 1 first: agents at a lower level are offered calls first, and
    /// higher levels may be held back until escalation ([`QueueConfig::tier_limit`]).
    /// From the agent's side, when several queues have callers waiting, the queue where
    /// the agent's level is lowest is served first.
    pub level: u8,
    /// Order within the level for [`Strategy::Linear`] and [`Strategy::RoundRobin`].
    pub position: u32,
}

/// A skill a call asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SkillRequirement {
    /// Skill name.
    pub skill: String,
    /// Minimum proficiency, 1 to 5.
    pub level: u8,
}

impl SkillRequirement {
    /// A requirement of `skill` at `level` or better.
    pub fn new(skill: &str, level: u8) -> Self {
        Self {
            skill: skill.to_owned(),
            level,
        }
    }
}

/// Ring-no-answer (RONA) and refusal handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RonaPolicy {
    /// Consecutive missed offers (no answer or unreachable) after which the agent is
    /// made not ready with [`crate::ReasonCode::no_answer`]. Zero disables it.
    /// Default 3.
    pub max_misses: u32,
    /// Pause after a missed offer before the agent is offered again. Default 10 s.
    pub rest_after_miss: Duration,
    /// Pause after a declined (or busy) offer before the agent is offered again.
    /// Default 5 s.
    pub rest_after_refusal: Duration,
}

impl Default for RonaPolicy {
    fn default() -> Self {
        Self {
            max_misses: 3,
            rest_after_miss: Duration::from_secs(10),
            rest_after_refusal: Duration::from_secs(5),
        }
    }
}
