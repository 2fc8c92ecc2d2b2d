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
use cti::store::{SrtpPolicy, Store, generate_password};
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
    /// Run a node: the on-prem node, or a disaster-recovery standby when its
    /// file has `[dr] listen`.
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
    /// Check and try out IVR call flows.
    #[command(subcommand)]
    Ivr(IvrCommand),
    /// Manage the protected customer store.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// Manage the CTI API's users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Run the cloud side: the bridge server and live speech analytics.
    Cloud {
        /// The cloud's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Certificates for the bridge between the node and the cloud.
    #[command(subcommand)]
    Certs(CertsCommand),
}

#[derive(Debug, Subcommand)]
enum CertsCommand {
    /// Make a private CA, a node certificate and a cloud certificate (and the node's
    /// pseudonym key) in DIR for a first deployment. Copy `ca.pem`, `node.pem`,
    /// `node.key` and `pseudonym.key` to the node's `[bridge] certs` directory, and
    /// `ca.pem`, `cloud.pem`, `cloud.key` to the cloud. Refuses to overwrite.
    Init {
        /// Directory to write into (created if missing).
        dir: PathBuf,
        /// A DNS name or IP address the cloud is reached by; repeat for several.
        #[arg(long = "name", value_name = "NAME", default_value = "localhost")]
        names: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add a user and print their API token (shown once). The password is read from
    /// SWITCHYARD_PASSWORD, or a random one is generated and printed.
    Add {
        /// Login name.
        name: String,
        /// admin, supervisor, agent or quality_analyst.
        #[arg(long)]
        role: String,
        /// The user's extension, for agents (and supervisors who take calls).
        #[arg(long, value_name = "EXT")]
        agent: Option<String>,
        /// A queue the supervisor supervises (repeat for several).
        #[arg(long = "queue", value_name = "QUEUE")]
        queues: Vec<String>,
        /// The node's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum IvrCommand {
    /// Check flow files: every problem as FILE:LINE:COL, exit status 1 on errors.
    Check {
        /// Flow files (the other flows of their directories are read for sub-flows).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Also check that every prompt the flows play is in this directory.
        #[arg(long, value_name = "DIR")]
        prompts: Option<PathBuf>,
    },
    /// Run a flow without phones and print every command and event on the way.
    Simulate {
        /// The flow file to run (its directory's other flows serve as sub-flows).
        file: PathBuf,
        /// The caller's number.
        #[arg(long, default_value = "1001")]
        caller: String,
        /// The number dialled.
        #[arg(long, default_value = "500")]
        dialled: String,
        /// Keys pressed, one group per menu or collect: "1,2,#" or "1,123456#"; "full"
        /// for a conference step with `full` finds its room full.
        #[arg(long, default_value = "")]
        digits: String,
        /// Wall-clock time of the call: RFC 3339 or "2026-03-09T10:00[America/New_York]"
        /// [default: now].
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Look customers up in this node's store (else every lookup finds nobody).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum CustomersCommand {
    /// Import customers or transactions from a CSV file (docs/customers.md); prints
    /// what was imported and every rejected row with its line and reason.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// The node's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
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
        /// `required`: every leg toward it is SRTP, and only its phones on TLS ring;
        /// `optional`: its legs follow the caller's.
        #[arg(long, value_name = "POLICY", default_value = "optional", value_parser = srtp_policy)]
        srtp: SrtpPolicy,
        /// The node's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Change whether an extension's legs must be SRTP (the running node follows
    /// from the next leg it offers).
    Set {
        /// The extension number.
        ext: String,
        /// `required` or `optional`, as for `add`.
        #[arg(long, value_name = "POLICY", value_parser = srtp_policy)]
        srtp: SrtpPolicy,
        /// The node's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// List the extensions: number, display name, realm, SRTP.
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
        Command::Ivr(command) => ivr_command(command).await,
        Command::Customers(CustomersCommand::Import { file, config }) => {
            customers_import(&config, &file).await
        }
        Command::Users(UsersCommand::Add {
            name,
            role,
            agent,
            queues,
            config,
        }) => users_add(&config, name, &role, agent, queues).await,
        Command::Certs(CertsCommand::Init { dir, names }) => certs_init(&dir, &names),
        Command::Cloud { config } => cloud(&config).await,
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

async fn cloud(config: &Path) -> Result<()> {
    use edge_cloud::pool::{Pool, PoolConfig, policy::PolicyConfig};
    use edge_cloud::service::{Analysis, CloudConfig};
    use std::sync::Arc;
    let cfg = CloudConfig::load(config)?;
    init_logging("info")?;
    let sentiment = Arc::new(edge_cloud::sentiment::VaderModel::call_center());
    let pool = match speech_engine(&cfg.asr)? {
        Some(engine) => {
            let config = PoolConfig {
                policy: PolicyConfig {
                    max_workers: cfg.workers,
                    ..PolicyConfig::default()
                },
                ..PoolConfig::default()
            };
            Some(Pool::start(config, engine, sentiment).context("the worker pool did not start")?)
        }
        None => None,
    };
    let analysis = Arc::new(Analysis::new(pool, cfg.workers));
    edge_cloud::service::run(cfg, analysis)
        .await
        .context("the cloud stopped")
}

/// The speech engine `[asr]` names. One that was asked for and cannot start stops
/// the cloud; the default (PocketSphinx with Debian's model, no `[asr]` section)
/// missing from the machine or the build leaves audio untranscribed, with a warning.
fn speech_engine(
    choice: &edge_cloud::asr::EngineChoice,
) -> Result<Option<std::sync::Arc<dyn edge_cloud::asr::SpeechEngine>>> {
    match edge_cloud::asr::open_engine(choice) {
        Ok(engine) => Ok(engine),
        Err(error) if *choice == edge_cloud::asr::EngineChoice::default() => {
            tracing::warn!(%error, "no speech engine: audio is not transcribed");
            Ok(None)
        }
        Err(error) => Err(error).context("the speech engine did not start"),
    }
}

fn certs_init(dir: &Path, names: &[String]) -> Result<()> {
    let issued = sync_bridge::pki::init(dir, names)
        .with_context(|| format!("certificates not made in {}", dir.display()))?;
    println!("made in {}:", dir.display());
    println!("  for the node  ([bridge] certs): ca.pem node.pem node.key pseudonym.key");
    println!("  for the cloud (its certs dir): ca.pem cloud.pem cloud.key");
    println!("  for disaster recovery ([dr] certs): replica.key on the node and the standby,");
    println!("    with node.pem node.key on the node and cloud.pem cloud.key on the standby");
    println!("  keep offline: ca.key ({})", issued.ca_key.display());
    Ok(())
}

async fn node(config: &Path) -> Result<()> {
    let cfg = NodeConfig::load(config)?;
    init_logging(&cfg.log.level)?;
    if matches!(cfg.dr, Some(config::DrConfig::Standby(_))) {
        return cti::standby::run_standby(config, cfg)
            .await
            .context("the standby stopped");
    }
    let options = cti::NodeOptions {
        // Read again: a primary replicates the file's routing sections.
        config_text: std::fs::read_to_string(config).ok(),
        ..cti::NodeOptions::default()
    };
    cti::run_node_with(cfg, options)
        .await
        .context("the node stopped")
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
            srtp,
            config,
        } => ext_add(&config, &ext, password, name.as_deref(), srtp).await,
        ExtCommand::Set { ext, srtp, config } => ext_set(&config, &ext, srtp).await,
        ExtCommand::List { config } => ext_list(&config).await,
        ExtCommand::Remove { ext, config } => ext_remove(&config, &ext).await,
    }
}

async fn ext_add(
    config: &Path,
    ext: &str,
    password: Option<String>,
    name: Option<&str>,
    srtp: SrtpPolicy,
) -> Result<()> {
    let (cfg, store) = open_store(config).await?;
    let realm = &cfg.sip.domain;
    let generated = password.is_none();
    let password = password.unwrap_or_else(|| generate_password(&mut rand::rng()));
    let added = store
        .add_extension(ext, &password, realm, name, srtp, unix_now())
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

async fn ext_set(config: &Path, ext: &str, srtp: SrtpPolicy) -> Result<()> {
    let (_, store) = open_store(config).await?;
    let set = store
        .set_extension_srtp(ext, srtp)
        .await
        .with_context(|| format!("cannot change extension {ext:?}"));
    store.close().await;
    if !set? {
        bail!("no extension {ext}");
    }
    println!("extension {ext}: srtp {}", srtp.as_str());
    Ok(())
}

/// `--srtp`'s value.
fn srtp_policy(text: &str) -> Result<SrtpPolicy, String> {
    SrtpPolicy::parse(text)
        .ok_or_else(|| format!("expected `required` or `optional`, found {text:?}"))
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
        println!(
            "{:<width$}  {name}  ({})  srtp {}",
            e.ext,
            e.realm,
            e.srtp.as_str()
        );
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

async fn ivr_command(command: IvrCommand) -> Result<()> {
    match command {
        IvrCommand::Check { files, prompts } => ivr_check(&files, prompts.as_deref()),
        IvrCommand::Simulate {
            file,
            caller,
            dialled,
            digits,
            at,
            config,
        } => {
            let mut scenario =
                ivr::simulate::Scenario::new(&caller, &dialled, ivr::jiff::Timestamp::now());
            scenario.digits = ivr::simulate::parse_digits(&digits)?;
            if let Some(at) = at {
                scenario.at = ivr::simulate::parse_time(&at)?;
            }
            ivr_simulate(&file, scenario, config.as_deref()).await
        }
    }
}

fn ivr_check(files: &[PathBuf], prompts: Option<&Path>) -> Result<()> {
    let diagnostics = ivr::files::check_files(files, prompts)?;
    for d in &diagnostics {
        println!("{d}");
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if errors > 0 {
        bail!("{errors} error(s), {warnings} warning(s)");
    }
    eprintln!("ok: {} file(s), {warnings} warning(s)", files.len());
    Ok(())
}

async fn ivr_simulate(
    file: &Path,
    scenario: ivr::simulate::Scenario,
    config: Option<&Path>,
) -> Result<()> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .context("the flow file needs a UTF-8 name")?
        .to_owned();
    let set = std::sync::Arc::new(ivr::files::load(dir, None)?);
    let customers = match config {
        Some(config) => {
            let (cfg, store) = open_store(config).await?;
            let keys = cti::customer_keys(&cfg).context("cannot read the customer key")?;
            Some(cti::customers::Customers::new(&store, keys))
        }
        None => None,
    };
    let handle = tokio::runtime::Handle::current();
    // The simulator is synchronous; store lookups block on the runtime from a
    // thread of their own.
    let report = tokio::task::spawn_blocking(move || {
        let mut backend = StoreBackend { customers, handle };
        ivr::simulate::simulate(&set, &name, &scenario, &mut backend)
    })
    .await??;
    println!("{report}");
    Ok(())
}

/// The simulator's view of the node: customer lookups in the store, if one is given.
struct StoreBackend {
    customers: Option<cti::customers::Customers>,
    handle: tokio::runtime::Handle,
}

impl ivr::simulate::Backend for StoreBackend {
    fn lookup(
        &mut self,
        key: &ivr::LookupKey,
        fields: &[String],
    ) -> Option<Vec<(String, ivr::Value)>> {
        let customers = self.customers.as_ref()?;
        match self
            .handle
            .block_on(cti::lookup::lookup(customers, key, fields))
        {
            Ok(found) => found,
            Err(error) => {
                eprintln!("lookup failed: {error}");
                None
            }
        }
    }
}

async fn users_add(
    config: &Path,
    name: String,
    role: &str,
    agent: Option<String>,
    queues: Vec<String>,
) -> Result<()> {
    let role = cti::api::Role::parse(role).with_context(|| {
        format!("unknown role {role:?}: admin, supervisor, agent or quality_analyst")
    })?;
    let (generated, password) = match std::env::var("SWITCHYARD_PASSWORD") {
        Ok(p) => (false, p),
        Err(_) => (
            true,
            generate_password(&mut rand::rng()) + &generate_password(&mut rand::rng()),
        ),
    };
    let (_, store) = open_store(config).await?;
    let user = cti::api::NewUser {
        name: name.clone(),
        password: password.clone(),
        role,
        agent,
        queues,
    };
    let issued = cti::api::users::create(&store, user, cti::api::unix_ms_now())
        .await
        .with_context(|| format!("cannot add user {name:?}"));
    store.close().await;
    let issued = issued?;
    println!("added user {name} ({})", role.as_str());
    if generated {
        println!("password: {password}");
    }
    println!("API token (shown once): {}", issued.token);
    Ok(())
}

async fn customers_import(config: &Path, file: &Path) -> Result<()> {
    let (cfg, store) = open_store(config).await?;
    let keys = cti::customer_keys(&cfg).context("cannot read the customer key")?;
    let customers = cti::customers::Customers::new(&store, keys);
    let reader =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let report = customers
        .import_csv(std::io::BufReader::new(reader))
        .await
        .with_context(|| format!("cannot import {}", file.display()));
    store.close().await;
    let report = report?;
    print!("{report}");
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
