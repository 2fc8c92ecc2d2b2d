//! The result of a run: a JSON document ([`RunResult`]) built from the
//! engine's [`Metrics`] and the process samples, and a self-contained HTML
//! report drawn from it ([`html::render`]: inline SVG, no scripts).
//!
//! Every figure is defined in `loadtest/README.md`. In short: ASR is
//! answered / sent (arrivals not blocked by the cap); setup time is first
//! INVITE → 200; post-dial delay is first INVITE → first 18x, or → the final
//! response when no 18x came; MOS is the G.107 E-model over what each RTP
//! stream received (loss and jitter, no round-trip term).

pub mod html;
mod stats;
mod svg;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use stats::{Histogram, Stat};

use crate::metrics::{AgentCounters, CallStats, Metrics, RegStats};
use crate::supervisor::SupervisorSummary;

/// The whole result of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Scenario name.
    pub scenario: String,
    /// Target address.
    pub target: String,
    /// Start, ms since the Unix epoch.
    pub started_unix_ms: u64,
    /// Wall time of the run, s.
    pub wall_s: f64,
    /// Per call workload.
    pub calls: Vec<CallSummary>,
    /// Per registration storm.
    pub registrations: Vec<RegSummary>,
    /// The simulated agents, if any.
    pub agents: Option<AgentSummary>,
    /// Every RTP stream.
    pub media: MediaSummary,
    /// The generator's own SIP counters.
    pub sip: SipSummary,
    /// The generator process.
    pub generator: ProcSummary,
    /// The node process, when `--node-pid` was given.
    pub node: Option<ProcSummary>,
    /// One point per second.
    pub timeline: Vec<TimelinePoint>,
    /// The clients on the node's event stream, when the scenario has
    /// `supervisors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisors: Option<SupervisorSummary>,
}

/// One call workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallSummary {
    /// Name.
    pub name: String,
    /// Offered calls per second.
    pub offered_rate: f64,
    /// Arrivals.
    pub attempted: u64,
    /// Arrivals refused by the concurrency cap (never sent).
    pub blocked_by_cap: u64,
    /// INVITEs sent (attempted − blocked).
    pub sent: u64,
    /// Calls answered.
    pub answered: u64,
    /// Calls failed.
    pub failed: u64,
    /// Answered calls ended by a BYE.
    pub completed: u64,
    /// Answered calls still up when the run ended (drain time ran out).
    pub abandoned: u64,
    /// Answer-seizure ratio: answered / sent, %.
    pub asr_percent: f64,
    /// Failures by cause (status code, timeout, transport, …).
    pub failures: BTreeMap<String, u64>,
    /// Completed calls by who hung up.
    pub ended_by: BTreeMap<String, u64>,
    /// Our BYEs without a 2xx.
    pub bye_failed: u64,
    /// INVITEs challenged for credentials.
    pub challenged: u64,
    /// INVITE → 200, ms.
    pub setup_ms: Stat,
    /// INVITE → first 18x, ms.
    pub ringing_ms: Stat,
    /// Post-dial delay, ms.
    pub pdd_ms: Stat,
    /// Setup time histogram, ms.
    pub setup_histogram: Histogram,
}

/// One registration workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegSummary {
    /// Name.
    pub name: String,
    /// Digest algorithm answered.
    pub algorithm: String,
    /// Attempts.
    pub attempted: u64,
    /// Successes.
    pub ok: u64,
    /// Failures by cause.
    pub failures: BTreeMap<String, u64>,
    /// First REGISTER → 200, ms.
    pub latency_ms: Stat,
}

/// The simulated agents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentSummary {
    /// Agents registered at least once.
    pub registered: u64,
    /// Calls that reached an idle agent.
    pub offered: u64,
    /// INVITEs refused as busy.
    pub busy: u64,
    /// Calls answered.
    pub answered: u64,
    /// Ringing calls cancelled.
    pub cancelled: u64,
    /// Calls the agent hung up.
    pub agent_hung_up: u64,
    /// Calls the caller hung up.
    pub caller_hung_up: u64,
    /// Agents whose login call the node answered and ended.
    #[serde(default)]
    pub logged_in: u64,
    /// Login calls that failed.
    #[serde(default)]
    pub login_failed: u64,
    /// The agents' registrations.
    pub registrations: RegSummary,
}

/// Every RTP stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaSummary {
    /// Streams.
    pub streams: u64,
    /// Streams that received no audio.
    pub silent_streams: u64,
    /// Packets sent.
    pub packets_sent: u64,
    /// Audio packets received.
    pub packets_received: u64,
    /// Loss per stream, %.
    pub loss_percent: Stat,
    /// Mean jitter per stream, ms.
    pub jitter_ms: Stat,
    /// MOS per stream.
    pub mos: Stat,
    /// MOS histogram.
    pub mos_histogram: Histogram,
    /// Keys sent as RFC 4733 events.
    pub digits_sent: u64,
    /// Keys not sent (no telephone-event negotiated, no media).
    pub digits_unsent: u64,
    /// RFC 4733 packets received.
    pub events_received: u64,
    /// Mean lateness of our packets against their 20 ms grid, ms.
    pub send_lag_mean_ms: f64,
    /// Largest lateness, ms.
    pub send_lag_max_ms: f64,
    /// Packets sent more than 10 ms late.
    pub sent_over_10ms_late: u64,
    /// Packets the kernel refused (socket buffer full).
    pub send_dropped: u64,
    /// Received packets that matched no stream.
    pub unmatched_received: u64,
    /// Datagrams the kernel dropped on the generator's own RTP socket (its
    /// receive buffer was full): counted as loss by the streams, yet lost
    /// inside this machine, not by the node.
    pub socket_drops: u64,
}

