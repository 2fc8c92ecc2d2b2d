//! Running a flow without phones: a virtual clock, scripted key presses, and
//! answers from a [`Backend`] the caller provides (`switchyard ivr simulate`).
//!
//! The simulator plays the node's part. Each prompt "plays" for
//! [`Backend::prompt_duration`]; lookups, HTTP requests, queue exits and
//! voicemail recordings are answered by the backend after a short delay. Each
//! time a menu or collect listens for keys, the next entry of
//! [`Scenario::digits`] is pressed, one key every 250 ms starting 500 ms after
//! the prompt ends; an empty entry presses nothing, so that attempt times out.
//! A conference step with `full` seats the caller 20 ms after sending them to
//! the room, unless the next entry is [`ROOM_FULL`] (`full`): it takes that
//! entry, and the room turns out full. A step's `max` and `record` are logged
//! with the room (`board (at most 10 callers, recorded)`) but decide nothing
//! here.
//! The clock jumps from one event or deadline to the next, so a run takes
//! microseconds whatever the timeouts. The [`Report`] lists every step,
//! command and event with its virtual time, then the outcome and the path.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::flow::MAX_ROOM_SIZE;
use crate::flowset::FlowSet;
use crate::interp::{
    CallInfo, Command, HttpOutcome, HttpRequest, Input, Interpreter, LookupKey, Outcome, PromptRef,
    QueueExit, Visit,
};
use crate::value::Value;

/// What the simulated caller does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The caller's number.
    pub caller: String,
    /// The number dialled.
    pub dialled: String,
    /// Keys to press, one entry per listening menu or collect (`"1"`, `"123#"`,
    /// `""`), taken in order; a [`ROOM_FULL`] entry is the answer to the next
    /// conference step with `full` (a menu or collect that meets it presses nothing).
    pub digits: Vec<String>,
    /// The wall-clock time the call starts.
    pub at: Timestamp,
    /// Virtual time after which the run stops.
    pub limit: Duration,
}

/// The [`Scenario::digits`] entry (`--digits "1,full"`) that makes the next
/// conference step with `full` find its room full; without it the caller is seated.
pub const ROOM_FULL: &str = "full";

impl Scenario {
    /// A caller who presses nothing, at `at`, stopped after an hour.
    #[must_use]
    pub fn new(caller: &str, dialled: &str, at: Timestamp) -> Self {
        Self {
            caller: caller.to_owned(),
            dialled: dialled.to_owned(),
            digits: Vec::new(),
            at,
            limit: Duration::from_secs(3600),
        }
    }
}

/// Answers the simulated node gives.
pub trait Backend {
    /// The customer for `key`, with the requested fields; `None`: not found.
    fn lookup(&mut self, key: &LookupKey, fields: &[String]) -> Option<Vec<(String, Value)>>;

    /// The answer to an HTTP request (default: no answer, so the fallback runs).
    fn http(&mut self, request: &HttpRequest) -> HttpOutcome {
        let _ = request;
        HttpOutcome::Failed
    }

    /// How long a prompt plays (default 1.5 s).
    fn prompt_duration(&mut self, prompt: &PromptRef) -> Duration {
        let _ = prompt;
        Duration::from_millis(1500)
    }

    /// Why a call leaves a queue whose step continues on exit (default: answered).
    fn queue_exit(&mut self, queue: &str) -> QueueExit {
        let _ = queue;
        QueueExit::Answered
    }
}

/// A backend with no customers and default answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCustomers;

impl Backend for NoCustomers {
    fn lookup(&mut self, _: &LookupKey, _: &[String]) -> Option<Vec<(String, Value)>> {
        None
    }
}

/// What happened in a simulated call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// One line per step, command and event: `MM:SS.mmm  what  details`.
    pub lines: Vec<String>,
    /// How the flow ended (`None`: it was still waiting when the run stopped).
    pub outcome: Option<Outcome>,
    /// The steps taken.
    pub path: Vec<Visit>,
    /// The variables at the end.
    pub variables: Vec<(String, Value)>,
    /// Virtual time the call took.
    pub duration: Duration,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        match &self.outcome {
            Some(o) => writeln!(f, "outcome: {o}")?,
            None => writeln!(f, "outcome: none (the flow was still waiting)")?,
        }
        let path: Vec<String> = self.path.iter().map(ToString::to_string).collect();
        write!(f, "path: {}", path.join(" -> "))
    }
}

