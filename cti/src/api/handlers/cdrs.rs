//! Call detail records: search with filters and keyset pagination, CSV export of
//! the same search, and the agent's wrap-up of an ended call (`PUT
//! /api/v1/cdrs/{id}/wrap-up`: a disposition code, notes, and optionally the end
//! of the agent's wrap-up time).
//!
//! Administrators, supervisors and quality analysts see every record;
//! agents only those they took, made or received (their agent id as
//! `agent`, `caller` or `callee`). Exports are audited.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use sqlx::Row as _;
use tokio::sync::mpsc;

use super::page_limit;
use crate::api::auth::{Principal, Role};
use crate::api::error::{JsonBody, QueryArgs};
use crate::api::{ApiError, AppState, Event, EventKind};
use crate::store::{Db, Disposition, Store, WrapUp};

/// Rows per query of an export.
const EXPORT_PAGE: u32 = 1000;
/// Most rows one export carries.
const EXPORT_MAX: usize = 1_000_000;

/// Filters of `GET /api/v1/cdrs` and `GET /api/v1/cdrs.csv`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CdrQuery {
    /// Calls that ended at or after this time (unix ms).
    from: Option<i64>,
    /// Calls that ended before this time (unix ms).
    to: Option<i64>,
    caller: Option<String>,
    callee: Option<String>,
    queue: Option<String>,
    agent: Option<String>,
    disposition: Option<String>,
    /// Calls wrapped up with this code.
    wrap_up_code: Option<String>,
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Where a page starts: below this (ended_at, id).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    ended_at: i64,
    id: String,
}

impl Cursor {
    fn parse(text: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_request("invalid cursor: pass next_cursor back unchanged");
        let (at, id) = text.split_once('_').ok_or_else(bad)?;
        Ok(Self {
            ended_at: at.parse().map_err(|_| bad())?,
            id: id.to_owned(),
        })
    }

    fn text(&self) -> String {
        format!("{}_{}", self.ended_at, self.id)
    }
}

/// A search, checked and scoped to what the caller may see.
#[derive(Debug, Clone)]
struct Search {
    q: CdrQuery,
    disposition: Option<Disposition>,
    /// Agents: their agent id, which must be the record's agent, caller or
    /// callee.
    own: Option<String>,
}

