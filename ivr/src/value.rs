//! Flow variables: their values, their names, and text templates that read them.
//!
//! A variable holds a [`Value`] (text or integer). Names are lowercase
//! identifiers, optionally with one namespace (`customer.tier`, `http.ticket`).
//! A [`Template`] is text with `${name}` references; expanding it with an unset
//! variable yields empty text for that reference.

use std::fmt;
use std::sync::Arc;

use crate::diag::Span;

/// The value of a flow variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// Text (digits the caller entered are text too, to keep leading zeros).
    Text(String),
    /// A whole number.
    Int(i64),
}

impl Value {
    /// The value as an integer: integers as they are, text if it is a decimal integer.
    #[must_use]
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(n) => Some(*n),
            Self::Text(s) => s.trim().parse().ok(),
        }
    }

    /// Whether two values are equal, comparing numbers numerically when both are numbers.
    pub(crate) fn same_as(&self, other: &Value) -> bool {
        match (self.as_int(), other.as_int()) {
            (Some(a), Some(b)) => a == b,
            _ => self.to_string() == other.to_string(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(s) => f.write_str(s),
            Self::Int(n) => write!(f, "{n}"),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

/// The variables every call starts with.
pub(crate) const BUILTINS: &[&str] = &["caller", "dialled", "call_id", "language"];

/// Built-in variables that are core data (the caller's number identifies a person).
pub(crate) const CORE_BUILTINS: &[&str] = &["caller"];

/// Namespaces whose variables are core data: lookup results.
pub(crate) const CORE_NAMESPACES: &[&str] = &["customer"];

/// Whether `name` is a valid variable name: `ident` or `ident.ident`, where an
/// identifier is ASCII lowercase letters, digits and `_`, not starting with a digit.
pub(crate) fn is_var_name(name: &str) -> bool {
    let mut parts = name.split('.');
    let first = parts.next().is_some_and(is_ident);
    let second = parts.next().is_none_or(is_ident);
    first && second && parts.next().is_none()
}

/// Whether `s` is an identifier (step, variable, field and flow names).
pub(crate) fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// One reference to a variable in the source, for diagnostics.
#[derive(Debug, Clone)]
pub(crate) struct VarUse {
    pub(crate) name: Arc<str>,
    pub(crate) at: Span,
}

/// Text with `${variable}` references, parsed once when the flow is compiled.
#[derive(Debug, Clone, Default)]
pub(crate) struct Template {
    parts: Vec<Part>,
    /// Where the template is written (the string value).
    pub(crate) at: Span,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Var(Arc<str>),
}

/// Why a template string is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateError {
    Unclosed,
    BadName(String),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unclosed => f.write_str("`${` without a closing `}`"),
            Self::BadName(n) => write!(
                f,
                "`${{{n}}}` is not a variable name (lowercase `name` or `namespace.name`)"
            ),
        }
    }
}

impl Template {
    /// Parses `text`; `at` is where it is written. `$$` writes a literal `$`.
    pub(crate) fn parse(text: &str, at: Span) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            literal.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                literal.push('$');
                rest = tail;
            } else if let Some(tail) = after.strip_prefix('{') {
                let end = tail.find('}').ok_or(TemplateError::Unclosed)?;
                let name = tail[..end].trim();
                if !is_var_name(name) {
                    return Err(TemplateError::BadName(name.to_owned()));
                }
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Var(Arc::from(name)));
                rest = &tail[end + 1..];
            } else {
                literal.push('$');
                rest = after;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts, at })
    }

    /// A template of fixed text.
    pub(crate) fn literal(text: &str, at: Span) -> Self {
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::Text(text.to_owned())]
        };
        Self { parts, at }
    }

    /// The variables the template reads, located at the template.
    pub(crate) fn uses(&self) -> impl Iterator<Item = VarUse> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(name) => Some(VarUse {
                name: name.clone(),
                at: self.at.clone(),
            }),
            Part::Text(_) => None,
        })
    }

    /// The text when the template has no variable references.
    pub(crate) fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var(_) => return None,
            }
        }
        Some(out)
    }

    /// The text with each reference replaced by `lookup(name)` (passed through `encode`).
    pub(crate) fn expand<'v>(
        &self,
        lookup: impl Fn(&str) -> Option<&'v Value>,
        encode: impl Fn(&str, &mut String),
    ) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var(name) => {
                    if let Some(v) = lookup(name) {
                        encode(&v.to_string(), &mut out);
                    }
                }
            }
        }
        out
    }
}

/// `encode` for [`Template::expand`] that copies the text as it is.
pub(crate) fn raw(s: &str, out: &mut String) {
    out.push_str(s);
}

/// `encode` for [`Template::expand`] that percent-encodes all but RFC 3986 unreserved characters.
pub(crate) fn percent(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Template, TemplateError, Value, is_var_name, percent, raw};

    fn expand(t: &Template) -> String {
        let account = Value::from("12 34");
        t.expand(|n| (n == "account").then_some(&account), raw)
    }

    #[test]
    fn templates_expand_known_and_blank_unknown_variables() {
        let t = Template::parse("a=${account}&b=${other}$$", 0..1).expect("valid");
        assert_eq!(expand(&t), "a=12 34&b=$");
        let names: Vec<String> = t.uses().map(|u| u.name.to_string()).collect();
        assert_eq!(names, ["account", "other"]);
        assert_eq!(t.as_literal(), None);
        assert_eq!(
            Template::parse("cost $5", 0..1).map(|t| t.as_literal()),
            Ok(Some("cost $5".to_owned()))
        );
    }

    #[test]
    fn template_errors_are_reported() {
        assert_eq!(
            Template::parse("${account", 0..1).err(),
            Some(TemplateError::Unclosed)
        );
        assert_eq!(
            Template::parse("${Account}", 0..1).err(),
            Some(TemplateError::BadName("Account".into()))
        );
    }

    #[test]
    fn names_and_encoding() {
        assert!(is_var_name("customer.tier"));
        assert!(is_var_name("_x1"));
        assert!(!is_var_name("a.b.c"));
        assert!(!is_var_name("1a"));
        assert!(!is_var_name(""));
        assert!(!is_var_name("a."));
        let mut out = String::new();
        percent("a b/é", &mut out);
        assert_eq!(out, "a%20b%2F%C3%A9");
        assert!(Value::from("007").same_as(&Value::Int(7)));
        assert!(!Value::from("abc").same_as(&Value::from("ABC")));
    }
}
