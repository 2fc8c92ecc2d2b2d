//! `GET /api/v1/alerts`: the alerts raised on the bus and not cleared, by role.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::*;

fn alert(queue: &str, severity: &str, condition: &str) -> Event {
    Event::new(EventKind::Alert, T0)
        .queue(queue)
        .data(json!({ "severity": severity, "condition": condition, "reason": queue }))
}

async fn keys(h: &Harness, role: Role) -> Vec<String> {
    let (status, list) = h.json(role, Method::GET, "/api/v1/alerts", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a["key"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn alerts_in_force_are_listed_for_those_who_oversee_their_queue() {
    let h = Harness::new().await;
    h.bus.publish(alert("sales", "warning", "long_wait"));
    h.bus.publish(alert("support", "warning", "long_wait"));
    h.bus.publish(
        Event::new(EventKind::Alert, T0)
            .call("c-9")
            .data(json!({"severity": "warning"})),
    );
    assert_eq!(
        keys(&h, Role::Admin).await,
        [
            "queue:sales:long_wait",
            "queue:support:long_wait",
            "call:c-9:alert"
        ]
    );
    assert_eq!(keys(&h, Role::Supervisor).await, ["queue:sales:long_wait"]);
    h.bus.publish(alert("sales", "cleared", "long_wait"));
    h.bus
        .publish(Event::new(EventKind::CallEnded, T0).call("c-9"));
    assert_eq!(keys(&h, Role::Admin).await, ["queue:support:long_wait"]);
    assert!(keys(&h, Role::Supervisor).await.is_empty());
}
