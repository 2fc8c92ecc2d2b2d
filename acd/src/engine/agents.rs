//! Agent transitions: presence (login, ready, not ready, logout), activity (ringing,
//! on call, wrap-up, cooldown), misses (RONA), and runtime changes of skills and queues.

use std::time::Instant;

use super::Acd;
use super::model::{Act, CallState, Membership};
use super::timers::TimerOwner;
use crate::config::{Proficiency, Tier};
use crate::error::AcdError;
use crate::id::{AgentId, AgentSlot, CallSlot, QueueId, QueueSlot, ReasonCode};
use crate::io::{AgentState, CancelReason, Output, Presence, RefuseReason};

impl Acd {
    /// Records the agent's current state on its clock and tells the node.
    fn note_state(&mut self, now: Instant, a: AgentSlot) {
        let agent = &mut self.agents[a.ix()];
        let activity = agent.activity();
        agent
            .counters
            .enter(AgentState::of(&agent.presence, activity), now);
        let out = Output::AgentStateChanged {
            agent: agent.id.clone(),
            presence: agent.presence.clone(),
            activity,
        };
        self.emit(out);
    }

    /// Sets the agent's activity (and its timer, for wrap-up and cooldown).
    pub(super) fn set_act(&mut self, now: Instant, a: AgentSlot, act: Act) {
        let agent = &mut self.agents[a.ix()];
        let was_available = agent.is_available();
        let shown = agent.activity();
        agent.act = act;
        match act {
            Act::WrapUp { until, .. } | Act::Cooldown { until } => {
                self.timers
                    .set(&mut agent.timer, until, TimerOwner::Agent(a));
            }
            Act::Idle | Act::Reserved(_) | Act::OnCall(_) => self.timers.clear(&mut agent.timer),
        }
        if !was_available && agent.is_available() {
            self.avail_seq += 1;
            agent.avail_seq = self.avail_seq;
        }
        if shown != self.agents[a.ix()].activity() {
            self.note_state(now, a);
        }
    }

    /// A call the engine did not route starts (`active`) or ends on `agent`'s phone:
    /// while one is up the agent is offered nothing and shows as on a call. An
    /// extension that is no agent is none of the engine's business.
    pub(super) fn direct_call(&mut self, now: Instant, agent: &AgentId, active: bool) {
        let Some(&a) = self.agent_names.get(agent) else {
            return;
        };
        let entry = &mut self.agents[a.ix()];
        let (was_available, shown) = (entry.is_available(), entry.activity());
        entry.direct_calls = if active {
            entry.direct_calls.saturating_add(1)
        } else {
            entry.direct_calls.saturating_sub(1)
        };
        let (available, showing) = (entry.is_available(), entry.activity());
        if was_available && !available {
            self.unindex_agent(a);
        }
        if shown != showing {
            self.note_state(now, a);
        }
        if !was_available && available {
            self.avail_seq += 1;
            self.agents[a.ix()].avail_seq = self.avail_seq;
            self.agent_freed(now, a);
        }
    }

    /// Changes an agent's presence. A ringing offer is withdrawn when the agent stops
    /// being ready; a call in progress goes on.
    pub(super) fn set_presence(&mut self, now: Instant, a: AgentSlot, presence: Presence) {
        let agent = &mut self.agents[a.ix()];
        if agent.presence == presence {
            return;
        }
        let was_available = agent.is_available();
        let logging_in = agent.presence == Presence::LoggedOut;
        let logging_out = presence == Presence::LoggedOut;
        if was_available {
            self.unindex_agent(a);
        }
        let agent = &mut self.agents[a.ix()];
        agent.presence = presence;
        if agent.presence == Presence::Ready {
            agent.misses = 0;
            if agent.act == Act::Idle {
                self.avail_seq += 1;
                agent.avail_seq = self.avail_seq;
            }
        }
        self.note_state(now, a);
        if let Act::Reserved(c) = self.agents[a.ix()].act
            && self.agents[a.ix()].presence != Presence::Ready
        {
            self.withdraw_offer(now, a, c);
        }
        if !logging_in && !logging_out {
            return self.agent_freed(now, a);
        }
        let tiers: Vec<QueueSlot> = self.agents[a.ix()].tiers.iter().map(|m| m.queue).collect();
        for q in tiers {
            self.count_login(now, q, logging_in);
        }
        self.agent_freed(now, a);
    }

    /// One member of `q` logged in (`true`) or out; the last one out sends waiting
    /// callers to the no-agents overflow.
    fn count_login(&mut self, now: Instant, q: QueueSlot, login: bool) {
        let queue = &mut self.queues[q.ix()];
        if login {
            queue.logged_in += 1;
            return;
        }
        queue.logged_in = queue.logged_in.saturating_sub(1);
        if queue.logged_in == 0 && queue.cfg.overflow.when_no_agents.is_some() {
            self.sweep_no_agents(now, q);
        }
    }

