//! `switchyard-load`: the command line of the load generator (see the
//! `switchyard_load` library for the engine, the scenario format and the
//! report).
//!
//! ```text
//!   switchyard-load run SCENARIO.toml [--target IP:PORT] [--node-pid PID] [--out DIR]
//!   switchyard-load check SCENARIO.toml
//!   switchyard-load report RESULT.json [--html FILE]
//! ```

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use switchyard_load::driver;
use switchyard_load::report::{self, RunResult};
use switchyard_load::scenario::{Scenario, Target};

#[derive(Parser)]
#[command(
    name = "switchyard-load",
    version,
    about = "SIP + RTP load generator for Switchyard"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a scenario and writes result.json and report.html.
    Run {
        /// The scenario file.
        scenario: PathBuf,
        /// Overrides the scenario's target (IP:PORT, or "self").
        #[arg(long)]
        target: Option<String>,
        /// The node's process id: its CPU and memory are sampled each second.
        #[arg(long)]
        node_pid: Option<u32>,
        /// `EXT PASSWORD` lines (the demo's demo-credentials.txt) for
        /// accounts without a password.
        #[arg(long)]
        credentials: Option<PathBuf>,
        /// Where result.json and report.html go (default:
        /// target/loadtest/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Overrides [generator] seed.
        #[arg(long)]
        seed: Option<u64>,
        /// No progress line.
        #[arg(long)]
        quiet: bool,
    },
    /// Checks a scenario file and prints what it would offer.
    Check {
        /// The scenario file.
        scenario: PathBuf,
    },
    /// Renders the HTML report of a result.json.
    Report {
        /// A result.json written by `run`.
        result: PathBuf,
        /// The HTML file to write (default: report.html beside the result).
        #[arg(long)]
        html: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run {
            scenario,
            target,
            node_pid,
            credentials,
            out,
            seed,
            quiet,
        } => {
            let mut s = load(&scenario, credentials.as_deref())?;
            if let Some(t) = target {
                s.target = parse_target(&t)?;
            }
            if let Some(seed) = seed {
                s.generator.seed = seed;
            }
            let out = out.unwrap_or_else(|| Path::new("target/loadtest").join(&s.name));
            let opts = driver::RunOptions { node_pid, quiet };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let result = runtime.block_on(driver::run(&s, opts))?;
            write_outputs(&result, &out)?;
            print_summary(&result);
            println!(
                "wrote {}/result.json and {}/report.html",
                out.display(),
                out.display()
            );
            Ok(())
        }
        Command::Check { scenario } => {
            let s = load(&scenario, None)?;
            describe(&s);
            Ok(())
        }
        Command::Report { result, html } => {
            let text = std::fs::read_to_string(&result)
                .with_context(|| format!("read {}", result.display()))?;
            let r: RunResult = serde_json::from_str(&text)
                .with_context(|| format!("parse {}", result.display()))?;
            let html = html.unwrap_or_else(|| result.with_file_name("report.html"));
            std::fs::write(&html, report::html::render(&r))
                .with_context(|| format!("write {}", html.display()))?;
            println!("wrote {}", html.display());
            Ok(())
        }
    }
}

fn load(path: &Path, credentials: Option<&Path>) -> anyhow::Result<Scenario> {
    let mut s = Scenario::load(path)?;
    if let Some(file) = credentials {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
        s.apply_credentials(&text);
    }
    if let Some(agents) = s.agents.as_ref().filter(|a| a.register) {
        let missing: Vec<&str> = agents
            .accounts
            .iter()
            .filter(|a| a.password.is_none())
            .map(|a| a.user.as_str())
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "{}: no password for agent(s) {} (set `password`, `credentials_file` or --credentials)",
            path.display(),
            missing.join(", ")
        );
    }
    Ok(s)
}

fn parse_target(t: &str) -> anyhow::Result<Target> {
    if t == "self" {
        return Ok(Target::SelfLoop);
    }
    Ok(Target::Addr(t.parse().with_context(|| {
        format!("--target {t}: expected IP:PORT")
    })?))
}

fn write_outputs(result: &RunResult, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
    let json = serde_json::to_string_pretty(result)?;
    std::fs::write(out.join("result.json"), json).context("write result.json")?;
    std::fs::write(out.join("report.html"), report::html::render(result))
        .context("write report.html")?;
    Ok(())
}

