//! Live statistics: counters the engine keeps per queue and per agent, and the
//! snapshot types the dashboard and metrics read.
//!
//! Counters are cumulative since the engine was built; a metrics exporter turns them
//! into rates. Definitions (also in `docs/acd.md`):
//!
//! - *service level* = answered within `T` / (answered + abandoned after `T`), where `T`
//!   is the queue's `service_level_threshold`; callers who hang up within `T` count for
//!   neither side.
//! - *average speed of answer* = total wait of answered calls / answered.
//! - *abandon rate* = abandoned / (answered + abandoned).
//! - *average handle time* = (talk time + wrap-up time) / calls handled.
//! - *occupancy* = time reserved, on call or in wrap-up / time logged in and not on a
//!   not-ready break (available + reserved + on call + wrap-up + cooldown).

use std::time::{Duration, Instant};

use crate::id::{AgentId, QueueId};
use crate::io::{Activity, AgentState, Presence};

/// Per-queue counters.
#[derive(Clone, Debug, Default)]
pub(crate) struct QueueCounters {
    pub(crate) entered: u64,
    pub(crate) answered: u64,
    pub(crate) answered_in_sl: u64,
    pub(crate) abandoned: u64,
    pub(crate) abandoned_in_sl: u64,
    pub(crate) overflowed: u64,
    pub(crate) answered_wait: Duration,
    pub(crate) handled: u64,
    pub(crate) talk: Duration,
    pub(crate) wrap: Duration,
}

impl QueueCounters {
    /// A caller left the queue answered (`true`) or abandoned after `wait`.
    pub(crate) fn record_exit(&mut self, answered: bool, wait: Duration, threshold: Duration) {
        let in_sl = wait <= threshold;
        if answered {
            self.answered += 1;
            self.answered_in_sl += u64::from(in_sl);
            self.answered_wait += wait;
        } else {
            self.abandoned += 1;
            self.abandoned_in_sl += u64::from(in_sl);
        }
    }
}

/// A queue's live figures.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueStats {
    /// The queue.
    pub queue: QueueId,
    /// Callers waiting for an agent now (callbacks included, ringing calls not).
    pub waiting: u32,
    /// Of those, callbacks.
    pub callbacks_waiting: u32,
    /// The longest current wait among callers waiting or ringing.
    pub longest_wait: Duration,
    /// Members logged in.
    pub agents_logged_in: u32,
    /// Members available now.
    pub agents_available: u32,
    /// Calls that entered the queue.
    pub entered: u64,
    /// Calls answered.
    pub answered: u64,
    /// Of those, answered within the service-level threshold.
    pub answered_within_threshold: u64,
    /// Calls abandoned while waiting or ringing.
    pub abandoned: u64,
    /// Of those, abandoned within the threshold (short abandons).
    pub abandoned_within_threshold: u64,
    /// Calls that overflowed out of the queue.
    pub overflowed: u64,
    /// Service level in 0..=1; `None` before any call counts.
    pub service_level: Option<f64>,
    /// Average speed of answer.
    pub average_speed_of_answer: Option<Duration>,
    /// Abandon rate in 0..=1.
    pub abandon_rate: Option<f64>,
    /// Average handle time (talk plus wrap-up) of calls handled.
    pub average_handle_time: Option<Duration>,
}

