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
    ClientRow {
        client: index as u64,
        token: c.group as u64,
        connected: c.connect_ms.is_some(),
        events: c.tally.seqs.len() as u64,
        gaps: expected.count().saturating_sub(received_expected),
        missing_vs_peers: union.difference(&got).count() as u64,
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
