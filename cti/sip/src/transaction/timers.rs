//! Transaction timers: the RFC 3261 durations, a small per-transaction table
//! keyed by timer letter, and the layer-wide deadline heap.
//!
//! Each transaction keeps at most one deadline per [`TimerKind`] in a
//! [`TimerTable`]. Every arming also pushes `(deadline, transaction, kind)`
//! onto the [`TimerHeap`]; disarming only clears the table slot, and a heap
//! entry whose slot no longer holds the same deadline is skipped when it
//! reaches the top (lazy deletion). The heap is rebuilt from the tables when
//! stale entries outnumber live ones, so its size stays proportional to the
//! number of armed timers.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::key::TsxKey;

/// The RFC 3261 timer base values (§17.1.1.1, Table 4), plus Timer C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate: first retransmission interval and the unit of the
    /// 64·T1 transaction timeouts (default 500 ms).
    pub t1: Duration,
    /// Longest retransmission interval for non-INVITE requests and INVITE
    /// responses (default 4 s).
    pub t2: Duration,
    /// Longest time a message stays in the network (default 5 s).
    pub t4: Duration,
    /// Timer C (§16.6, "greater than 3 minutes"): how long an INVITE may stay
    /// without a final response after its last provisional one. A client
    /// INVITE is cancelled when it fires; a server INVITE whose TU is silent
    /// that long is answered 408 by the layer.
    pub c: Duration,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            c: Duration::from_secs(181),
        }
    }
}

impl Timers {
    /// The values bounded so that timers neither spin (T1 ≥ 1 ms, T2 ≥ T1)
    /// nor overflow a deadline (T1, T2, T4 ≤ 1 h; C ≤ 1 day).
    pub fn clamped(self) -> Timers {
        let hour = Duration::from_secs(3600);
        let t1 = self.t1.clamp(Duration::from_millis(1), hour);
        Timers {
            t1,
            t2: self.t2.clamp(t1, hour),
            t4: self.t4.min(hour),
            c: self.c.min(hour * 24),
        }
    }

    /// 64·T1: Timers B, F, H, J, L and M (32 s with the default T1).
    pub fn timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D for an unreliable transport: at least 32 s (§17.1.1.2).
    pub fn d(&self) -> Duration {
        self.timeout().max(Duration::from_secs(32))
    }

    /// The retransmission interval after `prev`, doubled and capped at T2.
    pub fn backoff_capped(&self, prev: Duration) -> Duration {
        prev.saturating_mul(2).min(self.t2)
    }
}

/// The timers a transaction can arm, named by their RFC 3261 letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum TimerKind {
    /// Client INVITE: request retransmission (UDP), T1 doubling.
    A,
    /// Client INVITE: transaction timeout in Calling, 64·T1.
    B,
    /// Client INVITE: no final response after the last provisional (§16.6);
    /// after a CANCEL, the 64·T1 wait for the INVITE's final response (§9.1).
    C,
    /// Client INVITE: wait for final-response retransmissions in Completed.
    D,
    /// Client non-INVITE: request retransmission (UDP), doubling capped at T2.
    E,
    /// Client non-INVITE: transaction timeout, 64·T1.
    F,
    /// Server INVITE: non-2xx final response retransmission (UDP).
    G,
    /// Server INVITE: wait for ACK in Completed, 64·T1.
    H,
    /// Server INVITE: absorb ACK retransmissions in Confirmed, T4.
    I,
    /// Server non-INVITE: absorb request retransmissions in Completed, 64·T1.
    J,
    /// Client non-INVITE: absorb response retransmissions in Completed, T4.
    K,
    /// Server INVITE (RFC 6026): stay in Accepted, 64·T1.
    L,
    /// Client INVITE (RFC 6026): stay in Accepted, 64·T1.
    M,
    /// Server INVITE: 2xx retransmission while no ACK came (§13.3.1.4).
    Resend2xx,
    /// Server: the TU's deadline for a final response.
    Answer,
}

const KINDS: usize = 15;

impl TimerKind {
    fn slot(self) -> usize {
        self as usize
    }
}

/// One transaction's armed timers, at most one deadline per kind.
#[derive(Clone, Debug, Default)]
pub(crate) struct TimerTable([Option<Instant>; KINDS]);

impl TimerTable {
    /// The deadline of `kind`, if armed.
    pub(crate) fn get(&self, kind: TimerKind) -> Option<Instant> {
        self.0[kind.slot()]
    }

    /// Arms `kind` at `at`, replacing an earlier deadline.
    pub(crate) fn set(&mut self, kind: TimerKind, at: Instant) {
        self.0[kind.slot()] = Some(at);
    }

    /// Disarms `kind`.
    pub(crate) fn clear(&mut self, kind: TimerKind) {
        self.0[kind.slot()] = None;
    }

