//! The figures of one step, and the table and comparison printed from all of them.

use crate::generator::Counts;
use crate::target::Kind;

/// The share of the nominal packet rate a passing step relays over its window.
pub(crate) const REAL_TIME_SHARE: f64 = 0.95;

/// One step's figures for one target.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) target: Kind,
    pub(crate) calls: usize,
    pub(crate) attempt: usize,
    /// Packets received back per second over the steady-state window.
    pub(crate) pps_relayed: f64,
    /// Packets lost over the whole step, both directions, all calls.
    pub(crate) loss_pct: f64,
    /// The loss of the call that lost most.
    pub(crate) worst_call_loss_pct: f64,
    /// The target's CPU time over the window, as a share of one core.
    pub(crate) target_cpu_pct: Option<f64>,
    /// The target's CPU time per relayed packet.
    pub(crate) us_per_packet: Option<f64>,
    /// The generator's own CPU over the window, as a share of one core.
    pub(crate) generator_cpu_pct: Option<f64>,
    /// The whole machine's busy share (all cores, others' work included).
    pub(crate) machine_busy_pct: Option<f64>,
    /// The share of it spent in soft interrupts (loopback delivery, mostly).
    pub(crate) softirq_pct: Option<f64>,
    /// Datagrams dropped at the target's sockets (full receive queues).
    pub(crate) target_drops: u64,
    /// Datagrams dropped at the generator's sockets.
    pub(crate) generator_drops: u64,
    /// Receive-buffer drops machine-wide during the step (any process's sockets).
    pub(crate) kernel_rcvbuf_drops: Option<u64>,
    /// Packets the relay itself counted as dropped, where it says.
    pub(crate) relay_drops: Option<u64>,
    /// ng offer + answer time per call during set-up.
    pub(crate) setup_ms_per_call: f64,
    pub(crate) sent: u64,
    pub(crate) received: u64,
    pub(crate) send_errors: u64,
    pub(crate) foreign: u64,
    pub(crate) max_lag_ms: f64,
}

impl Row {
    /// The loss figures from a finished load; the window figures are filled in later.
    pub(crate) fn from_counts(target: Kind, calls: usize, counts: &Counts) -> Self {
        let sent: u64 = counts.sent.iter().map(|&n| u64::from(n)).sum();
        let received: u64 = counts.received.iter().map(|&n| u64::from(n)).sum();
        let loss = |sent: u64, received: u64| {
            if sent == 0 {
                0.0
            } else {
                sent.saturating_sub(received) as f64 * 100.0 / sent as f64
            }
        };
        let per_call = counts.sent.chunks(2).zip(counts.received.chunks(2));
        let worst = per_call
            .map(|(s, r)| {
                let sum = |x: &[u32]| x.iter().map(|&n| u64::from(n)).sum::<u64>();
                loss(sum(s), sum(r))
            })
            .fold(0.0, f64::max);
        Self {
            target,
            calls,
            attempt: 1,
            pps_relayed: 0.0,
            loss_pct: loss(sent, received),
            worst_call_loss_pct: worst,
            target_cpu_pct: None,
            us_per_packet: None,
            generator_cpu_pct: None,
            machine_busy_pct: None,
            softirq_pct: None,
            target_drops: 0,
            generator_drops: 0,
            relay_drops: None,
            kernel_rcvbuf_drops: None,
            setup_ms_per_call: 0.0,
            sent,
            received,
            send_errors: counts.send_errors,
            foreign: counts.foreign,
            max_lag_ms: counts.max_lag.as_secs_f64() * 1e3,
        }
    }

    /// Whether the relay carried the step: less than `max_loss` percent of the packets
    /// lost, and over the window at least [`REAL_TIME_SHARE`] of the nominal rate (100
    /// packets a second per call) relayed, so that a relay working off a backlog, or a
    /// generator that could not offer the load, does not pass.
    pub(crate) fn passes(&self, max_loss: f64) -> bool {
        self.loss_pct < max_loss && self.pps_relayed >= REAL_TIME_SHARE * self.nominal_pps()
    }

    /// Packets a second the calls send, both directions together.
    pub(crate) fn nominal_pps(&self) -> f64 {
        self.calls as f64 * 100.0
    }

    /// Target CPU as a share of one core per 100 calls at their nominal 10,000 packets a
    /// second (100 per call, both ways): the measured cost per packet scaled, so that a
    /// window the generator fell behind in does not flatter the figure. Numerically the
    /// same as µs per packet.
    pub(crate) fn cpu_per_100_calls(&self) -> Option<f64> {
        const PACKETS_PER_SECOND: f64 = 100.0 * 100.0;
        self.us_per_packet
            .map(|us| us * PACKETS_PER_SECOND / 1e6 * 100.0)
    }
}

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

