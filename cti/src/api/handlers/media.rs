//! Recordings (of calls and of conference rooms) and voicemail: listings and
//! WAV downloads, streamed from the files the node wrote.
//!
//! Recordings: quality analysts, supervisors and administrators; every
//! download is audited. Voicemail: administrators and supervisors any
//! mailbox (audited), agents only the mailbox named by their agent id.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use sqlx::Row as _;
use tokio::io::AsyncReadExt as _;

use crate::api::auth::{Principal, Role};
use crate::api::error::QueryArgs;
use crate::api::{ApiError, AppState};
use crate::store::Db;

use super::page_limit;

/// Bytes read from a file per chunk of the response.
const CHUNK: usize = 64 * 1024;

/// `GET /api/v1/recordings/{cdr_id}`: the call's WAV file.
pub(crate) async fn recording(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(cdr_id): Path<String>,
) -> Result<Response, ApiError> {
    p.require(RECORDING_ROLES)?;
    let rec = shared
        .state
        .store
        .recording(&cdr_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no recording of call {cdr_id}")))?;
    let response = wav_file(std::path::Path::new(&rec.path), &rec.cdr_id).await?;
    shared
        .audit(&p, "recording.read", &rec.cdr_id, serde_json::json!({}))
        .await?;
    Ok(response)
}

/// Who may list and download recordings, of calls and of conference rooms.
const RECORDING_ROLES: &[Role] = &[Role::Admin, Role::Supervisor, Role::QualityAnalyst];

/// `GET /api/v1/conference-recordings` query.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConferenceRecordingQuery {
    /// Only this room's recordings.
    room: Option<String>,
    /// Page size, as [`page_limit`] reads it.
    limit: Option<u32>,
}

/// `GET /api/v1/conference-recordings?room=R&limit=N`: conference rooms'
/// recordings, newest first (without their file paths).
pub(crate) async fn conference_recordings(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryArgs(q): QueryArgs<ConferenceRecordingQuery>,
) -> Result<Response, ApiError> {
    p.require(RECORDING_ROLES)?;
    let list = shared
        .state
        .store
        .conference_recordings(q.room.as_deref(), i64::from(page_limit(q.limit)))
        .await?;
    Ok(Json(list).into_response())
}

/// `GET /api/v1/conference-recordings/{id}/audio`: the room's WAV file.
pub(crate) async fn conference_recording_audio(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    p.require(RECORDING_ROLES)?;
    let rec = shared
        .state
        .store
        .conference_recording(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no conference recording {id}")))?;
    let response = wav_file(std::path::Path::new(&rec.path), &rec.id).await?;
    let detail = serde_json::json!({ "room": rec.room });
    shared.audit(&p, "recording.read", &rec.id, detail).await?;
    Ok(response)
}

/// `GET /api/v1/voicemails` query.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MailboxQuery {
    mailbox: String,
}

/// A message as listed (without its file path).
#[derive(serde::Serialize)]
struct VoicemailView {
    id: String,
    mailbox: String,
    cdr_id: String,
    caller: String,
    duration_ms: i64,
    created_at: i64,
}

/// Ok when `p` may open `mailbox`.
fn may_open(p: &Principal, mailbox: &str) -> Result<(), ApiError> {
    match p.role {
        Role::Admin | Role::Supervisor => Ok(()),
        Role::Agent if p.is_agent(Some(mailbox)) => Ok(()),
        Role::Agent => Err(ApiError::forbidden(
            "agents may open only their own mailbox",
        )),
        Role::QualityAnalyst => Err(ApiError::forbidden(
            "the quality_analyst role may not open mailboxes",
        )),
    }
}

/// `GET /api/v1/voicemails?mailbox=M`: the mailbox's messages, newest first.
pub(crate) async fn voicemails(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryArgs(q): QueryArgs<MailboxQuery>,
) -> Result<Response, ApiError> {
    may_open(&p, &q.mailbox)?;
    let list: Vec<VoicemailView> = shared
        .state
        .store
        .voicemails(&q.mailbox)
        .await?
        .into_iter()
        .map(|v| VoicemailView {
            id: v.id,
            mailbox: v.mailbox,
            cdr_id: v.cdr_id,
            caller: v.caller,
            duration_ms: v.duration_ms,
            created_at: v.created_at,
        })
        .collect();
    Ok(Json(list).into_response())
}

/// `GET /api/v1/voicemails/{id}/audio`: the message's WAV file.
pub(crate) async fn voicemail_audio(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin, Role::Supervisor, Role::Agent])?;
    let row = sqlx::query::<Db>("SELECT mailbox, path FROM voicemails WHERE id = $1")
        .bind(&id)
        .fetch_optional(shared.state.store.pool())
        .await?;
    let missing = || ApiError::not_found(format!("no voicemail {id}"));
    let row = row.ok_or_else(missing)?;
    let mailbox: String = row.try_get("mailbox")?;
    let path: String = row.try_get("path")?;
    // An agent learns nothing about other mailboxes' messages.
    may_open(&p, &mailbox).map_err(|_| missing())?;
    let response = wav_file(std::path::Path::new(&path), &id).await?;
    if p.role != Role::Agent {
        let detail = serde_json::json!({ "mailbox": mailbox });
        shared.audit(&p, "voicemail.read", &id, detail).await?;
    }
    Ok(response)
}

/// Streams the WAV file at `path` as `NAME.wav`.
async fn wav_file(path: &std::path::Path, name: &str) -> Result<Response, ApiError> {
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "audio file unreadable");
            return Err(ApiError::not_found("the audio file is missing"));
        }
    };
    let len = file.metadata().await.map(|m| m.len()).ok();
    let body = Body::from_stream(futures_util::stream::unfold(
        Some(file),
        |file| async move {
            let mut file = file?;
            let mut buf = vec![0u8; CHUNK];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::io::Error>(Bytes::from(buf)), Some(file)))
                }
                Err(e) => Some((Err(e), None)),
            }
        },
    ));
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let mut response = (
        [
            (header::CONTENT_TYPE, "audio/wav".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}.wav\""),
            ),
        ],
        body,
    )
        .into_response();
    if let Some(len) = len {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, header::HeaderValue::from(len));
    }
    Ok(response)
}
