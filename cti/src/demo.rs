//! Provisioning of the all-in-one demo (`switchyard demo`).
//!
//! [`prepare`] makes a data directory ready for a loopback node: it writes
//! `switchyard.toml` (always, from [`config::demo_toml`]), opens the SQLite
//! store there and makes sure extensions 1001–1010 exist with the passwords
//! listed in `demo-credentials.txt` (one `ext password` line each, mode 0600).
//!
//! It also installs the demo's call flows and prompts (`flows/`, `prompts/`, copied
//! from `config/examples/` when missing, so edits made in the demo directory stay)
//! and seeds a few hundred synthetic customers in the protected store, keyed by
//! `customer.key` (made on first start).
//!
//! The credentials file is the source of truth for the demo's passwords, since
//! the store keeps only hashes: a password found in the file is (re)applied to
//! the store when it does not match; an extension missing from the file gets a
//! new random password. Running [`prepare`] again therefore keeps every
//! password, and deleting the file issues new ones.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use config::NodeConfig;
use sip::auth::{DigestAlgorithm, ha1};

use crate::store::{SrtpPolicy, Store, StoreError, generate_password};

/// The extensions the demo provisions.
pub const DEMO_EXTENSIONS: std::ops::RangeInclusive<u16> = 1001..=1010;

/// Name of the configuration file inside the demo directory.
pub const CONFIG_FILE: &str = "switchyard.toml";

/// Name of the credentials file inside the demo directory.
pub const CREDENTIALS_FILE: &str = "demo-credentials.txt";

/// A ready demo directory: where things are and how to log in.
#[derive(Debug, Clone)]
pub struct DemoSetup {
    /// The demo directory, absolute.
    pub data_dir: PathBuf,
    /// `data_dir/switchyard.toml`.
    pub config_path: PathBuf,
    /// `data_dir/demo-credentials.txt`.
    pub credentials_path: PathBuf,
    /// The configuration the file holds, as the node will load it.
    pub config: NodeConfig,
    /// One login per demo extension, in number order.
    pub credentials: Vec<DemoCredential>,
}

/// The SIP login of one demo extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCredential {
    /// The extension number, also the SIP user name.
    pub ext: String,
    /// Its password.
    pub password: String,
}

/// Why the demo directory could not be prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A file or directory could not be created, read or written.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done (`create directory`, `write`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The generated configuration does not load (for example, equal ports).
    #[error("the demo configuration is not valid")]
    Config(#[from] config::ConfigError),
    /// The store could not be opened or provisioned.
    #[error("cannot provision the demo extensions")]
    Store(#[from] StoreError),
    /// A line of the credentials file is not `ext password`.
    #[error("{}:{line}: expected `EXTENSION PASSWORD` (delete the file to issue new passwords)", path.display())]
    Credentials {
        /// The credentials file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
    },
}

/// `$XDG_DATA_HOME/switchyard/demo`, else `$HOME/.local/share/switchyard/demo`,
/// read from the environment; `None` when neither variable is usable.
#[must_use]
pub fn default_data_dir() -> Option<PathBuf> {
    default_data_dir_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

/// [`default_data_dir`] for given variable values. A relative or empty
/// `XDG_DATA_HOME` is ignored, as the XDG base directory spec asks.
#[must_use]
pub fn default_data_dir_from(
    xdg_data_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    let xdg = xdg_data_home.map(PathBuf::from).filter(|p| p.is_absolute());
    let data_home = xdg.or_else(|| {
        let home = home
            .map(PathBuf::from)
            .filter(|p| !p.as_os_str().is_empty())?;
        Some(home.join(".local").join("share"))
    })?;
    Some(data_home.join("switchyard").join("demo"))
}

/// Prepares `data_dir` (created if missing) for a demo node with SIP on
/// `sip_port` and the HTTP API on `http_port`, as the module docs describe.
///
/// # Errors
///
/// [`DemoError::Config`] when the ports do not make a valid configuration
/// (nothing is written then), [`DemoError::Io`] for file-system failures,
/// [`DemoError::Credentials`] for a malformed credentials file,
/// [`DemoError::Store`] when the store cannot be opened or written.
pub async fn prepare(
    data_dir: &Path,
    sip_port: u16,
    http_port: u16,
) -> Result<DemoSetup, DemoError> {
    let data_dir = std::path::absolute(data_dir).map_err(io("resolve", data_dir))?;
    std::fs::create_dir_all(&data_dir).map_err(io("create directory", &data_dir))?;
    let config_path = data_dir.join(CONFIG_FILE);
    let text = config::demo_toml(&data_dir, sip_port, http_port);
    let config = NodeConfig::parse(&text, &config_path)?;
    let credentials_path = data_dir.join(CREDENTIALS_FILE);
    let known = read_credentials(&credentials_path)?;
    std::fs::write(&config_path, &text).map_err(io("write", &config_path))?;

    install_assets(&data_dir);
    let store = Store::open_config(&config.store.url).await?;
    let provisioned = provision_all(&store, &known, &config.sip.domain).await;
    seed_customers(&store, &data_dir).await;
    store.close().await;
    let credentials = provisioned?;
    write_credentials(&credentials_path, &credentials)?;
    Ok(DemoSetup {
        data_dir,
        config_path,
        credentials_path,
        config,
        credentials,
    })
}

/// Demo customers in the protected store (seeding again adds nothing).
const DEMO_CUSTOMER_COUNT: usize = 300;

async fn seed_customers(store: &Store, data_dir: &Path) {
    use crate::customers::{CustomerKeys, Customers};
    let keys = match CustomerKeys::generate_file(data_dir.join("customer.key")) {
        Ok(keys) => keys,
        Err(error) => return tracing::warn!(%error, "demo customers not seeded"),
    };
    match Customers::new(store, keys)
        .seed_demo(DEMO_CUSTOMER_COUNT, 0x5eed)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(customers = n, "demo customers seeded"),
        Err(error) => tracing::warn!(%error, "demo customers not seeded"),
    }
}

/// Where the demo's flows and prompts come from: `$SWITCHYARD_ASSETS`, else
/// `config/examples` under the current directory, else the source tree the binary
/// was built from.
fn assets_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SWITCHYARD_ASSETS").map(PathBuf::from),
        Some(PathBuf::from("config/examples")),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| dir.join("flows").is_dir())
}

