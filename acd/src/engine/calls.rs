//! Call lifecycle: routing and admission, answer, refusal and ring timeout, abandon,
//! end, escalation, announcements and overflow.

use std::time::Instant;

use super::Acd;
use super::model::{Act, CallEntry, CallState, SkillLevel, Step};
use super::timers::{TimerId, TimerOwner};
use crate::config::{OverflowTarget, SkillRequirement};
use crate::error::AcdError;
use crate::id::{AgentId, AgentSlot, CallId, CallSlot, QueueSlot};
use crate::io::{CallRequest, CancelReason, Output, OverflowReason, Presence, RefuseReason};

/// Where a request goes.
struct Route {
    queue: QueueSlot,
    priority: i32,
    required: Vec<SkillRequirement>,
    preferred: Vec<SkillRequirement>,
}

impl Acd {
    pub(super) fn enqueue(&mut self, now: Instant, req: CallRequest) -> Result<(), AcdError> {
        if self.call_names.contains_key(&req.call) {
            return Err(AcdError::DuplicateCall(req.call));
        }
        let levels = req.required.iter().chain(&req.preferred);
        if let Some(bad) = levels.clone().find(|r| !(1..=5).contains(&r.level)) {
            return Err(AcdError::BadLevel(bad.level));
        }
        let Some(route) = self.route(&req)? else {
            self.emit(Output::Overflow {
                call: req.call,
                from: None,
                reason: OverflowReason::NoRoute,
                target: OverflowTarget::Disconnect,
            });
            return Ok(());
        };
        let entry = CallEntry {
            id: req.call.clone(),
            queue: route.queue,
            extra: Vec::new(),
            priority: route.priority,
            seq: 0,
            required: self.skill_levels(&route.required),
            preferred: self.skill_levels(&route.preferred),
            tier_limit: u8::MAX,
            entered: now,
            state: CallState::Waiting,
            callback: req.callback,
            attached: false,
            next_step: 0,
            next_announce: None,
            hops: 0,
            timer: TimerId::default(),
        };
        let c = match self.free_calls.pop() {
            Some(c) => {
                self.calls[c.ix()] = Some(entry);
                c
            }
            None => {
                self.calls.push(Some(entry));
                CallSlot(u32::try_from(self.calls.len() - 1).unwrap_or(u32::MAX))
            }
        };
        self.call_names.insert(req.call, c);
        self.admit(now, c, route.queue);
        Ok(())
    }

    /// The queue, priority and skills for a request: its own when it names a queue,
    /// else the first matching rule's (added to its own); `None` when no rule matches.
    fn route(&self, req: &CallRequest) -> Result<Option<Route>, AcdError> {
        let mut route = Route {
            queue: QueueSlot(0),
            priority: req.priority,
            required: req.required.clone(),
            preferred: req.preferred.clone(),
        };
        if let Some(name) = &req.queue {
            route.queue = self.queue_slot(name)?;
            return Ok(Some(route));
        }
        let Some(action) = self.rules.evaluate(&req.attributes) else {
            return Ok(None);
        };
        route.queue = self.queue_slot(&action.queue)?;
        route.priority = action.priority.unwrap_or(req.priority);
        route.required.extend(action.required.iter().cloned());
        route.preferred.extend(action.preferred.iter().cloned());
        Ok(Some(route))
    }

    /// A call's skill requirements, interned; the highest level wins for a repeated
    /// skill.
    fn skill_levels(&mut self, reqs: &[SkillRequirement]) -> Vec<SkillLevel> {
        let mut out: Vec<SkillLevel> = Vec::with_capacity(reqs.len());
        for r in reqs {
            let skill = self.skill_slot(&r.skill);
            match out.iter_mut().find(|s| s.skill == skill) {
                Some(s) => s.level = s.level.max(r.level),
                None => out.push(SkillLevel {
                    skill,
                    level: r.level,
                }),
            }
        }
        out
    }

