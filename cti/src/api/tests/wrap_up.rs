//! The agent's wrap-up of an ended call: who may, the queue's codes, what is
//! stored, searched and exported, what is audited and published (never the
//! notes), and the early end of the agent's wrap-up time.

use axum::http::{Method, StatusCode};

use super::*;

async fn wrap(h: &Harness, role: Role, cdr: &str, body: &str) -> (StatusCode, serde_json::Value) {
    let uri = format!("/api/v1/cdrs/{cdr}/wrap-up");
    h.json(role, Method::PUT, &uri, Some(body)).await
}

#[tokio::test]
async fn the_agent_wraps_up_their_call_and_it_shows_in_search_export_audit_and_events() {
    let h = Harness::new().await;
    h.seed().await;
    let before = h.state.events.last_seq();
    let notes = "Customer +1 555 0100 wants the gold plan;\nsend the brochure";
    let body = serde_json::json!({ "code": "sale", "notes": notes, "end_wrap_up": true });
    let (status, reply) = wrap(&h, Role::Agent, "cdr-1", &body.to_string()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{reply}");
    let (status, page) = h
        .json(
            Role::Admin,
            Method::GET,
            "/api/v1/cdrs?wrap_up_code=sale",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(
        (
            &items[0]["id"],
            &items[0]["wrap_up_code"],
            &items[0]["wrap_up_notes"]
        ),
        (
            &serde_json::json!("cdr-1"),
            &serde_json::json!("sale"),
            &serde_json::json!(notes)
        )
    );
    let (_, csv, _) = h
        .call(
            Method::GET,
            "/api/v1/cdrs.csv?wrap_up_code=sale",
            Some(h.token(Role::Admin)),
            None,
        )
        .await;
    let csv = String::from_utf8(csv).expect("UTF-8");
    assert!(
        csv.lines()
            .next()
            .is_some_and(|l| l.ends_with("wrap_up_code,wrap_up_notes"))
    );
    assert!(csv.contains("sale,\"Customer +1 555 0100"), "{csv}");
    let rows = h.audit_rows().await;
    let row = rows
        .iter()
        .find(|r| r.action == "cdr.wrap_up")
        .expect("an audit row");
    assert_eq!(row.target, "cdr-1");
    assert!(
        row.detail.contains("sale") && !row.detail.contains("555"),
        "{}",
        row.detail
    );
    let published = h.state.events.backlog(before, 10).await.expect("events");
    let event = published
        .iter()
        .find(|p| p.event.kind == EventKind::CallWrapUp)
        .expect("call.wrap_up published");
    let text = serde_json::to_string(&event.event).expect("serializable");
    assert!(
        text.contains("\"code\":\"sale\"") && !text.contains("555"),
        "{text}"
    );
    assert_eq!(h.live.with(|s| s.wrap_ups_ended.clone()), ["1001"]);
}

#[tokio::test]
async fn only_the_call_s_agent_its_queue_s_supervisors_and_administrators_wrap_it_up() {
    let h = Harness::new().await;
    h.seed().await;
    let body = r#"{"code":"follow_up"}"#;
    // cdr-2 is support's, taken by 1002.
    for role in [Role::Agent, Role::Supervisor, Role::QualityAnalyst] {
        let (status, _) = wrap(&h, role, "cdr-2", body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}");
    }
    let (status, _) = wrap(&h, Role::Admin, "cdr-2", body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // cdr-3 went through no queue: 1001 received it, so may wrap it up.
    let (status, _) = wrap(&h, Role::Agent, "cdr-3", body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = wrap(&h, Role::Admin, "cdr-none", body).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(h.live.with(|s| s.wrap_ups_ended.is_empty()));
}

#[tokio::test]
async fn a_queue_that_lists_codes_takes_only_those_and_bad_bodies_change_nothing() {
    let h = Harness::new().await;
    h.seed().await;
    let (status, reply) = wrap(&h, Role::Agent, "cdr-1", r#"{"code":"follow_up"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply["error"]["message"], "code: one of sale, no_sale",
        "{reply}"
    );
    let long = "x".repeat(2001);
    for body in [
        r#"{"code":"Sale"}"#.to_owned(),
        r#"{"code":""}"#.to_owned(),
        r#"{"code":"sale","notes":"bell\u0007"}"#.to_owned(),
        format!(r#"{{"code":"sale","notes":"{long}"}}"#),
        r#"{"code":"sale","extra":1}"#.to_owned(),
        r#"{"notes":"no code"}"#.to_owned(),
    ] {
        let (status, reply) = wrap(&h, Role::Agent, "cdr-1", &body).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {status} {reply}"
        );
    }
    let (_, page) = h
        .json(
            Role::Admin,
            Method::GET,
            "/api/v1/cdrs?wrap_up_code=sale",
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
    assert!(
        h.audit_rows()
            .await
            .iter()
            .all(|r| r.action != "cdr.wrap_up")
    );
    // A second wrap-up replaces the first.
    for code in ["no_sale", "sale"] {
        let body = format!(r#"{{"code":"{code}"}}"#);
        let (status, _) = wrap(&h, Role::Supervisor, "cdr-1", &body).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (_, page) = h
        .json(
            Role::Admin,
            Method::GET,
            "/api/v1/cdrs?wrap_up_code=no_sale",
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
}
