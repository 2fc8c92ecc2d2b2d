//! Replay protection: the nonce counts seen per nonce, in bounded memory.
//!
//! For each nonce the server keeps the highest `nc` accepted and a 64-bit
//! bitmap of the 64 counts at and below it (as IPsec's anti-replay window),
//! so requests that share a nonce may arrive out of order while every count
//! is accepted at most once. A count more than 63 below the highest is
//! refused as a replay.
//!
//! Memory is bounded by `capacity` entries (about 40 bytes each, plus the
//! map's overhead). Entries for expired nonces are dropped first; when the map
//! is still full the entry of the oldest nonce is evicted and a watermark
//! remembers it: a nonce at or below the watermark that is not in the map can
//! no longer be told apart from one whose counts were forgotten, so it is
//! reported as [`Admission::Forgotten`] and the server answers "stale", which
//! makes the client fetch a fresh nonce. The same watermark, set at start-up,
//! retires nonces minted before a restart.

use std::collections::BTreeMap;

use super::nonce::NonceId;

/// What the window says about one `(nonce, nc)` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// First use of this count: accepted and recorded.
    Fresh,
    /// This count was already used with this nonce, or is too old to tell.
    Replayed,
    /// The nonce's counts may have been evicted; it must not be used again.
    Forgotten,
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    highest: u32,
    /// Bit `i` set: count `highest - i` was used.
    seen: u64,
}

/// The per-nonce count windows.
#[derive(Debug)]
pub(crate) struct ReplayWindow {
    capacity: usize,
    entries: BTreeMap<NonceId, Counter>,
    watermark: Option<NonceId>,
}

impl ReplayWindow {
    /// An empty window holding at most `capacity` nonces (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        ReplayWindow {
            capacity: capacity.max(1),
            entries: BTreeMap::new(),
            watermark: None,
        }
    }

    /// Treats every nonce issued at or before `issued` as forgotten.
    pub(crate) fn forget_through(&mut self, issued: u64) {
        let mark = NonceId {
            issued,
            salt: [0xff; 16],
        };
        self.raise_watermark(mark);
        self.entries.retain(|id, _| *id > mark);
    }

    /// How many nonces are tracked.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Records `nc` for nonce `id` if it was not used before.
    ///
    /// `oldest_live` is the issue time of the oldest nonce that has not
    /// expired; older entries may be dropped to make room.
    pub(crate) fn admit(&mut self, id: NonceId, nc: u32, oldest_live: u64) -> Admission {
        if let Some(counter) = self.entries.get_mut(&id) {
            return counter.admit(nc);
        }
        if self.watermark.is_some_and(|mark| id <= mark) {
            return Admission::Forgotten;
        }
        self.make_room(oldest_live);
        self.entries.insert(
            id,
            Counter {
                highest: nc,
                seen: 1,
            },
        );
        Admission::Fresh
    }

    fn make_room(&mut self, oldest_live: u64) {
        while let Some((&oldest, _)) = self.entries.first_key_value() {
            let live = oldest.issued >= oldest_live;
            if live && self.entries.len() < self.capacity {
                break;
            }
            self.entries.remove(&oldest);
            if live {
                // Its counts are lost while it could still be used: retire it.
                self.raise_watermark(oldest);
            }
        }
    }

    fn raise_watermark(&mut self, id: NonceId) {
        if self.watermark.is_none_or(|mark| mark < id) {
            self.watermark = Some(id);
        }
    }
}

impl Counter {
    fn admit(&mut self, nc: u32) -> Admission {
        if nc > self.highest {
            let shift = nc - self.highest;
            self.seen = if shift >= 64 { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.highest = nc;
            return Admission::Fresh;
        }
        let back = self.highest - nc;
        if back >= 64 {
            return Admission::Replayed;
        }
        let bit = 1u64 << back;
        if self.seen & bit != 0 {
            return Admission::Replayed;
        }
        self.seen |= bit;
        Admission::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(issued: u64, salt: u8) -> NonceId {
        NonceId {
            issued,
            salt: [salt; 16],
        }
    }

    #[test]
    fn each_count_is_accepted_once_even_out_of_order() {
        let mut w = ReplayWindow::new(8);
        let n = id(100, 1);
        assert_eq!(w.admit(n, 1, 0), Admission::Fresh);
        assert_eq!(w.admit(n, 1, 0), Admission::Replayed);
        assert_eq!(w.admit(n, 3, 0), Admission::Fresh);
        assert_eq!(w.admit(n, 2, 0), Admission::Fresh);
        assert_eq!(w.admit(n, 2, 0), Admission::Replayed);
        assert_eq!(w.admit(n, 3, 0), Admission::Replayed);
        assert_eq!(w.admit(n, 100, 0), Admission::Fresh);
        assert_eq!(w.admit(n, 37, 0), Admission::Fresh);
        assert_eq!(
            w.admit(n, 36, 0),
            Admission::Replayed,
            "more than 63 below the highest"
        );
        assert_eq!(
            w.admit(id(100, 2), 1, 0),
            Admission::Fresh,
            "other nonce, own counts"
        );
    }

    #[test]
    fn eviction_bounds_memory_and_retires_evicted_nonces() {
        let mut w = ReplayWindow::new(3);
        for t in 1..=3 {
            assert_eq!(w.admit(id(t, 0), 1, 0), Admission::Fresh);
        }
        assert_eq!(w.admit(id(4, 0), 1, 0), Admission::Fresh);
        assert_eq!(w.len(), 3);
        // The oldest (t = 1) was evicted: replaying it must not succeed.
        assert_eq!(w.admit(id(1, 0), 1, 0), Admission::Forgotten);
        assert_eq!(w.admit(id(1, 0), 2, 0), Admission::Forgotten);
        // Nonces still tracked keep their counts.
        assert_eq!(w.admit(id(2, 0), 1, 0), Admission::Replayed);
        assert_eq!(w.admit(id(2, 0), 2, 0), Admission::Fresh);
    }

    #[test]
    fn expired_entries_are_dropped_before_live_ones() {
        let mut w = ReplayWindow::new(2);
        assert_eq!(w.admit(id(10, 0), 1, 0), Admission::Fresh);
        assert_eq!(w.admit(id(20, 0), 1, 0), Admission::Fresh);
        // Nonces issued before 15 have expired.
        assert_eq!(w.admit(id(30, 0), 1, 15), Admission::Fresh);
        assert_eq!(w.len(), 2);
        assert_eq!(
            w.admit(id(20, 0), 1, 15),
            Admission::Replayed,
            "live entry kept"
        );
    }

    #[test]
    fn forget_through_retires_earlier_nonces() {
        let mut w = ReplayWindow::new(8);
        assert_eq!(w.admit(id(5, 0), 1, 0), Admission::Fresh);
        w.forget_through(10);
        assert_eq!(w.len(), 0);
        assert_eq!(w.admit(id(5, 0), 2, 0), Admission::Forgotten);
        assert_eq!(w.admit(id(10, 0xff), 1, 0), Admission::Forgotten);
        assert_eq!(w.admit(id(11, 0), 1, 0), Admission::Fresh);
    }
}
