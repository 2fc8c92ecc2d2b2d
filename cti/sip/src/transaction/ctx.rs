//! What a state machine may do when it handles an input: send bytes, emit an
//! event, arm or disarm its own timers. The layer lends each machine a
//! [`Ctx`] for one input and collects the effects in its [`Outbox`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::TsxEvent;
use super::key::TsxKey;
use super::timers::{Deadline, TimerHeap, TimerKind, TimerTable, Timers};
use crate::message::Request;
use crate::net::{Target, Transmit};

/// Whether a transaction lives on after an input.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Still running.
    Continue,
    /// Reached Terminated: the layer destroys it now.
    Terminate,
}

/// Counters kept across the layer's lifetime.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) retransmissions: u64,
    pub(crate) timeouts: u64,
    pub(crate) absorbed: u64,
}

/// A client transaction a machine asks the layer to start (a CANCEL): the
/// request already carries its Via.
#[derive(Debug)]
pub(crate) struct Spawn {
    /// The key the TU already holds, if any; the layer allocates one otherwise.
    pub(crate) key: Option<TsxKey>,
    pub(crate) request: Request,
    pub(crate) target: Target,
}

/// Everything queued for the driver and the TU.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<TsxEvent>,
    pub(crate) spawns: Vec<Spawn>,
    pub(crate) counters: Counters,
}

impl Outbox {
    pub(crate) fn send(&mut self, target: Target, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit { target, bytes });
    }
}

/// One machine's view of the layer while it handles one input.
pub(crate) struct Ctx<'a> {
    /// The current time.
    pub(crate) now: Instant,
    /// The transaction being driven.
    pub(crate) key: TsxKey,
    /// Timer base values.
    pub(crate) timers: &'a Timers,
    /// True on TCP/TLS: no retransmissions, zero wait timers.
    pub(crate) reliable: bool,
    /// Where this transaction's messages go.
    pub(crate) target: Target,
    /// The TU knows this transaction; events of one it does not know (a
    /// CANCEL the layer sent by itself) are not reported.
    pub(crate) announced: bool,
    pub(crate) table: &'a mut TimerTable,
    pub(crate) heap: &'a mut TimerHeap,
    pub(crate) out: &'a mut Outbox,
}

impl Ctx<'_> {
    /// Sends bytes to the transaction's target.
    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.out.send(self.target, bytes.to_vec());
    }

    /// Sends bytes elsewhere (an ACK for a 2xx goes to the dialog's target).
    pub(crate) fn send_to(&mut self, target: Target, bytes: &[u8]) {
        self.out.send(target, bytes.to_vec());
    }

    /// Re-sends bytes already sent once, counting the retransmission.
    pub(crate) fn resend(&mut self, bytes: &[u8]) {
        self.out.counters.retransmissions += 1;
        self.send(bytes);
    }

    /// Re-sends bytes to another target, counting the retransmission.
    pub(crate) fn resend_to(&mut self, target: Target, bytes: &[u8]) {
        self.out.counters.retransmissions += 1;
        self.send_to(target, bytes);
    }

    /// Counts an incoming retransmission that the machine swallowed.
    pub(crate) fn absorb(&mut self) {
        self.out.counters.absorbed += 1;
    }

    /// Hands an event to the TU.
    pub(crate) fn emit(&mut self, event: TsxEvent) {
        if self.announced {
            self.out.events.push_back(event);
        }
    }

    /// Reports the transaction timed out.
    pub(crate) fn time_out(&mut self) {
        self.out.counters.timeouts += 1;
        self.emit(TsxEvent::TimedOut { key: self.key });
    }

    /// Arms `kind` to fire `after` from now.
    pub(crate) fn arm(&mut self, kind: TimerKind, after: Duration) {
        let at = self.now + after;
        self.table.set(kind, at);
        self.heap.push(Deadline {
            at,
            key: self.key,
            kind,
        });
    }

    /// Disarms `kind`.
    pub(crate) fn disarm(&mut self, kind: TimerKind) {
        self.table.clear(kind);
    }

    /// Arms `kind` only on an unreliable transport (retransmission timers).
    pub(crate) fn arm_unreliable(&mut self, kind: TimerKind, after: Duration) {
        if !self.reliable {
            self.arm(kind, after);
        }
    }

    /// Enters a waiting state: arms `kind` for `after` on an unreliable
    /// transport; on a reliable one the wait is zero and the transaction
    /// terminates at once (Timers D, I, J, K).
    pub(crate) fn linger(&mut self, kind: TimerKind, after: Duration) -> Flow {
        if self.reliable {
            return Flow::Terminate;
        }
        self.arm(kind, after);
        Flow::Continue
    }
}
