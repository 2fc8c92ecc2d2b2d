//! The engine's deadlines: one live timer per call and per agent, in a min-heap.
//!
//! Rescheduling does not search the heap: each owner remembers the id of its live
//! entry, and entries whose id no longer matches are skipped when they surface (and
//! swept out when they outnumber the live ones).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::id::{AgentSlot, CallSlot};

/// Whose deadline an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerOwner {
    Call(CallSlot),
    Agent(AgentSlot),
}

/// Id of a scheduled entry; 0 means none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerId(u64);

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, TimerId, TimerOwner)>>,
    next: u64,
    stale: usize,
}

impl Timers {
    /// Schedules `owner` at `at`, replacing `*slot` (the owner's live entry).
    pub(crate) fn set(&mut self, slot: &mut TimerId, at: Instant, owner: TimerOwner) {
        self.clear(slot);
        self.next += 1;
        *slot = TimerId(self.next);
        self.heap.push(Reverse((at, *slot, owner)));
    }

    /// Forgets the owner's live entry.
    pub(crate) fn clear(&mut self, slot: &mut TimerId) {
        if *slot != TimerId::default() {
            self.stale += 1;
            *slot = TimerId::default();
        }
    }

    /// Pops the earliest entry due at `now` whose id `live` confirms.
    pub(crate) fn pop_due(
        &mut self,
        now: Instant,
        live: impl Fn(TimerOwner, TimerId) -> bool,
    ) -> Option<TimerOwner> {
        while let Some(Reverse((at, id, owner))) = self.heap.peek().copied() {
            if !live(owner, id) {
                self.heap.pop();
                self.stale = self.stale.saturating_sub(1);
                continue;
            }
            if at > now {
                return None;
            }
            self.heap.pop();
            return Some(owner);
        }
        None
    }

    /// Drops dead entries at the top (so `next_deadline` is exact) and sweeps the
    /// heap when dead entries outnumber live ones.
    pub(crate) fn tidy(&mut self, live: impl Fn(TimerOwner, TimerId) -> bool) {
        if self.stale > 1024 && self.stale * 2 > self.heap.len() {
            self.heap
                .retain(|Reverse((_, id, owner))| live(*owner, *id));
            self.stale = 0;
        }
        while let Some(Reverse((_, id, owner))) = self.heap.peek().copied() {
            if live(owner, id) {
                break;
            }
            self.heap.pop();
            self.stale = self.stale.saturating_sub(1);
        }
    }

    /// The earliest deadline (exact after `tidy`).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }
}
