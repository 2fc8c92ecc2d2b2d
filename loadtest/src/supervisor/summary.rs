//! From every client's tally to the figures of the report: counts, delivery
//! delay, rate, and the events each client should have seen but did not.
//!
//! **Gaps.** Clients that share a token see the same events, so they are
//! compared as a group. The events a client should have received are:
//!
//! - for a token that sees every event (an administrator's), every number
//!   from just above the highest one any client of the group received
//!   before the start (else the lowest received after it) up to the highest
//!   any of them received: the node numbers its events one by one, so any
//!   number missing there is an event lost;
//! - for a scoped token (a supervisor's queues), whose view has holes by
//!   design, the events any client of the group received after the start.
//!
//! A client's *gaps* are those it did not receive; *missing vs peers* counts
//! only events another client of its group received.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::tally::ClientTally;
use crate::report::{Histogram, Stat};

/// How one client's run went, as the driver hands it over.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientRecord {
    /// Index of the token the client used (clients sharing one compare).
    pub group: usize,
    /// Whether the token sees every event.
    pub sees_all: bool,
    /// Time of the first successful handshake, ms from its first attempt.
    pub connect_ms: Option<f64>,
    /// Why it never connected.
    pub failure: Option<String>,
    /// Handshakes answered 429 (then retried).
    pub rate_limited: u64,
    /// Streams that ended while the run went on.
    pub disconnects: u64,
    /// Successful reconnections (with `since` the last event received).
    pub reconnects: u64,
    /// What it received.
    pub tally: ClientTally,
}

/// The event-stream clients of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SupervisorSummary {
    /// Clients asked for.
    pub clients: u64,
    /// Clients whose handshake succeeded.
    pub connected: u64,
    /// Clients that never connected, by cause.
    pub connect_failures: BTreeMap<String, u64>,
    /// Handshakes answered 429 (rate limit) and retried.
    pub rate_limited: u64,
    /// Handshake time, ms (first attempt to the 101, retries included).
    pub connect_ms: Stat,
    /// Roles of the tokens used (`admin`, `supervisor`, …).
    pub roles: Vec<String>,
    /// Events received by all clients after the start.
    pub events_received: u64,
    /// Events received before the start (not compared).
    pub events_before_start: u64,
    /// Distinct events (numbers) received by any client after the start.
    pub distinct_events: u64,
    /// For tokens that see every event: numbers the node handed out in the
    /// compared range, i.e. events published while clients listened.
    pub published_in_range: Option<u64>,
    /// Events received per client after the start.
    pub events_per_client: Stat,
    /// Delivery delay (arrival − the event's `at`), ms, every event of
    /// every client.
    pub delivery_ms: Stat,
    /// Delivery delay histogram, ms.
    pub delivery_histogram: Histogram,
    /// From the first to the last event received by any client, s.
    pub window_s: f64,
    /// Events received per second over that window, all clients.
    pub delivered_per_s: f64,
    /// The busiest second, events received by all clients.
    pub peak_delivered_per_s: u64,
    /// Events a client should have received and did not (see the module
    /// docs), all clients.
    pub gaps: u64,
    /// Of those, events another client of its group did receive.
    pub missing_vs_peers: u64,
    /// Events repeated or out of order.
    pub duplicates: u64,
    /// Times a client's `seq` went up by more than one (holes by design on
    /// scoped tokens).
    pub seq_jumps: u64,
    /// Messages that were not events.
    pub malformed: u64,
    /// Streams that ended during the run.
    pub disconnects: u64,
    /// Reconnections after those.
    pub reconnects: u64,
    /// Connected clients with no gap and no duplicate.
    pub complete_clients: u64,
    /// Events received by type, all clients.
    pub kinds: BTreeMap<String, u64>,
    /// Events received by all clients in each second since the start.
    pub per_second: Vec<u64>,
    /// One row per client.
    pub per_client: Vec<ClientRow>,
}

