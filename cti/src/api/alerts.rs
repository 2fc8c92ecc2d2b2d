//! The alerts in force: what `alert` events raised and no clearing event has cleared
//! yet, for `GET /api/v1/alerts` (the dashboard's alert panel reads it when it opens,
//! then follows the event stream).
//!
//! # Contract
//!
//! - An alert is identified by its [`AlertKey`]: the call it is about (sentiment
//!   alerts) or else its queues, and its `data.condition` (`long_wait`,
//!   `service_level`; `alert` when the publisher names none). A later raise with
//!   the same key replaces the alert's words and keeps when it was first raised.
//! - It is cleared by an `alert` with the same key and `severity: "cleared"`, or, for
//!   an alert about a call, by that call's `call.ended`.
//! - [`AlertBoard::handle`] is handed every published event in order (an
//!   [`EventBus::observe`](super::EventBus::observe) function): it is quick and never
//!   publishes. The board holds only the alerts in force; a node restart starts it
//!   empty (the queue watch raises what still holds again).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use super::{EventKind, Published};

/// What identifies one alert across its raising and its clearing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AlertKey(String);

impl AlertKey {
    /// The key of the alert `p` raises or clears.
    #[must_use]
    pub fn of(p: &Published) -> Self {
        let condition = p
            .event
            .data
            .get("condition")
            .and_then(|c| c.as_str())
            .unwrap_or("alert");
        let scope = match &p.event.call_id {
            Some(call) => format!("call:{call}"),
            None => format!("queue:{}", p.event.queues.join(",")),
        };
        Self(format!("{scope}:{condition}"))
    }

    /// The key as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One alert in force, as `GET /api/v1/alerts` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveAlert {
    /// Its [`AlertKey`].
    pub key: String,
    /// The sequence number of the event that last raised it.
    pub seq: i64,
    /// When it was first raised, unix ms.
    pub raised_at: i64,
    /// `warning` or what the publisher said.
    pub severity: String,
    /// `long_wait`, `service_level`, or `alert`.
    pub condition: String,
    /// Words for a person.
    pub reason: String,
    /// The queues it is about (who may see it).
    pub queues: Vec<String>,
    /// The call it is about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
}

/// The alerts in force, kept up to date from the event stream.
#[derive(Debug, Default)]
pub struct AlertBoard {
    active: Mutex<BTreeMap<AlertKey, ActiveAlert>>,
}

impl AlertBoard {
    /// Takes one published event into account.
    pub fn handle(&self, p: &Published) {
        match p.event.kind {
            EventKind::Alert => self.alert(p),
            EventKind::CallEnded => {
                if let Some(call) = &p.event.call_id {
                    self.lock()
                        .retain(|_, a| a.call_id.as_deref() != Some(call.as_str()));
                }
            }
            _ => {}
        }
    }

    fn alert(&self, p: &Published) {
        let key = AlertKey::of(p);
        let text = |name: &str| {
            p.event
                .data
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let severity = text("severity").unwrap_or_else(|| "warning".to_owned());
        let mut active = self.lock();
        if severity == "cleared" {
            active.remove(&key);
            return;
        }
        let raised_at = active.get(&key).map_or(p.event.at, |a| a.raised_at);
        let alert = ActiveAlert {
            key: key.as_str().to_owned(),
            seq: p.seq,
            raised_at,
            severity,
            condition: text("condition").unwrap_or_else(|| "alert".to_owned()),
            reason: text("reason").unwrap_or_default(),
            queues: p.event.queues.clone(),
            call_id: p.event.call_id.clone(),
        };
        active.insert(key, alert);
    }

    /// Every alert in force, oldest first.
    #[must_use]
    pub fn active(&self) -> Vec<ActiveAlert> {
        let mut all: Vec<ActiveAlert> = self.lock().values().cloned().collect();
        all.sort_by_key(|a| (a.raised_at, a.seq));
        all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<AlertKey, ActiveAlert>> {
        // A map updated in single steps: a panic elsewhere cannot leave it half-written.
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::Event;

    fn published(seq: i64, event: Event) -> Published {
        Published { seq, event }
    }

    fn queue_alert(seq: i64, at: i64, severity: &str, condition: &str) -> Published {
        let data =
            json!({ "severity": severity, "condition": condition, "reason": format!("r{seq}") });
        published(
            seq,
            Event::new(EventKind::Alert, at).queue("sales").data(data),
        )
    }

    #[test]
    fn a_queue_alert_stays_until_its_own_condition_clears() {
        let board = AlertBoard::default();
        board.handle(&queue_alert(1, 100, "warning", "long_wait"));
        board.handle(&queue_alert(2, 200, "warning", "service_level"));
        board.handle(&queue_alert(3, 300, "warning", "long_wait"));
        let keys: Vec<(String, i64, String)> = board
            .active()
            .into_iter()
            .map(|a| (a.key, a.raised_at, a.reason))
            .collect();
        assert_eq!(
            keys,
            [
                ("queue:sales:long_wait".to_owned(), 100, "r3".to_owned()),
                ("queue:sales:service_level".to_owned(), 200, "r2".to_owned()),
            ],
            "a second raise keeps the first time and takes the new words"
        );
        board.handle(&queue_alert(4, 400, "cleared", "service_level"));
        let left: Vec<String> = board.active().into_iter().map(|a| a.condition).collect();
        assert_eq!(left, ["long_wait"]);
    }

    #[test]
    fn a_call_alert_goes_when_its_call_ends_and_others_stay() {
        let board = AlertBoard::default();
        let angry = json!({ "severity": "warning", "reason": "caller sentiment -0.70" });
        board.handle(&published(
            1,
            Event::new(EventKind::Alert, 10)
                .call("c1")
                .data(angry.clone()),
        ));
        board.handle(&published(
            2,
            Event::new(EventKind::Alert, 20).call("c2").data(angry),
        ));
        board.handle(&published(
            3,
            Event::new(EventKind::CallEnded, 30).call("c1"),
        ));
        board.handle(&published(
            4,
            Event::new(EventKind::CallAnswered, 40).call("c2"),
        ));
        let left: Vec<(String, Option<String>)> = board
            .active()
            .into_iter()
            .map(|a| (a.key, a.call_id))
            .collect();
        assert_eq!(left, [("call:c2:alert".to_owned(), Some("c2".to_owned()))]);
    }
}
