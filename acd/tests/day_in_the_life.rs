//! "Day in the life": the engine runs days of contact-center traffic on a virtual
//! clock, driven like the node drives it, and its outcomes are checked against
//! queueing theory.
//!
//! Traffic: Poisson arrivals, exponential talk times, no wrap-up; agents take breaks
//! in relay (one of N + 1 agents is always on break: the next one asks for a break,
//! finishes their call, and only then does the one on break come back), so N agents
//! serve at all times, as the Erlang models assume. Offers are answered at once.
//!
//! - Patient callers: service level and mean wait against Erlang C.
//! - Impatient callers (exponential patience): abandon rate and mean wait against
//!   Erlang A.
//! - Both: the error of the wait announced on entry (the engine's estimate) against
//!   the wait each answered caller actually had, printed as a distribution and
//!   compared with a naive running average of recent waits.
//!
//! Run with `--nocapture` to see the figures (recorded in docs/acd.md).

mod support;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use acd::{
    Acd, AcdConfig, AgentConfig, Announcements, CallRequest, Input, Output, Presence, QueueConfig,
    Strategy,
};
use support::erlang;

/// Deterministic generator for the traffic (SplitMix64).
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn exp(&mut self, mean: f64) -> f64 {
        -mean * self.uniform().ln()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Arrival,
    Abandon(u64),
    End(u64),
    Break,
}

#[derive(Clone, Copy)]
struct Scenario {
    agents: u32,
    /// Offered load in Erlangs.
    erlangs: f64,
    handle_secs: f64,
    /// Mean patience; `None` for patient callers.
    patience_secs: Option<f64>,
    days: f64,
    seed: u64,
}

#[derive(Default)]
struct Outcome {
    arrived: u64,
    answered: u64,
    answered_in_sl: u64,
    abandoned: u64,
    abandoned_after_sl: u64,
    total_wait: f64,
    /// (announced estimate, actual wait) of answered callers who waited.
    estimates: Vec<(f64, f64)>,
    /// Naive estimate (mean of the last 100 answered waits) for the same callers.
    naive: Vec<f64>,
}

const SL_SECS: f64 = 20.0;
const WARM_UP: f64 = 4.0 * 3600.0;

struct Sim {
    acd: Acd,
    t0: Instant,
    now: f64,
    rng: Rng,
    events: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
    arrived_at: HashMap<u64, f64>,
    announced: HashMap<u64, (f64, f64)>,
    recent: std::collections::VecDeque<f64>,
    on_break: u32,
    leaving: Option<u32>,
    handle: f64,
    out: Outcome,
}

impl Sim {
    fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    fn push(&mut self, secs: f64, ev: Event) {
        self.seq += 1;
        self.events
            .push(Reverse(((secs * 1e6) as u64, self.seq, ev)));
    }

    fn input(&mut self, input: Input) {
        let at = self.at(self.now);
        self.acd
            .handle_input(at, input)
            .expect("the simulated node sends valid inputs");
        while let Some(out) = self.acd.poll_output() {
            self.react(out);
        }
    }

    fn react(&mut self, out: Output) {
        match out {
            Output::Offer { call, agent, .. } => {
                let id: u64 = call.as_str().parse().expect("numeric call ids");
                let wait = self.now - self.arrived_at.remove(&id).expect("offered call arrived");
                self.record_answer(id, wait);
                let at = self.at(self.now);
                self.acd
                    .handle_input(at, Input::Answered { call, agent })
                    .expect("offer outstanding");
                let end = self.now + self.rng.exp(self.handle_secs());
                self.push(end, Event::End(id));
            }
            Output::Announce {
                call,
                ewt: Some(ewt),
                ..
            } => {
                let id: u64 = call.as_str().parse().expect("numeric call ids");
                let naive = self.recent.iter().sum::<f64>() / self.recent.len().max(1) as f64;
                self.announced
                    .entry(id)
                    .or_insert((ewt.as_secs_f64(), naive));
            }
            Output::AgentStateChanged {
                agent,
                presence: Presence::NotReady(_),
                activity: acd::Activity::Idle,
            } if self.leaving == Some(agent_number(agent.as_str())) => {
                self.leaving = None;
                let back = self.on_break;
                self.on_break = agent_number(agent.as_str());
                self.input(Input::ready(format!("a{back}")));
            }
            _ => {}
        }
    }

