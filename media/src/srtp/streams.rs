//! Per-SSRC state of a context, bounded: past [`MAX_STREAMS`] sources the least
//! recently used one is forgotten.
//!
//! State is only ever stored for packets that authenticated (or that we protect), so
//! only a holder of the key can make a context forget a stream.

use std::collections::HashMap;

/// Sources tracked per direction and protocol. A call leg has one or two; re-INVITEs
/// that change the SSRC add a few over a long call.
pub(super) const MAX_STREAMS: usize = 64;

/// State of type `T` per SSRC.
#[derive(Debug, Clone)]
pub(super) struct Streams<T> {
    entries: HashMap<u32, Entry<T>>,
    /// Counts uses, to find the least recently used entry.
    clock: u64,
}

#[derive(Debug, Clone)]
struct Entry<T> {
    state: T,
    used: u64,
}

impl<T: Copy> Streams<T> {
    /// No streams.
    pub(super) fn new() -> Self {
        Self {
            entries: HashMap::new(),
            clock: 0,
        }
    }

    /// The state of `ssrc`, if tracked (a copy: store it back with
    /// [`Streams::store`] once the packet is accepted).
    pub(super) fn state(&self, ssrc: u32) -> Option<T> {
        self.entries.get(&ssrc).map(|entry| entry.state)
    }

    /// Stores the state of `ssrc`, forgetting the least recently used stream when a new
    /// one would exceed [`MAX_STREAMS`].
    pub(super) fn store(&mut self, ssrc: u32, state: T) {
        self.clock += 1;
        let used = self.clock;
        if let Some(entry) = self.entries.get_mut(&ssrc) {
            *entry = Entry { state, used };
            return;
        }
        if self.entries.len() >= MAX_STREAMS {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.used)
                .map(|(&ssrc, _)| ssrc);
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(ssrc, Entry { state, used });
    }

    /// How many streams are tracked.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}
