//! Errors of the configuration loader.
//!
//! Every problem found in a configuration file is a [`Diagnostic`]: the file, a
//! 1-based line and column, what kind of problem it is, the dotted key it concerns
//! and a one-line message that says what was expected. [`ConfigError`] carries one
//! or more of them (or the I/O error of reading the file) and displays them in the
//! `file:line:col: message` form editors and terminals understand, one per line.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the configuration file: {source}", path.display())]
    Read {
        /// The path as it was given to [`crate::NodeConfig::load`].
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its content is not a valid configuration.
    ///
    /// Displays each diagnostic on its own line, in file order; with one
    /// diagnostic the display is exactly `file:line:col: message`.
    #[error("{}", DiagnosticLines(diagnostics))]
    Invalid {
        /// The problems found, in file order; never empty.
        diagnostics: Vec<Diagnostic>,
    },
}

impl ConfigError {
    /// The problems found in the file's content (empty for [`ConfigError::Read`]).
    #[must_use]
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Self::Invalid { diagnostics } => diagnostics,
            Self::Read { .. } => &[],
        }
    }
}

struct DiagnosticLines<'a>(&'a [Diagnostic]);

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

/// What kind of problem a [`Diagnostic`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The text is not valid TOML.
    Syntax,
    /// A key or section that the schema does not have.
    UnknownKey,
    /// A value of the wrong TOML type (a string where an integer belongs, …).
    WrongType,
    /// A number outside the key's range.
    OutOfRange,
    /// A value of the right type that is not acceptable (a malformed IP address,
    /// an unknown digest algorithm, an odd RTP port, …).
    InvalidValue,
    /// Keys that are valid alone but contradict each other (`t1_ms > t2_ms`, …).
    Inconsistent,
}

/// One problem in a configuration file, located to a line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as named by the caller (the `origin` of [`crate::NodeConfig::parse`]).
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// What kind of problem this is.
    pub kind: ProblemKind,
    /// The dotted key concerned (`sip.port`), the section (`sip`), or empty for
    /// syntax errors and the top level.
    pub key: String,
    /// One line saying what is wrong and what was expected; it already names the key.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// A problem located by byte span, before it is turned into line and column.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub(crate) at: Range<usize>,
    pub(crate) kind: ProblemKind,
    pub(crate) key: String,
    pub(crate) message: String,
}

/// Collects problems while a file is decoded.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    found: Vec<Problem>,
}

impl Problems {
    pub(crate) fn push(&mut self, at: Range<usize>, kind: ProblemKind, key: &str, message: String) {
        self.found.push(Problem {
            at,
            kind,
            key: key.to_owned(),
            message,
        });
    }

    /// Whether a problem was already reported for the dotted `key`.
    pub(crate) fn concerns(&self, key: &str) -> bool {
        self.found.iter().any(|f| f.key == key)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// Locates every problem in `text` and returns them as an error, in file order.
    pub(crate) fn into_error(mut self, text: &str, file: &Path) -> ConfigError {
        self.found.sort_by_key(|p| p.at.start);
        let diagnostics = self
            .found
            .into_iter()
            .map(|p| {
                let (line, column) = line_col(text, p.at.start);
                Diagnostic {
                    file: file.to_path_buf(),
                    line,
                    column,
                    kind: p.kind,
                    key: p.key,
                    message: one_line(&p.message),
                }
            })
            .collect();
        ConfigError::Invalid { diagnostics }
    }
}

/// 1-based line and character column of byte `offset` in `text`.
///
/// An offset past the end or inside a multi-byte character is clamped to the
/// nearest character boundary before it.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn one_line(message: &str) -> String {
    message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn line_col_counts_lines_and_characters() {
        let text = "a = 1\n[sip]\nnäme = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (1, 5));
        assert_eq!(line_col(text, 6), (2, 1));
        let eq = text.find(" = 2").unwrap_or(0);
        assert_eq!(line_col(text, eq), (3, 5));
        assert_eq!(line_col(text, 10_000), (4, 1));
    }
}
