//! The HTML report: one self-contained page (inline CSS and SVG, no
//! scripts) with the summary tables and the charts of a [`RunResult`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::svg::{Series, bar_chart, esc, line_chart};
use super::{CallSummary, Histogram, RegSummary, RunResult, Stat};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:980px}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
svg{display:block;margin:.8em 0}.title{font:600 13px sans-serif}.tick{font:10px sans-serif;fill:#555}\
.axis{font:11px sans-serif;fill:#333}.legend{font:11px sans-serif}.note{color:#666;font-size:.9em}";

/// Renders the report page.
pub fn render(r: &RunResult) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>switchyard-load: {n}</title>\
         <style>{STYLE}</style></head><body><h1>switchyard-load: {n}</h1>\
         <p>Target <b>{t}</b>, {w:.1} s of wall time.</p>",
        n = esc(&r.scenario),
        t = esc(&r.target),
        w = r.wall_s
    );
    calls_section(&mut h, r);
    registrations_section(&mut h, r);
    media_section(&mut h, r);
    supervisors_section(&mut h, r);
    process_section(&mut h, r);
    h.push_str("</body></html>\n");
    h
}

fn stat_row(h: &mut String, name: &str, s: &Stat, unit: &str) {
    let _ = write!(
        h,
        "<tr><td>{} ({unit})</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
        esc(name),
        s.count,
        s.mean,
        s.p50,
        s.p90,
        s.p95,
        s.p99,
        s.max
    );
}

const STAT_HEAD: &str = "<tr><th>figure</th><th>n</th><th>mean</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr>";

