//! Queue and agent statistics over the bridge.
//!
//! The ACD counts from the node's start (`acd::QueueStats`, `acd::AgentStats`);
//! reporting wants periods. Every `[bridge] stats_period_s` (15 minutes by
//! default, ending on multiples of the length in wall-clock time, so :00, :15,
//! :30, :45) [`Periods`] turns two snapshots into each queue's and agent's
//! figures for the period between them, and the task writes them to the bridge
//! outbox as history. Their item keys are the subject and the period's start, so
//! a period written twice crosses once.
//!
//! The first period after a start begins at the start (the counters began
//! there too); a period the node did not live to close is not reported. An
//! idle period (nothing offered, no agent logged in) is reported all the same:
//! a row of zeros is a fact a dashboard in the cloud can chart.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use acd::{AgentState, AgentStats, QueueStats};
use sync_bridge::classify::{AgentFacts, QueueFacts};
use sync_bridge::outbox::store as outbox_store;
use sync_bridge::wire::{Item, Priority};

use crate::acd::AcdHandle;
use crate::bridge::NodeBridge;
use crate::store::Store;

/// A queue's counters at a period's edge.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct QueueMark {
    entered: u64,
    answered: u64,
    answered_in_sl: u64,
    abandoned: u64,
    total_wait: Duration,
}

impl QueueMark {
    fn of(s: &QueueStats) -> Self {
        let total_wait = s
            .average_speed_of_answer
            .map_or(Duration::ZERO, |asa| asa.saturating_mul(count(s.answered)));
        Self {
            entered: s.entered,
            answered: s.answered,
            answered_in_sl: s.answered_within_threshold,
            abandoned: s.abandoned,
            total_wait,
        }
    }
}

/// An agent's counters at a period's edge.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct AgentMark {
    offered: u64,
    handled: u64,
    talk: Duration,
    ready: Duration,
    wrap_up: Duration,
}

impl AgentMark {
    fn of(s: &AgentStats) -> Self {
        Self {
            offered: s.calls_handled + s.offers_missed + s.offers_refused,
            handled: s.calls_handled,
            talk: s.time_in.get(AgentState::OnCall),
            ready: s.time_in.get(AgentState::Available),
            wrap_up: s.time_in.get(AgentState::WrapUp),
        }
    }
}

/// One queue's figures for a period, owned (the classifier borrows them).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QueuePeriod {
    queue: String,
    offered: u32,
    answered: u32,
    abandoned: u32,
    within_service_level: u32,
    waiting: u32,
    agents_ready: u32,
    longest_wait_ms: u64,
    total_wait_ms: u64,
}

/// One agent's figures for a period, owned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AgentPeriod {
    agent: String,
    offered: u32,
    handled: u32,
    talk_ms: u64,
    ready_ms: u64,
    wrap_up_ms: u64,
}

/// The figures of one closed period.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Closed {
    /// Start (unix ms).
    pub(crate) start_ms: i64,
    /// Length.
    pub(crate) length_ms: u32,
    pub(crate) queues: Vec<QueuePeriod>,
    pub(crate) agents: Vec<AgentPeriod>,
}

/// The periods' edges and the counters seen at the last one. Pure: it takes
/// snapshots and wall-clock times.
#[derive(Debug)]
pub(crate) struct Periods {
    length_ms: i64,
    start_ms: i64,
    queues: HashMap<String, QueueMark>,
    agents: HashMap<String, AgentMark>,
}

impl Periods {
    /// Periods of `length`, the first starting at `now_ms` with every counter
    /// at zero.
    pub(crate) fn new(length: Duration, now_ms: i64) -> Self {
        Self {
            length_ms: i64::try_from(length.as_millis()).unwrap_or(i64::MAX).max(1),
            start_ms: now_ms,
            queues: HashMap::new(),
            agents: HashMap::new(),
        }
    }

    /// When the current period ends (unix ms): the next multiple of the length.
    pub(crate) fn end_ms(&self) -> i64 {
        (self.start_ms / self.length_ms + 1).saturating_mul(self.length_ms)
    }