/// Why a simulation could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The flow is not in the set.
    #[error("no flow named `{0}`")]
    UnknownFlow(String),
    /// `--digits` is malformed.
    #[error(
        "bad digits `{0}`: use keys 0-9 * # A-D, or `full` for a full conference room, entries separated by commas"
    )]
    BadDigits(String),
    /// `--at` is malformed.
    #[error(
        "bad time `{0}`: use RFC 3339 (2026-03-09T14:00:00Z) or a zoned time (2026-03-09T09:00[America/New_York])"
    )]
    BadTime(String),
}

/// Splits `"1,2,123#,,9"` into entries; spaces are ignored. An entry may also
/// be [`ROOM_FULL`] (`"3,full"`).
///
/// # Errors
///
/// [`SimError::BadDigits`] for an entry that is neither keys nor [`ROOM_FULL`].
pub fn parse_digits(text: &str) -> Result<Vec<String>, SimError> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if clean.is_empty() {
        return Ok(Vec::new());
    }
    let entries: Vec<String> = clean.split(',').map(str::to_owned).collect();
    let valid = |entry: &String| {
        entry == ROOM_FULL
            || entry
                .chars()
                .all(|c| matches!(c, '0'..='9' | '*' | '#' | 'A'..='D'))
    };
    if !entries.iter().all(valid) {
        return Err(SimError::BadDigits(text.to_owned()));
    }
    Ok(entries)
}

/// Parses `--at`: an RFC 3339 instant, or a civil time with a zone in brackets.
///
/// # Errors
///
/// [`SimError::BadTime`] when it is neither.
pub fn parse_time(text: &str) -> Result<Timestamp, SimError> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    text.parse::<jiff::Zoned>()
        .map(|z| z.timestamp())
        .map_err(|_| SimError::BadTime(text.to_owned()))
}

/// Runs `flow` of `set` for `scenario`.
///
/// # Errors
///
/// [`SimError::UnknownFlow`] when the set has no such flow.
pub fn simulate(
    set: &Arc<FlowSet>,
    flow: &str,
    scenario: &Scenario,
    backend: &mut dyn Backend,
) -> Result<Report, SimError> {
    let start = set
        .get(flow)
        .cloned()
        .ok_or_else(|| SimError::UnknownFlow(flow.to_owned()))?;
    let call = CallInfo {
        call_id: "sim-1".to_owned(),
        caller: scenario.caller.clone(),
        dialled: scenario.dialled.clone(),
    };
    let interp = Interpreter::new(start, Arc::clone(set), call);
    Ok(Run::new(set, interp, scenario, backend).run())
}

/// Events the simulated node will feed, ordered by time then by scheduling order.
type Pending = BinaryHeap<Reverse<(Instant, u64, Event)>>;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Played(u64),
    Key(char),
    Looked(u64, bool),
    Answered(u64),
    LeftQueue(u8),
    Recorded(u64),
    /// The node's answer to a conference step with `full`.
    Room {
        room: String,
        full: bool,
    },
}

/// Caps the number of inputs fed, whatever the flow does.
const MAX_EVENTS: usize = 10_000;

struct Run<'a> {
    set: &'a FlowSet,
    interp: Interpreter,
    scenario: &'a Scenario,
    backend: &'a mut dyn Backend,
    epoch: Instant,
    now: Instant,
    pending: Pending,
    seq: u64,
    digits: std::collections::VecDeque<String>,
    answered: Option<u64>,
    lines: Vec<String>,
    seen_path: usize,
    http: Vec<(u64, HttpOutcome)>,
    lookups: Vec<(u64, Vec<(String, Value)>)>,
}

