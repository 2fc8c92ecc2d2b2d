//! The ACD engine: [`Acd`] takes inputs with their time and queues decisions.
//!
//! Call order (str0m/quinn style), from one task:
//!
//! 1. [`Acd::handle_input`]`(now, input)` for each event, and
//!    `handle_input(now, Input::Timeout)` when the deadline from
//!    [`Acd::poll_timeout`] passes;
//! 2. [`Acd::poll_output`] until `None`, carrying each [`Output`] out;
//! 3. [`Acd::poll_timeout`] for the next deadline.
//!
//! Every input first runs the timers due at `now`, then applies the event, then runs
//! any timers the event made due; afterwards no available agent is eligible for a
//! waiting call. `now` must not go backwards; an earlier `now` is taken as the latest
//! one seen.

mod agents;
mod build;
mod calls;
mod forecast;
mod matching;
mod model;
mod queries;
mod rng;
mod timers;

use std::collections::{HashMap, VecDeque};

use foldhash::fast::FixedState as NameHasher;
use std::time::Instant;

use crate::config::RonaPolicy;
use crate::error::AcdError;
use crate::id::{AgentId, AgentSlot, CallId, CallSlot, QueueId, QueueSlot, SkillSlot};
use crate::io::{Input, Output};
use crate::rules::RuleSet;
use model::{AgentEntry, CallEntry, QueueEntry};
use rng::SplitMix64;
use timers::{TimerId, TimerOwner, Timers};

pub use queries::{AgentRecord, CallStatus, PersistentState, RestoreReport, WaitingCall};

/// The ACD engine. See the module docs for the call order.
pub struct Acd {
    queues: Vec<QueueEntry>,
    queue_names: HashMap<QueueId, QueueSlot, NameHasher>,
    agents: Vec<AgentEntry>,
    agent_names: HashMap<AgentId, AgentSlot, NameHasher>,
    calls: Vec<Option<CallEntry>>,
    free_calls: Vec<CallSlot>,
    /// Keyed by `AcdConfig::rng_seed`: a secret seed keeps crafted Call-IDs from
    /// colliding.
    call_names: HashMap<CallId, CallSlot, NameHasher>,
    skills: HashMap<String, SkillSlot, NameHasher>,
    rules: RuleSet,
    rona: RonaPolicy,
    max_hops: u8,
    rng: SplitMix64,
    timers: Timers,
    out: VecDeque<Output>,
    /// Next sequence for a call joining a queue's tail (grows).
    tail_seq: i64,
    /// Next sequence for a call put back at the head (shrinks below zero).
    head_seq: i64,
    /// Next availability order number.
    avail_seq: u64,
    last_now: Option<Instant>,
}

impl Acd {
    /// Applies one input at `now`. On `Err` the engine is unchanged (timers due at
    /// `now` have still run).
    pub fn handle_input(&mut self, now: Instant, input: Input) -> Result<(), AcdError> {
        let now = match self.last_now {
            Some(last) if last > now => last,
            _ => now,
        };
        self.last_now = Some(now);
        self.advance(now);
        let result = self.apply(now, input);
        self.advance(now);
        self.tidy_timers();
        result
    }

    /// The next decision, oldest first.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When the engine next needs `Input::Timeout` (if nothing else arrives first).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    fn apply(&mut self, now: Instant, input: Input) -> Result<(), AcdError> {
        match input {
            Input::Enqueue(request) => self.enqueue(now, request),
            Input::Abandon(call) => self.abandon(now, &call),
            Input::SetPresence { agent, presence } => {
                let a = self.agent_slot(&agent)?;
                self.set_presence(now, a, presence);
                Ok(())
            }
            Input::Answered { call, agent } => self.answered(now, &call, &agent),
            Input::Refused {
                call,
                agent,
                reason,
            } => self.refused(now, &call, &agent, reason),
            Input::CallEnded(call) => self.call_ended(now, &call),
            Input::EndWrapUp(agent) => {
                let a = self.agent_slot(&agent)?;
                self.end_wrap_up(now, a);
                Ok(())
            }
            Input::JoinQueue { agent, tier } => self.join_queue(now, &agent, &tier),
            Input::LeaveQueue { agent, queue } => self.leave_queue(now, &agent, &queue),
            Input::SetSkills { agent, skills } => self.set_skills(now, &agent, &skills),
            Input::DirectCall { agent, active } => {
                self.direct_call(now, &agent, active);
                Ok(())
            }
            Input::Timeout => Ok(()),
        }
    }

    /// Runs every timer due at `now`, in deadline order.
    fn advance(&mut self, now: Instant) {
        loop {
            let (calls, agents) = (&self.calls, &self.agents);
            let due = self
                .timers
                .pop_due(now, |owner, id| timer_live(calls, agents, owner, id));
            match due {
                Some(TimerOwner::Call(c)) => self.call_timer(now, c),
                Some(TimerOwner::Agent(a)) => self.agent_timer(now, a),
                None => return,
            }
        }
    }

    fn tidy_timers(&mut self) {
        let (calls, agents) = (&self.calls, &self.agents);
        self.timers
            .tidy(|owner, id| timer_live(calls, agents, owner, id));
    }

    fn agent_slot(&self, agent: &AgentId) -> Result<AgentSlot, AcdError> {
        self.agent_names
            .get(agent)
            .copied()
            .ok_or_else(|| AcdError::UnknownAgent(agent.clone()))
    }

    fn call_slot(&self, call: &CallId) -> Result<CallSlot, AcdError> {
        self.call_names
            .get(call)
            .copied()
            .ok_or_else(|| AcdError::UnknownCall(call.clone()))
    }

    fn queue_slot(&self, queue: &QueueId) -> Result<QueueSlot, AcdError> {
        self.queue_names
            .get(queue)
            .copied()
            .ok_or_else(|| AcdError::UnknownQueue(queue.clone()))
    }

    fn call(&self, c: CallSlot) -> &CallEntry {
        // Slots handed around inside one input always refer to live calls.
        self.calls[c.ix()].as_ref().expect("live call slot")
    }

    fn call_mut(&mut self, c: CallSlot) -> &mut CallEntry {
        // As in `call`: only live slots are passed within the engine.
        self.calls[c.ix()].as_mut().expect("live call slot")
    }

    fn emit(&mut self, output: Output) {
        self.out.push_back(output);
    }
}

fn timer_live(
    calls: &[Option<CallEntry>],
    agents: &[AgentEntry],
    owner: TimerOwner,
    id: TimerId,
) -> bool {
    match owner {
        TimerOwner::Call(c) => calls
            .get(c.ix())
            .and_then(Option::as_ref)
            .is_some_and(|call| call.timer == id),
        TimerOwner::Agent(a) => agents.get(a.ix()).is_some_and(|agent| agent.timer == id),
    }
}
