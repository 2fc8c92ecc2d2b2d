//! Interpreter throughput on one core: flow steps and inputs per second, for a
//! whole demo call (lookup, sub-flow, menus, queue) and for a tight menu loop,
//! plus the time to build the demo flow set.
//!
//! Times are this thread's CPU time (Linux `/proc/thread-self/schedstat`, the
//! wall clock elsewhere), so other work on the machine disturbs them little.
//!
//! `cargo bench -p switchyard-ivr --bench steps`; knob `IVR_BENCH_CALLS`
//! (default 200,000) is how many demo calls run.

#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures by the clock"
)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ivr::jiff::Timestamp;
use ivr::{CallInfo, Command, FlowSet, FlowSource, Input, Interpreter, Value};

fn main() {
    let calls: u64 = std::env::var("IVR_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/flows");
    let sources = ivr::files::read_flows(&dir).expect("demo flows");
    build_line(&sources);
    let set = Arc::new(FlowSet::build(&sources, None).expect("demo flows build"));
    println!("ivr steps benchmark: one thread");
    call_line(&set, calls);
    loop_line(calls * 10);
}

fn build_line(sources: &[FlowSource]) {
    let rounds = 200;
    let start = thread_cpu();
    for _ in 0..rounds {
        black_box(FlowSet::build(black_box(sources), None).expect("builds"));
    }
    let each = (thread_cpu() - start) / rounds;
    println!(
        "build demo flow set (2 files): {:8.1} µs",
        each.as_secs_f64() * 1e6
    );
}

/// Whole calls through the demo (a "run" is one call, from creating the
/// interpreter to the queue): Spanish, order status by caller lookup, back to
/// the main menu, then sales.
fn call_line(set: &Arc<FlowSet>, calls: u64) {
    let wall: Timestamp = "2026-03-09T15:00:00Z".parse().expect("valid");
    let now = Instant::now();
    let (mut steps, mut inputs) = (0, 0);
    let start = thread_cpu();
    for _ in 0..calls {
        let (s, i) = demo_call(set, now, wall);
        steps += s;
        inputs += i;
    }
    report("demo call", thread_cpu() - start, calls, steps, inputs);
}

fn demo_call(set: &Arc<FlowSet>, now: Instant, wall: Timestamp) -> (u64, u64) {
    let flow = set.get("main").cloned().expect("main");
    let info = CallInfo {
        call_id: "b".into(),
        caller: "+15550123".into(),
        dialled: "8000".into(),
    };
    let mut ivr = Interpreter::new(flow, Arc::clone(set), info);
    let mut keys = "2491".chars();
    let mut inputs = 1;
    ivr.handle_input(now, wall, Input::Start);
    while ivr.outcome().is_none() {
        let mut next = None;
        while let Some(cmd) = ivr.poll_output() {
            next = match cmd {
                Command::Play { id, .. } => Some(match keys.next() {
                    Some(k) => Input::Digit(k),
                    None => Input::PlaybackFinished { id },
                }),
                Command::Lookup { id, .. } => Some(Input::LookupResult {
                    id,
                    found: true,
                    fields: customer(),
                }),
                _ => next,
            };
        }
        let Some(input) = next else { break };
        ivr.handle_input(now, wall, input);
        inputs += 1;
    }
    black_box(ivr.outcome());
    (ivr.steps_run(), inputs)
}

fn customer() -> Vec<(String, Value)> {
    vec![
        ("tier".into(), Value::from("regular")),
        ("open_orders".into(), Value::Int(2)),
        ("last_order_status".into(), Value::from("shipped")),
    ]
}

/// A menu whose option leads back to it: two steps and one prompt per key
/// (a "run" is one key).
fn loop_line(keys: u64) {
    let text = "[steps.menu]\ntype = \"menu\"\nprompt = [\"m\"]\noptions = { 1 = \"again\" }\nfallback = \"end\"\n\n[steps.again]\ntype = \"goto\"\nnext = \"menu\"\n\n[steps.end]\ntype = \"hangup\"\n";
    let set = Arc::new(
        FlowSet::build(&[FlowSource::from_path_text("loop.toml", text)], None).expect("builds"),
    );
    let flow = set.get("loop").cloned().expect("loop");
    let info = CallInfo {
        call_id: "b".into(),
        caller: "1".into(),
        dialled: "2".into(),
    };
    let mut ivr = Interpreter::new(flow, Arc::clone(&set), info);
    let (now, wall) = (Instant::now(), Timestamp::UNIX_EPOCH);
    ivr.handle_input(now, wall, Input::Start);
    let start = thread_cpu();
    for _ in 0..keys {
        ivr.handle_input(now, wall, Input::Digit('1'));
        while let Some(cmd) = ivr.poll_output() {
            black_box(cmd);
        }
    }
    let elapsed = thread_cpu() - start;
    report("menu loop", elapsed, keys, ivr.steps_run(), keys);
}

fn report(name: &str, elapsed: Duration, calls: u64, steps: u64, inputs: u64) {
    let secs = elapsed.as_secs_f64();
    let (steps_f, inputs_f, calls_f) = (steps as f64, inputs as f64, calls as f64);
    println!(
        "{name:10}: {:6.2} M steps/s, {:6.2} M inputs/s, {:8.3} µs per run ({} steps, {} inputs per run)",
        steps_f / secs / 1e6,
        inputs_f / secs / 1e6,
        secs / calls_f * 1e6,
        steps / calls,
        inputs / calls,
    );
}

/// This thread's CPU time (the wall clock where the kernel does not tell).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or_else(wall_since_start, Duration::from_nanos)
}

fn wall_since_start() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}
