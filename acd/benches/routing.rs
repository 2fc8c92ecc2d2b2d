//! Routing decisions per second and decision latency at contact-center scale:
//! 10,000 agents, 500 queues (all nine strategies), 5,000 callers waiting.
//!
//! Each agent serves two queues (tier 1 in one, tier 2 in another) with three skills;
//! 30 % of callers require a skill, 20 % have a higher priority. Queues announce
//! position and wait every 30 s and escalate after 60 s, so timers run as they would.
//!
//! Steady state: every agent is on a call and 5,000 callers wait. One cycle:
//! 1. a call ends → the freed agent is given the best waiting call it may take
//!    (a decision: walk the agent's queues' waiting sets);
//! 2. the offer is answered;
//! 3. a new caller arrives → routed to a queue with no free agent, queued and
//!    announced (a decision: walk the queue's available set).
//!
//! Latency is timed around `handle_input` plus draining `poll_output` for each
//! decision input; the virtual clock advances 1 ms per cycle.
//!
//! `cargo bench -p switchyard-acd --bench routing`; knob `ACD_BENCH_CYCLES` (default
//! 300,000).

#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures by the wall clock"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use acd::{
    Acd, AcdConfig, AgentConfig, Announcements, CallRequest, Escalation, EscalationStep, Input,
    Output, QueueConfig, Strategy,
};

const AGENTS: usize = 10_000;
const QUEUES: usize = 500;
const WAITING: usize = 5_000;
const SKILLS: [&str; 3] = ["english", "billing", "spanish"];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn config(rng: &mut Rng) -> AcdConfig {
    let queues = (0..QUEUES)
        .map(|i| {
            let mut q = QueueConfig::new(format!("q{i}"), Strategy::ALL[i % Strategy::ALL.len()]);
            q.wrap_up = Duration::ZERO;
            q.announce = Some(Announcements {
                first_after: Duration::from_secs(30),
                period: Duration::from_secs(30),
            });
            q.tier_limit = 1;
            q.escalation = vec![EscalationStep {
                after: Duration::from_secs(60),
                action: Escalation::WidenTiers { max_level: 2 },
            }];
            q
        })
        .collect();
    let agents = (0..AGENTS)
        .map(|i| {
            let mut a = AgentConfig::new(format!("{}", 10_000 + i))
                .with_tier(format!("q{}", i % QUEUES), 1, (i / QUEUES) as u32)
                .with_tier(format!("q{}", (i * 7 + 3) % QUEUES), 2, (i / QUEUES) as u32);
            for s in SKILLS {
                a = a.with_skill(s, 1 + rng.below(5) as u8);
            }
            a.weight = 1 + rng.below(3) as u32;
            a
        })
        .collect();
    AcdConfig {
        queues,
        agents,
        ..AcdConfig::default()
    }
}

fn request(rng: &mut Rng, n: u64) -> CallRequest {
    let mut r = CallRequest::to_queue(format!("call-{n}@node"), format!("q{}", rng.below(QUEUES)));
    if rng.below(10) < 3 {
        r = r.requiring(SKILLS[rng.below(3)], 1 + rng.below(3) as u8);
    }
    if rng.below(10) < 2 {
        r = r.with_priority(5);
    }
    r
}

struct Bench {
    acd: Acd,
    now: Instant,
    /// Calls in progress, by call id, with their agent.
    talking: Vec<(acd::CallId, acd::AgentId)>,
    offers: Vec<(acd::CallId, acd::AgentId)>,
    decisions: Vec<u64>,
}

impl Bench {
    /// Applies `input` and drains the outputs, collecting offers; returns the time.
    fn step(&mut self, input: Input) -> Duration {
        let start = Instant::now();
        self.acd.handle_input(self.now, input).expect("valid input");
        while let Some(out) = self.acd.poll_output() {
            if let Output::Offer { call, agent, .. } | Output::PlaceCallback { call, agent, .. } =
                out
            {
                self.offers.push((call, agent));
            } else {
                black_box(out);
            }
        }
        start.elapsed()
    }