    /// Closes the current period at `now_ms` with the counters in `queues` and
    /// `agents`, and starts the next.
    pub(crate) fn close(
        &mut self,
        now_ms: i64,
        queues: &[QueueStats],
        agents: &[AgentStats],
    ) -> Closed {
        let start_ms = self.start_ms;
        let length_ms = u32::try_from((now_ms - start_ms).max(0)).unwrap_or(u32::MAX);
        self.start_ms = now_ms;
        let queues = queues
            .iter()
            .map(|s| {
                let now = QueueMark::of(s);
                let was = self
                    .queues
                    .insert(s.queue.to_string(), now)
                    .unwrap_or_default();
                QueuePeriod {
                    queue: s.queue.to_string(),
                    offered: delta(now.entered, was.entered),
                    answered: delta(now.answered, was.answered),
                    abandoned: delta(now.abandoned, was.abandoned),
                    within_service_level: delta(now.answered_in_sl, was.answered_in_sl),
                    waiting: s.waiting,
                    agents_ready: s.agents_available,
                    longest_wait_ms: millis(s.longest_wait),
                    total_wait_ms: millis(now.total_wait.saturating_sub(was.total_wait)),
                }
            })
            .collect();
        let agents = agents
            .iter()
            .map(|s| {
                let now = AgentMark::of(s);
                let was = self
                    .agents
                    .insert(s.agent.to_string(), now)
                    .unwrap_or_default();
                AgentPeriod {
                    agent: s.agent.to_string(),
                    offered: delta(now.offered, was.offered),
                    handled: delta(now.handled, was.handled),
                    talk_ms: millis(now.talk.saturating_sub(was.talk)),
                    ready_ms: millis(now.ready.saturating_sub(was.ready)),
                    wrap_up_ms: millis(now.wrap_up.saturating_sub(was.wrap_up)),
                }
            })
            .collect();
        Closed {
            start_ms,
            length_ms,
            queues,
            agents,
        }
    }
}

/// Growth of a counter, 0 if it went back (the engine was rebuilt).
fn delta(now: u64, was: u64) -> u32 {
    u32::try_from(now.saturating_sub(was)).unwrap_or(u32::MAX)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The outbox items of a closed period: classified, history priority.
pub(crate) fn items(bridge: &NodeBridge, closed: &Closed) -> Vec<Item> {
    let classifier = bridge.classifier();
    let queues = closed.queues.iter().map(|q| {
        let stats = classifier.queue_stats(&QueueFacts {
            queue: &q.queue,
            period_start_ms: closed.start_ms,
            period_ms: closed.length_ms,
            offered: q.offered,
            answered: q.answered,
            abandoned: q.abandoned,
            within_service_level: q.within_service_level,
            waiting: q.waiting,
            agents_ready: q.agents_ready,
            longest_wait_ms: q.longest_wait_ms,
            total_wait_ms: q.total_wait_ms,
        });
        Item::classified(&stats, Priority::History)
    });
    let agents = closed.agents.iter().map(|a| {
        let stats = classifier.agent_stats(&AgentFacts {
            agent: &a.agent,
            period_start_ms: closed.start_ms,
            period_ms: closed.length_ms,
            offered: a.offered,
            handled: a.handled,
            talk_ms: a.talk_ms,
            ready_ms: a.ready_ms,
            wrap_up_ms: a.wrap_up_ms,
        });
        Item::classified(&stats, Priority::History)
    });
    // A few dozen bytes each: always within a frame.
    queues.chain(agents).filter_map(Result::ok).collect()
}

/// Closes a period at each edge and writes its figures to the outbox.
pub(crate) async fn run(bridge: Arc<NodeBridge>, acd: AcdHandle, store: Store, length: Duration) {
    let mut periods = Periods::new(length, crate::api::unix_ms_now());
    loop {
        let wait = periods.end_ms() - crate::api::unix_ms_now();
        tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0))).await;
        let (queues, agents) = (acd.queue_stats().await, acd.agent_stats().await);
        let closed = periods.close(crate::api::unix_ms_now(), &queues, &agents);
        let items = items(&bridge, &closed);
        match write(&store, &items).await {
            Ok(()) => bridge.committed(),
            Err(error) => tracing::warn!(%error, "statistics period not written to the outbox"),
        }
    }
}

