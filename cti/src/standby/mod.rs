//! Disaster recovery: a standby that takes the calls when the primary dies.
//!
//! ```text
//!  primary (on-prem)                              standby (cloud)
//!  ─────────────────                              ───────────────
//!  primary: state every 2 s ──sealed items──────► serve: replica on disk
//!           outbox heartbeats ──QUIC, mTLS──────► guard: heard
//!           merge ◄──────────── failback rows ─── serve: hand-back
//!  SIP port ◄────────────── OPTIONS (witness) ─── guard: suspect?
//!                                                 SIP port: refuser (503)
//!                                                   or a node (takeover)
//! ```
//!
//! - [`guard`]: the sans-IO decision — when a standby refuses, serves,
//!   drains and hands back (the rule, and what it cannot tell apart).
//! - `state`: what is replicated and how it is applied.
//! - `primary`: the primary's replication task and hand-back merge.
//! - `serve`: the standby process (`switchyard node` with `[dr] listen`).
//! - `failback`: handed-back rows, merged by primary key.
//! - `refuser` and `witness`: the two small SIP pieces.
//!
//! Operators: `docs/disaster-recovery.md`.

mod failback;
pub mod guard;
pub(crate) mod primary;
mod refuser;
mod serve;
mod state;
mod witness;

pub use guard::{Action, Guard, GuardConfig, Phase, Service};
pub use serve::{StandbyError, run_standby};
