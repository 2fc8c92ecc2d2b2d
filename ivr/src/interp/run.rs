//! Running steps: the loop through steps that do not wait, entering the ones
//! that do, and the menu, collect, lookup, http, queue, conference and
//! voicemail logic.

use std::sync::Arc;
use std::time::Instant;

use jiff::Timestamp;

use super::{
    Command, Failure, HttpOutcome, HttpRequest, Interpreter, LookupKey, MAX_DEPTH, MAX_HOPS,
    MAX_PATH, Outcome, PromptRef, QueueExit, TransferTarget, VOICEMAIL_GRACE, Visit, Wait,
};
use crate::flow::{
    Cond, Flow, HoursTest, LookupBy, PromptItem, StepId, StepKind, Test, is_room_name,
};
use crate::hours::HoursState;
use crate::pattern::luhn;
use crate::say::{self, SayAs};
use crate::value::{Value, percent, raw};

/// The times of the input being handled.
pub(super) struct Cx {
    pub(super) now: Instant,
    pub(super) wall: Timestamp,
}

/// Why a menu or collect attempt failed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Why {
    Invalid,
    Timeout,
}

impl Interpreter {
    /// Runs from `step` through steps that do not wait, and enters the first that does.
    pub(super) fn goto(&mut self, cx: &mut Cx, mut step: StepId) {
        self.deadline = None;
        for _ in 0..MAX_HOPS {
            let flow = Arc::clone(&self.flow);
            match self.run_step(cx, &flow, step) {
                Some(next) => step = next,
                None => return,
            }
        }
        self.fail(Failure::BusyLoop);
    }

    /// Runs one step: the next step when it does not wait, `None` when it does
    /// (or the flow ended).
    fn run_step(&mut self, cx: &mut Cx, flow: &Flow, step: StepId) -> Option<StepId> {
        let Some(s) = flow.step(step) else {
            self.fail(Failure::BusyLoop);
            return None;
        };
        self.visit(flow, step);
        match &s.kind {
            StepKind::Play(p) => self.start_play(flow, p),
            StepKind::Menu(_) => {
                self.prompt_menu(cx, step, 0, None);
                None
            }
            StepKind::Collect(_) => {
                self.prompt_collect(cx, step, 0, None);
                None
            }
            StepKind::Lookup(l) => self.lookup(cx, step, l),
            StepKind::Http(h) => {
                self.http(cx, step, h);
                None
            }
            StepKind::Branch(b) => Some(
                b.cases
                    .iter()
                    .find(|c| c.conds.iter().all(|cond| self.holds(flow, cond, cx.wall)))
                    .map_or(b.otherwise.step, |c| c.goto.step),
            ),
            StepKind::Set(set) => {
                for (def, value) in &set.vars {
                    self.vars.insert(def.name.to_string(), value.clone());
                }
                Some(set.next.step)
            }
            StepKind::Queue(q) => {
                self.enqueue(step, q);
                None
            }
            StepKind::Voicemail(v) => {
                let greeting = self.expand(flow, &v.greeting);
                if greeting.is_empty() {
                    self.record(cx, step);
                } else {
                    let id = self.play(greeting, false);
                    self.wait = Wait::Greeting { id, step };
                }
                None
            }
            StepKind::Transfer(t) => {
                self.transfer(t);
                None
            }
            StepKind::Conference(c) => {
                self.conference(step, c);
                None
            }
            StepKind::Hangup => {
                self.emit(Command::Hangup);
                self.finish(Outcome::HungUp);
                None
            }
            StepKind::Goto(t) => Some(t.step),
            StepKind::Call(c) => self.call(&c.flow, c.next.step),
            StepKind::Return => self.ret(),
            StepKind::Invalid => {
                self.fail(Failure::BusyLoop);
                None
            }
        }
    }

    /// Starts a `play` step; its `next` when there is nothing to play.
    fn start_play(&mut self, flow: &Flow, p: &crate::flow::Play) -> Option<StepId> {
        let prompts = self.expand(flow, &p.items);
        if prompts.is_empty() {
            return Some(p.next.step);
        }
        if !p.barge_in {
            self.typeahead.clear();
        }
        let id = self.play(prompts, p.barge_in);
        self.wait = Wait::Playback {
            id,
            barge_in: p.barge_in,
            next: p.next.step,
        };
        None
    }