    /// Puts call `c` into queue `q` (at the tail), unless the queue's limits send it
    /// elsewhere, and offers it if an agent may take it.
    fn admit(&mut self, now: Instant, c: CallSlot, q: QueueSlot) {
        self.call_mut(c).queue = q;
        let queue = &self.queues[q.ix()];
        if !self.call(c).callback {
            if queue.cfg.overflow.when_no_agents.is_some() && queue.logged_in == 0 {
                return self.overflow(now, c, OverflowReason::NoAgents);
            }
            if queue.cfg.max_len.is_some_and(|max| queue.holding >= max) {
                return self.overflow(now, c, OverflowReason::QueueFull);
            }
        }
        let seq = self.tail_seq;
        self.tail_seq += 1;
        let (tier_limit, announce) = (queue.cfg.tier_limit, queue.cfg.announce);
        let call = self.call_mut(c);
        call.extra.clear();
        call.tier_limit = tier_limit;
        call.entered = now;
        call.seq = seq;
        call.state = CallState::Waiting;
        call.next_step = 0;
        call.attached = true;
        call.next_announce = match call.callback {
            false => announce.map(|a| now + a.first_after),
            true => None,
        };
        let (callback, priority, id) = (call.callback, call.priority, call.id.clone());
        let queue = &mut self.queues[q.ix()];
        queue.counters.entered += 1;
        queue.holding += u32::from(!callback);
        let queue = queue.id.clone();
        self.emit(Output::Queued {
            call: id,
            queue,
            priority,
        });
        self.list(c);
        self.schedule_call(c);
        self.serve_call(now, c);
    }

    /// Adds a waiting call to the `waiting` sets of its queues.
    pub(super) fn list(&mut self, c: CallSlot) {
        let Some(call) = self.calls[c.ix()].as_ref() else {
            return;
        };
        let key = call.key(c);
        for q in call.queues() {
            self.queues[q.ix()].waiting.insert(key);
        }
    }

    /// Removes a call from the `waiting` sets of its queues (before its key changes).
    pub(super) fn unlist(&mut self, c: CallSlot) {
        let Some(call) = self.calls[c.ix()].as_ref() else {
            return;
        };
        let key = call.key(c);
        for q in call.queues() {
            self.queues[q.ix()].waiting.remove(&key);
        }
    }

    /// Takes the call out of its queue's accounting (it was answered or leaves).
    fn detach(&mut self, c: CallSlot) {
        if !self.call(c).attached {
            return;
        }
        if self.call(c).state == CallState::Waiting {
            self.unlist(c);
        }
        let call = self.call_mut(c);
        call.attached = false;
        let (q, callback) = (call.queue, call.callback);
        if !callback {
            let queue = &mut self.queues[q.ix()];
            queue.holding = queue.holding.saturating_sub(1);
        }
    }

    fn remove_call(&mut self, c: CallSlot) {
        self.detach(c);
        if let Some(mut call) = self.calls[c.ix()].take() {
            self.timers.clear(&mut call.timer);
            self.call_names.remove(&call.id);
            self.free_calls.push(c);
        }
    }

    /// The call's next deadline: ring timeout while offered; next escalation step,
    /// maximum wait or announcement while waiting.
    pub(super) fn schedule_call(&mut self, c: CallSlot) {
        let Some(call) = self.calls[c.ix()].as_mut() else {
            return;
        };
        let cfg = &self.queues[call.queue.ix()].cfg;
        let at = match &call.state {
            CallState::Offered { deadline, .. } => Some(*deadline),
            CallState::Connected { .. } => None,
            CallState::Waiting => {
                let step = cfg
                    .escalation
                    .get(call.next_step)
                    .map(|s| call.entered + s.after);
                let (wait, announce) = match call.callback {
                    true => (None, None),
                    false => (cfg.max_wait.map(|m| call.entered + m), call.next_announce),
                };
                [step, wait, announce].into_iter().flatten().min()
            }
        };
        match at {
            Some(t) => self.timers.set(&mut call.timer, t, TimerOwner::Call(c)),
            None => self.timers.clear(&mut call.timer),
        }
    }

    pub(super) fn call_timer(&mut self, now: Instant, c: CallSlot) {
        match self.call(c).state {
            CallState::Offered { deadline, .. } if deadline <= now => self.ring_timeout(now, c),
            CallState::Waiting => self.waiting_timer(now, c),
            _ => self.schedule_call(c),
        }
    }

    fn ring_timeout(&mut self, now: Instant, c: CallSlot) {
        let CallState::Offered { agents, .. } = self.call(c).state.clone() else {
            return;
        };
        for a in agents {
            let out = Output::CancelOffer {
                call: self.call(c).id.clone(),
                agent: self.agents[a.ix()].id.clone(),
                reason: CancelReason::RingTimeout,
            };
            self.emit(out);
            self.drop_from_offer(now, c, a);
            self.after_refusal(now, a, RefuseReason::NoAnswer);
        }
    }

    fn waiting_timer(&mut self, now: Instant, c: CallSlot) {
        self.escalate_due(now, c);
        let call = self.call(c);
        if call.state != CallState::Waiting {
            return;
        }
        let cfg = &self.queues[call.queue.ix()].cfg;
        if !call.callback && cfg.max_wait.is_some_and(|m| call.entered + m <= now) {
            return self.overflow(now, c, OverflowReason::TimedOut);
        }
        if let Some(a) = cfg.announce
            && !call.callback
            && call.next_announce.is_some_and(|t| t <= now)
        {
            self.call_mut(c).next_announce = Some(now + a.period);
            self.announce(now, c);
        }
        self.schedule_call(c);
    }

