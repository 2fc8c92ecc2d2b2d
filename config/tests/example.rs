//! The documented example file parses, sets every key of the schema, shows the
//! true defaults, gives every key a `Default:` comment, and the `Example:`
//! values its comments suggest are valid.

use std::net::IpAddr;
use std::path::Path;

use config::{NodeConfig, SCHEMA, TlsIdentity};

const EXAMPLE: &str = include_str!("../examples/switchyard.toml");
const ORIGIN: &str = "/etc/switchyard/switchyard.toml";

/// Keys whose example value is not the default (their default is derived).
const DERIVED: &[&str] = &[
    "sip.tls_cert",
    "sip.tls_key",
    "sip.advertise",
    "media.advertise",
    "ivr.flows",
    "ivr.prompts",
    "bridge.certs",
    "dr.certs",
];

#[test]
fn the_example_parses() {
    if let Err(err) = NodeConfig::parse(EXAMPLE, Path::new(ORIGIN)) {
        panic!("{err}");
    }
}

#[test]
fn the_example_sets_every_key_of_the_schema() {
    let doc: toml::Table = toml::from_str(EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    let mut missing = Vec::new();
    for (section, keys) in SCHEMA {
        let table = doc.get(*section).and_then(toml::Value::as_table);
        for key in *keys {
            if table.is_none_or(|t| !t.contains_key(*key)) {
                missing.push(format!("{section}.{key}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "keys missing from the example: {missing:?}"
    );
    assert_eq!(
        doc.len(),
        SCHEMA.len(),
        "the example has sections the schema lacks"
    );
}

#[test]
fn the_example_values_are_the_defaults_except_derived_keys() {
    let example = NodeConfig::parse(EXAMPLE, Path::new(ORIGIN)).unwrap_or_else(|e| panic!("{e}"));
    let mut expected = NodeConfig::default();
    let advertised = IpAddr::from([203, 0, 113, 7]);
    expected.sip.advertise = advertised;
    expected.media.advertise = advertised;
    if let Some(tls) = expected.sip.tls.as_mut() {
        tls.identity = TlsIdentity::Files {
            cert: "/etc/switchyard/tls/node.crt".into(),
            key: "/etc/switchyard/tls/node.key".into(),
        };
    }
    assert_eq!(example, expected);
}

/// Each `key = value` line is preceded by a comment block with a `Default:`
/// line (keys written on consecutive lines share one block); outside
/// [`DERIVED`], that line starts with the value the example writes.
#[test]
fn every_key_has_a_default_comment_matching_its_value() {
    let mut section = String::new();
    let mut comments: Vec<&str> = Vec::new();
    let mut previous_was_key = false;
    let mut checked = 0;
    for line in EXAMPLE.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            comments.clear();
        } else if let Some(comment) = line.strip_prefix('#') {
            if previous_was_key {
                comments.clear();
            }
            comments.push(comment.trim());
        } else if let Some((key, value)) = line.split_once('=') {
            let dotted = format!("{section}.{}", key.trim());
            check_default(&dotted, value.trim(), &comments, previous_was_key);
            checked += 1;
        }
        previous_was_key = line.contains('=') && !line.starts_with('#');
    }
    let total: usize = SCHEMA.iter().map(|(_, keys)| keys.len()).sum();
    assert_eq!(checked, total);
}

fn check_default(dotted: &str, value: &str, comments: &[&str], shares_block: bool) {
    let default = comments.iter().find_map(|c| c.strip_prefix("Default: "));
    let Some(default) = default else {
        panic!("{dotted}: no `Default:` line in its comment");
    };
    if !DERIVED.contains(&dotted) && !shares_block {
        let rest = default.strip_prefix(value);
        assert!(
            rest.is_some_and(|r| r.starts_with(['.', ' '])),
            "{dotted}: example value {value} but comment says Default: {default}"
        );
    }
}

/// Each `# Example: key = value` comment line is a valid setting of a key of
/// its section that differs from the default.
#[test]
fn every_example_comment_is_a_valid_non_default_setting() {
    let mut section = "";
    let mut checked = 0;
    for line in EXAMPLE.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name;
        } else if let Some(setting) = line.strip_prefix("# Example: ") {
            let key = setting.split_once('=').map_or("", |(k, _)| k.trim());
            let known = SCHEMA
                .iter()
                .any(|(s, keys)| *s == section && keys.contains(&key));
            assert!(known, "[{section}] {setting}: not a key of the section");
            let text = format!("[{section}]\n{setting}\n");
            let config = NodeConfig::parse(&text, Path::new(ORIGIN))
                .unwrap_or_else(|e| panic!("[{section}] {setting}: {e}"));
            assert_ne!(config, NodeConfig::default(), "[{section}] {setting}");
            checked += 1;
        }
    }
    assert!(checked > 0, "the example has no `Example:` comments");
}

#[test]
fn the_example_trusts_no_source() {
    let example = NodeConfig::parse(EXAMPLE, Path::new(ORIGIN)).unwrap_or_else(|e| panic!("{e}"));
    assert!(example.auth.trusted.is_empty());
}
