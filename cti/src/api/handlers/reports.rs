//! Historical reports from the stored call records, per queue and per agent, over a
//! period and in intervals — the figures a contact center is run by:
//!
//! - `GET /api/v1/reports/queues?from=MS&to=MS&interval=hour`: for each queue and
//!   interval, calls offered, answered by an agent, abandoned, callbacks asked for,
//!   service level, waits, talk time and the callers' MOS;
//! - `GET /api/v1/reports/agents?…`: for each agent, calls handled, talk time,
//!   outbound calls, callbacks and wrap-ups.
//!
//! A call counts in the interval it started in. Definitions (from the CDR columns):
//!
//! - *offered*: the call reached the queue (`queue` set), callbacks the node placed
//!   excepted (they are `callbacks_placed`, `callbacks_answered`);
//! - *answered*: an agent answered it (`agent_answered_at` set);
//! - *abandoned*: the caller hung up before any agent answered;
//! - *callbacks_requested*: the caller left the queue asking to be called back;
//! - *answered_within_sl*: answered within the queue's `service_level_s` (20 s
//!   unless configured); *service_level* is that over offered;
//! - *wait*: time in the queue until an agent answered (`queue_wait_ms`);
//! - *talk*: from the agent's answer to the end of the call.
//!
//! Administrators and quality analysts see every queue and agent; a supervisor the
//! calls of the queues they supervise; an agent their own row of the agent report.
//! The SQL is one grouped query per report, portable to PostgreSQL.

use axum::extract::State;
use axum::{Extension, Json};
use sqlx::Row as _;

use crate::api::auth::{Principal, Role};
use crate::api::error::QueryArgs;
use crate::api::{ApiError, AppState};
use crate::store::Db;

/// The longest period one report covers: 92 days.
const PERIOD_MAX_MS: i64 = 92 * 86_400_000;
/// The most intervals one report has.
const INTERVALS_MAX: i64 = 10_000;
/// Service level threshold of a queue that configures none, as the ACD's default.
const SERVICE_LEVEL_DEFAULT_MS: u64 = 20_000;

/// The query of both reports.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportQuery {
    /// Calls that started at or after this time (unix ms).
    from: i64,
    /// Calls that started before this time (unix ms).
    to: i64,
    /// `15m`, `hour`, `day`, or absent for the whole period as one interval.
    interval: Option<String>,
}

/// The period and its intervals, checked.
struct Period {
    from: i64,
    to: i64,
    interval_ms: i64,
}

impl Period {
    fn new(q: &ReportQuery) -> Result<Period, ApiError> {
        if q.to <= q.from || q.to - q.from > PERIOD_MAX_MS {
            return Err(ApiError::bad_request(
                "from < to, at most 92 days apart (unix ms)",
            ));
        }
        let interval_ms = match q.interval.as_deref() {
            None => q.to - q.from,
            Some("15m") => 900_000,
            Some("hour") => 3_600_000,
            Some("day") => 86_400_000,
            Some(_) => return Err(ApiError::bad_request("interval: 15m, hour or day")),
        };
        if (q.to - q.from) / interval_ms >= INTERVALS_MAX {
            return Err(ApiError::bad_request("at most 10000 intervals"));
        }
        Ok(Period {
            from: q.from,
            to: q.to,
            interval_ms,
        })
    }

    /// `SELECT column, bucket,` — the figures follow.
    fn select(&self, column: &str) -> sqlx::QueryBuilder<Db> {
        let mut b = sqlx::QueryBuilder::<Db>::new(format!("SELECT {column}, (started_at - "));
        b.push_bind(self.from)
            .push(") / ")
            .push_bind(self.interval_ms)
            .push(" AS bucket,");
        b
    }

    /// `FROM cdrs WHERE` the call has `column` and started in the period.
    fn within(&self, b: &mut sqlx::QueryBuilder<Db>, column: &str) {
        b.push(format!(
            " FROM cdrs WHERE {column} IS NOT NULL AND started_at >= "
        ))
        .push_bind(self.from)
        .push(" AND started_at < ")
        .push_bind(self.to);
    }

