//! Supervisor alerts from the queues' live figures, and `queue.stats` events.
//!
//! [`QueueWatch`] is pure: it is handed each snapshot of the queues (from the
//! ACD through [`LiveNode::queues`](crate::api::LiveNode::queues)) and returns
//! what to publish. A queue's figures go out as `queue.stats` when they changed;
//! an `alert` is raised once when a queue *enters* a bad state — its longest
//! wait reaches [`LONG_WAIT_MS`], or its service level falls below
//! [`SERVICE_LEVEL_TARGET`] once [`MIN_CALLS`] calls were answered or abandoned —
//! and once more (`severity: "cleared"`) when it leaves it. A task in the node
//! polls every [`POLL`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::api::{Event, EventBus, EventKind, LiveNode, QueueSummary};

/// A caller waiting this long raises an alert.
pub(crate) const LONG_WAIT_MS: u64 = 60_000;
/// Below this share of calls answered within the threshold, an alert.
pub(crate) const SERVICE_LEVEL_TARGET: f64 = 0.8;
/// Calls (answered or abandoned) before the service level is judged.
pub(crate) const MIN_CALLS: u64 = 10;
/// How often the node looks at the queues.
pub(crate) const POLL: Duration = Duration::from_secs(5);

/// A bad state a queue can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Condition {
    LongWait,
    LowServiceLevel,
}

/// What the watch remembers of each queue.
#[derive(Debug, Default)]
pub(crate) struct QueueWatch {
    last: HashMap<String, QueueSummary>,
    raised: HashMap<(String, Condition), bool>,
}

impl QueueWatch {
    /// The events one snapshot calls for, stamped `at` (unix ms).
    pub(crate) fn update(&mut self, queues: &[QueueSummary], at: i64) -> Vec<Event> {
        let mut out = Vec::new();
        for q in queues {
            if self.last.get(&q.queue) != Some(q) {
                let stats = serde_json::to_value(q).unwrap_or_default();
                out.push(
                    Event::new(EventKind::QueueStats, at)
                        .queue(q.queue.clone())
                        .data(stats),
                );
                self.last.insert(q.queue.clone(), q.clone());
            }
            for (condition, now_bad, reason) in conditions(q) {
                let was_bad = self.raised.insert((q.queue.clone(), condition), now_bad);
                if was_bad.unwrap_or(false) == now_bad {
                    continue;
                }
                let severity = if now_bad { "warning" } else { "cleared" };
                out.push(
                    Event::new(EventKind::Alert, at)
                        .queue(q.queue.clone())
                        .data(json!({ "severity": severity, "reason": reason })),
                );
            }
        }
        out
    }
}

/// Each condition of `q`: whether it holds, and its words.
fn conditions(q: &QueueSummary) -> [(Condition, bool, String); 2] {
    let judged = q.answered + q.abandoned >= MIN_CALLS;
    let level = q.service_level.unwrap_or(1.0);
    [
        (
            Condition::LongWait,
            q.waiting > 0 && q.longest_wait_ms >= LONG_WAIT_MS,
            format!(
                "queue {}: a caller has waited {} s",
                q.queue,
                q.longest_wait_ms / 1000
            ),
        ),
        (
            Condition::LowServiceLevel,
            judged && level < SERVICE_LEVEL_TARGET,
            format!(
                "queue {}: service level {:.0} % (target {:.0} %)",
                q.queue,
                level * 100.0,
                SERVICE_LEVEL_TARGET * 100.0
            ),
        ),
    ]
}

/// Polls the queues and publishes what the watch says, for as long as the node runs.
pub(crate) async fn run(live: Arc<dyn LiveNode>, events: EventBus) {
    let mut watch = QueueWatch::default();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let queues = live.queues().await;
        for event in watch.update(&queues, crate::api::unix_ms_now()) {
            events.publish(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(
        waiting: u32,
        longest_wait_ms: u64,
        answered: u64,
        level: Option<f64>,
    ) -> QueueSummary {
        QueueSummary {
            queue: "support".to_owned(),
            waiting,
            longest_wait_ms,
            agents_logged_in: 2,
            agents_available: 0,
            entered: answered + u64::from(waiting),
            answered,
            abandoned: 0,
            service_level: level,
        }
    }

    fn kinds(events: &[Event]) -> Vec<(&'static str, String)> {
        events
            .iter()
            .map(|e| {
                let severity = e
                    .data
                    .get("severity")
                    .and_then(|s| s.as_str())
                    .unwrap_or("");
                (e.kind.as_str(), severity.to_owned())
            })
            .collect()
    }

    #[test]
    fn figures_go_out_when_they_change_and_only_then() {
        let mut w = QueueWatch::default();
        let q = queue(1, 5_000, 3, Some(1.0));
        assert_eq!(
            kinds(&w.update(std::slice::from_ref(&q), 0)),
            [("queue.stats", String::new())]
        );
        assert!(
            w.update(std::slice::from_ref(&q), 1).is_empty(),
            "nothing changed"
        );
    }

    #[test]
    fn a_long_wait_alerts_once_and_clears_once() {
        let mut w = QueueWatch::default();
        w.update(&[queue(1, 5_000, 3, Some(1.0))], 0);
        let late = w.update(&[queue(1, 61_000, 3, Some(1.0))], 1);
        assert_eq!(
            kinds(&late),
            [
                ("queue.stats", String::new()),
                ("alert", "warning".to_owned())
            ]
        );
        let later = w.update(&[queue(1, 70_000, 3, Some(1.0))], 2);
        assert_eq!(
            kinds(&later),
            [("queue.stats", String::new())],
            "raised once"
        );
        let served = w.update(&[queue(0, 0, 4, Some(1.0))], 3);
        assert_eq!(
            kinds(&served),
            [
                ("queue.stats", String::new()),
                ("alert", "cleared".to_owned())
            ]
        );
    }

    #[test]
    fn the_service_level_is_judged_after_enough_calls() {
        let mut w = QueueWatch::default();
        let few = w.update(&[queue(0, 0, 4, Some(0.5))], 0);
        assert!(
            kinds(&few).iter().all(|(k, _)| *k != "alert"),
            "4 calls: too few"
        );
        let many = w.update(&[queue(0, 0, 12, Some(0.5))], 1);
        assert!(
            kinds(&many).contains(&("alert", "warning".to_owned())),
            "{:?}",
            kinds(&many)
        );
        let reason = many
            .iter()
            .find(|e| e.kind == EventKind::Alert)
            .map(|e| e.data["reason"].clone());
        assert_eq!(
            reason,
            Some(json!("queue support: service level 50 % (target 80 %)"))
        );
    }
}
