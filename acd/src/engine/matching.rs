//! Matching calls and agents: eligibility, the strategies, and making an offer.
//!
//! Two entry points keep the work-conservation invariant:
//! - [`Acd::serve_call`] when a call may have become servable (enqueued, put back,
//!   escalated): the call's queues' `available` sets are walked in strategy order;
//! - [`Acd::agent_freed`] when an agent may have become able to serve (ready, idle,
//!   new skills or queues): the agent's queues' `waiting` sets are walked in
//!   priority-then-arrival order, lowest tier level first.
//!
//! Both walks start at the best key and stop at the first eligible entry (or, for
//! the random, ring-all and best-match strategies, at the end of the lowest level
//! holding one), so a decision costs a few ordered-set steps, not a scan of all agents.

use std::time::Instant;

use super::Acd;
use super::model::{Act, AgentEntry, AvailKey, CallEntry, CallState, Membership};
use crate::config::Strategy;
use crate::id::{AgentSlot, CallSlot, QueueSlot};
use crate::io::Output;

/// Whether `agent` has every skill `call` requires, at the level required.
pub(super) fn skills_ok(agent: &AgentEntry, call: &CallEntry) -> bool {
    call.required
        .iter()
        .all(|r| agent.level_in(r.skill) >= r.level)
}

/// Whether `agent`, a member at tier `m` of one of the call's queues, may take `call`.
pub(super) fn may_take(agent: &AgentEntry, m: Membership, call: &CallEntry) -> bool {
    m.level <= call.tier_limit && skills_ok(agent, call)
}

fn match_score(agent: &AgentEntry, call: &CallEntry) -> u32 {
    call.required
        .iter()
        .chain(&call.preferred)
        .map(|r| u32::from(agent.level_in(r.skill)))
        .sum()
}

impl Acd {
    /// The key of agent `a` in the `available` set of membership `m`'s queue.
    fn avail_key(&self, a: AgentSlot, m: Membership) -> AvailKey {
        let agent = &self.agents[a.ix()];
        let idle = agent.avail_seq;
        let (k1, k2) = match self.queues[m.queue.ix()].strategy() {
            Strategy::RoundRobin | Strategy::Linear => (u64::from(m.position), idle),
            Strategy::FewestCalls => (agent.counters.handled, idle),
            Strategy::LeastTalkTime => (agent.counters.talk.as_millis() as u64, idle),
            Strategy::LongestIdle
            | Strategy::RingAll
            | Strategy::Random
            | Strategy::WeightedRandom
            | Strategy::SkillsBestMatch => (idle, 0),
        };
        AvailKey {
            level: m.level,
            k1,
            k2,
            agent: a,
        }
    }

    pub(super) fn index_agent(&mut self, a: AgentSlot) {
        if self.agents[a.ix()].indexed {
            return;
        }
        for i in 0..self.agents[a.ix()].tiers.len() {
            let m = self.agents[a.ix()].tiers[i];
            let key = self.avail_key(a, m);
            self.queues[m.queue.ix()].available.insert(key);
        }
        self.agents[a.ix()].indexed = true;
    }

    /// Takes `a` out of the `available` sets. Must run before any field its keys
    /// read (tiers, `avail_seq`, counters) changes.
    pub(super) fn unindex_agent(&mut self, a: AgentSlot) {
        if !self.agents[a.ix()].indexed {
            return;
        }
        for i in 0..self.agents[a.ix()].tiers.len() {
            let m = self.agents[a.ix()].tiers[i];
            let key = self.avail_key(a, m);
            self.queues[m.queue.ix()].available.remove(&key);
        }
        self.agents[a.ix()].indexed = false;
    }

    /// Offers call `c` if it waits and an eligible agent is available.
    pub(super) fn serve_call(&mut self, now: Instant, c: CallSlot) {
        if self.call(c).state != CallState::Waiting {
            return;
        }
        for i in 0..=self.call(c).extra.len() {
            let call = self.call(c);
            let q = if i == 0 {
                call.queue
            } else {
                call.extra[i - 1]
            };
            let picked = match self.queues[q.ix()].strategy() {
                Strategy::RingAll => self.eligible_in(q, c, false),
                _ => self.pick_one(q, c).into_iter().collect(),
            };
            if !picked.is_empty() {
                self.offer(now, c, q, picked);
                return;
            }
        }
    }

    /// Eligible available agents of queue `q` for call `c`, in strategy order; only
    /// the lowest tier level holding one when `lowest_only`.
    fn eligible_in(&self, q: QueueSlot, c: CallSlot, lowest_only: bool) -> Vec<AgentSlot> {
        let call = self.call(c);
        let mut out = Vec::new();
        let mut level = None;
        for key in &self.queues[q.ix()].available {
            if key.level > call.tier_limit || (lowest_only && level.is_some_and(|l| key.level > l))
            {
                break;
            }
            if skills_ok(&self.agents[key.agent.ix()], call) {
                level = Some(key.level);
                out.push(key.agent);
            }
        }
        out
    }

