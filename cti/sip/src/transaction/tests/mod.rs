//! Scenario tests: two layers over an in-memory link on a simulated clock.
//!
//! [`Pair`] connects a client node and a server node. Packets are delivered
//! at once (zero latency keeps the timer arithmetic exact); either side can
//! drop its next N outgoing packets. Every packet a node sends is logged with
//! its time since `t0`, dropped ones included, so tests read retransmission
//! schedules off the log. Nothing sleeps: time moves by [`Pair::advance`].

mod cancel;
mod client;
mod fuzz;
mod server;
mod wire;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{LayerConfig, TransactionLayer, TsxEvent, TsxKey};
use crate::message::{HeaderName, Host, Message, Method, Request, Response, SipUri, Uri, parse};
use crate::net::{ConnId, Source, Target, Transmit, TransportKind};

pub(super) const CLIENT: &str = "192.0.2.1:5060";
pub(super) const SERVER: &str = "192.0.2.2:5060";

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn config(addr: SocketAddr) -> LayerConfig {
    LayerConfig::new(Host::Ip(addr.ip()))
}

/// One end of the link.
pub(super) struct Node {
    pub(super) layer: TransactionLayer,
    pub(super) addr: SocketAddr,
    pub(super) events: VecDeque<TsxEvent>,
    /// Everything sent, with its time since `t0`.
    pub(super) sent: Vec<(Duration, Transmit)>,
    /// Drop this many of the next packets sent.
    pub(super) drop_next: usize,
    /// Packets addressed to neither node.
    pub(super) elsewhere: Vec<Transmit>,
}

impl Node {
    fn new(addr: &str, seed: u64) -> Node {
        let addr: SocketAddr = addr.parse().expect("test address");
        Node {
            layer: TransactionLayer::new(config(addr), seed),
            addr,
            events: VecDeque::new(),
            sent: Vec::new(),
            drop_next: 0,
            elsewhere: Vec::new(),
        }
    }

    /// Times (since `t0`) at which messages whose first line starts with
    /// `prefix` were sent.
    pub(super) fn sent_at(&self, prefix: &str) -> Vec<Duration> {
        self.sent
            .iter()
            .filter(|(_, t)| t.bytes.starts_with(prefix.as_bytes()))
            .map(|(at, _)| *at)
            .collect()
    }

    /// The messages sent whose first line starts with `prefix`, parsed.
    pub(super) fn sent_msgs(&self, prefix: &str) -> Vec<Message> {
        self.sent
            .iter()
            .filter(|(_, t)| t.bytes.starts_with(prefix.as_bytes()))
            .map(|(_, t)| parse(&t.bytes, false).expect("the layer sends valid messages"))
            .collect()
    }

    /// Takes the oldest event, if any.
    pub(super) fn next_event(&mut self) -> Option<TsxEvent> {
        self.events.pop_front()
    }

    /// Takes every pending event.
    pub(super) fn take_events(&mut self) -> Vec<TsxEvent> {
        self.events.drain(..).collect()
    }

    /// Takes the next event, which must be a new request.
    pub(super) fn expect_request(&mut self) -> (TsxKey, Request) {
        match self.events.pop_front() {
            Some(TsxEvent::Request { key, request, .. }) => (key, request),
            other => panic!("expected a request, got {other:?}"),
        }
    }

    /// Takes the next event, which must be a response; returns its status.
    pub(super) fn expect_response(&mut self, want: TsxKey) -> Response {
        match self.events.pop_front() {
            Some(TsxEvent::Response { key, response }) if key == want => response,
            other => panic!("expected a response on {want}, got {other:?}"),
        }
    }

    /// Takes the next event, which must be `want`.
    pub(super) fn expect(&mut self, want: TsxEvent) {
        assert_eq!(self.events.pop_front(), Some(want));
    }

    /// Asserts no event is pending.
    pub(super) fn expect_quiet(&self) {
        assert!(
            self.events.is_empty(),
            "unexpected events: {:?}",
            self.events
        );
    }
}

/// A client and a server layer joined by a link.
pub(super) struct Pair {
    pub(super) t0: Instant,
    pub(super) now: Instant,
    pub(super) kind: TransportKind,
    pub(super) client: Node,
    pub(super) server: Node,
}

impl Pair {
    pub(super) fn new(kind: TransportKind) -> Pair {
        let t0 = Instant::now();
        Pair {
            t0,
            now: t0,
            kind,
            client: Node::new(CLIENT, 1),
            server: Node::new(SERVER, 2),
        }
    }

    pub(super) fn udp() -> Pair {
        Pair::new(TransportKind::Udp)
    }

    /// Time since `t0`.
    pub(super) fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// Where the client sends requests.
    pub(super) fn to_server(&self) -> Target {
        let conn = self.kind.is_reliable().then_some(ConnId(1));
        Target {
            transport: self.kind,
            remote: self.server.addr,
            conn,
        }
    }

