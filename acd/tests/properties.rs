//! Property tests over random event sequences, checked against an independent model
//! of the engine's state built from its inputs and outputs:
//!
//! - never two offers to one agent, and offers only to available, eligible agents;
//! - priority then FIFO: an agent is never offered a call while a call ahead of it
//!   (higher priority, or same priority and earlier) that the agent may take, through
//!   a tier at least as good, is waiting;
//! - work conservation: after every input no available agent may take a waiting call;
//! - escalation reaches every caller: a waiting caller has had every step that is due.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use acd::{
    Acd, AcdConfig, AgentConfig, CallRequest, CancelReason, Escalation, EscalationStep, Input,
    Output, OverflowTarget, Presence, QueueConfig, RefuseReason, Strategy as Routing,
};
use proptest::prelude::*;

const QUEUES: usize = 3;
const AGENTS: usize = 6;
const SKILLS: [&str; 2] = ["x", "y"];

#[derive(Clone, Debug)]
struct Setup {
    strategies: [Routing; QUEUES],
    /// Per agent: skill levels (0 = none) and tier level per queue (0 = not a member).
    agents: Vec<([u8; 2], [u8; QUEUES])>,
    wrap_up: bool,
    rest: bool,
}

#[derive(Clone, Debug)]
enum Op {
    Enqueue {
        queue: usize,
        priority: i32,
        req: [u8; 2],
    },
    Abandon(usize),
    Presence(usize, u8),
    Answer(usize),
    Refuse(usize, u8),
    End(usize),
    EndWrap(usize),
    Advance(u64),
}

fn setup() -> impl Strategy<Value = Setup> {
    let strategy = proptest::sample::select(Routing::ALL.to_vec());
    let agent = ([0u8..=5, 0u8..=5], [0u8..=3, 0u8..=3, 0u8..=3]);
    (
        [strategy.clone(), strategy.clone(), strategy],
        proptest::collection::vec(agent, AGENTS),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(strategies, agents, wrap_up, rest)| Setup {
            strategies,
            agents,
            wrap_up,
            rest,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..QUEUES, 0i32..3, [0u8..=4, 0u8..=3]).prop_map(|(queue, priority, req)| Op::Enqueue { queue, priority, req }),
        1 => any::<usize>().prop_map(Op::Abandon),
        3 => (0..AGENTS, 0u8..4).prop_map(|(a, p)| Op::Presence(a, p)),
        4 => any::<usize>().prop_map(Op::Answer),
        2 => (any::<usize>(), 0u8..4).prop_map(|(o, r)| Op::Refuse(o, r)),
        3 => any::<usize>().prop_map(Op::End),
        1 => (0..AGENTS).prop_map(Op::EndWrap),
        3 => (0u64..45).prop_map(Op::Advance),
    ]
}

fn config(s: &Setup) -> AcdConfig {
    let mut queues: Vec<QueueConfig> = (0..QUEUES)
        .map(|i| {
            let mut q = QueueConfig::new(format!("q{i}"), s.strategies[i]);
            q.wrap_up = if s.wrap_up {
                Duration::from_secs(10)
            } else {
                Duration::ZERO
            };
            q
        })
        .collect();
    queues[0].tier_limit = 1;
    queues[0].escalation = vec![
        step(30, Escalation::WidenTiers { max_level: 9 }),
        step(60, Escalation::LowerRequired { by: 2 }),
        step(90, Escalation::AddQueues(vec!["q1".into()])),
    ];
    queues[0].overflow.when_no_agents = Some(OverflowTarget::Queue("q2".into()));
    queues[1].max_len = Some(4);
    queues[1].overflow.when_full = OverflowTarget::Callback;
    queues[2].max_wait = Some(Duration::from_secs(120));
    queues[2].ring_timeout = Duration::from_secs(15);
    queues[2].overflow.when_timed_out = OverflowTarget::Disconnect;
    let agents = s
        .agents
        .iter()
        .enumerate()
        .map(|(i, (skills, tiers))| {
            let mut a = AgentConfig::new(format!("a{i}"));
            for (k, level) in skills.iter().enumerate() {
                if *level > 0 {
                    a = a.with_skill(SKILLS[k], *level);
                }
            }
            for (q, level) in tiers.iter().enumerate() {
                if *level > 0 {
                    a = a.with_tier(format!("q{q}"), *level, u32::try_from(i).unwrap_or(0));
                }
            }
            a
        })
        .collect();
    let mut cfg = AcdConfig {
        queues,
        agents,
        ..AcdConfig::default()
    };
    if !s.rest {
        cfg.rona.rest_after_miss = Duration::ZERO;
        cfg.rona.rest_after_refusal = Duration::ZERO;
    }
    cfg
}

