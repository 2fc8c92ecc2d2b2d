//! Switchyard's ACD: queues, agents, skills and routing as a pure engine.
//!
//! # Contract
//!
//! [`Acd`] does no I/O, reads no clock and draws no randomness of its own: events and
//! their time go in, decisions come out, so every decision is testable and replayable.
//!
//! ```text
//!   node task ──handle_input(now, Input)──► Acd ──poll_output()──► Output ──► node task
//!             ◄──────────────── poll_timeout() (next deadline) ──────────────┘
//! ```
//!
//! The node builds the engine once with [`Acd::new`] from an [`AcdConfig`] (optionally
//! [`Acd::restore`]s the [`PersistentState`] it stored), then, from one task:
//!
//! 1. feeds every event as [`Acd::handle_input`]`(now, input)`: calls enqueued (from the
//!    IVR), abandoned, answered, refused, ended; agent presence, wrap-up, skills and
//!    queue changes; and [`Input::Timeout`] when the deadline passes;
//! 2. drains [`Acd::poll_output`] until `None` and carries each [`Output`] out: ring an
//!    agent ([`Output::Offer`]), stop ringing ([`Output::CancelOffer`]), place a callback,
//!    play a position/wait announcement, send a call to its overflow target;
//! 3. sleeps until [`Acd::poll_timeout`] or the next event.
//!
//! After each input no available agent is eligible for a waiting call (the engine is
//! work-conserving), no agent is offered two calls, and callers of one priority are
//! offered in arrival order among the agents who may take them. Replaying the same
//! inputs with the same `now`s into an engine built from the same configuration yields
//! the same outputs.
//!
//! Names: agents by extension or login ([`AgentId`]), calls by SIP Call-ID
//! ([`CallId`]), queues by configured name ([`QueueId`]).
//!
//! # Scope
//!
//! In: agent presence and activity, RONA, wrap-up, nine strategies, caller priority,
//! escalation, limits and overflow (queue, voicemail, callback, cloud, disconnect),
//! routing rules ([`RuleSet`]), announcements with a queueing-model wait estimate,
//! live statistics, snapshot/restore. Out: ringing phones, playing prompts, storing
//! the snapshot (the node's), agents created at runtime (configure them).
//!
//! `docs/acd.md` is the operator reference.

#![forbid(unsafe_code)]

mod config;
mod engine;
mod error;
mod ewt;
mod id;
mod io;
pub mod rules;
mod stats;

pub use config::{
    AcdConfig, AgentConfig, Announcements, Escalation, EscalationStep, OverflowPolicy,
    OverflowTarget, Proficiency, QueueConfig, RonaPolicy, SkillRequirement, Strategy, Tier,
};
pub use engine::{Acd, AgentRecord, CallStatus, PersistentState, RestoreReport, WaitingCall};
pub use error::{AcdError, ConfigError};
pub use id::{AgentId, CallId, QueueId, ReasonCode};
pub use io::{
    Activity, AgentState, CallRequest, CancelReason, Input, Output, OverflowReason, Presence,
    RefuseReason,
};
pub use rules::{
    ActionKind, AttrType, AttributeSchema, Attributes, RouteAction, RuleError, RuleErrorKind,
    RuleSet, Span, Value,
};
pub use stats::{AgentStats, QueueStats, StateDurations};
