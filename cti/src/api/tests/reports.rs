//! Historical reports: queue and agent figures per interval from stored call
//! records, by the definitions of `handlers/reports.rs`, and each role's scope.

use axum::http::{Method, StatusCode};

use super::*;

const HOUR: i64 = 3_600_000;

/// One stored call: started `at` ms after T0 in `queue`, waited `wait` s, answered
/// by `agent` after that, talked `talk` s; `outcome` its IVR outcome.
struct Call {
    at: i64,
    queue: Option<&'static str>,
    agent: Option<&'static str>,
    wait_s: Option<i64>,
    talk_s: i64,
    cause: &'static str,
    outcome: Option<&'static str>,
}

async fn store(h: &Harness, calls: &[Call]) {
    let writer = CdrWriter::spawn(h.store.clone(), 16);
    for (i, c) in calls.iter().enumerate() {
        let start = T0 + c.at;
        let mut cdr = Cdr::begin(&format!("call-{i}"), "+15550100", "500", start);
        cdr.id = format!("cdr-{i}");
        let answered = c
            .agent
            .map(|_| start + 5_000 + c.wait_s.unwrap_or(0) * 1000);
        let end = answered.map_or(start + 40_000, |a| a + c.talk_s * 1000);
        cdr.answered_at = Some(start + 1_000);
        cdr.finish(Disposition::Answered, c.cause, Some(200), end);
        cdr.caller_quality = Some(crate::store::PartyQuality {
            mos: 4.0,
            loss_pct: 0.0,
            jitter_ms: 1.0,
            rtt_ms: None,
        });
        cdr.routing = Routing {
            queue: c.queue.map(str::to_owned),
            agent: c.agent.map(str::to_owned),
            queue_wait_ms: c.wait_s.map(|s| s * 1000),
            agent_answered_at: answered,
            ivr_outcome: c.outcome.map(str::to_owned),
            ..Routing::default()
        };
        writer.write(cdr).await.expect("CDR committed");
    }
}

fn call(at: i64, queue: &'static str) -> Call {
    Call {
        at,
        queue: Some(queue),
        agent: None,
        wait_s: None,
        talk_s: 0,
        cause: "caller_bye",
        outcome: Some("queued"),
    }
}

async fn center(h: &Harness) {
    let answered = |at, queue, agent, wait_s, talk_s| Call {
        agent: Some(agent),
        wait_s: Some(wait_s),
        talk_s,
        ..call(at, queue)
    };
    store(
        h,
        &[
            answered(0, "sales", "1001", 10, 60),
            answered(60_000, "sales", "1002", 30, 120),
            call(120_000, "sales"),
            Call {
                cause: "callback",
                outcome: Some("callback requested"),
                ..call(180_000, "sales")
            },
            Call {
                outcome: Some("callback"),
                ..answered(HOUR + 1_000, "sales", "1001", 0, 30)
            },
            answered(HOUR + 2_000, "support", "1002", 5, 10),
            Call {
                queue: None,
                outcome: Some("outbound"),
                ..answered(HOUR + 3_000, "sales", "1001", 0, 20)
            },
        ],
    )
    .await;
}

fn period(interval: &str) -> String {
    format!("from={T0}&to={}&interval={interval}", T0 + 2 * HOUR)
}

#[tokio::test]
async fn queue_figures_per_hour_follow_the_definitions() {
    let h = Harness::new().await;
    center(&h).await;
    let uri = format!("/api/v1/reports/queues?{}", period("hour"));
    let (status, report) = h.json(Role::Admin, Method::GET, &uri, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["interval_ms"], HOUR);
    let rows = report["rows"].as_array().expect("rows");
    let row = |queue: &str, start: i64| {
        rows.iter()
            .find(|r| r["queue"] == queue && r["start"] == start)
            .unwrap_or_else(|| panic!("no row {queue} at {start}: {report}"))
    };
    let sales = row("sales", T0);
    for (field, value) in [
        ("offered", 4.0),
        ("answered", 2.0),
        ("abandoned", 1.0),
        ("callbacks_requested", 1.0),
        ("callbacks_placed", 0.0),
        ("answered_within_sl", 1.0),
        ("service_level", 0.25),
        ("avg_wait_ms", 20_000.0),
        ("max_wait_ms", 30_000.0),
        ("avg_talk_ms", 90_000.0),
        ("avg_caller_mos", 4.0),
    ] {
        assert_eq!(sales[field].as_f64(), Some(value), "sales {field}: {sales}");
    }
    let later = row("sales", T0 + HOUR);
    assert_eq!(
        (
            &later["offered"],
            &later["callbacks_placed"],
            &later["callbacks_answered"],
            &later["service_level"]
        ),
        (
            &serde_json::json!(0),
            &serde_json::json!(1),
            &serde_json::json!(1),
            &serde_json::Value::Null
        ),
        "{later}"
    );
    assert_eq!(row("support", T0 + HOUR)["answered"], 1);
    assert_eq!(rows.len(), 3, "{report}");
}

#[tokio::test]
async fn agent_figures_and_each_role_s_scope() {
    let h = Harness::new().await;
    center(&h).await;
    let uri = format!("/api/v1/reports/agents?{}", period("hour"));
    let (status, report) = h.json(Role::Admin, Method::GET, &uri, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows = report["rows"].as_array().expect("rows");
    let first = rows
        .iter()
        .find(|r| r["agent"] == "1001" && r["start"] == T0 + HOUR)
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        (
            &first["handled"],
            &first["talk_ms"],
            &first["outbound"],
            &first["callbacks"]
        ),
        (
            &serde_json::json!(2),
            &serde_json::json!(50_000),
            &serde_json::json!(1),
            &serde_json::json!(1)
        ),
        "{first}"
    );
    // An agent sees their own row only, and no queue report.
    let (_, own) = h.json(Role::Agent, Method::GET, &uri, None).await;
    let agents: Vec<_> = own["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["agent"].clone())
        .collect();
    assert!(
        !agents.is_empty() && agents.iter().all(|a| a == "1001"),
        "{own}"
    );
    let queues = format!("/api/v1/reports/queues?{}", period("day"));
    let (status, _) = h.json(Role::Agent, Method::GET, &queues, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A supervisor of sales sees sales only; one interval for the whole period.
    let (_, theirs) = h.json(Role::Supervisor, Method::GET, &queues, None).await;
    let seen: Vec<_> = theirs["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["queue"].clone())
        .collect();
    assert_eq!(seen, [serde_json::json!("sales")], "{theirs}");
    let whole = format!("/api/v1/reports/queues?from={T0}&to={}", T0 + 2 * HOUR);
    let (_, all) = h
        .json(Role::QualityAnalyst, Method::GET, &whole, None)
        .await;
    assert_eq!(all["interval_ms"], 2 * HOUR);
    assert_eq!(all["rows"].as_array().map(Vec::len), Some(2), "{all}");
}

#[tokio::test]
async fn periods_and_intervals_are_checked() {
    let h = Harness::new().await;
    for query in [
        format!("from={T0}&to={T0}"),
        format!("from={}&to={T0}", T0 + 1),
        format!("from={T0}&to={}", T0 + 93 * 24 * HOUR),
        format!("from={T0}&to={}&interval=week", T0 + HOUR),
        format!("from={T0}&to={}&interval=15m&x=1", T0 + HOUR),
        "from=abc&to=1".to_owned(),
        format!("to={T0}"),
    ] {
        let uri = format!("/api/v1/reports/queues?{query}");
        let (status, reply) = h.json(Role::Admin, Method::GET, &uri, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {reply}");
    }
}
