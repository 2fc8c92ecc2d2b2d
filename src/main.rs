//! `switchyard`: the command-line entry point.
//!
//! This file only parses arguments, sets up logging and calls the library
//! crates (`config`, `cti`); every behaviour lives there. An error is printed
//! on stderr as `error: …` followed by its causes, and the exit status is 1.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use config::NodeConfig;
use cti::store::{Store, generate_password};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Switchyard contact-center engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the on-prem node.
    Node {
        /// The node's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Run a demo node on loopback with extensions 1001-1010 ready to call.
    Demo {
        /// Where the demo keeps its configuration, database and credentials
        /// [default: $XDG_DATA_HOME/switchyard/demo or ~/.local/share/switchyard/demo]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// SIP port (UDP and TCP); TLS listens on the next port.
        #[arg(long, value_name = "PORT", default_value_t = 5060)]
        sip_port: u16,
        /// HTTP API port.
        #[arg(long, value_name = "PORT", default_value_t = 8080)]
        http_port: u16,
    },
    /// Manage extensions in the node's store (also while the node runs).
    #[command(subcommand)]
    Ext(ExtCommand),
}

#[derive(Debug, Subcommand)]
enum ExtCommand {
    /// Add an extension; its digest realm is the configuration's sip.domain.
    Add {
        /// The extension number (1-32 characters of 0-9 A-Z a-z . _ -).
        ext: String,
        /// Its SIP password; a random one is generated and printed if omitted.
        #[arg(long)]
        password: Option<String>,
        /// A display name.
        #[arg(long)]
        name: Option<String>,
        /// The node's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// List the extensions: number, display name, realm.
    List {
        /// The node's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Remove an extension.
    Remove {
        /// The extension number.
        ext: String,
        /// The node's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

// Signalling runs on this one thread; the node starts its own runtime for
// media (see `cti::run_node`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let outcome = match Cli::parse().command {
        Command::Node { config } => node(&config).await,
        Command::Demo {
            data_dir,
            sip_port,
            http_port,
        } => demo(data_dir, sip_port, http_port).await,
        Command::Ext(command) => ext(command).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

/// Prints `error: …` and each cause on stderr, skipping a cause whose text
/// the message before it already includes.
fn report(e: &anyhow::Error) {
    eprintln!("error: {e}");
    let mut previous = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !previous.contains(&text) {
            eprintln!("  caused by: {text}");
        }
        previous = text;
    }
}

async fn node(config: &Path) -> Result<()> {
    let cfg = NodeConfig::load(config)?;
    init_logging(&cfg.log.level)?;
    cti::run_node(cfg).await.context("the node stopped")
}

async fn demo(data_dir: Option<PathBuf>, sip_port: u16, http_port: u16) -> Result<()> {
    let dir = match data_dir {
        Some(dir) => dir,
        None => cti::demo::default_data_dir()
            .context("no demo directory: pass --data-dir, or set XDG_DATA_HOME or HOME")?,
    };
    let setup = cti::demo::prepare(&dir, sip_port, http_port)
        .await
        .with_context(|| format!("cannot prepare the demo in {}", dir.display()))?;
    init_logging(&setup.config.log.level)?;
    print!("{}", setup.banner());
    cti::run_node(setup.config)
        .await
        .context("the demo node stopped")
}

async fn ext(command: ExtCommand) -> Result<()> {
    match command {
        ExtCommand::Add {
            ext,
            password,
            name,
            config,
        } => ext_add(&config, &ext, password, name.as_deref()).await,
        ExtCommand::List { config } => ext_list(&config).await,
        ExtCommand::Remove { ext, config } => ext_remove(&config, &ext).await,
    }
}

async fn ext_add(
    config: &Path,
    ext: &str,
    password: Option<String>,
    name: Option<&str>,
) -> Result<()> {
    let (cfg, store) = open_store(config).await?;
    let realm = &cfg.sip.domain;
    let generated = password.is_none();
    let password = password.unwrap_or_else(|| generate_password(&mut rand::rng()));
    let added = store
        .add_extension(ext, &password, realm, name, unix_now())
        .await
        .with_context(|| format!("cannot add extension {ext:?}"));
    store.close().await;
    added?;
    println!("added extension {ext} (realm {realm})");
    if generated {
        println!("password: {password}");
    }
    Ok(())
}

async fn ext_list(config: &Path) -> Result<()> {
    let (_, store) = open_store(config).await?;
    let all = store
        .list_extensions()
        .await
        .context("cannot list extensions");
    store.close().await;
    let all = all?;
    let width = all.iter().map(|e| e.ext.len()).max().unwrap_or(0);
    for e in &all {
        let name = e.display_name.as_deref().unwrap_or("-");
        println!("{:<width$}  {name}  ({})", e.ext, e.realm);
    }
    if all.is_empty() {
        eprintln!("no extensions");
    }
    Ok(())
}

async fn ext_remove(config: &Path, ext: &str) -> Result<()> {
    let (_, store) = open_store(config).await?;
    let removed = store
        .remove_extension(ext)
        .await
        .with_context(|| format!("cannot remove extension {ext:?}"));
    store.close().await;
    if !removed? {
        bail!("no extension {ext}");
    }
    println!("removed extension {ext}");
    Ok(())
}

/// Loads the configuration, starts logging at its level and opens its store.
async fn open_store(config: &Path) -> Result<(NodeConfig, Store)> {
    let cfg = NodeConfig::load(config)?;
    init_logging(&cfg.log.level)?;
    let store = Store::open_config(&cfg.store.url)
        .await
        .with_context(|| format!("cannot open the store {}", cfg.store.url))?;
    Ok((cfg, store))
}

/// Logs to stderr, filtered by `RUST_LOG` when it is set, else by `level`.
fn init_logging(level: &str) -> Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .with_context(|| format!("invalid RUST_LOG {directives:?}"))?,
        _ => EnvFilter::try_new(level).with_context(|| format!("invalid log.level {level:?}"))?,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    Ok(())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
