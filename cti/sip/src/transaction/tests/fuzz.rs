//! Random operation sequences against one layer (quinn's `streams` fuzz
//! target style): received garbage, mutated and valid messages, TU calls and
//! time jumps. The layer must never panic, keep its indexes consistent, end
//! every announced transaction exactly once, and be empty once every timer
//! has run out.

use std::collections::HashMap;

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::message::Method;

const METHODS: [Method; 5] = [
    Method::Invite,
    Method::Options,
    Method::Bye,
    Method::Register,
    Method::Info,
];
const STATUSES: [u16; 9] = [100, 180, 183, 200, 202, 302, 404, 487, 503];

#[derive(Clone, Debug)]
enum Op {
    Garbage(Vec<u8>),
    Mutate {
        which: usize,
        pos: usize,
        byte: u8,
    },
    Request {
        method: usize,
        branch: u8,
        legacy: bool,
        tcp: bool,
    },
    Cancel {
        branch: u8,
        legacy: bool,
    },
    Ack {
        branch: u8,
        tagged: bool,
    },
    Response {
        sent: usize,
        status: usize,
    },
    Send {
        method: usize,
        tcp: bool,
    },
    Respond {
        which: usize,
        status: usize,
    },
    CancelInvite {
        which: usize,
    },
    Ack2xx {
        which: usize,
    },
    Advance(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        vec(any::<u8>(), 0..200).prop_map(Op::Garbage),
        (any::<usize>(), any::<usize>(), any::<u8>()).prop_map(|(which, pos, byte)| Op::Mutate {
            which,
            pos,
            byte
        }),
        (0..METHODS.len(), 0..6u8, any::<bool>(), any::<bool>()).prop_map(
            |(method, branch, legacy, tcp)| Op::Request {
                method,
                branch,
                legacy,
                tcp
            }
        ),
        (0..6u8, any::<bool>()).prop_map(|(branch, legacy)| Op::Cancel { branch, legacy }),
        (0..6u8, any::<bool>()).prop_map(|(branch, tagged)| Op::Ack { branch, tagged }),
        (any::<usize>(), 0..STATUSES.len())
            .prop_map(|(sent, status)| Op::Response { sent, status }),
        (0..METHODS.len(), any::<bool>()).prop_map(|(method, tcp)| Op::Send { method, tcp }),
        (any::<usize>(), 0..STATUSES.len())
            .prop_map(|(which, status)| Op::Respond { which, status }),
        any::<usize>().prop_map(|which| Op::CancelInvite { which }),
        any::<usize>().prop_map(|which| Op::Ack2xx { which }),
        (0..40_000u32).prop_map(Op::Advance),
    ]
}

/// One layer and what the test knows about it.
struct Harness {
    layer: TransactionLayer,
    t0: Instant,
    now: Instant,
    /// Bytes fed in or sent out, for mutation.
    corpus: Vec<Vec<u8>>,
    /// Requests the layer sent (with its Via), to answer.
    sent: Vec<Request>,
    /// Server transactions the TU was told about.
    server: Vec<(TsxKey, Request)>,
    /// Client transactions the TU started.
    client: Vec<(TsxKey, Request)>,
    /// Announced keys and how many times each was reported terminated.
    terminated: HashMap<TsxKey, u32>,
}

impl Harness {
    fn new() -> Harness {
        let t0 = Instant::now();
        let layer = TransactionLayer::new(config(SERVER.parse().expect("test address")), 5);
        Harness {
            layer,
            t0,
            now: t0,
            corpus: Vec::new(),
            sent: Vec::new(),
            server: Vec::new(),
            client: Vec::new(),
            terminated: HashMap::new(),
        }
    }

    fn source(tcp: bool) -> Source {
        let remote = CLIENT.parse().expect("test address");
        if tcp {
            Source {
                transport: TransportKind::Tcp,
                remote,
                conn: Some(ConnId(3)),
            }
        } else {
            Source {
                transport: TransportKind::Udp,
                remote,
                conn: None,
            }
        }
    }

    fn feed(&mut self, bytes: Vec<u8>, tcp: bool) {
        self.layer
            .handle_received(self.now, Harness::source(tcp), &bytes);
        self.corpus.push(bytes);
    }

    fn drain(&mut self) {
        while let Some(t) = self.layer.poll_transmit() {
            if let Ok(Message::Request(r)) = parse(&t.bytes, t.target.transport.is_reliable()) {
                self.sent.push(r);
            }
            self.corpus.push(t.bytes);
        }
        while let Some(e) = self.layer.poll_event() {
            match e {
                TsxEvent::Request { key, request, .. } => {
                    assert!(
                        self.terminated.insert(key, 0).is_none(),
                        "key {key} announced twice"
                    );
                    self.server.push((key, request));
                }
                TsxEvent::Terminated { key } => {
                    *self
                        .terminated
                        .get_mut(&key)
                        .unwrap_or_else(|| panic!("Terminated for unknown {key}")) += 1;
                }
                _ => {}
            }
        }
        self.corpus.truncate(64);
        self.layer.check_indexes();
    }

