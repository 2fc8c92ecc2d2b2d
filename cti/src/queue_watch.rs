//! Supervisor alerts from the queues' live figures, and `queue.stats` events.
//!
//! [`QueueWatch`] is pure: it is handed each snapshot of the queues (from the
//! ACD through [`LiveNode::queues`](crate::api::LiveNode::queues)) and returns
//! what to publish. A queue's figures go out as `queue.stats` when they changed;
//! an `alert` is raised once when a queue *enters* a bad state — its longest
//! wait reaches the queue's `alert_wait_s` ([`LONG_WAIT_MS`] by default), or its
//! service level falls below its `alert_service_level` ([`SERVICE_LEVEL_TARGET`])
//! once [`MIN_CALLS`] calls were answered or abandoned — and once more
//! (`severity: "cleared"`) when it leaves it. Each alert names its `condition`
//! (`long_wait` or `service_level`), so a client pairs a clearing with its raising.
//! A task in the node polls every [`POLL`].

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

impl Condition {
    /// The name alerts carry in `data.condition`.
    fn as_str(self) -> &'static str {
        match self {
            Self::LongWait => "long_wait",
            Self::LowServiceLevel => "service_level",
        }
    }
}

/// When one queue raises alerts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Thresholds {
    /// A caller waiting this long, in milliseconds.
    pub(crate) long_wait_ms: u64,
    /// A service level below this share (0..=1).
    pub(crate) service_level: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            long_wait_ms: LONG_WAIT_MS,
            service_level: SERVICE_LEVEL_TARGET,
        }
    }
}

impl From<&config::QueueOptions> for Thresholds {
    fn from(o: &config::QueueOptions) -> Self {
        Self {
            long_wait_ms: u64::try_from(o.alert_wait.as_millis()).unwrap_or(u64::MAX),
            service_level: o.alert_service_level,
        }
    }
}

/// What the watch remembers of each queue.
#[derive(Debug, Default)]
pub(crate) struct QueueWatch {
    last: HashMap<String, QueueSummary>,
    raised: HashMap<(String, Condition), bool>,
    /// Thresholds by queue name; a queue not listed has the defaults.
    thresholds: HashMap<String, Thresholds>,
}

impl QueueWatch {
    /// A watch using `thresholds` for the queues they name.
    pub(crate) fn new(thresholds: HashMap<String, Thresholds>) -> Self {
        Self {
            thresholds,
            ..Self::default()
        }
    }

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
            let limits = self.thresholds.get(&q.queue).copied().unwrap_or_default();
            for (condition, now_bad, reason) in conditions(q, limits) {
                let was_bad = self.raised.insert((q.queue.clone(), condition), now_bad);
                if was_bad.unwrap_or(false) == now_bad {
                    continue;
                }
                let severity = if now_bad { "warning" } else { "cleared" };
                let data = json!({
                    "severity": severity,
                    "reason": reason,
                    "condition": condition.as_str(),
                });
                out.push(
                    Event::new(EventKind::Alert, at)
                        .queue(q.queue.clone())
                        .data(data),
                );
            }
        }
        out
    }
}

/// Each condition of `q` under `limits`: whether it holds, and its words.
fn conditions(q: &QueueSummary, limits: Thresholds) -> [(Condition, bool, String); 2] {
    let judged = q.answered + q.abandoned >= MIN_CALLS;
    let level = q.service_level.unwrap_or(1.0);
    [
        (
            Condition::LongWait,
            q.waiting > 0 && q.longest_wait_ms >= limits.long_wait_ms,
            format!(
                "queue {}: a caller has waited {} s",
                q.queue,
                q.longest_wait_ms / 1000
            ),
        ),
        (
            Condition::LowServiceLevel,
            judged && level < limits.service_level,
            format!(
                "queue {}: service level {:.0} % (target {:.0} %)",
                q.queue,
                level * 100.0,
                limits.service_level * 100.0
            ),
        ),
    ]
}

/// Polls the queues and publishes what the watch says, for as long as the node runs;
/// `options` are the queues' configured thresholds.
pub(crate) async fn run(
    live: Arc<dyn LiveNode>,
    events: EventBus,
    options: std::collections::BTreeMap<String, config::QueueOptions>,
) {
    let thresholds = options
        .iter()
        .map(|(name, o)| (name.clone(), Thresholds::from(o)))
        .collect();
    let mut watch = QueueWatch::new(thresholds);
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
            callbacks_waiting: 0,
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
    fn each_queue_alerts_at_its_own_thresholds_and_names_the_condition() {
        let strict = Thresholds {
            long_wait_ms: 2_000,
            service_level: 0.95,
        };
        let mut w = QueueWatch::new(HashMap::from([("support".to_owned(), strict)]));
        let late = w.update(&[queue(1, 2_500, 3, Some(1.0))], 0);
        let alert = late
            .iter()
            .find(|e| e.kind == EventKind::Alert)
            .expect("2.5 s is past this queue's 2 s");
        assert_eq!(alert.data["condition"], "long_wait");
        assert_eq!(alert.data["severity"], "warning");
        assert_eq!(alert.queues, ["support"]);
        let low = w.update(&[queue(0, 0, 12, Some(0.9))], 1);
        let kinds: Vec<_> = low
            .iter()
            .filter(|e| e.kind == EventKind::Alert)
            .map(|e| (e.data["condition"].clone(), e.data["severity"].clone()))
            .collect();
        assert_eq!(
            kinds,
            [
                (json!("long_wait"), json!("cleared")),
                (json!("service_level"), json!("warning"))
            ],
            "90 % is under this queue's 95 %"
        );
        // Another queue keeps the defaults: 2.5 s is no alert there.
        let mut other = queue(1, 2_500, 3, Some(1.0));
        other.queue = "sales".to_owned();
        assert!(
            w.update(&[other], 2)
                .iter()
                .all(|e| e.kind != EventKind::Alert)
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
