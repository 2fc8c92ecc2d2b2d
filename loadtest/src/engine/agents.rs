//! The UAS side of the engine: simulated agents (their registrations and
//! their [`Agent`] machines) and registration storms.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use rand::rngs::StdRng;
use sip::message::{Request, Response, Uri};
use sip::transaction::TsxKey;

use super::agent::{Agent, AgentAction, AgentInput, AgentTimer, Offer};
use super::register::{RegAction, RegisterSpec, Registration};
use super::sdp::make_answer;
use super::stream::{EncodedAudio, StreamId};
use super::{Engine, Leg, Owner, Timer};
use crate::dist::Arrivals;
use crate::metrics::RegStats;
use crate::scenario::{Account, AgentPool, Algorithm, HangUp, RegistrationLoad, Scenario};

struct AgentSlot {
    agent: Agent,
    registration: Option<Registration>,
    /// The Call-ID and our tag of the current call, for in-dialog requests.
    leg: Option<(String, String)>,
    stream: Option<StreamId>,
    ever_registered: bool,
}

struct Storm {
    load: RegistrationLoad,
    arrivals: Arrivals,
    next_account: usize,
    stopped: bool,
}

/// The agents and the registration storms.
pub(super) struct Agents {
    pool: Option<AgentPool>,
    slots: Vec<AgentSlot>,
    by_user: HashMap<String, usize>,
    audio: Option<Arc<EncodedAudio>>,
    storms: Vec<Storm>,
    storm_regs: HashMap<u64, (usize, Registration)>,
    next_reg: u64,
}

impl Agents {
    pub(super) fn new(scenario: &Scenario, start: Instant, rng: &mut StdRng) -> Agents {
        let storms = scenario
            .registrations
            .iter()
            .map(|load| Storm {
                arrivals: Arrivals::new(
                    load.arrival,
                    load.rate,
                    start + load.start,
                    Some(load.total),
                    None,
                    rng,
                ),
                load: load.clone(),
                next_account: 0,
                stopped: false,
            })
            .collect();
        let pool = scenario.agents.clone();
        let audio = pool
            .as_ref()
            .and_then(|p| p.media.as_ref())
            .map(|m| Arc::new(EncodedAudio::new(&m.audio)));
        Agents {
            pool,
            slots: Vec::new(),
            by_user: HashMap::new(),
            audio,
            storms,
            storm_regs: HashMap::new(),
            next_reg: 0,
        }
    }

    pub(super) fn storm_stats(&self) -> Vec<RegStats> {
        self.storms
            .iter()
            .enumerate()
            .map(|(i, s)| RegStats {
                name: format!("registrations-{}", i + 1),
                algorithm: s.load.algorithm.as_str().to_owned(),
                ..RegStats::default()
            })
            .collect()
    }

    pub(super) fn first_storm_arrivals(&self) -> Vec<(usize, Instant)> {
        self.storms
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.arrivals.peek()?)))
            .collect()
    }

    pub(super) fn no_storms(&self) -> bool {
        self.storms.is_empty()
    }

    pub(super) fn storms_exhausted(&self) -> bool {
        self.storms
            .iter()
            .all(|s| s.stopped || s.arrivals.peek().is_none())
    }

    pub(super) fn stop_storms(&mut self) {
        self.storms.iter_mut().for_each(|s| s.stopped = true);
    }

    /// No storm registration in flight and every agent out of its call.
    pub(super) fn quiet(&self) -> bool {
        self.storm_regs.is_empty() && self.slots.iter().all(|s| s.leg.is_none())
    }

    pub(super) fn registrations_busy(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.registration.as_ref().is_some_and(Registration::is_busy))
    }
}

