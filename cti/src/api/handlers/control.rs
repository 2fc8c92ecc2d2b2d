//! Hold, resume and blind transfer of a connected call, from an agent's desktop.
//!
//! `POST /api/v1/calls/{id}/hold`, `…/resume` (no body) and `…/transfer`
//! `{"to": "1004"}`: the agent on the call, a supervisor of its queue, an
//! administrator. Each is an audit row. A refusal that depends on the call's state
//! (not connected, already held) is 409.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::calls::{live_roles, visible_call};
use crate::api::auth::Principal;
use crate::api::error::JsonBody;
use crate::api::live::{CallControl, ControlRefusal};
use crate::api::{ApiError, AppState};

/// The body of `POST /api/v1/calls/{id}/transfer`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransferBody {
    to: String,
}

/// Longest extension accepted.
const EXTENSION_MAX_LEN: usize = 32;

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
    let valid = !body.to.is_empty()
        && body.to.len() <= EXTENSION_MAX_LEN
        && body.to.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return Err(ApiError::bad_request("to: an extension, digits, 1 to 32"));
    }
    act(&shared, &p, &id, CallControl::Transfer { to: body.to }).await
}

async fn act(
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
        ControlRefusal::NoCall => ApiError::not_found(r.to_string()),
        ControlRefusal::Unsupported => ApiError::unavailable(r.to_string()),
        _ => ApiError::conflict(r.to_string()),
    }
}