    /// Applies every escalation step of the call's queue that is due, then offers the
    /// call if that made an agent eligible.
    fn escalate_due(&mut self, now: Instant, c: CallSlot) {
        let mut changed = false;
        loop {
            let call = self.call(c);
            let (q, i) = (call.queue, call.next_step);
            let queue = &self.queues[q.ix()];
            match queue.cfg.escalation.get(i) {
                Some(s) if call.entered + s.after <= now => {}
                _ => break,
            }
            let step = queue.steps[i].clone();
            self.unlist(c);
            apply_step(self.call_mut(c), &step);
            self.call_mut(c).next_step = i + 1;
            self.list(c);
            let out = Output::Escalate {
                call: self.call(c).id.clone(),
                queue: self.queues[q.ix()].id.clone(),
                step: u32::try_from(i).unwrap_or(u32::MAX),
            };
            self.emit(out);
            changed = true;
        }
        if changed {
            self.serve_call(now, c);
        }
    }

    /// Puts a call whose offer failed back at the head of its queue.
    pub(super) fn requeue(&mut self, now: Instant, c: CallSlot) {
        let seq = self.head_seq;
        self.head_seq -= 1;
        let call = self.call_mut(c);
        call.seq = seq;
        call.state = CallState::Waiting;
        self.list(c);
        self.schedule_call(c);
        self.serve_call(now, c);
    }

    pub(super) fn answered(
        &mut self,
        now: Instant,
        call: &CallId,
        agent: &AgentId,
    ) -> Result<(), AcdError> {
        let c = self.call_slot(call)?;
        let a = self.agent_slot(agent)?;
        let others: Vec<AgentSlot> = match &self.call(c).state {
            CallState::Offered { agents, .. } if agents.contains(&a) => {
                agents.iter().copied().filter(|x| *x != a).collect()
            }
            _ => return Err(no_offer(call, agent)),
        };
        let (q, wait) = (
            self.call(c).queue,
            now.saturating_duration_since(self.call(c).entered),
        );
        let queue = &mut self.queues[q.ix()];
        let threshold = queue.cfg.service_level_threshold;
        queue.counters.record_exit(true, wait, threshold);
        queue.patience.observe(wait, false);
        self.detach(c);
        let entry = self.call_mut(c);
        entry.state = CallState::Connected {
            agent: a,
            since: now,
        };
        self.schedule_call(c);
        for &o in &others {
            self.cancel(o, c, CancelReason::AnsweredElsewhere);
            self.set_act(now, o, Act::Idle);
        }
        self.agents[a.ix()].misses = 0;
        self.set_act(now, a, Act::OnCall(c));
        for o in others {
            self.agent_freed(now, o);
        }
        Ok(())
    }

    fn cancel(&mut self, a: AgentSlot, c: CallSlot, reason: CancelReason) {
        let out = Output::CancelOffer {
            call: self.call(c).id.clone(),
            agent: self.agents[a.ix()].id.clone(),
            reason,
        };
        self.emit(out);
    }

    pub(super) fn refused(
        &mut self,
        now: Instant,
        call: &CallId,
        agent: &AgentId,
        reason: RefuseReason,
    ) -> Result<(), AcdError> {
        let c = self.call_slot(call)?;
        let a = self.agent_slot(agent)?;
        match &self.call(c).state {
            CallState::Offered { agents, .. } if agents.contains(&a) => {}
            _ => return Err(no_offer(call, agent)),
        }
        self.drop_from_offer(now, c, a);
        self.after_refusal(now, a, reason);
        Ok(())
    }

    pub(super) fn abandon(&mut self, now: Instant, call: &CallId) -> Result<(), AcdError> {
        let c = self.call_slot(call)?;
        let ringing = match &self.call(c).state {
            CallState::Connected { .. } => return self.call_ended(now, call),
            CallState::Waiting => Vec::new(),
            CallState::Offered { agents, .. } => agents.clone(),
        };
        let (q, wait) = (
            self.call(c).queue,
            now.saturating_duration_since(self.call(c).entered),
        );
        let queue = &mut self.queues[q.ix()];
        let threshold = queue.cfg.service_level_threshold;
        queue.counters.record_exit(false, wait, threshold);
        queue.patience.observe(wait, true);
        for &a in &ringing {
            self.cancel(a, c, CancelReason::CallerAbandoned);
        }
        self.remove_call(c);
        for &a in &ringing {
            self.set_act(now, a, Act::Idle);
        }
        for a in ringing {
            self.agent_freed(now, a);
        }
        Ok(())
    }

