//! `GET /metrics`: call counters moved by published events, gauges read
//! from the node at scrape time, request latency and 5xx counts, and a body
//! `promtool check metrics` accepts (when promtool is installed; required
//! under `SWITCHYARD_REQUIRE_PEERS=1`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

use axum::http::{Method, StatusCode, header};
use serde_json::json;

use super::{Harness, T0};
use crate::api::{Event, EventKind, Role};

/// Scrapes without a token; the body as text.
async fn scrape(h: &Harness) -> String {
    let (status, body, headers) = h.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{headers:?}"
    );
    String::from_utf8(body).expect("the exposition is UTF-8")
}

/// The value of the sample `name` whose labels are exactly `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<&str, &str> = labels.iter().copied().collect();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(series, _)| {
            let (n, set) = series.split_once('{').unwrap_or((series, "}"));
            let got: BTreeMap<&str, &str> = set
                .trim_end_matches('}')
                .split(',')
                .filter(|p| !p.is_empty())
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k, v.trim_matches('"')))
                .collect();
            n == name && got == want
        })
        .and_then(|(_, v)| v.parse().ok())
}

fn ended(call: &str, disposition: &str, quality: serde_json::Value) -> Event {
    Event::new(EventKind::CallEnded, T0)
        .call(call)
        .queue("sales")
        .data(json!({"disposition": disposition, "cdr_id": call, "quality": quality}))
}

