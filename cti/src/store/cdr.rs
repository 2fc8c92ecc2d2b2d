//! Call detail records: one row per call, written once when the call ends.
//!
//! Rows are inserted by [`super::CdrWriter`] only; an id that is already
//! stored is skipped, so writing the same record twice is harmless.

use sqlx::Row as _;

use super::{Db, Store, StoreError};

/// How a call ended, from the caller's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Disposition {
    /// The callee answered.
    Answered,
    /// The callee was busy (486, 600).
    Busy,
    /// Nobody answered before the ring timeout (408, 480 after ringing).
    NoAnswer,
    /// The caller hung up before an answer (CANCEL, 487).
    Cancelled,
    /// The call failed for another reason (a 4xx–6xx not listed here, a
    /// transport error, a timeout of the transaction).
    Failed,
    /// The callee exists but has no registered contact.
    Unavailable,
    /// The dialled number is not provisioned.
    NotFound,
}

impl Disposition {
    /// Every disposition, in declaration order.
    pub const ALL: [Disposition; 7] = [
        Self::Answered,
        Self::Busy,
        Self::NoAnswer,
        Self::Cancelled,
        Self::Failed,
        Self::Unavailable,
        Self::NotFound,
    ];

    /// The stored token: `answered`, `busy`, `no_answer`, `cancelled`,
    /// `failed`, `unavailable` or `not_found`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Busy => "busy",
            Self::NoAnswer => "no_answer",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Unavailable => "unavailable",
            Self::NotFound => "not_found",
        }
    }

    /// The disposition whose token is `token`.
    #[must_use]
    pub fn parse(token: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == token)
    }
}

impl std::fmt::Display for Disposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one party's audio reached the node during a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartyQuality {
    /// Mean opinion score by the ITU-T G.107 E-model (1–4.5).
    pub mos: f64,
    /// Packets lost, in percent of those expected.
    pub loss_pct: f64,
    /// RFC 3550 interarrival jitter, in milliseconds.
    pub jitter_ms: f64,
    /// Round trip between the node and the party, from RTCP, in milliseconds
    /// (`None` when the phones exchanged no RTCP reports).
    pub rtt_ms: Option<f64>,
}

/// How a call was routed inside the node: IVR and ACD. Empty for a call that
/// went straight to an extension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    /// The IVR steps the call passed, as `flow.step` separated by spaces.
    pub ivr_path: Option<String>,
    /// How the flow ended (`queued in \`sales\``, `the caller hung up`, …).
    pub ivr_outcome: Option<String>,
    /// The ACD queue the call reached.
    pub queue: Option<String>,
    /// How long it waited in that queue, in milliseconds.
    pub queue_wait_ms: Option<i64>,
    /// The agent who took it.
    pub agent: Option<String>,
    /// When that agent answered (unix ms): talk time runs from here.
    pub agent_answered_at: Option<i64>,
}

/// One call's record. Times are unix milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Cdr {
    /// Unique id chosen by the caller (UUID-like); a second write of the same
    /// id is ignored.
    pub id: String,
    /// The SIP Call-ID of the caller's leg.
    pub call_id: String,
    /// The calling party (extension or number).
    pub caller: String,
    /// The dialled party.
    pub callee: String,
    /// When the INVITE arrived (unix ms).
    pub started_at: i64,
    /// When the callee answered, if it did (unix ms).
    pub answered_at: Option<i64>,
    /// When the call ended (unix ms).
    pub ended_at: i64,
    /// How the call ended.
    pub disposition: Disposition,
    /// Who or what ended it: `caller_bye`, `callee_bye`, or the final SIP
    /// status of a failed attempt such as `487` or `480`.
    pub hangup_cause: String,
    /// The final SIP status sent to the caller, when there was one.
    pub sip_status: Option<u16>,
    /// The caller's audio as received, when it sent any.
    pub caller_quality: Option<PartyQuality>,
    /// The callee's audio as received, when it sent any.
    pub callee_quality: Option<PartyQuality>,
    /// IVR path, queue and agent, when the call was routed through them.
    pub routing: Routing,
}

impl Cdr {
    /// The record of a call that starts now: a fresh random id (a UUID v4 in
    /// its usual text form), not answered, and until [`Cdr::finish`] ended at
    /// `started_at` with disposition [`Disposition::Failed`].
    #[must_use]
    pub fn begin(call_id: &str, caller: &str, callee: &str, started_at: i64) -> Self {
        Self {
            id: random_uuid(&mut rand::rng()),
            call_id: call_id.to_owned(),
            caller: caller.to_owned(),
            callee: callee.to_owned(),
            started_at,
            answered_at: None,
            ended_at: started_at,
            disposition: Disposition::Failed,
            hangup_cause: String::new(),
            sip_status: None,
            caller_quality: None,
            callee_quality: None,
            routing: Routing::default(),
        }
    }