/// The generator's SIP counters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SipSummary {
    /// Retransmissions (ours and answers to the peer's).
    pub retransmissions: u64,
    /// Transaction timeouts.
    pub timeouts: u64,
    /// Responses matching no transaction.
    pub stray_responses: u64,
    /// Largest delay of an arrival behind its schedule, ms.
    pub arrival_lag_max_ms: f64,
    /// Datagrams the kernel dropped on the generator's SIP socket.
    pub socket_drops: u64,
}

/// CPU and memory of a process over the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcSummary {
    /// Process id (absent for the generator itself).
    pub pid: Option<u32>,
    /// Mean CPU, % of one core.
    pub cpu_mean_percent: f64,
    /// Highest one-second CPU, % of one core.
    pub cpu_max_percent: f64,
    /// Highest RSS, kB.
    pub rss_max_kb: u64,
    /// CPU seconds used during the run.
    pub cpu_seconds: f64,
}

/// One second of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since the start.
    pub t: u64,
    /// Call arrivals.
    pub attempts: u64,
    /// Arrivals blocked by the cap.
    pub blocked: u64,
    /// Calls answered.
    pub answered: u64,
    /// Calls failed.
    pub failed: u64,
    /// Answered calls that ended.
    pub completed: u64,
    /// Registrations that succeeded.
    pub regs_ok: u64,
    /// Registrations that failed.
    pub regs_failed: u64,
    /// Most calls in progress.
    pub concurrent: u64,
    /// Most RTP streams open.
    pub streams: u64,
    /// Node CPU, % of one core.
    pub node_cpu: Option<f64>,
    /// Node RSS, kB.
    pub node_rss_kb: Option<u64>,
    /// Generator CPU, % of one core.
    pub own_cpu: Option<f64>,
    /// Events received by the event-stream clients (all of them).
    #[serde(default)]
    pub events_delivered: u64,
}

/// One per-second process sample taken by the driver.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// Seconds since the start.
    pub t: u64,
    /// Generator CPU, %.
    pub own_cpu: Option<f64>,
    /// Generator RSS, kB.
    pub own_rss_kb: Option<u64>,
    /// Node CPU, %.
    pub node_cpu: Option<f64>,
    /// Node RSS, kB.
    pub node_rss_kb: Option<u64>,
}

/// What the driver hands over at the end of a run.
pub struct RunData<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// Target, as text.
    pub target: String,
    /// Start, ms since the Unix epoch.
    pub started_unix_ms: u64,
    /// Wall time, s.
    pub wall_s: f64,
    /// The engine's metrics.
    pub metrics: &'a Metrics,
    /// Whether the scenario has agents.
    pub has_agents: bool,
    /// The generator's own counters.
    pub sip: SipSummary,
    /// RTP send figures kept by the driver and engine.
    pub lag: crate::engine::SendLag,
    /// RTP packets the kernel refused.
    pub send_dropped: u64,
    /// RTP packets that matched no stream.
    pub unmatched: u64,
    /// Kernel drops on the RTP socket.
    pub rtp_socket_drops: u64,
    /// Process samples.
    pub samples: &'a [Sample],
    /// The node's pid.
    pub node_pid: Option<u32>,
}

impl RunResult {
    /// Summarises a finished run.
    pub fn build(d: &RunData<'_>) -> RunResult {
        let m = d.metrics;
        RunResult {
            scenario: d.scenario.to_owned(),
            target: d.target.clone(),
            started_unix_ms: d.started_unix_ms,
            wall_s: d.wall_s,
            calls: m.calls.iter().map(call_summary).collect(),
            registrations: m.registrations.iter().map(reg_summary).collect(),
            agents: d
                .has_agents
                .then(|| agent_summary(&m.agents, &m.agent_registrations)),
            media: media_summary(d),
            sip: d.sip.clone(),
            generator: proc_summary(d.samples, None, |s| (s.own_cpu, s.own_rss_kb)),
            node: d
                .node_pid
                .map(|pid| proc_summary(d.samples, Some(pid), |s| (s.node_cpu, s.node_rss_kb))),
            timeline: timeline(m, d.samples),
            supervisors: None,
        }
    }

    /// Adds the event-stream clients' summary, and their events per second
    /// to the timeline (extended when they listened past its end).
    pub fn attach_supervisors(&mut self, s: SupervisorSummary) {
        for (t, &n) in s.per_second.iter().enumerate() {
            match self.timeline.get_mut(t) {
                Some(p) => p.events_delivered = n,
                None => self.timeline.push(TimelinePoint {
                    t: t as u64,
                    events_delivered: n,
                    ..TimelinePoint::default()
                }),
            }
        }
        self.supervisors = Some(s);
    }
}