    /// How many timers are armed.
    pub(crate) fn armed(&self) -> usize {
        self.0.iter().flatten().count()
    }

    /// Every armed `(kind, deadline)`.
    fn iter(&self) -> impl Iterator<Item = (TimerKind, Instant)> + '_ {
        ALL.iter().filter_map(|&k| self.get(k).map(|at| (k, at)))
    }
}

const ALL: [TimerKind; KINDS] = {
    use TimerKind::*;
    [A, B, C, D, E, F, G, H, I, J, K, L, M, Resend2xx, Answer]
};

/// One heap entry: a deadline that may have been disarmed since.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Deadline {
    /// When.
    pub(crate) at: Instant,
    /// Whose.
    pub(crate) key: TsxKey,
    /// Which timer.
    pub(crate) kind: TimerKind,
}

/// The earliest-first heap of every armed deadline in the layer.
#[derive(Debug, Default)]
pub(crate) struct TimerHeap {
    heap: BinaryHeap<Reverse<Deadline>>,
    /// Timers armed across all tables at the last rebuild.
    live: usize,
}

impl TimerHeap {
    /// Records a newly armed deadline.
    pub(crate) fn push(&mut self, d: Deadline) {
        self.heap.push(Reverse(d));
    }

    /// The earliest entry, possibly stale.
    pub(crate) fn peek(&self) -> Option<Deadline> {
        self.heap.peek().map(|r| r.0)
    }

    /// Removes the earliest entry.
    pub(crate) fn pop(&mut self) -> Option<Deadline> {
        self.heap.pop().map(|r| r.0)
    }

    /// True when stale entries dominate (checked cheaply against the
    /// count of armed timers at the last rebuild).
    pub(crate) fn needs_compaction(&self) -> bool {
        self.heap.len() > 2 * self.live + 64
    }

    /// Rebuilds the heap from every table; `live` is their armed-timer count.
    pub(crate) fn rebuild<'a>(
        &mut self,
        live: usize,
        tables: impl Iterator<Item = (TsxKey, &'a TimerTable)>,
    ) {
        self.live = live;
        self.heap = tables
            .flat_map(|(key, t)| {
                t.iter()
                    .map(move |(kind, at)| Reverse(Deadline { at, key, kind }))
            })
            .collect();
    }

    /// Number of entries, stale ones included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_at_t2() {
        let t = Timers::default();
        let mut d = t.t1;
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(d.as_millis());
            d = t.backoff_capped(d);
        }
        assert_eq!(seen, [500, 1000, 2000, 4000, 4000, 4000]);
        assert_eq!(t.timeout(), Duration::from_secs(32));
        let fast = Timers {
            t1: Duration::from_millis(100),
            ..t
        };
        assert_eq!(
            fast.d(),
            Duration::from_secs(32),
            "Timer D is at least 32 s"
        );
        let odd = Timers {
            t1: Duration::ZERO,
            t2: Duration::ZERO,
            t4: Duration::MAX,
            c: Duration::MAX,
        }
        .clamped();
        assert_eq!(
            (odd.t1, odd.t2),
            (Duration::from_millis(1), Duration::from_millis(1))
        );
        assert_eq!(
            (odd.t4, odd.c),
            (Duration::from_secs(3600), Duration::from_secs(86_400))
        );
    }

    #[test]
    fn table_holds_one_deadline_per_letter() {
        let t0 = Instant::now();
        let mut t = TimerTable::default();
        t.set(TimerKind::A, t0);
        t.set(TimerKind::A, t0 + Duration::from_secs(1));
        t.set(TimerKind::B, t0 + Duration::from_secs(32));
        assert_eq!(t.armed(), 2);
        assert_eq!(t.get(TimerKind::A), Some(t0 + Duration::from_secs(1)));
        t.clear(TimerKind::A);
        assert_eq!(t.get(TimerKind::A), None);
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            [(TimerKind::B, t0 + Duration::from_secs(32))]
        );
    }

    #[test]
    fn heap_compacts_when_stale_entries_dominate() {
        let t0 = Instant::now();
        let key = TsxKey::test_server(1);
        let mut heap = TimerHeap::default();
        for i in 0..200u64 {
            heap.push(Deadline {
                at: t0 + Duration::from_millis(i),
                key,
                kind: TimerKind::G,
            });
        }
        let mut table = TimerTable::default();
        table.set(TimerKind::H, t0 + Duration::from_secs(32));
        assert!(heap.needs_compaction());
        heap.rebuild(1, std::iter::once((key, &table)));
        assert!(!heap.needs_compaction());
        assert_eq!(heap.len(), 1);
        assert_eq!(heap.peek().map(|d| d.kind), Some(TimerKind::H));
    }
}
