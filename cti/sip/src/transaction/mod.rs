//! The RFC 3261 transaction layer (§17), sans-IO, with RFC 6026's Accepted
//! states and RFC 3581 `rport`.
//!
//! [`TransactionLayer`] never reads a clock or touches a socket. The driver
//! feeds it datagrams and stream messages with [`handle_received`], the TU
//! (call control) starts and answers transactions, and the driver drains
//! its outputs, in this order, after every input:
//!
//! ```text
//!   handle_received / send_request / respond / cancel / ack_2xx / handle_timeout
//!        │
//!        ├─► poll_transmit() until None   bytes for the transport
//!        ├─► poll_event()    until None   TsxEvent for the TU
//!        └─► poll_timeout()               when to call handle_timeout next
//! ```
//!
//! What the layer does by itself: absorbs retransmitted requests and
//! responses (re-sending the last answer), retransmits over UDP (Timers A,
//! E, G and the 2xx), sends 100 Trying for INVITE, ACKs non-2xx final
//! responses, answers CANCEL (200 or 481), answers broken requests and
//! requests beyond [`LayerConfig::max_transactions`] statelessly, stamps
//! `received`/`rport` on received requests and routes responses per §18.2.2.
//! Over TCP/TLS it never retransmits and its wait timers (D, I, J, K) are zero.
//!
//! What it leaves to the TU: every final response of a server transaction
//! (a TU silent for Timer C on an INVITE, or 64·T1 on anything else, gets a
//! 408 from the layer and a [`TsxEvent::TimedOut`]), the 487 after a CANCEL,
//! and the ACK for a 2xx ([`TransactionLayer::ack_2xx`]).
//!
//! Out of scope: DNS (RFC 3263), `maddr`, transport errors as inputs, and
//! proxy behaviour (stray responses are reported, not forwarded).
//!
//! [`handle_received`]: TransactionLayer::handle_received

mod address;
mod client_invite;
mod client_non_invite;
mod ctx;
mod inbound;
mod key;
mod server_invite;
mod server_non_invite;
mod store;
mod timers;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::Instant;

pub use key::TsxKey;
pub use timers::Timers;

use crate::message::{HeaderName, Host, Message, Method, Request, Response};
use crate::net::{Source, Target, Transmit, TransportKind};
use client_invite::CancelAnswer;
use ctx::{Flow, Outbox};
use key::{AckMatch, ClientMatch, IdSource, ServerMatch};
use store::{Machine, Tsx};
use timers::TimerHeap;

/// The ports this node listens on, advertised in the Via of its requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenPorts {
    /// UDP port (default 5060).
    pub udp: u16,
    /// TCP port (default 5060).
    pub tcp: u16,
    /// TLS port (default 5061).
    pub tls: u16,
}

impl Default for ListenPorts {
    fn default() -> ListenPorts {
        ListenPorts {
            udp: 5060,
            tcp: 5060,
            tls: 5061,
        }
    }
}

impl ListenPorts {
    /// The port of one transport.
    pub fn port(&self, kind: TransportKind) -> u16 {
        match kind {
            TransportKind::Udp => self.udp,
            TransportKind::Tcp => self.tcp,
            TransportKind::Tls => self.tls,
        }
    }
}

/// How the layer behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerConfig {
    /// Timer base values.
    pub timers: Timers,
    /// The sent-by host put in the Via of our requests; responses whose top
    /// Via names another host are not ours (§18.1.2).
    pub via_host: Host,
    /// The sent-by port for each transport.
    pub ports: ListenPorts,
    /// Added as User-Agent to our requests and as Server to the responses
    /// the layer makes itself.
    pub user_agent: Option<String>,
    /// Most live server transactions; new requests beyond it get 503.
    pub max_transactions: usize,
}

impl LayerConfig {
    /// Defaults for everything but the advertised host.
    pub fn new(via_host: Host) -> LayerConfig {
        LayerConfig {
            timers: Timers::default(),
            via_host,
            ports: ListenPorts::default(),
            user_agent: None,
            max_transactions: 1_000_000,
        }
    }
}

