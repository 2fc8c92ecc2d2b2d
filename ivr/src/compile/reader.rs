//! Typed, span-aware access to one TOML table of a flow file.
//!
//! Every accessor reports a wrong type (or a missing required key) into
//! [`Problems`] and returns `None`, so decoding carries on and collects every
//! problem of a file in one pass. Values come back with the span of the value
//! in the text, for diagnostics that point at what the operator wrote.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{DiagnosticKind, Problems, Span};

/// One table of the document and what it is, for messages ("step `welcome`").
pub(crate) struct Table<'t, 'i> {
    table: &'t DeTable<'i>,
    /// Where the table is named: the header key, or the inline table itself.
    pub(crate) at: Span,
    pub(crate) what: String,
}

/// A string value and its span.
pub(crate) type Str<'t> = (&'t str, Span);

impl<'t, 'i> Table<'t, 'i> {
    /// Wraps `value` if it is a table, else reports it; `at` is where it is named.
    pub(crate) fn from_value(
        value: &'t Spanned<DeValue<'i>>,
        at: Span,
        what: String,
        p: &mut Problems,
    ) -> Option<Self> {
        match value.get_ref() {
            DeValue::Table(table) => Some(Self { table, at, what }),
            other => {
                let message = format!("{what}: expected a table, found {}", kind(other));
                p.error(value.span(), DiagnosticKind::WrongType, message);
                None
            }
        }
    }

    /// Wraps the document's root table.
    pub(crate) fn root(table: &'t DeTable<'i>) -> Self {
        Self {
            table,
            at: 0..0,
            what: "the flow file".to_owned(),
        }
    }

    /// Reports every key not in `known`.
    pub(crate) fn check_keys(&self, known: &[&str], p: &mut Problems) {
        for key in self.table.keys() {
            let name: &str = key.get_ref();
            if !known.contains(&name) {
                let message = format!(
                    "unknown key `{name}` in {}, expected one of: {}",
                    self.what,
                    known.join(", ")
                );
                p.error(key.span(), DiagnosticKind::UnknownKey, message);
            }
        }
    }

    /// Whether `key` is present.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// The entries in the order they are written.
    pub(crate) fn entries(&self) -> Vec<(Str<'t>, &'t Spanned<DeValue<'i>>)> {
        let mut v: Vec<_> = self
            .table
            .iter()
            .map(|(k, v)| ((k.get_ref().as_ref(), k.span()), v))
            .collect();
        v.sort_by_key(|((_, at), _)| at.start);
        v
    }

    /// The raw value of `key`.
    pub(crate) fn value(&self, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        self.table.get(key)
    }

    /// Reports that the required `key` is absent.
    pub(crate) fn missing(&self, key: &str, expected: &str, p: &mut Problems) {
        let message = format!("{} needs `{key}` ({expected})", self.what);
        p.error(self.at.clone(), DiagnosticKind::MissingKey, message);
    }

    /// Reports a value of the wrong type for `key`.
    pub(crate) fn wrong_type(
        &self,
        key: &str,
        value: &Spanned<DeValue<'_>>,
        expected: &str,
        p: &mut Problems,
    ) {
        let message = format!(
            "{}: `{key}` must be {expected}, found {}",
            self.what,
            kind(value.get_ref())
        );
        p.error(value.span(), DiagnosticKind::WrongType, message);
    }

    /// Reports an unacceptable value at `at`.
    pub(crate) fn invalid(&self, key: &str, at: Span, why: &str, p: &mut Problems) {
        let message = format!("{}: `{key}` {why}", self.what);
        p.error(at, DiagnosticKind::InvalidValue, message);
    }

    /// An optional string.
    pub(crate) fn string(&self, key: &str, p: &mut Problems) -> Option<Str<'t>> {
        let v = self.value(key)?;
        as_str(v).or_else(|| {
            self.wrong_type(key, v, "a string", p);
            None
        })
    }

    /// A required string.
    pub(crate) fn req_string(
        &self,
        key: &str,
        expected: &str,
        p: &mut Problems,
    ) -> Option<Str<'t>> {
        if !self.has(key) {
            self.missing(key, expected, p);
        }
        self.string(key, p)
    }

    /// An optional integer in `range`.
    pub(crate) fn int(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
        p: &mut Problems,
    ) -> Option<i64> {
        let v = self.value(key)?;
        let DeValue::Integer(i) = v.get_ref() else {
            self.wrong_type(key, v, "an integer", p);
            return None;
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                let why = format!(
                    "must be an integer from {} to {}",
                    range.start(),
                    range.end()
                );
                self.invalid(key, v.span(), &why, p);
                None
            }
        }
    }

    /// An optional boolean.
    pub(crate) fn boolean(&self, key: &str, p: &mut Problems) -> Option<bool> {
        let v = self.value(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(key, v, "true or false", p);
                None
            }
        }
    }

    /// An optional string or array of strings (a single string is a list of one).
    pub(crate) fn strings(&self, key: &str, p: &mut Problems) -> Option<Vec<Str<'t>>> {
        let v = self.value(key)?;
        if let Some(s) = as_str(v) {
            return Some(vec![s]);
        }
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(key, v, "a string or an array of strings", p);
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items.iter() {
            match as_str(item) {
                Some(s) => out.push(s),
                None => self.wrong_type(key, item, "a string", p),
            }
        }
        Some(out)
    }

    /// An optional sub-table (inline or not).
    pub(crate) fn table(&self, key: &str, p: &mut Problems) -> Option<Table<'t, 'i>> {
        let v = self.value(key)?;
        let what = format!("`{key}` of {}", self.what);
        Table::from_value(v, v.span(), what, p)
    }

    /// An optional array's items (a non-array is reported).
    pub(crate) fn array(
        &self,
        key: &str,
        p: &mut Problems,
    ) -> Option<Vec<&'t Spanned<DeValue<'i>>>> {
        let v = self.value(key)?;
        match v.get_ref() {
            DeValue::Array(items) => Some(items.iter().collect()),
            _ => {
                self.wrong_type(key, v, "an array", p);
                None
            }
        }
    }
}

/// The string inside `v`, with its span, if `v` is a string.
pub(crate) fn as_str<'t>(v: &'t Spanned<DeValue<'_>>) -> Option<Str<'t>> {
    match v.get_ref() {
        DeValue::String(s) => Some((s.as_ref(), v.span())),
        _ => None,
    }
}

/// How a value's type is named in messages.
pub(crate) fn kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}