    fn transfer(&mut self, t: &crate::flow::Transfer) {
        let text = t.target.expand(|n| self.vars.get(n), raw);
        let target = if t.external {
            TransferTarget::External(text)
        } else {
            TransferTarget::Extension(text)
        };
        self.emit(Command::Transfer {
            target: target.clone(),
        });
        self.finish(Outcome::Transferred { target });
    }

    /// Puts the caller into the room, or fails the flow when the expanded
    /// name is not a room name. With `full` the flow waits for the node's
    /// answer (no timer: the node always answers, or the caller hangs up).
    fn conference(&mut self, step: StepId, c: &crate::flow::Conference) {
        let room = c.room.expand(|n| self.vars.get(n), raw);
        if !is_room_name(&room) {
            self.fail(Failure::InvalidRoom(room));
            return;
        }
        self.emit(Command::Conference {
            room: room.clone(),
            max: c.max,
            record: c.record,
        });
        if c.full.is_some() {
            self.wait = Wait::Seat { step, room };
        } else {
            self.finish(Outcome::Conference { room });
        }
    }

    /// The node seated the caller: the flow ends in the room.
    pub(super) fn on_seated(&mut self) {
        if let Wait::Seat { room, .. } = &self.wait {
            let room = room.clone();
            self.finish(Outcome::Conference { room });
        }
    }

    /// The room was full: the flow goes on at the step's `full`.
    pub(super) fn on_room_full(&mut self, cx: &mut Cx) {
        let Wait::Seat { step, .. } = self.wait else {
            return;
        };
        let flow = Arc::clone(&self.flow);
        let Some(StepKind::Conference(c)) = flow.step(step).map(|s| &s.kind) else {
            return;
        };
        if let Some(full) = &c.full {
            self.goto(cx, full.step);
        }
    }

    fn visit(&mut self, flow: &Flow, step: StepId) {
        self.steps_run += 1;
        if let Some(s) = flow.step(step).filter(|_| self.path.len() < MAX_PATH) {
            self.path.push(Visit {
                flow: flow.name.clone(),
                step: s.name.clone(),
            });
        }
    }

    pub(super) fn fail(&mut self, reason: Failure) {
        self.emit(Command::Hangup);
        self.finish(Outcome::Failed { reason });
    }

    fn play(&mut self, prompts: Vec<PromptRef>, barge_in: bool) -> u64 {
        let id = self.id();
        self.emit(Command::Play {
            id,
            prompts,
            barge_in,
        });
        id
    }

    fn call(&mut self, name: &crate::flow::FlowName, next: StepId) -> Option<StepId> {
        let Some(callee) = self.set.get(name.as_str()).cloned() else {
            self.fail(Failure::UnknownFlow(name.to_string()));
            return None;
        };
        if self.stack.len() >= MAX_DEPTH {
            self.fail(Failure::TooDeep);
            return None;
        }
        let caller = std::mem::replace(&mut self.flow, callee);
        self.stack.push((caller, next));
        Some(self.flow.start)
    }

    fn ret(&mut self) -> Option<StepId> {
        match self.stack.pop() {
            Some((flow, next)) => {
                self.flow = flow;
                Some(next)
            }
            None => {
                self.emit(Command::Hangup);
                self.finish(Outcome::HungUp);
                None
            }
        }
    }

    /// The prompt names of `items` in the call's language.
    fn expand(&self, flow: &Flow, items: &[PromptItem]) -> Vec<PromptRef> {
        let lang = self
            .vars
            .get("language")
            .map(Value::to_string)
            .filter(|l| flow.languages.contains(l))
            .or_else(|| flow.languages.first().cloned());
        let mut names = Vec::new();
        for item in items {
            match item {
                PromptItem::Named { name, .. } => names.push(name.clone()),
                PromptItem::Say {
                    value,
                    kind,
                    prefix,
                    values,
                } => {
                    let text = value.expand(|n| self.vars.get(n), raw);
                    if *kind == SayAs::Word {
                        if values.contains(&text) {
                            names.push(format!("{prefix}{text}"));
                        }
                    } else {
                        say::expand(*kind, &text, &mut names);
                    }
                }
            }
        }
        names
            .into_iter()
            .map(|n| match &lang {
                Some(l) => PromptRef(format!("{l}/{n}")),
                None => PromptRef(n),
            })
            .collect()
    }