impl Search {
    fn new(p: &Principal, q: CdrQuery) -> Result<Self, ApiError> {
        let own = match p.role {
            Role::Admin | Role::Supervisor | Role::QualityAnalyst => None,
            Role::Agent => Some(p.own_agent()?.to_owned()),
        };
        let disposition = match q.disposition.as_deref() {
            None => None,
            Some(d) => Some(Disposition::parse(d).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid disposition: expected answered, busy, no_answer, cancelled, failed, unavailable or not_found",
                )
            })?),
        };
        Ok(Self {
            q,
            disposition,
            own,
        })
    }

    /// One page: at most `limit` rows below `cursor`, newest first.
    fn query(&self, cursor: Option<&Cursor>, limit: u32) -> sqlx::QueryBuilder<Db> {
        let mut b = sqlx::QueryBuilder::new(
            "SELECT id, call_id, caller, callee, started_at, answered_at, ended_at, disposition, \
             hangup_cause, sip_status, duration_ms, billsec_ms, queue, queue_wait_ms, agent, \
             ivr_path, ivr_outcome, caller_mos, callee_mos, wrap_up_code, wrap_up_notes, \
             (SELECT COUNT(*) FROM recordings r WHERE r.cdr_id = cdrs.id) AS recordings \
             FROM cdrs WHERE 1 = 1",
        );
        let q = &self.q;
        if let Some(from) = q.from {
            b.push(" AND ended_at >= ").push_bind(from);
        }
        if let Some(to) = q.to {
            b.push(" AND ended_at < ").push_bind(to);
        }
        for (column, value) in [
            ("caller", &q.caller),
            ("callee", &q.callee),
            ("queue", &q.queue),
            ("agent", &q.agent),
            ("wrap_up_code", &q.wrap_up_code),
        ] {
            if let Some(v) = value {
                b.push(format_args!(" AND {column} = "))
                    .push_bind(v.clone());
            }
        }
        if let Some(d) = self.disposition {
            b.push(" AND disposition = ").push_bind(d.as_str());
        }
        if let Some(me) = &self.own {
            b.push(" AND (agent = ").push_bind(me.clone());
            b.push(" OR caller = ").push_bind(me.clone());
            b.push(" OR callee = ").push_bind(me.clone()).push(")");
        }
        if let Some(c) = cursor {
            b.push(" AND (ended_at < ").push_bind(c.ended_at);
            b.push(" OR (ended_at = ").push_bind(c.ended_at);
            b.push(" AND id < ").push_bind(c.id.clone()).push("))");
        }
        b.push(" ORDER BY ended_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit));
        b
    }

    async fn page(
        &self,
        store: &Store,
        cursor: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<CdrView>, ApiError> {
        let rows = self
            .query(cursor, limit)
            .build()
            .fetch_all(store.pool())
            .await?;
        rows.iter()
            .map(view_from_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}

/// A record as the API shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct CdrView {
    id: String,
    call_id: String,
    caller: String,
    callee: String,
    started_at: i64,
    answered_at: Option<i64>,
    ended_at: i64,
    disposition: String,
    hangup_cause: String,
    sip_status: Option<i64>,
    duration_ms: i64,
    billsec_ms: i64,
    queue: Option<String>,
    queue_wait_ms: Option<i64>,
    agent: Option<String>,
    ivr_path: Option<String>,
    ivr_outcome: Option<String>,
    caller_mos: Option<f64>,
    callee_mos: Option<f64>,
    recorded: bool,
    wrap_up_code: Option<String>,
    wrap_up_notes: Option<String>,
}

fn view_from_row(row: &<Db as sqlx::Database>::Row) -> Result<CdrView, sqlx::Error> {
    Ok(CdrView {
        id: row.try_get("id")?,
        call_id: row.try_get("call_id")?,
        caller: row.try_get("caller")?,
        callee: row.try_get("callee")?,
        started_at: row.try_get("started_at")?,
        answered_at: row.try_get("answered_at")?,
        ended_at: row.try_get("ended_at")?,
        disposition: row.try_get("disposition")?,
        hangup_cause: row.try_get("hangup_cause")?,
        sip_status: row.try_get("sip_status")?,
        duration_ms: row.try_get("duration_ms")?,
        billsec_ms: row.try_get("billsec_ms")?,
        queue: row.try_get("queue")?,
        queue_wait_ms: row.try_get("queue_wait_ms")?,
        agent: row.try_get("agent")?,
        ivr_path: row.try_get("ivr_path")?,
        ivr_outcome: row.try_get("ivr_outcome")?,
        caller_mos: row.try_get("caller_mos")?,
        callee_mos: row.try_get("callee_mos")?,
        recorded: row.try_get::<i64, _>("recordings")? > 0,
        wrap_up_code: row.try_get("wrap_up_code")?,
        wrap_up_notes: row.try_get("wrap_up_notes")?,
    })
}

/// `GET /api/v1/cdrs`: one page, newest first, and the cursor of the next.
pub(crate) async fn search(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryArgs(q): QueryArgs<CdrQuery>,
) -> Result<Response, ApiError> {
    let cursor = q.cursor.as_deref().map(Cursor::parse).transpose()?;
    let limit = page_limit(q.limit);
    let search = Search::new(&p, q)?;
    let mut items = search
        .page(&shared.state.store, cursor.as_ref(), limit + 1)
        .await?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|last| {
            Cursor {
                ended_at: last.ended_at,
                id: last.id.clone(),
            }
            .text()
        })
    } else {
        None
    };
    Ok(Json(serde_json::json!({ "items": items, "next_cursor": next_cursor })).into_response())
}