/// What the layer tells the TU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TsxEvent {
    /// A new server transaction: answer it with [`TransactionLayer::respond`].
    /// Never ACK or CANCEL; the request's top Via carries `received`/`rport`.
    Request {
        /// The new transaction.
        key: TsxKey,
        /// The request.
        request: Request,
        /// Where it came from.
        source: Source,
    },
    /// An ACK for a 2xx (dialog business for the UAS core). ACKs for non-2xx
    /// responses are absorbed by their transaction.
    Ack {
        /// The ACK.
        request: Request,
        /// Where it came from.
        source: Source,
    },
    /// A CANCEL matched a server INVITE without a final response. The layer
    /// answered the CANCEL 200; the TU should answer the INVITE 487.
    Cancelled {
        /// The INVITE's transaction.
        invite: TsxKey,
        /// The CANCEL.
        cancel: Request,
    },
    /// A client transaction got a response: provisional and final; for an
    /// INVITE, the first 2xx of each dialog (retransmissions are handled
    /// with the ACK given to [`TransactionLayer::ack_2xx`]).
    Response {
        /// The client transaction.
        key: TsxKey,
        /// The response.
        response: Response,
    },
    /// Client: no final response in time (Timer B/F, or 64·T1 after a
    /// CANCEL); the TU treats it as 408. Server: no ACK for our final
    /// response (Timer H/L; after a 2xx the TU must send BYE), or the TU gave
    /// no final response in time and the layer answered 408.
    TimedOut {
        /// The transaction.
        key: TsxKey,
    },
    /// A response that matched no client transaction; dropped.
    StrayResponse {
        /// The response.
        response: Response,
        /// Where it came from.
        source: Source,
    },
    /// The transaction is gone; per-transaction state in the TU can go too.
    Terminated {
        /// The transaction.
        key: TsxKey,
    },
}

/// Counters and gauges of the layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LayerStats {
    /// Live INVITE client transactions.
    pub client_invite: usize,
    /// Live non-INVITE client transactions.
    pub client_non_invite: usize,
    /// Live INVITE server transactions.
    pub server_invite: usize,
    /// Live non-INVITE server transactions.
    pub server_non_invite: usize,
    /// Messages sent again: timer-driven retransmissions and answers to
    /// retransmitted messages.
    pub retransmissions: u64,
    /// `TimedOut` events.
    pub timeouts: u64,
    /// Retransmitted requests and responses swallowed by a transaction.
    pub absorbed: u64,
    /// Received messages that did not parse.
    pub parse_failures: u64,
    /// Responses that matched no client transaction.
    pub stray_responses: u64,
    /// Requests answered 503 because the layer was full.
    pub rejected_overload: u64,
}

impl LayerStats {
    /// All live transactions.
    pub fn live(&self) -> usize {
        self.client_invite + self.client_non_invite + self.server_invite + self.server_non_invite
    }
}

/// The transaction layer: every client and server transaction of one node.
#[derive(Debug)]
pub struct TransactionLayer {
    cfg: LayerConfig,
    ids: IdSource,
    next_id: u64,
    tsxs: HashMap<TsxKey, Tsx>,
    clients: HashMap<ClientMatch, TsxKey>,
    servers: HashMap<ServerMatch, TsxKey>,
    acks: HashMap<AckMatch, TsxKey>,
    heap: TimerHeap,
    out: Outbox,
    stats: LayerStats,
}