fn causes(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".to_owned();
    }
    map.iter()
        .map(|(k, v)| format!("{}: {v}", esc(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn calls_section(h: &mut String, r: &RunResult) {
    if r.calls.is_empty() {
        return;
    }
    h.push_str("<h2>Calls</h2><table><tr><th>workload</th><th>offered/s</th><th>attempted</th><th>blocked by cap</th>\
        <th>sent</th><th>answered</th><th>failed</th><th>completed</th><th>abandoned</th><th>ASR %</th></tr>");
    for c in &r.calls {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
            esc(&c.name),
            c.offered_rate,
            c.attempted,
            c.blocked_by_cap,
            c.sent,
            c.answered,
            c.failed,
            c.completed,
            c.abandoned,
            c.asr_percent
        );
    }
    h.push_str("</table>");
    for c in &r.calls {
        call_detail(h, c);
    }
    rate_charts(h, r);
}

fn call_detail(h: &mut String, c: &CallSummary) {
    let _ = write!(
        h,
        "<p><b>{}</b>: failures by cause: {}; hung up by: {}; challenged INVITEs: {}; BYEs without 2xx: {}.</p>",
        esc(&c.name),
        causes(&c.failures),
        causes(&c.ended_by),
        c.challenged,
        c.bye_failed
    );
    let _ = write!(h, "<table>{STAT_HEAD}");
    stat_row(h, "setup INVITE→200", &c.setup_ms, "ms");
    stat_row(h, "INVITE→first 18x", &c.ringing_ms, "ms");
    stat_row(h, "post-dial delay", &c.pdd_ms, "ms");
    h.push_str("</table>");
    h.push_str(&histogram_chart(
        &format!("{}: setup time (INVITE→200)", c.name),
        "ms (bin lower edge)",
        &c.setup_histogram,
        "#2a6fb0",
    ));
}

fn histogram_chart(title: &str, x_label: &str, hist: &Histogram, color: &str) -> String {
    let last = hist
        .counts
        .iter()
        .rposition(|&c| c > 0)
        .map_or(0, |i| i + 1);
    let labels: Vec<String> = hist.edges[..last].iter().map(|e| format!("{e}")).collect();
    bar_chart(title, x_label, &labels, &hist.counts[..last], color)
}

fn rate_charts(h: &mut String, r: &RunResult) {
    let pts = |f: &dyn Fn(&super::TimelinePoint) -> f64| {
        r.timeline
            .iter()
            .map(|p| (p.t as f64, f(p)))
            .collect::<Vec<_>>()
    };
    h.push_str(&line_chart(
        "Calls per second",
        "seconds since start",
        "calls/s",
        &[
            Series {
                name: "attempted",
                color: "#888",
                points: pts(&|p| p.attempts as f64),
            },
            Series {
                name: "answered",
                color: "#2a8f3a",
                points: pts(&|p| p.answered as f64),
            },
            Series {
                name: "failed",
                color: "#c0392b",
                points: pts(&|p| p.failed as f64),
            },
            Series {
                name: "blocked by cap",
                color: "#e67e22",
                points: pts(&|p| p.blocked as f64),
            },
        ],
    ));
    h.push_str(&line_chart(
        "Concurrency",
        "seconds since start",
        "in progress",
        &[
            Series {
                name: "calls",
                color: "#2a6fb0",
                points: pts(&|p| p.concurrent as f64),
            },
            Series {
                name: "RTP streams",
                color: "#8e44ad",
                points: pts(&|p| p.streams as f64),
            },
        ],
    ));
}

fn reg_row(h: &mut String, g: &RegSummary) {
    let _ = write!(
        h,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
        esc(&g.name),
        esc(&g.algorithm),
        g.attempted,
        g.ok,
        causes(&g.failures),
        g.latency_ms.p50,
        g.latency_ms.p99,
        g.latency_ms.max
    );
}

fn registrations_section(h: &mut String, r: &RunResult) {
    if r.registrations.is_empty() && r.agents.is_none() {
        return;
    }
    h.push_str("<h2>Registrations</h2><table><tr><th>workload</th><th>algorithm</th><th>attempted</th><th>ok</th>\
        <th>failures</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th></tr>");
    for g in &r.registrations {
        reg_row(h, g);
    }
    if let Some(a) = &r.agents {
        reg_row(h, &a.registrations);
    }
    h.push_str("</table>");
    if let Some(a) = &r.agents {
        let _ = write!(
            h,
            "<h2>Simulated agents</h2><p>{} registered; {} calls offered to idle agents, {} answered, {} refused as busy, \
             {} cancelled while ringing; {} hung up by the agent, {} by the caller; \
             {} logged in, {} login calls failed.</p>",
            a.registered,
            a.offered,
            a.answered,
            a.busy,
            a.cancelled,
            a.agent_hung_up,
            a.caller_hung_up,
            a.logged_in,
            a.login_failed
        );
    }
    if r.timeline.iter().any(|p| p.regs_ok + p.regs_failed > 0) {
        let pts = |f: &dyn Fn(&super::TimelinePoint) -> u64| {
            r.timeline
                .iter()
                .map(|p| (p.t as f64, f(p) as f64))
                .collect()
        };
        h.push_str(&line_chart(
            "Registrations per second",
            "seconds since start",
            "per second",
            &[
                Series {
                    name: "ok",
                    color: "#2a8f3a",
                    points: pts(&|p| p.regs_ok),
                },
                Series {
                    name: "failed",
                    color: "#c0392b",
                    points: pts(&|p| p.regs_failed),
                },
            ],
        ));
    }
}

fn media_section(h: &mut String, r: &RunResult) {
    let m = &r.media;
    if m.streams == 0 {
        return;
    }
    let _ = write!(
        h,
        "<h2>Media</h2><p>{} RTP streams ({} received nothing); {} packets sent, {} received; {} DTMF keys sent \
         ({} not sent), {} RFC 4733 packets received; {} received packets matched no stream.</p>\
         <p class=\"note\">Generator pacing: packets left on average {:.2} ms after their 20 ms slot, at worst {:.1} ms; \
         {} more than 10 ms late; {} refused by the kernel on sending, {} dropped by the kernel on receiving \
         (the generator's socket buffer was full: counted as loss, yet lost on this machine). Late sending shows \
         up as jitter at the far end and receive drops as loss: judge the node only when these are small.</p>\
         <table>{STAT_HEAD}",
        m.streams,
        m.silent_streams,
        m.packets_sent,
        m.packets_received,
        m.digits_sent,
        m.digits_unsent,
        m.events_received,
        m.unmatched_received,
        m.send_lag_mean_ms,
        m.send_lag_max_ms,
        m.sent_over_10ms_late,
        m.send_dropped,
        m.socket_drops
    );
    stat_row(h, "loss", &m.loss_percent, "%");
    stat_row(h, "jitter", &m.jitter_ms, "ms");
    stat_row(h, "MOS", &m.mos, "1-5");
    h.push_str("</table>");
    let labels: Vec<String> = m
        .mos_histogram
        .edges
        .iter()
        .map(|e| format!("{e:.1}"))
        .collect();
    h.push_str(&bar_chart(
        "MOS per stream (E-model)",
        "MOS",
        &labels,
        &m.mos_histogram.counts,
        "#16a085",
    ));
}

fn supervisors_section(h: &mut String, r: &RunResult) {
    let Some(s) = &r.supervisors else {
        return;
    };
    let published = s
        .published_in_range
        .map_or("unknown (no token sees every event)".to_owned(), |p| {
            p.to_string()
        });
    let _ = write!(
        h,
        "<h2>Supervisors on the event stream</h2>\
         <p>{} clients ({} connected; failures: {}; {} handshakes answered 429 and retried), \
         tokens of role {}. Events published while they listened: {published}; \
         {} distinct events received, {} deliveries in all ({:.0}/s over {:.1} s, busiest second {}), \
         {} per client on average; {} before the start (not compared).</p>\
         <p><b>Gaps: {}</b> (of which {} received by a peer with the same token), duplicates {}, \
         malformed messages {}; {} streams dropped, {} reconnected; <b>{} of {} clients complete</b>. \
         Events by type: {}.</p><table>{STAT_HEAD}",
        s.clients,
        s.connected,
        causes(&s.connect_failures),
        s.rate_limited,
        esc(&s.roles.join(", ")),
        s.distinct_events,
        s.events_received,
        s.delivered_per_s,
        s.window_s,
        s.peak_delivered_per_s,
        s.events_per_client.mean,
        s.events_before_start,
        s.gaps,
        s.missing_vs_peers,
        s.duplicates,
        s.malformed,
        s.disconnects,
        s.reconnects,
        s.complete_clients,
        s.clients,
        causes(&s.kinds)
    );
    stat_row(h, "delivery delay (arrival − at)", &s.delivery_ms, "ms");
    stat_row(h, "handshake", &s.connect_ms, "ms");
    stat_row(h, "events per client", &s.events_per_client, "events");
    h.push_str("</table>");
    h.push_str(&histogram_chart(
        "Event delivery delay",
        "ms (bin lower edge)",
        &s.delivery_histogram,
        "#d35400",
    ));
    h.push_str(&line_chart(
        "Events delivered per second (all clients)",
        "seconds since start",
        "events/s",
        &[Series {
            name: "delivered",
            color: "#d35400",
            points: r
                .timeline
                .iter()
                .map(|p| (p.t as f64, p.events_delivered as f64))
                .collect(),
        }],
    ));
    incomplete_clients(h, s);
}

/// Clients with a gap, a duplicate or no connection; at most 50 rows.
fn incomplete_clients(h: &mut String, s: &crate::supervisor::SupervisorSummary) {
    let bad: Vec<_> = s
        .per_client
        .iter()
        .filter(|c| !c.connected || c.gaps > 0 || c.duplicates > 0)
        .collect();
    if bad.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<p>{} clients incomplete (first 50):</p><table><tr><th>client</th><th>token</th><th>connected</th>\
         <th>events</th><th>gaps</th><th>missing vs peers</th><th>duplicates</th><th>reconnects</th></tr>",
        bad.len()
    );
    for c in bad.iter().take(50) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.client,
            c.token,
            c.connected,
            c.events,
            c.gaps,
            c.missing_vs_peers,
            c.duplicates,
            c.reconnects
        );
    }
    h.push_str("</table>");
}