    fn holds(&self, flow: &Flow, cond: &Cond, wall: Timestamp) -> bool {
        match cond {
            Cond::Var { var, test } => test_value(self.vars.get(&*var.name), test),
            Cond::Set(vars) => vars.iter().all(|v| self.vars.contains_key(&*v.name)),
            Cond::Hours { schedule, when } => {
                let state = flow
                    .schedules
                    .get(*schedule)
                    .map_or(HoursState::Closed, |s| s.state(wall));
                match when {
                    HoursTest::Open => state == HoursState::Open,
                    HoursTest::Closed => state != HoursState::Open,
                    HoursTest::Holiday => state == HoursState::Holiday,
                }
            }
        }
    }

    /// Plays the menu's prompt (after `lead`, the invalid or timeout prompt) and listens.
    fn prompt_menu(&mut self, cx: &mut Cx, step: StepId, attempt: u8, lead: Option<Why>) {
        self.attempts += 1;
        let flow = Arc::clone(&self.flow);
        let Some(StepKind::Menu(m)) = flow.step(step).map(|s| &s.kind) else {
            return;
        };
        let mut prompts = match lead {
            Some(Why::Invalid) => self.expand(&flow, &m.retry.invalid_prompt),
            Some(Why::Timeout) => self.expand(&flow, &m.retry.timeout_prompt),
            None => Vec::new(),
        };
        prompts.extend(self.expand(&flow, &m.prompt));
        if prompts.is_empty() || !self.typeahead.is_empty() {
            self.listen_menu(cx, step, attempt);
        } else {
            let id = self.play(prompts, true);
            self.wait = Wait::Menu {
                step,
                attempt,
                playing: Some(id),
            };
        }
    }

    pub(super) fn listen_menu(&mut self, cx: &mut Cx, step: StepId, attempt: u8) {
        let Some(StepKind::Menu(m)) = self.flow.step(step).map(|s| &s.kind) else {
            return;
        };
        self.deadline = Some(cx.now + m.timeout);
        self.wait = Wait::Menu {
            step,
            attempt,
            playing: None,
        };
    }

    pub(super) fn menu_key(&mut self, cx: &mut Cx, step: StepId, attempt: u8, c: char) {
        let flow = Arc::clone(&self.flow);
        let Some(StepKind::Menu(m)) = flow.step(step).map(|s| &s.kind) else {
            return;
        };
        match m.options.iter().find(|(k, _)| *k == c) {
            Some((_, target)) => {
                if let Some(var) = &m.var {
                    self.vars
                        .insert(var.name.to_string(), Value::Text(c.to_string()));
                }
                self.goto(cx, target.step);
            }
            None => self.retry(cx, step, attempt, Why::Invalid),
        }
    }

    /// After a failed attempt: prompt again, or take the fallback when retries are used up.
    pub(super) fn retry(&mut self, cx: &mut Cx, step: StepId, attempt: u8, why: Why) {
        self.deadline = None;
        let flow = Arc::clone(&self.flow);
        let (retry, is_menu) = match flow.step(step).map(|s| &s.kind) {
            Some(StepKind::Menu(m)) => (&m.retry, true),
            Some(StepKind::Collect(c)) => (&c.retry, false),
            _ => return,
        };
        if attempt >= retry.retries {
            self.goto(cx, retry.fallback.step);
        } else if is_menu {
            self.prompt_menu(cx, step, attempt + 1, Some(why));
        } else {
            self.prompt_collect(cx, step, attempt + 1, Some(why));
        }
    }

    fn prompt_collect(&mut self, cx: &mut Cx, step: StepId, attempt: u8, lead: Option<Why>) {
        self.attempts += 1;
        let flow = Arc::clone(&self.flow);
        let Some(StepKind::Collect(c)) = flow.step(step).map(|s| &s.kind) else {
            return;
        };
        let mut prompts = match lead {
            Some(Why::Invalid) => self.expand(&flow, &c.retry.invalid_prompt),
            Some(Why::Timeout) => self.expand(&flow, &c.retry.timeout_prompt),
            None => Vec::new(),
        };
        prompts.extend(self.expand(&flow, &c.prompt));
        if prompts.is_empty() || !self.typeahead.is_empty() {
            self.listen_collect(cx, step, attempt, String::new());
        } else {
            let id = self.play(prompts, true);
            self.wait = Wait::Collect {
                step,
                attempt,
                playing: Some(id),
                digits: String::new(),
            };
        }
    }