impl<'a> Run<'a> {
    fn new(
        set: &'a FlowSet,
        interp: Interpreter,
        scenario: &'a Scenario,
        backend: &'a mut dyn Backend,
    ) -> Self {
        #[allow(
            clippy::disallowed_methods,
            reason = "the virtual clock needs one anchor; only differences from it are used"
        )]
        let epoch = Instant::now();
        Self {
            set,
            interp,
            scenario,
            backend,
            epoch,
            now: epoch,
            pending: BinaryHeap::new(),
            seq: 0,
            digits: scenario.digits.iter().cloned().collect(),
            answered: None,
            lines: Vec::new(),
            seen_path: 0,
            http: Vec::new(),
            lookups: Vec::new(),
        }
    }

    fn run(mut self) -> Report {
        let s = self.scenario;
        self.log(
            "start",
            &format!("caller {} dialled {} at {}", s.caller, s.dialled, s.at),
        );
        self.feed(Input::Start);
        for _ in 0..MAX_EVENTS {
            self.commands();
            if self.interp.outcome().is_some() {
                break;
            }
            self.press_keys();
            if !self.advance() {
                break;
            }
        }
        Report {
            lines: self.lines,
            outcome: self.interp.outcome().cloned(),
            path: self.interp.path().to_vec(),
            variables: self
                .interp
                .variables()
                .map(|(k, v)| (k.to_owned(), v.clone()))
                .collect(),
            duration: self.now - self.epoch,
        }
    }

    fn wall(&self) -> Timestamp {
        let elapsed = self.now - self.epoch;
        self.scenario
            .at
            .checked_add(elapsed)
            .unwrap_or(self.scenario.at)
    }

    fn feed(&mut self, input: Input) {
        let wall = self.wall();
        self.interp.handle_input(self.now, wall, input);
        let path = self.interp.path();
        let new: Vec<String> = path
            .get(self.seen_path..)
            .unwrap_or_default()
            .iter()
            .map(|v| format!("{v} ({})", self.step_type(v)))
            .collect();
        self.seen_path = path.len();
        for step in new {
            self.log("step", &step);
        }
    }

    fn step_type(&self, v: &Visit) -> &'static str {
        self.set
            .get(v.flow.as_str())
            .and_then(|f| f.steps.iter().find(|s| s.name == v.step))
            .map_or("?", |s| s.kind.type_name())
    }

    fn log(&mut self, what: &str, detail: &str) {
        let t = self.now - self.epoch;
        let (m, s, ms) = (t.as_secs() / 60, t.as_secs() % 60, t.subsec_millis());
        self.lines
            .push(format!("{m:02}:{s:02}.{ms:03}  {what:<9} {detail}"));
    }

    fn schedule(&mut self, after: Duration, event: Event) {
        self.seq += 1;
        self.pending
            .push(Reverse((self.now + after, self.seq, event)));
    }

    /// Carries out every command the interpreter has emitted.
    fn commands(&mut self) {
        while let Some(cmd) = self.interp.poll_output() {
            self.command(cmd);
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Play {
                id,
                prompts,
                barge_in,
            } => self.play(id, &prompts, barge_in),
            Command::StopPlayback { id } => {
                self.log("stop", &format!("#{id}"));
                let kept = std::mem::take(&mut self.pending).into_iter();
                self.pending = kept
                    .filter(|Reverse((_, _, e))| *e != Event::Played(id))
                    .collect();
            }
            Command::Lookup { id, key, fields } => {
                self.log(
                    "lookup",
                    &format!("#{id} by {key}, fields {}", fields.join(", ")),
                );
                let found = self.backend.lookup(&key, &fields);
                let is_found = found.is_some();
                self.lookups.push((id, found.unwrap_or_default()));
                self.schedule(Duration::from_millis(20), Event::Looked(id, is_found));
            }
            Command::Http { id, request } => {
                let body: Vec<String> = request
                    .body
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let line = format!(
                    "#{id} {} {}{} {}",
                    request.method,
                    request.endpoint,
                    request.path,
                    body.join(" ")
                );
                self.log("http", line.trim_end());
                let outcome = self.backend.http(&request);
                self.http.push((id, outcome));
                self.schedule(Duration::from_millis(200), Event::Answered(id));
            }
            Command::Enqueue {
                queue,
                priority,
                skills,
                data,
            } => {
                let line = format!("{queue} priority {priority} skills {skills:?} data {data:?}");
                self.log("enqueue", &line);
                let reason = self.backend.queue_exit(&queue);
                self.schedule(Duration::from_secs(30), Event::LeftQueue(exit_code(reason)));
            }
            Command::RecordVoicemail {
                id,
                mailbox,
                max_duration,
            } => {
                let line = format!(
                    "#{id} mailbox {mailbox} (at most {} s)",
                    max_duration.as_secs()
                );
                self.log("record", &line);
                let length = max_duration.min(Duration::from_secs(8));
                self.schedule(length, Event::Recorded(id));
            }
            Command::Transfer { target } => self.log("transfer", &target.to_string()),
            Command::Conference { room, max, record } => {
                let mut notes = Vec::new();
                if max < MAX_ROOM_SIZE {
                    notes.push(format!("at most {max} callers"));
                }
                if record {
                    notes.push("recorded".to_owned());
                }
                if notes.is_empty() {
                    self.log("conference", &room);
                } else {
                    self.log("conference", &format!("{room} ({})", notes.join(", ")));
                }
                if self.interp.awaits_seat() {
                    let full = self.digits.front().is_some_and(|e| e == ROOM_FULL);
                    if full {
                        self.digits.pop_front();
                    }
                    self.schedule(Duration::from_millis(20), Event::Room { room, full });
                }
            }
            Command::Hangup => self.log("hangup", ""),
        }
    }

    fn play(&mut self, id: u64, prompts: &[PromptRef], barge_in: bool) {
        let names: Vec<&str> = prompts.iter().map(PromptRef::as_str).collect();
        let mode = if barge_in { " (barge-in)" } else { "" };
        self.log("play", &format!("#{id} {}{mode}", names.join(" ")));
        let total = prompts
            .iter()
            .map(|p| self.backend.prompt_duration(p))
            .sum();
        self.schedule(total, Event::Played(id));
    }

    /// Schedules the next entry of keys once per listening attempt.
    fn press_keys(&mut self) {
        let Some(attempt) = self.interp.listening() else {
            return;
        };
        if self.answered == Some(attempt) {
            return;
        }
        self.answered = Some(attempt);
        let Some(entry) = self.digits.pop_front().filter(|e| e != ROOM_FULL) else {
            return;
        };
        for (i, key) in entry.chars().enumerate() {
            let after = Duration::from_millis(500 + 250 * u64::try_from(i).unwrap_or(0));
            self.schedule(after, Event::Key(key));
        }
    }

    /// Moves the clock to the next event or deadline and feeds it; false when nothing is left.
    fn advance(&mut self) -> bool {
        let next_event = self.pending.peek().map(|Reverse((t, _, _))| *t);
        let deadline = self.interp.poll_timeout();
        let at = match (next_event, deadline) {
            (None, None) => {
                self.log("idle", "nothing more will happen");
                return false;
            }
            (Some(e), Some(d)) => e.min(d),
            (Some(t), None) | (None, Some(t)) => t,
        };
        if at - self.epoch > self.scenario.limit {
            self.log("stop", "time limit reached");
            return false;
        }
        self.now = self.now.max(at);
        match self.pending.peek() {
            Some(Reverse((t, _, _))) if *t <= at => {
                if let Some(Reverse((_, _, event))) = self.pending.pop() {
                    self.event(event);
                }
            }
            _ => {
                self.log("timeout", "");
                self.feed(Input::Timeout);
            }
        }
        true
    }

    fn event(&mut self, event: Event) {
        let input = match event {
            Event::Played(id) => {
                self.log("played", &format!("#{id}"));
                Input::PlaybackFinished { id }
            }
            Event::Key(c) => {
                self.log("key", &c.to_string());
                Input::Digit(c)
            }
            Event::Looked(id, found) => {
                let fields = take(&mut self.lookups, id).unwrap_or_default();
                let what = if found {
                    let shown: Vec<String> =
                        fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("found: {}", shown.join(", "))
                } else {
                    "not found".to_owned()
                };
                self.log("result", &format!("#{id} {what}"));
                Input::LookupResult { id, found, fields }
            }
            Event::Answered(id) => {
                let outcome = take(&mut self.http, id).unwrap_or(HttpOutcome::Failed);
                self.log("response", &format!("#{id} {outcome:?}"));
                Input::HttpResult { id, outcome }
            }
            Event::LeftQueue(code) => {
                let reason = EXITS
                    .get(usize::from(code))
                    .copied()
                    .unwrap_or(QueueExit::Answered);
                self.log("queue", &format!("left: {}", reason.name()));
                Input::QueueExited { reason }
            }
            Event::Recorded(id) => {
                self.log("recorded", &format!("#{id}"));
                Input::VoicemailFinished { id, recorded: true }
            }
            Event::Room { room, full } => {
                if full {
                    self.log("room", &format!("{room} full"));
                    Input::ConferenceFull
                } else {
                    self.log("room", &format!("{room} seated"));
                    Input::ConferenceSeated
                }
            }
        };
        self.feed(input);
    }
}

const EXITS: [QueueExit; 4] = [
    QueueExit::Answered,
    QueueExit::Timeout,
    QueueExit::Overflow,
    QueueExit::Closed,
];

fn exit_code(reason: QueueExit) -> u8 {
    let i = EXITS.iter().position(|e| *e == reason).unwrap_or(0);
    u8::try_from(i).unwrap_or(0)
}

/// Removes and returns the entry for `id`.
fn take<T>(list: &mut Vec<(u64, T)>, id: u64) -> Option<T> {
    let i = list.iter().position(|(k, _)| *k == id)?;
    Some(list.swap_remove(i).1)
}
