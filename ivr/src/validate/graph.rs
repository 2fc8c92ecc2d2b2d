//! The step graph of a flow: edges (with the variables each edge sets), the
//! steps reachable from the start, loops that never wait for the caller, and
//! which variables are set on every path to each step.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::flow::{Cond, Flow, StepId, StepKind, Test};
use crate::value::BUILTINS;

/// What an edge sets.
#[derive(Debug, Clone)]
pub(crate) enum Gen {
    Vars(Vec<Arc<str>>),
    /// Anything (a call into a flow this check cannot see).
    All,
}

/// One way from a step to the next.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    pub(crate) to: StepId,
    pub(crate) sets: Gen,
}

fn edge(to: StepId, vars: Vec<Arc<str>>) -> Edge {
    Edge {
        to,
        sets: Gen::Vars(vars),
    }
}

/// The outputs of the flow a `call` step names, if that flow is known.
pub(crate) type Callee<'a> = &'a dyn Fn(&str) -> Option<&'a Flow>;

/// The edges leaving each step.
pub(crate) fn edges(flow: &Flow, callee: Option<Callee<'_>>) -> Vec<Vec<Edge>> {
    flow.steps
        .iter()
        .map(|s| step_edges(&s.kind, callee))
        .collect()
}

fn step_edges(kind: &StepKind, callee: Option<Callee<'_>>) -> Vec<Edge> {
    match kind {
        StepKind::Play(p) => vec![edge(p.next.step, vec![])],
        StepKind::Menu(m) => {
            let var: Vec<Arc<str>> = m.var.iter().map(|v| v.name.clone()).collect();
            let mut out: Vec<Edge> = m
                .options
                .iter()
                .map(|(_, t)| edge(t.step, var.clone()))
                .collect();
            out.push(edge(m.retry.fallback.step, vec![]));
            out
        }
        StepKind::Collect(c) => vec![
            edge(c.next.step, vec![c.var.name.clone()]),
            edge(c.retry.fallback.step, vec![]),
        ],
        StepKind::Lookup(l) => vec![
            edge(
                l.found.step,
                l.fields.iter().map(|(_, v)| v.clone()).collect(),
            ),
            edge(l.not_found.step, vec![]),
        ],
        StepKind::Http(h) => vec![
            edge(
                h.next.step,
                h.fields.iter().map(|(_, v)| v.clone()).collect(),
            ),
            edge(h.fallback.step, vec![]),
        ],
        StepKind::Branch(b) => {
            let mut out: Vec<Edge> = b
                .cases
                .iter()
                .map(|c| {
                    let vars = c
                        .conds
                        .iter()
                        .flat_map(|cond| match cond {
                            Cond::Set(vars) => vars.iter().map(|v| v.name.clone()).collect(),
                            // Every test but `ne` is false on an unset variable.
                            Cond::Var { var, test } if !matches!(test, Test::Ne(_)) => {
                                vec![var.name.clone()]
                            }
                            _ => Vec::new(),
                        })
                        .collect();
                    edge(c.goto.step, vars)
                })
                .collect();
            out.push(edge(b.otherwise.step, vec![]));
            out
        }
        StepKind::Set(s) => vec![edge(
            s.next.step,
            s.vars.iter().map(|(d, _)| d.name.clone()).collect(),
        )],
        StepKind::Queue(q) => q
            .on_exit
            .iter()
            .map(|t| edge(t.step, vec![Arc::from("queue.exit_reason")]))
            .collect(),
        StepKind::Voicemail(v) => v.next.iter().map(|t| edge(t.step, vec![])).collect(),
        StepKind::Conference(c) => c.full.iter().map(|t| edge(t.step, vec![])).collect(),
        StepKind::Goto(t) => vec![edge(t.step, vec![])],
        StepKind::Call(c) => {
            let sets = match callee.and_then(|f| f(c.flow.as_str())) {
                Some(f) => Gen::Vars(f.outputs.iter().map(|v| v.name.clone()).collect()),
                None => Gen::All,
            };
            vec![Edge {
                to: c.next.step,
                sets,
            }]
        }
        StepKind::Transfer(_) | StepKind::Hangup | StepKind::Return | StepKind::Invalid => {
            Vec::new()
        }
    }
}

/// Whether a step waits for the caller, or for the node (the call leaving a
/// queue, a seat in a conference room), before going on.
pub(crate) fn waits(kind: &StepKind) -> bool {
    matches!(
        kind,
        StepKind::Play(_)
            | StepKind::Menu(_)
            | StepKind::Collect(_)
            | StepKind::Voicemail(_)
            | StepKind::Queue(_)
            | StepKind::Conference(_)
            | StepKind::Call(_)
    )
}

