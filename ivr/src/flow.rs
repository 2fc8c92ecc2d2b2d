//! The compiled flow: an immutable graph of steps, shared between calls through `Arc`.
//!
//! [`Flow::compile`] turns one flow file into a [`Flow`] (or diagnostics). A
//! compiled flow never changes; a reload compiles a new one, and calls already
//! running keep the `Arc<Flow>` they started with. The step types below are
//! the flow language after decoding: every step name is resolved to an index,
//! every template and pattern parsed, every time zone looked up.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::diag::{Diagnostic, LineIndex, Span};
use crate::hours::Schedule;
use crate::pattern::Pattern;
use crate::say::SayAs;
use crate::value::{Template, Value, VarUse};

/// The name of a step (`[steps.NAME]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepName(pub(crate) Arc<str>);

impl StepName {
    /// The name as written in the flow file.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of a flow: its file name without `.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowName(pub(crate) Arc<str>);

impl FlowName {
    /// The name as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FlowName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Index of a step in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct StepId(pub(crate) usize);

/// A compiled flow.
#[derive(Debug)]
pub struct Flow {
    pub(crate) name: FlowName,
    pub(crate) path: PathBuf,
    pub(crate) lines: LineIndex,
    pub(crate) start: StepId,
    /// Prompt language directories; the first is the default. Empty: prompts are not prefixed.
    pub(crate) languages: Vec<String>,
    pub(crate) inputs: Vec<VarUse>,
    pub(crate) outputs: Vec<VarUse>,
    pub(crate) steps: Vec<Step>,
    pub(crate) schedules: Vec<Schedule>,
}

impl Flow {
    /// Compiles flow `name` from `text` (read from `path`, which names it in diagnostics).
    ///
    /// Runs every check that needs only this file (prompts are not checked, and
    /// `call` steps are taken on trust); [`crate::FlowSet::build`] checks a
    /// whole directory together. Warnings are dropped here.
    ///
    /// # Errors
    ///
    /// Every error found, in file order.
    pub fn compile(name: &str, text: &str, path: &Path) -> Result<Flow, Vec<Diagnostic>> {
        let source = crate::FlowSource {
            name: name.to_owned(),
            path: path.to_path_buf(),
            text: text.to_owned(),
        };
        crate::flowset::compile_one(&source)
    }

    /// The flow's name.
    #[must_use]
    pub fn name(&self) -> &FlowName {
        &self.name
    }

    /// The file it was compiled from.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The prompt language directories; the first is the default.
    #[must_use]
    pub fn languages(&self) -> &[String] {
        &self.languages
    }

    /// The names of the steps, in file order.
    pub fn step_names(&self) -> impl Iterator<Item = &StepName> {
        self.steps.iter().map(|s| &s.name)
    }

    /// The business-hours schedules the flow defines.
    #[must_use]
    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }

    /// Every prompt the flow may play, with its language directory
    /// (`en/welcome`), including every fragment its `say` items may need.
    #[must_use]
    pub fn prompts(&self) -> BTreeSet<String> {
        let mut bare = BTreeSet::new();
        for step in &self.steps {
            for item in step.kind.prompt_items() {
                bare.extend(item.names());
            }
        }
        if self.languages.is_empty() {
            return bare;
        }
        self.languages
            .iter()
            .flat_map(|lang| bare.iter().map(move |n| format!("{lang}/{n}")))
            .collect()
    }

    pub(crate) fn step(&self, id: StepId) -> Option<&Step> {
        self.steps.get(id.0)
    }
}

/// One step of a flow.
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) name: StepName,
    /// The step's name where its table is written.
    pub(crate) at: Span,
    pub(crate) kind: StepKind,
}

/// A resolved reference to another step of the same flow.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) step: StepId,
}

/// A variable a step sets.
#[derive(Debug, Clone)]
pub(crate) struct VarDef {
    pub(crate) name: Arc<str>,
}

/// What a step does.
#[derive(Debug)]
pub(crate) enum StepKind {
    Play(Play),
    Menu(Menu),
    Collect(Collect),
    Lookup(Lookup),
    Http(Http),
    Branch(Branch),
    Set(SetVars),
    Queue(Queue),
    Voicemail(Voicemail),
    Transfer(Transfer),
    Conference(Conference),
    Hangup,
    Goto(Target),
    Call(CallFlow),
    Return,
    /// A step whose table had errors (only in flows that fail to compile).
    Invalid,
}

