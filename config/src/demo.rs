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

[http]
listen = "127.0.0.1"
port = {http_port}

[log]
level = "info"
"#
    )
}
