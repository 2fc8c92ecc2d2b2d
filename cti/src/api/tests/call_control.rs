//! Attended transfer and recording control through the API: which request asks
//! the node for what, what is audited, and how the node's refusals come back.

use axum::http::{Method, StatusCode};

use super::*;

/// Every control the fake node was asked for, as (call, control).
fn asked(h: &Harness) -> Vec<(String, CallControl)> {
    h.live.with(|s| std::mem::take(&mut s.controls))
}

async fn actions(h: &Harness) -> Vec<String> {
    h.audit_rows().await.into_iter().map(|r| r.action).collect()
}

#[tokio::test]
async fn consult_complete_and_cancel_reach_the_node_and_are_audited() {
    let h = Harness::new().await;
    h.seed().await;
    let (status, _) = h
        .json(
            Role::Agent,
            Method::POST,
            "/api/v1/calls/c-sales/consult",
            Some(r#"{"to":"1004"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = h
        .json(
            Role::Agent,
            Method::POST,
            "/api/v1/calls/c-sales/consult/complete",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h
        .json(
            Role::Agent,
            Method::DELETE,
            "/api/v1/calls/c-sales/consult",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let call = |c: CallControl| ("c-sales".to_owned(), c);
    assert_eq!(
        asked(&h),
        [
            call(CallControl::Consult { to: "1004".into() }),
            call(CallControl::CompleteConsult),
            call(CallControl::CancelConsult),
        ]
    );
    assert_eq!(
        actions(&h).await,
        [
            "call.consult",
            "call.consult_complete",
            "call.consult_cancel"
        ]
    );
}

#[tokio::test]
async fn a_consult_needs_an_extension_and_touches_nothing_otherwise() {
    let h = Harness::new().await;
    h.seed().await;
    for body in [r#"{"to":"x1"}"#, r#"{"to":""}"#, r#"{"with":"1004"}"#, "{}"] {
        let (status, reply) = h
            .json(
                Role::Admin,
                Method::POST,
                "/api/v1/calls/c-sales/consult",
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
    }
    assert!(asked(&h).is_empty());
    assert!(actions(&h).await.is_empty());
}

#[tokio::test]
async fn the_nodes_refusals_become_statuses_and_leave_no_audit_row() {
    let h = Harness::new().await;
    h.seed().await;
    let cases = [
        (ControlRefusal::ConsultNotAnswered, StatusCode::CONFLICT),
        (ControlRefusal::Consulting, StatusCode::CONFLICT),
        (ControlRefusal::NoConsultation, StatusCode::CONFLICT),
        (ControlRefusal::NotRecorded, StatusCode::NOT_FOUND),
        (ControlRefusal::AlreadyRecorded, StatusCode::CONFLICT),
    ];
    for (refusal, want) in cases {
        h.live.with(|s| s.refusal = Some(refusal.clone()));
        let (status, reply) = h
            .json(
                Role::Admin,
                Method::POST,
                "/api/v1/calls/c-sales/consult/complete",
                None,
            )
            .await;
        assert_eq!(status, want, "{refusal:?}: {reply}");
        assert_eq!(reply["error"]["message"], refusal.to_string());
    }
    assert!(actions(&h).await.is_empty(), "refusals are not audited");
}

#[tokio::test]
async fn an_escalation_names_a_queue_reaches_the_node_and_is_audited() {
    let h = Harness::new().await;
    h.seed().await;
    for body in [
        r#"{"queue":"../x"}"#,
        r#"{"queue":""}"#,
        r#"{"to":"senior"}"#,
        "{}",
    ] {
        let (status, reply) = h
            .json(
                Role::Supervisor,
                Method::POST,
                "/api/v1/calls/c-sales/escalate",
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
    }
    assert!(asked(&h).is_empty());
    let (status, reply) = h
        .json(
            Role::Supervisor,
            Method::POST,
            "/api/v1/calls/c-sales/escalate",
            Some(r#"{"queue":"senior"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{reply}");
    assert_eq!(
        asked(&h),
        [(
            "c-sales".to_owned(),
            CallControl::Escalate {
                queue: "senior".into(),
                sentiment: None
            }
        )]
    );
    assert_eq!(actions(&h).await, ["call.escalate"]);
    for (refusal, want) in [
        (
            ControlRefusal::UnknownQueue("senior".into()),
            StatusCode::NOT_FOUND,
        ),
        (
            ControlRefusal::SameQueue("senior".into()),
            StatusCode::CONFLICT,
        ),
    ] {
        h.live.with(|s| s.refusal = Some(refusal.clone()));
        let (status, reply) = h
            .json(
                Role::Admin,
                Method::POST,
                "/api/v1/calls/c-sales/escalate",
                Some(r#"{"queue":"senior"}"#),
            )
            .await;
        assert_eq!(status, want, "{refusal:?}: {reply}");
    }
}

#[tokio::test]
async fn recording_start_stop_pause_and_resume_each_have_their_request() {
    let h = Harness::new().await;
    h.seed().await;
    let requests = [
        (Method::POST, "/api/v1/calls/c-sales/recording", None),
        (
            Method::POST,
            "/api/v1/calls/c-sales/recording",
            Some(r#"{"action":"start"}"#),
        ),
        (Method::POST, "/api/v1/calls/c-sales/recording/pause", None),
        (
            Method::POST,
            "/api/v1/calls/c-sales/recording",
            Some(r#"{"action":"pause"}"#),
        ),
        (Method::POST, "/api/v1/calls/c-sales/recording/resume", None),
        (Method::DELETE, "/api/v1/calls/c-sales/recording", None),
        (
            Method::POST,
            "/api/v1/calls/c-sales/recording",
            Some(r#"{"action":"stop"}"#),
        ),
    ];
    for (method, uri, body) in requests {
        let (status, reply) = h.json(Role::Agent, method.clone(), uri, body).await;
        assert_eq!(
            status,
            StatusCode::NO_CONTENT,
            "{method} {uri} {body:?}: {reply}"
        );
    }
    let controls: Vec<CallControl> = asked(&h).into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        controls,
        [
            CallControl::StartRecording,
            CallControl::StartRecording,
            CallControl::StopRecording,
            CallControl::StopRecording,
        ]
    );
    let paused = h.live.with(|s| s.recordings.clone());
    assert_eq!(
        paused,
        [
            ("c-sales".to_owned(), RecordingAction::Pause),
            ("c-sales".to_owned(), RecordingAction::Pause),
            ("c-sales".to_owned(), RecordingAction::Resume),
        ]
    );
    assert_eq!(
        actions(&h).await,
        [
            "recording.start",
            "recording.start",
            "recording.pause",
            "recording.pause",
            "recording.resume",
            "recording.stop",
            "recording.stop",
        ]
    );
}

#[tokio::test]
async fn a_recording_body_must_name_a_known_action_as_json() {
    let h = Harness::new().await;
    h.seed().await;
    for body in [
        r#"{"action":"rewind"}"#,
        r#"{"action":"start","x":1}"#,
        "[",
        "{}",
    ] {
        let (status, reply) = h
            .json(
                Role::Admin,
                Method::POST,
                "/api/v1/calls/c-sales/recording",
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
    }
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/calls/c-sales/recording")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", h.token(Role::Admin)),
        )
        .header(header::CONTENT_TYPE, "text/plain");
    req = req.header(header::CONTENT_LENGTH, "17");
    let response = h
        .router
        .clone()
        .oneshot(
            req.body(Body::from(r#"{"action":"stop"}"#))
                .expect("a well-formed request"),
        )
        .await
        .expect("the router is infallible");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "not JSON typed");
    assert!(asked(&h).is_empty());
}

#[tokio::test]
async fn a_supervisor_removes_a_caller_from_a_conference_room() {
    let h = Harness::new().await;
    h.seed().await;
    h.live.with(|s| {
        s.calls.push(call("c-room", "+15550000001", "", ""));
        s.conferences = vec![ConferenceSummary {
            room: "huddle".to_owned(),
            participants: vec![ConferenceParticipant {
                call_id: "c-room".to_owned(),
                caller: "+15550000001".to_owned(),
                joined_at: 1,
                muted: false,
                talking: true,
            }],
        }];
    });
    for uri in [
        "/api/v1/conferences/lobby/participants/c-room",
        "/api/v1/conferences/huddle/participants/c-sales",
    ] {
        let (status, _) = h.json(Role::Supervisor, Method::DELETE, uri, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: not in that room");
    }
    let uri = "/api/v1/conferences/huddle/participants/c-room";
    let (status, _) = h.json(Role::Agent, Method::DELETE, uri, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(h.live.with(|s| s.hung_up.is_empty()), "nothing hung up yet");
    let (status, _) = h.json(Role::Supervisor, Method::DELETE, uri, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(h.live.with(|s| s.hung_up.clone()), ["c-room"]);
    assert_eq!(actions(&h).await, ["conference.remove"]);
    let (status, rooms) = h
        .json(Role::Supervisor, Method::GET, "/api/v1/conferences", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rooms[0]["participants"][0]["talking"], true);
}

/// Every call the fake node was asked to place, as (agent, to, auto answer).
fn dialled(h: &Harness) -> Vec<(String, String, bool)> {
    h.live.with(|s| std::mem::take(&mut s.dialled))
}

#[tokio::test]
async fn an_agent_dials_from_their_own_extension_and_the_call_is_audited() {
    let h = Harness::new().await;
    let (status, reply) = h
        .json(
            Role::Agent,
            Method::POST,
            "/api/v1/calls",
            Some(r#"{"to":"+15551234567","auto_answer":true}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["call_id"], "placed-1");
    assert_eq!(reply["agent"], "1001");
    let (status, _) = h
        .json(
            Role::Agent,
            Method::POST,
            "/api/v1/calls",
            Some(r#"{"to":"1004","from":"1001"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        dialled(&h),
        [
            ("1001".to_owned(), "+15551234567".to_owned(), true),
            ("1001".to_owned(), "1004".to_owned(), false),
        ]
    );
    assert_eq!(actions(&h).await, ["call.dial", "call.dial"]);
}

#[tokio::test]
async fn nobody_dials_for_someone_else_without_the_role_for_it() {
    let h = Harness::new().await;
    let (status, _) = h
        .json(
            Role::Agent,
            Method::POST,
            "/api/v1/calls",
            Some(r#"{"to":"1004","from":"1002"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h
        .json(
            Role::QualityAnalyst,
            Method::POST,
            "/api/v1/calls",
            Some(r#"{"to":"1004","from":"1002"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, reply) = h
        .json(
            Role::Supervisor,
            Method::POST,
            "/api/v1/calls",
            Some(r#"{"to":"1004","from":"1002"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    // An administrator has no extension of their own: `from` is required.
    let (status, _) = h
        .json(
            Role::Admin,
            Method::POST,
            "/api/v1/calls",
            Some(r#"{"to":"1004"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(dialled(&h), [("1002".to_owned(), "1004".to_owned(), false)]);
    assert_eq!(actions(&h).await, ["call.dial"]);
}

#[tokio::test]
async fn a_dial_with_a_bad_number_or_body_reaches_nothing() {
    let h = Harness::new().await;
    for body in [
        r#"{"to":"x1"}"#,
        r#"{"to":""}"#,
        r#"{"to":"++1"}"#,
        r#"{"to":"123456789012345678901234567890123"}"#,
        r#"{"to":"1004","from":"abc"}"#,
        r#"{"to":"1004","extra":1}"#,
        r#"{"to":1004}"#,
        "{}",
        "not json",
    ] {
        let (status, reply) = h
            .json(Role::Supervisor, Method::POST, "/api/v1/calls", Some(body))
            .await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {status} {reply}"
        );
    }
    assert!(dialled(&h).is_empty());
    assert!(actions(&h).await.is_empty());
}

#[tokio::test]
async fn the_node_s_refusals_to_dial_come_back_as_conflict_not_found_or_unavailable() {
    let h = Harness::new().await;
    for (refusal, expected) in [
        (
            DialRefusal::NotRegistered("1001".into()),
            StatusCode::CONFLICT,
        ),
        (DialRefusal::NoRoute("999".into()), StatusCode::NOT_FOUND),
        (DialRefusal::Unavailable, StatusCode::SERVICE_UNAVAILABLE),
    ] {
        h.live.with(|s| s.dial_refusal = Some(refusal.clone()));
        let (status, reply) = h
            .json(
                Role::Agent,
                Method::POST,
                "/api/v1/calls",
                Some(r#"{"to":"999"}"#),
            )
            .await;
        assert_eq!(status, expected, "{refusal:?}: {reply}");
        assert_eq!(reply["error"]["message"], refusal.to_string(), "{reply}");
    }
    assert!(actions(&h).await.is_empty());
}

/// Every membership change the fake node was asked for.
fn membership_changes(h: &Harness) -> Vec<(String, MembershipChange)> {
    h.live.with(|s| std::mem::take(&mut s.memberships))
}

#[tokio::test]
async fn a_supervisor_moves_agents_in_and_out_of_their_queues_and_it_is_audited() {
    let h = Harness::new().await;
    h.seed().await;
    let (status, reply) = h
        .json(
            Role::Supervisor,
            Method::PUT,
            "/api/v1/agents/1002/queues/sales",
            Some(r#"{"level":2,"position":3}"#),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{reply}");
    let (status, _) = h
        .json(
            Role::Supervisor,
            Method::DELETE,
            "/api/v1/agents/1001/queues/sales",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Not their queue; no such agent; no such queue; a tier 0.
    for (method, uri, body, expected) in [
        (
            Method::PUT,
            "/api/v1/agents/1001/queues/support",
            Some(r#"{"level":1}"#),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::PUT,
            "/api/v1/agents/9999/queues/sales",
            Some(r#"{"level":1}"#),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            "/api/v1/agents/1001/queues/sales",
            Some(r#"{"level":0}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PUT,
            "/api/v1/agents/1001/queues/sales",
            Some(r#"{"level":1,"x":1}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (status, reply) = h.json(Role::Supervisor, method, uri, body).await;
        assert!(
            status == expected
                || (expected == StatusCode::UNPROCESSABLE_ENTITY
                    && status == StatusCode::BAD_REQUEST),
            "{uri} {body:?}: {status} {reply}"
        );
    }
    let (status, _) = h
        .json(
            Role::Admin,
            Method::PUT,
            "/api/v1/agents/1001/queues/nope",
            Some(r#"{"level":1}"#),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        membership_changes(&h),
        [
            (
                "1002".to_owned(),
                MembershipChange::Join {
                    queue: "sales".into(),
                    level: 2,
                    position: 3
                }
            ),
            (
                "1001".to_owned(),
                MembershipChange::Leave {
                    queue: "sales".into()
                }
            ),
        ]
    );
    assert_eq!(actions(&h).await, ["agent.join_queue", "agent.leave_queue"]);
}

#[tokio::test]
async fn skills_are_set_by_administrators_and_the_agent_s_supervisors_only() {
    let h = Harness::new().await;
    h.seed().await;
    let body = Some(r#"{"skills":{"en":5,"fr":2}}"#);
    let (status, _) = h
        .json(
            Role::Supervisor,
            Method::PUT,
            "/api/v1/agents/1001/skills",
            body,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (role, uri, expected) in [
        (
            Role::Supervisor,
            "/api/v1/agents/1002/skills",
            StatusCode::FORBIDDEN,
        ),
        (
            Role::Agent,
            "/api/v1/agents/1001/skills",
            StatusCode::FORBIDDEN,
        ),
        (
            Role::Admin,
            "/api/v1/agents/9999/skills",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (status, _) = h.json(role, Method::PUT, uri, body).await;
        assert_eq!(status, expected, "{role:?} {uri}");
    }
    for bad in [
        r#"{"skills":{"en":6}}"#,
        r#"{"skills":{"en":0}}"#,
        r#"{"skills":{"a b":1}}"#,
    ] {
        let (status, _) = h
            .json(
                Role::Admin,
                Method::PUT,
                "/api/v1/agents/1001/skills",
                Some(bad),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(
        membership_changes(&h),
        [(
            "1001".to_owned(),
            MembershipChange::Skills(vec![("en".into(), 5), ("fr".into(), 2)])
        )]
    );
    assert_eq!(actions(&h).await, ["agent.skills"]);
}

#[tokio::test]
async fn a_room_s_recording_is_paused_and_resumed_by_supervisors_and_audited() {
    let h = Harness::new().await;
    for what in ["pause", "resume"] {
        let uri = format!("/api/v1/conferences/huddle/recording/{what}");
        let (status, _) = h.json(Role::Supervisor, Method::POST, &uri, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{what}");
    }
    let (status, _) = h
        .json(
            Role::Admin,
            Method::POST,
            "/api/v1/conferences/lobby/recording/pause",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a room not being recorded");
    assert_eq!(
        h.live.with(|s| s.room_pauses.clone()),
        [("huddle".to_owned(), true), ("huddle".to_owned(), false)]
    );
    assert_eq!(
        actions(&h).await,
        ["conference.recording_pause", "conference.recording_resume"]
    );
}
