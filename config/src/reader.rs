//! Typed, span-aware access to one table of the parsed TOML document.
//!
//! A [`Section`] wraps one TOML table together with the keys the schema allows in
//! it. Creating it reports every unknown key; each typed accessor reports a value
//! of the wrong type or outside its range and then returns `None`, so decoding
//! goes on with the default and all problems of a file are collected in one pass.
//! Found values come back as a [`Field`] that remembers where its key was written,
//! for the cross-key checks that run afterwards.

use std::net::IpAddr;
use std::ops::{Range, RangeInclusive};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::error::{ProblemKind, Problems};

/// A decoded value and the span of the key that set it.
#[derive(Debug, Clone)]
pub(crate) struct Field<T> {
    pub(crate) value: T,
    pub(crate) key_at: Range<usize>,
}

type Entry<'t, 'i> = (&'t Spanned<DeString<'i>>, &'t Spanned<DeValue<'i>>);

/// One table of the document and the keys the schema allows in it.
pub(crate) struct Section<'t, 'i> {
    name: String,
    table: Option<&'t DeTable<'i>>,
    src: &'t str,
}

impl<'t, 'i> Section<'t, 'i> {
    /// The document's top level; `sections` are the section names it may hold.
    pub(crate) fn root(
        table: &'t DeTable<'i>,
        src: &'t str,
        sections: &[&str],
        p: &mut Problems,
    ) -> Self {
        report_unknown(table, "", sections, p);
        Self {
            name: String::new(),
            table: Some(table),
            src,
        }
    }