impl Engine {
    fn register_spec(
        &mut self,
        account: Account,
        algorithm: Algorithm,
        expires: u32,
        refresh: bool,
    ) -> RegisterSpec {
        let registrar = Uri::parse(&format!("sip:{}", self.domain))
            .unwrap_or_else(|_| Uri::parse("sip:invalid").expect("a literal URI parses"));
        RegisterSpec {
            contact: format!("<sip:{}@{}>", account.user, self.sip_addr),
            account,
            algorithm,
            registrar,
            domain: self.domain.clone(),
            call_id: format!("{:016x}@switchyard-load", self.rng.random::<u64>()),
            from_tag: self.new_tag(),
            cnonce: format!("{:016x}", self.rng.random::<u64>()),
            expires,
            refresh,
        }
    }

    /// Creates the agents and, when they register, starts their REGISTERs.
    pub(super) fn register_agents(&mut self, now: Instant) {
        let Some(pool) = self.agents.pool.clone() else {
            return;
        };
        for (i, account) in pool.accounts.iter().enumerate() {
            let contact = format!("<sip:{}@{}>", account.user, self.sip_addr);
            let registration = pool.register.then(|| {
                Registration::new(self.register_spec(
                    account.clone(),
                    pool.algorithm,
                    pool.expires,
                    true,
                ))
            });
            self.agents.by_user.insert(account.user.clone(), i);
            self.agents.slots.push(AgentSlot {
                agent: Agent::new(contact, pool.busy_status),
                registration,
                leg: None,
                stream: None,
                ever_registered: false,
            });
            self.agent_refresh(now, i);
            if !pool.register {
                self.agent_login(now, i);
            }
        }
    }

    /// Agent `i` dials the pool's login code, if it has one.
    fn agent_login(&mut self, now: Instant, i: usize) {
        let Some(pool) = self.agents.pool.as_ref() else {
            return;
        };
        let (Some(code), Some(account)) = (pool.login.clone(), pool.accounts.get(i).cloned())
        else {
            return;
        };
        self.start_login(now, i, account, &code);
    }

    /// The codec the agents answer with, if they have media.
    pub(super) fn agents_media_codec(&self) -> Option<crate::scenario::G711> {
        self.agents.pool.as_ref()?.media.as_ref().map(|m| m.codec)
    }

    /// The digest algorithm of the agents' accounts.
    pub(super) fn agents_algorithm(&self) -> Algorithm {
        self.agents
            .pool
            .as_ref()
            .map_or(Algorithm::Md5, |p| p.algorithm)
    }

    pub(super) fn agent_refresh(&mut self, now: Instant, i: usize) {
        let mut actions = Vec::new();
        if let Some(reg) = self
            .agents
            .slots
            .get_mut(i)
            .and_then(|s| s.registration.as_mut())
        {
            reg.refresh(now, &mut actions);
        }
        self.run_reg_actions(now, Owner::AgentReg(i), actions);
    }

    /// Ends what the agents still have going (the run is over) and removes
    /// their registrations.
    pub(super) fn unregister_agents(&mut self, now: Instant) {
        for i in 0..self.agents.slots.len() {
            if let Some(s) = self.agents.slots[i].stream.take() {
                self.close_stream(now, s);
            }
            let mut actions = Vec::new();
            if let Some(reg) = self.agents.slots[i].registration.as_mut()
                && reg.is_registered()
            {
                reg.remove(now, &mut actions);
            }
            self.run_reg_actions(now, Owner::AgentReg(i), actions);
        }
    }

    pub(super) fn agent_reg_response(&mut self, now: Instant, i: usize, r: &Response) {
        let mut actions = Vec::new();
        if let Some(reg) = self
            .agents
            .slots
            .get_mut(i)
            .and_then(|s| s.registration.as_mut())
        {
            reg.handle_response(now, r, &mut actions);
        }
        self.run_reg_actions(now, Owner::AgentReg(i), actions);
    }

    pub(super) fn agent_reg_timeout(&mut self, now: Instant, i: usize) {
        let mut actions = Vec::new();
        if let Some(reg) = self
            .agents
            .slots
            .get_mut(i)
            .and_then(|s| s.registration.as_mut())
        {
            reg.handle_timeout(now, &mut actions);
        }
        self.run_reg_actions(now, Owner::AgentReg(i), actions);
    }