impl QueueStats {
    pub(crate) fn from_counters(queue: QueueId, c: &QueueCounters) -> Self {
        let sl_base = c.answered + (c.abandoned - c.abandoned_in_sl);
        let finished = c.answered + c.abandoned;
        Self {
            queue,
            waiting: 0,
            callbacks_waiting: 0,
            longest_wait: Duration::ZERO,
            agents_logged_in: 0,
            agents_available: 0,
            entered: c.entered,
            answered: c.answered,
            answered_within_threshold: c.answered_in_sl,
            abandoned: c.abandoned,
            abandoned_within_threshold: c.abandoned_in_sl,
            overflowed: c.overflowed,
            service_level: ratio(c.answered_in_sl, sl_base),
            average_speed_of_answer: per(c.answered_wait, c.answered),
            abandon_rate: ratio(c.abandoned, finished),
            average_handle_time: per(c.talk + c.wrap, c.handled),
        }
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    // Counts stay far below 2^52, where u64 → f64 is exact.
    (den > 0).then(|| num as f64 / den as f64)
}

fn per(total: Duration, n: u64) -> Option<Duration> {
    (n > 0).then(|| total.div_f64(n as f64))
}

/// Time spent in each [`AgentState`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateDurations([Duration; 7]);

impl StateDurations {
    /// Time spent in `state`.
    pub fn get(&self, state: AgentState) -> Duration {
        self.0[state as usize]
    }

    fn add(&mut self, state: AgentState, d: Duration) {
        self.0[state as usize] += d;
    }
}

/// Per-agent counters and the state clock.
#[derive(Clone, Debug)]
pub(crate) struct AgentCounters {
    pub(crate) time_in: StateDurations,
    pub(crate) state: AgentState,
    pub(crate) since: Option<Instant>,
    pub(crate) handled: u64,
    pub(crate) missed: u64,
    pub(crate) refused: u64,
    pub(crate) talk: Duration,
    pub(crate) wrap: Duration,
}

impl Default for AgentCounters {
    fn default() -> Self {
        Self {
            time_in: StateDurations::default(),
            state: AgentState::LoggedOut,
            since: None,
            handled: 0,
            missed: 0,
            refused: 0,
            talk: Duration::ZERO,
            wrap: Duration::ZERO,
        }
    }
}

impl AgentCounters {
    /// Closes the current state's interval at `now` and enters `state`.
    pub(crate) fn enter(&mut self, state: AgentState, now: Instant) {
        if let Some(since) = self.since {
            self.time_in
                .add(self.state, now.saturating_duration_since(since));
        }
        self.state = state;
        self.since = Some(now);
    }

    /// How long the agent has been in its current state at `now`.
    pub(crate) fn in_state_for(&self, now: Instant) -> Duration {
        self.since
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }

    pub(crate) fn snapshot(
        &self,
        agent: AgentId,
        presence: Presence,
        activity: Activity,
        now: Instant,
    ) -> AgentStats {
        let mut time_in = self.time_in;
        time_in.add(self.state, self.in_state_for(now));
        let busy = [AgentState::Reserved, AgentState::OnCall, AgentState::WrapUp];
        let busy: Duration = busy.iter().map(|s| time_in.get(*s)).sum();
        let staffed = busy + time_in.get(AgentState::Available) + time_in.get(AgentState::Cooldown);
        AgentStats {
            agent,
            presence,
            activity,
            time_in,
            calls_handled: self.handled,
            offers_missed: self.missed,
            offers_refused: self.refused,
            talk_time: self.talk,
            wrap_time: self.wrap,
            occupancy: (!staffed.is_zero()).then(|| busy.as_secs_f64() / staffed.as_secs_f64()),
        }
    }
}

/// An agent's live figures.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentStats {
    /// The agent.
    pub agent: AgentId,
    /// Presence now.
    pub presence: Presence,
    /// Activity now.
    pub activity: Activity,
    /// Time in each state (the current one counted up to the query's `now`).
    pub time_in: StateDurations,
    /// Calls answered and ended.
    pub calls_handled: u64,
    /// Offers missed (ring timeout, no answer, unreachable).
    pub offers_missed: u64,
    /// Offers declined or busy.
    pub offers_refused: u64,
    /// Total talk time of handled calls.
    pub talk_time: Duration,
    /// Total wrap-up time.
    pub wrap_time: Duration,
    /// Occupancy in 0..=1; `None` before the agent has been staffed.
    pub occupancy: Option<f64>,
}
