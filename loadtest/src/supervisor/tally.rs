//! One event-stream client's account of what it received: pure
//! bookkeeping, fed each message with the time it arrived.
//!
//! Every message is expected to be one JSON event with at least `seq`
//! (integer), `type` (string) and `at` (unix milliseconds). Anything else
//! is counted as malformed and otherwise ignored. The delivery delay of an
//! event is its arrival time minus its `at`; both are wall-clock times of
//! the same machine when the node runs on loopback.
//!
//! Events that arrive before the run's start (the moment every client was
//! connected) are counted, but kept out of the sequence comparison: which
//! of them a client saw depends on when it connected.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The fields of an event the tally reads; the rest is ignored.
#[derive(Deserialize)]
struct WireEvent {
    seq: i64,
    #[serde(rename = "type")]
    kind: String,
    at: i64,
}

/// When a message arrived.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arrival {
    /// Wall-clock time, unix milliseconds (with a fraction).
    pub unix_ms: f64,
    /// Whole seconds since the run's start; `None` before it started.
    pub second: Option<u64>,
}

/// What one client received.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientTally {
    /// Events received (before and after the start).
    pub events: u64,
    /// Events received before the run started.
    pub before_start: u64,
    /// The highest `seq` received before the run started.
    pub before_start_max: Option<i64>,
    /// Messages that were not an event.
    pub malformed: u64,
    /// Events whose `seq` was not above the one before (a repeat, or out
    /// of order).
    pub duplicates: u64,
    /// Times `seq` went up by more than one.
    pub seq_jumps: u64,
    /// Numbers passed over by those jumps.
    pub seq_skipped: u64,
    /// `seq` of every event received after the start, in arrival order,
    /// duplicates left out.
    pub seqs: Vec<i64>,
    /// Delivery delay of every event received after the start, ms.
    pub delays_ms: Vec<f64>,
    /// Events by `type`.
    pub kinds: BTreeMap<String, u64>,
    /// Events received in each second since the start.
    pub per_second: Vec<u64>,
    /// Arrival of the first and of the last event after the start, unix ms.
    pub span_unix_ms: Option<(f64, f64)>,
    last_seq: Option<i64>,
}

impl ClientTally {
    /// Accounts for one text message that arrived at `at`.
    pub fn handle_message(&mut self, text: &str, at: Arrival) {
        let Ok(e) = serde_json::from_str::<WireEvent>(text) else {
            self.malformed += 1;
            return;
        };
        self.events += 1;
        *self.kinds.entry(e.kind).or_default() += 1;
        match self.last_seq {
            Some(last) if e.seq <= last => {
                self.duplicates += 1;
                return;
            }
            Some(last) if e.seq > last + 1 => {
                self.seq_jumps += 1;
                self.seq_skipped += u64::try_from(e.seq - last - 1).unwrap_or(u64::MAX);
            }
            _ => {}
        }
        self.last_seq = Some(e.seq);
        let Some(second) = at.second else {
            self.before_start += 1;
            self.before_start_max = Some(e.seq);
            return;
        };
        self.seqs.push(e.seq);
        self.delays_ms.push(at.unix_ms - e.at as f64);
        let slot = usize::try_from(second).unwrap_or(usize::MAX);
        if slot < MAX_SECONDS {
            if self.per_second.len() <= slot {
                self.per_second.resize(slot + 1, 0);
            }
            self.per_second[slot] += 1;
        }
        self.span_unix_ms = Some(match self.span_unix_ms {
            None => (at.unix_ms, at.unix_ms),
            Some((first, _)) => (first, at.unix_ms),
        });
    }

    /// The `seq` of the last event received, for a reconnect's `since`.
    pub fn last_seq(&self) -> Option<i64> {
        self.last_seq
    }
}

/// Seconds of per-second counts kept (a day).
const MAX_SECONDS: usize = 86_400;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix_ms: f64, second: Option<u64>) -> Arrival {
        Arrival { unix_ms, second }
    }

    fn event(seq: i64, kind: &str, at_ms: i64) -> String {
        format!(r#"{{"seq":{seq},"type":"{kind}","at":{at_ms},"call_id":"c","data":{{}}}}"#)
    }

    #[test]
    fn counts_delays_and_seconds_after_the_start() {
        let mut t = ClientTally::default();
        t.handle_message(&event(7, "agent.state", 1000), at(1001.0, None));
        t.handle_message(&event(8, "call.created", 2000), at(2003.5, Some(0)));
        t.handle_message(&event(9, "call.ended", 3000), at(3001.0, Some(2)));
        assert_eq!(
            (t.events, t.before_start, t.before_start_max),
            (3, 1, Some(7))
        );
        assert_eq!(t.seqs, vec![8, 9]);
        assert_eq!(t.delays_ms, vec![3.5, 1.0]);
        assert_eq!(t.per_second, vec![1, 0, 1]);
        assert_eq!(t.span_unix_ms, Some((2003.5, 3001.0)));
        assert_eq!(t.kinds.get("call.created"), Some(&1));
        assert_eq!((t.seq_jumps, t.duplicates, t.malformed), (0, 0, 0));
        assert_eq!(t.last_seq(), Some(9));
    }

    #[test]
    fn jumps_repeats_and_garbage_are_told_apart() {
        let mut t = ClientTally::default();
        for (seq, second) in [(1, 0), (2, 0), (5, 1), (5, 1), (4, 1), (9, 2)] {
            t.handle_message(&event(seq, "call.created", 0), at(10.0, Some(second)));
        }
        t.handle_message("not json", at(10.0, Some(2)));
        t.handle_message(r#"{"seq":"x","type":"a","at":1}"#, at(10.0, Some(2)));
        assert_eq!(t.events, 6);
        assert_eq!(t.seqs, vec![1, 2, 5, 9]);
        assert_eq!((t.seq_jumps, t.seq_skipped), (2, 2 + 3));
        assert_eq!((t.duplicates, t.malformed), (2, 2));
    }
}