    /// Records how and when the call ended.
    pub fn finish(
        &mut self,
        disposition: Disposition,
        cause: &str,
        sip_status: Option<u16>,
        ended_at: i64,
    ) {
        self.disposition = disposition;
        cause.clone_into(&mut self.hangup_cause);
        self.sip_status = sip_status;
        self.ended_at = ended_at;
    }

    /// Total length, from INVITE to end; never negative.
    #[must_use]
    pub fn duration_ms(&self) -> i64 {
        self.ended_at.saturating_sub(self.started_at).max(0)
    }

    /// Billable length, from answer to end; 0 for an unanswered call.
    #[must_use]
    pub fn billsec_ms(&self) -> i64 {
        self.answered_at
            .map_or(0, |answered| self.ended_at.saturating_sub(answered).max(0))
    }
}

/// 122 random bits in the RFC 9562 version-4 layout, as
/// `xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx`.
fn random_uuid(rng: &mut impl rand::Rng) -> String {
    let bits: u128 = rng.random();
    let bits = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl Store {
    /// The `limit` most recently ended calls, newest first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`]
    /// when a row holds an unknown disposition or an out-of-range status.
    pub async fn cdrs(&self, limit: u32) -> Result<Vec<Cdr>, StoreError> {
        let rows = sqlx::query::<Db>(
            "SELECT id, call_id, caller, callee, started_at, answered_at, ended_at,
                    disposition, hangup_cause, sip_status,
                    caller_mos, caller_loss_pct, caller_jitter_ms, caller_rtt_ms,
                    callee_mos, callee_loss_pct, callee_jitter_ms, callee_rtt_ms,
                    ivr_path, ivr_outcome, queue, queue_wait_ms, agent, agent_answered_at
             FROM cdrs ORDER BY ended_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(cdr_from_row).collect()
    }
}

/// The agent's wrap-up of a call: its disposition code and notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapUp {
    /// The code (from the queue's `wrap_up_codes` when it lists some).
    pub code: String,
    /// Free-text notes, possibly empty.
    pub notes: String,
    /// The user who gave it.
    pub by: String,
    /// When (unix ms).
    pub at: i64,
}

/// Who took a stored call, for checking who may wrap it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrParties {
    /// The call's caller.
    pub caller: String,
    /// The call's callee.
    pub callee: String,
    /// The queue it came through, if any.
    pub queue: Option<String>,
    /// The agent who took it, if any.
    pub agent: Option<String>,
}