    pub(super) fn storm_arrival(&mut self, now: Instant, s: usize) {
        let Some(storm) = self.agents.storms.get_mut(s) else {
            return;
        };
        if storm.stopped || storm.arrivals.peek().is_none() {
            return;
        }
        storm.arrivals.advance(&mut self.rng);
        if let Some(next) = storm.arrivals.peek() {
            self.timers.arm(next, Timer::RegArrival(s));
        }
        let n = storm.next_account;
        storm.next_account += 1;
        let account = storm.load.accounts[n % storm.load.accounts.len()].clone();
        let (algorithm, expires) = (storm.load.algorithm, storm.load.expires);
        let spec = self.register_spec(account, algorithm, expires, false);
        let id = self.agents.next_reg;
        self.agents.next_reg += 1;
        let mut reg = Registration::new(spec);
        let mut actions = Vec::new();
        reg.refresh(now, &mut actions);
        self.agents.storm_regs.insert(id, (s, reg));
        self.run_reg_actions(now, Owner::StormReg(id), actions);
    }

    pub(super) fn storm_response(&mut self, now: Instant, id: u64, r: &Response) {
        let mut actions = Vec::new();
        if let Some((_, reg)) = self.agents.storm_regs.get_mut(&id) {
            reg.handle_response(now, r, &mut actions);
        }
        self.run_reg_actions(now, Owner::StormReg(id), actions);
    }

    pub(super) fn storm_timeout(&mut self, now: Instant, id: u64) {
        let mut actions = Vec::new();
        if let Some((_, reg)) = self.agents.storm_regs.get_mut(&id) {
            reg.handle_timeout(now, &mut actions);
        }
        self.run_reg_actions(now, Owner::StormReg(id), actions);
    }

    fn run_reg_actions(&mut self, now: Instant, owner: Owner, actions: Vec<RegAction>) {
        for action in actions {
            match action {
                RegAction::Send(req) => {
                    let key = self.layer.send_request(now, req, self.sip_target());
                    self.owners.insert(key, owner);
                }
                RegAction::ArmRefresh(at) => {
                    if let Owner::AgentReg(i) = owner {
                        self.timers.arm(at, Timer::AgentRefresh(i));
                    }
                }
                RegAction::Done(outcome) => match owner {
                    Owner::StormReg(id) => {
                        let storm = self.agents.storm_regs.remove(&id).map(|(s, _)| s);
                        self.metrics
                            .registration(now, storm, outcome.latency, outcome.failure);
                    }
                    Owner::AgentReg(i) if !outcome.removal => {
                        let ok = outcome.failure.is_none();
                        if let Some(slot) = self.agents.slots.get_mut(i)
                            && ok
                            && !slot.ever_registered
                        {
                            slot.ever_registered = true;
                            self.metrics.agents.registered += 1;
                            self.agent_login(now, i);
                        }
                        self.metrics
                            .registration(now, None, outcome.latency, outcome.failure);
                    }
                    _ => {}
                },
            }
        }
    }