    /// The table `name` of this section (of the top level: a `[name]` section);
    /// absent tables read as empty.
    pub(crate) fn section(&self, name: &str, keys: &[&str], p: &mut Problems) -> Section<'t, 'i> {
        let dotted = self.dotted(name);
        let table = match self.entry(name) {
            None => None,
            Some((_, value)) => match value.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => {
                    self.wrong_type(p, name, value, &format!("a table [{dotted}]"));
                    None
                }
            },
        };
        if let Some(t) = table {
            report_unknown(t, &dotted, keys, p);
        }
        Section {
            name: dotted,
            table,
            src: self.src,
        }
    }

    /// The array of tables `name` of this section (`[[acd.queues]]`), each element named
    /// `name[i]` (from 1) in messages; absent arrays read as empty.
    pub(crate) fn sections(
        &self,
        name: &str,
        keys: &[&str],
        p: &mut Problems,
    ) -> Vec<Section<'t, 'i>> {
        let Some((_, value)) = self.entry(name) else {
            return Vec::new();
        };
        let DeValue::Array(items) = value.get_ref() else {
            let expected = format!("an array of tables [[{}]]", self.dotted(name));
            self.wrong_type(p, name, value, &expected);
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let dotted = format!("{}[{}]", self.dotted(name), i + 1);
            match item.get_ref() {
                DeValue::Table(t) => {
                    report_unknown(t, &dotted, keys, p);
                    out.push(Section {
                        name: dotted,
                        table: Some(t),
                        src: self.src,
                    });
                }
                _ => self.wrong_type(p, name, item, "a table"),
            }
        }
        out
    }

    /// The table `name` of this section whose keys are names chosen by the file,
    /// each a table with `keys` (`[ivr.endpoints.crm]`): every name with its span
    /// and its table, named `name.NAME` in messages, in file order. Absent tables
    /// read as empty; an entry that is not a table is reported as not `expected`.
    pub(crate) fn named_sections(
        &self,
        p: &mut Problems,
        name: &str,
        keys: &[&str],
        expected: &str,
    ) -> Vec<(Spanned<&'t str>, Section<'t, 'i>)> {
        let Some((_, value)) = self.entry(name) else {
            return Vec::new();
        };
        let DeValue::Table(table) = value.get_ref() else {
            self.wrong_type(p, name, value, expected);
            return Vec::new();
        };
        let mut out = Vec::with_capacity(table.len());
        for (key, item) in table.iter() {
            let DeValue::Table(t) = item.get_ref() else {
                self.wrong_type(p, name, item, expected);
                continue;
            };
            let dotted = format!("{}.{}", self.dotted(name), key.get_ref());
            report_unknown(t, &dotted, keys, p);
            let section = Section {
                name: dotted,
                table: Some(t),
                src: self.src,
            };
            out.push((Spanned::new(key.span(), key.get_ref().as_ref()), section));
        }
        // The parsed table is ordered by key; the file's order is what was meant.
        out.sort_by_key(|(key, _)| key.span().start);
        out
    }

    /// The whole file's text.
    pub(crate) fn src(&self) -> &'t str {
        self.src
    }

    /// Whether `key` is present.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.entry(key).is_some()
    }

    /// The span of the table's first key (for problems about the table as a whole).
    pub(crate) fn span(&self) -> Range<usize> {
        self.table
            .and_then(|t| t.keys().next().map(Spanned::span))
            .unwrap_or(0..0)
    }

    /// A table of small integers (`skills = { en = 5, sales = 3 }`): each key with its
    /// span and value, in file order; values outside `range` are reported.
    #[allow(clippy::type_complexity, reason = "pairs of spanned key and value")]
    pub(crate) fn integer_table(
        &self,
        p: &mut Problems,
        key: &str,
        range: RangeInclusive<i64>,
    ) -> Vec<(Spanned<&'t str>, u8)> {
        let Some((_, v)) = self.entry(key) else {
            return Vec::new();
        };
        let expected = format!(
            "a table of name = integer {}..={}",
            range.start(),
            range.end()
        );
        let DeValue::Table(table) = v.get_ref() else {
            self.wrong_type(p, key, v, &expected);
            return Vec::new();
        };
        let mut out = Vec::with_capacity(table.len());
        for (name, value) in table.iter() {
            let n = match value.get_ref() {
                DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
                _ => None,
            };
            match n
                .filter(|n| range.contains(n))
                .and_then(|n| u8::try_from(n).ok())
            {
                Some(n) => out.push((Spanned::new(name.span(), name.get_ref().as_ref()), n)),
                None => self.problem(
                    p,
                    value.span(),
                    ProblemKind::OutOfRange,
                    key,
                    &expected,
                    value,
                ),
            }
        }
        // The parsed table is ordered by key; the file's order is what was meant.
        out.sort_by_key(|(name, _)| name.span().start);
        out
    }

    /// An integer in `range`; `unit` (if not empty) is named in the message.
    pub(crate) fn integer(
        &self,
        p: &mut Problems,
        key: &str,
        range: RangeInclusive<i64>,
        unit: &str,
    ) -> Option<Field<i64>> {
        let (k, v) = self.entry(key)?;
        let expected = match unit {
            "" => format!("an integer {}..={}", range.start(), range.end()),
            unit => format!("an integer {}..={} ({unit})", range.start(), range.end()),
        };
        let DeValue::Integer(int) = v.get_ref() else {
            self.wrong_type(p, key, v, &expected);
            return None;
        };
        match i64::from_str_radix(int.as_str(), int.radix()) {
            Ok(n) if range.contains(&n) => Some(Field {
                value: n,
                key_at: k.span(),
            }),
            _ => {
                self.problem(p, v.span(), ProblemKind::OutOfRange, key, &expected, v);
                None
            }
        }
    }

    /// An integer in `range`, converted to `T` (the range must fit `T`).
    pub(crate) fn number<T: TryFrom<i64>>(
        &self,
        p: &mut Problems,
        key: &str,
        range: RangeInclusive<i64>,
    ) -> Option<Field<T>> {
        self.integer(p, key, range, "")
            .and_then(|f| narrow(f, T::try_from))
    }

    /// A duration written as whole seconds in `range`.
    pub(crate) fn seconds(
        &self,
        p: &mut Problems,
        key: &str,
        range: RangeInclusive<i64>,
    ) -> Option<Field<Duration>> {
        let f = self.integer(p, key, range, "seconds")?;
        narrow(f, |n| u64::try_from(n).map(Duration::from_secs))
    }

    /// A duration written as whole milliseconds in `range`.
    pub(crate) fn millis(
        &self,
        p: &mut Problems,
        key: &str,
        range: RangeInclusive<i64>,
    ) -> Option<Field<Duration>> {
        let f = self.integer(p, key, range, "milliseconds")?;
        narrow(f, |n| u64::try_from(n).map(Duration::from_millis))
    }

    /// A number (integer or float) in `range`.
    pub(crate) fn float(
        &self,
        p: &mut Problems,
        key: &str,
        range: RangeInclusive<f64>,
    ) -> Option<Field<f64>> {
        let (k, v) = self.entry(key)?;
        let expected = format!("a number from {} to {}", range.start(), range.end());
        let value = match v.get_ref() {
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            DeValue::Integer(i) => i.as_str().parse::<i64>().ok().map(|n| n as f64),
            _ => {
                self.wrong_type(p, key, v, &expected);
                return None;
            }
        };
        match value.filter(|x| range.contains(x)) {
            Some(value) => Some(Field {
                value,
                key_at: k.span(),
            }),
            None => {
                self.problem(p, v.span(), ProblemKind::InvalidValue, key, &expected, v);
                None
            }
        }
    }

    /// A boolean (`true` or `false`).
    pub(crate) fn boolean(&self, p: &mut Problems, key: &str) -> Option<Field<bool>> {
        let (k, v) = self.entry(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Field {
                value: *b,
                key_at: k.span(),
            }),
            _ => {
                self.wrong_type(p, key, v, "a boolean (true or false)");
                None
            }
        }
    }

    /// A string; `expected` describes acceptable values for the message.
    pub(crate) fn string(
        &self,
        p: &mut Problems,
        key: &str,
        expected: &str,
    ) -> Option<Field<&'t str>> {
        let (k, v) = self.entry(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Field {
                value: s.as_ref(),
                key_at: k.span(),
            }),
            _ => {
                self.wrong_type(p, key, v, expected);
                None
            }
        }
    }

    /// A string accepted by `check`, which returns the typed value or `None`.
    pub(crate) fn parsed<T>(
        &self,
        p: &mut Problems,
        key: &str,
        expected: &str,
        check: impl FnOnce(&str) -> Option<T>,
    ) -> Option<Field<T>> {
        let f = self.string(p, key, expected)?;
        match check(f.value) {
            Some(value) => Some(Field {
                value,
                key_at: f.key_at,
            }),
            None => {
                let (_, v) = self.entry(key)?;
                self.problem(p, v.span(), ProblemKind::InvalidValue, key, expected, v);
                None
            }
        }
    }

    /// An IP address literal.
    pub(crate) fn ip(&self, p: &mut Problems, key: &str) -> Option<Field<IpAddr>> {
        self.parsed(
            p,
            key,
            "an IP address such as \"0.0.0.0\" or \"::1\"",
            |s| s.parse().ok(),
        )
    }

    /// A non-empty path; a relative one is joined to `base`.
    pub(crate) fn path(&self, p: &mut Problems, key: &str, base: &Path) -> Option<Field<PathBuf>> {
        self.parsed(p, key, "a non-empty path", |s| {
            (!s.is_empty()).then(|| resolve(base, s))
        })
    }

    /// An array of strings, each with the span of its value.
    pub(crate) fn strings(
        &self,
        p: &mut Problems,
        key: &str,
        expected: &str,
    ) -> Option<Field<Vec<Spanned<&'t str>>>> {
        let (k, v) = self.entry(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(p, key, v, expected);
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.as_ref())),
                _ => self.wrong_type(p, key, item, expected),
            }
        }
        Some(Field {
            value: out,
            key_at: k.span(),
        })
    }

    /// A table of strings (`numbers = { "500" = "main" }`): each key and value with
    /// its span, in file order.
    #[allow(clippy::type_complexity, reason = "pairs of spanned key and value")]
    pub(crate) fn string_table(
        &self,
        p: &mut Problems,
        key: &str,
        expected: &str,
    ) -> Option<Field<Vec<(Spanned<&'t str>, Spanned<&'t str>)>>> {
        let (k, v) = self.entry(key)?;
        let DeValue::Table(table) = v.get_ref() else {
            self.wrong_type(p, key, v, expected);
            return None;
        };
        let mut out = Vec::with_capacity(table.len());
        for (name, value) in table.iter() {
            match value.get_ref() {
                DeValue::String(s) => out.push((
                    Spanned::new(name.span(), name.get_ref().as_ref()),
                    Spanned::new(value.span(), s.as_ref()),
                )),
                _ => self.wrong_type(p, key, value, expected),
            }
        }
        // The parsed table is ordered by key; the file's order is what was meant.
        out.sort_by_key(|(name, _)| name.span().start);
        Some(Field {
            value: out,
            key_at: k.span(),
        })
    }

    /// Reports an acceptable-looking value at `at` that breaks a rule.
    pub(crate) fn invalid(
        &self,
        p: &mut Problems,
        at: Range<usize>,
        key: &str,
        kind: ProblemKind,
        what: &str,
    ) {
        let dotted = self.dotted(key);
        p.push(at, kind, &dotted, format!("{dotted}: {what}"));
    }

    /// The span of `key` itself, if the key is present.
    pub(crate) fn key_at(&self, key: &str) -> Option<Range<usize>> {
        self.entry(key).map(|(k, _)| k.span())
    }

    /// The span of the value written for `key`, if the key is present.
    pub(crate) fn value_at(&self, key: &str) -> Option<Range<usize>> {
        self.entry(key).map(|(_, v)| v.span())
    }

    /// The dotted name of `key` in this section (`sip.port`).
    pub(crate) fn dotted(&self, key: &str) -> String {
        if self.name.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.name)
        }
    }

    fn entry(&self, key: &str) -> Option<Entry<'t, 'i>> {
        self.table?.get_key_value(key)
    }

    fn wrong_type(&self, p: &mut Problems, key: &str, v: &Spanned<DeValue<'_>>, expected: &str) {
        self.problem(p, v.span(), ProblemKind::WrongType, key, expected, v);
    }

    fn problem(
        &self,
        p: &mut Problems,
        at: Range<usize>,
        kind: ProblemKind,
        key: &str,
        expected: &str,
        found: &Spanned<DeValue<'_>>,
    ) {
        let dotted = self.dotted(key);
        let found = describe(self.src, found);
        p.push(
            at,
            kind,
            &dotted,
            format!("{dotted}: expected {expected}, found {found}"),
        );
    }
}

