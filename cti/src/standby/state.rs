//! The state a standby needs to run calls: what the primary collects, how
//! it travels, and how the standby applies it.
//!
//! - **Configuration**: the primary's `[acd]` (queues, agents, skills,
//!   routing rules), `[ivr] numbers`, `[calls]`, `[sip] domain`,
//!   `[auth] algorithms`, cut from its own file as TOML. The standby lays them
//!   over its own file (which keeps its addresses, ports and data directory)
//!   and checks the result with the same loader as any node; a result that
//!   does not load is refused and the last good one stays.
//! - **Extensions** with their digest HA1s (the realm is the domain above) and
//!   whether their legs must be SRTP.
//! - **Agents' state**: who is logged in, ready or on a break, their skills
//!   and queue memberships (the ACD's own tables), so agents keep their
//!   state when the standby takes over.
//! - **Files**: every flow and prompt, each sent once per content (its
//!   SHA-256), written under the standby's `DATA_DIR/replica/`.
//!
//! Paths from the wire are checked: a path that is absolute, climbs with
//! `..`, or is not plain UTF-8 components is refused, so nothing is written
//! outside the replica directory.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{SrtpPolicy, Store, StoreError};

/// Which replicated folder a file belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Folder {
    /// IVR flows (`[ivr] flows`).
    Flows,
    /// Prompts (`[ivr] prompts`).
    Prompts,
}

impl Folder {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Folder::Flows => "flows",
            Folder::Prompts => "prompts",
        }
    }
}

/// One extension as the registrar needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Extension {
    pub(crate) ext: String,
    pub(crate) display_name: Option<String>,
    pub(crate) ha1_md5: String,
    pub(crate) ha1_sha256: String,
    pub(crate) realm: String,
    pub(crate) created_at: i64,
    /// Whether its legs must be SRTP.
    #[serde(default)]
    pub(crate) srtp: SrtpPolicy,
}

/// Everything but the files' bytes: the files are named by digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StandbyState {
    /// The primary's configuration, cut to what a standby takes.
    pub(crate) config: String,
    pub(crate) extensions: Vec<Extension>,
    /// The ACD agent tables (presence, skills, queue memberships) as JSON:
    /// table name → rows.
    pub(crate) agents: String,
    /// (folder, relative path) → SHA-256 of the content.
    pub(crate) files: BTreeMap<(Folder, String), [u8; 32]>,
}

/// One replicated file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StandbyFile {
    pub(crate) folder: Folder,
    pub(crate) path: String,
    pub(crate) bytes: Vec<u8>,
}

/// The content digest of `bytes`.
pub(crate) fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// What a primary's state or file could not become.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("path {0:?} is not a plain relative path")]
    Path(String),
    #[error("file {0:?} is not there yet")]
    Missing(String),
}

/// The tables of the primary's configuration a standby takes (`None`: the
/// whole table).
const TAKEN: &[(&str, Option<&[&str]>)] = &[
    ("acd", None),
    ("calls", None),
    ("ivr", Some(&["numbers"])),
    ("sip", Some(&["domain"])),
    ("auth", Some(&["algorithms"])),
];

