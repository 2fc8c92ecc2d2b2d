//! The engine's timer queue: one binary heap of deadlines for every call,
//! agent, registration, arrival and RTP stream.
//!
//! Entries are never removed early; a machine whose state moved on simply
//! ignores a timer that no longer applies when it fires (lazy deletion), so
//! arming is O(log n) and cancelling is free.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

struct Entry<T> {
    at: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    /// Reversed, so the max-heap pops the earliest deadline (then the
    /// earliest armed).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Deadlines carrying a `T` each, popped in time order (FIFO among equals).
pub(crate) struct TimerQueue<T> {
    heap: BinaryHeap<Entry<T>>,
    seq: u64,
}

impl<T> TimerQueue<T> {
    /// An empty queue.
    pub(crate) fn new() -> Self {
        TimerQueue {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Arms `item` for `at`.
    pub(crate) fn arm(&mut self, at: Instant, item: T) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            item,
        });
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.at)
    }

    /// The earliest item due at or before `now`, with its deadline.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, T)> {
        if self.heap.peek()?.at > now {
            return None;
        }
        self.heap.pop().map(|e| (e.at, e.item))
    }

    /// Armed entries, stale ones included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_time_then_arming_order() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        q.arm(t0 + Duration::from_millis(30), "c");
        q.arm(t0 + Duration::from_millis(10), "a");
        q.arm(t0 + Duration::from_millis(10), "b");
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(10)));
        assert!(q.pop_due(t0).is_none());
        let now = t0 + Duration::from_millis(20);
        assert_eq!(q.pop_due(now).map(|e| e.1), Some("a"));
        assert_eq!(q.pop_due(now).map(|e| e.1), Some("b"));
        assert!(q.pop_due(now).is_none());
        assert_eq!(q.len(), 1);
    }
}
