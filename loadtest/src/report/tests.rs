//! Building the result from metrics, its JSON form and the HTML page.

use std::time::{Duration, Instant};

use super::*;
use crate::engine::{CallRecord, EndedBy, Failure, SendLag, StreamReport};
use crate::metrics::{CallStats, Metrics};

fn metrics() -> Metrics {
    let t0 = Instant::now();
    let calls = vec![CallStats {
        name: "inbound".into(),
        offered_rate: 10.0,
        ..CallStats::default()
    }];
    let mut m = Metrics::new(t0, calls, Vec::new());
    let ms = |n| t0 + Duration::from_millis(n);
    for i in 0..10u64 {
        let blocked = i == 9;
        m.arrival(ms(100 * i), ms(100 * i), 0, blocked);
        if blocked {
            continue;
        }
        let answered = i < 6;
        let rec = CallRecord {
            workload: 0,
            invite_at: ms(100 * i),
            ringing_at: Some(ms(100 * i + 2)),
            final_at: Some(ms(100 * i + 20 + i)),
            answered,
            failure: (!answered).then_some(Failure::Status(486)),
            ended_by: answered.then_some(EndedBy::Caller),
            bye_failed: false,
            challenged: true,
            ended_at: ms(1500 + 100 * i),
        };
        if answered {
            m.call_answered(ms(100 * i + 20));
        }
        m.gauge(ms(100 * i), i + 1, 2 * (i + 1));
        m.call_ended(&rec);
    }
    m.stream(&StreamReport {
        sent: 100,
        received: 98,
        loss_percent: Some(2.0),
        jitter_ms: Some(1.5),
        mos: Some(4.1),
        events_received: 7,
    });
    m
}

fn result(m: &Metrics) -> RunResult {
    RunResult::build(&RunData {
        scenario: "unit <test>",
        target: "127.0.0.1:5060".into(),
        started_unix_ms: 1,
        wall_s: 3.0,
        metrics: m,
        has_agents: false,
        sip: SipSummary {
            retransmissions: 1,
            timeouts: 0,
            stray_responses: 0,
            arrival_lag_max_ms: 0.0,
            socket_drops: 0,
        },
        lag: SendLag {
            packets: 100,
            total_us: 50_000,
            max_us: 3_000,
            over_10ms: 0,
        },
        send_dropped: 0,
        unmatched: 0,
        rtp_socket_drops: 0,
        samples: &[
            Sample {
                t: 1,
                own_cpu: Some(10.0),
                own_rss_kb: Some(5000),
                node_cpu: Some(40.0),
                node_rss_kb: Some(20_000),
            },
            Sample {
                t: 2,
                own_cpu: Some(20.0),
                own_rss_kb: Some(6000),
                node_cpu: Some(60.0),
                node_rss_kb: Some(30_000),
            },
        ],
        node_pid: Some(42),
    })
}

#[test]
fn summary_counts_asr_and_latencies() {
    let r = result(&metrics());
    let c = &r.calls[0];
    assert_eq!(
        (
            c.attempted,
            c.blocked_by_cap,
            c.sent,
            c.answered,
            c.failed,
            c.completed
        ),
        (10, 1, 9, 6, 3, 6)
    );
    assert!((c.asr_percent - 100.0 * 6.0 / 9.0).abs() < 1e-9);
    assert_eq!(c.failures.get("486"), Some(&3));
    assert_eq!(c.setup_ms.count, 6);
    assert_eq!((c.setup_ms.min, c.setup_ms.max), (20.0, 25.0));
    assert_eq!(c.pdd_ms.count, 9);
    assert_eq!(c.pdd_ms.max, 2.0);
    assert_eq!(c.setup_histogram.counts.iter().sum::<u64>(), 6);
    assert_eq!(r.media.send_lag_mean_ms, 0.5);
    assert_eq!(r.media.mos.mean, 4.1);
    let node = r.node.as_ref().unwrap();
    assert_eq!(
        (
            node.pid,
            node.cpu_mean_percent,
            node.cpu_max_percent,
            node.rss_max_kb
        ),
        (Some(42), 50.0, 60.0, 30_000)
    );
    assert_eq!(r.generator.rss_max_kb, 6000);
    // Timeline: second 0 had every arrival; the gauge peaked at 9 calls.
    assert_eq!(r.timeline[0].attempts, 10);
    assert_eq!(r.timeline[0].concurrent, 9);
    assert_eq!(r.timeline[1].completed, 5);
    assert_eq!((r.timeline[2].completed, r.timeline[2].failed), (1, 3));
    assert_eq!(r.timeline[2].node_cpu, Some(60.0));
}

#[test]
fn json_round_trips_and_html_is_self_contained() {
    let r = result(&metrics());
    let json = serde_json::to_string(&r).unwrap();
    let back: RunResult = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let page = html::render(&r);
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    assert!(!page.contains("<script"), "no scripts");
    assert!(
        !page.contains("http://")
            || page.matches("http://").count()
                == page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );
    assert!(page.contains("unit &lt;test&gt;"), "the name is escaped");
    // Setup histogram, calls per second, concurrency, MOS, CPU and node memory.
    assert_eq!(page.matches("<svg").count(), 6, "{page}");
    assert!(page.contains("Calls per second") && page.contains("MOS per stream"));
    assert!(page.contains("486: 3"));
}

#[test]
fn supervisors_join_the_timeline_json_and_page() {
    use crate::supervisor::tally::{Arrival, ClientTally};
    use crate::supervisor::{ClientRecord, summary};
    let mut r = result(&metrics());
    assert!(!serde_json::to_string(&r).unwrap().contains("supervisors"));
    let mut tally = ClientTally::default();
    for (seq, second) in [(1, 0), (2, 0), (4, 5)] {
        let text = format!(r#"{{"seq":{seq},"type":"call.ended","at":100}}"#);
        tally.handle_message(
            &text,
            Arrival {
                unix_ms: 103.0,
                second: Some(second),
            },
        );
    }
    let record = ClientRecord {
        sees_all: true,
        connect_ms: Some(2.0),
        tally,
        ..ClientRecord::default()
    };
    let timeline_len = r.timeline.len();
    r.attach_supervisors(summary::summarise(&[record], vec!["admin".into()]));
    assert_eq!(
        r.timeline.len(),
        6.max(timeline_len),
        "extended to second 5"
    );
    assert_eq!(r.timeline[0].events_delivered, 2);
    assert_eq!(r.timeline[5].events_delivered, 1);
    let back: RunResult = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
    let page = html::render(&r);
    assert!(page.contains("Supervisors on the event stream"), "{page}");
    assert!(page.contains("<b>Gaps: 1</b>"), "seq 3 is missing: {page}");
    assert!(page.contains("1 clients incomplete"));
    assert_eq!(
        page.matches("<svg").count(),
        8,
        "delay histogram and events/s"
    );
}
