//! Supervisor listen / whisper / barge on a live call.
//!
//! `POST /api/v1/calls/{id}/monitor` `{"mode": "listen" | "whisper" | "barge",
//! "extension": "1009"}` rings the supervisor's phone (the `extension` given, or the
//! user's own agent id) and mixes the call for it; the same request on a call the
//! supervisor already monitors changes the mode. `DELETE` hangs the supervisor's leg
//! up. Supervisors may monitor only calls of the queues they supervise; administrators
//! any call; agents and quality analysts none. Every start, change and stop is an
//! audit row.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::calls::visible_call;
use super::valid_extension;
use crate::api::auth::{Principal, Role};
use crate::api::error::JsonBody;
use crate::api::live::{MonitorMode, MonitorRefusal, MonitorRequest};
use crate::api::{ApiError, AppState};

/// The body of `POST /api/v1/calls/{id}/monitor`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MonitorBody {
    mode: MonitorMode,
    /// The phone to ring; the user's own extension when absent.
    #[serde(default)]
    extension: Option<String>,
}

/// `POST /api/v1/calls/{id}/monitor`.
pub(crate) async fn start(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<MonitorBody>,
) -> Result<StatusCode, ApiError> {
    p.require(&[Role::Admin, Role::Supervisor])?;
    let call = visible_call(&shared, &p, &id, "not a call of your queues").await?;
    let supervisor = match body.extension.or_else(|| p.agent.clone()) {
        Some(ext) if valid_extension(&ext) => ext,
        Some(_) => return Err(ApiError::bad_request("extension: digits, 1 to 32")),
        None => {
            return Err(ApiError::bad_request(
                "extension: required (the user has no extension of their own)",
            ));
        }
    };
    let request = MonitorRequest::Start {
        supervisor: supervisor.clone(),
        mode: body.mode,
    };
    shared
        .state
        .live
        .monitor(&id, request)
        .await
        .map_err(refusal)?;
    let detail = serde_json::json!({
        "mode": body.mode,
        "extension": supervisor,
        "queue": call.queue,
        "agent": call.agent,
    });
    shared.audit(&p, "call.monitor", &id, detail).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE /api/v1/calls/{id}/monitor`.
pub(crate) async fn stop(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&[Role::Admin, Role::Supervisor])?;
    let call = visible_call(&shared, &p, &id, "not a call of your queues").await?;
    shared
        .state
        .live
        .monitor(&id, MonitorRequest::Stop)
        .await
        .map_err(refusal)?;
    let detail = serde_json::json!({ "queue": call.queue, "agent": call.agent });
    shared.audit(&p, "call.monitor_stop", &id, detail).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The HTTP answer to a refusal.
fn refusal(r: MonitorRefusal) -> ApiError {
    match r {
        MonitorRefusal::NoCall => ApiError::not_found(r.to_string()),
        MonitorRefusal::NoMedia | MonitorRefusal::Unsupported => {
            ApiError::unavailable(r.to_string())
        }
        _ => ApiError::conflict(r.to_string()),
    }
}
