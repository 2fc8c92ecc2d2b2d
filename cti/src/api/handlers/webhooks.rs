//! Webhook subscriptions (admin): create, list, remove, and each one's
//! deliveries. Creating and removing are audited; the audit row names the
//! receiver's host and the events, never the URL's path or the secret.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::page_limit;
use crate::api::auth::{Principal, Role};
use crate::api::error::{JsonBody, QueryArgs};
use crate::api::users::hex;
use crate::api::{ApiError, AppState};
use crate::webhooks::{self, DeliveryState, Destination, EVENTS, outbox};

/// The most subscriptions a node keeps.
const MAX_WEBHOOKS: usize = 100;

/// `POST /api/v1/webhooks` body. No `Debug`: it may hold the secret.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebhook {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    secret: Option<String>,
}

/// `POST /api/v1/webhooks` (admin): subscribes `url` to `events`; the
/// answer carries the secret, generated when none was given, this once.
pub(crate) async fn create(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody<NewWebhook>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin])?;
    let dest = Destination::parse(&body.url).ok_or_else(|| {
        ApiError::bad_request(
            "invalid url: expected http[s]://HOST[:PORT][/PATH][?QUERY], printable ASCII",
        )
    })?;
    let events = event_names(&body.events)?;
    let (secret, generated) = chosen_secret(body.secret)?;
    let store = &shared.state.store;
    if outbox::list(store).await?.len() >= MAX_WEBHOOKS {
        return Err(ApiError::conflict(format!(
            "the node keeps at most {MAX_WEBHOOKS} webhooks"
        )));
    }
    let id = format!("wh_{}", hex(&rand::random::<[u8; 8]>()));
    let created_at = shared.state.clock.now_ms();
    outbox::insert(
        store,
        &outbox::NewRow {
            id: &id,
            url: &body.url,
            events: &events,
            secret: &secret,
            after_seq: shared.state.events.last_seq(),
            created_at,
            created_by: &p.user,
        },
    )
    .await?;
    let detail = serde_json::json!({
        "host": dest.host(), "events": events, "secret": if generated { "generated" } else { "given" },
    });
    shared.audit(&p, "webhook.create", &id, detail).await?;
    let answer = serde_json::json!({
        "id": id, "url": body.url, "events": events, "created_at": created_at,
        "created_by": p.user, "secret": secret,
    });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// The given secret when acceptable, or a generated one; whether it was
/// generated.
fn chosen_secret(given: Option<String>) -> Result<(String, bool), ApiError> {
    match given {
        Some(s) if webhooks::acceptable_secret(&s) => Ok((s, false)),
        Some(_) => Err(ApiError::bad_request(
            "invalid secret: 16 to 128 printable ASCII characters, no spaces",
        )),
        None => Ok((webhooks::generate_secret(), true)),
    }
}

/// The requested event names, checked and without repeats.
fn event_names(requested: &[String]) -> Result<Vec<String>, ApiError> {
    let accepted: Vec<&str> = EVENTS.iter().map(|k| k.as_str()).collect();
    let mut names: Vec<String> = Vec::new();
    for name in requested {
        if !accepted.contains(&name.as_str()) {
            return Err(ApiError::bad_request(format!(
                "unknown event {name:?}: expected some of {}",
                accepted.join(", ")
            )));
        }
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    if names.is_empty() {
        return Err(ApiError::bad_request("events: name at least one event"));
    }
    Ok(names)
}

/// `GET /api/v1/webhooks` (admin): every subscription, without secrets.
pub(crate) async fn list(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin])?;
    Ok(Json(outbox::list(&shared.state.store).await?).into_response())
}

/// `DELETE /api/v1/webhooks/{id}` (admin): removes the subscription and
/// its outbox rows (deliveries not yet made are dropped).
pub(crate) async fn remove(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&[Role::Admin])?;
    if !outbox::remove(&shared.state.store, &id).await? {
        return Err(ApiError::not_found(format!("no webhook {id}")));
    }
    shared
        .audit(&p, "webhook.remove", &id, serde_json::json!({}))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/webhooks/{id}/deliveries` query.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveriesQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/v1/webhooks/{id}/deliveries?state=&limit=` (admin): the
/// subscription's deliveries, newest event first.
pub(crate) async fn deliveries(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<DeliveriesQuery>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin])?;
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(DeliveryState::parse(s).ok_or_else(|| {
            ApiError::bad_request("state: expected pending, delivered or failed")
        })?),
    };
    let store = &shared.state.store;
    if !outbox::exists(store, &id).await? {
        return Err(ApiError::not_found(format!("no webhook {id}")));
    }
    let rows = outbox::deliveries(store, &id, state, page_limit(q.limit)).await?;
    Ok(Json(rows).into_response())
}