/// Cuts the primary's configuration `text` to what a standby takes.
pub(crate) fn cut_config(text: &str) -> Result<String, StateError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e| StateError::Config(format!("{e}")))?;
    let mut out = toml::Table::new();
    for (name, keys) in TAKEN {
        let Some(toml::Value::Table(section)) = table.get(*name) else {
            continue;
        };
        let kept: toml::Table = match keys {
            None => section.clone(),
            Some(keys) => section
                .iter()
                .filter(|(k, _)| keys.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        out.insert((*name).to_owned(), toml::Value::Table(kept));
    }
    toml::to_string(&out).map_err(|e| StateError::Config(e.to_string()))
}

/// The standby's own configuration `local` with the primary's `taken` laid
/// over it, flows and prompts pointed at `replica`.
pub(crate) fn lay_over(local: &str, taken: &str, replica: &Path) -> Result<String, StateError> {
    let bad = |e: &dyn std::fmt::Display| StateError::Config(e.to_string());
    let mut table: toml::Table = local.parse().map_err(|e| bad(&e))?;
    let taken: toml::Table = taken.parse().map_err(|e| bad(&e))?;
    for (name, keys) in TAKEN {
        let theirs = match taken.get(*name) {
            Some(toml::Value::Table(t)) => t.clone(),
            _ => toml::Table::new(),
        };
        let ours = table
            .entry((*name).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(ours) = ours else {
            return Err(StateError::Config(format!("[{name}] is not a table")));
        };
        match keys {
            None => *ours = theirs,
            Some(keys) => {
                for key in *keys {
                    match theirs.get(*key) {
                        Some(v) => ours.insert((*key).to_owned(), v.clone()),
                        None => ours.remove(*key),
                    };
                }
            }
        }
    }
    if let Some(toml::Value::Table(ivr)) = table.get_mut("ivr") {
        for folder in [Folder::Flows, Folder::Prompts] {
            let dir = replica.join(folder.name());
            let dir = dir
                .to_str()
                .ok_or_else(|| bad(&"replica path is not UTF-8"))?;
            ivr.insert(
                folder.name().to_owned(),
                toml::Value::String(dir.to_owned()),
            );
        }
    }
    toml::to_string(&table).map_err(|e| bad(&e))
}

/// The extensions in `store`.
pub(crate) async fn extensions(store: &Store) -> Result<Vec<Extension>, StoreError> {
    Ok(store
        .list_extensions()
        .await?
        .into_iter()
        .map(|e| Extension {
            ext: e.ext,
            display_name: e.display_name,
            ha1_md5: e.ha1_md5,
            ha1_sha256: e.ha1_sha256,
            realm: e.realm,
            created_at: e.created_at,
            srtp: e.srtp,
        })
        .collect())
}

/// Makes `store`'s extensions exactly `wanted`, in one transaction.
pub(crate) async fn apply_extensions(
    store: &Store,
    wanted: &[Extension],
) -> Result<(), sqlx::Error> {
    let mut tx = store.pool().begin().await?;
    sqlx::query("DELETE FROM extensions")
        .execute(&mut *tx)
        .await?;
    for e in wanted {
        sqlx::query(
            "INSERT INTO extensions \
             (ext, display_name, ha1_md5, ha1_sha256, realm, created_at, srtp) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.ext)
        .bind(&e.display_name)
        .bind(&e.ha1_md5)
        .bind(&e.ha1_sha256)
        .bind(&e.realm)
        .bind(e.created_at)
        .bind(e.srtp.as_str())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Every regular file under `root`, as '/'-separated relative paths, sorted.
pub(crate) fn list_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            let rel = rel.join(entry.file_name());
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(rel),
                Ok(t) if t.is_file() => {
                    if let Some(text) = rel.to_str() {
                        out.push(text.replace(std::path::MAIN_SEPARATOR, "/"));
                    }
                }
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// `path` from the wire as a path under `root`, if it is a plain relative
/// path.
pub(crate) fn confined(root: &Path, path: &str) -> Result<PathBuf, StateError> {
    let refuse = || StateError::Path(path.to_owned());
    if path.is_empty() || path.len() > 512 || path.contains('\\') || path.contains('\0') {
        return Err(refuse());
    }
    let rel = Path::new(path);
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
        || !rel.components().all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(refuse());
    }
    Ok(root.join(rel))
}

/// Writes `file` under `replica` (atomically: a temporary file renamed).
pub(crate) fn write_file(replica: &Path, file: &StandbyFile) -> Result<(), StateError> {
    let root = replica.join(file.folder.name());
    let target = confined(&root, &file.path)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StateError::Io { path, source }
    };
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let temp = target.with_extension("replica-part");
    std::fs::write(&temp, &file.bytes).map_err(io(&temp))?;
    std::fs::rename(&temp, &target).map_err(io(&target))
}

/// Checks every file `state` names is under `replica` with its digest, then
/// removes files it no longer names.
pub(crate) fn settle_files(replica: &Path, state: &StandbyState) -> Result<(), StateError> {
    for ((folder, path), want) in &state.files {
        let file = confined(&replica.join(folder.name()), path)?;
        let have = std::fs::read(&file).map(|b| digest(&b));
        if have.ok().as_ref() != Some(want) {
            return Err(StateError::Missing(path.clone()));
        }
    }
    for folder in [Folder::Flows, Folder::Prompts] {
        let root = replica.join(folder.name());
        for path in list_files(&root) {
            if !state.files.contains_key(&(folder, path.clone())) {
                // A file already gone is what was wanted.
                let _ = std::fs::remove_file(root.join(&path));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