/// Prints one row as it is measured, as a `RESULT` line of `key=value` fields.
pub(crate) fn print_row(row: &Row, max_loss: f64) {
    let count = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    let fields = [
        ("target", row.target.name().to_owned()),
        ("calls", row.calls.to_string()),
        ("attempt", row.attempt.to_string()),
        (
            "pass",
            if row.passes(max_loss) { "yes" } else { "no" }.to_owned(),
        ),
        ("pps_relayed", format!("{:.0}", row.pps_relayed)),
        ("loss_pct", format!("{:.4}", row.loss_pct)),
        (
            "worst_call_loss_pct",
            format!("{:.3}", row.worst_call_loss_pct),
        ),
        ("target_cpu_pct", opt(row.target_cpu_pct, 1)),
        ("cpu_per_100_calls_pct", opt(row.cpu_per_100_calls(), 2)),
        ("us_per_packet", opt(row.us_per_packet, 2)),
        ("generator_cpu_pct", opt(row.generator_cpu_pct, 1)),
        ("machine_busy_pct", opt(row.machine_busy_pct, 1)),
        ("softirq_pct", opt(row.softirq_pct, 1)),
        ("target_drops", row.target_drops.to_string()),
        ("generator_drops", row.generator_drops.to_string()),
        ("relay_drops", count(row.relay_drops)),
        ("kernel_rcvbuf_drops", count(row.kernel_rcvbuf_drops)),
        ("sent", row.sent.to_string()),
        ("received", row.received.to_string()),
        ("send_errors", row.send_errors.to_string()),
        ("foreign", row.foreign.to_string()),
        ("max_lag_ms", format!("{:.1}", row.max_lag_ms)),
        ("setup_ms_per_call", format!("{:.3}", row.setup_ms_per_call)),
    ];
    let line: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("RESULT {}", line.join(" "));
}

/// The table of every row, the CPU ratio per call count, and each target's best step.
pub(crate) fn print_table(rows: &[Row], max_loss: f64) {
    println!();
    println!(
        "| target | calls | try | pass | relayed pps (% of nominal) | loss % (worst call) \
         | target CPU, % of a core | CPU per 100 calls | µs/packet | generator CPU (max lag) \
         | machine busy (softirq) | drops: target/generator sockets |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {:.0} ({:.0} %) | {:.3} ({:.2}) | {} | {} % | {} | {} % ({:.0} ms) | {} % ({}) | {}/{} |",
            row.target.name(),
            row.calls,
            row.attempt,
            if row.passes(max_loss) { "yes" } else { "no" },
            row.pps_relayed,
            row.pps_relayed * 100.0 / row.nominal_pps().max(1.0),
            row.loss_pct,
            row.worst_call_loss_pct,
            opt(row.target_cpu_pct, 1),
            opt(row.cpu_per_100_calls(), 2),
            opt(row.us_per_packet, 2),
            opt(row.generator_cpu_pct, 0),
            row.max_lag_ms,
            opt(row.machine_busy_pct, 0),
            opt(row.softirq_pct, 0),
            row.target_drops,
            row.generator_drops,
        );
    }
    print_ratios(rows, max_loss);
    for kind in [Kind::Switchyard, Kind::Rtpengine] {
        let best = rows
            .iter()
            .filter(|r| r.target == kind && r.passes(max_loss))
            .map(|r| r.calls)
            .max();
        if rows.iter().any(|r| r.target == kind) {
            let best = best.map_or_else(|| "none".to_owned(), |c| c.to_string());
            println!(
                "MAX target={} calls={best} (loss < {max_loss} %, >= {:.0} % of the nominal rate relayed)",
                kind.name(),
                REAL_TIME_SHARE * 100.0
            );
        }
    }
}

/// Switchyard's CPU per call over rtpengine's, at each call count: between the medians of
/// each target's passing rows there (several with `RTP_BENCH_ROUNDS`), or, when a target
/// passed none, its row with the least loss.
fn print_ratios(rows: &[Row], max_loss: f64) {
    let mut counts: Vec<usize> = rows.iter().map(|r| r.calls).collect();
    counts.sort_unstable();
    counts.dedup();
    for calls in counts {
        let typical = |kind| {
            let at = || {
                rows.iter()
                    .filter(move |r| r.target == kind && r.calls == calls)
            };
            let mut passing: Vec<f64> = at()
                .filter(|r| r.passes(max_loss))
                .filter_map(Row::cpu_per_100_calls)
                .collect();
            if passing.is_empty() {
                return at()
                    .min_by(|a, b| a.loss_pct.total_cmp(&b.loss_pct))
                    .and_then(Row::cpu_per_100_calls)
                    .map(|cpu| (cpu, 1));
            }
            passing.sort_by(f64::total_cmp);
            let n = passing.len();
            let median = if n % 2 == 1 {
                passing[n / 2]
            } else {
                (passing[n / 2 - 1] + passing[n / 2]) / 2.0
            };
            Some((median, n))
        };
        if let (Some((ours, n)), Some((theirs, m))) =
            (typical(Kind::Switchyard), typical(Kind::Rtpengine))
        {
            println!(
                "RATIO calls={calls} switchyard/rtpengine CPU per call = {:.2} ({ours:.2} vs {theirs:.2} % of a core per 100 calls; medians of {n} and {m})",
                ours / theirs
            );
        }
    }
}