/// Copies the demo flows and prompts into `data_dir` where they are missing.
fn install_assets(data_dir: &Path) {
    let Some(assets) = assets_dir() else {
        return tracing::warn!("demo flows and prompts not found: the IVR number will not answer");
    };
    for sub in ["flows", "prompts"] {
        let to = data_dir.join(sub);
        if to.exists() {
            continue;
        }
        if let Err(error) = copy_tree(&assets.join(sub), &to, 0) {
            tracing::warn!(%error, from = %assets.join(sub).display(), "demo {sub} not installed");
        }
    }
}

fn copy_tree(from: &Path, to: &Path, depth: usize) -> std::io::Result<()> {
    if depth > 8 {
        return Ok(());
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target, depth + 1)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

async fn provision_all(
    store: &Store,
    known: &HashMap<String, String>,
    realm: &str,
) -> Result<Vec<DemoCredential>, StoreError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut credentials = Vec::new();
    for ext in DEMO_EXTENSIONS.map(|n| n.to_string()) {
        let password =
            provision(store, &ext, known.get(&ext).map(String::as_str), realm, now).await?;
        credentials.push(DemoCredential { ext, password });
    }
    Ok(credentials)
}

/// Makes `ext` exist with `known` (or a new password); returns the password.
async fn provision(
    store: &Store,
    ext: &str,
    known: Option<&str>,
    realm: &str,
    now: i64,
) -> Result<String, StoreError> {
    let password = known.map_or_else(|| generate_password(&mut rand::rng()), str::to_owned);
    match store.extension(ext).await? {
        None => {
            let name = format!("Demo {ext}");
            store
                .add_extension(
                    ext,
                    &password,
                    realm,
                    Some(&name),
                    SrtpPolicy::Optional,
                    now,
                )
                .await?;
        }
        Some(stored) => {
            let current = known.is_some()
                && stored.realm == realm
                && stored.ha1_sha256 == ha1(DigestAlgorithm::Sha256, ext, realm, &password);
            if !current {
                store.set_password(ext, &password, realm).await?;
            }
        }
    }
    Ok(password)
}

/// The `ext password` pairs of the file at `path`; empty when it is missing.
/// Blank lines and lines starting with `#` are skipped.
fn read_credentials(path: &Path) -> Result<HashMap<String, String>, DemoError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(io("read", path)(e)),
    };
    let mut known = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(ext), Some(password), None) => {
                known.insert(ext.to_owned(), password.to_owned());
            }
            _ => {
                return Err(DemoError::Credentials {
                    path: path.to_path_buf(),
                    line: i + 1,
                });
            }
        }
    }
    Ok(known)
}

