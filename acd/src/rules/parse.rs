//! Recursive-descent parser and type checker of the routing-rule language.
//!
//! ```text
//! rules     := rule* EOF            ; at most one `otherwise`, and it comes last
//! rule      := 'when' expr '->' action | 'otherwise' '->' action
//! action    := NAME '(' STRING ')' ( '.' modifier )*
//! modifier  := 'priority' '(' NUMBER ')'
//!            | ('require' | 'prefer') '(' skill (',' skill)* ')'
//! skill     := NAME [ '>=' NUMBER ]                  ; level 1 when omitted
//! expr      := and ( '||' and )*
//! and       := unary ( '&&' unary )*
//! unary     := '!' unary | compare
//! compare   := operand [ op operand | 'in' '[' literal (',' literal)* ']' ]
//! op        := '==' | '!=' | '<' | '>' | '<=' | '>=' | 'starts_with'
//! operand   := STRING | NUMBER | 'true' | 'false' | NAME | '(' expr ')'
//! ```
//!
//! Types are checked while parsing: `==`/`!=` take two operands of one type, the
//! orderings take numbers, `starts_with` takes strings, `in` takes a list of the left
//! operand's type, and conditions are bools.

use super::lex::{Tok, Token};
use super::{
    ActionKind, AttrType, AttributeSchema, RouteAction, Rule, RuleError, RuleErrorKind, Span,
};
use crate::config::{SkillRequirement, Strategy};
use crate::id::QueueId;

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
}

impl Lit {
    fn ty(&self) -> AttrType {
        match self {
            Lit::Str(_) => AttrType::Str,
            Lit::Num(_) => AttrType::Num,
            Lit::Bool(_) => AttrType::Bool,
        }
    }
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    StartsWith,
}

impl CmpOp {
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Ge => ">=",
            CmpOp::StartsWith => "starts_with",
        }
    }

    fn accepts(self, ty: AttrType) -> bool {
        match self {
            CmpOp::Eq | CmpOp::Ne => true,
            CmpOp::Lt | CmpOp::Gt | CmpOp::Le | CmpOp::Ge => ty == AttrType::Num,
            CmpOp::StartsWith => ty == AttrType::Str,
        }
    }
}

/// A type-checked expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    Lit(Lit),
    Attr(String),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<Lit>),
}

/// Parser state over a token list that ends with [`Tok::Eof`].
pub(super) struct Parser<'a> {
    text: &'a str,
    tokens: &'a [Token],
    pos: usize,
    schema: &'a AttributeSchema,
}

