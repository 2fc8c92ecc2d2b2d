//! Reading what a node stored: its CDRs and its CTI events, straight from its
//! SQLite file (read-only, while the node runs).

use std::path::Path;

use super::Node;

/// One row of the node's `cdrs` table (the columns the tests check).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cdr {
    /// Calling extension.
    pub(crate) caller: String,
    /// Dialled number.
    pub(crate) callee: String,
    /// answered | busy | no_answer | cancelled | failed | unavailable | not_found
    pub(crate) disposition: String,
    /// Final SIP status sent to the caller, if any.
    pub(crate) sip_status: Option<i64>,
    /// Whether the call was answered (answered_at is set).
    pub(crate) answered: bool,
    /// Answered time in milliseconds.
    pub(crate) billsec_ms: i64,
    /// MOS of the caller's and the callee's audio as the node received it.
    pub(crate) mos: (Option<f64>, Option<f64>),
    /// The IVR steps the call passed (`flow.step` separated by spaces).
    pub(crate) ivr_path: Option<String>,
    /// How the flow ended.
    pub(crate) ivr_outcome: Option<String>,
    /// The ACD queue it reached.
    pub(crate) queue: Option<String>,
    /// The agent who took it.
    pub(crate) agent: Option<String>,
    /// Why it ended (`caller_bye`, `rtp_timeout`, …).
    pub(crate) hangup_cause: String,
}

/// The `cdrs` columns [`Cdr`] is made from.
#[derive(sqlx::FromRow)]
struct CdrRow {
    caller: String,
    callee: String,
    disposition: String,
    sip_status: Option<i64>,
    answered_at: Option<i64>,
    billsec_ms: i64,
    caller_mos: Option<f64>,
    callee_mos: Option<f64>,
    ivr_path: Option<String>,
    ivr_outcome: Option<String>,
    queue: Option<String>,
    agent: Option<String>,
    hangup_cause: String,
}

pub(crate) fn read_cdrs(db: &Path) -> Result<Vec<Cdr>, sqlx::Error> {
    use sqlx::ConnectOptions as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(sqlx::Error::Io)?;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true);
    let rows: Vec<CdrRow> = runtime.block_on(async {
        let mut conn = options.connect().await?;
        sqlx::query_as(
            "SELECT caller, callee, disposition, sip_status, answered_at, billsec_ms, caller_mos, callee_mos, \
             ivr_path, ivr_outcome, queue, agent, hangup_cause FROM cdrs ORDER BY started_at, id",
        )
        .fetch_all(&mut conn)
        .await
    })?;
    Ok(rows
        .into_iter()
        .map(|row| Cdr {
            caller: row.caller,
            callee: row.callee,
            disposition: row.disposition,
            sip_status: row.sip_status,
            answered: row.answered_at.is_some(),
            billsec_ms: row.billsec_ms,
            mos: (row.caller_mos, row.callee_mos),
            ivr_path: row.ivr_path,
            ivr_outcome: row.ivr_outcome,
            queue: row.queue,
            agent: row.agent,
            hangup_cause: row.hangup_cause,
        })
        .collect())
}

/// The node's CTI events so far (`kind`, `agent`, `data` as JSON text), in order;
/// events may reach the table a moment after they were published.
pub(crate) fn read_events(node: &Node) -> Vec<(String, Option<String>, String)> {
    use sqlx::ConnectOptions as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&node.db)
        .read_only(true);
    runtime
        .block_on(async {
            let mut conn = options.connect().await?;
            sqlx::query_as("SELECT kind, agent, data FROM events ORDER BY seq")
                .fetch_all(&mut conn)
                .await
        })
        .unwrap_or_default()
}