fn call_summary(c: &CallStats) -> CallSummary {
    let sent = c.attempted - c.blocked;
    let setup = Stat::of(&c.setup_ms);
    CallSummary {
        name: c.name.clone(),
        offered_rate: c.offered_rate,
        attempted: c.attempted,
        blocked_by_cap: c.blocked,
        sent,
        answered: c.answered,
        failed: c.failed(),
        completed: c.completed,
        abandoned: c.abandoned,
        asr_percent: if sent == 0 {
            0.0
        } else {
            100.0 * c.answered as f64 / sent as f64
        },
        failures: c.failures.clone(),
        ended_by: c.ended_by.clone(),
        bye_failed: c.bye_failed,
        challenged: c.challenged,
        setup_histogram: Histogram::of(&c.setup_ms, Histogram::latency_edges(setup.max)),
        setup_ms: setup,
        ringing_ms: Stat::of(&c.ringing_ms),
        pdd_ms: Stat::of(&c.pdd_ms),
    }
}

fn reg_summary(r: &RegStats) -> RegSummary {
    RegSummary {
        name: r.name.clone(),
        algorithm: r.algorithm.clone(),
        attempted: r.attempted,
        ok: r.ok,
        failures: r.failures.clone(),
        latency_ms: Stat::of(&r.latency_ms),
    }
}

fn agent_summary(a: &AgentCounters, regs: &RegStats) -> AgentSummary {
    AgentSummary {
        registered: a.registered,
        offered: a.offered,
        busy: a.busy,
        answered: a.answered,
        cancelled: a.cancelled,
        agent_hung_up: a.agent_hung_up,
        caller_hung_up: a.caller_hung_up,
        logged_in: a.logged_in,
        login_failed: a.login_failed,
        registrations: reg_summary(regs),
    }
}

fn media_summary(d: &RunData<'_>) -> MediaSummary {
    let m = &d.metrics.media;
    MediaSummary {
        streams: m.streams,
        silent_streams: m.silent,
        packets_sent: m.sent,
        packets_received: m.received,
        loss_percent: Stat::of(&m.loss_percent),
        jitter_ms: Stat::of(&m.jitter_ms),
        mos: Stat::of(&m.mos),
        mos_histogram: Histogram::of(&m.mos, Histogram::mos_edges()),
        digits_sent: m.digits_sent,
        digits_unsent: m.digits_unsent,
        events_received: m.events_received,
        send_lag_mean_ms: if d.lag.packets == 0 {
            0.0
        } else {
            d.lag.total_us as f64 / d.lag.packets as f64 / 1000.0
        },
        send_lag_max_ms: d.lag.max_us as f64 / 1000.0,
        sent_over_10ms_late: d.lag.over_10ms,
        send_dropped: d.send_dropped,
        unmatched_received: d.unmatched,
        socket_drops: d.rtp_socket_drops,
    }
}

fn proc_summary(
    samples: &[Sample],
    pid: Option<u32>,
    pick: impl Fn(&Sample) -> (Option<f64>, Option<u64>),
) -> ProcSummary {
    let cpu: Vec<f64> = samples.iter().filter_map(|s| pick(s).0).collect();
    let rss_max_kb = samples.iter().filter_map(|s| pick(s).1).max().unwrap_or(0);
    let sum: f64 = cpu.iter().sum();
    ProcSummary {
        pid,
        cpu_mean_percent: if cpu.is_empty() {
            0.0
        } else {
            sum / cpu.len() as f64
        },
        cpu_max_percent: cpu.iter().copied().fold(0.0, f64::max),
        rss_max_kb,
        cpu_seconds: sum / 100.0,
    }
}

fn timeline(m: &Metrics, samples: &[Sample]) -> Vec<TimelinePoint> {
    let by_t: BTreeMap<u64, &Sample> = samples.iter().map(|s| (s.t, s)).collect();
    let len = m
        .seconds
        .len()
        .max(samples.last().map_or(0, |s| s.t as usize + 1));
    let mut concurrent = 0;
    let mut streams = 0;
    (0..len)
        .map(|t| {
            let s = m.seconds.get(t).copied().unwrap_or_default();
            // A second in which the gauges were not read keeps the level
            // of the one before.
            if s.gauged {
                concurrent = s.max_concurrent;
                streams = s.max_streams;
            }
            let sample = by_t.get(&(t as u64));
            TimelinePoint {
                t: t as u64,
                attempts: s.attempts,
                blocked: s.blocked,
                answered: s.answered,
                failed: s.failed,
                completed: s.completed,
                regs_ok: s.regs_ok,
                regs_failed: s.regs_failed,
                concurrent,
                streams,
                node_cpu: sample.and_then(|x| x.node_cpu),
                node_rss_kb: sample.and_then(|x| x.node_rss_kb),
                own_cpu: sample.and_then(|x| x.own_cpu),
                events_delivered: 0,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