    /// The answer: the period, its intervals and `rows`.
    fn report(&self, rows: &impl serde::Serialize) -> Json<serde_json::Value> {
        Json(serde_json::json!({
            "from": self.from,
            "to": self.to,
            "interval_ms": self.interval_ms,
            "rows": rows,
        }))
    }

    /// The start of interval `bucket`.
    fn start(&self, bucket: i64) -> i64 {
        self.from + bucket * self.interval_ms
    }
}

/// One queue in one interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct QueueRow {
    queue: String,
    /// The interval's start (unix ms).
    start: i64,
    offered: i64,
    answered: i64,
    abandoned: i64,
    callbacks_requested: i64,
    callbacks_placed: i64,
    callbacks_answered: i64,
    answered_within_sl: i64,
    /// `answered_within_sl / offered`; `None` with nothing offered.
    service_level: Option<f64>,
    avg_wait_ms: Option<f64>,
    max_wait_ms: Option<i64>,
    avg_talk_ms: Option<f64>,
    avg_caller_mos: Option<f64>,
}

/// One agent in one interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct AgentRow {
    agent: String,
    start: i64,
    /// Calls the agent answered (queue calls, transfers to them, placed calls).
    handled: i64,
    talk_ms: i64,
    avg_talk_ms: Option<f64>,
    /// Of those, calls placed for them (click-to-dial).
    outbound: i64,
    /// Of those, callbacks.
    callbacks: i64,
    /// Calls wrapped up with a code.
    wrapped_up: i64,
}

/// Restricts `b` to what `p` may see of the `column` (queue or agent).
fn scope(
    b: &mut sqlx::QueryBuilder<Db>,
    p: &Principal,
    agents_report: bool,
) -> Result<(), ApiError> {
    match p.role {
        Role::Admin | Role::QualityAnalyst => Ok(()),
        Role::Supervisor => {
            if p.queues.is_empty() {
                b.push(" AND 1 = 0");
                return Ok(());
            }
            b.push(" AND queue IN (");
            let mut list = b.separated(", ");
            for q in &p.queues {
                list.push_bind(q.clone());
            }
            list.push_unseparated(")");
            Ok(())
        }
        Role::Agent if agents_report => {
            b.push(" AND agent = ").push_bind(p.own_agent()?.to_owned());
            Ok(())
        }
        _ => Err(ApiError::forbidden("agents see only their own figures")),
    }
}

