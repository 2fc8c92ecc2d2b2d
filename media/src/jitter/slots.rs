//! The buffer's storage: a run of consecutive 20 ms slots starting at `head`, each empty
//! or holding one packet, never more than `capacity` slots long.

use std::collections::VecDeque;

/// A buffered packet.
#[derive(Debug)]
pub(super) struct Entry {
    /// Extended sequence number.
    pub(super) seq: i64,
    /// RTP timestamp as received.
    pub(super) ts: u32,
    pub(super) payload: Vec<u8>,
}

/// Slots `head .. head + cells.len()`.
#[derive(Debug)]
pub(super) struct Slots {
    head: i64,
    cells: VecDeque<Option<Entry>>,
    capacity: usize,
    count: usize,
}

/// Why [`Slots::insert`] did not store a packet.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// The slot holds a packet already; `same` when it has the same sequence number.
    Occupied { same: bool },
    /// The slot is before `head` and cannot be reached without exceeding the capacity.
    Behind,
}

impl Slots {
    pub(super) fn new(capacity: u16) -> Self {
        let capacity = usize::from(capacity).max(1);
        Self {
            head: 0,
            cells: VecDeque::with_capacity(capacity),
            capacity,
            count: 0,
        }
    }

    /// The slot the next [`Slots::pop_front`] removes.
    pub(super) fn head(&self) -> i64 {
        self.head
    }

    /// Packets held.
    pub(super) fn count(&self) -> usize {
        self.count
    }

    /// Slots spanned, holes included.
    #[cfg(test)]
    pub(super) fn span(&self) -> usize {
        self.cells.len()
    }

    /// The packet in the head slot, if any.
    pub(super) fn front(&self) -> Option<&Entry> {
        self.cells.front().and_then(Option::as_ref)
    }

    /// The first packet at or after the head slot.
    pub(super) fn next_present(&self) -> Option<&Entry> {
        self.cells.iter().find_map(Option::as_ref)
    }

    /// Whether `slot` lies at or beyond `head + capacity`, so that storing it would need
    /// the oldest slots to go first.
    pub(super) fn beyond(&self, slot: i64) -> bool {
        slot.saturating_sub(self.head) >= self.capacity as i64
    }

    /// Removes the head slot (advancing `head` even when no slot is stored).
    pub(super) fn pop_front(&mut self) -> Option<Entry> {
        self.head = self.head.saturating_add(1);
        let entry = self.cells.pop_front().flatten();
        if entry.is_some() {
            self.count -= 1;
        }
        entry
    }

    /// Moves an empty run so that `head` is `slot`.
    pub(super) fn restart_at(&mut self, slot: i64) {
        debug_assert!(
            self.count == 0,
            "restart_at is only called with no packet held"
        );
        self.cells.clear();
        self.head = slot;
    }

    /// Empties the run, returning how many packets were held.
    pub(super) fn clear(&mut self) -> usize {
        let n = self.count;
        self.cells.clear();
        self.count = 0;
        n
    }

    /// Stores `entry` in `slot`. The caller has made room ahead (`!beyond(slot)`); a slot
    /// before `head` is reached by extending the run backward when `grow_back` allows it
    /// and the capacity does.
    pub(super) fn insert(
        &mut self,
        slot: i64,
        entry: Entry,
        grow_back: bool,
    ) -> Result<(), Refused> {
        if self.cells.is_empty() && self.count == 0 && grow_back {
            self.head = slot;
        }
        if slot < self.head {
            let extra = self.head.saturating_sub(slot);
            let fits = extra.saturating_add(self.cells.len() as i64) <= self.capacity as i64;
            if !grow_back || !fits {
                return Err(Refused::Behind);
            }
            for _ in 0..extra {
                self.cells.push_front(None);
            }
            self.head = slot;
        }
        // In range: 0 <= index < capacity (checked by the caller through `beyond`).
        let index = usize::try_from(slot - self.head).map_err(|_| Refused::Behind)?;
        if index >= self.capacity {
            return Err(Refused::Behind);
        }
        while self.cells.len() <= index {
            self.cells.push_back(None);
        }
        match self.cells.get_mut(index) {
            Some(Some(held)) => Err(Refused::Occupied {
                same: held.seq == entry.seq,
            }),
            Some(cell) => {
                *cell = Some(entry);
                self.count += 1;
                Ok(())
            }
            None => Err(Refused::Behind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64) -> Entry {
        Entry {
            seq,
            ts: 0,
            payload: vec![],
        }
    }

    #[test]
    fn stores_by_slot_and_pops_in_slot_order() {
        let mut s = Slots::new(8);
        assert_eq!(s.insert(10, entry(1), true), Ok(()));
        assert_eq!(s.insert(12, entry(3), false), Ok(()));
        assert_eq!(s.insert(11, entry(2), false), Ok(()));
        assert_eq!(
            s.insert(11, entry(2), false),
            Err(Refused::Occupied { same: true })
        );
        let order: Vec<i64> = (0..3)
            .filter_map(|_| s.pop_front())
            .map(|e| e.seq)
            .collect();
        assert_eq!(order, [1, 2, 3]);
        assert_eq!(s.count(), 0);
    }

    #[test]
    fn grows_backward_only_when_allowed_and_within_capacity() {
        let mut s = Slots::new(4);
        assert_eq!(s.insert(10, entry(5), true), Ok(()));
        assert_eq!(s.insert(9, entry(4), false), Err(Refused::Behind));
        assert_eq!(s.insert(8, entry(3), true), Ok(()));
        assert_eq!(s.head(), 8);
        assert!(s.beyond(12));
        assert_eq!(s.insert(6, entry(1), true), Err(Refused::Behind));
        assert_eq!(s.span(), 3);
    }
}