    fn handle_secs(&self) -> f64 {
        self.handle
    }

    fn record_answer(&mut self, id: u64, wait: f64) {
        let (ewt, naive) = self.announced.remove(&id).unwrap_or((0.0, 0.0));
        let counted = self.now > WARM_UP;
        if counted {
            self.out.answered += 1;
            self.out.answered_in_sl += u64::from(wait <= SL_SECS);
            self.out.total_wait += wait;
            if wait > 0.0 && ewt > 0.0 {
                self.out.estimates.push((ewt, wait));
                self.out.naive.push(naive);
            }
        }
        self.recent.push_back(wait);
        if self.recent.len() > 100 {
            self.recent.pop_front();
        }
    }

    fn step(&mut self, ev: Event, sc: &Scenario, call_no: &mut u64) {
        match ev {
            Event::Arrival => {
                *call_no += 1;
                let id = *call_no;
                self.arrived_at.insert(id, self.now);
                if self.now > WARM_UP {
                    self.out.arrived += 1;
                }
                if let Some(p) = sc.patience_secs {
                    let at = self.now + self.rng.exp(p);
                    self.push(at, Event::Abandon(id));
                }
                let rate = sc.erlangs / sc.handle_secs;
                let next = self.now + self.rng.exp(1.0 / rate);
                self.push(next, Event::Arrival);
                self.input(Input::Enqueue(CallRequest::to_queue(id.to_string(), "q")));
            }
            Event::Abandon(id) => {
                if let Some(arrived) = self.arrived_at.remove(&id) {
                    self.announced.remove(&id);
                    let wait = self.now - arrived;
                    if self.now > WARM_UP {
                        self.out.abandoned += 1;
                        self.out.abandoned_after_sl += u64::from(wait > SL_SECS);
                        self.out.total_wait += wait;
                    }
                    self.input(Input::Abandon(id.to_string().into()));
                }
            }
            Event::End(id) => self.input(Input::CallEnded(id.to_string().into())),
            Event::Break => {
                // The next agent in turn asks for a break; the one on break returns
                // when that agent is free (see `react`).
                let next = (self.on_break + 1) % (sc.agents + 1);
                self.leaving = Some(next);
                self.input(Input::not_ready(format!("a{next}"), "break"));
                let at = self.now + 1800.0;
                self.push(at, Event::Break);
            }
        }
    }
}

fn agent_number(name: &str) -> u32 {
    name[1..].parse().expect("agent names are a<i>")
}

fn run(sc: &Scenario) -> Outcome {
    let mut q = QueueConfig::new("q", Strategy::LongestIdle);
    q.wrap_up = Duration::ZERO;
    q.expected_handle_time = Duration::from_secs_f64(sc.handle_secs);
    q.service_level_threshold = Duration::from_secs_f64(SL_SECS);
    q.announce = Some(Announcements {
        first_after: Duration::ZERO,
        period: Duration::from_secs(60),
    });
    let config = AcdConfig {
        queues: vec![q],
        agents: (0..=sc.agents)
            .map(|i| AgentConfig::new(format!("a{i}")).with_tier("q", 1, i))
            .collect(),
        ..AcdConfig::default()
    };
    let mut sim = Sim {
        acd: Acd::new(config).expect("valid"),
        t0: support::t0(),
        now: 0.0,
        rng: Rng(sc.seed),
        events: BinaryHeap::new(),
        seq: 0,
        arrived_at: HashMap::new(),
        announced: HashMap::new(),
        recent: std::collections::VecDeque::new(),
        on_break: sc.agents,
        leaving: None,
        handle: sc.handle_secs,
        out: Outcome::default(),
    };
    for i in 0..sc.agents {
        sim.input(Input::ready(format!("a{i}")));
    }
    sim.push(1.0, Event::Arrival);
    sim.push(900.0, Event::Break);
    let end = sc.days * 86_400.0;
    let mut call_no = 0;
    loop {
        let next_event = sim.events.peek().map(|Reverse((t, _, _))| *t as f64 / 1e6);
        let timer = sim
            .acd
            .poll_timeout()
            .map(|d| d.saturating_duration_since(sim.t0).as_secs_f64());
        match (next_event, timer) {
            (_, Some(t)) if next_event.is_none_or(|e| t <= e) && t < end => {
                sim.now = t;
                sim.input(Input::Timeout);
            }
            (Some(t), _) if t < end => {
                let Some(Reverse((_, _, ev))) = sim.events.pop() else {
                    break;
                };
                sim.now = t;
                sim.step(ev, sc, &mut call_no);
            }
            _ => break,
        }
    }
    check_engine_counters(&sim);
    sim.out
}