/// Which steps the start step leads to.
pub(crate) fn reachable(start: StepId, edges: &[Vec<Edge>]) -> Vec<bool> {
    let mut seen = vec![false; edges.len()];
    let mut todo = vec![start];
    while let Some(s) = todo.pop() {
        match seen.get_mut(s.0) {
            Some(flag) if !*flag => *flag = true,
            _ => continue,
        }
        todo.extend(edges.get(s.0).into_iter().flatten().map(|e| e.to));
    }
    seen
}

/// Groups of steps that form loops in which no step waits, each group in file order.
pub(crate) fn busy_loops(flow: &Flow, edges: &[Vec<Edge>]) -> Vec<Vec<StepId>> {
    let n = flow.steps.len();
    let busy: Vec<bool> = flow.steps.iter().map(|s| !waits(&s.kind)).collect();
    let succ = |i: usize| -> Vec<usize> {
        edges
            .get(i)
            .into_iter()
            .flatten()
            .map(|e| e.to.0)
            .filter(|&j| busy.get(j) == Some(&true))
            .collect()
    };
    let reach = |from: usize| -> Vec<bool> {
        let mut seen = vec![false; n];
        let mut todo = succ(from);
        while let Some(j) = todo.pop() {
            if let Some(flag) = seen.get_mut(j).filter(|f| !**f) {
                *flag = true;
                todo.extend(succ(j));
            }
        }
        seen
    };
    let mut covered = vec![false; n];
    let mut loops = Vec::new();
    for i in (0..n).filter(|&i| busy.get(i) == Some(&true)) {
        if covered.get(i) == Some(&true) {
            continue;
        }
        let from_i = reach(i);
        if from_i.get(i) != Some(&true) {
            continue;
        }
        let members: Vec<StepId> = (0..n)
            .filter(|&j| j == i || (from_i.get(j) == Some(&true) && reach(j).get(i) == Some(&true)))
            .map(StepId)
            .collect();
        for m in &members {
            if let Some(c) = covered.get_mut(m.0) {
                *c = true;
            }
        }
        loops.push(members);
    }
    loops
}

/// A set of variables, as bits over the flow's variable names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VarSet(Vec<u64>);

impl VarSet {
    fn empty(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)])
    }
    fn full(n: usize) -> Self {
        Self(vec![u64::MAX; n.div_ceil(64)])
    }
    fn insert(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    fn intersect(&mut self, other: &VarSet) -> bool {
        let mut changed = false;
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            let new = *a & b;
            changed |= new != *a;
            *a = new;
        }
        changed
    }
}

/// Variable names numbered for [`VarSet`].
#[derive(Debug, Default)]
pub(crate) struct VarIndex {
    index: HashMap<Arc<str>, usize>,
}

impl VarIndex {
    pub(crate) fn id(&mut self, name: &Arc<str>) -> usize {
        let next = self.index.len();
        *self.index.entry(name.clone()).or_insert(next)
    }
    pub(crate) fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
    fn len(&self) -> usize {
        self.index.len()
    }
}

/// The variables set on every path from the start to each reachable step
/// (unreachable steps get the full set). `vars` must already number every
/// variable the edges set; it numbers the built-ins and `inputs` itself.
pub(crate) fn must_be_set(flow: &Flow, edges: &[Vec<Edge>], vars: &mut VarIndex) -> Vec<VarSet> {
    let mut initial_ids: Vec<usize> = BUILTINS.iter().map(|b| vars.id(&Arc::from(*b))).collect();
    initial_ids.extend(flow.inputs.iter().map(|v| vars.id(&v.name)));
    let n = vars.len();
    let mut sets = vec![VarSet::full(n); flow.steps.len()];
    let mut initial = VarSet::empty(n);
    for i in initial_ids {
        initial.insert(i);
    }
    let Some(first) = sets.get_mut(flow.start.0) else {
        return sets;
    };
    *first = initial;
    let mut visited = vec![false; flow.steps.len()];
    let mut todo = VecDeque::from([flow.start]);
    while let Some(s) = todo.pop_front() {
        if let Some(v) = visited.get_mut(s.0) {
            *v = true;
        }
        let Some(here) = sets.get(s.0).cloned() else {
            continue;
        };
        for e in edges.get(s.0).into_iter().flatten() {
            let mut out = here.clone();
            match &e.sets {
                Gen::All => out = VarSet::full(n),
                Gen::Vars(names) => {
                    for name in names {
                        if let Some(i) = vars.get(name.as_ref()) {
                            out.insert(i);
                        }
                    }
                }
            }
            let Some(target) = sets.get_mut(e.to.0) else {
                continue;
            };
            let changed = target.intersect(&out);
            if changed || visited.get(e.to.0) == Some(&false) {
                if let Some(v) = visited.get_mut(e.to.0) {
                    *v = true;
                }
                todo.push_back(e.to);
            }
        }
    }
    sets
}