    /// An INVITE outside a dialog: for the agent its Request-URI names.
    pub(super) fn agent_invite(&mut self, now: Instant, key: TsxKey, invite: Request) {
        let user = invite
            .uri
            .sip()
            .and_then(|u| u.user.clone())
            .unwrap_or_default();
        let (Some(&i), Some(pool)) = (self.agents.by_user.get(&user), self.agents.pool.clone())
        else {
            return self.respond(now, key, &invite, 404);
        };
        let tag = self.new_tag();
        let answer = match pool.media.as_ref() {
            Some(m) if !invite.body.is_empty() => {
                let ssrc = self.new_ssrc();
                make_answer(
                    &invite.body,
                    self.rtp_addr,
                    m.codec,
                    ssrc,
                    self.rng.random::<u32>().into(),
                )
            }
            _ => None,
        };
        let offer = Offer {
            key,
            tag: tag.clone(),
            answer,
            answer_delay: pool.answer_delay.sample(&mut self.rng),
            handle_time: (pool.hangup == HangUp::This)
                .then(|| pool.handle_time.sample(&mut self.rng)),
            wrap_up: pool.wrap_up.sample(&mut self.rng),
            invite,
        };
        let idle = self.agents.slots[i].agent.is_idle();
        if idle {
            let call_id = offer
                .invite
                .headers
                .call_id()
                .unwrap_or_default()
                .to_owned();
            self.legs
                .insert((call_id.clone(), tag.clone()), Leg::Agent(i));
            self.agents.slots[i].leg = Some((call_id, tag));
            self.owners.insert(key, Owner::AgentInvite(i));
            self.metrics.agents.offered += 1;
        } else {
            self.metrics.agents.busy += 1;
        }
        self.feed_agent(now, i, AgentInput::Invite(Box::new(offer)));
    }

    fn feed_agent(&mut self, now: Instant, i: usize, input: AgentInput) {
        let Some(slot) = self.agents.slots.get_mut(i) else {
            return;
        };
        let mut actions = Vec::new();
        slot.agent.handle(now, input, &mut actions);
        self.run_agent_actions(now, i, actions);
    }

    fn run_agent_actions(&mut self, now: Instant, i: usize, actions: Vec<AgentAction>) {
        for action in actions {
            match action {
                AgentAction::Respond(key, resp) => {
                    if resp.status == 200 {
                        self.metrics.agents.answered += 1;
                    }
                    self.layer.respond(now, &key, resp);
                }
                AgentAction::Send(req) => {
                    let key = self.layer.send_request(now, req, self.sip_target());
                    self.owners.insert(key, Owner::AgentBye(i));
                }
                AgentAction::StartMedia(start) => {
                    if let Some(audio) = self.agents.audio.clone() {
                        let stream = self.open_stream(now, start, audio);
                        self.agents.slots[i].stream = Some(stream);
                    }
                }
                AgentAction::StopMedia => {
                    if let Some(s) = self.agents.slots[i].stream.take() {
                        self.close_stream(now, s);
                    }
                }
                AgentAction::Arm(t, at) => self.timers.arm(at, Timer::Agent(i, t)),
                AgentAction::CallEnded {
                    answered,
                    agent_hung_up,
                } => self.agent_call_ended(now, i, answered, agent_hung_up),
            }
        }
    }

    fn agent_call_ended(&mut self, now: Instant, i: usize, answered: bool, agent_hung_up: bool) {
        let a = &mut self.metrics.agents;
        match (answered, agent_hung_up) {
            (false, _) => a.cancelled += 1,
            (true, true) => a.agent_hung_up += 1,
            (true, false) => a.caller_hung_up += 1,
        }
        if let Some(s) = self.agents.slots[i].stream.take() {
            self.close_stream(now, s);
        }
        if let Some(leg) = self.agents.slots[i].leg.take() {
            self.legs.remove(&leg);
        }
    }

    pub(super) fn agent_cancelled(&mut self, now: Instant, i: usize) {
        self.feed_agent(now, i, AgentInput::Cancelled);
    }

    pub(super) fn agent_remote_bye(&mut self, now: Instant, i: usize) {
        self.feed_agent(now, i, AgentInput::RemoteBye);
    }

    pub(super) fn agent_bye_done(&mut self, now: Instant, i: usize) {
        self.feed_agent(now, i, AgentInput::ByeDone);
    }

    pub(super) fn agent_ack_timeout(&mut self, now: Instant, i: usize) {
        self.feed_agent(now, i, AgentInput::AckTimedOut);
    }

    pub(super) fn agent_timer(&mut self, now: Instant, i: usize, t: AgentTimer) {
        self.feed_agent(now, i, AgentInput::Timer(t));
    }
}
