//! The configuration file the all-in-one demo writes for itself.

use std::path::Path;

/// The text of `DIR/switchyard.toml` for the demo: every listener on loopback,
/// SIP on `sip_port` (UDP and TCP) and TLS on `sip_port + 1` with a self-signed
/// certificate, the HTTP API on `http_port`, SQLite in `data_dir`.
///
/// The file is meant to live in `data_dir` itself. An absolute UTF-8 `data_dir`
/// is written as is; any other is written as `"."`, which names the file's own
/// directory when loaded. TLS is disabled (`tls_port = 0`) when `sip_port` is
/// 65535. Parsing the text back with `origin = data_dir/switchyard.toml` gives
/// the demo configuration; ports must be non-zero and distinct for it to load.
#[must_use]
pub fn demo_toml(data_dir: &Path, sip_port: u16, http_port: u16) -> String {
    let dir = match data_dir.to_str() {
        Some(dir) if data_dir.is_absolute() => toml::Value::String(dir.to_owned()).to_string(),
        _ => "\".\"".to_owned(),
    };
    let tls_port = sip_port.checked_add(1).unwrap_or(0);
    format!(
        r#"# Switchyard demo node: loopback only, embedded SQLite, self-signed TLS.
# Every key is documented in config/examples/switchyard.toml.

[node]
name = "switchyard-demo"
data_dir = {dir}

[sip]
listen = "127.0.0.1"
port = {sip_port}
tls_port = {tls_port}
domain = "127.0.0.1"

[auth]
# MD5 only, so that every softphone can register: baresip 1.0 refuses a
# registrar that also offers SHA-256. A production node offers SHA-256 first.
algorithms = ["MD5"]

[media]
bind = "127.0.0.1"

[store]
url = "sqlite://switchyard.db"

[ivr]
# The demo flow (flows/main.toml) answers 500; prompts in English and Spanish.
# 800 is the team's conference room (flows/huddle.toml).
flows = "flows"
prompts = "prompts"
numbers = {{ "500" = "main", "800" = "huddle" }}

[acd]
# The routing rule of the spec, for calls queued without a queue name.
attributes = {{ user_level = "string" }}
rules = '''
when user_level == 'VIP' -> assign_to_group('premium')
otherwise -> round_robin('sales')
'''

[[acd.queues]]
name = "premium"
strategy = "longest_idle"
ring_timeout_s = 15
wrap_up_s = 5
announce_first_s = 15
announce_period_s = 30

[[acd.queues]]
name = "sales"
strategy = "round_robin"
ring_timeout_s = 15
wrap_up_s = 5
announce_first_s = 15
announce_period_s = 30

[[acd.queues]]
name = "support"
strategy = "longest_idle"
ring_timeout_s = 15
wrap_up_s = 5
max_wait_s = 300
when_timed_out = "voicemail:support"
announce_first_s = 15
announce_period_s = 30
escalation = [{{ after_s = 60, drop_required = true }}]

[[acd.queues]]
name = "billing"
strategy = "skills_best_match"
ring_timeout_s = 15
wrap_up_s = 5
announce_first_s = 15
announce_period_s = 30

# Agents log in from their phones with *71 (ready), *72 (not ready), *70 (out).
[[acd.agents]]
id = "1005"
queues = {{ premium = 1, sales = 1 }}
skills = {{ en = 5, es = 3, sales = 4 }}

[[acd.agents]]
id = "1006"
queues = {{ support = 1, premium = 2 }}
skills = {{ en = 5, support = 4 }}

[[acd.agents]]
id = "1007"
queues = {{ billing = 1, support = 2 }}
skills = {{ en = 4, es = 5, billing = 4, support = 2 }}

[[acd.agents]]
id = "1008"
queues = {{ sales = 1, support = 1 }}
skills = {{ es = 5, en = 3, sales = 3, support = 3 }}

[http]
listen = "127.0.0.1"
port = {http_port}

[log]
level = "info"
"#
    )
}