#[tokio::test]
async fn calls_queues_agents_and_requests_show_up_in_the_scrape() {
    let h = Harness::new().await;
    h.seed().await;
    let before = scrape(&h).await;
    assert_eq!(sample(&before, "switchyard_calls_started_total", &[]), None);
    assert_eq!(
        sample(&before, "switchyard_queue_waiting", &[("queue", "sales")]),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &before,
            "switchyard_queue_longest_wait_seconds",
            &[("queue", "support")]
        ),
        Some(40.0)
    );
    let on_call = [("presence", "ready"), ("activity", "on_call")];
    assert_eq!(sample(&before, "switchyard_agents", &on_call), Some(2.0));
    let idle = [("presence", "ready"), ("activity", "idle")];
    assert_eq!(sample(&before, "switchyard_agents", &idle), Some(0.0));
    let pending = [("state", "pending")];
    assert_eq!(
        sample(&before, "switchyard_webhook_deliveries", &pending),
        Some(0.0)
    );

    for call in ["c1", "c2", "c3"] {
        h.bus
            .publish(Event::new(EventKind::CallCreated, T0).call(call));
    }
    h.bus
        .publish(Event::new(EventKind::CallAnswered, T0).call("c1"));
    let good =
        json!({"caller": {"mos": 4.3, "loss_pct": 0.0}, "callee": {"mos": 3.1, "loss_pct": 12.0}});
    h.bus.publish(ended("c1", "answered", good));
    h.bus.publish(ended("c2", "busy", serde_json::Value::Null));
    h.bus
        .publish(ended("c3", "made-up", serde_json::Value::Null));
    let (status, _) = h
        .json(Role::Admin, Method::GET, "/api/v1/calls", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = h.call(Method::GET, "/api/v1/nowhere", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    h.live.with(|s| s.queues[0].waiting = 5);

    let after = scrape(&h).await;
    assert_eq!(
        sample(&after, "switchyard_calls_started_total", &[]),
        Some(3.0)
    );
    assert_eq!(
        sample(&after, "switchyard_calls_answered_total", &[]),
        Some(1.0)
    );
    for (outcome, n) in [("answered", 1.0), ("busy", 1.0), ("other", 1.0)] {
        let labels = [("outcome", outcome)];
        assert_eq!(
            sample(&after, "switchyard_calls_ended_total", &labels),
            Some(n),
            "{outcome}"
        );
    }
    assert_eq!(
        sample(&after, "switchyard_queue_waiting", &[("queue", "sales")]),
        Some(5.0)
    );
    let caller = [("party", "caller")];
    assert_eq!(
        sample(&after, "switchyard_call_mos_count", &caller),
        Some(1.0)
    );
    assert_eq!(
        sample(&after, "switchyard_call_mos_sum", &caller),
        Some(4.3)
    );
    let callee_loss = [("party", "callee"), ("le", "0.1")];
    assert_eq!(
        sample(
            &after,
            "switchyard_call_packet_loss_ratio_bucket",
            &callee_loss
        ),
        Some(0.0),
        "12 % is above the 10 % bucket"
    );
    let calls = [
        ("route", "/api/v1/calls"),
        ("method", "GET"),
        ("status", "200"),
    ];
    assert_eq!(
        sample(
            &after,
            "switchyard_api_request_duration_seconds_count",
            &calls
        ),
        Some(1.0)
    );
    let nowhere = [("route", "unmatched"), ("method", "GET"), ("status", "404")];
    assert_eq!(
        sample(
            &after,
            "switchyard_api_request_duration_seconds_count",
            &nowhere
        ),
        Some(1.0)
    );
    let created = [("type", "call.created")];
    assert_eq!(
        sample(&after, "switchyard_events_published_total", &created),
        Some(3.0)
    );
    assert!(!after.contains("+1555"), "no caller numbers in labels");
    promtool_accepts(&after);
}

#[tokio::test]
async fn conference_rooms_and_their_callers_are_gauged_without_room_names() {
    use crate::api::{ConferenceParticipant, ConferenceSummary};
    let h = Harness::new().await;
    let caller = |n: u32, muted: bool, talking: bool| ConferenceParticipant {
        call_id: format!("c-{n}"),
        caller: format!("100{n}"),
        joined_at: T0,
        muted,
        talking,
    };
    h.live.with(|s| {
        s.conferences = vec![
            ConferenceSummary {
                room: "huddle".to_owned(),
                participants: vec![caller(1, false, true), caller(2, true, false)],
            },
            ConferenceSummary {
                room: "team-4321".to_owned(),
                participants: vec![caller(3, false, false), caller(4, false, true)],
            },
        ];
    });
    let text = scrape(&h).await;
    assert_eq!(sample(&text, "switchyard_conference_rooms", &[]), Some(2.0));
    for (state, n) in [("talking", 2.0), ("muted", 1.0), ("listening", 1.0)] {
        assert_eq!(
            sample(
                &text,
                "switchyard_conference_participants",
                &[("state", state)]
            ),
            Some(n),
            "{state}"
        );
    }
    assert!(
        !text.contains("huddle") && !text.contains("4321"),
        "a room's name is no label"
    );
    h.live.with(|s| s.conferences.clear());
    let text = scrape(&h).await;
    assert_eq!(sample(&text, "switchyard_conference_rooms", &[]), Some(0.0));
    let talking = [("state", "talking")];
    assert_eq!(
        sample(&text, "switchyard_conference_participants", &talking),
        Some(0.0)
    );
}

#[tokio::test]
async fn server_errors_are_counted_by_route() {
    let h = Harness::new().await;
    // With the database gone, authenticating the token fails inside the node.
    h.store.close().await;
    let (status, _) = h
        .json(Role::Admin, Method::GET, "/api/v1/users", None)
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let text = scrape(&h).await;
    let labels = [("route", "/api/v1/users"), ("status", "500")];
    assert_eq!(
        sample(&text, "switchyard_api_errors_total", &labels),
        Some(1.0)
    );
    promtool_accepts(&text);
}

/// Runs `promtool check metrics` on `text`; skips loudly without promtool
/// unless peers are required.
fn promtool_accepts(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let required = std::env::var("SWITCHYARD_REQUIRE_PEERS").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "promtool is not installed and SWITCHYARD_REQUIRE_PEERS=1"
            );
            let _ = std::io::stderr().write_all(
                b"\nSKIPPED: promtool is not on PATH (Debian package prometheus); the exposition was not linted\n",
            );
            return;
        }
        Err(e) => panic!("promtool did not start: {e}"),
    };
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(text.as_bytes())
        .expect("promtool reads its input");
    let out = child.wait_with_output().expect("promtool ran");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
