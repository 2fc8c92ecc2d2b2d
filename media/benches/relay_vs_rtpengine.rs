//! Switchyard's RTP relay and rtpengine side by side: the same calls, the same load
//! generator, the same measurements, one run.
//!
//! Each relay runs as its own process, driven over rtpengine's ng control protocol: the
//! `ng_relay` example for `media::Relay`, and `rtpengine` (userspace forwarding only,
//! `--table=-1`). For every step of the call-count ladder and every target, the
//! benchmark starts the target afresh, sets up N calls (offer with the caller's address,
//! answer with the callee's), then sends 172-byte RTP packets (G.711, 20 ms) both ways for
//! every call, 50 packets a second each way, for `RTP_BENCH_SECONDS`. After a warm-up it
//! reads the target's CPU time (`/proc/PID/stat`) across a steady-state window; at the end
//! it counts what came back per call.
//!
//! ```text
//! cargo build --release -p switchyard-media --example ng_relay
//! cargo bench -p switchyard-media --bench relay_vs_rtpengine
//! ```
//!
//! Knobs (environment): `RTP_BENCH_CALLS` (ladder, default `500,1000,1500,2000,2500`),
//! `RTP_BENCH_SECONDS` (20), `RTP_BENCH_WARMUP` (4), `RTP_BENCH_TARGETS`
//! (`switchyard,rtpengine`), `RTP_BENCH_MAX_LOSS` (0.1 %: a step passes with less loss
//! than this and at least 95 % of the nominal packet rate relayed over the window; a
//! target is not stepped further after a step fails `RTP_BENCH_RETRIES` (1) more tries),
//! `RTP_BENCH_SWITCHYARD_THREADS` (1: a current-thread runtime),
//! `RTP_BENCH_SWITCHYARD_RECV_BUFFER` (`SO_RCVBUF` bytes, 0: the system default, which
//! rtpengine keeps too), `RTP_BENCH_RTPENGINE_ARGS`
//! (extra arguments, space-separated), `RTP_BENCH_PORTS` (`10000-31999`),
//! `RTP_BENCH_SOCKETS` (generator sockets per side, 8), `RTP_BENCH_RECEIVERS` (2),
//! `RTP_BENCH_ROUNDS` (1: how many times the targets alternate at each step; the ratio
//! is then taken between the medians of each target's passing rounds, which steadies it
//! on a machine whose figures drift between steps), `NG_RELAY_BIN`, `RTPENGINE_BIN`.
//! Linux only (`/proc`).
//!
//! Every row is also printed as a `RESULT key=value …` line for scripts.

#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark paces its load and measures by the wall clock"
)]

#[allow(
    dead_code,
    unused_imports,
    reason = "shared with the ng_relay example, which uses all of it (and runs its tests)"
)]
#[path = "../examples/ng_relay/bencode.rs"]
mod bencode;
#[path = "relay_vs_rtpengine/generator.rs"]
mod generator;
#[path = "relay_vs_rtpengine/procfs.rs"]
mod procfs;
#[path = "relay_vs_rtpengine/report.rs"]
mod report;
#[allow(
    dead_code,
    unused_imports,
    reason = "shared with the ng_relay example, which uses all of it (and runs its tests)"
)]
#[path = "../examples/ng_relay/sdp.rs"]
mod sdp;
#[path = "relay_vs_rtpengine/target.rs"]
mod target;

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use generator::{CallLegs, Load, Phones};
use report::Row;
use target::{Kind, NgClient, Settings, Target};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// What the environment asked for.
#[derive(Debug)]
struct Knobs {
    ladder: Vec<usize>,
    seconds: u64,
    warmup: u64,
    targets: Vec<Kind>,
    max_loss: f64,
    retries: usize,
    rounds: usize,
    sockets: usize,
    receivers: usize,
    settings: Settings,
}