    /// Cancels agent `a`'s ringing offer of call `c` (agent no longer ready).
    fn withdraw_offer(&mut self, now: Instant, a: AgentSlot, c: CallSlot) {
        let out = Output::CancelOffer {
            call: self.call(c).id.clone(),
            agent: self.agents[a.ix()].id.clone(),
            reason: CancelReason::AgentUnavailable,
        };
        self.emit(out);
        self.set_act(now, a, Act::Idle);
        self.drop_from_offer(now, c, a);
    }

    /// Removes `a` from call `c`'s offer; the call goes back to the head of its queue
    /// when nobody is left ringing.
    pub(super) fn drop_from_offer(&mut self, now: Instant, c: CallSlot, a: AgentSlot) {
        let CallState::Offered { agents, .. } = &mut self.call_mut(c).state else {
            return;
        };
        agents.retain(|x| *x != a);
        if agents.is_empty() {
            self.requeue(now, c);
        }
    }

    /// After a missed or refused offer: count it, then rest, or go not ready (RONA).
    pub(super) fn after_refusal(&mut self, now: Instant, a: AgentSlot, reason: RefuseReason) {
        let miss = matches!(reason, RefuseReason::NoAnswer | RefuseReason::Unreachable);
        let rona = self.rona;
        let agent = &mut self.agents[a.ix()];
        let rest = if miss {
            agent.counters.missed += 1;
            agent.misses += 1;
            rona.rest_after_miss
        } else {
            agent.counters.refused += 1;
            rona.rest_after_refusal
        };
        let misses = agent.misses;
        if rona.max_misses > 0 && misses >= rona.max_misses {
            self.set_act(now, a, Act::Idle);
            self.set_presence(now, a, Presence::NotReady(ReasonCode::no_answer()));
        } else if rest.is_zero() {
            self.set_act(now, a, Act::Idle);
            self.agent_freed(now, a);
        } else {
            self.set_act(now, a, Act::Cooldown { until: now + rest });
        }
    }

    /// Wrap-up or cooldown ran out.
    pub(super) fn agent_timer(&mut self, now: Instant, a: AgentSlot) {
        match self.agents[a.ix()].act {
            Act::WrapUp { .. } => self.end_wrap_up(now, a),
            Act::Cooldown { .. } => {
                self.set_act(now, a, Act::Idle);
                self.agent_freed(now, a);
            }
            Act::Idle | Act::Reserved(_) | Act::OnCall(_) => {}
        }
    }

    /// Ends after-call work (a no-op unless the agent is in wrap-up).
    pub(super) fn end_wrap_up(&mut self, now: Instant, a: AgentSlot) {
        let Act::WrapUp { queue, .. } = self.agents[a.ix()].act else {
            return;
        };
        let agent = &mut self.agents[a.ix()];
        let wrap = agent.counters.in_state_for(now);
        agent.counters.wrap += wrap;
        self.queues[queue.ix()].counters.wrap += wrap;
        self.set_act(now, a, Act::Idle);
        self.agent_freed(now, a);
    }

    pub(super) fn join_queue(
        &mut self,
        now: Instant,
        agent: &AgentId,
        tier: &Tier,
    ) -> Result<(), AcdError> {
        let a = self.agent_slot(agent)?;
        let q = self.queue_slot(&tier.queue)?;
        if tier.level == 0 {
            return Err(AcdError::BadLevel(0));
        }
        self.unindex_agent(a);
        let logged_in = self.agents[a.ix()].presence != Presence::LoggedOut;
        let tiers = &mut self.agents[a.ix()].tiers;
        let was_member = tiers.iter().any(|m| m.queue == q);
        tiers.retain(|m| m.queue != q);
        tiers.push(Membership {
            level: tier.level,
            queue: q,
            position: tier.position,
        });
        tiers.sort();
        if !was_member {
            self.queues[q.ix()].members.push(a);
            if logged_in {
                self.count_login(now, q, true);
            }
        }
        self.agent_freed(now, a);
        Ok(())
    }

    pub(super) fn leave_queue(
        &mut self,
        now: Instant,
        agent: &AgentId,
        queue: &QueueId,
    ) -> Result<(), AcdError> {
        let a = self.agent_slot(agent)?;
        let q = self.queue_slot(queue)?;
        if self.agents[a.ix()].tier_in(q).is_none() {
            return Ok(());
        }
        self.unindex_agent(a);
        self.agents[a.ix()].tiers.retain(|m| m.queue != q);
        self.queues[q.ix()].members.retain(|m| *m != a);
        if self.agents[a.ix()].presence != Presence::LoggedOut {
            self.count_login(now, q, false);
        }
        self.agent_freed(now, a);
        Ok(())
    }

    pub(super) fn set_skills(
        &mut self,
        now: Instant,
        agent: &AgentId,
        skills: &[Proficiency],
    ) -> Result<(), AcdError> {
        let a = self.agent_slot(agent)?;
        let skills = self.intern_skills(skills).map_err(AcdError::BadLevel)?;
        self.agents[a.ix()].skills = skills;
        self.agent_freed(now, a);
        Ok(())
    }
}