fn step(after: u64, action: Escalation) -> EscalationStep {
    EscalationStep {
        after: Duration::from_secs(after),
        action,
    }
}

#[derive(Clone, Debug, PartialEq)]
enum CallState {
    Waiting,
    Ringing(Vec<usize>),
    Connected(usize),
}

#[derive(Clone, Debug)]
struct ModelCall {
    queue: usize,
    extra: Vec<usize>,
    priority: i32,
    req: [u8; 2],
    tier_limit: u8,
    entered: Instant,
    key: i64,
    state: CallState,
    escalations: usize,
}

/// The test's own picture of the engine, built only from inputs and outputs.
struct Model {
    setup: Setup,
    available: [bool; AGENTS],
    presence: Vec<Presence>,
    calls: BTreeMap<String, ModelCall>,
    requests: BTreeMap<String, (i32, [u8; 2])>,
    tail: i64,
    head: i64,
}

fn agent_ix(name: &str) -> usize {
    name[1..].parse().expect("agent names are a<i>")
}

fn queue_ix(name: &str) -> usize {
    name[1..].parse().expect("queue names are q<i>")
}

impl Model {
    fn new(setup: Setup) -> Self {
        Self {
            setup,
            available: [false; AGENTS],
            presence: vec![Presence::LoggedOut; AGENTS],
            calls: BTreeMap::new(),
            requests: BTreeMap::new(),
            tail: 0,
            head: -1,
        }
    }

    /// The best (lowest) tier level through which agent `a` may take `call`.
    fn eligible_level(&self, a: usize, call: &ModelCall) -> Option<u8> {
        let (skills, tiers) = &self.setup.agents[a];
        if (0..2).any(|k| call.req[k] > 0 && skills[k] < call.req[k]) {
            return None;
        }
        std::iter::once(call.queue)
            .chain(call.extra.iter().copied())
            .map(|q| tiers[q])
            .filter(|level| *level > 0 && *level <= call.tier_limit)
            .min()
    }

    fn requeue(&mut self, call: &str) {
        let head = self.head;
        self.head -= 1;
        let c = self.calls.get_mut(call).expect("requeued call is known");
        c.key = head;
        c.state = CallState::Waiting;
    }

    fn drop_ringing(&mut self, call: &str, a: usize) {
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        if let CallState::Ringing(agents) = &mut c.state {
            agents.retain(|x| *x != a);
            if agents.is_empty() {
                self.requeue(call);
            }
        }
    }

    fn observe(&mut self, now: Instant, out: &Output) -> Result<(), TestCaseError> {
        match out {
            Output::Queued {
                call,
                queue,
                priority,
            } => {
                let (p, req) = self.requests[call.as_str()];
                prop_assert_eq!(p, *priority);
                let q = queue_ix(queue.as_str());
                let key = self.tail;
                self.tail += 1;
                let req = self.calls.get(call.as_str()).map_or(req, |c| c.req);
                let tier_limit = if q == 0 { 1 } else { u8::MAX };
                let entry = ModelCall {
                    queue: q,
                    extra: Vec::new(),
                    priority: p,
                    req,
                    tier_limit,
                    entered: now,
                    key,
                    state: CallState::Waiting,
                    escalations: 0,
                };
                self.calls.insert(call.to_string(), entry);
            }
            Output::Offer { call, agent, .. } | Output::PlaceCallback { call, agent, .. } => {
                self.check_offer(call.as_str(), agent_ix(agent.as_str()))?;
            }
            Output::CancelOffer {
                call,
                agent,
                reason,
            } => match reason {
                CancelReason::RingTimeout | CancelReason::AgentUnavailable => {
                    self.drop_ringing(call.as_str(), agent_ix(agent.as_str()));
                }
                CancelReason::AnsweredElsewhere | CancelReason::CallerAbandoned => {}
            },
            Output::Overflow { call, target, .. } => match target {
                OverflowTarget::Queue(_) | OverflowTarget::Callback => {}
                _ => {
                    self.calls.remove(call.as_str());
                }
            },
            Output::Escalate { call, step, .. } => {
                let c = self
                    .calls
                    .get_mut(call.as_str())
                    .expect("escalated call is known");
                prop_assert_eq!(c.state.clone(), CallState::Waiting);
                prop_assert_eq!(*step as usize, c.escalations);
                match step {
                    0 => c.tier_limit = 9,
                    1 => {
                        c.req = c
                            .req
                            .map(|r| if r > 0 { r.saturating_sub(2).max(1) } else { 0 })
                    }
                    _ => c.extra = vec![1],
                }
                c.escalations += 1;
            }
            Output::AgentStateChanged {
                agent,
                presence,
                activity,
            } => {
                let a = agent_ix(agent.as_str());
                self.presence[a] = presence.clone();
                self.available[a] =
                    *presence == Presence::Ready && *activity == acd::Activity::Idle;
            }
            Output::Announce { .. } => {}
            _ => {}
        }
        Ok(())
    }