fn main() -> ExitCode {
    let knobs = match Knobs::from_env() {
        Ok(knobs) => knobs,
        Err(message) => {
            eprintln!("relay_vs_rtpengine: {message}");
            return ExitCode::FAILURE;
        }
    };
    warn_about_open_files(&knobs);
    println!(
        "relay_vs_rtpengine: ladder {:?}, {} s per step ({} s warm-up), targets {:?}, \
         switchyard --threads {}, rtpengine extra args {:?}",
        knobs.ladder,
        knobs.seconds,
        knobs.warmup,
        knobs.targets.iter().map(|k| k.name()).collect::<Vec<_>>(),
        knobs.settings.switchyard_threads,
        knobs.settings.rtpengine_args,
    );
    let rows = run_ladder(&knobs);
    report::print_table(&rows, knobs.max_loss);
    if rows.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Steps every target up the ladder, side by side, until it loses too much.
fn run_ladder(knobs: &Knobs) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut stepping = knobs.targets.clone();
    for &calls in &knobs.ladder {
        let rounds = (1..=knobs.rounds).flat_map(|_| knobs.targets.iter().copied());
        for kind in rounds {
            if !stepping.contains(&kind) {
                continue;
            }
            let mut passed = false;
            for attempt in 1..=knobs.retries + 1 {
                match measure(knobs, kind, calls) {
                    Ok(mut row) => {
                        row.attempt = attempt;
                        passed = row.passes(knobs.max_loss);
                        report::print_row(&row, knobs.max_loss);
                        rows.push(row);
                    }
                    Err(message) => println!(
                        "RESULT target={} calls={calls} attempt={attempt} error=\"{message}\"",
                        kind.name()
                    ),
                }
                if passed {
                    break;
                }
            }
            if !passed {
                stepping.retain(|&k| k != kind);
            }
        }
    }
    rows
}

/// One step: a fresh target, `calls` calls set up, the load run, the figures.
fn measure(knobs: &Knobs, kind: Kind, calls: usize) -> Result<Row, String> {
    let phones = Arc::new(Phones::bind(LOCALHOST, knobs.sockets).map_err(|e| e.to_string())?);
    let (mut target, mut ng) = Target::start(kind, &knobs.settings)?;
    let result = drive(knobs, kind, (&mut target, &mut ng), &phones, calls);
    let result = result.map(|mut row| {
        row.relay_drops = ng.relay_drops();
        let (min, max) = knobs.settings.ports;
        row.target_drops = procfs::udp_drops(|port| (min..=max).contains(&port));
        let mine = phones.ports();
        row.generator_drops = procfs::udp_drops(|port| mine.contains(&port));
        row
    });
    if !target.is_running() {
        let tail = target.log_tail();
        target.stop();
        return Err(format!("{} died during the step: {tail}", kind.name()));
    }
    target.stop();
    result
}

/// Sets the calls up and runs the load on a started target.
fn drive(
    knobs: &Knobs,
    kind: Kind,
    (target, ng): (&mut Target, &mut NgClient),
    phones: &Arc<Phones>,
    calls: usize,
) -> Result<Row, String> {
    let rcvbuf_errors = procfs::udp_rcvbuf_errors();
    let setup_started = Instant::now();
    let legs = (0..calls)
        .map(|i| ng.set_up_call(&format!("bench-{i}"), phones.caller(i), phones.callee(i)))
        .collect::<Result<Vec<CallLegs>, String>>()?;
    let setup = setup_started.elapsed();
    let start = Instant::now() + Duration::from_millis(100);
    let duration = Duration::from_secs(knobs.seconds);
    let load = generator::start(Arc::clone(phones), &legs, knobs.receivers, start, duration);
    sleep_until(start + Duration::from_secs(knobs.warmup));
    let before = Sample::take(target, &load);
    sleep_until(start + duration);
    let after = Sample::take(target, &load);
    let counts = load.finish(Duration::from_millis(300));
    let mut row = Row::from_counts(kind, calls, &counts);
    row.kernel_rcvbuf_drops = procfs::udp_rcvbuf_errors()
        .zip(rcvbuf_errors)
        .map(|(after, before)| after.saturating_sub(before));
    row.setup_ms_per_call = setup.as_secs_f64() * 1e3 / calls.max(1) as f64;
    after.fill_window(&before, &mut row);
    Ok(row)
}

fn sleep_until(deadline: Instant) {
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
}

/// Counters read at one edge of the steady-state window.
struct Sample {
    at: Instant,
    target_cpu: Option<Duration>,
    own_cpu: Option<Duration>,
    machine: Option<(Duration, Duration, Duration)>,
    received: u64,
}

impl Sample {
    fn take(target: &Target, load: &Load) -> Self {
        Self {
            at: Instant::now(),
            target_cpu: procfs::process_cpu(Some(target.pid())),
            own_cpu: procfs::process_cpu(None),
            machine: procfs::machine_cpu(),
            received: load.progress.received.load(Ordering::Relaxed),
        }
    }