/// One client in the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientRow {
    /// Client index.
    pub client: u64,
    /// Token index.
    pub token: u64,
    /// Whether it connected.
    pub connected: bool,
    /// Events received after the start.
    pub events: u64,
    /// Events it should have received and did not.
    pub gaps: u64,
    /// Of those, events a peer received.
    pub missing_vs_peers: u64,
    /// Repeats or out of order.
    pub duplicates: u64,
    /// Delivery delay p50, ms.
    pub delay_p50_ms: f64,
    /// Delivery delay p99, ms.
    pub delay_p99_ms: f64,
    /// Reconnections.
    pub reconnects: u64,
}

/// What a group of clients sharing a token should have received.
enum Expected {
    /// Every number in the range.
    Range(i64, i64),
    /// These numbers.
    Set(BTreeSet<i64>),
    /// Nothing was received after the start.
    Nothing,
}

impl Expected {
    fn of(members: &[&ClientRecord]) -> Expected {
        let union: BTreeSet<i64> = members
            .iter()
            .flat_map(|c| c.tally.seqs.iter().copied())
            .collect();
        let (Some(&low), Some(&high)) = (union.first(), union.last()) else {
            return Expected::Nothing;
        };
        if !members.iter().any(|c| c.sees_all) {
            return Expected::Set(union);
        }
        let before = members
            .iter()
            .filter_map(|c| c.tally.before_start_max)
            .max();
        let from = before.map_or(low, |b| (b + 1).min(low));
        Expected::Range(from, high)
    }

    fn count(&self) -> u64 {
        match self {
            Expected::Range(a, b) => u64::try_from(b - a + 1).unwrap_or(0),
            Expected::Set(s) => s.len() as u64,
            Expected::Nothing => 0,
        }
    }

    fn contains(&self, seq: i64) -> bool {
        match self {
            Expected::Range(a, b) => (*a..=*b).contains(&seq),
            Expected::Set(s) => s.contains(&seq),
            Expected::Nothing => false,
        }
    }
}

/// Summarises the clients; `roles` are those of the tokens, in token order.
pub fn summarise(records: &[ClientRecord], roles: Vec<String>) -> SupervisorSummary {
    let mut s = SupervisorSummary {
        clients: records.len() as u64,
        roles,
        ..SupervisorSummary::default()
    };
    let mut groups: BTreeMap<usize, Vec<(usize, &ClientRecord)>> = BTreeMap::new();
    for (i, c) in records.iter().enumerate() {
        groups.entry(c.group).or_default().push((i, c));
    }
    for members in groups.values() {
        let clients: Vec<&ClientRecord> = members.iter().map(|(_, c)| *c).collect();
        let expected = Expected::of(&clients);
        let union: BTreeSet<i64> = clients
            .iter()
            .flat_map(|c| c.tally.seqs.iter().copied())
            .collect();
        s.distinct_events += union.len() as u64;
        if let Expected::Range(..) = expected {
            let count = expected.count();
            s.published_in_range = Some(s.published_in_range.map_or(count, |p| p.max(count)));
        }
        for (i, c) in members {
            let row = client_row(*i, c, &expected, &union);
            s.gaps += row.gaps;
            s.missing_vs_peers += row.missing_vs_peers;
            s.per_client.push(row);
        }
    }
    s.per_client.sort_by_key(|r| r.client);
    add_counts(&mut s, records);
    add_delivery(&mut s, records);
    s
}

fn client_row(
    index: usize,
    c: &ClientRecord,
    expected: &Expected,
    union: &BTreeSet<i64>,
) -> ClientRow {
    let got: BTreeSet<i64> = c.tally.seqs.iter().copied().collect();
    let received_expected = got.iter().filter(|&&q| expected.contains(q)).count() as u64;
    let delays = Stat::of(&c.tally.delays_ms);
    // A client that never connected is reported as such, not as gaps.
    let connected = c.connect_ms.is_some();
    ClientRow {
        client: index as u64,
        token: c.group as u64,
        connected,
        events: c.tally.seqs.len() as u64,
        gaps: if connected {
            expected.count().saturating_sub(received_expected)
        } else {
            0
        },
        missing_vs_peers: if connected {
            union.difference(&got).count() as u64
        } else {
            0
        },
        duplicates: c.tally.duplicates,
        delay_p50_ms: delays.p50,
        delay_p99_ms: delays.p99,
        reconnects: c.reconnects,
    }
}

