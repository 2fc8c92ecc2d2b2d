//! Evaluation of type-checked rule expressions against a call's attributes.
//!
//! Never fails: an attribute the call lacks, or carries with a type other than the
//! schema's, makes the comparison that reads it false.

use super::Value;
use super::parse::{CmpOp, Expr, Lit};
use crate::rules::Attributes;

/// Whether `expr` (a bool expression) holds for `attrs`.
pub(super) fn holds(expr: &Expr, attrs: &Attributes) -> bool {
    match expr {
        Expr::Lit(Lit::Bool(b)) => *b,
        Expr::Attr(name) => matches!(attrs.get(name), Some(Value::Bool(true))),
        Expr::Not(inner) => !holds(inner, attrs),
        Expr::And(a, b) => holds(a, attrs) && holds(b, attrs),
        Expr::Or(a, b) => holds(a, attrs) || holds(b, attrs),
        Expr::Cmp(op, a, b) => match (value(a, attrs), value(b, attrs)) {
            (Some(x), Some(y)) => compare(*op, &x, &y),
            _ => false,
        },
        Expr::In(a, list) => match value(a, attrs) {
            Some(x) => list
                .iter()
                .any(|lit| compare(CmpOp::Eq, &x, &Operand::Lit(lit))),
            None => false,
        },
        // Non-bool literals are rejected by the type checker as conditions.
        Expr::Lit(_) => false,
    }
}

/// An operand's value, borrowed from the literal or the attributes.
enum Operand<'a> {
    Lit(&'a Lit),
    Val(&'a Value),
    Bool(bool),
}

fn value<'a>(expr: &'a Expr, attrs: &'a Attributes) -> Option<Operand<'a>> {
    match expr {
        Expr::Lit(lit) => Some(Operand::Lit(lit)),
        Expr::Attr(name) => attrs.get(name).map(Operand::Val),
        other => Some(Operand::Bool(holds(other, attrs))),
    }
}

fn as_str<'a>(o: &Operand<'a>) -> Option<&'a str> {
    match o {
        Operand::Lit(Lit::Str(s)) | Operand::Val(Value::Str(s)) => Some(s),
        _ => None,
    }
}

fn as_num(o: &Operand<'_>) -> Option<f64> {
    match o {
        Operand::Lit(Lit::Num(n)) | Operand::Val(Value::Num(n)) => Some(*n),
        _ => None,
    }
}

fn as_bool(o: &Operand<'_>) -> Option<bool> {
    match o {
        Operand::Lit(Lit::Bool(b)) | Operand::Val(Value::Bool(b)) | Operand::Bool(b) => Some(*b),
        _ => None,
    }
}

fn compare(op: CmpOp, x: &Operand<'_>, y: &Operand<'_>) -> bool {
    if let (Some(a), Some(b)) = (as_str(x), as_str(y)) {
        return match op {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::StartsWith => a.starts_with(b),
            _ => false,
        };
    }
    if let (Some(a), Some(b)) = (as_num(x), as_num(y)) {
        return match op {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Gt => a > b,
            CmpOp::Le => a <= b,
            CmpOp::Ge => a >= b,
            CmpOp::StartsWith => false,
        };
    }
    match (as_bool(x), as_bool(y), op) {
        (Some(a), Some(b), CmpOp::Eq) => a == b,
        (Some(a), Some(b), CmpOp::Ne) => a != b,
        // Mismatched runtime types: the attribute is treated as absent.
        _ => false,
    }
}
