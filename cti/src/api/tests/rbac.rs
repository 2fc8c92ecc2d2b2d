//! The role matrix: every endpoint × every role → the expected status, and
//! no token → 401 on every token route.

use axum::http::{Method, StatusCode};

use super::*;

/// (method, uri, body, [admin, supervisor, agent, quality_analyst]).
type Row = (Method, &'static str, Option<&'static str>, [u16; 4]);

fn matrix() -> Vec<Row> {
    let new_user = r#"{"name":"newbie","password":"long enough pw","role":"agent","agent":"1009"}"#;
    vec![
        (Method::GET, "/api/v1/me", None, [200, 200, 200, 200]),
        (Method::GET, "/api/v1/users", None, [200, 403, 403, 403]),
        (
            Method::POST,
            "/api/v1/users",
            Some(new_user),
            [201, 403, 403, 403],
        ),
        (
            Method::DELETE,
            "/api/v1/users/victim",
            None,
            [204, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/users/quinn/tokens",
            Some("{}"),
            [201, 403, 403, 403],
        ),
        (Method::GET, "/api/v1/audit", None, [200, 403, 403, 403]),
        (
            Method::GET,
            "/api/v1/audit/verify",
            None,
            [200, 403, 403, 403],
        ),
        (
            Method::GET,
            "/api/v1/extensions",
            None,
            [200, 200, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/extensions",
            Some(r#"{"ext":"3001"}"#),
            [201, 403, 403, 403],
        ),
        (
            Method::PATCH,
            "/api/v1/extensions/2001",
            Some(r#"{"srtp":"required"}"#),
            [204, 403, 403, 403],
        ),
        (
            Method::DELETE,
            "/api/v1/extensions/2001",
            None,
            [204, 403, 403, 403],
        ),
        (
            Method::GET,
            "/api/v1/conferences",
            None,
            [200, 200, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/conferences/huddle/participants/c-1/mute",
            Some(r#"{"muted":true}"#),
            [404, 404, 403, 403],
        ),
        (
            Method::DELETE,
            "/api/v1/conferences/huddle/participants/c-1",
            None,
            [404, 404, 403, 403],
        ),
        (Method::GET, "/api/v1/cdrs", None, [200, 200, 200, 200]),
        (Method::GET, "/api/v1/cdrs.csv", None, [200, 200, 200, 200]),
        (
            Method::GET,
            "/api/v1/customers/lookup?phone=%2B15551234567",
            None,
            [200, 200, 200, 403],
        ),
        (
            Method::GET,
            "/api/v1/customers/lookup?phone=%2B15559876543",
            None,
            [200, 200, 403, 403],
        ),
        (
            Method::GET,
            "/api/v1/customers/lookup?account=AC-200",
            None,
            [200, 200, 403, 403],
        ),
        (
            Method::GET,
            "/api/v1/recordings/cdr-1",
            None,
            [200, 200, 403, 200],
        ),
        (
            Method::GET,
            "/api/v1/conference-recordings?room=huddle&limit=10",
            None,
            [200, 200, 403, 200],
        ),
        (
            Method::GET,
            "/api/v1/conference-recordings/conf-1/audio",
            None,
            [200, 200, 403, 200],
        ),
        (
            Method::GET,
            "/api/v1/conference-recordings/conf-none/audio",
            None,
            [404, 404, 403, 404],
        ),
        (
            Method::GET,
            "/api/v1/voicemails?mailbox=1001",
            None,
            [200, 200, 200, 403],
        ),
        (
            Method::GET,
            "/api/v1/voicemails?mailbox=1002",
            None,
            [200, 200, 403, 403],
        ),
        (
            Method::GET,
            "/api/v1/voicemails/vm-1/audio",
            None,
            [200, 200, 200, 403],
        ),
        (
            Method::GET,
            "/api/v1/voicemails/vm-2/audio",
            None,
            [200, 200, 404, 403],
        ),
        (Method::GET, "/api/v1/calls", None, [200, 200, 200, 403]),
        (
            Method::POST,
            "/api/v1/conferences/huddle/recording/pause",
            None,
            [204, 204, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/conferences/huddle/recording/resume",
            None,
            [204, 204, 403, 403],
        ),
        (
            Method::GET,
            "/api/v1/reports/queues?from=0&to=86400000",
            None,
            [200, 200, 403, 200],
        ),
        (
            Method::GET,
            "/api/v1/reports/agents?from=0&to=86400000",
            None,
            [200, 200, 200, 200],
        ),
        (
            Method::PUT,
            "/api/v1/agents/1001/queues/sales",
            Some(r#"{"level":2}"#),
            [204, 204, 403, 403],
        ),
        (
            Method::DELETE,
            "/api/v1/agents/1001/queues/sales",
            None,
            [204, 204, 403, 403],
        ),
        (
            Method::PUT,
            "/api/v1/agents/1001/skills",
            Some(r#"{"skills":{"en":5}}"#),
            [204, 204, 403, 403],
        ),
        (
            Method::PUT,
            "/api/v1/cdrs/cdr-1/wrap-up",
            Some(r#"{"code":"sale"}"#),
            [204, 204, 204, 403],
        ),
        (
            Method::POST,
            "/api/v1/queues/sales/callbacks",
            Some(r#"{"number":"1003"}"#),
            [202, 202, 403, 403],
        ),
        (
            Method::DELETE,
            "/api/v1/queues/sales/callbacks/none",
            None,
            [404, 404, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls",
            Some(r#"{"to":"1004","from":"1001"}"#),
            [201, 201, 201, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-sales/hangup",
            None,
            [204, 204, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-support/hangup",
            None,
            [204, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/nope/hangup",
            None,
            [404, 404, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-sales/recording",
            Some(r#"{"action":"pause"}"#),
            [204, 204, 204, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-support/recording",
            Some(r#"{"action":"resume"}"#),
            [204, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-sales/recording",
            None,
            [204, 204, 204, 403],
        ),
        (
            Method::DELETE,
            "/api/v1/calls/c-support/recording",
            None,
            [204, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-sales/recording/pause",
            None,
            [204, 204, 204, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-support/recording/resume",
            None,
            [204, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-sales/consult",
            Some(r#"{"to":"1004"}"#),
            [202, 202, 202, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-support/consult/complete",
            None,
            [204, 403, 403, 403],
        ),
        (
            Method::DELETE,
            "/api/v1/calls/c-sales/consult",
            None,
            [204, 204, 204, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-sales/hold",
            None,
            [204, 204, 204, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-support/resume",
            None,
            [204, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-sales/transfer",
            Some(r#"{"to":"1004"}"#),
            [204, 204, 204, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-support/escalate",
            Some(r#"{"queue":"sales"}"#),
            [204, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-sales/conference",
            Some(r#"{"with":"1004"}"#),
            [202, 202, 202, 403],
        ),
        (
            Method::DELETE,
            "/api/v1/calls/c-support/conference",
            None,
            [204, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/calls/c-sales/monitor",
            Some(r#"{"mode":"listen","extension":"1009"}"#),
            [202, 202, 403, 403],
        ),
        (
            Method::DELETE,
            "/api/v1/calls/c-support/monitor",
            None,
            [204, 403, 403, 403],
        ),
        (Method::GET, "/api/v1/agents", None, [200, 200, 200, 403]),
        (
            Method::POST,
            "/api/v1/agents/1001/state",
            Some(r#"{"state":"ready"}"#),
            [204, 204, 204, 403],
        ),
        (
            Method::POST,
            "/api/v1/agents/1002/state",
            Some(r#"{"state":"logged_out"}"#),
            [204, 403, 403, 403],
        ),
        (Method::GET, "/api/v1/queues", None, [200, 200, 200, 403]),
        (Method::GET, "/api/v1/alerts", None, [200, 200, 403, 403]),
        // Not a WebSocket handshake: refused after the role check.
        (Method::GET, "/api/v1/events", None, [400, 400, 400, 403]),
        (
            Method::GET,
            "/api/v1/openapi.json",
            None,
            [200, 200, 200, 200],
        ),
        (Method::GET, "/metrics", None, [200, 200, 200, 200]),
        (Method::GET, "/api/v1/webhooks", None, [200, 403, 403, 403]),
        (
            Method::POST,
            "/api/v1/webhooks",
            Some(r#"{"url":"http://127.0.0.1:9/","events":["call.ended"]}"#),
            [201, 403, 403, 403],
        ),
        (
            Method::DELETE,
            "/api/v1/webhooks/wh_none",
            None,
            [404, 403, 403, 403],
        ),
        (
            Method::GET,
            "/api/v1/webhooks/wh_none/deliveries",
            None,
            [404, 403, 403, 403],
        ),
    ]
}

#[tokio::test]
async fn every_role_gets_the_expected_status_on_every_endpoint() {
    let h = Harness::new().await;
    h.seed().await;
    h.add_user("victim", Role::QualityAnalyst, None, vec![])
        .await;
    let mut wrong = Vec::new();
    for (method, uri, body, expected) in matrix() {
        for (role, want) in Role::ALL.into_iter().zip(expected) {
            let (status, bytes, _) = h.call(method.clone(), uri, Some(h.token(role)), body).await;
            if status.as_u16() != want {
                wrong.push(format!(
                    "{method} {uri} as {role}: {status} (wanted {want}) {}",
                    String::from_utf8_lossy(&bytes)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn the_matrix_covers_every_token_route() {
    let covered: Vec<(Method, String)> = matrix()
        .into_iter()
        .map(|(m, uri, _, _)| (m, uri.split('?').next().unwrap_or(uri).to_owned()))
        .collect();
    for (method, path) in crate::api::all_routes() {
        if path == "/api/v1/login" || path == "/api/v1/logout" {
            continue; // tested in `tokens`
        }
        let found = covered
            .iter()
            .any(|(m, uri)| *m == method && path_matches(path, uri));
        assert!(found, "{method} {path} is not in the role matrix");
    }
}

/// Whether `uri` fits the route `path` (`{x}` matches one segment).
fn path_matches(path: &str, uri: &str) -> bool {
    let (p, u): (Vec<_>, Vec<_>) = (path.split('/').collect(), uri.split('/').collect());
    p.len() == u.len()
        && p.iter()
            .zip(&u)
            .all(|(p, u)| p == u || (p.starts_with('{') && p.ends_with('}')))
}

#[tokio::test]
async fn every_token_route_without_a_token_is_401_with_a_challenge() {
    let h = Harness::new().await;
    for (method, path) in crate::api::all_routes() {
        let uri = path.replace('{', "x").replace('}', "");
        let (status, body, headers) = h.call(method.clone(), &uri, None, None).await;
        if matches!(path, "/api/v1/login" | "/api/v1/openapi.json" | "/metrics") {
            assert_ne!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} is public"
            );
            continue;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(
            headers.get("www-authenticate").map(|v| v.as_bytes()),
            Some(&b"Bearer"[..])
        );
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON error");
        assert_eq!(json["error"]["code"], "unauthorized");
    }
}

#[tokio::test]
async fn filtered_lists_show_only_what_the_role_may_see() {
    let h = Harness::new().await;
    h.seed().await;
    let ids = |v: &serde_json::Value, key: &str| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x[key].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (_, calls) = h
        .json(Role::Supervisor, Method::GET, "/api/v1/calls", None)
        .await;
    assert_eq!(ids(&calls, "call_id"), ["c-sales"]);
    let (_, calls) = h
        .json(Role::Agent, Method::GET, "/api/v1/calls", None)
        .await;
    assert_eq!(ids(&calls, "call_id"), ["c-sales"]);
    let (_, calls) = h
        .json(Role::Admin, Method::GET, "/api/v1/calls", None)
        .await;
    assert_eq!(ids(&calls, "call_id"), ["c-sales", "c-support"]);
    let (_, agents) = h
        .json(Role::Agent, Method::GET, "/api/v1/agents", None)
        .await;
    assert_eq!(ids(&agents, "agent"), ["1001"]);
    let (_, queues) = h
        .json(Role::Supervisor, Method::GET, "/api/v1/queues", None)
        .await;
    assert_eq!(ids(&queues, "queue"), ["sales"]);
    let (_, queues) = h
        .json(Role::Agent, Method::GET, "/api/v1/queues", None)
        .await;
    assert_eq!(ids(&queues, "queue"), ["sales"]);
    let (_, exts) = h
        .json(Role::Admin, Method::GET, "/api/v1/extensions", None)
        .await;
    assert_eq!(ids(&exts, "ext"), ["2001"]);
    assert!(exts[0].get("ha1_md5").is_none() && exts[0].get("ha1_sha256").is_none());
}

#[tokio::test]
async fn live_controls_reach_the_node_and_are_audited_for_supervisors() {
    let h = Harness::new().await;
    h.seed().await;
    let body = r#"{"state":"not_ready","reason":"lunch"}"#;
    let (status, _) = h
        .json(
            Role::Supervisor,
            Method::POST,
            "/api/v1/agents/1001/state",
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h
        .json(
            Role::Agent,
            Method::POST,
            "/api/v1/agents/1001/state",
            Some(r#"{"state":"ready"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h
        .json(
            Role::Supervisor,
            Method::POST,
            "/api/v1/calls/c-sales/hangup",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (states, hung) = h.live.with(|s| (s.states.clone(), s.hung_up.clone()));
    assert_eq!(
        states,
        [
            (
                "1001".to_owned(),
                AgentPresence::NotReady {
                    reason: Some("lunch".to_owned())
                }
            ),
            ("1001".to_owned(), AgentPresence::Ready),
        ]
    );
    assert_eq!(hung, ["c-sales"]);
    let actions: Vec<(String, String, String)> = h
        .audit_rows()
        .await
        .into_iter()
        .map(|e| (e.actor, e.action, e.target))
        .collect();
    // The agent's own change is not an audited action; the supervisor's are.
    assert_eq!(
        actions,
        [
            (
                "sam".to_owned(),
                "agent.state".to_owned(),
                "1001".to_owned()
            ),
            (
                "sam".to_owned(),
                "call.hangup".to_owned(),
                "c-sales".to_owned()
            ),
        ]
    );
    let bad_reason = r#"{"state":"not_ready","reason":"out to lunch"}"#;
    let (status, _) = h
        .json(
            Role::Agent,
            Method::POST,
            "/api/v1/agents/1001/state",
            Some(bad_reason),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn screen_pop_returns_the_customer_and_audits_by_id_only() {
    let h = Harness::new().await;
    h.seed().await;
    let (status, pop) = h
        .json(
            Role::Agent,
            Method::GET,
            "/api/v1/customers/lookup?phone=%2B1%20555%20123%204567",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pop}");
    assert_eq!(pop["customer"]["name"], "Ada Sales");
    assert_eq!(pop["customer"]["account"], "AC100");
    let id = pop["customer"]["id"].as_i64().expect("an id");
    let (status, _) = h
        .json(
            Role::Agent,
            Method::GET,
            "/api/v1/customers/lookup?account=AC-200",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let rows = h.audit_rows().await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].action.as_str(), rows[0].target.clone()),
        ("customer.read", id.to_string())
    );
    assert_eq!(rows[1].action, "customer.lookup");
    assert!(rows[1].detail.contains("refused"));
    // A row's target is the customer's random id at most, whose digits may hold
    // "555" by chance: only other targets are searched.
    for row in &rows {
        for secret in ["555", "Ada", "AC-", "AC1", "AC2", "Bob"] {
            assert!(
                !row.detail.contains(secret)
                    && (row.target == id.to_string() || !row.target.contains(secret)),
                "{row:?}"
            );
        }
    }
    let (status, _) = h
        .json(
            Role::Admin,
            Method::GET,
            "/api/v1/customers/lookup?phone=1&account=2",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