    fn check_offer(&mut self, call: &str, a: usize) -> Result<(), TestCaseError> {
        prop_assert!(
            self.available[a],
            "offer of {} to {} who is not available",
            call,
            a
        );
        let busy = self
            .calls
            .values()
            .any(|c| matches!(&c.state, CallState::Ringing(r) if r.contains(&a)));
        prop_assert!(!busy, "agent {} offered a second call", a);
        let x = self.calls.get(call).expect("offered call is known").clone();
        prop_assert_eq!(
            &x.state,
            &CallState::Waiting,
            "offered call {} was not waiting",
            call
        );
        let level = self.eligible_level(a, &x);
        prop_assert!(level.is_some(), "agent {} not eligible for {}", a, call);
        for (other, y) in &self.calls {
            let ahead =
                (std::cmp::Reverse(y.priority), y.key) < (std::cmp::Reverse(x.priority), x.key);
            if y.state == CallState::Waiting && other != call && ahead {
                let blocked = self.eligible_level(a, y).is_some_and(|l| Some(l) <= level);
                prop_assert!(!blocked, "{} offered {} while {} is ahead", a, call, other);
            }
        }
        self.calls.get_mut(call).expect("known").state = CallState::Ringing(vec![a]);
        self.available[a] = false;
        Ok(())
    }

    fn check_after_input(&self, now: Instant, steps: &[u64]) -> Result<(), TestCaseError> {
        for (name, c) in &self.calls {
            if c.state != CallState::Waiting {
                continue;
            }
            for a in 0..AGENTS {
                let idle = self.available[a];
                prop_assert!(
                    !(idle && self.eligible_level(a, c).is_some()),
                    "{} idles while {} waits",
                    a,
                    name
                );
            }
            if c.queue == 0 {
                let due = steps
                    .iter()
                    .filter(|s| c.entered + Duration::from_secs(**s) <= now)
                    .count();
                prop_assert_eq!(c.escalations, due, "escalations of {}", name);
            }
        }
        Ok(())
    }
}

/// Feeds a batch of outputs to the model. A ring-all offer rings several agents with
/// one call: further offers of a call first offered in the same batch add agents.
fn observe_all(model: &mut Model, now: Instant, outs: &[Output]) -> Result<(), TestCaseError> {
    let mut fresh: Vec<&str> = Vec::new();
    for out in outs {
        let offer = match out {
            Output::Offer { call, agent, .. } | Output::PlaceCallback { call, agent, .. } => {
                Some((call, agent))
            }
            _ => None,
        };
        if let Some((call, agent)) = offer
            && fresh.contains(&call.as_str())
        {
            let a = agent_ix(agent.as_str());
            prop_assert!(model.available[a], "ring-all offer to unavailable {}", a);
            let c = model
                .calls
                .get_mut(call.as_str())
                .expect("offered call is known");
            let CallState::Ringing(r) = &mut c.state else {
                return Err(TestCaseError::fail("ring-all call no longer ringing"));
            };
            r.push(a);
            let c = c.clone();
            prop_assert!(model.eligible_level(a, &c).is_some(), "{} not eligible", a);
            model.available[a] = false;
            continue;
        }
        if let Some((call, _)) = offer {
            fresh.push(call.as_str());
        }
        model.observe(now, out)?;
    }
    Ok(())
}

fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()].clone())
}

fn ringing(model: &Model) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (name, c) in &model.calls {
        if let CallState::Ringing(r) = &c.state {
            out.extend(r.iter().map(|a| (name.clone(), *a)));
        }
    }
    out
}

