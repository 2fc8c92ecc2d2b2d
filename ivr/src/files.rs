//! Reading flow and prompt directories: the only file system access of this crate.
//!
//! The node calls [`load`] at start and on reload, and the CLI calls
//! [`check_files`]; nothing here runs while calls are in progress. A flows
//! directory holds `NAME.toml` files (not searched recursively). A prompts
//! directory holds one directory per language (`en/welcome.wav`,
//! `en/digits/4.wav`); [`read_prompts`] lists every file in it, recursively,
//! as its relative path without extension (`en/welcome`, `en/digits/4`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::flowset::{FlowSet, FlowSource, LoadError, PromptCatalog, check};

/// How deep [`read_prompts`] descends below the prompts directory.
const MAX_DEPTH: usize = 8;

/// Reads every `*.toml` file of `dir` (in name order) as a flow source.
///
/// # Errors
///
/// [`LoadError::Read`] when the directory or one of its files cannot be read.
pub fn read_flows(dir: &Path) -> Result<Vec<FlowSource>, LoadError> {
    let mut out = Vec::new();
    for path in toml_files(dir)? {
        out.push(read_flow(&path)?);
    }
    Ok(out)
}

/// Reads one flow file, named after its file stem.
///
/// # Errors
///
/// [`LoadError::Read`] when it cannot be read (or is not UTF-8).
pub fn read_flow(path: &Path) -> Result<FlowSource, LoadError> {
    let text = fs::read_to_string(path).map_err(|source| read_error(path, source))?;
    Ok(FlowSource::from_path_text(path, text))
}

/// Lists the prompts under `dir` (see the module docs).
///
/// # Errors
///
/// [`LoadError::Read`] when a directory cannot be listed.
pub fn read_prompts(dir: &Path) -> Result<PromptCatalog, LoadError> {
    let mut names = BTreeSet::new();
    walk(dir, "", 0, &mut names)?;
    Ok(PromptCatalog::new(names))
}

/// Reads and builds the flows of `flows_dir`, checking prompts against
/// `prompts_dir` when given.
///
/// # Errors
///
/// [`LoadError::Read`] for unreadable files, [`LoadError::Invalid`] when a
/// flow has errors (keep serving the previous set then).
pub fn load(flows_dir: &Path, prompts_dir: Option<&Path>) -> Result<FlowSet, LoadError> {
    let sources = read_flows(flows_dir)?;
    let prompts = prompts_dir.map(read_prompts).transpose()?;
    FlowSet::build(&sources, prompts.as_ref())
}

/// Checks the flow files `paths` (`switchyard ivr check FILE…`): the other
/// `*.toml` files of their directories are read too, so that sub-flow calls
/// resolve, but only diagnostics of `paths` are returned.
///
/// # Errors
///
/// [`LoadError::Read`] when a file or directory cannot be read.
pub fn check_files(
    paths: &[PathBuf],
    prompts_dir: Option<&Path>,
) -> Result<Vec<Diagnostic>, LoadError> {
    let mut sources: Vec<FlowSource> = Vec::new();
    for path in paths {
        sources.push(read_flow(path)?);
    }
    let mut dirs: Vec<&Path> = paths.iter().map(|p| parent(p)).collect();
    dirs.dedup();
    for dir in dirs {
        for sibling in toml_files(dir)? {
            let taken = sources
                .iter()
                .any(|s| parent(&s.path) == dir && s.path.file_name() == sibling.file_name());
            if !taken {
                sources.push(read_flow(&sibling)?);
            }
        }
    }
    let prompts = prompts_dir.map(read_prompts).transpose()?;
    let mut diagnostics = check(&sources, prompts.as_ref());
    diagnostics.retain(|d| paths.contains(&d.path));
    Ok(diagnostics)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let entries = fs::read_dir(dir).map_err(|e| read_error(dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| read_error(dir, e))?.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn walk(
    dir: &Path,
    prefix: &str,
    depth: usize,
    names: &mut BTreeSet<String>,
) -> Result<(), LoadError> {
    let entries = fs::read_dir(dir).map_err(|e| read_error(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| read_error(dir, e))?;
        let path = entry.path();
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if file.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if depth < MAX_DEPTH {
                walk(&path, &format!("{prefix}{file}/"), depth + 1, names)?;
            }
        } else if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            names.insert(format!("{prefix}{stem}"));
        }
    }
    Ok(())
}

fn read_error(path: &Path, source: std::io::Error) -> LoadError {
    LoadError::Read {
        path: path.to_path_buf(),
        source,
    }
}
