//! Administration: users and tokens, extensions, the audit log.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::page_limit;
use crate::api::audit;
use crate::api::auth::{Principal, Role};
use crate::api::error::{JsonBody, QueryArgs};
use crate::api::users::{self, NewUser, TokenKind};
use crate::api::{ApiError, AppState};
use crate::store::{SrtpPolicy, generate_password};

/// `GET /api/v1/users` (admin).
pub(crate) async fn list_users(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin])?;
    let users = users::list(&shared.state.store).await?;
    Ok(Json(users).into_response())
}

/// `POST /api/v1/users` body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddUser {
    name: String,
    password: String,
    role: Role,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    queues: Vec<String>,
}

/// `POST /api/v1/users` (admin): creates a user and an API token for them.
pub(crate) async fn add_user(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody<AddUser>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin])?;
    let store = &shared.state.store;
    let now = shared.state.clock.now_ms();
    let user = NewUser {
        name: body.name,
        password: body.password,
        role: body.role,
        agent: body.agent,
        queues: body.queues,
    };
    users::insert(store, &user, now).await?;
    let token = users::issue(
        store,
        &user.name,
        TokenKind::Api,
        Some("initial"),
        None,
        now,
    )
    .await?;
    let detail =
        serde_json::json!({ "role": user.role, "agent": user.agent, "queues": user.queues });
    shared
        .audit(&p, "user.create", &user.name, detail.clone())
        .await?;
    let body = serde_json::json!({
        "user": { "name": user.name, "role": user.role, "agent": user.agent, "queues": user.queues },
        "token": token.token,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `DELETE /api/v1/users/{name}` (admin): removes a user and their tokens.
pub(crate) async fn remove_user(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&[Role::Admin])?;
    if name == p.user {
        return Err(ApiError::bad_request(
            "an administrator cannot remove themself",
        ));
    }
    if !users::remove(&shared.state.store, &name).await? {
        return Err(ApiError::not_found(format!("no user {name}")));
    }
    shared
        .audit(&p, "user.remove", &name, serde_json::json!({}))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/{name}/tokens` body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IssueToken {
    #[serde(default)]
    label: Option<String>,
}

/// `POST /api/v1/users/{name}/tokens` (admin): a new API token, shown once.
pub(crate) async fn issue_token(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<IssueToken>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin])?;
    if body
        .label
        .as_deref()
        .is_some_and(|l| l.chars().count() > 64 || l.chars().any(char::is_control))
    {
        return Err(ApiError::bad_request(
            "invalid label: at most 64 printable characters",
        ));
    }
    let now = shared.state.clock.now_ms();
    let token = users::issue(
        &shared.state.store,
        &name,
        TokenKind::Api,
        body.label.as_deref(),
        None,
        now,
    )
    .await?;
    let detail = serde_json::json!({ "label": body.label });
    shared.audit(&p, "token.issue", &name, detail).await?;
    let body = serde_json::json!({ "user": name, "token": token.token });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /api/v1/audit` query.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct AuditQuery {
    after: Option<i64>,
    limit: Option<u32>,
}

/// `GET /api/v1/audit` (admin): rows after `after`, oldest first.
pub(crate) async fn audit_log(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryArgs(q): QueryArgs<AuditQuery>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin])?;
    let rows = audit::entries(
        &shared.state.store,
        q.after.unwrap_or(0),
        page_limit(q.limit),
    )
    .await?;
    Ok(Json(rows).into_response())
}

/// `GET /api/v1/audit/verify` (admin): recomputes the whole chain.
pub(crate) async fn audit_verify(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin])?;
    let verdict = audit::verify(&shared.state.store).await?;
    Ok(Json(verdict).into_response())
}

/// An extension as listed: never its HA1 values.
#[derive(serde::Serialize)]
struct ExtensionView {
    ext: String,
    display_name: Option<String>,
    realm: String,
    created_at: i64,
    srtp: SrtpPolicy,
}

/// `GET /api/v1/extensions` (admin, supervisor).
pub(crate) async fn list_extensions(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin, Role::Supervisor])?;
    let list: Vec<ExtensionView> = shared
        .state
        .store
        .list_extensions()
        .await?
        .into_iter()
        .map(|e| ExtensionView {
            ext: e.ext,
            display_name: e.display_name,
            realm: e.realm,
            created_at: e.created_at,
            srtp: e.srtp,
        })
        .collect();
    Ok(Json(list).into_response())
}

/// `POST /api/v1/extensions` body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddExtension {
    ext: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    /// Whether its legs must be SRTP; `optional` when absent.
    #[serde(default)]
    srtp: SrtpPolicy,
}

/// `POST /api/v1/extensions` (admin): provisions an extension; a password
/// generated here is returned once.
pub(crate) async fn add_extension(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody<AddExtension>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin])?;
    let generated = body.password.is_none();
    let password = body
        .password
        .unwrap_or_else(|| generate_password(&mut rand::rng()));
    let now_s = shared.state.clock.now_ms() / 1000;
    shared
        .state
        .store
        .add_extension(
            &body.ext,
            &password,
            &shared.state.config.realm,
            body.display_name.as_deref(),
            body.srtp,
            now_s,
        )
        .await?;
    let detail = serde_json::json!({ "display_name": body.display_name, "srtp": body.srtp });
    shared.audit(&p, "extension.add", &body.ext, detail).await?;
    let mut answer = serde_json::json!({ "ext": body.ext });
    if generated {
        answer["password"] = serde_json::Value::String(password);
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `PATCH /api/v1/extensions/{ext}` body: what changes.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateExtension {
    srtp: SrtpPolicy,
}

/// `PATCH /api/v1/extensions/{ext}` (admin): changes whether the extension's legs
/// must be SRTP; the next leg the node offers it follows, a call already up keeps
/// its legs.
pub(crate) async fn update_extension(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(ext): Path<String>,
    JsonBody(body): JsonBody<UpdateExtension>,
) -> Result<StatusCode, ApiError> {
    p.require(&[Role::Admin])?;
    if !shared
        .state
        .store
        .set_extension_srtp(&ext, body.srtp)
        .await?
    {
        return Err(ApiError::not_found(format!("no extension {ext}")));
    }
    let detail = serde_json::json!({ "srtp": body.srtp });
    shared.audit(&p, "extension.update", &ext, detail).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/extensions/{ext}` (admin).
pub(crate) async fn remove_extension(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(ext): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&[Role::Admin])?;
    if !shared.state.store.remove_extension(&ext).await? {
        return Err(ApiError::not_found(format!("no extension {ext}")));
    }
    shared
        .audit(&p, "extension.remove", &ext, serde_json::json!({}))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