    fn announce(&mut self, key: TsxKey) {
        self.terminated.entry(key).or_insert(0);
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Garbage(bytes) => self.feed(bytes, false),
            Op::Mutate { which, pos, byte } => {
                if !self.corpus.is_empty() {
                    let mut b = self.corpus[which % self.corpus.len()].clone();
                    if !b.is_empty() {
                        let i = pos % b.len();
                        b[i] = byte;
                    }
                    self.feed(b, false);
                }
            }
            Op::Request {
                method,
                branch,
                legacy,
                tcp,
            } => {
                let r = incoming(METHODS[method].clone(), branch, legacy, None);
                self.feed(r.to_bytes(), tcp);
            }
            Op::Cancel { branch, legacy } => self.feed(
                incoming(Method::Cancel, branch, legacy, None).to_bytes(),
                false,
            ),
            Op::Ack { branch, tagged } => {
                let r = incoming(Method::Ack, branch, false, tagged.then_some("b-tag"));
                self.feed(r.to_bytes(), false);
            }
            Op::Response { sent, status } => {
                if !self.sent.is_empty() {
                    let req = &self.sent[sent % self.sent.len()];
                    let bytes = answer(req, STATUSES[status]).to_bytes();
                    self.layer
                        .handle_received(self.now, Harness::source(false), &bytes);
                }
            }
            op => self.apply_tu(op),
        }
        self.drain();
    }

    fn apply_tu(&mut self, op: Op) {
        match op {
            Op::Send { method, tcp } => {
                let req = request(
                    METHODS[method].clone(),
                    &format!("out{}", self.client.len()),
                );
                let transport = if tcp {
                    TransportKind::Tcp
                } else {
                    TransportKind::Udp
                };
                let target = Target {
                    transport,
                    remote: CLIENT.parse().expect("test address"),
                    conn: None,
                };
                let key = self.layer.send_request(self.now, req.clone(), target);
                self.announce(key);
                self.client.push((key, req));
            }
            Op::Respond { which, status } if !self.server.is_empty() => {
                let (key, req) = &self.server[which % self.server.len()];
                self.layer
                    .respond(self.now, key, answer(req, STATUSES[status]));
            }
            Op::CancelInvite { which } if !self.client.is_empty() => {
                let key = self.client[which % self.client.len()].0;
                if let Some(c) = self.layer.cancel(self.now, &key) {
                    self.announce(c);
                }
            }
            Op::Ack2xx { which } if !self.client.is_empty() => {
                let (key, req) = self.client[which % self.client.len()].clone();
                let ok = answer(&req, 200);
                let target = Target {
                    transport: TransportKind::Udp,
                    remote: CLIENT.parse().expect("test address"),
                    conn: None,
                };
                self.layer
                    .ack_2xx(self.now, &key, ack_for(&req, &ok), target);
            }
            Op::Advance(ms_) => {
                self.now += ms(u64::from(ms_));
                self.layer.handle_timeout(self.now);
            }
            _ => {}
        }
    }

    /// Fires timers until none is left.
    fn run_out(&mut self) {
        for _ in 0..1_000_000 {
            let Some(t) = self.layer.poll_timeout() else {
                return;
            };
            assert!(t >= self.t0);
            self.now = self.now.max(t);
            self.layer.handle_timeout(self.now);
            self.drain();
        }
        panic!("timers never ran out");
    }
}

/// A request from the client address; `branch` picks from a small pool so
/// retransmissions, CANCELs and ACKs find earlier requests.
fn incoming(method: Method, branch: u8, legacy: bool, to_tag: Option<&str>) -> Request {
    let mut r = request(method, &format!("in{branch}"));
    let via = if legacy {
        format!("SIP/2.0/UDP 192.0.2.1:5060;x={branch}")
    } else {
        format!("SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKpool{branch}")
    };
    r.headers.push_front(HeaderName::Via, via);
    if let Some(tag) = to_tag {
        let to = r
            .headers
            .get(&HeaderName::To)
            .unwrap_or_default()
            .to_owned();
        r.headers.set(HeaderName::To, format!("{to};tag={tag}"));
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_never_panic_and_always_drain(ops in vec(op(), 1..60)) {
        let mut h = Harness::new();
        for op in ops {
            h.apply(op);
        }
        h.run_out();
        prop_assert_eq!(h.layer.stats().live(), 0);
        prop_assert_eq!(h.layer.check_indexes(), 0);
        for (key, n) in &h.terminated {
            prop_assert_eq!(*n, 1, "{} terminated {} times", key, n);
        }
    }
}