/// Turns an op into an input, updating the model for input-side effects.
fn to_input(model: &mut Model, n: &mut usize, now: &mut Instant, op: &Op) -> Option<Input> {
    Some(match op {
        Op::Enqueue {
            queue,
            priority,
            req,
        } => {
            *n += 1;
            let name = format!("c{n}");
            model.requests.insert(name.clone(), (*priority, *req));
            let mut r =
                CallRequest::to_queue(name.as_str(), format!("q{queue}")).with_priority(*priority);
            for (k, level) in req.iter().enumerate() {
                if *level > 0 {
                    r = r.requiring(SKILLS[k], *level);
                }
            }
            Input::Enqueue(r)
        }
        Op::Abandon(i) => {
            let names: Vec<String> = model.calls.keys().cloned().collect();
            Input::Abandon(pick(&names, *i)?.as_str().into())
        }
        Op::Presence(a, p) => {
            let agent = format!("a{a}");
            match p {
                0 | 1 => Input::ready(agent),
                2 => Input::not_ready(agent, "break"),
                _ => Input::logout(agent),
            }
        }
        Op::Answer(i) => {
            let (call, a) = pick(&ringing(model), *i)?;
            Input::Answered {
                call: call.as_str().into(),
                agent: format!("a{a}").into(),
            }
        }
        Op::Refuse(i, r) => {
            let (call, a) = pick(&ringing(model), *i)?;
            let reason = [
                RefuseReason::Declined,
                RefuseReason::NoAnswer,
                RefuseReason::Busy,
                RefuseReason::Unreachable,
            ][usize::from(*r) % 4];
            Input::Refused {
                call: call.as_str().into(),
                agent: format!("a{a}").into(),
                reason,
            }
        }
        Op::End(i) => {
            let connected: Vec<String> = model
                .calls
                .iter()
                .filter(|(_, c)| matches!(c.state, CallState::Connected(_)))
                .map(|(n, _)| n.clone())
                .collect();
            Input::CallEnded(pick(&connected, *i)?.as_str().into())
        }
        Op::EndWrap(a) => Input::EndWrapUp(format!("a{a}").into()),
        Op::Advance(s) => {
            *now += Duration::from_secs(*s);
            Input::Timeout
        }
    })
}

/// Applies the input-side effects the engine reports no output for.
fn apply_input(model: &mut Model, input: &Input) {
    match input {
        Input::Answered { call, agent } => {
            let a = agent_ix(agent.as_str());
            if let Some(c) = model.calls.get_mut(call.as_str()) {
                c.state = CallState::Connected(a);
            }
        }
        Input::Refused { call, agent, .. } => {
            model.drop_ringing(call.as_str(), agent_ix(agent.as_str()))
        }
        Input::Abandon(call) | Input::CallEnded(call) => {
            model.calls.remove(call.as_str());
        }
        _ => {}
    }
}

fn run(setup: Setup, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut acd = Acd::new(config(&setup)).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut model = Model::new(setup);
    let mut now = support::t0();
    let mut n = 0;
    let steps = [30, 60, 90];
    for op in &ops {
        let Some(input) = to_input(&mut model, &mut n, &mut now, op) else {
            continue;
        };
        let must_succeed = matches!(
            input,
            Input::Answered { .. } | Input::Refused { .. } | Input::CallEnded(_)
        );
        let result = acd.handle_input(now, input.clone());
        prop_assert!(
            !must_succeed || result.is_ok(),
            "{:?} rejected: {:?}",
            input,
            result
        );
        if result.is_ok() {
            apply_input(&mut model, &input);
        }
        let outs: Vec<Output> = std::iter::from_fn(|| acd.poll_output()).collect();
        observe_all(&mut model, now, &outs)?;
        model.check_after_input(now, &steps)?;
        if let Some(deadline) = acd.poll_timeout() {
            prop_assert!(deadline > now, "a due timer was left unrun");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn routing_invariants_hold(setup in setup(), ops in proptest::collection::vec(op(), 1..150)) {
        run(setup, ops)?;
    }
}

#[test]
fn escalation_eventually_reaches_a_waiting_caller() {
    // Nobody can take the call until every step has run; then the added queue's agent
    // takes it.
    let setup = Setup {
        strategies: [Routing::LongestIdle; QUEUES],
        agents: vec![
            ([0, 0], [0, 1, 0]),
            ([0, 0], [2, 0, 0]),
            ([0, 0], [0, 0, 0]),
            ([0, 0], [0, 0, 0]),
            ([0, 0], [0, 0, 0]),
            ([0, 0], [0, 0, 0]),
        ],
        wrap_up: false,
        rest: false,
    };
    let mut acd = Acd::new(config(&setup)).expect("valid");
    let t = support::t0();
    acd.handle_input(t, Input::ready("a0")).expect("ok");
    // a1 keeps q0 staffed (no no-agents overflow) but takes no calls.
    acd.handle_input(t, Input::not_ready("a1", "meeting"))
        .expect("ok");
    acd.handle_input(t, Input::Enqueue(CallRequest::to_queue("c", "q0")))
        .expect("ok");
    let mut offered = None;
    let mut escalations = 0;
    let mut now = t;
    while let Some(deadline) = acd.poll_timeout() {
        now = deadline;
        acd.handle_input(now, Input::Timeout).expect("ok");
        for out in std::iter::from_fn(|| acd.poll_output()) {
            match out {
                Output::Escalate { .. } => escalations += 1,
                Output::Offer { agent, .. } => offered = Some(agent),
                _ => {}
            }
        }
        if offered.is_some() {
            break;
        }
    }
    assert_eq!(escalations, 3);
    assert_eq!(offered, Some("a0".into()));
    assert_eq!(now, t + Duration::from_secs(90));
}
