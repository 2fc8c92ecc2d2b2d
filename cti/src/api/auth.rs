//! Who is calling: roles, the principal a bearer token names, the
//! middleware that checks tokens and rate limits, and login/logout.
//!
//! The token comes from `Authorization: Bearer TOKEN`; on the event stream
//! only, browsers that cannot set headers on a WebSocket may pass it as the
//! `access_token` query parameter (RFC 6750 §2.3). Neither is ever logged.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::JsonBody;
use super::users::{self, TokenKind};
use super::{ApiError, AppState, Shared};

/// What a user may do; see `docs/api.md` for the full table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Everything, including users, extensions and the audit log.
    Admin,
    /// Live view and control of their queues; reports and recordings.
    Supervisor,
    /// Their own calls, state, mailbox and screen pops.
    Agent,
    /// Reports and recordings, no live control.
    QualityAnalyst,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [
        Self::Admin,
        Self::Supervisor,
        Self::Agent,
        Self::QualityAnalyst,
    ];

    /// The stored and JSON token: `admin`, `supervisor`, `agent`,
    /// `quality_analyst`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Supervisor => "supervisor",
            Self::Agent => "agent",
            Self::QualityAnalyst => "quality_analyst",
        }
    }

    /// The role whose token is `token`.
    #[must_use]
    pub fn parse(token: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == token)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authenticated caller of a request.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    /// User name.
    pub user: String,
    /// Role.
    pub role: Role,
    /// Agent id (extension), if the user takes calls.
    pub agent: Option<String>,
    /// The queues the user supervises.
    pub queues: Vec<String>,
    /// Hash of the token the request carried (empty for [`Principal::local`]).
    pub(crate) token_hash: String,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("user", &self.user)
            .field("role", &self.role)
            .field("agent", &self.agent)
            .field("queues", &self.queues)
            .finish_non_exhaustive()
    }
}

impl Principal {
    /// The operator at the node's console (the CLI): an administrator
    /// named `local`.
    #[must_use]
    pub fn local() -> Self {
        Self {
            user: "local".to_owned(),
            role: Role::Admin,
            agent: None,
            queues: Vec::new(),
            token_hash: String::new(),
        }
    }

    /// Ok when the role is one of `roles`, else 403.
    pub(crate) fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "the {} role may not do this",
                self.role
            )))
        }
    }

    /// Whether this user supervises one of `queues` (admins: always).
    pub(crate) fn oversees<'a>(&self, mut queues: impl Iterator<Item = &'a str>) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Supervisor => queues.any(|q| self.queues.iter().any(|mine| mine == q)),
            Role::Agent | Role::QualityAnalyst => false,
        }
    }

    /// Whether `agent` is this user's own agent id.
    pub(crate) fn is_agent(&self, agent: Option<&str>) -> bool {
        matches!((self.agent.as_deref(), agent), (Some(mine), Some(a)) if mine == a)
    }

    /// The user's agent id, or 403 for users without one.
    pub(crate) fn own_agent(&self) -> Result<&str, ApiError> {
        self.agent
            .as_deref()
            .ok_or_else(|| ApiError::forbidden("this user has no agent id"))
    }
}

/// `/api/v1/me` and login answers: the user without secrets.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Me<'a> {
    name: &'a str,
    role: Role,
    agent: Option<&'a str>,
    queues: &'a [String],
}

impl<'a> From<&'a Principal> for Me<'a> {
    fn from(p: &'a Principal) -> Self {
        Self {
            name: &p.user,
            role: p.role,
            agent: p.agent.as_deref(),
            queues: &p.queues,
        }
    }
}

/// The client's address, when the server was given it (see [`super::serve`]).
pub(crate) struct ClientAddr(pub(crate) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(Self(addr))
    }
}

/// The token a request carries: the bearer header, or on the event stream
/// the `access_token` query parameter.
fn bearer(req: &Request) -> Option<String> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        return bearer_token(value.to_str().ok()?);
    }
    if req.uri().path() != "/api/v1/events" {
        return None;
    }
    req.uri()
        .query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "access_token")
        .map(|(_, v)| v.to_owned())
        .filter(|t| !t.is_empty())
}

/// Middleware: checks the token, applies the per-token rate limit and hands
/// the [`Principal`] to the handler.
pub(crate) async fn authenticate(
    State(shared): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let principal = match identify(&shared, bearer(&req).as_deref()).await {
        Ok(p) => p,
        Err(e) => return challenge(e),
    };
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// The token of an `Authorization` value `Bearer TOKEN` (scheme in any
/// case).
pub(crate) fn bearer_token(value: &str) -> Option<String> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The principal `token` names, after one request of its rate limit: 401
/// without a token or with an unknown or expired one, 429 when its bucket
/// is empty. Every transport of the API checks tokens here.
pub(crate) async fn identify(shared: &Shared, token: Option<&str>) -> Result<Principal, ApiError> {
    let token = token.ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
    let now = shared.state.clock.now_ms();
    // The bucket is checked before the store is asked: a flooded token is
    // refused for the price of a hash, not of a database lookup.
    shared
        .limits
        .take_request(&users::token_hash(token), now)
        .map_err(ApiError::too_many_requests)?;
    users::authenticate(&shared.state.store, token, now)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown or expired token"))
}

/// `e` as a response; a 401 also names the scheme (`WWW-Authenticate`).
fn challenge(e: ApiError) -> Response {
    let unauthorized = e.status() == StatusCode::UNAUTHORIZED;
    let mut response = e.into_response();
    if unauthorized {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// `POST /api/v1/login` body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    user: String,
    password: String,
}

/// `POST /api/v1/login`: a session token for a user name and password.
pub(crate) async fn login(
    State(shared): State<AppState>,
    ClientAddr(addr): ClientAddr,
    JsonBody(body): JsonBody<Login>,
) -> Result<Response, ApiError> {
    let state = &shared.state;
    let now = state.clock.now_ms();
    if let Err(retry_s) = shared.limits.take_login(addr, now) {
        return Err(ApiError::too_many_requests(retry_s));
    }
    if !users::check_password(&state.store, &body.user, &body.password).await? {
        tracing::info!(user = %body.user, "API login refused");
        return Err(ApiError::unauthorized("wrong user name or password"));
    }
    let ttl = i64::try_from(state.config.session_ttl.as_millis()).unwrap_or(i64::MAX);
    let expires = now.saturating_add(ttl);
    let issued = users::issue(
        &state.store,
        &body.user,
        TokenKind::Session,
        None,
        Some(expires),
        now,
    )
    .await?;
    let principal = users::authenticate(&state.store, &issued.token, now)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the user was removed"))?;
    tracing::info!(user = %principal.user, role = %principal.role, "API login");
    let body = serde_json::json!({
        "token": issued.token,
        "expires_at": issued.expires_at,
        "user": Me::from(&principal),
    });
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// `POST /api/v1/logout`: revokes the token the request carries.
pub(crate) async fn logout(
    State(shared): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<StatusCode, ApiError> {
    users::revoke(&shared.state.store, &p.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/me`: the caller's user.
pub(crate) async fn me(axum::Extension(p): axum::Extension<Principal>) -> Response {
    Json(Me::from(&p)).into_response()
}