fn describe(s: &Scenario) {
    println!("scenario {} -> {:?}", s.name, s.target);
    if let Some(sv) = &s.supervisors {
        println!(
            "  supervisors: {} event-stream clients on {} ({:?}), connect rate {:?}/s, linger {:?} (at most {:?})",
            sv.clients, sv.api, sv.credentials, sv.connect_rate, sv.linger, sv.linger_max
        );
    }
    for r in &s.registrations {
        println!(
            "  registrations: {} accounts, {} in all at {}/s ({:?}), {}",
            r.accounts.len(),
            r.total,
            r.rate,
            r.arrival,
            r.algorithm.as_str()
        );
    }
    if let Some(a) = &s.agents {
        println!(
            "  agents: {} (register: {}), answer after {:?} mean, talk {:?} mean, wrap-up {:?} mean",
            a.accounts.len(),
            a.register,
            a.answer_delay.mean(),
            a.handle_time.mean(),
            a.wrap_up.mean()
        );
    }
    for c in &s.calls {
        println!(
            "  calls {}: {}/s ({:?}), cap {}, total {:?}, duration {:?}, hold {:?} mean, media {}, {} digit plan(s)",
            c.name,
            c.rate,
            c.arrival,
            c.max_concurrent,
            c.total,
            c.duration,
            c.hold.mean(),
            c.media.as_ref().map_or("none".to_owned(), |m| format!(
                "{} from {}",
                m.codec.name(),
                m.audio_name
            )),
            c.digits.len()
        );
    }
}

fn print_supervisors(s: &switchyard_load::supervisor::SupervisorSummary) {
    println!(
        "supervisors: {} of {} connected ({} rate-limited handshakes, failures {:?}) | published {} | received {} ({:.0}/s, peak {}/s) | delay p50 {:.1} ms p99 {:.1} ms max {:.1} ms | gaps {} duplicates {} | complete {}/{}",
        s.connected,
        s.clients,
        s.rate_limited,
        s.connect_failures,
        s.published_in_range
            .map_or("?".to_owned(), |p| p.to_string()),
        s.events_received,
        s.delivered_per_s,
        s.peak_delivered_per_s,
        s.delivery_ms.p50,
        s.delivery_ms.p99,
        s.delivery_ms.max,
        s.gaps,
        s.duplicates,
        s.complete_clients,
        s.clients
    );
}

fn print_summary(r: &RunResult) {
    for c in &r.calls {
        println!(
            "{}: attempted {} blocked {} sent {} answered {} failed {} completed {} abandoned {} ASR {:.1}% | setup p50 {:.1} ms p99 {:.1} ms | pdd p50 {:.1} ms",
            c.name,
            c.attempted,
            c.blocked_by_cap,
            c.sent,
            c.answered,
            c.failed,
            c.completed,
            c.abandoned,
            c.asr_percent,
            c.setup_ms.p50,
            c.setup_ms.p99,
            c.pdd_ms.p50
        );
        if !c.failures.is_empty() {
            println!("  failures: {:?}", c.failures);
        }
    }
    for g in r
        .registrations
        .iter()
        .chain(r.agents.as_ref().map(|a| &a.registrations))
    {
        println!(
            "{} ({}): attempted {} ok {} failures {:?} | latency p50 {:.1} ms p99 {:.1} ms",
            g.name, g.algorithm, g.attempted, g.ok, g.failures, g.latency_ms.p50, g.latency_ms.p99
        );
    }
    let m = &r.media;
    if m.streams > 0 {
        println!(
            "media: {} streams ({} silent) | loss mean {:.2}% | jitter mean {:.2} ms | MOS mean {:.2} min {:.2} | send lag mean {:.2} ms max {:.1} ms",
            m.streams,
            m.silent_streams,
            m.loss_percent.mean,
            m.jitter_ms.mean,
            m.mos.mean,
            m.mos.min,
            m.send_lag_mean_ms,
            m.send_lag_max_ms
        );
        if m.socket_drops > 0 || m.sent_over_10ms_late > m.packets_sent / 100 {
            println!(
                "  warning: the generator itself dropped {} received packets and sent {} packets over 10 ms late: \
                 loss and jitter above include its own share (CPU starved? raise net.core.rmem_max?)",
                m.socket_drops, m.sent_over_10ms_late
            );
        }
    }
    if let Some(s) = &r.supervisors {
        print_supervisors(s);
    }
    println!(
        "generator: cpu mean {:.1}% max {:.1}% rss {} MB",
        r.generator.cpu_mean_percent,
        r.generator.cpu_max_percent,
        r.generator.rss_max_kb / 1024
    );
    if let Some(n) = &r.node {
        println!(
            "node: cpu mean {:.1}% max {:.1}% rss max {} MB",
            n.cpu_mean_percent,
            n.cpu_max_percent,
            n.rss_max_kb / 1024
        );
    }
}
