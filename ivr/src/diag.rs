//! Diagnostics: every problem found in a flow file, located to a line and column.
//!
//! Decoding and validation record problems by byte span ([`Span`]) into a
//! [`Problems`] list; [`LineIndex`] turns spans into 1-based line and character
//! column when the list becomes [`Diagnostic`]s. A diagnostic displays as
//! `file:line:col: message` (warnings as `file:line:col: warning: message`),
//! the form editors and terminals jump to.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A byte range in a flow file's text.
pub(crate) type Span = Range<usize>;

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The flow is usable, but something in it is probably a mistake.
    Warning,
    /// The flow cannot be loaded.
    Error,
}

/// What kind of problem a [`Diagnostic`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// The text is not valid TOML.
    Syntax,
    /// A key the flow language does not have in that place.
    UnknownKey,
    /// A required key is absent.
    MissingKey,
    /// A value of the wrong TOML type.
    WrongType,
    /// A value of the right type that is not acceptable (a bad time zone, an
    /// out-of-range number, a malformed pattern, …).
    InvalidValue,
    /// A step names a step that does not exist.
    UnknownTarget,
    /// A `call` step names a flow that is not in the set.
    UnknownFlow,
    /// No path from the start step reaches this step (a warning).
    Unreachable,
    /// A prompt (or a fragment a `say` item needs) is not among the available prompts.
    MissingPrompt,
    /// Steps form a cycle in which nothing waits for the caller.
    BusyLoop,
    /// A variable is read where some path reaches without setting it, or no step sets it.
    UnsetVariable,
    /// An `http` step would send core data (lookup results, the caller number,
    /// account numbers) off the node.
    CoreDataLeak,
}

/// One problem in a flow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the caller named it.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub col: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What kind of problem this is.
    pub kind: DiagnosticKind,
    /// One line saying what is wrong (and what was expected).
    pub message: String,
}

impl Diagnostic {
    /// Whether this diagnostic stops the flow from loading.
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.path.display(), self.line, self.col)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Diagnostics shown one per line (the display of load errors).
pub(crate) struct DiagnosticLines<'a>(pub(crate) &'a [Diagnostic]);

impl fmt::Display for DiagnosticLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A problem located by byte span, before it becomes a [`Diagnostic`].
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub(crate) at: Span,
    pub(crate) severity: Severity,
    pub(crate) kind: DiagnosticKind,
    pub(crate) message: String,
}

/// Problems collected while one file is decoded or validated.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    found: Vec<Problem>,
}

impl Problems {
    /// Records an error at `at`.
    pub(crate) fn error(&mut self, at: Span, kind: DiagnosticKind, message: String) {
        self.push(at, Severity::Error, kind, message);
    }

    /// Records a warning at `at`.
    pub(crate) fn warning(&mut self, at: Span, kind: DiagnosticKind, message: String) {
        self.push(at, Severity::Warning, kind, message);
    }

    fn push(&mut self, at: Span, severity: Severity, kind: DiagnosticKind, message: String) {
        self.found.push(Problem {
            at,
            severity,
            kind,
            message,
        });
    }

    /// Whether any error (not counting warnings) was recorded.
    pub(crate) fn has_errors(&self) -> bool {
        self.found.iter().any(|p| p.severity == Severity::Error)
    }

    /// Locates every problem and returns them in file order.
    pub(crate) fn into_diagnostics(mut self, lines: &LineIndex, path: &Path) -> Vec<Diagnostic> {
        self.found.sort_by_key(|p| p.at.start);
        self.found
            .into_iter()
            .map(|p| {
                let (line, col) = lines.locate(p.at.start);
                Diagnostic {
                    path: path.to_path_buf(),
                    line,
                    col,
                    severity: p.severity,
                    kind: p.kind,
                    message: one_line(&p.message),
                }
            })
            .collect()
    }
}

/// Where each line of a text starts, to turn byte offsets into line and column.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineIndex {
    /// Byte offset of the start of each line; the first is 0.
    starts: Vec<usize>,
    /// The text itself, kept to count characters (not bytes) in a line.
    text: String,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            starts,
            text: text.to_owned(),
        }
    }

    /// 1-based line and character column of byte `offset`; offsets past the end
    /// or inside a multi-byte character are clamped to the boundary before them.
    pub(crate) fn locate(&self, offset: usize) -> (usize, usize) {
        let mut end = offset.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= end).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let col = self.text.get(start..end).map_or(0, |s| s.chars().count()) + 1;
        (line, col)
    }
}

fn one_line(message: &str) -> String {
    message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::LineIndex;

    #[test]
    fn locate_counts_lines_and_characters() {
        let lines = LineIndex::new("a = 1\n[x]\nnäme = 2\n");
        assert_eq!(lines.locate(0), (1, 1));
        assert_eq!(lines.locate(4), (1, 5));
        assert_eq!(lines.locate(6), (2, 1));
        assert_eq!(lines.locate(16), (3, 6));
        assert_eq!(lines.locate(13), (3, 3));
        assert_eq!(lines.locate(10_000), (4, 1));
    }
}
