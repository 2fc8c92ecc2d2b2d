//! Store-and-forward: what to send next, and what to send again.
//!
//! [`Outbox`] is the sans-IO scheduler on the sending side. It reads no clock
//! and touches no socket; its inputs are
//!
//! - [`Outbox::handle_enqueue`]: an item to deliver (from the durable table
//!   in [`store`], or a live audio chunk);
//! - [`Outbox::handle_connected`] / [`Outbox::handle_disconnected`]: link
//!   state;
//! - [`Outbox::handle_acked`]: the receiver stored these keys;
//!
//! and [`Outbox::poll_output`]`(now)` says what to do: send an item, send a
//! heartbeat, or wait (until a deadline, or for an input).
//!
//! # Guarantees
//!
//! - Higher [`Priority`] classes go first; within a class, items go in the
//!   order they were enqueued.
//! - At most [`Window::max_items`] items and about [`Window::max_bytes`]
//!   bytes are unacknowledged at once (one item is always allowed, however
//!   big), so a slow receiver slows the sender and memory stays bounded.
//! - At-least-once: on disconnect every unacknowledged item becomes pending
//!   again, in its original place. The receiver drops duplicates by key
//!   ([`dedup`]).
//! - Each key is held once: enqueuing a key that is pending or in flight is
//!   ignored, so reloading the durable table is harmless.
//! - At most [`OutboxConfig::max_held`] items are held; beyond that
//!   [`Outbox::handle_enqueue`] refuses, and durable items wait in the table.

pub mod dedup;
pub mod store;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::wire::{Item, ItemKey, Priority};

/// The in-flight budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Most unacknowledged items.
    pub max_items: usize,
    /// Most unacknowledged bytes (by [`Item::cost`]).
    pub max_bytes: usize,
}

/// The outbox's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboxConfig {
    /// The in-flight budget.
    pub window: Window,
    /// Most items held, pending and in flight together.
    pub max_held: usize,
    /// A heartbeat goes out when nothing was sent for this long.
    pub heartbeat_interval: Duration,
}

impl Default for OutboxConfig {
    /// 256 items or 4 MiB in flight, 100 000 held, a heartbeat each second.
    fn default() -> Self {
        Self {
            window: Window {
                max_items: 256,
                max_bytes: 4 << 20,
            },
            max_held: 100_000,
            heartbeat_interval: Duration::from_secs(1),
        }
    }
}

/// What the driver should do next.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Output {
    /// Send this item; it now counts against the window until acknowledged.
    Send(Item),
    /// Send a heartbeat with this sequence number.
    Heartbeat(u64),
    /// Nothing to do before this deadline, or before the next input when
    /// `None`.
    Wait(Option<Instant>),
}

/// [`Outbox::handle_enqueue`] refused an item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// [`OutboxConfig::max_held`] items are already held.
    #[error("outbox holds {0} items, its maximum")]
    Full(usize),
}

/// Counters for observation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Items handed out by [`Output::Send`] (re-sends included).
    pub sent: u64,
    /// Items acknowledged.
    pub acked: u64,
    /// Items put back to pending by a disconnect.
    pub requeued: u64,
}

#[derive(Debug)]
enum Link {
    Down,
    Up {
        next_heartbeat: Instant,
        heartbeat_seq: u64,
    },
}

/// The sending side's scheduler. See the module docs for its contract.
#[derive(Debug)]
pub struct Outbox {
    config: OutboxConfig,
    /// Pending items by (class, enqueue order).
    pending: BTreeMap<(Priority, u64), Item>,
    /// Every key pending or in flight.
    held: HashSet<ItemKey>,
    /// Items sent and not yet acknowledged, by key.
    in_flight: HashMap<ItemKey, (Priority, u64, Item)>,
    in_flight_bytes: usize,
    next_order: u64,
    link: Link,
    stats: OutboxStats,
}

impl Outbox {
    /// An empty outbox, link down.
    #[must_use]
    pub fn new(config: OutboxConfig) -> Self {
        Self {
            config,
            pending: BTreeMap::new(),
            held: HashSet::new(),
            in_flight: HashMap::new(),
            in_flight_bytes: 0,
            next_order: 0,
            link: Link::Down,
            stats: OutboxStats::default(),
        }
    }

