//! The packet index of a stream: rollover-counter estimation (RFC 3711 §3.3.1,
//! Appendix A) and the replay window (§3.3.2).

use super::SrtpError;

/// Packets behind the highest index that the window still tracks.
pub(super) const WINDOW: u64 = 128;

/// One stream's highest accepted index and which of the [`WINDOW`] indices at and below
/// it were seen. `Copy`, so a candidate state can be computed and discarded when the
/// packet turns out to be bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReplayWindow {
    /// The highest index accepted, or the starting point before the first packet.
    highest: u64,
    /// Bit `i` set: index `highest - i` was accepted.
    seen: u128,
}

impl ReplayWindow {
    /// A window for a stream whose first packet has index `first`. Nothing is marked
    /// seen, so `first` itself (and up to [`WINDOW`] - 1 indices before it) pass.
    pub(super) fn starting_at(first: u64) -> Self {
        Self {
            highest: first,
            seen: 0,
        }
    }

    /// The highest index accepted (or the starting point).
    pub(super) fn highest(&self) -> u64 {
        self.highest
    }

    /// `Ok` if `index` was not seen and is not behind the window.
    pub(super) fn check(&self, index: u64) -> Result<(), SrtpError> {
        if index > self.highest {
            return Ok(());
        }
        let behind = self.highest - index;
        if behind >= WINDOW {
            return Err(SrtpError::TooOld { index });
        }
        if self.seen & (1 << behind) != 0 {
            return Err(SrtpError::Replayed { index });
        }
        Ok(())
    }

    /// Marks `index` seen, sliding the window forward when it is the new highest. Call
    /// only after [`ReplayWindow::check`] passed.
    pub(super) fn accept(&mut self, index: u64) {
        if index > self.highest {
            let ahead = index - self.highest;
            self.seen = if ahead >= WINDOW {
                0
            } else {
                self.seen << ahead
            };
            self.seen |= 1;
            self.highest = index;
        } else {
            let behind = self.highest - index;
            if behind < WINDOW {
                self.seen |= 1 << behind;
            }
        }
    }
}

/// The 48-bit index of a packet with sequence number `seq`, guessed from the highest
/// index of its stream so far (RFC 3711 Appendix A): the rollover counter stays, or
/// moves one up or down, whichever puts `seq` within half the sequence space of the
/// highest. A guess below the stream's first rollover keeps the counter at zero.
pub(super) fn estimate_index(highest: u64, seq: u16) -> u64 {
    const HALF: u16 = 0x8000;
    let roc = highest >> 16;
    let last = (highest & 0xFFFF) as u16;
    let guess = if last < HALF {
        if seq > last && seq - last > HALF {
            roc.saturating_sub(1)
        } else {
            roc
        }
    } else if last - HALF > seq {
        roc + 1
    } else {
        roc
    };
    (guess << 16) | u64::from(seq)
}