/// `value` joined to `base` (unless absolute), without `.` components.
pub(crate) fn resolve(base: &Path, value: &str) -> PathBuf {
    let clean: PathBuf = base
        .join(value)
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if clean.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        clean
    }
}

fn narrow<T, U, E>(f: Field<T>, convert: impl FnOnce(T) -> Result<U, E>) -> Option<Field<U>> {
    let value = convert(f.value).ok()?;
    Some(Field {
        value,
        key_at: f.key_at,
    })
}

/// Reports each key of `table` that is not in `known`.
fn report_unknown(table: &DeTable<'_>, section: &str, known: &[&str], p: &mut Problems) {
    for key in table.keys() {
        let name: &str = key.get_ref();
        if known.contains(&name) {
            continue;
        }
        let (place, dotted) = if section.is_empty() {
            ("at the top level".to_owned(), name.to_owned())
        } else {
            (format!("in [{section}]"), format!("{section}.{name}"))
        };
        let message = format!(
            "unknown key `{name}` {place}, expected one of: {}",
            known.join(", ")
        );
        p.push(key.span(), ProblemKind::UnknownKey, &dotted, message);
    }
}

/// How a found value is shown in a message: its source text when short, else its type.
fn describe(src: &str, value: &Spanned<DeValue<'_>>) -> String {
    const SHORT: usize = 40;
    let kind = match value.get_ref() {
        DeValue::Array(_) => return "an array".to_owned(),
        DeValue::Table(_) => return "a table".to_owned(),
        DeValue::Integer(_) => "an integer".to_owned(),
        v => format!("a {}", v.type_str()),
    };
    match src.get(value.span()) {
        Some(text) if text.chars().count() <= SHORT && !text.contains('\n') => text.to_owned(),
        _ => kind,
    }
}