    /// Fills `row`'s rates and CPU shares over the window from `before` to `self`.
    fn fill_window(&self, before: &Self, row: &mut Row) {
        let window = self.at.duration_since(before.at).as_secs_f64();
        let relayed = self.received.saturating_sub(before.received);
        row.pps_relayed = relayed as f64 / window;
        let share = |after: Option<Duration>, before: Option<Duration>| match (after, before) {
            (Some(a), Some(b)) => Some(a.saturating_sub(b).as_secs_f64() / window * 100.0),
            _ => None,
        };
        row.target_cpu_pct = share(self.target_cpu, before.target_cpu);
        row.generator_cpu_pct = share(self.own_cpu, before.own_cpu);
        if let (Some((busy, soft, total)), Some((busy0, soft0, total0))) =
            (self.machine, before.machine)
        {
            let total = total.saturating_sub(total0).as_secs_f64().max(1e-9);
            row.machine_busy_pct = Some(busy.saturating_sub(busy0).as_secs_f64() / total * 100.0);
            row.softirq_pct = Some(soft.saturating_sub(soft0).as_secs_f64() / total * 100.0);
        }
        if let Some(cpu) = row.target_cpu_pct {
            row.us_per_packet = (relayed > 0).then(|| cpu / 100.0 * window * 1e6 / relayed as f64);
        }
    }
}

impl Knobs {
    fn from_env() -> Result<Self, String> {
        let ladder = list("RTP_BENCH_CALLS", "500,1000,1500,2000,2500", |s| {
            s.parse().ok()
        })?;
        let targets = list("RTP_BENCH_TARGETS", "switchyard,rtpengine", Kind::parse)?;
        let ports = text("RTP_BENCH_PORTS", "10000-31999");
        let ports = ports
            .split_once('-')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| format!("RTP_BENCH_PORTS={ports}: not MIN-MAX"))?;
        let log_dir =
            std::env::var_os("RTP_BENCH_LOG_DIR").map_or_else(std::env::temp_dir, Into::into);
        Ok(Self {
            ladder,
            seconds: number("RTP_BENCH_SECONDS", 20)?,
            warmup: number("RTP_BENCH_WARMUP", 4)?,
            targets,
            max_loss: number("RTP_BENCH_MAX_LOSS", 0.1)?,
            retries: number("RTP_BENCH_RETRIES", 1)?,
            rounds: number::<usize>("RTP_BENCH_ROUNDS", 1)?.max(1),
            sockets: number("RTP_BENCH_SOCKETS", 8)?,
            receivers: number("RTP_BENCH_RECEIVERS", 2)?,
            settings: Settings {
                ip: LOCALHOST,
                ports,
                switchyard_threads: number("RTP_BENCH_SWITCHYARD_THREADS", 1)?,
                switchyard_recv_buffer: number("RTP_BENCH_SWITCHYARD_RECV_BUFFER", 0)?,
                rtpengine_args: text("RTP_BENCH_RTPENGINE_ARGS", "")
                    .split_whitespace()
                    .map(String::from)
                    .collect(),
                log_dir,
            },
        })
        .and_then(|knobs: Self| {
            if knobs.warmup >= knobs.seconds {
                Err("RTP_BENCH_WARMUP must be shorter than RTP_BENCH_SECONDS".into())
            } else {
                Ok(knobs)
            }
        })
    }
}

fn text(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .map_err(|_| format!("{name}={value}: not a number")),
        Err(_) => Ok(default),
    }
}

fn list<T>(name: &str, default: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    let value = text(name, default);
    let items: Option<Vec<T>> = value.split(',').map(|item| parse(item.trim())).collect();
    items
        .filter(|items| !items.is_empty())
        .ok_or_else(|| format!("{name}={value}: not a comma-separated list of the right kind"))
}

/// Four sockets per call in the target: say so up front when the limit cannot hold them.
fn warn_about_open_files(knobs: &Knobs) {
    let most = knobs.ladder.iter().copied().max().unwrap_or(0) as u64;
    if let Some(limit) = procfs::open_files_limit()
        && limit < most * 4 + 64
    {
        println!(
            "warning: open-file limit {limit} is below the {} sockets {most} calls need \
             (raise it with `ulimit -n`)",
            most * 4 + 64
        );
    }
}
