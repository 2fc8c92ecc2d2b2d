//! The generator's core: every call, agent, registration and RTP stream of a
//! run, multiplexed on one SIP socket and one RTP socket, as one sans-IO
//! state machine.
//!
//! The engine never reads a clock or touches a socket. The driver feeds it
//! what arrived and the time, and drains what to send and when to wake it:
//!
//! ```text
//!   handle_sip(now, from, bytes) / handle_rtp(now, from, bytes) / handle_timeout(now)
//!        │
//!        ├─► poll_transmit() until None   datagrams for the SIP or the RTP socket
//!        └─► poll_timeout()               when to call handle_timeout next
//! ```
//!
//! Inside, one `sip::transaction::TransactionLayer` runs every transaction
//! (retransmissions, timeouts); its events are routed by transaction key or
//! by Call-ID and local tag to a caller (one per inbound call),
//! an agent (one per simulated agent) or a registration. Each of those is
//! itself a sans-IO machine that answers with actions; the engine carries
//! them out. One timer heap holds every other deadline: arrivals, hold and
//! handle times, digits and each stream's next packet.
//!
//! Arrivals are armed from each workload's start time (see
//! [`crate::dist::Arrivals`]); an arrival finding its workload at the
//! concurrency cap is counted as blocked and not sent.
//!
//! In-dialog requests go to the scenario's target, not to the dialog's
//! remote target: the generator talks to one node (or one SIPp, or itself).

mod agent;
mod agents;
mod caller;
mod calls;
mod msg;
mod register;
mod sdp;
mod stream;
mod timers;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sip::message::{Host, Method, Request};
use sip::net::{Source, Target as SipTarget, TransportKind};
use sip::transaction::{LayerConfig, LayerStats, Timers, TransactionLayer, TsxEvent, TsxKey};

pub use caller::{CallRecord, EndedBy, Failure};
pub use stream::{SendLag, StreamReport};

use crate::metrics::Metrics;
use crate::scenario::{Scenario, Target};
use agent::AgentTimer;
use caller::CallerTimer;
use stream::{StreamId, Streams};
use timers::TimerQueue;

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transmit {
    /// On the SIP socket.
    Sip {
        /// Destination.
        to: SocketAddr,
        /// One SIP message.
        bytes: Vec<u8>,
    },
    /// On the RTP socket.
    Rtp {
        /// Destination.
        to: SocketAddr,
        /// One RTP packet.
        bytes: Vec<u8>,
    },
}

/// A live view for the progress line.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    /// Call arrivals so far.
    pub attempts: u64,
    /// Calls answered so far.
    pub answered: u64,
    /// Calls ended after an answer.
    pub completed: u64,
    /// Calls failed.
    pub failed: u64,
    /// Arrivals blocked by the cap.
    pub blocked: u64,
    /// Calls in progress.
    pub active: u64,
    /// RTP streams open.
    pub streams: u64,
    /// Registrations that succeeded.
    pub regs_ok: u64,
    /// Registrations that failed.
    pub regs_failed: u64,
}

#[derive(Clone, Copy, Debug)]
enum Timer {
    CallArrival(usize),
    RegArrival(usize),
    Caller(u64, CallerTimer),
    Agent(usize, AgentTimer),
    AgentRefresh(usize),
    Stream(StreamId),
    Phase,
}

/// Who a transaction belongs to.
#[derive(Clone, Copy, Debug)]
enum Owner {
    Caller(u64),
    AgentInvite(usize),
    AgentBye(usize),
    StormReg(u64),
    AgentReg(usize),
}

/// Whose dialog a Call-ID and local tag name.
#[derive(Clone, Copy, Debug)]
enum Leg {
    Caller(u64),
    Agent(usize),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Arrivals are being offered.
    Offering,
    /// No more arrivals: waiting for calls to end, until the instant.
    Draining(Instant),
    /// Agents are removing their registrations, until the instant.
    Unregistering(Instant),
    /// Finished.
    Done,
}

/// The generator core; see the module docs.
pub struct Engine {
    layer: TransactionLayer,
    rng: StdRng,
    timers: TimerQueue<Timer>,
    target: SocketAddr,
    domain: String,
    sip_addr: SocketAddr,
    rtp_addr: SocketAddr,
    phase: Phase,
    hard_stop: Option<Instant>,
    drain: Duration,
    owners: HashMap<TsxKey, Owner>,
    legs: HashMap<(String, String), Leg>,
    calls: calls::Calls,
    agents: agents::Agents,
    streams: Streams,
    metrics: Metrics,
    out: VecDeque<Transmit>,
}