/// `GET /api/v1/cdrs.csv`: the whole search as CSV, streamed.
pub(crate) async fn export_csv(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryArgs(q): QueryArgs<CdrQuery>,
) -> Result<Response, ApiError> {
    if q.cursor.is_some() || q.limit.is_some() {
        return Err(ApiError::bad_request(
            "an export takes filters only, not limit or cursor",
        ));
    }
    let search = Search::new(&p, q)?;
    let first = search.page(&shared.state.store, None, EXPORT_PAGE).await?;
    shared
        .audit(&p, "cdr.export", "cdrs", filters_detail(&search.q))
        .await?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(export_rows(shared.state.store.clone(), search, first, tx));
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"cdrs.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// The filters of an export, for its audit row.
fn filters_detail(q: &CdrQuery) -> serde_json::Value {
    serde_json::json!({
        "from": q.from, "to": q.to, "caller": q.caller, "callee": q.callee,
        "queue": q.queue, "agent": q.agent, "disposition": q.disposition,
    })
}

/// Sends the header, `first` and the following pages as CSV chunks.
async fn export_rows(
    store: Store,
    search: Search,
    first: Vec<CdrView>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let mut page = first;
    let mut sent = 0usize;
    let mut chunk = csv_header();
    loop {
        for row in &page {
            csv_row(&mut chunk, row);
        }
        sent += page.len();
        if tx
            .send(Ok(Bytes::from(std::mem::take(&mut chunk))))
            .await
            .is_err()
        {
            return;
        }
        let Some(last) = page
            .last()
            .filter(|_| page.len() == EXPORT_PAGE as usize && sent < EXPORT_MAX)
        else {
            return;
        };
        let cursor = Cursor {
            ended_at: last.ended_at,
            id: last.id.clone(),
        };
        page = match search.page(&store, Some(&cursor), EXPORT_PAGE).await {
            Ok(rows) => rows,
            Err(e) => {
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                return;
            }
        };
    }
}

const CSV_COLUMNS: [&str; 22] = [
    "id",
    "call_id",
    "caller",
    "callee",
    "started_at",
    "answered_at",
    "ended_at",
    "disposition",
    "hangup_cause",
    "sip_status",
    "duration_ms",
    "billsec_ms",
    "queue",
    "queue_wait_ms",
    "agent",
    "ivr_path",
    "ivr_outcome",
    "caller_mos",
    "callee_mos",
    "recorded",
    "wrap_up_code",
    "wrap_up_notes",
];

fn csv_header() -> String {
    let mut s = CSV_COLUMNS.join(",");
    s.push_str("\r\n");
    s
}

fn csv_row(out: &mut String, r: &CdrView) {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let optf = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_default();
    let fields: [String; 22] = [
        r.id.clone(),
        r.call_id.clone(),
        r.caller.clone(),
        r.callee.clone(),
        r.started_at.to_string(),
        opt(r.answered_at),
        r.ended_at.to_string(),
        r.disposition.clone(),
        r.hangup_cause.clone(),
        opt(r.sip_status),
        r.duration_ms.to_string(),
        r.billsec_ms.to_string(),
        r.queue.clone().unwrap_or_default(),
        opt(r.queue_wait_ms),
        r.agent.clone().unwrap_or_default(),
        r.ivr_path.clone().unwrap_or_default(),
        r.ivr_outcome.clone().unwrap_or_default(),
        optf(r.caller_mos),
        optf(r.callee_mos),
        r.recorded.to_string(),
        r.wrap_up_code.clone().unwrap_or_default(),
        r.wrap_up_notes.clone().unwrap_or_default(),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, f);
    }
    out.push_str("\r\n");
}

/// Longest wrap-up notes, in characters.
const NOTES_MAX_CHARS: usize = 2000;

/// The body of `PUT /api/v1/cdrs/{id}/wrap-up`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WrapUpBody {
    code: String,
    #[serde(default)]
    notes: String,
    /// End the agent's wrap-up time now: they may take the next call.
    #[serde(default)]
    end_wrap_up: bool,
}

