//! Callbacks asked for ahead: `POST /api/v1/queues/{queue}/callbacks`
//! `{"number": "+15551234567"}` (a web page's "call me back", an integration's
//! scheduled call) and `DELETE /api/v1/queues/{queue}/callbacks/{id}` while it
//! still waits.
//!
//! The callback waits in the queue like a caller who kept their place (never
//! announced, never timed out, not counted toward `max_len`); the first agent free
//! for it is rung, then the number, by extension or trunk. Administrators and the
//! queue's supervisors ask and withdraw; each is an audit row.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::valid_number;
use crate::api::auth::{Principal, Role};
use crate::api::error::JsonBody;
use crate::api::live::CallbackRefusal;
use crate::api::{ApiError, AppState};

/// The body of `POST /api/v1/queues/{queue}/callbacks`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallbackBody {
    number: String,
    /// Higher first among the queue's callers; 0 by default.
    #[serde(default)]
    priority: i32,
}

/// Only administrators and the queue's supervisors.
fn may_manage(p: &Principal, queue: &str) -> Result<(), ApiError> {
    p.require(&[Role::Admin, Role::Supervisor])?;
    if p.oversees(std::iter::once(queue)) {
        Ok(())
    } else {
        Err(ApiError::forbidden("not your queue"))
    }
}

fn refusal(r: CallbackRefusal) -> ApiError {
    match r {
        CallbackRefusal::UnknownQueue(_) | CallbackRefusal::Unknown(_) => {
            ApiError::not_found(r.to_string())
        }
        CallbackRefusal::InProgress(_) => ApiError::conflict(r.to_string()),
        _ => ApiError::unavailable(r.to_string()),
    }
}

/// `POST /api/v1/queues/{queue}/callbacks`.
pub(crate) async fn request(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(queue): Path<String>,
    JsonBody(body): JsonBody<CallbackBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    may_manage(&p, &queue)?;
    if !valid_number(&body.number) {
        return Err(ApiError::bad_request(
            "number: an extension or an external number, digits with an optional leading +, 1 to 32",
        ));
    }
    let id = shared
        .state
        .live
        .request_callback(&queue, &body.number, body.priority)
        .await
        .map_err(refusal)?;
    // The number is the customer's: the audit row keeps the queue only.
    let detail = serde_json::json!({ "queue": queue, "priority": body.priority });
    shared.audit(&p, "callback.request", &id, detail).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "callback_id": id, "queue": queue })),
    ))
}

/// `DELETE /api/v1/queues/{queue}/callbacks/{id}`.
pub(crate) async fn cancel(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((queue, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    may_manage(&p, &queue)?;
    shared
        .state
        .live
        .cancel_callback(&queue, &id)
        .await
        .map_err(refusal)?;
    let detail = serde_json::json!({ "queue": queue });
    shared.audit(&p, "callback.cancel", &id, detail).await?;
    Ok(StatusCode::NO_CONTENT)
}