impl StepKind {
    /// The `type` name of the step.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::Play(_) => "play",
            Self::Menu(_) => "menu",
            Self::Collect(_) => "collect",
            Self::Lookup(_) => "lookup",
            Self::Http(_) => "http",
            Self::Branch(_) => "branch",
            Self::Set(_) => "set",
            Self::Queue(_) => "queue",
            Self::Voicemail(_) => "voicemail",
            Self::Transfer(_) => "transfer",
            Self::Conference(_) => "conference",
            Self::Hangup => "hangup",
            Self::Goto(_) => "goto",
            Self::Call(_) => "call",
            Self::Return => "return",
            Self::Invalid => "invalid",
        }
    }

    /// Every prompt item the step may play.
    pub(crate) fn prompt_items(&self) -> Vec<&PromptItem> {
        match self {
            Self::Play(p) => p.items.iter().collect(),
            Self::Menu(m) => m.prompt.iter().chain(m.retry.prompts()).collect(),
            Self::Collect(c) => c.prompt.iter().chain(c.retry.prompts()).collect(),
            Self::Voicemail(v) => v.greeting.iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// One item of a prompt list.
#[derive(Debug, Clone)]
pub(crate) enum PromptItem {
    /// A named prompt (`"welcome"`).
    Named { name: String, at: Span },
    /// A value said as fragments (`{ say = "${x}", as = "number" }`).
    Say {
        value: Template,
        kind: SayAs,
        /// For `word`: the prefix and the listed values.
        prefix: String,
        values: Vec<String>,
    },
}

impl PromptItem {
    /// Every prompt name (without language) this item may play.
    pub(crate) fn names(&self) -> Vec<String> {
        match self {
            Self::Named { name, .. } => vec![name.clone()],
            Self::Say {
                kind: SayAs::Word,
                prefix,
                values,
                ..
            } => values.iter().map(|v| format!("{prefix}{v}")).collect(),
            Self::Say { kind, .. } => kind.fragments(),
        }
    }

    pub(crate) fn at(&self) -> Span {
        match self {
            Self::Named { at, .. } => at.clone(),
            Self::Say { value, .. } => value.at.clone(),
        }
    }
}

/// `play`: plays prompts, then goes on.
#[derive(Debug)]
pub(crate) struct Play {
    pub(crate) items: Vec<PromptItem>,
    pub(crate) barge_in: bool,
    pub(crate) next: Target,
}

/// Timeouts, retries and the way out, shared by `menu` and `collect`.
#[derive(Debug)]
pub(crate) struct Retry {
    pub(crate) retries: u8,
    pub(crate) invalid_prompt: Vec<PromptItem>,
    pub(crate) timeout_prompt: Vec<PromptItem>,
    pub(crate) fallback: Target,
}

impl Retry {
    fn prompts(&self) -> impl Iterator<Item = &PromptItem> {
        self.invalid_prompt.iter().chain(&self.timeout_prompt)
    }
}

/// `menu`: one digit chooses the next step.
#[derive(Debug)]
pub(crate) struct Menu {
    pub(crate) prompt: Vec<PromptItem>,
    pub(crate) options: Vec<(char, Target)>,
    pub(crate) var: Option<VarDef>,
    pub(crate) timeout: Duration,
    pub(crate) retry: Retry,
}

/// `collect`: several digits into a variable.
#[derive(Debug)]
pub(crate) struct Collect {
    pub(crate) prompt: Vec<PromptItem>,
    pub(crate) var: VarDef,
    pub(crate) min: usize,
    pub(crate) max: usize,
    pub(crate) terminator: Option<char>,
    pub(crate) first_digit: Duration,
    pub(crate) inter_digit: Duration,
    pub(crate) pattern: Option<Pattern>,
    pub(crate) luhn: bool,
    pub(crate) core: bool,
    pub(crate) next: Target,
    pub(crate) retry: Retry,
}

/// How a `lookup` finds the customer.
#[derive(Debug)]
pub(crate) enum LookupBy {
    Caller,
    Account(VarUse),
}

/// `lookup`: finds the customer in the node's store.
#[derive(Debug)]
pub(crate) struct Lookup {
    pub(crate) by: LookupBy,
    /// (field, variable `customer.FIELD`).
    pub(crate) fields: Vec<(Arc<str>, Arc<str>)>,
    pub(crate) timeout: Duration,
    pub(crate) found: Target,
    pub(crate) not_found: Target,
}

/// The HTTP method of an `http` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HttpMethod {
    /// GET (no body).
    Get,
    /// POST with the body fields.
    Post,
    /// PUT with the body fields.
    Put,
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
        })
    }
}

