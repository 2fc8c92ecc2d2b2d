//! The caller side of the engine: call workloads, their arrivals and the
//! [`Caller`] machines of the calls in progress.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::dtmf::Digit;
use rand::Rng;
use rand::rngs::StdRng;
use sip::message::{Method, Uri};

use super::caller::{Action, Caller, CallerInput, CallerSpec, CallerTimer};
use super::sdp::make_offer;
use super::stream::{EncodedAudio, StreamId};
use super::{Engine, Leg, Owner, Timer};
use crate::dist::Arrivals;
use crate::metrics::CallStats;
use crate::scenario::{Account, CallLoad, Pick, Scenario};
use sip::transaction::TsxKey;

/// How long a login call may last before it is hung up and counted as failed.
const LOGIN_MAX: Duration = Duration::from_secs(60);

struct Workload {
    load: CallLoad,
    arrivals: Arrivals,
    active: u64,
    next_to: usize,
    next_from: usize,
    audio: Option<Arc<EncodedAudio>>,
    stopped: bool,
}

/// What a call is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    /// An arrival of the workload.
    Workload(usize),
    /// Agent `i` logging in with the pool's feature code: not part of any
    /// workload's figures, and sends no RTP.
    Login(usize),
}

struct CallSlot {
    caller: Caller,
    purpose: Purpose,
    call_id: String,
    from_tag: String,
    invite_key: Option<TsxKey>,
    stream: Option<StreamId>,
    answered: bool,
}

/// Every call workload and the calls in progress.
pub(super) struct Calls {
    workloads: Vec<Workload>,
    live: HashMap<u64, CallSlot>,
    next_id: u64,
    answered_live: u64,
}

impl Calls {
    pub(super) fn new(scenario: &Scenario, start: Instant, rng: &mut StdRng) -> Calls {
        let workloads = scenario
            .calls
            .iter()
            .map(|load| Workload {
                arrivals: Arrivals::new(
                    load.arrival,
                    load.rate,
                    start + load.start,
                    load.total,
                    load.duration,
                    rng,
                ),
                audio: load
                    .media
                    .as_ref()
                    .map(|m| Arc::new(EncodedAudio::new(&m.audio))),
                load: load.clone(),
                active: 0,
                next_to: 0,
                next_from: 0,
                stopped: false,
            })
            .collect();
        Calls {
            workloads,
            live: HashMap::new(),
            next_id: 0,
            answered_live: 0,
        }
    }

    pub(super) fn stats(&self) -> Vec<CallStats> {
        self.workloads
            .iter()
            .map(|w| CallStats {
                name: w.load.name.clone(),
                offered_rate: w.load.rate,
                ..CallStats::default()
            })
            .collect()
    }

    pub(super) fn first_arrivals(&self) -> Vec<(usize, Instant)> {
        self.workloads
            .iter()
            .enumerate()
            .filter_map(|(i, w)| Some((i, w.arrivals.peek()?)))
            .collect()
    }

    pub(super) fn active(&self) -> u64 {
        self.live.len() as u64
    }

    pub(super) fn answered_in_progress(&self) -> u64 {
        self.answered_live
    }

    pub(super) fn is_empty(&self) -> bool {
        self.workloads.is_empty()
    }

    pub(super) fn exhausted(&self) -> bool {
        self.workloads
            .iter()
            .all(|w| w.stopped || w.arrivals.peek().is_none())
    }

    pub(super) fn stop_arrivals(&mut self) {
        self.workloads.iter_mut().for_each(|w| w.stopped = true);
    }
}

/// A digit plan flattened to (offset from answer, key, press length).
fn flatten_digits(load: &CallLoad) -> Vec<(Duration, Digit, Duration)> {
    let mut out = Vec::new();
    for plan in &load.digits {
        let mut at = plan.at;
        for key in plan.keys.chars().filter_map(Digit::from_char) {
            out.push((at, key, plan.tone));
            at += plan.tone + plan.gap;
        }
    }
    out
}

impl Engine {
    pub(super) fn call_arrival(&mut self, now: Instant, w: usize) {
        let Some(wl) = self.calls.workloads.get_mut(w) else {
            return;
        };
        let Some(due) = wl.arrivals.peek().filter(|_| !wl.stopped) else {
            return;
        };
        wl.arrivals.advance(&mut self.rng);
        if let Some(next) = wl.arrivals.peek() {
            self.timers.arm(next, Timer::CallArrival(w));
        }
        let blocked = wl.active >= wl.load.max_concurrent;
        self.metrics.arrival(now, due, w, blocked);
        if !blocked {
            self.start_call(now, w);
        }
    }

    fn start_call(&mut self, now: Instant, w: usize) {
        let spec = self.caller_spec(w);
        self.launch(now, spec, Purpose::Workload(w));
    }

