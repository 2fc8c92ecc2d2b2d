//! Live calls, agents and queues, through the node's [`LiveNode`] (recording
//! control is in `recording.rs`, call control in `control.rs`).
//!
//! Administrators see and control everything; supervisors the calls,
//! agents and queues of the queues they supervise; agents their own calls,
//! their own state and the queues they serve. Quality analysts have no live
//! view. Hang-ups and state changes made by administrators or supervisors
//! are audited.
//!
//! [`LiveNode`]: crate::api::LiveNode

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use crate::api::auth::{Principal, Role};
use crate::api::error::JsonBody;
use crate::api::live::{AgentPresence, AgentSummary, CallSummary};
use crate::api::{ApiError, AppState};

/// Longest not-ready reason code.
const REASON_MAX_LEN: usize = 64;

pub(super) fn live_roles(p: &Principal) -> Result<(), ApiError> {
    p.require(&[Role::Admin, Role::Supervisor, Role::Agent])
}

/// Whether `p` may see (and, for supervisors, control) `call`.
fn call_visible(p: &Principal, call: &CallSummary) -> bool {
    match p.role {
        Role::Agent => p.is_agent(call.agent.as_deref()),
        _ => p.oversees(call.queue.iter().map(String::as_str)),
    }
}

/// Whether `p` may see (and, for supervisors, control) `agent`.
fn agent_visible(p: &Principal, agent: &AgentSummary) -> bool {
    match p.role {
        Role::Agent => p.is_agent(Some(&agent.agent)),
        _ => p.oversees(agent.queues.iter().map(String::as_str)),
    }
}

/// The live call `id`, if `p` may see it: 404 when there is none, 403 (`denied`)
/// when it is someone else's.
pub(super) async fn visible_call(
    shared: &AppState,
    p: &Principal,
    id: &str,
    denied: &str,
) -> Result<CallSummary, ApiError> {
    let call = shared
        .state
        .live
        .calls()
        .await
        .into_iter()
        .find(|c| c.call_id == id)
        .ok_or_else(|| ApiError::not_found(format!("no call {id}")))?;
    if !call_visible(p, &call) {
        return Err(ApiError::forbidden(denied));
    }
    Ok(call)
}

/// `GET /api/v1/calls`.
pub(crate) async fn list_calls(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    live_roles(&p)?;
    let mut calls = shared.state.live.calls().await;
    calls.retain(|c| call_visible(&p, c));
    Ok(Json(calls).into_response())
}

/// `POST /api/v1/calls/{id}/hangup` (admin, supervisor of the call's queue).
pub(crate) async fn hang_up(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&[Role::Admin, Role::Supervisor])?;
    let denied = "the call is not in a queue you supervise";
    let call = visible_call(&shared, &p, &id, denied).await?;
    if !shared.state.live.hang_up(&id).await {
        return Err(ApiError::not_found(format!("no call {id}")));
    }
    let detail = serde_json::json!({ "queue": call.queue, "agent": call.agent });
    shared.audit(&p, "call.hangup", &id, detail).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/agents`.
pub(crate) async fn list_agents(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    live_roles(&p)?;
    let mut agents = shared.state.live.agents().await;
    agents.retain(|a| agent_visible(&p, a));
    Ok(Json(agents).into_response())
}

/// `POST /api/v1/agents/{id}/state`: an agent for themself, a supervisor
/// for agents of their queues, an administrator for anyone.
pub(crate) async fn set_agent_state(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(presence): JsonBody<AgentPresence>,
) -> Result<StatusCode, ApiError> {
    live_roles(&p)?;
    if let AgentPresence::NotReady { reason: Some(r) } = &presence
        && (r.is_empty() || r.len() > REASON_MAX_LEN || !r.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(ApiError::bad_request(
            "invalid reason: 1-64 printable ASCII characters without spaces",
        ));
    }
    let live = &shared.state.live;
    if p.role == Role::Agent {
        if !p.is_agent(Some(&id)) {
            return Err(ApiError::forbidden(
                "agents may change only their own state",
            ));
        }
    } else {
        let agent = live
            .agents()
            .await
            .into_iter()
            .find(|a| a.agent == id)
            .ok_or_else(|| ApiError::not_found(format!("no agent {id}")))?;
        if !agent_visible(&p, &agent) {
            return Err(ApiError::forbidden(
                "the agent is not in a queue you supervise",
            ));
        }
    }
    if !live.set_agent_state(&id, presence.clone()).await {
        return Err(ApiError::not_found(format!("no agent {id}")));
    }
    if p.role != Role::Agent {
        let detail = serde_json::to_value(&presence).unwrap_or_default();
        shared.audit(&p, "agent.state", &id, detail).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/queues`.
