//! The layer's bookkeeping: live transactions, their match indexes, and the
//! one place that runs a machine ([`TransactionLayer::drive`]), destroys it
//! and starts the client transactions machines ask for.
//!
//! Invariant: every index entry (client, server, ACK) points at a live
//! transaction, and a destroyed transaction leaves no entry behind.

use std::time::Instant;

use super::client_invite::ClientInvite;
use super::client_non_invite::ClientNonInvite;
use super::ctx::{Ctx, Flow};
use super::key::{AckMatch, ClientMatch, ServerMatch, TsxKey};
use super::server_invite::ServerInvite;
use super::server_non_invite::ServerNonInvite;
use super::timers::{TimerKind, TimerTable};
use super::{LayerStats, TransactionLayer, TsxEvent};
use crate::message::{Method, Request, Response};
use crate::net::Target;

/// One RFC role's machine.
#[allow(clippy::enum_variant_names)] // the four roles of RFC 3261 §17
#[derive(Debug)]
pub(crate) enum Machine {
    ClientInvite(Box<ClientInvite>),
    ClientNonInvite(ClientNonInvite),
    ServerInvite(ServerInvite),
    ServerNonInvite(ServerNonInvite),
}

impl Machine {
    /// Dispatches a timer to the machine.
    pub(crate) fn handle_timer(&mut self, ctx: &mut Ctx<'_>, kind: TimerKind) -> Flow {
        match self {
            Machine::ClientInvite(m) => m.handle_timer(ctx, kind),
            Machine::ClientNonInvite(m) => m.handle_timer(ctx, kind),
            Machine::ServerInvite(m) => m.handle_timer(ctx, kind),
            Machine::ServerNonInvite(m) => m.handle_timer(ctx, kind),
        }
    }

    /// The live-transaction gauge this role counts in.
    fn gauge<'a>(&self, stats: &'a mut LayerStats) -> &'a mut usize {
        match self {
            Machine::ClientInvite(_) => &mut stats.client_invite,
            Machine::ClientNonInvite(_) => &mut stats.client_non_invite,
            Machine::ServerInvite(_) => &mut stats.server_invite,
            Machine::ServerNonInvite(_) => &mut stats.server_non_invite,
        }
    }
}

/// The index entries a transaction owns.
#[derive(Debug)]
pub(crate) enum Index {
    Client(ClientMatch),
    Server(ServerMatch),
}

/// One live transaction.
#[derive(Debug)]
pub(crate) struct Tsx {
    pub(crate) machine: Machine,
    pub(crate) timers: TimerTable,
    target: Target,
    reliable: bool,
    index: Index,
    /// The dialog whose 2xx ACK this server INVITE waits for.
    ack: Option<AckMatch>,
    /// The TU knows the key (so it hears of the end).
    announced: bool,
}

/// What a new transaction needs besides its machine.
pub(crate) struct Birth {
    pub(crate) key: TsxKey,
    pub(crate) target: Target,
    pub(crate) index: Index,
    pub(crate) announced: bool,
}

impl TransactionLayer {
    /// A fresh key.
    pub(crate) fn alloc(&mut self, client: bool) -> TsxKey {
        self.next_id += 1;
        TsxKey::new(self.next_id, client)
    }

