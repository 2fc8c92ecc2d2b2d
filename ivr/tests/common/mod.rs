//! Test harness: builds flows from text and drives an interpreter on a virtual clock.

#![allow(
    clippy::disallowed_methods,
    dead_code,
    reason = "tests anchor virtual time on one Instant; not every test uses every helper"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ivr::jiff::Timestamp;
use ivr::{CallInfo, Command, FlowSet, FlowSource, Input, Interpreter, Outcome, Value};

/// Builds a set from `(name, text)` pairs, panicking with the diagnostics if it fails.
pub(crate) fn set(flows: &[(&str, &str)]) -> Arc<FlowSet> {
    let sources: Vec<FlowSource> = flows
        .iter()
        .map(|(name, text)| FlowSource::from_path_text(format!("{name}.toml"), *text))
        .collect();
    match FlowSet::build(&sources, None) {
        Ok(set) => Arc::new(set),
        Err(e) => panic!("flows do not build:\n{e}"),
    }
}

/// Monday 2026-03-09 15:00 UTC (10:00 or 11:00 in New York, a working hour).
pub(crate) fn monday_noon() -> Timestamp {
    "2026-03-09T15:00:00Z".parse().expect("valid timestamp")
}

/// One call on a virtual clock.
pub(crate) struct Call {
    pub(crate) ivr: Interpreter,
    pub(crate) t0: Instant,
    pub(crate) now: Instant,
    pub(crate) wall: Timestamp,
}

impl Call {
    /// A call from `caller` into flow `name` of `set`, started at `wall`.
    pub(crate) fn start(set: &Arc<FlowSet>, name: &str, caller: &str, wall: Timestamp) -> Self {
        let flow = set.get(name).cloned().expect("flow exists");
        let info = CallInfo {
            call_id: "t-1".into(),
            caller: caller.into(),
            dialled: "8000".into(),
        };
        let t0 = Instant::now();
        let mut call = Self {
            ivr: Interpreter::new(flow, Arc::clone(set), info),
            t0,
            now: t0,
            wall,
        };
        call.input(Input::Start);
        call
    }

    pub(crate) fn input(&mut self, input: Input) {
        self.ivr.handle_input(self.now, self.wall, input);
    }

    /// Every command emitted since the last call.
    pub(crate) fn commands(&mut self) -> Vec<Command> {
        std::iter::from_fn(|| self.ivr.poll_output()).collect()
    }

    /// The single command emitted, or a panic listing what came.
    pub(crate) fn one(&mut self) -> Command {
        let mut c = self.commands();
        assert_eq!(c.len(), 1, "expected one command, got {c:?}");
        c.remove(0)
    }

    /// The prompt names of the single Play command emitted, and its id.
    pub(crate) fn played(&mut self) -> (u64, Vec<String>) {
        match self.one() {
            Command::Play { id, prompts, .. } => {
                (id, prompts.iter().map(|p| p.as_str().to_owned()).collect())
            }
            other => panic!("expected Play, got {other:?}"),
        }
    }

    pub(crate) fn finish_play(&mut self, id: u64) {
        self.input(Input::PlaybackFinished { id });
    }

    pub(crate) fn key(&mut self, c: char) {
        self.input(Input::Digit(c));
    }

    pub(crate) fn keys(&mut self, s: &str) {
        for c in s.chars() {
            self.key(c);
        }
    }

    /// Moves the clock forward by `d` without feeding anything.
    pub(crate) fn wait(&mut self, d: Duration) {
        self.now += d;
    }

    /// Moves the clock to the deadline and feeds the timeout.
    pub(crate) fn fire_timeout(&mut self) {
        let deadline = self.ivr.poll_timeout().expect("a timer runs");
        self.now = self.now.max(deadline);
        self.input(Input::Timeout);
    }

    /// The time until the deadline.
    pub(crate) fn timer(&self) -> Option<Duration> {
        self.ivr.poll_timeout().map(|d| d - self.now)
    }

    pub(crate) fn outcome(&self) -> Option<&Outcome> {
        self.ivr.outcome()
    }

    pub(crate) fn var(&self, name: &str) -> Option<String> {
        self.ivr.variable(name).map(Value::to_string)
    }

    /// The step names of the path, without flow names.
    pub(crate) fn steps(&self) -> Vec<String> {
        self.ivr.path().iter().map(|v| v.step.to_string()).collect()
    }
}

pub(crate) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub(crate) fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}