/// `PUT /api/v1/cdrs/{id}/wrap-up`: the agent who took the call (or made or
/// received it), a supervisor of its queue or an administrator records its
/// disposition code and notes; a later wrap-up replaces it. Audited with the code
/// (never the notes, which may name the customer), and published as
/// `call.wrap_up`.
pub(crate) async fn wrap_up(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<WrapUpBody>,
) -> Result<StatusCode, ApiError> {
    p.require(&[Role::Admin, Role::Supervisor, Role::Agent])?;
    if !config::valid_wrap_up_code(&body.code) {
        return Err(ApiError::bad_request("code: 1 to 64 of a-z 0-9 _ -"));
    }
    let notes_ok = body.notes.chars().count() <= NOTES_MAX_CHARS
        && !body
            .notes
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t');
    if !notes_ok {
        return Err(ApiError::bad_request(
            "notes: at most 2000 characters, no control characters but newline and tab",
        ));
    }
    let store = &shared.state.store;
    let parties = store.cdr_parties(&id).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no call record {id} (yet: it is written as the call ends)"
        ))
    })?;
    let allowed = match p.role {
        Role::Admin => true,
        Role::Supervisor => p.oversees(parties.queue.iter().map(String::as_str)),
        _ => {
            p.is_agent(parties.agent.as_deref())
                || p.is_agent(Some(&parties.caller))
                || p.is_agent(Some(&parties.callee))
        }
    };
    if !allowed {
        return Err(ApiError::forbidden("not your call"));
    }
    let codes = parties
        .queue
        .as_ref()
        .and_then(|q| shared.state.config.wrap_up_codes.get(q));
    if let Some(codes) = codes
        && !codes.contains(&body.code)
    {
        return Err(ApiError::bad_request(format!(
            "code: one of {}",
            codes.join(", ")
        )));
    }
    let record = WrapUp {
        code: body.code.clone(),
        notes: body.notes,
        by: p.user.clone(),
        at: shared.state.clock.now_ms(),
    };
    if !store.set_wrap_up(&id, &record).await? {
        return Err(ApiError::not_found(format!("no call record {id}")));
    }
    let detail = serde_json::json!({ "code": body.code, "queue": parties.queue });
    shared.audit(&p, "cdr.wrap_up", &id, detail).await?;
    let mut event = Event::new(EventKind::CallWrapUp, record.at)
        .data(serde_json::json!({ "cdr_id": id, "code": body.code, "by": p.user }));
    if let Some(agent) = &parties.agent {
        event = event.agent(agent.clone());
    }
    if let Some(queue) = &parties.queue {
        event = event.queue(queue.clone());
    }
    shared.state.events.publish(event);
    if body.end_wrap_up
        && let Some(agent) = parties.agent.as_deref().or(p.agent.as_deref())
    {
        shared.state.live.end_wrap_up(agent).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Writes `value` as one RFC 4180 field. A value a spreadsheet would run as
/// a formula (it starts with `=`, `+`, `-`, `@`, tab or CR and is not just
/// a phone number) gets a leading `'`: caller numbers come from the network.
pub(crate) fn csv_field(out: &mut String, value: &str) {
    let phone_like = value
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')' | '.'));
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']) && !phone_like;
    let quote = formula || value.contains([',', '"', '\r', '\n']);
    if !quote {
        out.push_str(value);
        return;
    }
    out.push('"');
    if formula {
        out.push('\'');
    }
    out.push_str(&value.replace('"', "\"\""));
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(v: &str) -> String {
        let mut s = String::new();
        csv_field(&mut s, v);
        s
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("1001"), "1001");
        assert_eq!(field("+1 (555) 010-2000"), "+1 (555) 010-2000");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+cmd|' /C calc'!A0"), "\"'+cmd|' /C calc'!A0\"");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            ended_at: 1_700_000_000_123,
            id: "a_b-c".to_owned(),
        };
        assert_eq!(Cursor::parse(&c.text()), Ok(c));
        assert!(Cursor::parse("nope").is_err());
        assert!(Cursor::parse("x_1").is_err());
    }
}
