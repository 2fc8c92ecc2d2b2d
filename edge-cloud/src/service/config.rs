//! The cloud's configuration file (`switchyard cloud --config FILE`), TOML:
//!
//! ```toml
//! name = "cloud"                 # its name in the bridge hello
//! listen = "0.0.0.0:4433"        # UDP (QUIC) address nodes connect to
//! certs = "certs"                # ca.pem, cloud.pem, cloud.key (switchyard certs init)
//! data_dir = "/var/lib/switchyard-cloud"   # the analytics store, cloud.db
//! workers = 2                    # call-party streams analysed at once
//!
//! [asr]                          # optional: the speech engine
//! engine = "pocketsphinx"        # the default; or "whisper" or "none"
//! # model = "models/tiny.en"     # whisper: required, the CTranslate2 model
//! #                              #   directory (scripts/whisper-model);
//! #                              # pocketsphinx: optional, Debian's by default
//! # threads = 1                  # whisper: threads per worker
//! # partial_every_ms = 2000      # whisper: partial results, each a full
//! #                              #   re-decode (default: finals only)
//! ```
//!
//! Relative paths are taken from the file's directory. Unknown keys are refused.
//! An engine the build lacks is accepted here and refused when the engine is
//! opened ([`crate::asr::open_engine`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::asr::EngineChoice;

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
    /// The speech engine and its model.
    pub asr: EngineChoice,
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
    #[serde(default)]
    asr: Option<AsrSection>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AsrSection {
    engine: EngineName,
    model: Option<PathBuf>,
    threads: Option<usize>,
    partial_every_ms: Option<u64>,
}

#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum EngineName {
    None,
    Pocketsphinx,
    Whisper,
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
        let asr = match file.asr {
            Some(section) => section.choice(base)?,
            None => EngineChoice::default(),
        };
        Ok(Self {
            name: file.name,
            listen: file.listen,
            certs: base.join(file.certs),
            data_dir: base.join(file.data_dir),
            workers: file.workers,
            asr,
        })
    }
}

impl AsrSection {
    /// The engine chosen, with `model` joined to `base`.
    fn choice(self, base: &Path) -> Result<EngineChoice, ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.to_owned(),
        };
        if self.engine != EngineName::Whisper {
            if self.threads.is_some() {
                return Err(invalid("asr.threads", "none unless engine = \"whisper\""));
            }
            if self.partial_every_ms.is_some() {
                return Err(invalid(
                    "asr.partial_every_ms",
                    "none unless engine = \"whisper\"",
                ));
            }
        }
        let model = self.model.map(|m| base.join(m));
        Ok(match self.engine {
            EngineName::None if model.is_some() => {
                return Err(invalid("asr.model", "no model with engine = \"none\""));
            }
            EngineName::None => EngineChoice::Off,
            EngineName::Pocketsphinx => EngineChoice::PocketSphinx { model },
            EngineName::Whisper => EngineChoice::Whisper {
                model: model.ok_or_else(|| {
                    invalid(
                        "asr.model",
                        "the Whisper model directory (scripts/whisper-model)",
                    )
                })?,
                threads: match self.threads {
                    None => 1,
                    Some(n @ 1..=64) => n,
                    Some(_) => return Err(invalid("asr.threads", "1 to 64")),
                },
                partial_every: match self.partial_every_ms {
                    None => None,
                    Some(ms @ 500..=30_000) => Some(Duration::from_millis(ms)),
                    Some(_) => return Err(invalid("asr.partial_every_ms", "500 to 30000")),
                },
            },
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

    const BASE: &str = "listen = \"127.0.0.1:1\"\ncerts = \"c\"\ndata_dir = \"d\"\n";

    fn asr(section: &str) -> Result<EngineChoice, ConfigError> {
        let text = format!("{BASE}[asr]\n{section}");
        CloudConfig::parse(&text, Path::new("/etc/sy/cloud.toml")).map(|c| c.asr)
    }

    #[test]
    fn the_speech_engine_is_chosen_in_the_asr_section() {
        let plain = CloudConfig::parse(BASE, Path::new("c.toml")).expect("valid");
        assert_eq!(plain.asr, EngineChoice::PocketSphinx { model: None });
        assert_eq!(
            asr("engine = \"none\"\n").expect("valid"),
            EngineChoice::Off
        );
        assert_eq!(
            asr("engine = \"pocketsphinx\"\nmodel = \"ps\"\n").expect("valid"),
            EngineChoice::PocketSphinx {
                model: Some(PathBuf::from("/etc/sy/ps"))
            }
        );
        assert_eq!(
            asr("engine = \"whisper\"\nmodel = \"/m/tiny.en\"\npartial_every_ms = 2000\n")
                .expect("valid"),
            EngineChoice::Whisper {
                model: PathBuf::from("/m/tiny.en"),
                threads: 1,
                partial_every: Some(Duration::from_secs(2)),
            }
        );
    }

    #[test]
    fn asr_mistakes_name_their_key() {
        for (section, key) in [
            ("engine = \"whisper\"\n", "asr.model"),
            (
                "engine = \"whisper\"\nmodel = \"m\"\nthreads = 0\n",
                "asr.threads",
            ),
            (
                "engine = \"whisper\"\nmodel = \"m\"\npartial_every_ms = 10\n",
                "asr.partial_every_ms",
            ),
            ("engine = \"pocketsphinx\"\nthreads = 2\n", "asr.threads"),
            ("engine = \"none\"\nmodel = \"m\"\n", "asr.model"),
        ] {
            let err = asr(section).expect_err(section);
            assert!(err.to_string().contains(key), "{section:?}: {err}");
        }
        let err = asr("engine = \"vosk\"\n").expect_err("unknown engine");
        assert!(err.to_string().contains("line 5"), "{err}");
        let err = asr("engine = \"whisper\"\nmodle = \"m\"\n").expect_err("unknown key");
        assert!(err.to_string().contains("modle"), "{err}");
    }
}
