//! `/api/v1/webhooks`: who may manage subscriptions, what is checked, what
//! the audit log keeps, and each subscription's deliveries.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{ADMIN, Harness};
use crate::api::{Event, EventKind, Role};
use crate::webhooks::{DeliveryState, event_id, outbox};

async fn create(h: &Harness, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    h.json(
        Role::Admin,
        Method::POST,
        "/api/v1/webhooks",
        Some(&body.to_string()),
    )
    .await
}

#[tokio::test]
async fn an_admin_subscribes_and_sees_the_generated_secret_once() {
    let h = Harness::new().await;
    let (status, made) = create(
        &h,
        json!({"url": "https://crm.example.com/in/switchyard?k=abc", "events": ["call.ended", "call.created", "call.ended"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().expect("an id");
    assert!(id.starts_with("wh_") && id.len() == 19, "{id}");
    let secret = made["secret"].as_str().expect("a secret");
    assert!(secret.starts_with("whsec_") && secret.len() == 70);
    assert_eq!(made["events"], json!(["call.ended", "call.created"]));
    assert_eq!(made["created_by"], ADMIN);

    let (status, listed) = h
        .json(Role::Admin, Method::GET, "/api/v1/webhooks", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["id"], id);
    assert_eq!(
        listed[0]["url"],
        "https://crm.example.com/in/switchyard?k=abc"
    );
    assert!(
        !listed.to_string().contains(secret),
        "the secret is not listed"
    );

    let audit = h.audit_rows().await;
    let row = audit.last().expect("an audit row");
    assert_eq!(
        (row.action.as_str(), row.target.as_str()),
        ("webhook.create", id)
    );
    assert!(row.detail.contains("crm.example.com") && row.detail.contains("generated"));
    assert!(
        !row.detail.contains(secret) && !row.detail.contains("k=abc"),
        "no secret, path or query in the audit log: {}",
        row.detail
    );
}

#[tokio::test]
async fn a_given_secret_is_kept_and_bad_requests_are_refused() {
    let h = Harness::new().await;
    let given = "my-own-secret-0123456789";
    let (status, made) = create(
        &h,
        json!({"url": "http://127.0.0.1:9/hook", "events": ["csat.submitted"], "secret": given}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["secret"], given);
    for (body, why) in [
        (
            json!({"url": "ftp://x.example/", "events": ["call.ended"]}),
            "scheme",
        ),
        (
            json!({"url": "http://x.example/a b", "events": ["call.ended"]}),
            "space",
        ),
        (
            json!({"url": "http://x.example/", "events": []}),
            "no events",
        ),
        (
            json!({"url": "http://x.example/", "events": ["agent.state"]}),
            "not deliverable",
        ),
        (
            json!({"url": "http://x.example/", "events": ["call.ended"], "secret": "short"}),
            "short secret",
        ),
        (
            json!({"url": "http://x.example/", "events": ["call.ended"], "extra": 1}),
            "unknown field",
        ),
    ] {
        let (status, answer) = create(&h, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {answer}");
    }
}

#[tokio::test]
async fn only_administrators_manage_webhooks() {
    let h = Harness::new().await;
    let body = json!({"url": "http://127.0.0.1:9/", "events": ["call.ended"]}).to_string();
    for role in [Role::Supervisor, Role::Agent, Role::QualityAnalyst] {
        let (status, _) = h
            .json(role, Method::POST, "/api/v1/webhooks", Some(&body))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} creates");
        let (status, _) = h.json(role, Method::GET, "/api/v1/webhooks", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} lists");
    }
    let (status, _, _) = h.call(Method::GET, "/api/v1/webhooks", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn deliveries_are_listed_by_state_and_go_with_their_subscription() {
    let h = Harness::new().await;
    let (_, made) = create(
        &h,
        json!({"url": "http://127.0.0.1:9/", "events": ["call.ended"]}),
    )
    .await;
    let id = made["id"].as_str().expect("an id").to_owned();
    let seq = h.bus.publish(
        Event::new(EventKind::CallEnded, super::T0)
            .call("c1")
            .data(json!({"disposition": "answered"})),
    );
    let published = h.bus.backlog(seq - 1, 1).await.expect("readable");
    let added = outbox::enqueue(&h.store, &published[0], "{}")
        .await
        .expect("enqueued");
    assert_eq!(added, 1);

    let uri = format!("/api/v1/webhooks/{id}/deliveries");
    let (status, rows) = h.json(Role::Admin, Method::GET, &uri, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows[0]["event_id"], event_id(seq));
    assert_eq!(rows[0]["event_type"], "call.ended");
    assert_eq!(rows[0]["state"], DeliveryState::Pending.as_str());
    assert_eq!(rows[0]["attempts"], 0);
    let (_, failed) = h
        .json(
            Role::Admin,
            Method::GET,
            &format!("{uri}?state=failed"),
            None,
        )
        .await;
    assert_eq!(failed, json!([]));
    let (status, _) = h
        .json(Role::Admin, Method::GET, &format!("{uri}?state=lost"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _) = h
        .json(
            Role::Admin,
            Method::DELETE,
            &format!("/api/v1/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h.json(Role::Admin, Method::GET, &uri, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h
        .json(
            Role::Admin,
            Method::DELETE,
            &format!("/api/v1/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let audit = h.audit_rows().await;
    let last = audit.last().expect("rows");
    assert_eq!(
        (last.action.as_str(), last.target.as_str()),
        ("webhook.remove", id.as_str())
    );
}
