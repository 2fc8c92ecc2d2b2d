//! Decoding a flow file's TOML into a [`Flow`], collecting every problem.
//!
//! The document has three top-level tables: `[flow]` (start step, languages,
//! sub-flow inputs and outputs), `[hours.NAME]` (business-hours schedules) and
//! `[steps.NAME]` (the steps). Step names are collected first so that targets
//! can be resolved in one pass whatever their order in the file. A step whose
//! table has errors becomes [`StepKind::Invalid`] and decoding goes on, so one
//! run reports every problem; such a flow is marked incomplete and never loads.

mod items;
mod reader;
mod steps;

use std::collections::HashMap;
use std::sync::Arc;

use toml::de::DeTable;

use crate::FlowSource;
use crate::diag::{DiagnosticKind, LineIndex, Problems, Span};
use crate::flow::{Flow, FlowName, Step, StepId, StepKind, StepName, Target};
use crate::hours::Schedule;
use crate::value::{BUILTINS, VarUse, is_ident, is_var_name};

use reader::Table;
pub(crate) use steps::is_flow_name;

/// A decoded flow and the problems found while decoding it.
pub(crate) struct Decoded {
    pub(crate) flow: Flow,
    pub(crate) problems: Problems,
    /// No decoding error: every step and target is resolved.
    pub(crate) complete: bool,
}

/// What step decoders need to know about the rest of the file.
pub(crate) struct Ctx<'a> {
    steps: HashMap<&'a str, StepId>,
    schedules: &'a [Schedule],
    languages: &'a [String],
}

impl Ctx<'_> {
    /// Resolves the required step reference `key` of `t`.
    pub(crate) fn target(&self, t: &Table<'_, '_>, key: &str, p: &mut Problems) -> Option<Target> {
        if !t.has(key) {
            t.missing(key, "a step name", p);
            return None;
        }
        self.opt_target(t, key, p)
    }

    /// Resolves the optional step reference `key` of `t`.
    pub(crate) fn opt_target(
        &self,
        t: &Table<'_, '_>,
        key: &str,
        p: &mut Problems,
    ) -> Option<Target> {
        let (name, at) = t.string(key, p)?;
        match self.steps.get(name) {
            Some(&step) => Some(Target { step }),
            None => {
                let message = format!("{}: `{key}` names no step `{name}` in this flow", t.what);
                p.error(at, DiagnosticKind::UnknownTarget, message);
                None
            }
        }
    }

    /// The index of the schedule `name`.
    pub(crate) fn schedule(&self, name: &str) -> Option<usize> {
        self.schedules.iter().position(|s| s.name() == name)
    }

    /// Whether `lang` is one of the flow's languages.
    pub(crate) fn has_language(&self, lang: &str) -> bool {
        self.languages.iter().any(|l| l == lang)
    }
}

/// Decodes `source` into a flow and its problems.
pub(crate) fn decode(source: &FlowSource) -> Decoded {
    let mut p = Problems::default();
    let mut flow = Flow {
        name: FlowName(Arc::from(source.name.as_str())),
        path: source.path.clone(),
        lines: LineIndex::new(&source.text),
        start: StepId(0),
        languages: Vec::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        steps: Vec::new(),
        schedules: Vec::new(),
    };
    match DeTable::parse(&source.text) {
        Ok(doc) => document(doc.get_ref(), &mut flow, &mut p),
        Err(e) => {
            let message = format!("invalid TOML: {}", e.message().trim());
            p.error(e.span().unwrap_or(0..0), DiagnosticKind::Syntax, message);
        }
    }
    let complete = !p.has_errors();
    Decoded {
        flow,
        problems: p,
        complete,
    }
}

fn document(doc: &DeTable<'_>, flow: &mut Flow, p: &mut Problems) {
    let root = Table::root(doc);
    root.check_keys(&["flow", "hours", "steps"], p);
    let header = root.table("flow", p);
    if let Some(h) = &header {
        h.check_keys(
            &["start", "languages", "inputs", "outputs", "description"],
            p,
        );
        flow.languages = languages(h, p);
        flow.inputs = var_list(h, "inputs", p);
        flow.outputs = var_list(h, "outputs", p);
    }
    if let Some(hours) = root.table("hours", p) {
        flow.schedules = items::schedules(&hours, p);
    }
    let Some(steps) = root.table("steps", p) else {
        let message = "a flow needs at least one step: add a [steps.NAME] table".to_owned();
        p.error(0..0, DiagnosticKind::MissingKey, message);
        return;
    };
    let entries = steps.entries();
    let names: Vec<(&str, Span)> = entries.iter().map(|(k, _)| k.clone()).collect();
    let ctx = Ctx {
        steps: step_index(&names, p),
        schedules: &flow.schedules,
        languages: &flow.languages,
    };
    let mut decoded = Vec::with_capacity(entries.len());
    for ((name, at), value) in &entries {
        let what = format!("step `{name}`");
        let kind = Table::from_value(value, at.clone(), what, p)
            .and_then(|t| steps::step(&t, &ctx, p))
            .unwrap_or(StepKind::Invalid);
        decoded.push(Step {
            name: StepName(Arc::from(*name)),
            at: at.clone(),
            kind,
        });
    }
    if decoded.is_empty() {
        let message = "a flow needs at least one step: [steps] is empty".to_owned();
        p.error(steps.at.clone(), DiagnosticKind::MissingKey, message);
    }
    if let Some(start) = header.as_ref().and_then(|h| ctx.opt_target(h, "start", p)) {
        flow.start = start.step;
    }
    flow.steps = decoded;
}

/// Step names to indices (in file order); reports names that are not identifiers.
fn step_index<'a>(names: &[(&'a str, Span)], p: &mut Problems) -> HashMap<&'a str, StepId> {
    let mut index = HashMap::with_capacity(names.len());
    for (i, (name, at)) in names.iter().enumerate() {
        if !is_ident(name) {
            let message = format!(
                "step name `{name}` must be lowercase letters, digits and `_`, not starting with a digit"
            );
            p.error(at.clone(), DiagnosticKind::InvalidValue, message);
        }
        index.insert(*name, StepId(i));
    }
    index
}

fn languages(h: &Table<'_, '_>, p: &mut Problems) -> Vec<String> {
    let Some(list) = h.strings("languages", p) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for (lang, at) in list {
        if !is_ident(lang) {
            h.invalid(
                "languages",
                at,
                &format!("entry `{lang}` is not a directory name such as \"en\""),
                p,
            );
        } else if out.iter().any(|l| l == lang) {
            h.invalid("languages", at, &format!("lists `{lang}` twice"), p);
        } else {
            out.push(lang.to_owned());
        }
    }
    out
}

/// `inputs` / `outputs`: variable names a sub-flow expects or provides.
fn var_list(h: &Table<'_, '_>, key: &str, p: &mut Problems) -> Vec<VarUse> {
    let Some(list) = h.strings(key, p) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, at) in list {
        if !is_var_name(name) || BUILTINS.contains(&name) {
            let why = format!("entry `{name}` is not a variable a flow can set");
            h.invalid(key, at, &why, p);
        } else {
            out.push(VarUse {
                name: Arc::from(name),
                at,
            });
        }
    }
    out
}
