//! Switchyard's IVR engine: the flow language, its compiler and validator, a
//! sans-IO per-call interpreter, and a simulator.
//!
//! # Contract
//!
//! - **Flows** are TOML files (`docs/ivr.md` is the language reference).
//!   [`FlowSet::build`] compiles a directory's worth of [`FlowSource`]s into an
//!   immutable set, or returns every [`Diagnostic`] (`file:line:col: message`);
//!   never a half-built set. [`check`] returns the diagnostics alone.
//! - **Interpreter**: one [`Interpreter`] per call, driven str0m-style. It
//!   never reads a clock and does no I/O:
//!
//! ```text
//!            Input (Start, Digit, PlaybackFinished, LookupResult, …, Timeout)
//!   node ──► handle_input(now, wall, input) ──► Interpreter
//!   node ◄── poll_output() -> Option<Command>  (Play, Lookup, Enqueue, …)
//!   node ◄── poll_timeout() -> Option<Instant> (feed Input::Timeout then)
//! ```
//!
//!   After each `handle_input`, drain `poll_output` until `None`, carry the
//!   commands out, and re-arm the timer from `poll_timeout`. The flow is over
//!   when [`Interpreter::outcome`] is `Some`; later inputs are ignored.
//! - **Hot reload**: a call's interpreter holds the `Arc<Flow>` and
//!   `Arc<FlowSet>` it started with; build a new set and swap it in for new
//!   calls only when the build succeeds.
//! - **Core data**: lookup results (`customer.*`), the caller number and
//!   account numbers never leave the node through a flow: the validator
//!   rejects any `http` step that reads them ([`DiagnosticKind::CoreDataLeak`]),
//!   and [`Interpreter::is_core`] tells the node which variables to keep local.
//! - **I/O** happens only in [`files`] (reading flow and prompt directories at
//!   load time). Time zones come from the database compiled into the binary.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use ivr::{CallInfo, Command, FlowSet, FlowSource, Input, Interpreter};
//!
//! let text = r#"
//! [steps.hello]
//! type = "play"
//! play = ["welcome"]
//! next = "bye"
//!
//! [steps.bye]
//! type = "hangup"
//! "#;
//! let set = Arc::new(FlowSet::build(&[FlowSource::from_path_text("hello.toml", text)], None)?);
//! let flow = set.get("hello").cloned().expect("just built");
//! let call = CallInfo { call_id: "c1".into(), caller: "+15550100".into(), dialled: "800".into() };
//! let mut ivr = Interpreter::new(flow, set, call);
//! let (now, wall) = (Instant::now(), ivr::jiff::Timestamp::UNIX_EPOCH);
//! ivr.handle_input(now, wall, Input::Start);
//! let Some(Command::Play { id, prompts, .. }) = ivr.poll_output() else { panic!() };
//! assert_eq!(prompts[0].as_str(), "welcome");
//! ivr.handle_input(now, wall, Input::PlaybackFinished { id });
//! assert_eq!(ivr.poll_output(), Some(Command::Hangup));
//! # Ok::<(), ivr::LoadError>(())
//! ```

#![forbid(unsafe_code)]

mod compile;
mod diag;
pub mod files;
mod flow;
mod flowset;
mod hours;
mod interp;
mod pattern;
mod say;
pub mod simulate;
mod validate;
mod value;

pub use diag::{Diagnostic, DiagnosticKind, Severity};
pub use flow::{Flow, FlowName, HttpMethod, MAX_ROOM_SIZE, StepName};
pub use flowset::{FlowSet, FlowSource, LoadError, PromptCatalog, check};
pub use hours::{HoursState, Schedule};
pub use interp::{
    CallInfo, Command, Failure, HttpOutcome, HttpRequest, Input, Interpreter, LookupKey, Outcome,
    PromptRef, QueueExit, TransferTarget, Visit,
};
pub use jiff;
pub use say::SayAs;
pub use value::Value;
