//! Position and estimated wait of a waiting call (see [`crate::ewt`] for the model).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::Acd;
use super::matching::may_take;
use super::model::Act;
use crate::id::{AgentSlot, CallId, CallSlot};
use crate::io::{Output, Presence};

impl Acd {
    pub(super) fn announce(&mut self, now: Instant, c: CallSlot) {
        let (position, ewt) = self.forecast(now, c);
        let out = Output::Announce {
            call: self.call(c).id.clone(),
            position,
            ewt,
        };
        self.emit(out);
    }

    /// The position (1 = next) and estimated wait of a waiting call; `None` if the
    /// call is not waiting (ringing, connected or unknown).
    pub fn estimate_wait(&self, call: &CallId, now: Instant) -> Option<(u32, Option<Duration>)> {
        let c = *self.call_names.get(call)?;
        (self.call(c).state == super::model::CallState::Waiting).then(|| self.forecast(now, c))
    }

    fn forecast(&self, now: Instant, c: CallSlot) -> (u32, Option<Duration>) {
        let call = self.call(c);
        let queue = &self.queues[call.queue.ix()];
        let key = call.key(c);
        let ahead = queue.waiting.range(..key).count();
        let ahead = u32::try_from(ahead).unwrap_or(u32::MAX);
        let wrap = queue.cfg.wrap_up.as_secs_f64();
        let cycle = queue.handle.mean() + wrap;
        let mut seen: HashSet<AgentSlot> = HashSet::new();
        let mut residuals = Vec::new();
        for q in call.queues() {
            for &a in &self.queues[q.ix()].members {
                let agent = &self.agents[a.ix()];
                let eligible = agent.presence == Presence::Ready
                    && agent.tier_in(q).is_some_and(|m| may_take(agent, m, call));
                // Only a call widened to several queues can meet an agent twice.
                if !eligible || (!call.extra.is_empty() && !seen.insert(a)) {
                    continue;
                }
                let left = |until: Instant| until.saturating_duration_since(now).as_secs_f64();
                residuals.push(match agent.act {
                    Act::Idle => 0.0,
                    Act::Reserved(_) => cycle,
                    Act::OnCall(_) => {
                        let elapsed = agent.counters.in_state_for(now).as_secs_f64();
                        queue.handle.residual(elapsed) + wrap
                    }
                    Act::WrapUp { until, .. } | Act::Cooldown { until } => left(until),
                });
            }
        }
        let theta = queue.patience.hazard();
        let ewt = crate::ewt::estimate(ahead, &residuals, cycle, theta);
        (ahead.saturating_add(1), ewt)
    }
}
