//! Click-to-dial, and hold, resume, blind and attended transfer and three-way
//! conference of a connected call, from an agent's desktop.
//!
//! `POST /api/v1/calls` `{"to": "+15551234567"}` places a call for the agent: their
//! phone rings first, then the number (an extension, or a number a trunk routes);
//! `from` names the agent for a supervisor or an administrator, and `auto_answer`
//! asks the agent's phone to pick up by itself. 201 with the call's `call_id` once
//! the agent's phone rings; the call then shows in `GET /api/v1/calls` and on the
//! event stream like any other.
//!
//! `POST /api/v1/calls/{id}/hold`, `…/resume` (no body), `…/transfer`
//! `{"to": "1004"}`, `…/consult` `{"to": "1004"}` then `POST …/consult/complete` or
//! `DELETE …/consult`, and `…/conference` `{"with": "1004"}` (`DELETE` to drop the
//! third party), and `…/escalate` `{"queue": "senior"}` (the caller leaves the
//! agent for that queue, ahead of everyone waiting there): the agent on the call, a
//! supervisor of its queue, an administrator. Each is an audit row. A refusal that depends on the call's state
//! (not connected, already held, a consultation going on) is 409.
//!
//! A conference adds one party to the call through the same mixing leg a
//! supervisor's barge uses: everyone hears everyone. While it lasts, the call has
//! no room for a supervisor (and the other way round).

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::calls::{live_roles, visible_call};
use super::{valid_extension, valid_number};
use crate::api::auth::{Principal, Role};
use crate::api::error::JsonBody;
use crate::api::live::{
    CallControl, ControlRefusal, DialRefusal, MonitorMode, MonitorRefusal, MonitorRequest,
};
use crate::api::{ApiError, AppState};

/// The body of `POST /api/v1/calls/{id}/transfer`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransferBody {
    to: String,
}

/// The body of `POST /api/v1/calls`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DialBody {
    to: String,
    /// The agent to place the call for; an agent's own by default.
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    auto_answer: bool,
}

/// The body of `POST /api/v1/calls/{id}/conference`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConferenceBody {
    with: String,
}

/// The body of `POST /api/v1/calls/{id}/escalate`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EscalateBody {
    queue: String,
}

/// `POST /api/v1/calls`: places a call for an agent (click-to-dial). Agents dial
/// from their own extension only; supervisors and administrators name the agent.
pub(crate) async fn dial(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody<DialBody>,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), ApiError> {
    live_roles(&p)?;
    if !valid_number(&body.to) {
        return Err(ApiError::bad_request(
            "to: an extension or an external number, digits with an optional leading +, 1 to 32",
        ));
    }
    let agent = match (p.role, body.from) {
        (Role::Agent, None) => p.own_agent()?.to_owned(),
        (Role::Agent, Some(from)) if p.is_agent(Some(&from)) => from,
        (Role::Agent, Some(_)) => {
            return Err(ApiError::forbidden("agents dial from their own extension"));
        }
        (_, Some(from)) if valid_extension(&from) => from,
        (_, _) => {
            return Err(ApiError::bad_request(
                "from: the agent's extension, digits, 1 to 32",
            ));
        }
    };
    let call_id = shared
        .state
        .live
        .dial(&agent, &body.to, body.auto_answer)
        .await
        .map_err(|r| match r {
            DialRefusal::NotRegistered(_) => ApiError::conflict(r.to_string()),
            DialRefusal::NoRoute(_) => ApiError::not_found(r.to_string()),
            _ => ApiError::unavailable(r.to_string()),
        })?;
    let detail = serde_json::json!({ "agent": agent, "to": body.to });
    shared.audit(&p, "call.dial", &call_id, detail).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "call_id": call_id, "agent": agent, "to": body.to })),
    ))
}

/// `POST /api/v1/calls/{id}/hold`.
pub(crate) async fn hold(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    act(&shared, &p, &id, CallControl::Hold).await
}

/// `POST /api/v1/calls/{id}/resume`.
pub(crate) async fn resume(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    act(&shared, &p, &id, CallControl::Resume).await
}

/// `POST /api/v1/calls/{id}/transfer`.
pub(crate) async fn transfer(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TransferBody>,
) -> Result<StatusCode, ApiError> {
    if !valid_number(&body.to) {
        return Err(ApiError::bad_request(
            "to: an extension or an external number, digits with an optional leading +, 1 to 32",
        ));
    }
    act(&shared, &p, &id, CallControl::Transfer { to: body.to }).await
}

