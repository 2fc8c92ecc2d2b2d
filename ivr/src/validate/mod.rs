//! Checks on a decoded flow, beyond what decoding itself reports.
//!
//! - unreachable steps (a warning),
//! - loops in which no step waits for the caller,
//! - variables read where some path arrives without setting them (or that no step sets),
//! - sub-flow contracts: a `call` names a known flow, whose `inputs` are set at the
//!   call; a `return` has every `outputs` variable set,
//! - prompts (and `say` fragments) missing from the available prompts,
//! - `http` steps that would send core data off the node.
//!
//! Graph checks that could mislead on a partly decoded flow (unreachable steps,
//! unset variables) run only when decoding found no error.

mod graph;

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::PromptCatalog;
use crate::diag::{DiagnosticKind, Problems};
use crate::flow::{Cond, Flow, LookupBy, PromptItem, StepKind};
use crate::value::{BUILTINS, CORE_BUILTINS, CORE_NAMESPACES, VarUse};

use graph::{Callee, VarIndex};

/// What a flow is checked against.
pub(crate) struct Context<'a> {
    /// The prompts that exist; `None` skips the prompt check.
    pub(crate) prompts: Option<&'a PromptCatalog>,
    /// The other flows, for `call` steps; `None` when checking one file alone.
    pub(crate) callee: Option<Callee<'a>>,
    /// Variables that are core data beyond the fixed ones (account numbers used
    /// in lookups, `collect` steps marked `core`), from every flow of the set.
    pub(crate) core: &'a BTreeSet<Arc<str>>,
}

/// Runs every check on `flow`; `complete` says decoding found no error.
pub(crate) fn validate(flow: &Flow, complete: bool, ctx: &Context<'_>, p: &mut Problems) {
    let edges = graph::edges(flow, ctx.callee);
    if complete {
        let reach = graph::reachable(flow.start, &edges);
        for (step, _) in flow.steps.iter().zip(&reach).filter(|(_, r)| !**r) {
            let message = format!(
                "step `{}` is unreachable: no path from the start step leads to it",
                step.name
            );
            p.warning(step.at.clone(), DiagnosticKind::Unreachable, message);
        }
        variables(flow, &edges, &reach, ctx, p);
    }
    for members in graph::busy_loops(flow, &edges) {
        let names: Vec<String> = members
            .iter()
            .filter_map(|id| flow.step(*id).map(|s| format!("`{}`", s.name)))
            .collect();
        let Some(first) = members.first().and_then(|id| flow.step(*id)) else {
            continue;
        };
        let message = format!(
            "steps {} loop without waiting for the caller: add a play, menu or collect to the loop",
            names.join(", ")
        );
        p.error(first.at.clone(), DiagnosticKind::BusyLoop, message);
    }
    calls(flow, ctx, p);
    if let Some(catalog) = ctx.prompts {
        prompts(flow, catalog, p);
    }
    core_leaks(flow, ctx.core, p);
}

/// The variables a step reads. `branch` conditions are not reads: a test on an
/// unset variable is defined (false, except `ne`), see [`tests`].
fn uses(kind: &StepKind) -> Vec<VarUse> {
    let mut out: Vec<VarUse> = kind
        .prompt_items()
        .into_iter()
        .flat_map(|item| match item {
            PromptItem::Say { value, .. } => value.uses().collect(),
            PromptItem::Named { .. } => Vec::new(),
        })
        .collect();
    match kind {
        StepKind::Lookup(l) => {
            if let LookupBy::Account(v) = &l.by {
                out.push(v.clone());
            }
        }
        StepKind::Http(h) => out.extend(http_uses(h)),
        StepKind::Queue(q) => {
            out.extend(q.skills.iter().flat_map(|(t, _)| t.uses()));
            out.extend(q.data.iter().flat_map(|(_, t)| t.uses()));
        }
        StepKind::Transfer(t) => out.extend(t.target.uses()),
        StepKind::Conference(c) => out.extend(c.room.uses()),
        _ => {}
    }
    out
}