    /// Agent `agent` dials the pool's login code from its own account and
    /// waits for the node to hang up (it answers, confirms, sends BYE).
    /// The call offers SDP, as a phone would, but sends no RTP.
    pub(super) fn start_login(&mut self, now: Instant, agent: usize, account: Account, code: &str) {
        let codec = self
            .agents_media_codec()
            .unwrap_or(crate::scenario::G711::Pcmu);
        let ssrc = self.new_ssrc();
        let offer = make_offer(self.rtp_addr, codec, ssrc, self.rng.random::<u32>().into());
        let spec = CallerSpec {
            workload: 0,
            contact: format!("<sip:{}@{}>", account.user, self.sip_addr),
            call_id: format!("{:016x}@switchyard-load", self.rng.random::<u64>()),
            from_tag: self.new_tag(),
            cnonce: format!("{:016x}", self.rng.random::<u64>()),
            uri: self.dialled_uri(code),
            algorithm: self.agents_algorithm(),
            account,
            domain: self.domain.clone(),
            offer: Some((offer, ssrc)),
            hold: LOGIN_MAX,
            hangs_up: false,
            max_call: LOGIN_MAX,
            digits: Vec::new(),
        };
        self.launch(now, spec, Purpose::Login(agent));
    }

    fn dialled_uri(&self, number: &str) -> Uri {
        Uri::parse(&format!("sip:{number}@{}", self.domain))
            .or_else(|_| Uri::parse(&format!("sip:{number}@{}", self.target)))
            .unwrap_or_else(|_| Uri::parse("sip:invalid@invalid").expect("a literal URI parses"))
    }

    fn launch(&mut self, now: Instant, spec: CallerSpec, purpose: Purpose) {
        let id = self.calls.next_id;
        self.calls.next_id += 1;
        let mut actions = Vec::new();
        let caller = Caller::start(now, spec.clone(), &mut actions);
        self.legs.insert(
            (spec.call_id.clone(), spec.from_tag.clone()),
            Leg::Caller(id),
        );
        self.calls.live.insert(
            id,
            CallSlot {
                caller,
                purpose,
                call_id: spec.call_id,
                from_tag: spec.from_tag,
                invite_key: None,
                stream: None,
                answered: false,
            },
        );
        if let Purpose::Workload(w) = purpose
            && let Some(wl) = self.calls.workloads.get_mut(w)
        {
            wl.active += 1;
        }
        self.metrics
            .gauge(now, self.calls.active(), self.streams.len() as u64);
        self.run_caller_actions(now, id, actions);
    }

    fn caller_spec(&mut self, w: usize) -> CallerSpec {
        let call_id = format!("{:016x}@switchyard-load", self.rng.random::<u64>());
        let from_tag = self.new_tag();
        let cnonce = format!("{:016x}", self.rng.random::<u64>());
        let offer = self.calls.workloads[w].load.media.as_ref().map(|m| m.codec);
        let offer = offer.map(|codec| {
            let ssrc = self.new_ssrc();
            (
                make_offer(self.rtp_addr, codec, ssrc, self.rng.random::<u32>().into()),
                ssrc,
            )
        });
        let pick = self.rng.random::<u64>() as usize;
        let wl = &mut self.calls.workloads[w];
        let to = match wl.load.pick {
            Pick::RoundRobin => wl.next_to,
            Pick::Random => pick,
        } % wl.load.to.len().max(1);
        wl.next_to = wl.next_to.wrapping_add(1);
        let from = wl.next_from % wl.load.from.len().max(1);
        wl.next_from = wl.next_from.wrapping_add(1);
        let number = wl.load.to.get(to).cloned().unwrap_or_default();
        let account = wl
            .load
            .from
            .get(from)
            .cloned()
            .unwrap_or_else(|| crate::scenario::Account {
                user: "loadgen".to_owned(),
                password: None,
            });
        let hold = wl.load.hold.sample(&mut self.rng);
        let uri = self.dialled_uri(&number);
        let wl = &self.calls.workloads[w];
        CallerSpec {
            workload: w,
            contact: format!("<sip:{}@{}>", account.user, self.sip_addr),
            call_id,
            from_tag,
            account,
            algorithm: wl.load.algorithm,
            cnonce,
            uri,
            domain: self.domain.clone(),
            offer,
            hold,
            hangs_up: wl.load.hangup == crate::scenario::HangUp::This,
            max_call: wl.load.max_call,
            digits: flatten_digits(&wl.load),
        }
    }

    fn feed_caller(&mut self, now: Instant, id: u64, input: CallerInput<'_>) {
        let Some(slot) = self.calls.live.get_mut(&id) else {
            return;
        };
        let mut actions = Vec::new();
        slot.caller.handle(now, input, &mut actions);
        self.run_caller_actions(now, id, actions);
    }