    fn answer_offers(&mut self) {
        for (call, agent) in std::mem::take(&mut self.offers) {
            let input = Input::Answered {
                call: call.clone(),
                agent: agent.clone(),
            };
            // Under ring-all only the first answer of a call connects; the other
            // agents' offers were cancelled.
            if self.acd.handle_input(self.now, input).is_ok() {
                self.talking.push((call, agent));
            }
            while self.acd.poll_output().is_some() {}
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let cycles: usize = std::env::var("ACD_BENCH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut bench, mut n) = steady_state(&mut rng);
    let mut answer_time = Duration::ZERO;
    let run = Instant::now();
    let cpu = thread_cpu();
    for _ in 0..cycles {
        bench.now += Duration::from_millis(1);
        let i = rng.below(bench.talking.len());
        let (call, _) = bench.talking.swap_remove(i);
        let t = bench.step(Input::CallEnded(call));
        bench.decisions.push(t.as_nanos() as u64);
        let a = Instant::now();
        bench.answer_offers();
        answer_time += a.elapsed();
        n += 1;
        let req = request(&mut rng, n);
        let t = bench.step(Input::Enqueue(req));
        bench.decisions.push(t.as_nanos() as u64);
        let a = Instant::now();
        bench.answer_offers();
        answer_time += a.elapsed();
    }
    let wall = run.elapsed();
    let cpu = thread_cpu() - cpu;
    println!(
        "cycles: {cycles} (call ends → offer, answer, new caller → queued), still waiting {}",
        waiting(&bench.acd)
    );
    report(std::mem::take(&mut bench.decisions));
    println!(
        "full cycles (end → offer, answer, new caller): {:.0}/s of CPU time ({:.2} s CPU, {:.2} s wall, \
         {:.3} s of wall answering) → {:.0} decisions/s counting the whole cycle",
        cycles as f64 / cpu.as_secs_f64(),
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        answer_time.as_secs_f64(),
        2.0 * cycles as f64 / cpu.as_secs_f64(),
    );
}

/// Builds the engine, makes every agent ready and fills it until all agents talk and
/// about 5,000 callers wait; returns the bench and the number of calls created.
fn steady_state(rng: &mut Rng) -> (Bench, u64) {
    let build = Instant::now();
    let acd = Acd::new(config(rng)).expect("valid configuration");
    let mut bench = Bench {
        acd,
        now: Instant::now(),
        talking: Vec::new(),
        offers: Vec::new(),
        decisions: Vec::new(),
    };
    for id in 0..AGENTS {
        bench.step(Input::ready(format!("{}", 10_000 + id)));
    }
    let mut n = 0u64;
    for _ in 0..AGENTS + WAITING {
        n += 1;
        let req = request(rng, n);
        bench.step(Input::Enqueue(req));
        bench.answer_offers();
    }
    println!(
        "setup: {} agents on calls, {} callers waiting, {} queues ({:.1} s)",
        bench.talking.len(),
        waiting(&bench.acd),
        QUEUES,
        build.elapsed().as_secs_f64()
    );
    (bench, n)
}

/// Prints the decision rate and latency percentiles from per-decision times (ns).
fn report(mut lat: Vec<u64>) {
    let decision_time: u64 = lat.iter().sum();
    lat.sort_unstable();
    println!(
        "decisions: {} in {:.3} s → {:.0} decisions/s (each: handle_input + drain outputs)",
        lat.len(),
        decision_time as f64 / 1e9,
        lat.len() as f64 / (decision_time as f64 / 1e9)
    );
    println!(
        "decision latency: p50 {:.2} µs, p90 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs, max {:.1} µs",
        percentile(&lat, 0.5) as f64 / 1e3,
        percentile(&lat, 0.9) as f64 / 1e3,
        percentile(&lat, 0.99) as f64 / 1e3,
        percentile(&lat, 0.999) as f64 / 1e3,
        *lat.last().unwrap_or(&0) as f64 / 1e3
    );
}

/// CPU time this thread has run (Linux `/proc/thread-self/schedstat`, in ns), so that
/// other load on the shared machine does not count; the wall clock elsewhere.
fn thread_cpu() -> Duration {
    static WALL: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_else(|| WALL.get_or_init(Instant::now).elapsed())
}

fn waiting(acd: &Acd) -> usize {
    let now = Instant::now();
    acd.all_queue_stats(now).map(|s| s.waiting as usize).sum()
}