    fn pick_one(&mut self, q: QueueSlot, c: CallSlot) -> Option<AgentSlot> {
        let call = self.call(c);
        let queue = &self.queues[q.ix()];
        let eligible = |key: &&AvailKey| {
            key.level <= call.tier_limit && skills_ok(&self.agents[key.agent.ix()], call)
        };
        match queue.strategy() {
            Strategy::LongestIdle
            | Strategy::FewestCalls
            | Strategy::LeastTalkTime
            | Strategy::Linear
            | Strategy::RingAll => queue
                .available
                .iter()
                .take_while(|k| k.level <= call.tier_limit)
                .find(eligible)
                .map(|k| k.agent),
            Strategy::RoundRobin => {
                let first = *queue.available.iter().find(eligible)?;
                let after = match queue.cursor {
                    Some((level, pos)) if level == first.level => u64::from(pos),
                    _ => return Some(first.agent),
                };
                let next = queue
                    .available
                    .iter()
                    .skip_while(|k| *k != &first)
                    .take_while(|k| k.level == first.level)
                    .filter(eligible)
                    .find(|k| k.k1 > after);
                Some(next.map_or(first.agent, |k| k.agent))
            }
            Strategy::Random => {
                let pool = self.eligible_in(q, c, true);
                let i = self.rng.below(pool.len() as u64);
                pool.get(i as usize).copied()
            }
            Strategy::WeightedRandom => self.pick_weighted(q, c),
            Strategy::SkillsBestMatch => {
                let pool = self.eligible_in(q, c, true);
                let call = self.call(c);
                // max_by_key keeps the last maximum; iterate reversed so ties go to the
                // earliest (longest idle) agent.
                pool.into_iter()
                    .rev()
                    .max_by_key(|a| match_score(&self.agents[a.ix()], call))
            }
        }
    }

    fn pick_weighted(&mut self, q: QueueSlot, c: CallSlot) -> Option<AgentSlot> {
        let pool = self.eligible_in(q, c, true);
        let total: u64 = pool
            .iter()
            .map(|a| u64::from(self.agents[a.ix()].weight))
            .sum();
        if total == 0 {
            return None;
        }
        let mut ticket = self.rng.below(total);
        for a in pool {
            let w = u64::from(self.agents[a.ix()].weight);
            if ticket < w {
                return Some(a);
            }
            ticket -= w;
        }
        None
    }

    /// Gives agent `a` the best waiting call it may take, or files it as available.
    ///
    /// From the agent's side: queues where its tier level is lowest first; among
    /// those, the call with the highest priority, then the earliest.
    pub(super) fn agent_freed(&mut self, now: Instant, a: AgentSlot) {
        if !self.agents[a.ix()].is_available() {
            return;
        }
        self.unindex_agent(a);
        match self.pick_call(a) {
            Some((c, q)) => self.offer(now, c, q, vec![a]),
            None => self.index_agent(a),
        }
    }

    fn pick_call(&self, a: AgentSlot) -> Option<(CallSlot, QueueSlot)> {
        let agent = &self.agents[a.ix()];
        let mut best: Option<(u8, super::model::WaitKey, QueueSlot)> = None;
        for m in &agent.tiers {
            if best.is_some_and(|(level, _, _)| m.level > level) {
                break;
            }
            for key in &self.queues[m.queue.ix()].waiting {
                if best.is_some_and(|(_, b, _)| *key >= b) {
                    break;
                }
                if may_take(agent, *m, self.call(key.call)) {
                    best = Some((m.level, *key, m.queue));
                    break;
                }
            }
        }
        best.map(|(_, key, q)| (key.call, q))
    }

    /// Reserves `agents` (all available and eligible) for call `c` (waiting), found
    /// through queue `via`.
    pub(super) fn offer(
        &mut self,
        now: Instant,
        c: CallSlot,
        via: QueueSlot,
        agents: Vec<AgentSlot>,
    ) {
        self.unlist(c);
        if let [a] = agents[..]
            && self.queues[via.ix()].strategy() == Strategy::RoundRobin
            && let Some(m) = self.agents[a.ix()].tier_in(via)
        {
            self.queues[via.ix()].cursor = Some((m.level, m.position));
        }
        let (id, queue, callback) = {
            let call = self.call(c);
            (call.id.clone(), call.queue, call.callback)
        };
        let queue_id = self.queues[queue.ix()].id.clone();
        for &a in &agents {
            self.unindex_agent(a);
            let agent = self.agents[a.ix()].id.clone();
            let (call, queue) = (id.clone(), queue_id.clone());
            self.emit(if callback {
                Output::PlaceCallback { call, agent, queue }
            } else {
                Output::Offer { call, agent, queue }
            });
            self.set_act(now, a, Act::Reserved(c));
        }
        let deadline = now + self.queues[queue.ix()].cfg.ring_timeout;
        self.call_mut(c).state = CallState::Offered { agents, deadline };
        self.schedule_call(c);
    }
}