    /// Listens for (more) keys: the first-digit timeout before any, else the inter-digit one.
    pub(super) fn listen_collect(
        &mut self,
        cx: &mut Cx,
        step: StepId,
        attempt: u8,
        digits: String,
    ) {
        let Some(StepKind::Collect(c)) = self.flow.step(step).map(|s| &s.kind) else {
            return;
        };
        let wait = if digits.is_empty() {
            c.first_digit
        } else {
            c.inter_digit
        };
        self.deadline = Some(cx.now + wait);
        self.wait = Wait::Collect {
            step,
            attempt,
            playing: None,
            digits,
        };
    }

    pub(super) fn collect_key(
        &mut self,
        cx: &mut Cx,
        step: StepId,
        attempt: u8,
        mut digits: String,
        key: char,
    ) {
        let Some(StepKind::Collect(c)) = self.flow.step(step).map(|s| &s.kind) else {
            return;
        };
        let (min, max) = (c.min, c.max);
        if Some(key) == c.terminator {
            if digits.len() >= min {
                self.collect_done(cx, step, attempt, digits);
            } else {
                self.retry(cx, step, attempt, Why::Invalid);
            }
            return;
        }
        digits.push(key);
        if digits.len() >= max {
            self.collect_done(cx, step, attempt, digits);
        } else {
            self.listen_collect(cx, step, attempt, digits);
        }
    }

    pub(super) fn collect_timeout(
        &mut self,
        cx: &mut Cx,
        step: StepId,
        attempt: u8,
        digits: String,
    ) {
        let Some(StepKind::Collect(c)) = self.flow.step(step).map(|s| &s.kind) else {
            return;
        };
        if digits.is_empty() {
            self.retry(cx, step, attempt, Why::Timeout);
        } else if digits.len() >= c.min {
            self.collect_done(cx, step, attempt, digits);
        } else {
            self.retry(cx, step, attempt, Why::Invalid);
        }
    }

    /// Validates complete input: stores it and goes on, or retries.
    fn collect_done(&mut self, cx: &mut Cx, step: StepId, attempt: u8, digits: String) {
        let Some(StepKind::Collect(c)) = self.flow.step(step).map(|s| &s.kind) else {
            return;
        };
        let valid =
            c.pattern.as_ref().is_none_or(|p| p.matches(&digits)) && (!c.luhn || luhn(&digits));
        if valid {
            let (var, next) = (c.var.name.to_string(), c.next.step);
            self.vars.insert(var, Value::Text(digits));
            self.goto(cx, next);
        } else {
            self.retry(cx, step, attempt, Why::Invalid);
        }
    }

    fn lookup(&mut self, cx: &mut Cx, step: StepId, l: &crate::flow::Lookup) -> Option<StepId> {
        let name = match &l.by {
            LookupBy::Caller => "caller",
            LookupBy::Account(var) => &*var.name,
        };
        let value = self
            .vars
            .get(name)
            .map(Value::to_string)
            .unwrap_or_default();
        if value.is_empty() {
            return Some(l.not_found.step);
        }
        let key = match &l.by {
            LookupBy::Caller => LookupKey::Caller(value),
            LookupBy::Account(_) => LookupKey::Account(value),
        };
        let id = self.id();
        let fields = l.fields.iter().map(|(f, _)| f.to_string()).collect();
        self.emit(Command::Lookup { id, key, fields });
        self.wait = Wait::Lookup { id, step };
        self.deadline = Some(cx.now + l.timeout);
        None
    }

    pub(super) fn on_lookup(
        &mut self,
        cx: &mut Cx,
        id: u64,
        found: bool,
        fields: Vec<(String, Value)>,
    ) {
        let Wait::Lookup { id: lid, step } = self.wait else {
            return;
        };
        let flow = Arc::clone(&self.flow);
        let Some(StepKind::Lookup(l)) = flow.step(step).map(|s| &s.kind) else {
            return;
        };
        if lid != id {
            return;
        }
        if found {
            self.store(&l.fields, fields);
            self.goto(cx, l.found.step);
        } else {
            self.goto(cx, l.not_found.step);
        }
    }

    /// Keeps the listed fields of a result as variables.
    fn store(&mut self, wanted: &[(Arc<str>, Arc<str>)], fields: Vec<(String, Value)>) {
        for (name, value) in fields {
            if let Some((_, var)) = wanted.iter().find(|(f, _)| **f == *name) {
                self.vars.insert(var.to_string(), value);
            }
        }
    }

