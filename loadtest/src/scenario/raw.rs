//! The scenario file as TOML writes it, before checking. Values that can be
//! wrong in ways TOML does not see keep their position (`Spanned`).

use serde::Deserialize;
use toml::Spanned;

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) name: Option<String>,
    pub(super) target: S<String>,
    pub(super) domain: Option<String>,
    pub(super) generator: Option<RawGenerator>,
    #[serde(default)]
    pub(super) registrations: Vec<S<RawRegistrations>>,
    pub(super) agents: Option<S<RawAgents>>,
    #[serde(default)]
    pub(super) calls: Vec<S<RawCalls>>,
    pub(super) supervisors: Option<S<u64>>,
    pub(super) api: Option<S<RawApi>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApi {
    pub(super) address: S<String>,
    pub(super) token: Option<S<String>>,
    pub(super) tokens_file: Option<S<String>>,
    pub(super) user: Option<S<String>>,
    pub(super) password: Option<String>,
    pub(super) connect_rate: Option<S<f64>>,
    pub(super) linger: Option<S<String>>,
    pub(super) linger_max: Option<S<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGenerator {
    pub(super) local_ip: Option<S<String>>,
    pub(super) sip_port: Option<u16>,
    pub(super) rtp_port: Option<u16>,
    pub(super) seed: Option<u64>,
    pub(super) t1: Option<S<String>>,
    pub(super) duration: Option<S<String>>,
    pub(super) drain: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRegistrations {
    pub(super) users: S<RawUsers>,
    pub(super) password: Option<String>,
    pub(super) credentials_file: Option<S<String>>,
    pub(super) algorithm: Option<S<String>>,
    pub(super) rate: S<f64>,
    pub(super) arrival: Option<S<String>>,
    pub(super) expires: Option<u32>,
    pub(super) start: Option<S<String>>,
    pub(super) total: Option<S<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAgents {
    pub(super) extensions: S<RawUsers>,
    pub(super) password: Option<String>,
    pub(super) credentials_file: Option<S<String>>,
    pub(super) algorithm: Option<S<String>>,
    pub(super) register: Option<bool>,
    pub(super) expires: Option<u32>,
    pub(super) answer_delay: Option<S<RawDist>>,
    pub(super) handle_time: Option<S<RawDist>>,
    pub(super) wrap_up: Option<S<RawDist>>,
    pub(super) hangup: Option<S<String>>,
    pub(super) busy_status: Option<S<u16>>,
    pub(super) login: Option<S<String>>,
    pub(super) media: Option<bool>,
    pub(super) codec: Option<S<String>>,
    pub(super) audio: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCalls {
    pub(super) name: Option<String>,
    pub(super) to: S<RawUsers>,
    pub(super) pick: Option<S<String>>,
    pub(super) from: Option<S<RawUsers>>,
    pub(super) password: Option<String>,
    pub(super) credentials_file: Option<S<String>>,
    pub(super) algorithm: Option<S<String>>,
    pub(super) rate: S<f64>,
    pub(super) arrival: Option<S<String>>,
    pub(super) max_concurrent: Option<S<u64>>,
    pub(super) total: Option<S<u64>>,
    pub(super) duration: Option<S<String>>,
    pub(super) start: Option<S<String>>,
    pub(super) hold: Option<S<RawDist>>,
    pub(super) hangup: Option<S<String>>,
    pub(super) max_call: Option<S<String>>,
    pub(super) media: Option<bool>,
    pub(super) codec: Option<S<String>>,
    pub(super) audio: Option<S<String>>,
    #[serde(default)]
    pub(super) digits: Vec<S<RawDigits>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDigits {
    pub(super) at: S<String>,
    pub(super) keys: S<String>,
    pub(super) tone: Option<S<String>>,
    pub(super) gap: Option<S<String>>,
}

/// `"1001"`, `"1001-1005"`, or a list of either.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawUsers {
    One(String),
    Many(Vec<String>),
}

/// `"2s"` (fixed) or `{ kind = "…", … }`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawDist {
    Fixed(String),
    Table(RawDistTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDistTable {
    pub(super) kind: String,
    pub(super) value: Option<String>,
    pub(super) mean: Option<String>,
    pub(super) min: Option<String>,
    pub(super) max: Option<String>,
}