fn process_section(h: &mut String, r: &RunResult) {
    h.push_str(
        "<h2>Processes</h2><table><tr><th>process</th><th>CPU mean %</th><th>CPU max %</th>\
        <th>CPU s</th><th>max RSS MB</th></tr>",
    );
    let mut row = |name: String, p: &super::ProcSummary| {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
            esc(&name),
            p.cpu_mean_percent,
            p.cpu_max_percent,
            p.cpu_seconds,
            p.rss_max_kb as f64 / 1024.0
        );
    };
    row("switchyard-load".to_owned(), &r.generator);
    if let Some(n) = &r.node {
        row(format!("node (pid {})", n.pid.unwrap_or(0)), n);
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<p class=\"note\">SIP: {} retransmissions, {} transaction timeouts, {} stray responses, {} datagrams \
         dropped by the kernel on the generator's socket; arrivals ran at most {:.1} ms behind schedule.</p>",
        r.sip.retransmissions,
        r.sip.timeouts,
        r.sip.stray_responses,
        r.sip.socket_drops,
        r.sip.arrival_lag_max_ms
    );
    let series = |f: &dyn Fn(&super::TimelinePoint) -> Option<f64>| {
        r.timeline
            .iter()
            .filter_map(|p| Some((p.t as f64, f(p)?)))
            .collect::<Vec<_>>()
    };
    let mut cpu = vec![Series {
        name: "switchyard-load",
        color: "#2a6fb0",
        points: series(&|p| p.own_cpu),
    }];
    if r.node.is_some() {
        cpu.push(Series {
            name: "node",
            color: "#c0392b",
            points: series(&|p| p.node_cpu),
        });
        h.push_str(&line_chart(
            "CPU",
            "seconds since start",
            "% of one core",
            &cpu,
        ));
        h.push_str(&line_chart(
            "Node memory",
            "seconds since start",
            "RSS MB",
            &[Series {
                name: "node RSS",
                color: "#8e44ad",
                points: series(&|p| p.node_rss_kb.map(|k| k as f64 / 1024.0)),
            }],
        ));
    } else {
        h.push_str(&line_chart(
            "CPU",
            "seconds since start",
            "% of one core",
            &cpu,
        ));
    }
}
