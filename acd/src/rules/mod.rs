//! Routing rules: expressions on call attributes that choose a queue, a priority and
//! skills for calls enqueued without a queue.
//!
//! Contract: [`RuleSet::parse`] lexes, parses and type-checks the whole text against an
//! [`AttributeSchema`] once, at load; every error carries the byte span, line and column
//! of the offending text. [`RuleSet::evaluate`] never fails: rules are tried top-down and
//! the first whose condition holds gives the [`RouteAction`]; a comparison that reads an
//! attribute the call lacks (or carries with another type) is false. Queue names are
//! checked against the configuration by `Acd::new`, with the same kind of error.
//!
//! ```text
//! # comments run to the end of the line
//! when user_level == 'VIP' -> assign_to_group('premium').priority(10)
//! when language in ['es', 'pt'] && ivr.choice == 2
//!     -> assign_to_group('spanish').require(spanish >= 4).prefer(billing >= 2)
//! when caller starts_with '+44' -> round_robin('uk')
//! otherwise -> round_robin('default_group')
//! ```

mod eval;
mod lex;
mod parse;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::config::{SkillRequirement, Strategy};
use crate::id::QueueId;

pub(crate) use parse::Expr;

/// A byte range in the rule text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The range `start..end`.
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }
}

/// The type of an attribute or expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttrType {
    /// Text.
    Str,
    /// A number (integers and decimals alike).
    Num,
    /// `true` or `false`.
    Bool,
}

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttrType::Str => "string",
            AttrType::Num => "number",
            AttrType::Bool => "bool",
        })
    }
}

/// The attributes a call may carry, with their types; rules are checked against it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributeSchema {
    types: BTreeMap<String, AttrType>,
}

impl AttributeSchema {
    /// An empty schema.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares `name` with type `ty` (builder style).
    pub fn with(mut self, name: &str, ty: AttrType) -> Self {
        self.types.insert(name.to_owned(), ty);
        self
    }

    /// The declared type of `name`.
    pub fn get(&self, name: &str) -> Option<AttrType> {
        self.types.get(name).copied()
    }
}

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text.
    Str(String),
    /// A number.
    Num(f64),
    /// A flag.
    Bool(bool),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Num(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        // Attribute numbers are small (menu choices, tiers, scores); f64 holds them exactly.
        Value::Num(v as f64)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

/// A call's attributes (customer tier, language, IVR choices, caller number …).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes(BTreeMap<String, Value>);

impl Attributes {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` (builder style).
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.insert(name, value);
        self
    }

    /// Sets `name`.
    pub fn insert(&mut self, name: &str, value: impl Into<Value>) {
        self.0.insert(name.to_owned(), value.into());
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
}

/// How a matching rule routes the call.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteAction {
    /// Which action the rule named.
    pub kind: ActionKind,
    /// The queue (group) the call goes to.
    pub queue: QueueId,
    /// Where the queue name stands in the rule text.
    pub queue_span: Span,
    /// Priority for the call (higher first); `None` keeps the request's own.
    pub priority: Option<i32>,
    /// Skills the agent must have (added to the request's own).
    pub required: Vec<SkillRequirement>,
    /// Skills that rank agents under [`Strategy::SkillsBestMatch`] (added to the
    /// request's own).
    pub preferred: Vec<SkillRequirement>,
}

/// The action a rule names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// `assign_to_group('q')`: the queue's own strategy applies.
    AssignToGroup,
    /// A strategy-named action such as `round_robin('q')`: the queue must be
    /// configured with that strategy (checked at load).
    Strategy(Strategy),
}

/// One rule: a condition (or `otherwise`) and an action.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Rule {
    pub(crate) condition: Option<Expr>,
    pub(crate) action: RouteAction,
}

/// A parsed, type-checked rule set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleSet {
    text: Arc<str>,
    rules: Vec<Rule>,
}

impl RuleSet {
    /// Parses and type-checks `text` against `schema`.
    pub fn parse(text: &str, schema: &AttributeSchema) -> Result<RuleSet, RuleError> {
        let tokens = lex::tokenize(text)?;
        let rules = parse::Parser::new(text, &tokens, schema).rules()?;
        Ok(RuleSet {
            text: Arc::from(text),
            rules,
        })
    }

    /// The action of the first rule whose condition holds for `attrs`.
    pub fn evaluate(&self, attrs: &Attributes) -> Option<&RouteAction> {
        self.rules
            .iter()
            .find(|r| r.condition.as_ref().is_none_or(|c| eval::holds(c, attrs)))
            .map(|r| &r.action)
    }

    /// Every rule's action, top-down.
    pub fn actions(&self) -> impl Iterator<Item = &RouteAction> {
        self.rules.iter().map(|r| &r.action)
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// An error of `kind` at `span` of this rule set's text (for checks done after
    /// parsing, such as unknown queues).
    pub fn error_at(&self, span: Span, kind: RuleErrorKind) -> RuleError {
        RuleError::new(&self.text, span, kind)
    }
}

/// A rule text that does not parse or type-check.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct RuleError {
    /// What is wrong.
    pub kind: RuleErrorKind,
    /// The offending bytes of the rule text.
    pub span: Span,
    /// 1-based line of `span.start`.
    pub line: u32,
    /// 1-based column (in characters) of `span.start`.
    pub column: u32,
}

impl RuleError {
    pub(crate) fn new(text: &str, span: Span, kind: RuleErrorKind) -> Self {
        let before = text.get(..span.start).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Self {
            kind,
            span,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

/// What is wrong with a rule text.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleErrorKind {
    /// A character that starts no token.
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    /// A string without its closing quote on the same line.
    #[error("unterminated string")]
    UnterminatedString,
    /// A malformed number.
    #[error("malformed number `{0}`")]
    BadNumber(String),
    /// The parser wanted something else here.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What would have been accepted.
        expected: &'static str,
        /// What was there.
        found: String,
    },
    /// An attribute the schema does not declare.
    #[error("unknown attribute `{0}`")]
    UnknownAttribute(String),
    /// Operands of the wrong types for an operator.
    #[error("`{op}` cannot take {left} and {right}")]
    TypeMismatch {
        /// The operator.
        op: &'static str,
        /// Type of the left operand.
        left: AttrType,
        /// Type of the right operand.
        right: AttrType,
    },
    /// A condition (or operand of `&&`, `||`, `!`) that is not a bool.
    #[error("expected a bool condition, found {0}")]
    NotBool(AttrType),
    /// An action name that is neither `assign_to_group` nor a strategy.
    #[error("unknown action `{0}` (use assign_to_group or a strategy name such as round_robin)")]
    UnknownAction(String),
    /// A modifier other than `priority`, `require`, `prefer`.
    #[error("unknown modifier `{0}` (use priority, require or prefer)")]
    UnknownModifier(String),
    /// A skill level outside 1–5.
    #[error("skill level {0} is outside 1..=5")]
    BadSkillLevel(f64),
    /// A priority that is not a whole number in range.
    #[error("priority {0} is not a whole number in range")]
    BadPriority(f64),
    /// A rule after `otherwise`, which could never match.
    #[error("rule after `otherwise` can never match")]
    RuleAfterOtherwise,
    /// A queue that the configuration does not define.
    #[error("unknown queue `{0}`")]
    UnknownQueue(String),
    /// A strategy-named action on a queue configured with another strategy.
    #[error("queue `{queue}` uses {configured}, not {named}")]
    StrategyMismatch {
        /// The queue.
        queue: String,
        /// The strategy the action names.
        named: &'static str,
        /// The strategy the queue is configured with.
        configured: &'static str,
    },
}

#[cfg(test)]
mod tests;