type Typed = (Expr, AttrType, Span);

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str, tokens: &'a [Token], schema: &'a AttributeSchema) -> Self {
        Self {
            text,
            tokens,
            pos: 0,
            schema,
        }
    }

    pub(super) fn rules(mut self) -> Result<Vec<Rule>, RuleError> {
        let mut rules = Vec::new();
        let mut seen_otherwise = false;
        while self.peek() != &Tok::Eof {
            let start = self.span();
            if seen_otherwise {
                return Err(self.error(start, RuleErrorKind::RuleAfterOtherwise));
            }
            let condition = match self.peek() {
                Tok::Ident(k) if k == "when" => {
                    self.bump();
                    let (expr, ty, span) = self.expr()?;
                    self.want_bool(ty, span)?;
                    Some(expr)
                }
                Tok::Ident(k) if k == "otherwise" => {
                    self.bump();
                    seen_otherwise = true;
                    None
                }
                _ => return Err(self.expected("`when` or `otherwise`")),
            };
            self.expect(&Tok::Arrow, "`->`")?;
            let action = self.action()?;
            rules.push(Rule { condition, action });
        }
        Ok(rules)
    }

    fn peek(&self) -> &Tok {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].tok
    }

    fn span(&self) -> Span {
        self.tokens[self.pos.min(self.tokens.len() - 1)].span
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos.min(self.tokens.len() - 1)].clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn error(&self, span: Span, kind: RuleErrorKind) -> RuleError {
        RuleError::new(self.text, span, kind)
    }

    fn expected(&self, what: &'static str) -> RuleError {
        self.error(
            self.span(),
            RuleErrorKind::Expected {
                expected: what,
                found: self.peek().describe(),
            },
        )
    }

    fn expect(&mut self, tok: &Tok, what: &'static str) -> Result<Span, RuleError> {
        if self.peek() == tok {
            Ok(self.bump().span)
        } else {
            Err(self.expected(what))
        }
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(k) if k == word)
    }

    fn want_bool(&self, ty: AttrType, span: Span) -> Result<(), RuleError> {
        if ty == AttrType::Bool {
            Ok(())
        } else {
            Err(self.error(span, RuleErrorKind::NotBool(ty)))
        }
    }

    fn expr(&mut self) -> Result<Typed, RuleError> {
        let mut left = self.and()?;
        while self.peek() == &Tok::OrOr {
            self.bump();
            self.want_bool(left.1, left.2)?;
            let right = self.and()?;
            self.want_bool(right.1, right.2)?;
            let span = Span::new(left.2.start, right.2.end);
            left = (
                Expr::Or(Box::new(left.0), Box::new(right.0)),
                AttrType::Bool,
                span,
            );
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Typed, RuleError> {
        let mut left = self.unary()?;
        while self.peek() == &Tok::AndAnd {
            self.bump();
            self.want_bool(left.1, left.2)?;
            let right = self.unary()?;
            self.want_bool(right.1, right.2)?;
            let span = Span::new(left.2.start, right.2.end);
            left = (
                Expr::And(Box::new(left.0), Box::new(right.0)),
                AttrType::Bool,
                span,
            );
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Typed, RuleError> {
        if self.peek() == &Tok::Bang {
            let bang = self.bump().span;
            let (inner, ty, span) = self.unary()?;
            self.want_bool(ty, span)?;
            let whole = Span::new(bang.start, span.end);
            return Ok((Expr::Not(Box::new(inner)), AttrType::Bool, whole));
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Typed, RuleError> {
        let left = self.operand()?;
        if self.is_keyword("in") {
            self.bump();
            return self.in_list(left);
        }
        let op = match self.peek() {
            Tok::EqEq => CmpOp::Eq,
            Tok::NotEq => CmpOp::Ne,
            Tok::Lt => CmpOp::Lt,
            Tok::Gt => CmpOp::Gt,
            Tok::Le => CmpOp::Le,
            Tok::Ge => CmpOp::Ge,
            Tok::Ident(k) if k == "starts_with" => CmpOp::StartsWith,
            _ => return Ok(left),
        };
        let op_span = self.bump().span;
        let right = self.operand()?;
        if left.1 != right.1 || !op.accepts(left.1) {
            return Err(self.error(
                op_span,
                RuleErrorKind::TypeMismatch {
                    op: op.symbol(),
                    left: left.1,
                    right: right.1,
                },
            ));
        }
        let span = Span::new(left.2.start, right.2.end);
        let expr = Expr::Cmp(op, Box::new(left.0), Box::new(right.0));
        Ok((expr, AttrType::Bool, span))
    }

    fn in_list(&mut self, left: Typed) -> Result<Typed, RuleError> {
        self.expect(&Tok::LBracket, "`[`")?;
        let mut items = Vec::new();
        loop {
            let span = self.span();
            let lit = self.literal()?;
            if lit.ty() != left.1 {
                return Err(self.error(
                    span,
                    RuleErrorKind::TypeMismatch {
                        op: "in",
                        left: left.1,
                        right: lit.ty(),
                    },
                ));
            }
            items.push(lit);
            if self.peek() == &Tok::Comma {
                self.bump();
            } else {
                break;
            }
        }
        let end = self.expect(&Tok::RBracket, "`,` or `]`")?;
        let span = Span::new(left.2.start, end.end);
        Ok((Expr::In(Box::new(left.0), items), AttrType::Bool, span))
    }

    fn literal(&mut self) -> Result<Lit, RuleError> {
        let lit = match self.peek() {
            Tok::Str(s) => Lit::Str(s.clone()),
            Tok::Num(n) => Lit::Num(*n),
            Tok::Ident(k) if k == "true" => Lit::Bool(true),
            Tok::Ident(k) if k == "false" => Lit::Bool(false),
            _ => return Err(self.expected("a string, number or bool")),
        };
        self.bump();
        Ok(lit)
    }

    fn operand(&mut self) -> Result<Typed, RuleError> {
        let span = self.span();
        match self.peek().clone() {
            Tok::LParen => {
                self.bump();
                let (expr, ty, _) = self.expr()?;
                let end = self.expect(&Tok::RParen, "`)`")?;
                Ok((expr, ty, Span::new(span.start, end.end)))
            }
            Tok::Ident(name) if !matches!(name.as_str(), "true" | "false") => {
                self.bump();
                match self.schema.get(&name) {
                    Some(ty) => Ok((Expr::Attr(name), ty, span)),
                    None => Err(self.error(span, RuleErrorKind::UnknownAttribute(name))),
                }
            }
            _ => {
                let lit = self.literal()?;
                let ty = lit.ty();
                Ok((Expr::Lit(lit), ty, span))
            }
        }
    }

    fn action(&mut self) -> Result<RouteAction, RuleError> {
        let name_span = self.span();
        let kind = match self.peek() {
            Tok::Ident(n) if n == "assign_to_group" => ActionKind::AssignToGroup,
            Tok::Ident(n) => match Strategy::from_name(n) {
                Some(s) => ActionKind::Strategy(s),
                None => {
                    let kind = RuleErrorKind::UnknownAction(n.clone());
                    return Err(self.error(name_span, kind));
                }
            },
            _ => return Err(self.expected("an action such as assign_to_group('queue')")),
        };
        self.bump();
        self.expect(&Tok::LParen, "`(`")?;
        let queue_span = self.span();
        let Tok::Str(queue) = self.peek().clone() else {
            return Err(self.expected("a queue name in quotes"));
        };
        self.bump();
        self.expect(&Tok::RParen, "`)`")?;
        let mut action = RouteAction {
            kind,
            queue: QueueId::from(queue),
            queue_span,
            priority: None,
            required: Vec::new(),
            preferred: Vec::new(),
        };
        while self.peek() == &Tok::Dot {
            self.bump();
            self.modifier(&mut action)?;
        }
        Ok(action)
    }

    fn modifier(&mut self, action: &mut RouteAction) -> Result<(), RuleError> {
        let span = self.span();
        let Tok::Ident(name) = self.peek().clone() else {
            return Err(self.expected("a modifier (priority, require, prefer)"));
        };
        self.bump();
        self.expect(&Tok::LParen, "`(`")?;
        match name.as_str() {
            "priority" => action.priority = Some(self.priority()?),
            "require" => self.skills(&mut action.required)?,
            "prefer" => self.skills(&mut action.preferred)?,
            _ => return Err(self.error(span, RuleErrorKind::UnknownModifier(name))),
        }
        self.expect(&Tok::RParen, "`)`")?;
        Ok(())
    }

    fn priority(&mut self) -> Result<i32, RuleError> {
        let span = self.span();
        let Tok::Num(n) = *self.peek() else {
            return Err(self.expected("a number"));
        };
        self.bump();
        if n.fract() != 0.0 || n.abs() > 1_000_000.0 {
            return Err(self.error(span, RuleErrorKind::BadPriority(n)));
        }
        // Whole and within ±1e6, checked just above.
        Ok(n as i32)
    }

    fn skills(&mut self, into: &mut Vec<SkillRequirement>) -> Result<(), RuleError> {
        loop {
            let Tok::Ident(skill) = self.peek().clone() else {
                return Err(self.expected("a skill name"));
            };
            self.bump();
            let mut level = 1;
            if self.peek() == &Tok::Ge {
                self.bump();
                let span = self.span();
                let Tok::Num(n) = *self.peek() else {
                    return Err(self.expected("a skill level 1..=5"));
                };
                self.bump();
                if n.fract() != 0.0 || !(1.0..=5.0).contains(&n) {
                    return Err(self.error(span, RuleErrorKind::BadSkillLevel(n)));
                }
                // A whole number in 1..=5, checked just above.
                level = n as u8;
            }
            into.push(SkillRequirement { skill, level });
            if self.peek() != &Tok::Comma {
                return Ok(());
            }
            self.bump();
        }
    }
}