/// `http`: a request to an operator endpoint.
#[derive(Debug)]
pub(crate) struct Http {
    pub(crate) endpoint: String,
    pub(crate) method: HttpMethod,
    pub(crate) path: Template,
    pub(crate) body: Vec<(String, Template)>,
    /// (field, variable `http.FIELD`).
    pub(crate) fields: Vec<(Arc<str>, Arc<str>)>,
    pub(crate) timeout: Duration,
    pub(crate) next: Target,
    pub(crate) fallback: Target,
}

/// `branch`: the first case whose conditions all hold, else `else`.
#[derive(Debug)]
pub(crate) struct Branch {
    pub(crate) cases: Vec<Case>,
    pub(crate) otherwise: Target,
}

/// One case of a `branch`.
#[derive(Debug)]
pub(crate) struct Case {
    pub(crate) conds: Vec<Cond>,
    pub(crate) goto: Target,
}

/// One condition of a case.
#[derive(Debug)]
pub(crate) enum Cond {
    /// A test on a variable's value (false when the variable is unset, except `ne`).
    Var { var: VarUse, test: Test },
    /// All these variables are set.
    Set(Vec<VarUse>),
    /// A schedule (index into the flow's schedules) is in a state.
    Hours { schedule: usize, when: HoursTest },
}

/// Which business-hours state a condition asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HoursTest {
    Open,
    /// Closed or holiday.
    Closed,
    Holiday,
}

/// A test on a variable.
#[derive(Debug)]
pub(crate) enum Test {
    Eq(Value),
    Ne(Value),
    Lt(i64),
    Le(i64),
    Gt(i64),
    Ge(i64),
    Prefix(String),
    In(Vec<Value>),
}

/// `set`: assigns literal values.
#[derive(Debug)]
pub(crate) struct SetVars {
    pub(crate) vars: Vec<(VarDef, Value)>,
    pub(crate) next: Target,
}

/// `queue`: hands the call to the ACD.
#[derive(Debug)]
pub(crate) struct Queue {
    pub(crate) queue: String,
    pub(crate) priority: u8,
    pub(crate) skills: Vec<(Template, u8)>,
    pub(crate) data: Vec<(String, Template)>,
    pub(crate) on_exit: Option<Target>,
}

/// `voicemail`: records a message.
#[derive(Debug)]
pub(crate) struct Voicemail {
    pub(crate) mailbox: String,
    pub(crate) greeting: Vec<PromptItem>,
    pub(crate) max: Duration,
    pub(crate) next: Option<Target>,
}

/// `transfer`: hands the call to an extension or an outside number.
#[derive(Debug)]
pub(crate) struct Transfer {
    pub(crate) target: Template,
    pub(crate) external: bool,
}

/// `conference`: puts the caller into a conference room of the node.
#[derive(Debug)]
pub(crate) struct Conference {
    /// The room's name; checked by [`is_room_name`] when written without
    /// variables, and after expansion at run time.
    pub(crate) room: Template,
    /// Where the flow goes on when the room is full. With it the step waits
    /// for the node to seat the caller or report the room full; without it
    /// the flow ends as soon as the caller is sent to the room.
    pub(crate) full: Option<Target>,
    /// The most callers the room may hold when this caller arrives: with
    /// `max` callers already in it the caller is refused. The step's `max`,
    /// or [`MAX_ROOM_SIZE`] when it sets none.
    pub(crate) max: u16,
    /// Whether the room is recorded from the arrival of a caller this step
    /// sent until it empties: the step's `record`, `false` when it sets none.
    pub(crate) record: bool,
}

/// The node's largest conference room: the most callers one room holds, and
/// the `max` of every `conference` step that sets none (a step's `max` is 2 to
/// this).
pub const MAX_ROOM_SIZE: u16 = 50;

/// The smallest `max` a `conference` step may set.
pub(crate) const MIN_ROOM_SIZE: u16 = 2;

/// The longest conference room name, in characters.
pub(crate) const ROOM_NAME_MAX: usize = 64;

/// The room name rule as messages state it (keep in step with [`ROOM_NAME_MAX`]).
pub(crate) const ROOM_NAME_RULE: &str = "1 to 64 ASCII letters, digits, `.`, `_` and `-`";

/// Whether `name` can name a conference room: 1 to [`ROOM_NAME_MAX`] ASCII
/// letters, digits, `.`, `_` and `-`.
pub(crate) fn is_room_name(name: &str) -> bool {
    (1..=ROOM_NAME_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `call`: runs another flow, then continues at `next` when it returns.
#[derive(Debug)]
pub(crate) struct CallFlow {
    pub(crate) flow: FlowName,
    pub(crate) at: Span,
    pub(crate) next: Target,
}