    /// Takes `item` for delivery. Returns `Ok(false)` when its key is already
    /// held (nothing changes).
    ///
    /// # Errors
    ///
    /// [`OutboxError::Full`] when [`OutboxConfig::max_held`] items are held.
    pub fn handle_enqueue(&mut self, item: Item) -> Result<bool, OutboxError> {
        if self.held.contains(&item.key()) {
            return Ok(false);
        }
        if self.held.len() >= self.config.max_held {
            return Err(OutboxError::Full(self.held.len()));
        }
        self.held.insert(item.key());
        self.pending
            .insert((item.priority(), self.next_order), item);
        self.next_order += 1;
        Ok(true)
    }

    /// The link is up (the peer's hello was accepted) at `now`. The first
    /// heartbeat is due one interval later.
    pub fn handle_connected(&mut self, now: Instant) {
        self.requeue_in_flight();
        self.link = Link::Up {
            next_heartbeat: now + self.config.heartbeat_interval,
            heartbeat_seq: 0,
        };
    }

    /// The link is down: every unacknowledged item becomes pending again.
    pub fn handle_disconnected(&mut self) {
        self.requeue_in_flight();
        self.link = Link::Down;
    }

    /// The receiver stored `keys`. Returns the keys that were in flight and
    /// are now forgotten (unknown and repeated keys are ignored); the caller
    /// deletes those from the durable table.
    #[must_use = "acknowledged items must be deleted from the durable table"]
    pub fn handle_acked(&mut self, keys: &[ItemKey]) -> Vec<ItemKey> {
        let mut done = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some((_, _, item)) = self.in_flight.remove(key) {
                self.in_flight_bytes -= item.cost();
                self.held.remove(key);
                self.stats.acked += 1;
                done.push(*key);
            }
        }
        done
    }

    /// The next thing to do at `now`.
    pub fn poll_output(&mut self, now: Instant) -> Output {
        let Link::Up {
            next_heartbeat,
            heartbeat_seq,
        } = &mut self.link
        else {
            return Output::Wait(None);
        };
        let interval = self.config.heartbeat_interval;
        if now >= *next_heartbeat {
            let seq = *heartbeat_seq;
            *heartbeat_seq += 1;
            *next_heartbeat = now + interval;
            return Output::Heartbeat(seq);
        }
        let deadline = *next_heartbeat;
        match self.take_sendable() {
            Some(item) => {
                // Anything sent proves the link alive; push the heartbeat back.
                if let Link::Up { next_heartbeat, .. } = &mut self.link {
                    *next_heartbeat = now + interval;
                }
                Output::Send(item)
            }
            None => Output::Wait(Some(deadline)),
        }
    }

    /// Items waiting to be sent.
    #[must_use]
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Items sent and not yet acknowledged.
    #[must_use]
    pub fn in_flight_len(&self) -> usize {
        self.in_flight.len()
    }

    /// The cost of the items in flight.
    #[must_use]
    pub fn in_flight_bytes(&self) -> usize {
        self.in_flight_bytes
    }

    /// Whether more items may be enqueued.
    #[must_use]
    pub fn has_room(&self) -> bool {
        self.held.len() < self.config.max_held
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> OutboxStats {
        self.stats
    }

    fn take_sendable(&mut self) -> Option<Item> {
        let window = self.config.window;
        if self.in_flight.len() >= window.max_items {
            return None;
        }
        let first = self.pending.first_entry()?;
        let cost = first.get().cost();
        if !self.in_flight.is_empty() && self.in_flight_bytes + cost > window.max_bytes {
            return None;
        }
        let (priority, order) = *first.key();
        let item = first.remove();
        self.in_flight_bytes += cost;
        self.in_flight
            .insert(item.key(), (priority, order, item.clone()));
        self.stats.sent += 1;
        Some(item)
    }

    fn requeue_in_flight(&mut self) {
        for (_, (priority, order, item)) in self.in_flight.drain() {
            self.pending.insert((priority, order), item);
            self.stats.requeued += 1;
        }
        self.in_flight_bytes = 0;
    }
}

#[cfg(test)]
mod tests;
