//! Agents' queues and skills, changed while the node runs (a supervisor moving an
//! agent to a busy queue, an administrator adding a language):
//!
//! - `PUT /api/v1/agents/{id}/queues/{queue}` `{"level": 1, "position": 0}` joins the
//!   queue at that tier (or moves the agent within it);
//! - `DELETE /api/v1/agents/{id}/queues/{queue}` leaves it;
//! - `PUT /api/v1/agents/{id}/skills` `{"skills": {"en": 5}}` replaces the skills.
//!
//! The ACD applies the change at once (a waiting caller may be offered to the agent
//! straight away) and stores it with the agent state, so it outlives a restart.
//! Administrators change anything; a supervisor changes memberships of the queues
//! they supervise, and the skills of agents in those queues. Each change is an audit
//! row.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::calls::live_roles;
use crate::api::auth::{Principal, Role};
use crate::api::error::JsonBody;
use crate::api::live::{MembershipChange, MembershipRefusal};
use crate::api::{ApiError, AppState};

/// The body of `PUT /api/v1/agents/{id}/queues/{queue}`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JoinBody {
    /// The tier, 1 first.
    level: u8,
    /// The place within the tier (linear strategies); last by default.
    #[serde(default)]
    position: Option<u32>,
}

/// The body of `PUT /api/v1/agents/{id}/skills`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkillsBody {
    skills: BTreeMap<String, u8>,
}

/// Most skills one agent has.
const SKILLS_MAX: usize = 64;

fn refusal(r: MembershipRefusal) -> ApiError {
    match r {
        MembershipRefusal::UnknownAgent(_) | MembershipRefusal::UnknownQueue(_) => {
            ApiError::not_found(r.to_string())
        }
        MembershipRefusal::Invalid(_) => ApiError::bad_request(r.to_string()),
        _ => ApiError::unavailable(r.to_string()),
    }
}

/// Administrators, and the supervisors of `queue`.
fn may_change_queue(p: &Principal, queue: &str) -> Result<(), ApiError> {
    live_roles(p)?;
    if p.role == Role::Agent || !p.oversees(std::iter::once(queue)) {
        return Err(ApiError::forbidden("not a queue you supervise"));
    }
    Ok(())
}

/// `PUT /api/v1/agents/{id}/queues/{queue}`.
pub(crate) async fn join(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((agent, queue)): Path<(String, String)>,
    JsonBody(body): JsonBody<JoinBody>,
) -> Result<StatusCode, ApiError> {
    may_change_queue(&p, &queue)?;
    if body.level == 0 {
        return Err(ApiError::bad_request("level: 1 to 255, 1 first"));
    }
    let change = MembershipChange::Join {
        queue: queue.clone(),
        level: body.level,
        position: body.position.unwrap_or(u32::MAX),
    };
    shared
        .state
        .live
        .set_membership(&agent, change)
        .await
        .map_err(refusal)?;
    let detail =
        serde_json::json!({ "queue": queue, "level": body.level, "position": body.position });
    shared.audit(&p, "agent.join_queue", &agent, detail).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/agents/{id}/queues/{queue}`.
pub(crate) async fn leave(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((agent, queue)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    may_change_queue(&p, &queue)?;
    let change = MembershipChange::Leave {
        queue: queue.clone(),
    };
    shared
        .state
        .live
        .set_membership(&agent, change)
        .await
        .map_err(refusal)?;
    let detail = serde_json::json!({ "queue": queue });
    shared
        .audit(&p, "agent.leave_queue", &agent, detail)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/agents/{id}/skills`.
pub(crate) async fn skills(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(agent): Path<String>,
    JsonBody(body): JsonBody<SkillsBody>,
) -> Result<StatusCode, ApiError> {
    live_roles(&p)?;
    if p.role == Role::Agent {
        return Err(ApiError::forbidden("agents do not set skills"));
    }
    let well_formed = body.skills.len() <= SKILLS_MAX
        && body.skills.iter().all(|(name, level)| {
            (1..=5).contains(level)
                && (1..=32).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if !well_formed {
        return Err(ApiError::bad_request(
            "skills: up to 64 of name (1 to 32 of A-Z a-z 0-9 _ -) = level 1 to 5",
        ));
    }
    let live = &shared.state.live;
    let known = live
        .agents()
        .await
        .into_iter()
        .find(|a| a.agent == agent)
        .ok_or_else(|| ApiError::not_found(format!("no agent {agent}")))?;
    if !p.oversees(known.queues.iter().map(String::as_str)) {
        return Err(ApiError::forbidden(
            "the agent is not in a queue you supervise",
        ));
    }
    let skills: Vec<(String, u8)> = body.skills.clone().into_iter().collect();
    live.set_membership(&agent, MembershipChange::Skills(skills))
        .await
        .map_err(refusal)?;
    let detail = serde_json::json!({ "skills": body.skills });
    shared.audit(&p, "agent.skills", &agent, detail).await?;
    Ok(StatusCode::NO_CONTENT)
}