impl Engine {
    /// An engine for `scenario`, whose sockets are bound at `sip_addr` and
    /// `rtp_addr`, starting at `start`.
    pub fn new(
        scenario: &Scenario,
        sip_addr: SocketAddr,
        rtp_addr: SocketAddr,
        start: Instant,
    ) -> Engine {
        let target = match scenario.target {
            Target::Addr(a) => a,
            Target::SelfLoop => sip_addr,
        };
        let domain = scenario
            .domain
            .clone()
            .unwrap_or_else(|| target.to_string());
        let mut cfg = LayerConfig::new(Host::from(sip_addr.ip()));
        cfg.ports.udp = sip_addr.port();
        cfg.user_agent = Some("switchyard-load".to_owned());
        cfg.timers = Timers {
            t1: scenario.generator.t1,
            ..Timers::default()
        };
        let mut rng = StdRng::seed_from_u64(scenario.generator.seed);
        let layer = TransactionLayer::new(cfg, rng.random());
        let calls = calls::Calls::new(scenario, start, &mut rng);
        let agents = agents::Agents::new(scenario, start, &mut rng);
        let mut metrics = Metrics::new(start, calls.stats(), agents.storm_stats());
        if let Some(pool) = &scenario.agents {
            metrics.agent_registrations.algorithm = pool.algorithm.as_str().to_owned();
        }
        let mut engine = Engine {
            layer,
            rng,
            timers: TimerQueue::new(),
            target,
            domain,
            sip_addr,
            rtp_addr,
            phase: Phase::Offering,
            hard_stop: scenario.generator.duration.map(|d| start + d),
            drain: scenario.generator.drain,
            owners: HashMap::new(),
            legs: HashMap::new(),
            calls,
            agents,
            streams: Streams::new(),
            metrics,
            out: VecDeque::new(),
        };
        engine.arm_first(start);
        engine
    }

    fn arm_first(&mut self, start: Instant) {
        for (i, at) in self.calls.first_arrivals() {
            self.timers.arm(at, Timer::CallArrival(i));
        }
        for (i, at) in self.agents.first_storm_arrivals() {
            self.timers.arm(at, Timer::RegArrival(i));
        }
        self.register_agents(start);
        if let Some(stop) = self.hard_stop {
            self.timers.arm(stop, Timer::Phase);
        }
        self.timers.arm(start, Timer::Phase);
    }

    /// A datagram arrived on the SIP socket.
    pub fn handle_sip(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let source = Source {
            transport: TransportKind::Udp,
            remote: from,
            conn: None,
        };
        self.layer.handle_received(now, source, bytes);
        self.pump(now);
        if self.phase != Phase::Offering {
            self.advance_phase(now);
            self.pump(now);
        }
    }

    /// A datagram arrived on the RTP socket.
    pub fn handle_rtp(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.streams.receive(now, from, bytes);
    }

    /// The network reported a destination unreachable (an ICMP error on the
    /// SIP socket): every call still waiting for its final response is
    /// marked, and one that then times out counts as a transport failure.
    pub fn handle_unreachable(&mut self, now: Instant) {
        self.calls_unreachable(now);
        self.pump(now);
    }

    /// Sending `bytes` on the SIP socket failed: the call it belongs to, if
    /// it is still being set up, fails with a transport error.
    pub fn handle_send_error(&mut self, now: Instant, bytes: &[u8]) {
        if let Ok(msg) = sip::message::parse(bytes, false)
            && let Some(call_id) = msg.headers().call_id()
        {
            let call_id = call_id.to_owned();
            self.call_send_failed(now, &call_id);
        }
        self.pump(now);
    }