    fn http(&mut self, cx: &mut Cx, step: StepId, h: &crate::flow::Http) {
        let get = |n: &str| self.vars.get(n);
        let request = HttpRequest {
            endpoint: h.endpoint.clone(),
            method: h.method,
            path: h.path.expand(get, percent),
            body: h
                .body
                .iter()
                .map(|(k, t)| (k.clone(), t.expand(get, raw)))
                .collect(),
            timeout: h.timeout,
        };
        let id = self.id();
        self.emit(Command::Http { id, request });
        self.wait = Wait::Http { id, step };
        self.deadline = Some(cx.now + h.timeout);
    }

    pub(super) fn on_http(&mut self, cx: &mut Cx, id: u64, outcome: HttpOutcome) {
        let Wait::Http { id: hid, step } = self.wait else {
            return;
        };
        let flow = Arc::clone(&self.flow);
        let Some(StepKind::Http(h)) = flow.step(step).map(|s| &s.kind) else {
            return;
        };
        if hid != id {
            return;
        }
        match outcome {
            HttpOutcome::Response { status, fields } if (200..300).contains(&status) => {
                self.store(&h.fields, fields);
                self.goto(cx, h.next.step);
            }
            _ => self.goto(cx, h.fallback.step),
        }
    }

    fn enqueue(&mut self, step: StepId, q: &crate::flow::Queue) {
        let get = |n: &str| self.vars.get(n);
        let skills = q
            .skills
            .iter()
            .map(|(t, level)| (t.expand(get, raw), *level))
            .filter(|(name, _)| !name.is_empty())
            .collect();
        let data = q
            .data
            .iter()
            .map(|(k, t)| (k.clone(), t.expand(get, raw)))
            .collect();
        self.emit(Command::Enqueue {
            queue: q.queue.clone(),
            priority: q.priority,
            skills,
            data,
        });
        if q.on_exit.is_some() {
            self.wait = Wait::Queue { step };
        } else {
            self.finish(Outcome::Queued {
                queue: q.queue.clone(),
            });
        }
    }

    pub(super) fn on_queue_exit(&mut self, cx: &mut Cx, reason: QueueExit) {
        let Wait::Queue { step } = self.wait else {
            return;
        };
        let flow = Arc::clone(&self.flow);
        let Some(StepKind::Queue(q)) = flow.step(step).map(|s| &s.kind) else {
            return;
        };
        match (reason, &q.on_exit) {
            (QueueExit::Answered, _) | (_, None) => self.finish(Outcome::Queued {
                queue: q.queue.clone(),
            }),
            (_, Some(target)) => {
                let value = Value::Text(reason.name().to_owned());
                self.vars.insert("queue.exit_reason".to_owned(), value);
                self.goto(cx, target.step);
            }
        }
    }

    pub(super) fn record(&mut self, cx: &mut Cx, step: StepId) {
        let Some(StepKind::Voicemail(v)) = self.flow.step(step).map(|s| &s.kind) else {
            return;
        };
        let (mailbox, max) = (v.mailbox.clone(), v.max);
        let id = self.id();
        self.emit(Command::RecordVoicemail {
            id,
            mailbox,
            max_duration: max,
        });
        self.wait = Wait::Recording { id, step };
        self.deadline = Some(cx.now + max + VOICEMAIL_GRACE);
    }

    pub(super) fn voicemail_done(&mut self, cx: &mut Cx, step: StepId) {
        let Some(StepKind::Voicemail(v)) = self.flow.step(step).map(|s| &s.kind) else {
            return;
        };
        match &v.next {
            Some(next) => {
                let next = next.step;
                self.goto(cx, next);
            }
            None => {
                let mailbox = v.mailbox.clone();
                self.emit(Command::Hangup);
                self.finish(Outcome::Voicemail { mailbox });
            }
        }
    }
}

/// Whether a variable's value (`None`: unset) passes `test`.
fn test_value(value: Option<&Value>, test: &Test) -> bool {
    let Some(v) = value else {
        return matches!(test, Test::Ne(_));
    };
    let int = v.as_int();
    match test {
        Test::Eq(x) => v.same_as(x),
        Test::Ne(x) => !v.same_as(x),
        Test::Lt(n) => int.is_some_and(|i| i < *n),
        Test::Le(n) => int.is_some_and(|i| i <= *n),
        Test::Gt(n) => int.is_some_and(|i| i > *n),
        Test::Ge(n) => int.is_some_and(|i| i >= *n),
        Test::Prefix(p) => v.to_string().starts_with(p.as_str()),
        Test::In(list) => list.iter().any(|x| v.same_as(x)),
    }
}
