//! Scenario files: what load to offer, parsed from TOML and checked before
//! anything is sent.
//!
//! [`Scenario::load`] reads a file, [`Scenario::parse`] a string. Every
//! mistake is reported as `FILE:LINE:COL: message`, pointing at the value at
//! fault (an unknown key, a bad duration, a rate of zero, a WAV file that
//! does not play). Paths in the file (`audio`, `credentials_file`) are
//! relative to the file's own directory. The file format is documented in
//! `loadtest/README.md`; the types below are its checked form.

mod api;
mod build;
mod duration;
mod raw;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sip::auth::DigestAlgorithm;

use crate::dist::{ArrivalKind, Distribution};

pub use duration::parse_duration;

/// A checked scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name, used in the report.
    pub name: String,
    /// Where requests go.
    pub target: Target,
    /// The host part of the URIs we build (default: the target's IP).
    pub domain: Option<String>,
    /// How the generator itself runs.
    pub generator: Generator,
    /// Registration storms.
    pub registrations: Vec<RegistrationLoad>,
    /// Simulated agents (the UAS side), if any.
    pub agents: Option<AgentPool>,
    /// Inbound call workloads (the UAC side).
    pub calls: Vec<CallLoad>,
    /// Clients on the node's CTI event stream during the run, if any.
    pub supervisors: Option<SupervisorLoad>,
}

/// Supervisors attached to the node's event stream (`GET /api/v1/events`):
/// WebSocket clients connected before the first call and listening until
/// the run is over.
#[derive(Clone, Debug, PartialEq)]
pub struct SupervisorLoad {
    /// How many clients.
    pub clients: u64,
    /// The node's HTTP API.
    pub api: SocketAddr,
    /// What the clients authenticate with.
    pub credentials: ApiCredentials,
    /// WebSocket handshakes started per second, over all clients (`None`:
    /// all at once; a 429 is retried after its `Retry-After` either way).
    pub connect_rate: Option<f64>,
    /// After the last call ends, clients stop once no event has arrived at
    /// any of them for this long.
    pub linger: Duration,
    /// ... or after this long at most.
    pub linger_max: Duration,
}

/// How event-stream clients authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum ApiCredentials {
    /// Bearer tokens, handed to clients in turn (client `i` takes token
    /// `i % len`).
    Tokens(Vec<String>),
    /// A user name and password: one `POST /api/v1/login` before the run,
    /// and every client uses the session token it returns.
    Login {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens and passwords are secrets: never printed.
        match self {
            ApiCredentials::Tokens(t) => write!(f, "Tokens({} redacted)", t.len()),
            ApiCredentials::Login { user, .. } => write!(f, "Login({user}, password redacted)"),
        }
    }
}

/// Where the node under test listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A node's UDP SIP address.
    Addr(SocketAddr),
    /// The generator's own SIP socket: callers reach the simulated agents
    /// directly (a benchmark of the generator alone).
    SelfLoop,
}

/// Settings of the generator process.
#[derive(Clone, Debug)]
pub struct Generator {
    /// The address SIP and RTP sockets bind to and advertise.
    pub local_ip: IpAddr,
    /// SIP port (0: any free port).
    pub sip_port: u16,
    /// The shared RTP port (0: any free port).
    pub rtp_port: u16,
    /// Seed of every random choice (arrivals, durations, identifiers).
    pub seed: u64,
    /// RFC 3261 T1 of the generator's transactions.
    pub t1: Duration,
    /// A hard stop for the whole run, if any.
    pub duration: Option<Duration>,
    /// How long calls may keep running after the last arrival before the run
    /// ends anyway (they are then reported as unfinished).
    pub drain: Duration,
}

/// A SIP account: user name and password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// User name (also the extension number).
    pub user: String,
    /// Password, when known.
    pub password: Option<String>,
}

/// Digest algorithm of an account's credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// MD5.
    Md5,
    /// SHA-256.
    Sha256,
}

impl Algorithm {
    /// The `sip::auth` value.
    pub fn digest(self) -> DigestAlgorithm {
        match self {
            Algorithm::Md5 => DigestAlgorithm::Md5,
            Algorithm::Sha256 => DigestAlgorithm::Sha256,
        }
    }

    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }
}

/// A registration storm: accounts registering at a rate.
#[derive(Clone, Debug)]
pub struct RegistrationLoad {
    /// The accounts, used in order (cycled when `total` exceeds them).
    pub accounts: Vec<Account>,
    /// Registrations per second.
    pub rate: f64,
    /// How arrivals are spread.
    pub arrival: ArrivalKind,
    /// Which challenge to answer.
    pub algorithm: Algorithm,
    /// Expires asked for.
    pub expires: u32,
    /// Offset from the run's start.
    pub start: Duration,
    /// Registrations in all.
    pub total: u64,
}