/// `POST /api/v1/calls/{id}/escalate`: the agent is hung up and the caller waits in
/// `queue` at the top priority.
pub(crate) async fn escalate(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<EscalateBody>,
) -> Result<StatusCode, ApiError> {
    let valid = (1..=64).contains(&body.queue.len())
        && body
            .queue
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(ApiError::bad_request("queue: a queue name"));
    }
    let control = CallControl::Escalate {
        queue: body.queue,
        sentiment: None,
    };
    act(&shared, &p, &id, control).await
}

/// `POST /api/v1/calls/{id}/consult`: the caller is held and `to` rings for the agent.
pub(crate) async fn consult(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TransferBody>,
) -> Result<StatusCode, ApiError> {
    if !valid_extension(&body.to) {
        return Err(ApiError::bad_request("to: an extension, digits, 1 to 32"));
    }
    act(&shared, &p, &id, CallControl::Consult { to: body.to }).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/v1/calls/{id}/consult/complete`: the caller and the consulted party
/// talk; the agent's phone gets a BYE.
pub(crate) async fn complete_consult(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    act(&shared, &p, &id, CallControl::CompleteConsult).await
}

/// `DELETE /api/v1/calls/{id}/consult`: the consultation is dropped and the caller
/// talks with the agent again.
pub(crate) async fn cancel_consult(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    act(&shared, &p, &id, CallControl::CancelConsult).await
}

/// `POST /api/v1/calls/{id}/conference`: rings `with` and joins it to the call.
pub(crate) async fn conference(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ConferenceBody>,
) -> Result<StatusCode, ApiError> {
    if !valid_extension(&body.with) {
        return Err(ApiError::bad_request("with: an extension, digits, 1 to 32"));
    }
    live_roles(&p)?;
    let call = visible_call(&shared, &p, &id, "not your call").await?;
    let request = MonitorRequest::Start {
        supervisor: body.with.clone(),
        mode: MonitorMode::Barge,
    };
    shared
        .state
        .live
        .monitor(&id, request)
        .await
        .map_err(|r| conflict_or(r.to_string(), r == MonitorRefusal::NoCall))?;
    let detail = serde_json::json!({ "queue": call.queue, "agent": call.agent, "with": body.with });
    shared.audit(&p, "call.conference", &id, detail).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE /api/v1/calls/{id}/conference`: hangs the third party up.
pub(crate) async fn end_conference(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    live_roles(&p)?;
    let call = visible_call(&shared, &p, &id, "not your call").await?;
    shared
        .state
        .live
        .monitor(&id, MonitorRequest::Stop)
        .await
        .map_err(|r| conflict_or(r.to_string(), r == MonitorRefusal::NoCall))?;
    let detail = serde_json::json!({ "queue": call.queue, "agent": call.agent });
    shared.audit(&p, "call.conference_end", &id, detail).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn conflict_or(message: String, missing: bool) -> ApiError {
    if missing {
        ApiError::not_found(message)
    } else {
        ApiError::conflict(message)
    }
}

/// Checks the caller's role and scope, carries `control` out on call `id`, and
/// audits it.
pub(super) async fn act(
    shared: &AppState,
    p: &Principal,
    id: &str,
    control: CallControl,
) -> Result<StatusCode, ApiError> {
    live_roles(p)?;
    let call = visible_call(shared, p, id, "not your call").await?;
    let (action, to) = match &control {
        CallControl::Hold => ("call.hold", None),
        CallControl::Resume => ("call.resume", None),
        CallControl::Transfer { to } => ("call.transfer", Some(to.clone())),
        CallControl::Consult { to } => ("call.consult", Some(to.clone())),
        CallControl::CompleteConsult => ("call.consult_complete", None),
        CallControl::CancelConsult => ("call.consult_cancel", None),
        CallControl::StartRecording => ("recording.start", None),
        CallControl::StopRecording => ("recording.stop", None),
        CallControl::Escalate { queue, .. } => ("call.escalate", Some(queue.clone())),
    };
    shared
        .state
        .live
        .control(id, control)
        .await
        .map_err(refusal)?;
    let detail = serde_json::json!({ "queue": call.queue, "agent": call.agent, "to": to });
    shared.audit(p, action, id, detail).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn refusal(r: ControlRefusal) -> ApiError {
    match r {
        ControlRefusal::NoCall | ControlRefusal::NotRecorded | ControlRefusal::UnknownQueue(_) => {
            ApiError::not_found(r.to_string())
        }
        ControlRefusal::Unsupported => ApiError::unavailable(r.to_string()),
        _ => ApiError::conflict(r.to_string()),
    }
}
