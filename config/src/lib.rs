//! Typed configuration of a Switchyard node, read from one TOML file.
//!
//! # Contract
//!
//! - [`NodeConfig::load`] reads a file and [`NodeConfig::parse`] decodes text;
//!   both return a fully validated [`NodeConfig`] or a [`ConfigError`]. Neither
//!   opens any other file (TLS certificates, the database) nor binds a socket:
//!   the node does that with the values returned here.
//! - Every section and key is optional; absent ones take the defaults of
//!   [`NodeConfig::default_for`]. Durations are integers whose unit is in the key
//!   name (`t1_ms`, `ban_s`) and come back as [`std::time::Duration`].
//! - Relative paths (`node.data_dir`, `sip.tls_cert`, `sip.tls_key`,
//!   `ivr.endpoints.NAME.ca_file`) are resolved against the configuration file's
//!   directory; a relative SQLite path in `store.url` against `node.data_dir`.
//! - Unknown keys, wrong types, out-of-range numbers and contradicting keys are
//!   all errors. Each is a [`Diagnostic`] displayed as `file:line:col: message`,
//!   where the message names the dotted key and what was expected; decoding
//!   collects every problem of a file (a TOML syntax error stops at the first).
//! - No input makes the loader panic.
//!
//! `examples/switchyard.toml` in this crate documents every key with its default
//! and unit; a test keeps it in step with [`SCHEMA`]. The `[trunks.NAME]`
//! tables, named by the file, are described by [`Trunk`] and `docs/sip.md`.
//!
//! ```
//! use std::path::Path;
//! let text = "[sip]\nport = 5070\n";
//! let config = config::NodeConfig::parse(text, Path::new("/etc/switchyard/node.toml"))?;
//! assert_eq!(config.sip.port, 5070);
//! assert_eq!(config.sip.t1, std::time::Duration::from_millis(500));
//!
//! let err = config::NodeConfig::parse("[sip]\nprot = 5070\n", Path::new("node.toml"))
//!     .unwrap_err();
//! assert!(err.to_string().starts_with("node.toml:2:1: unknown key `prot` in [sip]"));
//! # Ok::<(), config::ConfigError>(())
//! ```

#![forbid(unsafe_code)]

mod acd;
mod decode;
mod demo;
mod endpoints;
mod error;
mod ipnet;
mod reader;
mod rules;
mod sections;
mod trunks;

use std::path::Path;

pub use acd::{QueueOptions, SentimentEscalation, valid_wrap_up_code};
pub use decode::SCHEMA;
pub use demo::demo_toml;
pub use endpoints::{Credential, EndpointUrl, HttpEndpoint, UrlScheme};
pub use error::{ConfigError, Diagnostic, ProblemKind};
pub use ipnet::{IpNet, IpNetError};
pub use sections::{
    AuthConfig, BridgeConfig, CallsConfig, DigestAlgorithm, DrConfig, DrPrimary, DrStandby,
    HttpConfig, IvrConfig, LogConfig, MediaConfig, NodeConfig, NodeSection, RegistrarConfig,
    SipConfig, StoreConfig, StoreUrl, TlsConfig, TlsIdentity,
};
pub use trunks::{Trunk, TrunkTransport, route};

impl NodeConfig {
    /// Reads and decodes the configuration file at `path`.
    ///
    /// Diagnostics name the file as `path` is written; relative paths inside it
    /// are resolved against its directory made absolute from the current one.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Read`] when the file cannot be read (or is not UTF-8),
    /// [`ConfigError::Invalid`] when its content is not a valid configuration.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let base = absolute.parent().unwrap_or(Path::new(""));
        decode::decode(&text, path, base)
    }

    /// Decodes configuration `text` that was read from `origin`.
    ///
    /// `origin` names the file in diagnostics, and its directory is the base for
    /// relative paths (an `origin` without a directory leaves them relative).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] listing every problem found, in file order.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let base = origin.parent().unwrap_or(Path::new(""));
        decode::decode(text, origin, base)
    }
}
