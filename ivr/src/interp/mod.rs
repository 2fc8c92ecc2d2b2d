//! The per-call flow interpreter: inputs and `now` in, commands and a deadline out.
//!
//! One [`Interpreter`] runs one call. It never reads a clock and does no I/O:
//! the node feeds it [`Input`]s with the current monotonic `now` (for its
//! timers) and wall-clock time (for business hours), drains [`Command`]s with
//! [`Interpreter::poll_output`] and carries them out, and calls
//! `handle_input(…, Input::Timeout)` once [`Interpreter::poll_timeout`] has
//! passed. Every command that expects an answer carries an id; answers with a
//! stale id (a playback already stopped, a lookup that already timed out) are
//! ignored, as is every input once the flow has ended ([`Interpreter::outcome`]).
//!
//! The interpreter holds the `Arc<Flow>` and `Arc<FlowSet>` it was created with
//! (a reload never changes a running call).

mod run;
mod types;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use jiff::Timestamp;

use crate::flow::{Flow, StepId, StepKind};
use crate::flowset::FlowSet;
use crate::value::Value;

pub use types::{
    CallInfo, Command, Failure, HttpOutcome, HttpRequest, Input, LookupKey, Outcome, PromptRef,
    QueueExit, TransferTarget, Visit,
};

/// Steps that may run for one input without waiting, before the flow is stopped.
const MAX_HOPS: usize = 1000;
/// Sub-flow nesting limit.
const MAX_DEPTH: usize = 8;
/// Keys remembered while no menu or collect listens.
const TYPEAHEAD: usize = 32;
/// Steps kept in [`Interpreter::path`]; later ones are counted, not kept.
const MAX_PATH: usize = 1024;
/// Slack after a voicemail's maximum duration before the interpreter stops waiting.
const VOICEMAIL_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// One call's run through a flow.
#[derive(Debug)]
pub struct Interpreter {
    set: Arc<FlowSet>,
    flow: Arc<Flow>,
    /// Callers of the current sub-flow: their flow and the step to continue at.
    stack: Vec<(Arc<Flow>, StepId)>,
    vars: BTreeMap<String, Value>,
    wait: Wait,
    deadline: Option<Instant>,
    typeahead: VecDeque<char>,
    out: VecDeque<Command>,
    path: Vec<Visit>,
    steps_run: u64,
    outcome: Option<Outcome>,
    next_id: u64,
    /// Counts menu and collect attempts (for the simulator to answer each once).
    attempts: u64,
}

/// What the interpreter waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wait {
    NotStarted,
    Playback {
        id: u64,
        barge_in: bool,
        next: StepId,
    },
    Menu {
        step: StepId,
        attempt: u8,
        playing: Option<u64>,
    },
    Collect {
        step: StepId,
        attempt: u8,
        playing: Option<u64>,
        digits: String,
    },
    Lookup {
        id: u64,
        step: StepId,
    },
    Http {
        id: u64,
        step: StepId,
    },
    Greeting {
        id: u64,
        step: StepId,
    },
    Recording {
        id: u64,
        step: StepId,
    },
    Queue {
        step: StepId,
    },
    /// A `conference` step with `full` sent the caller to `room` (as expanded).
    Seat {
        step: StepId,
        room: String,
    },
    Done,
}

impl Interpreter {
    /// A new interpreter for `call`, about to run `flow` (sub-flows come from `set`).
    /// Nothing happens until [`Input::Start`].
    #[must_use]
    pub fn new(flow: Arc<Flow>, set: Arc<FlowSet>, call: CallInfo) -> Self {
        let mut vars = BTreeMap::new();
        vars.insert("caller".to_owned(), Value::Text(call.caller));
        vars.insert("dialled".to_owned(), Value::Text(call.dialled));
        vars.insert("call_id".to_owned(), Value::Text(call.call_id));
        let language = flow.languages.first().cloned().unwrap_or_default();
        vars.insert("language".to_owned(), Value::Text(language));
        Self {
            set,
            flow,
            stack: Vec::new(),
            vars,
            wait: Wait::NotStarted,
            deadline: None,
            typeahead: VecDeque::new(),
            out: VecDeque::new(),
            path: Vec::new(),
            steps_run: 0,
            outcome: None,
            next_id: 1,
            attempts: 0,
        }
    }

    /// Feeds one input; `now` drives timers, `wall` is the wall-clock time for business hours.
    pub fn handle_input(&mut self, now: Instant, wall: Timestamp, input: Input) {
        if self.outcome.is_some() {
            return;
        }
        let mut cx = run::Cx { now, wall };
        match input {
            Input::Start => {
                if self.wait == Wait::NotStarted {
                    let start = self.flow.start;
                    self.goto(&mut cx, start);
                }
            }
            Input::Hangup => self.finish(Outcome::CallerHungUp),
            Input::Timeout => {
                if self.deadline.is_some_and(|d| now >= d) {
                    self.deadline = None;
                    self.on_timeout(&mut cx);
                }
            }
            Input::Digit(c) => {
                if matches!(c, '0'..='9' | '*' | '#' | 'A'..='D') {
                    self.on_digit(&mut cx, c);
                }
            }
            Input::PlaybackFinished { id } => self.on_played(&mut cx, id),
            Input::LookupResult { id, found, fields } => self.on_lookup(&mut cx, id, found, fields),
            Input::HttpResult { id, outcome } => self.on_http(&mut cx, id, outcome),
            Input::VoicemailFinished { id, .. } => {
                if let Wait::Recording { id: rid, step } = self.wait
                    && rid == id
                {
                    self.voicemail_done(&mut cx, step);
                }
            }
            Input::QueueExited { reason } => self.on_queue_exit(&mut cx, reason),
            Input::ConferenceSeated => self.on_seated(),
            Input::ConferenceFull => self.on_room_full(&mut cx),
        }
        self.drain_typeahead(&mut cx);
    }

