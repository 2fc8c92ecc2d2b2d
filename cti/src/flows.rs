//! The node's call flows: which dialled numbers run which flow, the compiled flow set,
//! the prompts they play, and hot reload.
//!
//! The set is built at start from `[ivr].flows` (see `docs/ivr.md`). A watcher task
//! looks at the flow files' modification times every [`RELOAD_PERIOD`]; when they
//! change it rebuilds the whole set and swaps it in for new calls. A set with errors is
//! refused (each diagnostic logged as `file:line:col: message`) and the previous one
//! stays. Calls in progress keep the `Arc`s of the version they started with.
//! Prompts are loaded once at start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use ivr::{Flow, FlowSet};

use crate::prompts::Prompts;

/// How often the flows directory is looked at for changes.
pub(crate) const RELOAD_PERIOD: Duration = Duration::from_secs(2);

/// Flows, numbers and prompts of a node. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub(crate) struct Flows {
    dir: PathBuf,
    prompts_dir: PathBuf,
    numbers: HashMap<String, String>,
    set: RwLock<Arc<FlowSet>>,
    /// The flow files' modification times the current set was built from.
    stamp: RwLock<Vec<(PathBuf, SystemTime)>>,
    pub(crate) prompts: Prompts,
}

impl Flows {
    /// Loads the prompts and builds the flows of `cfg`. A flows directory that is
    /// missing or has errors gives an empty set (errors logged): the node still
    /// takes calls to extensions.
    pub(crate) fn load(cfg: &config::IvrConfig) -> Self {
        let prompts = Prompts::load(&cfg.prompts).unwrap_or_else(|error| {
            tracing::warn!(dir = %cfg.prompts.display(), %error, "prompts not loaded");
            Prompts::default()
        });
        let flows = Self {
            dir: cfg.flows.clone(),
            prompts_dir: cfg.prompts.clone(),
            numbers: cfg.numbers.iter().cloned().collect(),
            set: RwLock::new(Arc::new(empty_set())),
            stamp: RwLock::new(Vec::new()),
            prompts,
        };
        flows.reload();
        tracing::info!(
            flows = flows.current().flows().count(),
            prompts = flows.prompts.len(),
            numbers = flows.numbers.len(),
            "IVR loaded"
        );
        flows
    }

    /// The flow a call to `dialled` runs, with the set it belongs to.
    pub(crate) fn for_number(&self, dialled: &str) -> Option<(Arc<Flow>, Arc<FlowSet>)> {
        let name = self.numbers.get(dialled)?;
        let set = self.current();
        let flow = set.get(name).cloned();
        if flow.is_none() {
            tracing::warn!(dialled, flow = %name, "number maps to a flow that is not loaded");
        }
        Some((flow?, set))
    }

    /// The flow named `name` (its file's name), with the set it belongs to.
    pub(crate) fn by_name(&self, name: &str) -> Option<(Arc<Flow>, Arc<FlowSet>)> {
        let set = self.current();
        let flow = set.get(name).cloned()?;
        Some((flow, set))
    }

    fn current(&self) -> Arc<FlowSet> {
        Arc::clone(&self.set.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Rebuilds the set if the files changed since the last build; returns whether a
    /// new set is now in use.
    pub(crate) fn reload_if_changed(&self) -> bool {
        let stamp = stamp(&self.dir);
        if *self.stamp.read().unwrap_or_else(PoisonError::into_inner) == stamp {
            return false;
        }
        self.reload()
    }

    fn reload(&self) -> bool {
        let stamp = stamp(&self.dir);
        *self.stamp.write().unwrap_or_else(PoisonError::into_inner) = stamp;
        if !self.dir.exists() {
            return false;
        }
        let prompts = self
            .prompts_dir
            .exists()
            .then_some(self.prompts_dir.as_path());
        match ivr::files::load(&self.dir, prompts) {
            Ok(set) => {
                for warning in set.warnings() {
                    tracing::warn!("{warning}");
                }
                *self.set.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
                tracing::info!(dir = %self.dir.display(), "flows loaded");
                true
            }
            Err(ivr::LoadError::Invalid { diagnostics }) => {
                for d in &diagnostics {
                    tracing::error!("{d}");
                }
                tracing::error!(
                    dir = %self.dir.display(),
                    errors = diagnostics.len(),
                    "flows refused; the previous version stays in use"
                );
                false
            }
            Err(error) => {
                tracing::error!(%error, "flows not loaded; the previous version stays in use");
                false
            }
        }
    }
}

/// Watches the flows directory and reloads on change, for as long as the node runs.
pub(crate) async fn watch(flows: Arc<Flows>) {
    let mut tick = tokio::time::interval(RELOAD_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let flows = Arc::clone(&flows);
        // Reading and compiling files is blocking work: off the signalling thread.
        let _ = tokio::task::spawn_blocking(move || flows.reload_if_changed()).await;
    }
}

fn empty_set() -> FlowSet {
    // An empty source list always builds.
    FlowSet::build(&[], None).unwrap_or_else(|_| unreachable!("no sources, no errors"))
}

/// The `*.toml` files of `dir` with their modification times, sorted.
fn stamp(dir: &Path) -> Vec<(PathBuf, SystemTime)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, SystemTime)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| {
            let modified = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
            Some((p, modified))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "[steps.hello]\ntype = \"play\"\nplay = [\"hello\"]\nnext = \"bye\"\n\n[steps.bye]\ntype = \"hangup\"\n";

    fn config(dir: &Path) -> config::IvrConfig {
        config::IvrConfig {
            flows: dir.join("flows"),
            prompts: dir.join("prompts"),
            numbers: vec![("500".to_owned(), "hello".to_owned())],
            endpoints: Vec::new(),
        }
    }

    #[test]
    fn numbers_run_their_flow_and_a_broken_edit_keeps_the_previous_version() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("flows")).expect("mkdir");
        let file = dir.path().join("flows/hello.toml");
        std::fs::write(&file, HELLO).expect("write");
        let flows = Flows::load(&config(dir.path()));
        let (flow, _) = flows.for_number("500").expect("500 runs hello");
        assert_eq!(flow.name().as_str(), "hello");
        assert!(flows.for_number("501").is_none());

        std::fs::write(&file, "[steps.hello]\ntype = \"nonsense\"\n").expect("write");
        bump(&file);
        assert!(!flows.reload_if_changed(), "an invalid flow is refused");
        let (kept, _) = flows.for_number("500").expect("previous version kept");
        assert!(Arc::ptr_eq(&kept, &flow));

        std::fs::write(&file, HELLO.replace("\"hello\"]", "\"hi\"]")).expect("write");
        bump(&file);
        assert!(flows.reload_if_changed(), "a valid edit is taken");
        let (new, _) = flows.for_number("500").expect("new version");
        assert!(!Arc::ptr_eq(&new, &flow), "new calls get the new version");
        assert!(!flows.reload_if_changed(), "nothing changed since");
    }

    /// Moves the file's modification time forward (file systems may keep whole
    /// seconds only).
    fn bump(path: &Path) {
        let f = std::fs::File::options()
            .write(true)
            .open(path)
            .expect("open");
        let later = SystemTime::now() + Duration::from_secs(5);
        f.set_modified(later).expect("set mtime");
    }
}