/// Which side sends the BYE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HangUp {
    /// This side hangs up when its timer ends.
    This,
    /// This side waits for the other side's BYE.
    Other,
}

/// A G.711 law.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum G711 {
    /// µ-law, payload type 0.
    Pcmu,
    /// A-law, payload type 8.
    Pcma,
}

impl G711 {
    /// The SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            G711::Pcmu => "PCMU",
            G711::Pcma => "PCMA",
        }
    }
}

/// What a side sends as RTP.
#[derive(Clone, Debug)]
pub struct MediaSpec {
    /// The codec offered or accepted.
    pub codec: G711,
    /// The source audio: 8 kHz mono samples, looped.
    pub audio: Arc<[i16]>,
    /// Where the audio came from (for the report).
    pub audio_name: String,
}

/// Simulated agents: extensions that register and answer calls.
#[derive(Clone, Debug)]
pub struct AgentPool {
    /// One account per agent.
    pub accounts: Vec<Account>,
    /// Whether agents register with the target (false for a self loop).
    pub register: bool,
    /// Which challenge to answer.
    pub algorithm: Algorithm,
    /// Expires asked for (re-registered at 80 %).
    pub expires: u32,
    /// Delay from INVITE to 200 (180 is sent at once).
    pub answer_delay: Distribution,
    /// Talk time from answer to the agent's BYE.
    pub handle_time: Distribution,
    /// Pause after a call before the agent takes the next one.
    pub wrap_up: Distribution,
    /// Who sends the BYE.
    pub hangup: HangUp,
    /// The status an agent who is busy answers a new INVITE with.
    pub busy_status: u16,
    /// A feature code each agent dials once, after its first successful
    /// registration (or at the start when it does not register), to log in
    /// to the node's ACD; the call lasts until the node hangs up.
    pub login: Option<String>,
    /// RTP sent by agents; `None`: no SDP answer is refused, no RTP sent.
    pub media: Option<MediaSpec>,
}

/// A digit sequence sent at an offset from the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigitPlan {
    /// Offset from the 200 OK.
    pub at: Duration,
    /// DTMF characters (0-9, *, #, A-D).
    pub keys: String,
    /// Length of each press.
    pub tone: Duration,
    /// Silence between presses.
    pub gap: Duration,
}

/// How the callee of each call is chosen from the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// In turn.
    RoundRobin,
    /// At random.
    Random,
}

/// Inbound calls offered at a rate.
#[derive(Clone, Debug)]
pub struct CallLoad {
    /// Name, for the report.
    pub name: String,
    /// Numbers dialled.
    pub to: Vec<String>,
    /// How the number of each call is picked.
    pub pick: Pick,
    /// Calling accounts (From user, and digest credentials when challenged).
    pub from: Vec<Account>,
    /// Which challenge to answer.
    pub algorithm: Algorithm,
    /// Calls per second offered.
    pub rate: f64,
    /// How arrivals are spread.
    pub arrival: ArrivalKind,
    /// Most calls in progress at once; arrivals beyond it are blocked.
    pub max_concurrent: u64,
    /// Calls in all, if bounded.
    pub total: Option<u64>,
    /// Offered for this long, if bounded.
    pub duration: Option<Duration>,
    /// Offset from the run's start.
    pub start: Duration,
    /// Time from answer to the caller's BYE.
    pub hold: Distribution,
    /// Who sends the BYE.
    pub hangup: HangUp,
    /// A call still up this long after answer is hung up and counted as
    /// overrunning.
    pub max_call: Duration,
    /// RTP sent by callers; `None`: INVITE without SDP.
    pub media: Option<MediaSpec>,
    /// Digits sent after answer.
    pub digits: Vec<DigitPlan>,
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("{}:{line}:{col}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        col: usize,
        /// What is wrong.
        message: String,
    },
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Scenario::parse(&text, path, base)
    }

    /// Checks scenario `text`; `path` names it in errors and `base` is the
    /// directory relative paths start from.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Scenario, ScenarioError> {
        build::build(text, base).map_err(|e| {
            let (line, col) = line_col(text, e.offset);
            ScenarioError::Invalid {
                path: path.to_owned(),
                line,
                col,
                message: e.message,
            }
        })
    }

    /// Fills in passwords from `EXT PASSWORD` lines (the demo's
    /// credentials file) for every account that has none yet.
    pub fn apply_credentials(&mut self, text: &str) {
        let known = build::parse_credentials(text);
        let fill = |accounts: &mut Vec<Account>| {
            for a in accounts.iter_mut().filter(|a| a.password.is_none()) {
                a.password = known.get(&a.user).cloned();
            }
        };
        self.registrations
            .iter_mut()
            .for_each(|r| fill(&mut r.accounts));
        self.calls.iter_mut().for_each(|c| fill(&mut c.from));
        if let Some(agents) = self.agents.as_mut() {
            fill(&mut agents.accounts);
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests;