    /// Time passed: fires everything due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.pump(now);
        while let Some((at, timer)) = self.timers.pop_due(now) {
            self.on_timer(now, at, timer);
            self.pump(now);
        }
        self.advance_phase(now);
        self.pump(now);
    }

    /// Stops offering load now (as at the end of the scenario): calls in
    /// progress may still end within the drain time.
    pub fn stop(&mut self, now: Instant) {
        if self.phase == Phase::Offering {
            self.hard_stop = Some(now);
            self.advance_phase(now);
            self.pump(now);
        }
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.layer.poll_timeout(), self.timers.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the run is over.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Counts for the progress line.
    pub fn progress(&self) -> Progress {
        let m = &self.metrics;
        let mut p = Progress {
            active: self.calls.active(),
            streams: self.streams.len() as u64,
            ..Progress::default()
        };
        for c in &m.calls {
            p.attempts += c.attempted;
            p.answered += c.answered;
            p.completed += c.completed;
            p.failed += c.failed();
            p.blocked += c.blocked;
        }
        // Answers of calls still in progress are counted when they end.
        p.answered += self.calls.answered_in_progress();
        for r in m.registrations.iter().chain([&m.agent_registrations]) {
            p.regs_ok += r.ok;
            p.regs_failed += r.failures.values().sum::<u64>();
        }
        p
    }

    /// Reads the concurrency gauges into the current second (the driver
    /// calls this once a second, so quiet seconds are measured too).
    pub fn sample_gauges(&mut self, now: Instant) {
        self.metrics
            .gauge(now, self.calls.active(), self.streams.len() as u64);
    }

    /// What was measured so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// How late RTP packets left against their schedule.
    pub fn send_lag(&self) -> SendLag {
        self.streams.lag()
    }

    /// RTP packets that matched no stream.
    pub fn unmatched_rtp(&self) -> u64 {
        self.streams.unmatched()
    }

    /// The transaction layer's counters.
    pub fn layer_stats(&self) -> LayerStats {
        self.layer.stats()
    }

    /// Moves what the layer produced into the outbox and routes its events.
    fn pump(&mut self, now: Instant) {
        loop {
            while let Some(t) = self.layer.poll_transmit() {
                self.out.push_back(Transmit::Sip {
                    to: t.target.remote,
                    bytes: t.bytes,
                });
            }
            let Some(event) = self.layer.poll_event() else {
                break;
            };
            self.on_event(now, event);
        }
    }

    fn on_event(&mut self, now: Instant, event: TsxEvent) {
        match event {
            TsxEvent::Request { key, request, .. } => self.on_request(now, key, request),
            TsxEvent::Response { key, response } => match self.owners.get(&key).copied() {
                Some(owner) => self.on_response(now, owner, &response),
                None => self.metrics.stray_responses += 1,
            },
            TsxEvent::TimedOut { key } => {
                if let Some(owner) = self.owners.get(&key).copied() {
                    self.on_tsx_timeout(now, owner);
                }
            }
            TsxEvent::Cancelled { invite, .. } => {
                if let Some(Owner::AgentInvite(i)) = self.owners.get(&invite).copied() {
                    self.agent_cancelled(now, i);
                }
            }
            TsxEvent::Terminated { key } => {
                self.owners.remove(&key);
            }
            TsxEvent::StrayResponse { .. } => self.metrics.stray_responses += 1,
            TsxEvent::Ack { .. } => {}
            // The layer may grow new events; none needs an answer from us.
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    fn on_response(&mut self, now: Instant, owner: Owner, r: &sip::message::Response) {
        match owner {
            Owner::Caller(id) => self.caller_response(now, id, r),
            Owner::AgentBye(i) if r.status >= 200 => self.agent_bye_done(now, i),
            Owner::StormReg(id) => self.storm_response(now, id, r),
            Owner::AgentReg(i) => self.agent_reg_response(now, i, r),
            Owner::AgentBye(_) | Owner::AgentInvite(_) => {}
        }
    }

    fn on_tsx_timeout(&mut self, now: Instant, owner: Owner) {
        match owner {
            Owner::Caller(id) => self.caller_timeout(now, id),
            Owner::AgentInvite(i) => self.agent_ack_timeout(now, i),
            Owner::AgentBye(i) => self.agent_bye_done(now, i),
            Owner::StormReg(id) => self.storm_timeout(now, id),
            Owner::AgentReg(i) => self.agent_reg_timeout(now, i),
        }
    }

    fn on_request(&mut self, now: Instant, key: TsxKey, req: Request) {
        let to_tag = req.headers.to().and_then(|t| t.tag().map(str::to_owned));
        let status = match (&req.method, to_tag) {
            (Method::Invite, None) => return self.agent_invite(now, key, req),
            (Method::Bye, Some(tag)) => {
                let call_id = req.headers.call_id().unwrap_or_default().to_owned();
                match self.legs.get(&(call_id, tag)).copied() {
                    Some(leg) => {
                        self.respond(now, key, &req, 200);
                        return self.remote_bye(now, leg);
                    }
                    None => 481,
                }
            }
            (Method::Options, _) => 200,
            (Method::Invite, Some(_)) => 488,
            _ => 405,
        };
        self.respond(now, key, &req, status);
    }

    fn remote_bye(&mut self, now: Instant, leg: Leg) {
        match leg {
            Leg::Caller(id) => self.caller_remote_bye(now, id),
            Leg::Agent(i) => self.agent_remote_bye(now, i),
        }
    }

    fn respond(&mut self, now: Instant, key: TsxKey, req: &Request, status: u16) {
        let tag = self.new_tag();
        let resp = msg::response(req, status, &tag, None, None);
        self.layer.respond(now, &key, resp);
    }

    fn on_timer(&mut self, now: Instant, at: Instant, timer: Timer) {
        match timer {
            Timer::CallArrival(w) => self.call_arrival(now, w),
            Timer::RegArrival(s) => self.storm_arrival(now, s),
            Timer::Caller(id, t) => self.caller_timer(now, id, t),
            Timer::Agent(i, t) => self.agent_timer(now, i, t),
            Timer::AgentRefresh(i) => self.agent_refresh(now, i),
            Timer::Stream(id) => self.stream_due(now, id, at),
            Timer::Phase => self.advance_phase(now),
        }
    }

    fn stream_due(&mut self, now: Instant, id: StreamId, at: Instant) {
        let out = &mut self.out;
        let next = self.streams.send_due(now, id, at, &mut |to, bytes| {
            out.push_back(Transmit::Rtp { to, bytes });
        });
        if let Some(next) = next {
            self.timers.arm(next, Timer::Stream(id));
        }
    }

    /// Opens a stream for a call side and arms its first packet.
    fn open_stream(
        &mut self,
        now: Instant,
        start: sdp::MediaStart,
        audio: std::sync::Arc<stream::EncodedAudio>,
    ) -> StreamId {
        let seed: u32 = self.rng.random();
        let id = self.streams.open(now, start, audio, seed);
        self.timers.arm(now, Timer::Stream(id));
        self.metrics
            .gauge(now, self.calls.active(), self.streams.len() as u64);
        id
    }

    fn close_stream(&mut self, now: Instant, id: StreamId) {
        if let Some(report) = self.streams.close(now, id) {
            self.metrics.stream(&report);
        }
    }

    /// A fresh SSRC none of our streams uses.
    fn new_ssrc(&mut self) -> u32 {
        loop {
            let ssrc: u32 = self.rng.random();
            if !self.streams.ssrc_in_use(ssrc) {
                return ssrc;
            }
        }
    }

    fn new_tag(&mut self) -> String {
        format!("{:016x}", self.rng.random::<u64>())
    }

    fn sip_target(&self) -> SipTarget {
        SipTarget {
            transport: TransportKind::Udp,
            remote: self.target,
            conn: None,
        }
    }

    fn advance_phase(&mut self, now: Instant) {
        match self.phase {
            Phase::Offering => {
                let stopped = self.hard_stop.is_some_and(|s| now >= s);
                let exhausted = self.calls.exhausted() && self.agents.storms_exhausted();
                let agents_only = self.calls.is_empty() && self.agents.no_storms();
                if stopped || (exhausted && !agents_only) {
                    self.calls.stop_arrivals();
                    self.agents.stop_storms();
                    let until = now + self.drain;
                    self.phase = Phase::Draining(until);
                    self.timers.arm(until, Timer::Phase);
                    self.advance_phase(now);
                }
            }
            Phase::Draining(until) => {
                let quiet = self.calls.active() == 0 && self.agents.quiet();
                if quiet || now >= until {
                    self.abandon_calls(now);
                    self.start_unregistering(now);
                }
            }
            Phase::Unregistering(until) => {
                if !self.agents.registrations_busy() || now >= until {
                    self.phase = Phase::Done;
                }
            }
            Phase::Done => {}
        }
    }

    fn start_unregistering(&mut self, now: Instant) {
        let until = now + self.layer.config().timers.timeout() + Duration::from_secs(1);
        self.phase = Phase::Unregistering(until);
        self.timers.arm(until, Timer::Phase);
        self.unregister_agents(now);
        self.advance_phase(now);
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "login_tests.rs"]
mod login_tests;
