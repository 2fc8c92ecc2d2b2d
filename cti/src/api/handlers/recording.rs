//! A live call's recording from the desktop: start, pause, resume, stop.
//!
//! `POST /api/v1/calls/{id}/recording` with no body starts recording a connected call
//! that is not being recorded; `POST …/recording/pause` and `…/recording/resume` keep
//! a stretch out of the file (silence keeps its timeline); `DELETE …/recording`
//! finishes the file at once, which is indexed and announced as `recording.ready`
//! (webhooks too). `POST …/recording` with `{"action": "start" | "pause" | "resume" |
//! "stop"}` does the same. Who may: an agent on their own call (to keep a card number
//! out of the recording), a supervisor of the call's queue, an administrator. Each is
//! an audit row: `recording.start`, `recording.pause`, `recording.resume`,
//! `recording.stop`.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::calls::{live_roles, visible_call};
use super::control::act;
use crate::api::auth::Principal;
use crate::api::error::OptionalJsonBody;
use crate::api::live::{CallControl, RecordingAction};
use crate::api::{ApiError, AppState};

/// What `POST /api/v1/calls/{id}/recording` may ask in its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RecordingVerb {
    Start,
    Pause,
    Resume,
    Stop,
}

/// The optional body of `POST /api/v1/calls/{id}/recording`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordingBody {
    action: RecordingVerb,
}

/// `POST /api/v1/calls/{id}/recording`: starts, or does what `action` says.
pub(crate) async fn record(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<RecordingBody>,
) -> Result<StatusCode, ApiError> {
    match body.map_or(RecordingVerb::Start, |b| b.action) {
        RecordingVerb::Start => act(&shared, &p, &id, CallControl::StartRecording).await,
        RecordingVerb::Stop => act(&shared, &p, &id, CallControl::StopRecording).await,
        RecordingVerb::Pause => pause_or_resume(&shared, &p, &id, RecordingAction::Pause).await,
        RecordingVerb::Resume => pause_or_resume(&shared, &p, &id, RecordingAction::Resume).await,
    }
}

/// `POST /api/v1/calls/{id}/recording/pause`.
pub(crate) async fn pause(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    pause_or_resume(&shared, &p, &id, RecordingAction::Pause).await
}

/// `POST /api/v1/calls/{id}/recording/resume`.
pub(crate) async fn resume(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    pause_or_resume(&shared, &p, &id, RecordingAction::Resume).await
}

/// `DELETE /api/v1/calls/{id}/recording`: stops it; the file is ready now.
pub(crate) async fn stop(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    act(&shared, &p, &id, CallControl::StopRecording).await
}

async fn pause_or_resume(
    shared: &AppState,
    p: &Principal,
    id: &str,
    action: RecordingAction,
) -> Result<StatusCode, ApiError> {
    live_roles(p)?;
    let call = visible_call(shared, p, id, "not your call").await?;
    if !shared.state.live.record(id, action).await {
        return Err(ApiError::not_found(format!(
            "call {id} is not being recorded"
        )));
    }
    let audited = match action {
        RecordingAction::Pause => "recording.pause",
        RecordingAction::Resume => "recording.resume",
    };
    let detail = serde_json::json!({ "queue": call.queue, "agent": call.agent });
    shared.audit(p, audited, id, detail).await?;
    Ok(StatusCode::NO_CONTENT)
}