/// The variables `branch` conditions test.
fn tests(flow: &Flow) -> impl Iterator<Item = VarUse> + '_ {
    flow.steps.iter().flat_map(|s| match &s.kind {
        StepKind::Branch(b) => b
            .cases
            .iter()
            .flat_map(|c| &c.conds)
            .flat_map(|cond| match cond {
                Cond::Var { var, .. } => vec![var.clone()],
                Cond::Set(vars) => vars.clone(),
                Cond::Hours { .. } => Vec::new(),
            })
            .collect(),
        _ => Vec::new(),
    })
}

fn http_uses(h: &crate::flow::Http) -> impl Iterator<Item = VarUse> + '_ {
    h.path
        .uses()
        .chain(h.body.iter().flat_map(|(_, t)| t.uses()))
}

/// What the edges of a flow set, numbered for the must-be-set analysis.
struct Sets {
    vars: VarIndex,
    /// Every variable some edge sets, plus the built-ins and the flow's inputs.
    known: BTreeSet<Arc<str>>,
    /// A `call` into a flow this check cannot see (it may set anything).
    unknown_call: bool,
}

impl Sets {
    fn of(flow: &Flow, edges: &[Vec<graph::Edge>]) -> Self {
        let mut sets = Sets {
            vars: VarIndex::default(),
            known: BUILTINS.iter().map(|b| Arc::from(*b)).collect(),
            unknown_call: false,
        };
        sets.known
            .extend(flow.inputs.iter().map(|i| i.name.clone()));
        for e in edges.iter().flatten() {
            match &e.sets {
                graph::Gen::Vars(names) => {
                    for n in names {
                        sets.vars.id(n);
                        sets.known.insert(n.clone());
                    }
                }
                graph::Gen::All => sets.unknown_call = true,
            }
        }
        sets
    }

    fn never_set(&self, name: &str) -> bool {
        !self.unknown_call && !self.known.contains(name)
    }
}

fn never_set(u: VarUse, p: &mut Problems) {
    let message = format!(
        "variable `{}` is never set: no step of this flow sets it",
        u.name
    );
    p.error(u.at, DiagnosticKind::UnsetVariable, message);
}

/// Unset-variable checks: reads, branch tests, sub-flow inputs at calls, outputs at returns.
fn variables(
    flow: &Flow,
    edges: &[Vec<graph::Edge>],
    reach: &[bool],
    ctx: &Context<'_>,
    p: &mut Problems,
) {
    let mut sets = Sets::of(flow, edges);
    let must = graph::must_be_set(flow, edges, &mut sets.vars);
    for u in tests(flow).filter(|u| sets.never_set(&u.name)) {
        never_set(u, p);
    }
    let reached = flow.steps.iter().zip(&must).zip(reach).filter(|(_, r)| **r);
    for ((step, set), _) in reached {
        let set_here = |name: &str| sets.vars.get(name).is_some_and(|i| set.contains(i));
        for u in uses(&step.kind).into_iter().filter(|u| !set_here(&u.name)) {
            if sets.never_set(&u.name) {
                never_set(u, p);
            } else {
                let message = format!(
                    "variable `{}` may be unset here: some path to step `{}` does not set it",
                    u.name, step.name
                );
                p.error(u.at, DiagnosticKind::UnsetVariable, message);
            }
        }
        contracts(flow, step, &set_here, ctx, p);
    }
}

/// A `call` sets its callee's inputs; a `return` has the flow's outputs set.
fn contracts(
    flow: &Flow,
    step: &crate::flow::Step,
    set_here: &dyn Fn(&str) -> bool,
    ctx: &Context<'_>,
    p: &mut Problems,
) {
    match &step.kind {
        StepKind::Call(c) => {
            let Some(callee) = ctx.callee.and_then(|f| f(c.flow.as_str())) else {
                return;
            };
            for input in callee.inputs.iter().filter(|i| !set_here(&i.name)) {
                let message = format!(
                    "flow `{}` needs `{}` set before it is called (its [flow] inputs), but some path to step `{}` does not set it",
                    c.flow, input.name, step.name
                );
                p.error(c.at.clone(), DiagnosticKind::UnsetVariable, message);
            }
        }
        StepKind::Return => {
            for out in flow.outputs.iter().filter(|o| !set_here(&o.name)) {
                let message = format!(
                    "step `{}` returns without setting `{}` on every path ([flow] outputs lists it)",
                    step.name, out.name
                );
                p.error(step.at.clone(), DiagnosticKind::UnsetVariable, message);
            }
        }
        _ => {}
    }
}