fn add_counts(s: &mut SupervisorSummary, records: &[ClientRecord]) {
    let mut connect = Vec::new();
    for c in records {
        match (&c.failure, c.connect_ms) {
            (_, Some(ms)) => {
                s.connected += 1;
                connect.push(ms);
            }
            (Some(why), None) => *s.connect_failures.entry(why.clone()).or_default() += 1,
            (None, None) => *s.connect_failures.entry("unknown".into()).or_default() += 1,
        }
        s.rate_limited += c.rate_limited;
        s.events_before_start += c.tally.before_start;
        s.duplicates += c.tally.duplicates;
        s.seq_jumps += c.tally.seq_jumps;
        s.malformed += c.tally.malformed;
        s.disconnects += c.disconnects;
        s.reconnects += c.reconnects;
        for (kind, n) in &c.tally.kinds {
            *s.kinds.entry(kind.clone()).or_default() += n;
        }
    }
    s.connect_ms = Stat::of(&connect);
    s.complete_clients = s
        .per_client
        .iter()
        .filter(|r| r.connected && r.gaps == 0 && r.duplicates == 0)
        .count() as u64;
}

fn add_delivery(s: &mut SupervisorSummary, records: &[ClientRecord]) {
    let delays: Vec<f64> = records
        .iter()
        .flat_map(|c| c.tally.delays_ms.iter().copied())
        .collect();
    s.events_received = delays.len() as u64;
    s.delivery_ms = Stat::of(&delays);
    s.delivery_histogram = Histogram::of(&delays, Histogram::latency_edges(s.delivery_ms.max));
    let per_client: Vec<f64> = records
        .iter()
        .filter(|c| c.connect_ms.is_some())
        .map(|c| c.tally.delays_ms.len() as f64)
        .collect();
    s.events_per_client = Stat::of(&per_client);
    let first = records
        .iter()
        .filter_map(|c| c.tally.span_unix_ms.map(|x| x.0))
        .fold(f64::INFINITY, f64::min);
    let last = records
        .iter()
        .filter_map(|c| c.tally.span_unix_ms.map(|x| x.1))
        .fold(f64::NEG_INFINITY, f64::max);
    s.window_s = if last > first {
        (last - first) / 1000.0
    } else {
        0.0
    };
    s.delivered_per_s = if s.window_s > 0.0 {
        s.events_received as f64 / s.window_s
    } else {
        0.0
    };
    for c in records {
        if s.per_second.len() < c.tally.per_second.len() {
            s.per_second.resize(c.tally.per_second.len(), 0);
        }
        for (total, n) in s.per_second.iter_mut().zip(&c.tally.per_second) {
            *total += n;
        }
    }
    s.peak_delivered_per_s = s.per_second.iter().copied().max().unwrap_or(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::tally::Arrival;

    /// A connected client of token `group` that received `seqs` after the
    /// start (each 2 ms after its `at`) and `before` before it.
    fn client(group: usize, sees_all: bool, before: &[i64], seqs: &[i64]) -> ClientRecord {
        let mut tally = ClientTally::default();
        for &q in before {
            let text = format!(r#"{{"seq":{q},"type":"agent.state","at":1000}}"#);
            tally.handle_message(
                &text,
                Arrival {
                    unix_ms: 1000.0,
                    second: None,
                },
            );
        }
        for (i, &q) in seqs.iter().enumerate() {
            let at = 5000 + 100 * i as i64;
            let text = format!(r#"{{"seq":{q},"type":"call.created","at":{at}}}"#);
            let arrival = Arrival {
                unix_ms: at as f64 + 2.0,
                second: Some(i as u64 / 10),
            };
            tally.handle_message(&text, arrival);
        }
        ClientRecord {
            group,
            sees_all,
            connect_ms: Some(1.5),
            tally,
            ..ClientRecord::default()
        }
    }

    #[test]
    fn an_all_seeing_group_expects_every_number_from_the_start_on() {
        let records = [
            client(0, true, &[10], &[11, 12, 13, 14]),
            // Lost 11 (first after the start) and 13.
            client(0, true, &[10], &[12, 14]),
        ];
        let s = summarise(&records, vec!["admin".into()]);
        assert_eq!(s.published_in_range, Some(4));
        assert_eq!(s.distinct_events, 4);
        assert_eq!((s.gaps, s.missing_vs_peers), (2, 2));
        assert_eq!(s.complete_clients, 1);
        assert_eq!(s.per_client[1].gaps, 2);
        assert_eq!(s.events_received, 6);
        assert_eq!(s.events_before_start, 2);
        assert_eq!((s.delivery_ms.p50, s.delivery_ms.max), (2.0, 2.0));
        assert_eq!(s.kinds.get("call.created"), Some(&6));
    }

    #[test]
    fn a_number_no_client_received_is_a_gap_only_for_all_seeing_tokens() {
        let admin = [
            client(0, true, &[], &[1, 2, 4]),
            client(0, true, &[], &[1, 2, 4]),
        ];
        let s = summarise(&admin, vec!["admin".into()]);
        assert_eq!((s.gaps, s.missing_vs_peers), (2, 0), "3 was lost by both");
        let scoped = [
            client(0, false, &[], &[1, 2, 4]),
            client(0, false, &[], &[1, 2, 4]),
        ];
        let s = summarise(&scoped, vec!["supervisor".into()]);
        assert_eq!(
            (s.gaps, s.published_in_range),
            (0, None),
            "3 may be another queue's"
        );
        assert_eq!(s.complete_clients, 2);
    }

    #[test]
    fn groups_are_compared_apart_and_failures_counted() {
        let mut refused = ClientRecord {
            group: 1,
            failure: Some("HTTP 401".into()),
            ..ClientRecord::default()
        };
        refused.rate_limited = 3;
        let records = [
            client(0, false, &[], &[5, 9]),
            client(1, false, &[], &[6]),
            client(0, false, &[], &[5]),
            refused,
        ];
        let s = summarise(&records, vec!["supervisor".into(), "supervisor".into()]);
        assert_eq!((s.clients, s.connected, s.rate_limited), (4, 3, 3));
        assert_eq!(s.connect_failures.get("HTTP 401"), Some(&1));
        // Client 2 missed 9, which its peer (same token) got; client 1's
        // token is another user's view and is not compared with them; a
        // client that never connected has no gaps, only its failure.
        assert_eq!(
            s.per_client.iter().map(|r| r.gaps).collect::<Vec<_>>(),
            vec![0, 0, 1, 0]
        );
        assert_eq!(s.per_client[2].missing_vs_peers, 1);
        assert_eq!(s.per_client[3].client, 3);
        assert!(!s.per_client[3].connected);
        assert_eq!(s.complete_clients, 2);
    }

    #[test]
    fn rate_and_seconds_add_up_over_clients() {
        let seqs: Vec<i64> = (1..=20).collect();
        let records = [client(0, true, &[], &seqs), client(0, true, &[], &seqs)];
        let s = summarise(&records, vec!["admin".into()]);
        assert_eq!(s.per_second, vec![20, 20]);
        assert_eq!(s.peak_delivered_per_s, 20);
        // 20 events 100 ms apart: 1.9 s from the first to the last.
        assert!((s.window_s - 1.9).abs() < 1e-9, "{}", s.window_s);
        assert!((s.delivered_per_s - 40.0 / 1.9).abs() < 1e-6);
        assert_eq!(s.events_per_client.mean, 20.0);
    }
}