impl TransactionLayer {
    /// A layer with no transactions. `seed` drives branch and tag generation.
    /// Timer values are clamped to sane bounds (T1 at least 1 ms, so
    /// retransmissions cannot spin; none beyond an hour, C beyond a day).
    pub fn new(mut cfg: LayerConfig, seed: u64) -> TransactionLayer {
        cfg.timers = cfg.timers.clamped();
        TransactionLayer {
            cfg,
            ids: IdSource::new(seed),
            next_id: 0,
            tsxs: HashMap::new(),
            clients: HashMap::new(),
            servers: HashMap::new(),
            acks: HashMap::new(),
            heap: TimerHeap::default(),
            out: Outbox::default(),
            stats: LayerStats::default(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &LayerConfig {
        &self.cfg
    }

    /// Bytes arrived: one datagram, or one framed message of a stream.
    pub fn handle_received(&mut self, now: Instant, from: Source, bytes: &[u8]) {
        self.receive(now, from, bytes);
        self.tidy();
    }

    /// Starts a client transaction: adds the top Via (our sent-by, a fresh
    /// branch, `rport`), Max-Forwards 70 and User-Agent when absent, and
    /// sends the request. An ACK does not belong here (an ACK for a 2xx goes
    /// to [`ack_2xx`](Self::ack_2xx)); one given anyway is sent once and its
    /// key terminates at once.
    pub fn send_request(&mut self, now: Instant, mut req: Request, target: Target) -> TsxKey {
        let branch = self.ids.branch();
        self.stamp_request(&mut req, target.transport, &branch);
        let key = self.alloc(true);
        if req.method == Method::Ack {
            self.out.send(target, req.to_bytes());
            self.out.events.push_back(TsxEvent::Terminated { key });
            return key;
        }
        self.start_client(now, key, req, target, true);
        self.tidy();
        key
    }

    /// The TU's response for a server transaction. Ignored when the
    /// transaction is gone or already answered finally.
    pub fn respond(&mut self, now: Instant, key: &TsxKey, resp: Response) {
        if !(100..700).contains(&resp.status) {
            return;
        }
        let accepted = (200..300).contains(&resp.status);
        let ran = self.drive(now, *key, |m, ctx| match m {
            Machine::ServerInvite(s) => s.respond(ctx, &resp),
            Machine::ServerNonInvite(s) => s.respond(ctx, &resp),
            _ => Flow::Continue,
        });
        if ran && accepted {
            self.watch_for_ack(*key, &resp);
        }
        self.tidy();
    }

    /// Sends a final response and ends the server transaction at once,
    /// without staying to absorb retransmissions of the request. For answers
    /// the TU would simply make again for a retransmission — a digest
    /// challenge above all, which registrars commonly send statelessly: a
    /// retransmitted request then starts a new transaction and gets a fresh
    /// challenge. Halves the state a registration storm leaves behind.
    /// Provisional responses are sent as with [`respond`](Self::respond).
    pub fn respond_and_end(&mut self, now: Instant, key: &TsxKey, resp: Response) {
        if !(200..700).contains(&resp.status) {
            return self.respond(now, key, resp);
        }
        self.drive(now, *key, |m, ctx| {
            // Whatever the machine would do next, the transaction ends here.
            let _sent = match m {
                Machine::ServerInvite(s) => s.respond(ctx, &resp),
                Machine::ServerNonInvite(s) => s.respond(ctx, &resp),
                _ => return Flow::Continue,
            };
            Flow::Terminate
        });
        self.tidy();
    }

    /// Cancels a client INVITE (§9.1): the CANCEL is built from the INVITE
    /// and sent now, or once a provisional response arrived. Returns the
    /// CANCEL's key (the same one when asked again); `None` when the key is
    /// no client INVITE, a final response already came, or the layer sent
    /// the CANCEL itself (Timer C).
    pub fn cancel(&mut self, now: Instant, invite: &TsxKey) -> Option<TsxKey> {
        let answer = match &self.tsxs.get(invite)?.machine {
            Machine::ClientInvite(c) => c.can_cancel(),
            _ => return None,
        };
        let key = match answer {
            CancelAnswer::TooLate => return None,
            CancelAnswer::AlreadyRequested(k) => return k,
            CancelAnswer::Possible => self.alloc(true),
        };
        self.drive(now, *invite, |m, ctx| match m {
            Machine::ClientInvite(c) => c.request_cancel(ctx, key),
            _ => Flow::Continue,
        });
        self.tidy();
        Some(key)
    }

    /// The UAC core's ACK for a 2xx: sent now to `target`, and again for
    /// every retransmission of that 2xx while the INVITE's client
    /// transaction is in Accepted (Timer M). Adds a top Via with a new branch
    /// and Max-Forwards when absent.
    pub fn ack_2xx(&mut self, now: Instant, invite: &TsxKey, mut ack: Request, target: Target) {
        if ack.headers.top_via().is_none() {
            let branch = self.ids.branch();
            self.stamp_request(&mut ack, target.transport, &branch);
        }
        let to_tag = ack.headers.to().and_then(|t| t.tag().map(str::to_owned));
        let bytes = ack.to_bytes();
        let mut kept = false;
        self.drive(now, *invite, |m, ctx| {
            if let Machine::ClientInvite(c) = m {
                kept = c.handle_ack_2xx(ctx, to_tag, target, bytes.clone());
            }
            Flow::Continue
        });
        if !kept {
            self.out.send(target, bytes);
        }
        self.tidy();
    }

    /// Sends a message as it is, outside any transaction.
    pub fn send_stateless(&mut self, req_or_resp: Message, target: Target) {
        self.out.send(target, req_or_resp.to_bytes());
    }

    /// Time passed: fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(d) = self.heap.peek() {
            if d.at > now {
                break;
            }
            self.heap.pop();
            let due = self.tsxs.get_mut(&d.key).is_some_and(|t| {
                let armed = t.timers.get(d.kind) == Some(d.at);
                if armed {
                    t.timers.clear(d.kind);
                }
                armed
            });
            if due {
                self.drive(now, d.key, |m, ctx| m.handle_timer(ctx, d.kind));
            }
        }
        self.tidy();
    }

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    /// The next event for the TU.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<TsxEvent> {
        self.out.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.heap.peek().map(|d| d.at)
    }

    /// Counters and live transactions.
    pub fn stats(&self) -> LayerStats {
        let c = self.out.counters;
        LayerStats {
            retransmissions: c.retransmissions,
            timeouts: c.timeouts,
            absorbed: c.absorbed,
            ..self.stats
        }
    }

    /// Adds our Via, Max-Forwards and User-Agent to a request we originate.
    fn stamp_request(&self, req: &mut Request, transport: TransportKind, branch: &str) {
        let via = format!(
            "SIP/2.0/{} {}:{};branch={branch};rport",
            transport.via_token(),
            self.cfg.via_host,
            self.cfg.ports.port(transport)
        );
        req.headers.push_front(HeaderName::Via, via);
        if req.headers.count(&HeaderName::MaxForwards) == 0 {
            req.headers.push(HeaderName::MaxForwards, "70");
        }
        if let Some(ua) = &self.cfg.user_agent
            && req.headers.count(&HeaderName::UserAgent) == 0
        {
            req.headers.push(HeaderName::UserAgent, ua.as_str());
        }
    }
}