/// Replaces the file at `path` with one `ext password` line per credential,
/// readable by its owner only (on Unix).
fn write_credentials(path: &Path, credentials: &[DemoCredential]) -> Result<(), DemoError> {
    use std::io::Write as _;
    let text: String = credentials
        .iter()
        .map(|c| format!("{} {}\n", c.ext, c.password))
        .collect();
    let staging = path.with_extension("txt.new");
    let _ = std::fs::remove_file(&staging);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&staging).map_err(io("create", &staging))?;
    file.write_all(text.as_bytes())
        .map_err(io("write", &staging))?;
    file.sync_all().map_err(io("write", &staging))?;
    std::fs::rename(&staging, path).map_err(io("replace", path))
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DemoError {
    let path = path.to_path_buf();
    move |source| DemoError::Io {
        action,
        path,
        source,
    }
}

impl DemoSetup {
    /// The how-to-call text printed before the node starts.
    #[must_use]
    pub fn banner(&self) -> String {
        let sip = &self.config.sip;
        let registrar = SocketAddr::new(sip.advertise, sip.port);
        let tls = sip
            .tls
            .as_ref()
            .map_or(String::new(), |t| format!(", TLS on port {}", t.port));
        let mut out = format!(
            "Switchyard demo node\n\
             \x20 registrar:   {registrar} (UDP and TCP{tls})\n\
             \x20 realm:       {realm}\n\
             \x20 config:      {config}\n\
             \x20 credentials: {creds}\n\n\
             Extensions (SIP user name = extension, password):\n",
            realm = sip.domain,
            config = self.config_path.display(),
            creds = self.credentials_path.display(),
        );
        for c in &self.credentials {
            out.push_str(&format!("  {}  {}\n", c.ext, c.password));
        }
        out.push_str("\nbaresip accounts lines:\n");
        for c in self.credentials.iter().take(2) {
            out.push_str(&format!(
                "  <sip:{}@{registrar}>;auth_pass={};answermode=manual\n",
                c.ext, c.password
            ));
        }
        out.push_str("\nRegister two phones as 1001 and 1002, then dial 1002 from 1001.\n");
        out.push_str(
            "\nContact center: register agents 1005-1008 and dial *71 from each to log in\n\
             (*72 not ready, *70 log out); then dial 500 from 1001 (a VIP customer), 1002 or\n\
             1003 for the IVR: language, account lookup, menu to sales, support, billing\n\
             and order status, and the queues that ring the agents. Dial 800 from several\n\
             phones to meet in the conference room.\n",
        );
        out.push_str(&format!(
            "\nSupervisor dashboard: http://{}:{}/dashboard\n\
             (a user for it: switchyard users add NAME --role admin --config {})\n",
            self.config.http.listen,
            self.config.http.port,
            self.config_path.display()
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("the test machine has a writable temporary directory")
    }

    async fn stored(setup: &DemoSetup) -> Vec<crate::store::Extension> {
        let store = Store::open_config(&setup.config.store.url)
            .await
            .expect("demo store opens");
        let all = store.list_extensions().await.expect("query runs");
        store.close().await;
        all
    }

    fn assert_store_accepts(all: &[crate::store::Extension], setup: &DemoSetup) {
        assert_eq!(all.len(), setup.credentials.len());
        for (ext, c) in all.iter().zip(&setup.credentials) {
            assert_eq!(ext.ext, c.ext);
            assert_eq!(ext.realm, setup.config.sip.domain);
            let md5 = ha1(DigestAlgorithm::Md5, &c.ext, &ext.realm, &c.password);
            assert_eq!(
                ext.ha1_md5, md5,
                "{} logs in with the listed password",
                c.ext
            );
        }
    }

    #[tokio::test]
    async fn prepare_provisions_ten_extensions_and_writes_both_files() {
        let dir = temp_dir();
        let setup = prepare(dir.path(), 5070, 8090)
            .await
            .expect("fresh directory");
        let exts: Vec<&str> = setup.credentials.iter().map(|c| c.ext.as_str()).collect();
        assert_eq!(
            exts,
            [
                "1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1009", "1010"
            ]
        );
        for c in &setup.credentials {
            assert_eq!(c.password.len(), 12);
            assert!(
                c.password.bytes().all(|b| b.is_ascii_alphanumeric()),
                "{}",
                c.password
            );
        }
        let loaded = NodeConfig::load(&setup.config_path).expect("written config loads");
        assert_eq!(loaded, setup.config);
        assert_eq!((loaded.sip.port, loaded.http.port), (5070, 8090));
        let file = std::fs::read_to_string(&setup.credentials_path).expect("credentials written");
        let expected: String = setup
            .credentials
            .iter()
            .map(|c| format!("{} {}\n", c.ext, c.password))
            .collect();
        assert_eq!(file, expected);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&setup.credentials_path)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_store_accepts(&stored(&setup).await, &setup);
    }

    #[tokio::test]
    async fn prepare_again_keeps_passwords_and_takes_new_ports() {
        let dir = temp_dir();
        let first = prepare(dir.path(), 5070, 8090)
            .await
            .expect("fresh directory");
        let again = prepare(dir.path(), 5080, 8091)
            .await
            .expect("prepared directory");
        assert_eq!(again.credentials, first.credentials);
        assert_eq!(again.config.sip.port, 5080);
        let text = std::fs::read_to_string(&again.config_path).expect("config written");
        assert!(text.contains("port = 5080"), "{text}");
        assert_store_accepts(&stored(&again).await, &again);
    }

    #[tokio::test]
    async fn the_credentials_file_wins_and_a_lost_file_means_new_passwords() {
        let dir = temp_dir();
        let first = prepare(dir.path(), 5070, 8090)
            .await
            .expect("fresh directory");
        let edited = first.credentials_path.clone();
        let text = std::fs::read_to_string(&edited)
            .expect("written")
            .replace(&first.credentials[0].password, "chosenByHand");
        std::fs::write(&edited, text).expect("writable");
        let after_edit = prepare(dir.path(), 5070, 8090).await.expect("edited file");
        assert_eq!(after_edit.credentials[0].password, "chosenByHand");
        assert_eq!(after_edit.credentials[1..], first.credentials[1..]);
        assert_store_accepts(&stored(&after_edit).await, &after_edit);

        std::fs::remove_file(&edited).expect("exists");
        let fresh = prepare(dir.path(), 5070, 8090).await.expect("file lost");
        for (new, old) in fresh.credentials.iter().zip(&after_edit.credentials) {
            assert_ne!(new.password, old.password, "{} got a new password", new.ext);
        }
        assert_store_accepts(&stored(&fresh).await, &fresh);
    }

    #[tokio::test]
    async fn a_malformed_credentials_file_is_reported_by_line() {
        let dir = temp_dir();
        std::fs::write(dir.path().join(CREDENTIALS_FILE), "# demo\n1001 pw\n1002\n")
            .expect("writable");
        let err = prepare(dir.path(), 5070, 8090)
            .await
            .expect_err("line 3 lacks a password");
        assert!(
            matches!(err, DemoError::Credentials { line: 3, .. }),
            "{err}"
        );
        assert!(
            !dir.path().join(CONFIG_FILE).exists(),
            "nothing written on error"
        );
    }

    #[tokio::test]
    async fn clashing_ports_write_nothing() {
        let dir = temp_dir();
        let err = prepare(dir.path(), 5070, 5070)
            .await
            .expect_err("SIP and HTTP share a port");
        assert!(matches!(err, DemoError::Config(_)), "{err}");
        assert!(!dir.path().join(CONFIG_FILE).exists());
        assert!(!dir.path().join(CREDENTIALS_FILE).exists());
    }

    #[test]
    fn default_data_dir_follows_xdg_then_home() {
        let xdg = default_data_dir_from(Some("/data".into()), Some("/home/a".into()));
        assert_eq!(xdg, Some(PathBuf::from("/data/switchyard/demo")));
        let relative_xdg = default_data_dir_from(Some("data".into()), Some("/home/a".into()));
        assert_eq!(
            relative_xdg,
            Some(PathBuf::from("/home/a/.local/share/switchyard/demo"))
        );
        assert_eq!(default_data_dir_from(None, Some("".into())), None);
        assert_eq!(default_data_dir_from(None, None), None);
    }

    #[tokio::test]
    async fn the_banner_says_where_to_register_and_how_to_log_in() {
        let dir = temp_dir();
        let setup = prepare(dir.path(), 5070, 8090)
            .await
            .expect("fresh directory");
        let banner = setup.banner();
        let pw = &setup.credentials[0].password;
        assert!(
            banner.contains("127.0.0.1:5070 (UDP and TCP, TLS on port 5071)"),
            "{banner}"
        );
        assert!(
            banner.contains(&format!(
                "<sip:1001@127.0.0.1:5070>;auth_pass={pw};answermode=manual"
            )),
            "{banner}"
        );
        assert!(
            banner.contains(&format!("  1010  {}", setup.credentials[9].password)),
            "{banner}"
        );
        assert!(banner.contains("dial 1002 from 1001"));
        let http = &setup.config.http;
        assert!(
            banner.contains(&format!("http://{}:{}/dashboard", http.listen, http.port)),
            "the dashboard's address: {banner}"
        );
    }
}