    /// Where the client's packets appear to come from, seen by the server.
    pub(super) fn client_source(&self) -> Source {
        let conn = self.kind.is_reliable().then_some(ConnId(1));
        Source {
            transport: self.kind,
            remote: self.client.addr,
            conn,
        }
    }

    /// The client TU starts a transaction, and the link settles.
    pub(super) fn send(&mut self, req: Request) -> TsxKey {
        let target = self.to_server();
        let key = self.client.layer.send_request(self.now, req, target);
        self.flush();
        key
    }

    /// The server TU answers, and the link settles.
    pub(super) fn respond(&mut self, key: TsxKey, resp: Response) {
        self.server.layer.respond(self.now, &key, resp);
        self.flush();
    }

    /// Delivers packets both ways until neither side has more to send.
    pub(super) fn flush(&mut self) {
        loop {
            let a = pump(
                self.now,
                self.t0,
                self.kind,
                &mut self.client,
                &mut self.server,
            );
            let b = pump(
                self.now,
                self.t0,
                self.kind,
                &mut self.server,
                &mut self.client,
            );
            if !a && !b {
                break;
            }
        }
        for node in [&mut self.client, &mut self.server] {
            while let Some(e) = node.layer.poll_event() {
                node.events.push_back(e);
            }
        }
    }

    /// The earliest deadline of either side.
    pub(super) fn next_timeout(&self) -> Option<Instant> {
        match (
            self.client.layer.poll_timeout(),
            self.server.layer.poll_timeout(),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Moves the clock `by`, firing every timer due on the way, in order.
    pub(super) fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(t) = self.next_timeout().filter(|&t| t <= end) {
            self.now = self.now.max(t);
            self.client.layer.handle_timeout(self.now);
            self.server.layer.handle_timeout(self.now);
            self.flush();
        }
        self.now = end;
    }

    /// Runs until no timer is left (bounded); returns the time it took.
    pub(super) fn run_out(&mut self) -> Duration {
        let start = self.now;
        for _ in 0..100_000 {
            let Some(t) = self.next_timeout() else {
                return self.now - start;
            };
            self.advance(t - self.now);
        }
        panic!("timers never ran out");
    }
}

/// Sends everything `from` has queued to `to`; true when anything moved.
fn pump(now: Instant, t0: Instant, kind: TransportKind, from: &mut Node, to: &mut Node) -> bool {
    let mut moved = false;
    while let Some(t) = from.layer.poll_transmit() {
        moved = true;
        from.sent.push((now - t0, t.clone()));
        if from.drop_next > 0 {
            from.drop_next -= 1;
            continue;
        }
        if t.target.remote != to.addr {
            from.elsewhere.push(t);
            continue;
        }
        let conn = kind.is_reliable().then_some(ConnId(1));
        to.layer.handle_received(
            now,
            Source {
                transport: kind,
                remote: from.addr,
                conn,
            },
            &t.bytes,
        );
    }
    moved
}

/// A request from the client node to the server node, without Via.
pub(super) fn request(method: Method, call: &str) -> Request {
    let server: SocketAddr = SERVER.parse().expect("test address");
    let client: SocketAddr = CLIENT.parse().expect("test address");
    let mut r = Request::new(
        method.clone(),
        Uri::Sip(SipUri::new(Some("bob"), Host::Ip(server.ip()), None)),
    );
    r.headers.push(
        HeaderName::From,
        format!("<sip:alice@{}>;tag=a-{call}", client.ip()),
    );
    r.headers
        .push(HeaderName::To, format!("<sip:bob@{}>", server.ip()));
    r.headers.push(HeaderName::CallId, call);
    r.headers.push(HeaderName::CSeq, format!("1 {method}"));
    r.headers
        .push(HeaderName::Contact, format!("<sip:alice@{client}>"));
    r
}

/// The server TU's answer to `req`, with To tag `b-tag` (none on 100).
pub(super) fn answer(req: &Request, status: u16) -> Response {
    let mut r = Response::to_request(req, status);
    if status > 100 {
        let to = req
            .headers
            .get(&HeaderName::To)
            .unwrap_or_default()
            .to_owned();
        r.headers.set(HeaderName::To, format!("{to};tag=b-tag"));
    }
    r
}

/// The client TU's ACK for a 2xx (§13.2.2.4), without Via.
pub(super) fn ack_for(invite: &Request, ok: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    for name in [HeaderName::From, HeaderName::CallId] {
        ack.headers
            .push(name.clone(), invite.headers.get(&name).unwrap_or_default());
    }
    ack.headers.push(
        HeaderName::To,
        ok.headers.get(&HeaderName::To).unwrap_or_default(),
    );
    let seq = invite.headers.cseq().map_or(1, |c| c.seq);
    ack.headers.push(HeaderName::CSeq, format!("{seq} ACK"));
    ack
}