/// The engine's own statistics agree with what the simulated callers experienced.
fn check_engine_counters(sim: &Sim) {
    let stats = sim
        .acd
        .queue_stats(&"q".into(), sim.at(sim.now))
        .expect("queue");
    // Offers are answered at once, so every caller is answered, abandoned or waiting.
    assert_eq!(
        stats.entered,
        stats.answered + stats.abandoned + u64::from(stats.waiting),
        "{stats:?}"
    );
    let occupancy: Vec<f64> = sim
        .acd
        .all_agent_stats(sim.at(sim.now))
        .filter_map(|a| a.occupancy)
        .collect();
    assert_eq!(occupancy.len(), sim.acd.agent_ids().count());
}

/// Independent replications of `sc` (seeds `sc.seed`, `sc.seed + 1`, …), pooled.
fn replicate(sc: &Scenario, runs: u64) -> Outcome {
    let mut all = Outcome::default();
    for i in 0..runs {
        let out = run(&Scenario {
            seed: sc.seed + i,
            ..*sc
        });
        all.arrived += out.arrived;
        all.answered += out.answered;
        all.answered_in_sl += out.answered_in_sl;
        all.abandoned += out.abandoned;
        all.abandoned_after_sl += out.abandoned_after_sl;
        all.total_wait += out.total_wait;
        all.estimates.extend(out.estimates);
        all.naive.extend(out.naive);
    }
    all
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// Prints and returns (bias, mean absolute error of ours, of the naive estimate).
fn report_estimates(name: &str, out: &Outcome) -> (f64, f64, f64) {
    let n = out.estimates.len() as f64;
    let errors: Vec<f64> = out.estimates.iter().map(|(e, w)| w - e).collect();
    let mut abs: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
    abs.sort_by(f64::total_cmp);
    let mean_wait = out.estimates.iter().map(|(_, w)| w).sum::<f64>() / n;
    let bias = errors.iter().sum::<f64>() / n;
    let mae = abs.iter().sum::<f64>() / n;
    let naive_mae = out
        .estimates
        .iter()
        .zip(&out.naive)
        .map(|((_, w), v)| (w - v).abs())
        .sum::<f64>()
        / n;
    let within = |s: f64| abs.iter().filter(|a| **a <= s).count() as f64 / n * 100.0;
    println!(
        "{name}: EWT over {n} waiting callers (mean wait {mean_wait:.1} s): bias {bias:+.1} s, \
         MAE {mae:.1} s (naive running average {naive_mae:.1} s); |error| p50 {:.1} s, p90 {:.1} s, \
         p99 {:.1} s; within 15 s {:.0} %, 30 s {:.0} %, 60 s {:.0} %",
        percentile(&abs, 0.5),
        percentile(&abs, 0.9),
        percentile(&abs, 0.99),
        within(15.0),
        within(30.0),
        within(60.0),
    );
    (bias / mean_wait, mae, naive_mae)
}

#[test]
fn patient_callers_match_erlang_c() {
    let sc = Scenario {
        agents: 20,
        erlangs: 17.0,
        handle_secs: 180.0,
        patience_secs: None,
        days: 28.0,
        seed: 11,
    };
    let out = replicate(&sc, 4);
    let (lambda, mu) = (sc.erlangs / sc.handle_secs, 1.0 / sc.handle_secs);
    let sl_theory = erlang::erlang_c_service_level(sc.agents, lambda, mu, SL_SECS);
    let asa_theory = erlang::erlang_c_asa(sc.agents, lambda, mu);
    let sl = out.answered_in_sl as f64 / out.answered as f64;
    let asa = out.total_wait / out.answered as f64;
    println!(
        "Erlang C, N={} A={} AHT={} s, {} calls: service level {:.3} (theory {:.3}), ASA {:.1} s (theory {:.1} s)",
        sc.agents, sc.erlangs, sc.handle_secs, out.answered, sl, sl_theory, asa, asa_theory
    );
    // Tolerances are about three standard errors of four 28-day replications (the
    // spread between single replications is ±0.02 in SL and ±10 % in ASA).
    assert!(out.answered > 800_000);
    assert!(
        (sl - sl_theory).abs() < 0.025,
        "service level {sl} vs {sl_theory}"
    );
    assert!(
        (asa / asa_theory - 1.0).abs() < 0.10,
        "ASA {asa} vs {asa_theory}"
    );
    let (bias, mae, naive) = report_estimates("patient", &out);
    assert!(bias.abs() < 0.10, "EWT bias {bias}");
    assert!(mae < 0.8 * naive, "EWT MAE {mae} vs naive {naive}");
}

#[test]
fn impatient_callers_match_erlang_a() {
    let sc = Scenario {
        agents: 20,
        erlangs: 20.0,
        handle_secs: 180.0,
        patience_secs: Some(120.0),
        days: 28.0,
        seed: 23,
    };
    let out = replicate(&sc, 4);
    let (lambda, mu) = (sc.erlangs / sc.handle_secs, 1.0 / sc.handle_secs);
    let theory = erlang::erlang_a(sc.agents, lambda, mu, 1.0 / 120.0);
    let offered = (out.answered + out.abandoned) as f64;
    let abandon = out.abandoned as f64 / offered;
    let mean_wait = out.total_wait / offered;
    let sl = out.answered_in_sl as f64 / (out.answered + out.abandoned_after_sl) as f64;
    println!(
        "Erlang A, N={} A={} AHT={} s patience 120 s, {} callers: abandon rate {:.3} (theory {:.3}), \
         mean wait {:.1} s (theory {:.1} s), service level {:.3}",
        sc.agents,
        sc.erlangs,
        sc.handle_secs,
        offered,
        abandon,
        theory.abandon,
        mean_wait,
        theory.mean_wait,
        sl
    );
    assert!(
        (abandon - theory.abandon).abs() < 0.01,
        "abandon {abandon} vs {}",
        theory.abandon
    );
    assert!(
        (mean_wait / theory.mean_wait - 1.0).abs() < 0.08,
        "wait {mean_wait} vs {}",
        theory.mean_wait
    );
    let (bias, mae, naive) = report_estimates("impatient", &out);
    assert!(bias.abs() < 0.15, "EWT bias {bias}");
    assert!(mae < naive, "EWT MAE {mae} vs naive {naive}");
}

#[test]
fn erlang_c_matches_a_published_value() {
    // 10 agents, 8 Erlangs: P(wait) ≈ 0.409 (standard tables).
    assert!((erlang::erlang_c(10, 8.0) - 0.409).abs() < 0.001);
}

#[test]
fn erlang_a_tends_to_erlang_c_without_abandonment() {
    let (n, lambda, mu) = (10, 8.0 / 180.0, 1.0 / 180.0);
    let a = erlang::erlang_a(n, lambda, mu, 1e-9);
    assert!((a.mean_wait - erlang::erlang_c_asa(n, lambda, mu)).abs() < 0.5);
    assert!(a.abandon < 1e-6);
}
