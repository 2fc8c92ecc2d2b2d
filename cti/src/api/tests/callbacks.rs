//! Callbacks asked for ahead through the API: who may, what reaches the node, what
//! is audited (the queue, never the customer's number), and how refusals come back.

use axum::http::{Method, StatusCode};

use super::*;

fn waiting(h: &Harness) -> Vec<(String, String, String, i32)> {
    h.live.with(|s| s.callbacks.clone())
}

async fn audited(h: &Harness) -> Vec<(String, String, String)> {
    h.audit_rows()
        .await
        .into_iter()
        .map(|r| (r.action, r.target, r.detail))
        .collect()
}

#[tokio::test]
async fn a_supervisor_asks_for_a_callback_in_their_queue_and_withdraws_it() {
    let h = Harness::new().await;
    h.seed().await;
    let (status, reply) = h
        .json(
            Role::Supervisor,
            Method::POST,
            "/api/v1/queues/sales/callbacks",
            Some(r#"{"number":"+15557654321","priority":5}"#),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(reply["callback_id"], "callback-1");
    assert_eq!(
        waiting(&h),
        [(
            "callback-1".to_owned(),
            "sales".to_owned(),
            "+15557654321".to_owned(),
            5
        )]
    );
    let (status, _) = h
        .json(
            Role::Supervisor,
            Method::DELETE,
            "/api/v1/queues/sales/callbacks/callback-1",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(waiting(&h).is_empty());
    let rows = audited(&h).await;
    let actions: Vec<_> = rows
        .iter()
        .map(|(a, t, _)| (a.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("callback.request", "callback-1"),
            ("callback.cancel", "callback-1")
        ]
    );
    assert!(
        rows.iter().all(|(_, _, detail)| !detail.contains("555")),
        "the customer's number stays out of the audit log: {rows:?}"
    );
}

#[tokio::test]
async fn only_administrators_and_the_queue_s_supervisors_ask_for_callbacks() {
    let h = Harness::new().await;
    h.seed().await;
    let body = Some(r#"{"number":"1003"}"#);
    for (role, queue, expected) in [
        (Role::Admin, "support", StatusCode::ACCEPTED),
        (Role::Supervisor, "support", StatusCode::FORBIDDEN),
        (Role::Agent, "sales", StatusCode::FORBIDDEN),
        (Role::QualityAnalyst, "sales", StatusCode::FORBIDDEN),
    ] {
        let uri = format!("/api/v1/queues/{queue}/callbacks");
        let (status, reply) = h.json(role, Method::POST, &uri, body).await;
        assert_eq!(status, expected, "{role:?} in {queue}: {reply}");
    }
    assert_eq!(waiting(&h).len(), 1);
    // A supervisor cannot withdraw another queue's callback by naming their own.
    let (status, _) = h
        .json(
            Role::Supervisor,
            Method::DELETE,
            "/api/v1/queues/sales/callbacks/callback-1",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(waiting(&h).len(), 1);
}

#[tokio::test]
async fn bad_numbers_unknown_queues_and_callbacks_being_placed_are_refused() {
    let h = Harness::new().await;
    h.seed().await;
    for body in [
        r#"{"number":""}"#,
        r#"{"number":"+"}"#,
        r#"{"number":"12a"}"#,
        r#"{"number":"123456789012345678901234567890123"}"#,
        r#"{"number":"1003","extra":true}"#,
        r#"{"number":1003}"#,
        r#"{"number":"1003","priority":"high"}"#,
        "{}",
    ] {
        let (status, reply) = h
            .json(
                Role::Admin,
                Method::POST,
                "/api/v1/queues/sales/callbacks",
                Some(body),
            )
            .await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {status} {reply}"
        );
    }
    let (status, _) = h
        .json(
            Role::Admin,
            Method::POST,
            "/api/v1/queues/nope/callbacks",
            Some(r#"{"number":"1003"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h
        .json(
            Role::Admin,
            Method::DELETE,
            "/api/v1/queues/sales/callbacks/callback-ringing",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(waiting(&h).is_empty());
    assert!(audited(&h).await.is_empty());
}