/// `GET /api/v1/reports/queues`.
pub(crate) async fn queues(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryArgs(q): QueryArgs<ReportQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let period = Period::new(&q)?;
    let mut b = period.select("queue");
    b.push(
        " \
         SUM(CASE WHEN COALESCE(ivr_outcome, '') <> 'callback' THEN 1 ELSE 0 END) AS offered, \
         SUM(CASE WHEN COALESCE(ivr_outcome, '') <> 'callback' \
             AND agent_answered_at IS NOT NULL THEN 1 ELSE 0 END) AS answered, \
         SUM(CASE WHEN COALESCE(ivr_outcome, '') <> 'callback' AND agent_answered_at IS NULL \
             AND hangup_cause = 'caller_bye' THEN 1 ELSE 0 END) AS abandoned, \
         SUM(CASE WHEN ivr_outcome = 'callback requested' THEN 1 ELSE 0 END) \
             AS callbacks_requested, \
         SUM(CASE WHEN ivr_outcome = 'callback' THEN 1 ELSE 0 END) AS callbacks_placed, \
         SUM(CASE WHEN ivr_outcome = 'callback' AND agent_answered_at IS NOT NULL \
             THEN 1 ELSE 0 END) AS callbacks_answered, \
         SUM(CASE WHEN COALESCE(ivr_outcome, '') <> 'callback' \
             AND agent_answered_at IS NOT NULL AND queue_wait_ms <= CASE",
    );
    // Each queue's threshold; a CASE needs at least one WHEN.
    for (queue, ms) in &shared.state.config.service_levels {
        b.push(" WHEN queue = ").push_bind(queue.clone());
        b.push(" THEN ")
            .push_bind(i64::try_from(*ms).unwrap_or(i64::MAX));
    }
    b.push(" WHEN 1 = 0 THEN 0 ELSE ")
        .push_bind(i64::try_from(SERVICE_LEVEL_DEFAULT_MS).unwrap_or(i64::MAX));
    b.push(
        " END THEN 1 ELSE 0 END) AS within_sl, \
         CAST(AVG(CASE WHEN COALESCE(ivr_outcome, '') <> 'callback' \
             AND agent_answered_at IS NOT NULL THEN queue_wait_ms END) AS DOUBLE PRECISION) \
             AS avg_wait, \
         MAX(CASE WHEN agent_answered_at IS NOT NULL THEN queue_wait_ms END) AS max_wait, \
         CAST(AVG(CASE WHEN agent_answered_at IS NOT NULL \
             THEN ended_at - agent_answered_at END) AS DOUBLE PRECISION) AS avg_talk, \
         CAST(AVG(caller_mos) AS DOUBLE PRECISION) AS avg_mos",
    );
    period.within(&mut b, "queue");
    scope(&mut b, &p, false)?;
    b.push(" GROUP BY queue, bucket ORDER BY queue, bucket");
    let rows = b.build().fetch_all(shared.state.store.pool()).await?;
    let rows: Vec<QueueRow> = rows
        .iter()
        .map(|r| {
            let offered: i64 = r.try_get("offered")?;
            let within: i64 = r.try_get("within_sl")?;
            Ok(QueueRow {
                queue: r.try_get("queue")?,
                start: period.start(r.try_get("bucket")?),
                offered,
                answered: r.try_get("answered")?,
                abandoned: r.try_get("abandoned")?,
                callbacks_requested: r.try_get("callbacks_requested")?,
                callbacks_placed: r.try_get("callbacks_placed")?,
                callbacks_answered: r.try_get("callbacks_answered")?,
                answered_within_sl: within,
                service_level: (offered > 0).then(|| within as f64 / offered as f64),
                avg_wait_ms: r.try_get("avg_wait")?,
                max_wait_ms: r.try_get("max_wait")?,
                avg_talk_ms: r.try_get("avg_talk")?,
                avg_caller_mos: r.try_get("avg_mos")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(period.report(&rows))
}

/// `GET /api/v1/reports/agents`.
pub(crate) async fn agents(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryArgs(q): QueryArgs<ReportQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let period = Period::new(&q)?;
    let mut b = period.select("agent");
    b.push(
        " \
         SUM(CASE WHEN agent_answered_at IS NOT NULL THEN 1 ELSE 0 END) AS handled, \
         SUM(CASE WHEN agent_answered_at IS NOT NULL THEN ended_at - agent_answered_at \
             ELSE 0 END) AS talk, \
         CAST(AVG(CASE WHEN agent_answered_at IS NOT NULL \
             THEN ended_at - agent_answered_at END) AS DOUBLE PRECISION) AS avg_talk, \
         SUM(CASE WHEN ivr_outcome = 'outbound' AND agent_answered_at IS NOT NULL \
             THEN 1 ELSE 0 END) AS outbound, \
         SUM(CASE WHEN ivr_outcome = 'callback' AND agent_answered_at IS NOT NULL \
             THEN 1 ELSE 0 END) AS callbacks, \
         SUM(CASE WHEN wrap_up_code IS NOT NULL THEN 1 ELSE 0 END) AS wrapped_up",
    );
    period.within(&mut b, "agent");
    scope(&mut b, &p, true)?;
    b.push(" GROUP BY agent, bucket ORDER BY agent, bucket");
    let rows = b.build().fetch_all(shared.state.store.pool()).await?;
    let rows: Vec<AgentRow> = rows
        .iter()
        .map(|r| {
            Ok(AgentRow {
                agent: r.try_get("agent")?,
                start: period.start(r.try_get("bucket")?),
                handled: r.try_get("handled")?,
                talk_ms: r.try_get("talk")?,
                avg_talk_ms: r.try_get("avg_talk")?,
                outbound: r.try_get("outbound")?,
                callbacks: r.try_get("callbacks")?,
                wrapped_up: r.try_get("wrapped_up")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(period.report(&rows))
}