pub(crate) async fn list_queues(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    live_roles(&p)?;
    let live = &shared.state.live;
    let mut queues = live.queues().await;
    match p.role {
        Role::Agent => {
            let mine: Vec<String> = live
                .agents()
                .await
                .into_iter()
                .find(|a| p.is_agent(Some(&a.agent)))
                .map(|a| a.queues)
                .unwrap_or_default();
            queues.retain(|q| mine.contains(&q.queue));
        }
        _ => queues.retain(|q| p.oversees(std::iter::once(q.queue.as_str()))),
    }
    Ok(Json(queues).into_response())
}

/// `GET /api/v1/conferences`: every conference room with someone in it and who
/// (administrators and supervisors: rooms belong to no queue).
pub(crate) async fn list_conferences(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin, Role::Supervisor])?;
    Ok(Json(shared.state.live.conferences().await).into_response())
}

/// The body of `POST /api/v1/conferences/{room}/participants/{call_id}/mute`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MuteBody {
    muted: bool,
}

/// `POST /api/v1/conferences/{room}/participants/{call_id}/mute`: the room stops
/// (or starts again) hearing that caller, who hears a cue; audited.
pub(crate) async fn mute_in_conference(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((room, call_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<MuteBody>,
) -> Result<StatusCode, ApiError> {
    p.require(&[Role::Admin, Role::Supervisor])?;
    if !shared
        .state
        .live
        .conference_mute(&room, &call_id, body.muted)
        .await
    {
        return Err(ApiError::not_found(format!(
            "no call {call_id} in conference {room}"
        )));
    }
    let detail = serde_json::json!({ "call_id": call_id, "muted": body.muted });
    shared.audit(&p, "conference.mute", &room, detail).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/conferences/{room}/recording/pause`: silence goes into the room's
/// recording (a card number read out) until it is resumed; audited.
pub(crate) async fn pause_conference_recording(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(room): Path<String>,
) -> Result<StatusCode, ApiError> {
    conference_recording(&shared, &p, &room, true).await
}

/// `POST /api/v1/conferences/{room}/recording/resume`; audited.
pub(crate) async fn resume_conference_recording(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(room): Path<String>,
) -> Result<StatusCode, ApiError> {
    conference_recording(&shared, &p, &room, false).await
}

async fn conference_recording(
    shared: &AppState,
    p: &Principal,
    room: &str,
    paused: bool,
) -> Result<StatusCode, ApiError> {
    p.require(&[Role::Admin, Role::Supervisor])?;
    if !shared.state.live.conference_recording(room, paused).await {
        return Err(ApiError::not_found(format!(
            "conference {room} is not being recorded"
        )));
    }
    let action = if paused {
        "conference.recording_pause"
    } else {
        "conference.recording_resume"
    };
    shared.audit(p, action, room, serde_json::json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/conferences/{room}/participants/{call_id}`: hangs up a
/// caller in a conference room (the others hear them leave); audited. Rooms
/// belong to no queue, so any supervisor may, as any supervisor may mute.
pub(crate) async fn remove_from_conference(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((room, call_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    p.require(&[Role::Admin, Role::Supervisor])?;
    let live = &shared.state.live;
    let seated = live
        .conferences()
        .await
        .iter()
        .any(|c| c.room == room && c.participants.iter().any(|who| who.call_id == call_id));
    if !seated || !live.hang_up(&call_id).await {
        return Err(ApiError::not_found(format!(
            "no call {call_id} in conference {room}"
        )));
    }
    let detail = serde_json::json!({ "call_id": call_id });
    shared.audit(&p, "conference.remove", &room, detail).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/alerts`: the alerts in force, oldest first (administrators; a
/// supervisor those about their queues).
pub(crate) async fn list_alerts(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin, Role::Supervisor])?;
    let mut alerts = shared.state.alerts.active();
    alerts.retain(|a| p.oversees(a.queues.iter().map(String::as_str)));
    Ok(Json(alerts).into_response())
}