    pub(super) fn call_ended(&mut self, now: Instant, call: &CallId) -> Result<(), AcdError> {
        let c = self.call_slot(call)?;
        let CallState::Connected { agent: a, since } = self.call(c).state else {
            return self.abandon(now, call);
        };
        let talk = now.saturating_duration_since(since);
        let q = self.call(c).queue;
        let queue = &mut self.queues[q.ix()];
        queue.counters.handled += 1;
        queue.counters.talk += talk;
        queue.handle.observe(talk);
        let wrap = queue.cfg.wrap_up;
        let agent = &mut self.agents[a.ix()];
        agent.counters.handled += 1;
        agent.counters.talk += talk;
        self.remove_call(c);
        if wrap.is_zero() || self.agents[a.ix()].presence == Presence::LoggedOut {
            self.set_act(now, a, Act::Idle);
            self.agent_freed(now, a);
        } else {
            self.set_act(
                now,
                a,
                Act::WrapUp {
                    until: now + wrap,
                    queue: q,
                },
            );
        }
        Ok(())
    }

    /// Sends a waiting call (or one being admitted) to its queue's overflow target
    /// for `reason`.
    fn overflow(&mut self, now: Instant, c: CallSlot, reason: OverflowReason) {
        let q = self.call(c).queue;
        let policy = &self.queues[q.ix()].cfg.overflow;
        let mut target = match reason {
            OverflowReason::QueueFull => policy.when_full.clone(),
            OverflowReason::TimedOut => policy.when_timed_out.clone(),
            OverflowReason::NoAgents => policy
                .when_no_agents
                .clone()
                .unwrap_or(OverflowTarget::Disconnect),
            OverflowReason::NoRoute | OverflowReason::TooManyHops => OverflowTarget::Disconnect,
        };
        let mut reason = reason;
        if matches!(target, OverflowTarget::Queue(_)) && self.call(c).hops >= self.max_hops {
            (target, reason) = (OverflowTarget::Disconnect, OverflowReason::TooManyHops);
        }
        let out = Output::Overflow {
            call: self.call(c).id.clone(),
            from: Some(self.queues[q.ix()].id.clone()),
            reason,
            target: target.clone(),
        };
        self.emit(out);
        if target == OverflowTarget::Callback {
            return self.make_callback(now, c);
        }
        self.detach(c);
        self.queues[q.ix()].counters.overflowed += 1;
        match target {
            OverflowTarget::Queue(name) => {
                self.call_mut(c).hops += 1;
                // Overflow targets were resolved when the engine was built.
                let q2 = self.queue_names[&name];
                self.admit(now, c, q2);
            }
            _ => self.remove_call(c),
        }
    }

    /// The caller hangs up and keeps their place: no announcements, no timeout.
    fn make_callback(&mut self, now: Instant, c: CallSlot) {
        let attached = self.call(c).attached;
        if attached {
            self.detach(c);
        }
        let call = self.call_mut(c);
        call.callback = true;
        call.next_announce = None;
        if attached {
            call.attached = true;
            self.list(c);
            self.schedule_call(c);
        } else {
            let q = call.queue;
            self.admit(now, c, q);
        }
    }

    /// The last member of `q` logged out: waiting callers go to the no-agents target.
    pub(super) fn sweep_no_agents(&mut self, now: Instant, q: QueueSlot) {
        let calls: Vec<CallSlot> = self.queues[q.ix()].waiting.iter().map(|k| k.call).collect();
        for c in calls {
            let Some(call) = self.calls[c.ix()].as_ref() else {
                continue;
            };
            if call.queue == q && !call.callback && call.state == CallState::Waiting {
                self.overflow(now, c, OverflowReason::NoAgents);
            }
        }
    }
}

fn no_offer(call: &CallId, agent: &AgentId) -> AcdError {
    AcdError::NoSuchOffer {
        call: call.clone(),
        agent: agent.clone(),
    }
}

fn apply_step(call: &mut CallEntry, step: &Step) {
    match step {
        Step::WidenTiers(l) => call.tier_limit = call.tier_limit.max(*l),
        Step::LowerRequired(by) => {
            for r in &mut call.required {
                r.level = r.level.saturating_sub(*by).max(1);
            }
        }
        Step::DropRequired => {
            let dropped = std::mem::take(&mut call.required);
            call.preferred.extend(dropped);
        }
        Step::AddQueues(qs) => {
            for q in qs {
                if *q != call.queue && !call.extra.contains(q) {
                    call.extra.push(*q);
                }
            }
        }
        Step::RaisePriority(by) => call.priority = call.priority.saturating_add(*by),
    }
}