    fn run_caller_actions(&mut self, now: Instant, id: u64, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send(req) => {
                    let invite = req.method == Method::Invite;
                    let key = self.layer.send_request(now, req, self.sip_target());
                    self.owners.insert(key, Owner::Caller(id));
                    if let (true, Some(slot)) = (invite, self.calls.live.get_mut(&id)) {
                        slot.invite_key = Some(key);
                    }
                }
                Action::Ack(ack) => {
                    let target = self.sip_target();
                    if let Some(key) = self.calls.live.get(&id).and_then(|s| s.invite_key) {
                        self.layer.ack_2xx(now, &key, ack, target);
                    }
                    self.caller_answered(now, id);
                }
                Action::StartMedia(start) => self.caller_media(now, id, start),
                Action::SendDigit(digit, tone) => self.caller_digit(now, id, digit, tone),
                Action::StopMedia => {
                    if let Some(s) = self.calls.live.get_mut(&id).and_then(|s| s.stream.take()) {
                        self.close_stream(now, s);
                    }
                }
                Action::Arm(t, at) => self.timers.arm(at, Timer::Caller(id, t)),
                Action::Finish(record) => self.end_call(now, id, &record),
            }
        }
    }

    fn caller_answered(&mut self, now: Instant, id: u64) {
        if let Some(slot) = self.calls.live.get_mut(&id)
            && !slot.answered
        {
            slot.answered = true;
            if matches!(slot.purpose, Purpose::Workload(_)) {
                self.calls.answered_live += 1;
                self.metrics.call_answered(now);
            }
        }
    }

    fn caller_media(&mut self, now: Instant, id: u64, start: super::sdp::MediaStart) {
        let Some(Purpose::Workload(w)) = self.calls.live.get(&id).map(|s| s.purpose) else {
            return;
        };
        let Some(audio) = self.calls.workloads.get(w).and_then(|wl| wl.audio.clone()) else {
            return;
        };
        let stream = self.open_stream(now, start, audio);
        if let Some(slot) = self.calls.live.get_mut(&id) {
            slot.stream = Some(stream);
        }
    }

    fn caller_digit(&mut self, now: Instant, id: u64, digit: Digit, tone: Duration) {
        let Some(stream) = self.calls.live.get(&id).and_then(|s| s.stream) else {
            self.metrics.media.digits_unsent += 1;
            return;
        };
        match self.streams.send_digit(now, stream, digit, tone) {
            Ok(wake) => {
                self.metrics.media.digits_sent += 1;
                if let Some(at) = wake {
                    self.timers.arm(at, Timer::Stream(stream));
                }
            }
            Err(()) => self.metrics.media.digits_unsent += 1,
        }
    }

    fn end_call(&mut self, now: Instant, id: u64, record: &super::CallRecord) {
        let Some(slot) = self.calls.live.remove(&id) else {
            return;
        };
        if let Some(s) = slot.stream {
            self.close_stream(now, s);
        }
        if slot.answered && matches!(slot.purpose, Purpose::Workload(_)) {
            self.calls.answered_live -= 1;
        }
        self.legs.remove(&(slot.call_id, slot.from_tag));
        match slot.purpose {
            Purpose::Workload(w) => {
                if let Some(wl) = self.calls.workloads.get_mut(w) {
                    wl.active = wl.active.saturating_sub(1);
                }
                self.metrics.call_ended(record);
            }
            Purpose::Login(_) => {
                let ok = record.answered && record.ended_by == Some(super::EndedBy::Callee);
                let a = &mut self.metrics.agents;
                if ok {
                    a.logged_in += 1;
                } else {
                    a.login_failed += 1;
                }
            }
        }
        self.metrics
            .gauge(now, self.calls.active(), self.streams.len() as u64);
    }

    pub(super) fn caller_response(&mut self, now: Instant, id: u64, r: &sip::message::Response) {
        self.feed_caller(now, id, CallerInput::Response(r));
    }

    pub(super) fn caller_timeout(&mut self, now: Instant, id: u64) {
        self.feed_caller(now, id, CallerInput::TimedOut);
    }

    pub(super) fn caller_remote_bye(&mut self, now: Instant, id: u64) {
        self.feed_caller(now, id, CallerInput::RemoteBye);
    }

    pub(super) fn caller_timer(&mut self, now: Instant, id: u64, t: CallerTimer) {
        self.feed_caller(now, id, CallerInput::Timer(t));
    }

    pub(super) fn calls_unreachable(&mut self, now: Instant) {
        let setting_up: Vec<u64> = self
            .calls
            .live
            .iter()
            .filter(|(_, s)| s.caller.is_setting_up())
            .map(|(id, _)| *id)
            .collect();
        for id in setting_up {
            self.feed_caller(now, id, CallerInput::Unreachable);
        }
    }

    pub(super) fn call_send_failed(&mut self, now: Instant, call_id: &str) {
        let id = self
            .calls
            .live
            .iter()
            .find(|(_, s)| s.call_id == call_id)
            .map(|(id, _)| *id);
        if let Some(id) = id {
            self.feed_caller(now, id, CallerInput::SendFailed);
        }
    }

    pub(super) fn abandon_calls(&mut self, now: Instant) {
        let ids: Vec<u64> = self.calls.live.keys().copied().collect();
        for id in ids {
            self.feed_caller(now, id, CallerInput::Abandon);
        }
    }
}