/// Every `call` names a flow of the set (checked only when the set is known).
fn calls(flow: &Flow, ctx: &Context<'_>, p: &mut Problems) {
    let Some(callee) = ctx.callee else {
        return;
    };
    for step in &flow.steps {
        if let StepKind::Call(c) = &step.kind
            && callee(c.flow.as_str()).is_none()
        {
            let message = format!(
                "step `{}` calls flow `{}`, but there is no {}.toml among the flows",
                step.name, c.flow, c.flow
            );
            p.error(c.at.clone(), DiagnosticKind::UnknownFlow, message);
        }
    }
}

/// Every prompt each item may play exists, in every language of the flow.
fn prompts(flow: &Flow, catalog: &PromptCatalog, p: &mut Problems) {
    let langs: Vec<String> = if flow.languages.is_empty() {
        vec![String::new()]
    } else {
        flow.languages.iter().map(|l| format!("{l}/")).collect()
    };
    for step in &flow.steps {
        for item in step.kind.prompt_items() {
            let missing: Vec<String> = langs
                .iter()
                .flat_map(|l| item.names().into_iter().map(move |n| format!("{l}{n}")))
                .filter(|n| !catalog.contains(n))
                .collect();
            if missing.is_empty() {
                continue;
            }
            let message = match item {
                PromptItem::Named { .. } => {
                    let list: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
                    format!("prompt {} not found among the prompts", list.join(", "))
                }
                PromptItem::Say { kind, .. } => {
                    let shown: Vec<&str> = missing.iter().take(4).map(String::as_str).collect();
                    let more = missing.len().saturating_sub(shown.len());
                    let tail = if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    };
                    format!(
                        "saying this as `{kind}` needs prompts that are missing: {}{tail}",
                        shown.join(", ")
                    )
                }
            };
            p.error(item.at(), DiagnosticKind::MissingPrompt, message);
        }
    }
}

/// Whether `name` is core data: the caller number, lookup results, or listed in `extra`.
pub(crate) fn is_core(name: &str, extra: &BTreeSet<Arc<str>>) -> bool {
    CORE_BUILTINS.contains(&name)
        || name
            .split_once('.')
            .is_some_and(|(ns, _)| CORE_NAMESPACES.contains(&ns))
        || extra.contains(name)
}

/// The variables this flow makes core: account numbers it looks customers up
/// by, and `collect` variables marked `core = true`.
pub(crate) fn core_vars(flow: &Flow) -> impl Iterator<Item = Arc<str>> + '_ {
    flow.steps.iter().filter_map(|s| match &s.kind {
        StepKind::Lookup(l) => match &l.by {
            LookupBy::Account(v) => Some(v.name.clone()),
            LookupBy::Caller => None,
        },
        StepKind::Collect(c) if c.core => Some(c.var.name.clone()),
        _ => None,
    })
}

/// No `http` step reads a core variable.
fn core_leaks(flow: &Flow, core: &BTreeSet<Arc<str>>, p: &mut Problems) {
    for step in &flow.steps {
        let StepKind::Http(h) = &step.kind else {
            continue;
        };
        for u in http_uses(h).filter(|u| is_core(&u.name, core)) {
            let message = format!(
                "http step `{}` must not send `{}`: the caller number, lookup results and account numbers are core data and stay on the node",
                step.name, u.name
            );
            p.error(u.at, DiagnosticKind::CoreDataLeak, message);
        }
    }
}