    /// Creates a transaction, letting `build` run its first actions.
    pub(crate) fn create(
        &mut self,
        now: Instant,
        birth: Birth,
        build: impl FnOnce(&mut Ctx<'_>) -> Machine,
    ) {
        let reliable = birth.target.transport.is_reliable();
        let mut timers = TimerTable::default();
        let mut ctx = Ctx {
            now,
            key: birth.key,
            timers: &self.cfg.timers,
            reliable,
            target: birth.target,
            announced: birth.announced,
            table: &mut timers,
            heap: &mut self.heap,
            out: &mut self.out,
        };
        let machine = build(&mut ctx);
        *machine.gauge(&mut self.stats) += 1;
        match &birth.index {
            Index::Client(m) => self.clients.insert(m.clone(), birth.key),
            Index::Server(m) => self.servers.insert(m.clone(), birth.key),
        };
        let tsx = Tsx {
            machine,
            timers,
            target: birth.target,
            reliable,
            index: birth.index,
            ack: None,
            announced: birth.announced,
        };
        self.tsxs.insert(birth.key, tsx);
    }

    /// Starts a client transaction for a request that already has its Via.
    pub(crate) fn start_client(
        &mut self,
        now: Instant,
        key: TsxKey,
        req: Request,
        target: Target,
        announced: bool,
    ) {
        let Some(m) = req
            .headers
            .top_via()
            .and_then(|v| v.branch().map(|b| ClientMatch::new(b, req.method.clone())))
        else {
            return;
        };
        let birth = Birth {
            key,
            target,
            index: Index::Client(m),
            announced,
        };
        if req.method == Method::Invite {
            self.create(now, birth, |ctx| {
                Machine::ClientInvite(Box::new(ClientInvite::start(ctx, req)))
            });
        } else {
            let bytes = req.to_bytes();
            self.create(now, birth, |ctx| {
                Machine::ClientNonInvite(ClientNonInvite::start(ctx, bytes))
            });
        }
    }

    /// Runs `f` on a transaction's machine; destroys the transaction when it
    /// terminates and starts what it spawned. False when the key is unknown.
    pub(crate) fn drive(
        &mut self,
        now: Instant,
        key: TsxKey,
        f: impl FnOnce(&mut Machine, &mut Ctx<'_>) -> Flow,
    ) -> bool {
        let Some(tsx) = self.tsxs.get_mut(&key) else {
            return false;
        };
        let mut ctx = Ctx {
            now,
            key,
            timers: &self.cfg.timers,
            reliable: tsx.reliable,
            target: tsx.target,
            announced: tsx.announced,
            table: &mut tsx.timers,
            heap: &mut self.heap,
            out: &mut self.out,
        };
        if f(&mut tsx.machine, &mut ctx) == Flow::Terminate {
            self.destroy(key);
        }
        for spawn in std::mem::take(&mut self.out.spawns) {
            let announced = spawn.key.is_some();
            let key = spawn.key.unwrap_or_else(|| self.alloc(true));
            self.start_client(now, key, spawn.request, spawn.target, announced);
        }
        true
    }

    /// Removes a transaction and its index entries.
    fn destroy(&mut self, key: TsxKey) {
        let Some(tsx) = self.tsxs.remove(&key) else {
            return;
        };
        let gauge = tsx.machine.gauge(&mut self.stats);
        *gauge = gauge.saturating_sub(1);
        match &tsx.index {
            Index::Client(m) => self.clients.remove(m),
            Index::Server(m) => self.servers.remove(m),
        };
        if let Some(a) = &tsx.ack {
            self.acks.remove(a);
        }
        if tsx.announced {
            self.out.events.push_back(TsxEvent::Terminated { key });
        }
    }

    /// A server INVITE sent a 2xx: its dialog's ACK now finds it.
    pub(crate) fn watch_for_ack(&mut self, key: TsxKey, resp: &Response) {
        let Some(tsx) = self.tsxs.get_mut(&key) else {
            return;
        };
        if tsx.ack.is_some() || !matches!(tsx.machine, Machine::ServerInvite(_)) {
            return;
        }
        if let Some(a) = AckMatch::of_response(resp)
            && !self.acks.contains_key(&a)
        {
            self.acks.insert(a.clone(), key);
            tsx.ack = Some(a);
        }
    }

    /// Drops disarmed deadlines from the top of the heap (so
    /// [`poll_timeout`](TransactionLayer::poll_timeout) is exact) and
    /// rebuilds the heap when stale entries dominate.
    pub(crate) fn tidy(&mut self) {
        while let Some(d) = self.heap.peek() {
            if self.tsxs.get(&d.key).and_then(|t| t.timers.get(d.kind)) == Some(d.at) {
                break;
            }
            self.heap.pop();
        }
        if self.heap.needs_compaction() {
            let live = self.tsxs.values().map(|t| t.timers.armed()).sum();
            self.heap
                .rebuild(live, self.tsxs.iter().map(|(k, t)| (*k, &t.timers)));
        }
    }

    /// Live server transactions.
    pub(crate) fn server_count(&self) -> usize {
        self.stats.server_invite + self.stats.server_non_invite
    }

    /// Checks the index invariant; returns the number of index entries.
    #[cfg(test)]
    pub(crate) fn check_indexes(&self) -> usize {
        for k in self
            .clients
            .values()
            .chain(self.servers.values())
            .chain(self.acks.values())
        {
            assert!(
                self.tsxs.contains_key(k),
                "index entry for dead transaction {k}"
            );
        }
        assert_eq!(self.tsxs.len(), self.stats.live());
        self.clients.len() + self.servers.len() + self.acks.len()
    }
}