async fn write(store: &Store, items: &[Item]) -> Result<(), sqlx::Error> {
    let mut tx = store.pool().begin().await?;
    let at = crate::api::unix_ms_now();
    for item in items {
        outbox_store::enqueue(&mut tx, item, at)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use acd::{AgentConfig, QueueConfig, Strategy};

    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);
    /// 2026-11-23 10:07:30 UTC, in unix ms.
    const T0: i64 = 1_795_428_450_000;

    fn queue(entered: u64, answered: u64, in_sl: u64, abandoned: u64, asa_s: u64) -> QueueStats {
        let engine = acd::Acd::new(acd::AcdConfig {
            queues: vec![QueueConfig::new("sales", Strategy::LongestIdle)],
            agents: vec![AgentConfig::new("1001")],
            ..Default::default()
        })
        .expect("a valid engine");
        let mut s = engine
            .queue_stats(&"sales".into(), std::time::Instant::now())
            .expect("the queue");
        s.entered = entered;
        s.answered = answered;
        s.answered_within_threshold = in_sl;
        s.abandoned = abandoned;
        s.average_speed_of_answer = (answered > 0).then(|| Duration::from_secs(asa_s));
        s.waiting = 2;
        s.agents_available = 1;
        s.longest_wait = Duration::from_secs(40);
        s
    }

    #[test]
    fn periods_end_on_multiples_of_their_length() {
        let periods = Periods::new(15 * MINUTE, T0);
        // 10:07:30 → 10:15:00.
        assert_eq!(periods.end_ms(), T0 + 450_000);
        let mut periods = Periods::new(15 * MINUTE, T0);
        let closed = periods.close(T0 + 450_000, &[], &[]);
        assert_eq!((closed.start_ms, closed.length_ms), (T0, 450_000));
        assert_eq!(periods.end_ms(), T0 + 450_000 + 900_000);
    }

    #[test]
    fn each_period_reports_what_happened_in_it() {
        let mut periods = Periods::new(15 * MINUTE, T0);
        let first = periods.close(T0 + 450_000, &[queue(10, 8, 6, 2, 15)], &[]);
        let q = &first.queues[0];
        assert_eq!(q.queue, "sales");
        assert_eq!(
            (q.offered, q.answered, q.within_service_level, q.abandoned),
            (10, 8, 6, 2),
            "from zero: the counters began with the node"
        );
        assert_eq!(q.total_wait_ms, 8 * 15_000);
        assert_eq!(
            (q.waiting, q.agents_ready, q.longest_wait_ms),
            (2, 1, 40_000)
        );
        let second = periods.close(T0 + 1_350_000, &[queue(13, 10, 7, 3, 16)], &[]);
        let q = &second.queues[0];
        assert_eq!(
            (q.offered, q.answered, q.within_service_level, q.abandoned),
            (3, 2, 1, 1)
        );
        assert_eq!(q.total_wait_ms, 10 * 16_000 - 8 * 15_000);
        assert_eq!(second.start_ms, T0 + 450_000);
        let quiet = periods.close(T0 + 2_250_000, &[queue(13, 10, 7, 3, 16)], &[]);
        assert_eq!(quiet.queues[0].offered, 0, "an idle period is all zeros");
    }

    #[test]
    fn a_counter_that_went_back_counts_nothing_rather_than_wrapping() {
        let mut periods = Periods::new(MINUTE, T0);
        let _ = periods.close(T0 + 30_000, &[queue(10, 8, 6, 2, 15)], &[]);
        let closed = periods.close(T0 + 90_000, &[queue(1, 0, 0, 0, 0)], &[]);
        assert_eq!(closed.queues[0].offered, 0);
        assert_eq!(closed.queues[0].total_wait_ms, 0);
    }
}