    /// The next command to carry out, if any.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Command> {
        self.out.pop_front()
    }

    /// When to feed [`Input::Timeout`], if a timer runs.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// The steps run so far, in order (at most the first 1,024; see [`Self::steps_run`]).
    #[must_use]
    pub fn path(&self) -> &[Visit] {
        &self.path
    }

    /// How many steps have run (the path may be shorter).
    #[must_use]
    pub fn steps_run(&self) -> u64 {
        self.steps_run
    }

    /// The call's variables, by name (for the screen pop and the CDR; check
    /// [`Self::is_core`] before sending any of them off the node).
    pub fn variables(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// One variable's value.
    #[must_use]
    pub fn variable(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    /// Whether variable `name` is core data (see [`FlowSet::is_core`]).
    #[must_use]
    pub fn is_core(&self, name: &str) -> bool {
        self.set.is_core(name)
    }

    /// How the flow ended, once it has.
    #[must_use]
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// The flow the call is in now (a sub-flow while one runs).
    #[must_use]
    pub fn current_flow(&self) -> &Arc<Flow> {
        &self.flow
    }

    /// Whether the flow waits for the node to seat the caller in a conference
    /// room: a `conference` step with `full` has sent [`Command::Conference`],
    /// and [`Input::ConferenceSeated`] or [`Input::ConferenceFull`] is the answer.
    #[must_use]
    pub fn awaits_seat(&self) -> bool {
        matches!(self.wait, Wait::Seat { .. })
    }

    /// The current menu or collect attempt while it listens for keys (no
    /// prompt playing), numbered so a caller can answer each attempt once.
    pub(crate) fn listening(&self) -> Option<u64> {
        match self.wait {
            Wait::Menu { playing: None, .. } | Wait::Collect { playing: None, .. } => {
                Some(self.attempts)
            }
            _ => None,
        }
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn emit(&mut self, command: Command) {
        self.out.push_back(command);
    }

    fn finish(&mut self, outcome: Outcome) {
        self.wait = Wait::Done;
        self.deadline = None;
        self.typeahead.clear();
        self.outcome = Some(outcome);
    }

    fn on_digit(&mut self, cx: &mut run::Cx, c: char) {
        match self.wait.clone() {
            Wait::Playback {
                id,
                barge_in: true,
                next,
            } => {
                self.emit(Command::StopPlayback { id });
                self.remember(c);
                self.goto(cx, next);
            }
            Wait::Menu {
                step,
                attempt,
                playing,
            } => {
                if let Some(id) = playing {
                    self.emit(Command::StopPlayback { id });
                }
                self.menu_key(cx, step, attempt, c);
            }
            Wait::Collect {
                step,
                attempt,
                playing,
                digits,
            } => {
                if let Some(id) = playing {
                    self.emit(Command::StopPlayback { id });
                }
                self.collect_key(cx, step, attempt, digits, c);
            }
            Wait::Lookup { .. } | Wait::Http { .. } => self.remember(c),
            _ => {}
        }
    }

    fn remember(&mut self, c: char) {
        if self.typeahead.len() < TYPEAHEAD {
            self.typeahead.push_back(c);
        }
    }

    /// Feeds remembered keys to a menu or collect that listens.
    fn drain_typeahead(&mut self, cx: &mut run::Cx) {
        while self.listening().is_some() {
            let Some(c) = self.typeahead.pop_front() else {
                break;
            };
            self.on_digit(cx, c);
        }
    }

    fn on_played(&mut self, cx: &mut run::Cx, id: u64) {
        match self.wait.clone() {
            Wait::Playback { id: pid, next, .. } if pid == id => self.goto(cx, next),
            Wait::Menu {
                step,
                attempt,
                playing: Some(pid),
            } if pid == id => self.listen_menu(cx, step, attempt),
            Wait::Collect {
                step,
                attempt,
                playing: Some(pid),
                digits,
            } if pid == id => self.listen_collect(cx, step, attempt, digits),
            Wait::Greeting { id: pid, step } if pid == id => self.record(cx, step),
            _ => {}
        }
    }

    fn on_timeout(&mut self, cx: &mut run::Cx) {
        match self.wait.clone() {
            Wait::Menu {
                step,
                attempt,
                playing: None,
            } => self.retry(cx, step, attempt, run::Why::Timeout),
            Wait::Collect {
                step,
                attempt,
                playing: None,
                digits,
            } => self.collect_timeout(cx, step, attempt, digits),
            Wait::Lookup { step, .. } => {
                if let Some(StepKind::Lookup(l)) = self.flow.step(step).map(|s| &s.kind) {
                    let next = l.not_found.step;
                    self.goto(cx, next);
                }
            }
            Wait::Http { step, .. } => {
                if let Some(StepKind::Http(h)) = self.flow.step(step).map(|s| &s.kind) {
                    let next = h.fallback.step;
                    self.goto(cx, next);
                }
            }
            Wait::Recording { step, .. } => self.voicemail_done(cx, step),
            _ => {}
        }
    }
}