impl Store {
    /// The parties of the stored call `id`; `None` when no such record exists
    /// (yet: a call's record is written as it ends).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the query fails.
    pub async fn cdr_parties(&self, id: &str) -> Result<Option<CdrParties>, StoreError> {
        let row = sqlx::query::<Db>("SELECT caller, callee, queue, agent FROM cdrs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(CdrParties {
            caller: row.try_get("caller")?,
            callee: row.try_get("callee")?,
            queue: row.try_get("queue")?,
            agent: row.try_get("agent")?,
        }))
    }

    /// Records (or replaces) the wrap-up of stored call `id`; `false` when there is
    /// no such record.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the update fails.
    pub async fn set_wrap_up(&self, id: &str, wrap_up: &WrapUp) -> Result<bool, StoreError> {
        let done = sqlx::query::<Db>(
            "UPDATE cdrs SET wrap_up_code = $1, wrap_up_notes = $2, wrap_up_by = $3, \
             wrap_up_at = $4 WHERE id = $5",
        )
        .bind(&wrap_up.code)
        .bind(&wrap_up.notes)
        .bind(&wrap_up.by)
        .bind(wrap_up.at)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Rows per INSERT statement: 26 parameters each stays under SQLite's
/// 32,766 and PostgreSQL's 65,535 bound parameters.
const ROWS_PER_STATEMENT: usize = 1000;

/// Inserts `cdrs` atomically (the group commit of [`super::CdrWriter`]):
/// one multi-row INSERT per [`ROWS_PER_STATEMENT`] rows, so a batch costs one
/// round trip to the database rather than one per row. Rows whose id is
/// already stored are skipped.
pub(super) async fn insert_batch<'a>(
    store: &Store,
    cdrs: impl Iterator<Item = &'a Cdr>,
) -> Result<(), sqlx::Error> {
    let cdrs: Vec<&Cdr> = cdrs.collect();
    if cdrs.len() <= ROWS_PER_STATEMENT {
        return insert_statement(&cdrs)
            .build()
            .execute(store.pool())
            .await
            .map(drop);
    }
    let mut tx = store.pool().begin().await?;
    for chunk in cdrs.chunks(ROWS_PER_STATEMENT) {
        insert_statement(chunk).build().execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// [`insert_batch`], and in the same transaction each record's classified copy
/// into the bridge outbox: both commit or neither does.
pub(super) async fn insert_batch_with_outbox<'a>(
    store: &Store,
    cdrs: impl Iterator<Item = &'a Cdr>,
    bridge: &crate::bridge::NodeBridge,
) -> Result<(), sqlx::Error> {
    let cdrs: Vec<&Cdr> = cdrs.collect();
    let now = crate::api::unix_ms_now();
    let mut tx = store.pool().begin().await?;
    for chunk in cdrs.chunks(ROWS_PER_STATEMENT) {
        insert_statement(chunk).build().execute(&mut *tx).await?;
    }
    for cdr in &cdrs {
        if let Some(item) = bridge.classify_cdr(cdr) {
            sync_bridge::outbox::store::enqueue(&mut tx, &item, now)
                .await
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        }
    }
    tx.commit().await
}

fn insert_statement(cdrs: &[&Cdr]) -> sqlx::QueryBuilder<Db> {
    let mut q = sqlx::QueryBuilder::new(
        "INSERT INTO cdrs (id, call_id, caller, callee, started_at, answered_at, ended_at, \
         disposition, hangup_cause, sip_status, duration_ms, billsec_ms, \
         caller_mos, caller_loss_pct, caller_jitter_ms, caller_rtt_ms, \
         callee_mos, callee_loss_pct, callee_jitter_ms, callee_rtt_ms, \
         ivr_path, ivr_outcome, queue, queue_wait_ms, agent, agent_answered_at) ",
    );
    q.push_values(cdrs, |mut row, cdr| {
        row.push_bind(cdr.id.clone())
            .push_bind(cdr.call_id.clone())
            .push_bind(cdr.caller.clone())
            .push_bind(cdr.callee.clone())
            .push_bind(cdr.started_at)
            .push_bind(cdr.answered_at)
            .push_bind(cdr.ended_at)
            .push_bind(cdr.disposition.as_str())
            .push_bind(cdr.hangup_cause.clone())
            .push_bind(cdr.sip_status.map(i32::from))
            .push_bind(cdr.duration_ms())
            .push_bind(cdr.billsec_ms());
        for q in [cdr.caller_quality, cdr.callee_quality] {
            row.push_bind(q.map(|q| q.mos))
                .push_bind(q.map(|q| q.loss_pct))
                .push_bind(q.map(|q| q.jitter_ms))
                .push_bind(q.and_then(|q| q.rtt_ms));
        }
        let r = &cdr.routing;
        row.push_bind(r.ivr_path.clone())
            .push_bind(r.ivr_outcome.clone())
            .push_bind(r.queue.clone())
            .push_bind(r.queue_wait_ms)
            .push_bind(r.agent.clone())
            .push_bind(r.agent_answered_at);
    });
    q.push(" ON CONFLICT (id) DO NOTHING");
    q
}

fn cdr_from_row(row: &<Db as sqlx::Database>::Row) -> Result<Cdr, StoreError> {
    let id: String = row.try_get("id")?;
    let token: String = row.try_get("disposition")?;
    let disposition = Disposition::parse(&token)
        .ok_or_else(|| StoreError::Corrupt(format!("cdr {id}: unknown disposition {token:?}")))?;
    let status: Option<i32> = row.try_get("sip_status")?;
    let sip_status = status.map(u16::try_from).transpose().map_err(|_| {
        StoreError::Corrupt(format!("cdr {id}: SIP status {status:?} out of range"))
    })?;
    Ok(Cdr {
        call_id: row.try_get("call_id")?,
        caller: row.try_get("caller")?,
        callee: row.try_get("callee")?,
        started_at: row.try_get("started_at")?,
        answered_at: row.try_get("answered_at")?,
        ended_at: row.try_get("ended_at")?,
        disposition,
        hangup_cause: row.try_get("hangup_cause")?,
        sip_status,
        caller_quality: party_quality(row, "caller")?,
        callee_quality: party_quality(row, "callee")?,
        routing: Routing {
            ivr_path: row.try_get("ivr_path")?,
            ivr_outcome: row.try_get("ivr_outcome")?,
            queue: row.try_get("queue")?,
            queue_wait_ms: row.try_get("queue_wait_ms")?,
            agent: row.try_get("agent")?,
            agent_answered_at: row.try_get("agent_answered_at")?,
        },
        id,
    })
}

fn party_quality(
    row: &<Db as sqlx::Database>::Row,
    party: &str,
) -> Result<Option<PartyQuality>, StoreError> {
    let mos: Option<f64> = row.try_get(format!("{party}_mos").as_str())?;
    let loss: Option<f64> = row.try_get(format!("{party}_loss_pct").as_str())?;
    let jitter: Option<f64> = row.try_get(format!("{party}_jitter_ms").as_str())?;
    let rtt_ms: Option<f64> = row.try_get(format!("{party}_rtt_ms").as_str())?;
    Ok(match (mos, loss, jitter) {
        (Some(mos), Some(loss_pct), Some(jitter_ms)) => Some(PartyQuality {
            mos,
            loss_pct,
            jitter_ms,
            rtt_ms,
        }),
        _ => None,
    })
}
