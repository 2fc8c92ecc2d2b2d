//! A set of flows compiled together (a flows directory), built whole or not at all.
//!
//! [`FlowSet::build`] compiles every source, checks each flow against the
//! others (sub-flow calls, core variables) and the available prompts, and
//! returns either a complete set or every diagnostic: never a half-built set.
//! On a reload the caller swaps its `Arc<FlowSet>` only on success, so a bad
//! edit leaves the old flows serving; calls in progress hold the `Arc<Flow>`
//! and `Arc<FlowSet>` they started with and finish on that version.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use crate::compile::{self, Decoded};
use crate::diag::{Diagnostic, DiagnosticKind, DiagnosticLines, Problems};
use crate::flow::Flow;
use crate::validate::{self, Context};

/// The text of one flow file and the name it is known by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSource {
    /// The flow's name (its file name without `.toml`), used by `call` steps
    /// and by the node's dialled-number map.
    pub name: String,
    /// The file, as it should appear in diagnostics.
    pub path: PathBuf,
    /// The file's content.
    pub text: String,
}

impl FlowSource {
    /// A source named after the file stem of `path`.
    #[must_use]
    pub fn from_path_text(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let path = path.into();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self {
            name,
            path,
            text: text.into(),
        }
    }
}

/// The names of the prompts that exist (`en/welcome`, `es/digits/4`), without file extension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptCatalog {
    names: BTreeSet<String>,
}

impl PromptCatalog {
    /// A catalog of the given names.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        Self {
            names: names.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether the prompt `name` exists.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }
}

/// Why flows could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// At least one flow has errors; displays each diagnostic on its own line.
    #[error("{}", DiagnosticLines(diagnostics))]
    Invalid {
        /// Every diagnostic found (warnings included), by file, line and column.
        diagnostics: Vec<Diagnostic>,
    },
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Every flow of a directory, compiled and checked together; immutable.
#[derive(Debug, Default)]
pub struct FlowSet {
    flows: BTreeMap<String, Arc<Flow>>,
    core: BTreeSet<Arc<str>>,
    warnings: Vec<Diagnostic>,
}

impl FlowSet {
    /// Compiles and checks `sources` as one set; `prompts`, when given, is what
    /// every prompt a flow plays is checked against.
    ///
    /// # Errors
    ///
    /// [`LoadError::Invalid`] with every diagnostic when any flow has an error.
    pub fn build(
        sources: &[FlowSource],
        prompts: Option<&PromptCatalog>,
    ) -> Result<FlowSet, LoadError> {
        let (decoded, core, diagnostics) = analyse(sources, prompts);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(LoadError::Invalid { diagnostics });
        }
        let flows = decoded
            .into_iter()
            .map(|d| (d.flow.name.as_str().to_owned(), Arc::new(d.flow)))
            .collect();
        Ok(FlowSet {
            flows,
            core,
            warnings: diagnostics,
        })
    }

    /// The flow called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Arc<Flow>> {
        self.flows.get(name)
    }

    /// Every flow, by name.
    pub fn flows(&self) -> impl Iterator<Item = &Arc<Flow>> {
        self.flows.values()
    }

    /// The warnings found when the set was built.
    #[must_use]
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Every prompt any flow of the set may play (see [`Flow::prompts`]).
    #[must_use]
    pub fn prompts(&self) -> BTreeSet<String> {
        self.flows.values().flat_map(|f| f.prompts()).collect()
    }

    /// Whether variable `name` holds core data that must stay on the node (the
    /// caller number, `customer.*` lookup results, account numbers used in
    /// lookups, `collect` variables marked `core`).
    #[must_use]
    pub fn is_core(&self, name: &str) -> bool {
        validate::is_core(name, &self.core)
    }
}

/// Checks `sources` as one set and returns every diagnostic (errors and
/// warnings), ordered by file, line and column. This is `switchyard ivr check`.
#[must_use]
pub fn check(sources: &[FlowSource], prompts: Option<&PromptCatalog>) -> Vec<Diagnostic> {
    analyse(sources, prompts).2
}

/// Compiles one flow alone (sub-flows unseen, prompts unchecked).
pub(crate) fn compile_one(source: &FlowSource) -> Result<Flow, Vec<Diagnostic>> {
    let decoded = compile::decode(source);
    let core: BTreeSet<Arc<str>> = validate::core_vars(&decoded.flow).collect();
    let ctx = Context {
        prompts: None,
        callee: None,
        core: &core,
    };
    let Decoded {
        flow,
        mut problems,
        complete,
    } = decoded;
    validate::validate(&flow, complete, &ctx, &mut problems);
    let diagnostics = problems.into_diagnostics(&flow.lines, &flow.path);
    if diagnostics.iter().any(Diagnostic::is_error) {
        Err(diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect())
    } else {
        Ok(flow)
    }
}

type Analysis = (Vec<Decoded>, BTreeSet<Arc<str>>, Vec<Diagnostic>);

fn analyse(sources: &[FlowSource], prompts: Option<&PromptCatalog>) -> Analysis {
    let mut decoded: Vec<Decoded> = sources.iter().map(compile::decode).collect();
    name_problems(&mut decoded);
    let core: BTreeSet<Arc<str>> = decoded
        .iter()
        .flat_map(|d| validate::core_vars(&d.flow))
        .collect();
    let mut problems: Vec<Problems> = decoded
        .iter_mut()
        .map(|d| std::mem::take(&mut d.problems))
        .collect();
    let mut found: Vec<Vec<Diagnostic>> = Vec::with_capacity(decoded.len());
    {
        let by_name: HashMap<&str, &Flow> = decoded
            .iter()
            .map(|d| (d.flow.name.as_str(), &d.flow))
            .collect();
        let lookup = |name: &str| by_name.get(name).copied();
        let ctx = Context {
            prompts,
            callee: Some(&lookup),
            core: &core,
        };
        for (d, mut p) in decoded.iter().zip(problems.drain(..)) {
            validate::validate(&d.flow, d.complete, &ctx, &mut p);
            found.push(p.into_diagnostics(&d.flow.lines, &d.flow.path));
        }
    }
    let mut diagnostics: Vec<Diagnostic> = found.into_iter().flatten().collect();
    diagnostics.sort_by(|a, b| (&a.path, a.line, a.col).cmp(&(&b.path, b.line, b.col)));
    (decoded, core, diagnostics)
}

/// Reports flow names that are not valid or appear twice.
fn name_problems(decoded: &mut [Decoded]) {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for d in decoded {
        let name = d.flow.name.as_str().to_owned();
        let problem = if !compile::is_flow_name(&name) {
            Some(format!(
                "flow name `{name}` (the file name) must be lowercase letters, digits, `_` and `-`"
            ))
        } else if !seen.insert(name.clone()) {
            Some(format!("a second flow is named `{name}`"))
        } else {
            None
        };
        if let Some(message) = problem {
            d.problems
                .error(0..0, DiagnosticKind::InvalidValue, message);
            d.complete = false;
        }
    }
}
