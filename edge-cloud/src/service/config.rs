//! The cloud's configuration file (`switchyard cloud --config FILE`), TOML:
//!
//! ```toml
//! name = "cloud"                 # its name in the bridge hello
//! listen = "0.0.0.0:4433"        # UDP (QUIC) address nodes connect to
//! certs = "certs"                # ca.pem, cloud.pem, cloud.key (switchyard certs init)
//! data_dir = "/var/lib/switchyard-cloud"   # the analytics store, cloud.db
//! workers = 2                    # call-party streams analysed at once
//! ```
//!
//! Relative paths are taken from the file's directory. Unknown keys are refused.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The cloud's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudConfig {
    /// Its name in the bridge hello.
    pub name: String,
    /// The bridge's UDP address.
    pub listen: SocketAddr,
    /// Directory with `ca.pem`, `cloud.pem` and `cloud.key`.
    pub certs: PathBuf,
    /// Where the analytics store lives.
    pub data_dir: PathBuf,
    /// Call-party streams analysed at once.
    pub workers: usize,
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TOML did not parse or had the wrong shape (the message says where).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What and where.
        message: String,
    },
    /// A value is out of range.
    #[error("`{key}`: expected {message}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// What is accepted.
        message: String,
    },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default = "default_name")]
    name: String,
    listen: SocketAddr,
    certs: PathBuf,
    data_dir: PathBuf,
    #[serde(default = "default_workers")]
    workers: usize,
}

fn default_name() -> String {
    "cloud".to_owned()
}

fn default_workers() -> usize {
    2
}

impl CloudConfig {
    /// Reads and checks `path`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file, and the line and column of a TOML error.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses `text`, read from `path` (relative paths are joined to its directory).
    ///
    /// # Errors
    ///
    /// As [`CloudConfig::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if !(1..=256).contains(&file.workers) {
            return Err(ConfigError::Invalid {
                key: "workers",
                message: "1 to 256".to_owned(),
            });
        }
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Ok(Self {
            name: file.name,
            listen: file.listen,
            certs: base.join(file.certs),
            data_dir: base.join(file.data_dir),
            workers: file.workers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses_with_paths_from_its_directory() {
        let text = "listen = \"127.0.0.1:4433\"\ncerts = \"certs\"\ndata_dir = \"/srv/cloud\"\n";
        let cfg = CloudConfig::parse(text, Path::new("/etc/sy/cloud.toml")).expect("valid");
        assert_eq!(cfg.certs, PathBuf::from("/etc/sy/certs"));
        assert_eq!(cfg.data_dir, PathBuf::from("/srv/cloud"));
        assert_eq!((cfg.name.as_str(), cfg.workers), ("cloud", 2));
    }

    #[test]
    fn mistakes_are_refused_with_their_place() {
        let bad = "listen = \"127.0.0.1\"\ncerts = \"c\"\ndata_dir = \"d\"\n";
        let err = CloudConfig::parse(bad, Path::new("c.toml")).expect_err("no port");
        assert!(err.to_string().contains("line 1"), "{err}");
        let unknown = "listen = \"127.0.0.1:1\"\ncerts = \"c\"\ndata_dir = \"d\"\nworker = 3\n";
        let err = CloudConfig::parse(unknown, Path::new("c.toml")).expect_err("unknown key");
        assert!(err.to_string().contains("worker"), "{err}");
        let zero = "listen = \"127.0.0.1:1\"\ncerts = \"c\"\ndata_dir = \"d\"\nworkers = 0\n";
        assert!(CloudConfig::parse(zero, Path::new("c.toml")).is_err());
    }
}
