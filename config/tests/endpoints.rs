//! `[ivr.endpoints]`: endpoints decode in file order with typed URLs, and each
//! mistake is reported at its line and column.

use std::path::{Path, PathBuf};

use config::{ConfigError, NodeConfig, ProblemKind, UrlScheme};

const ORIGIN: &str = "/etc/switchyard/switchyard.toml";

fn parse(text: &str) -> Result<NodeConfig, ConfigError> {
    NodeConfig::parse(text, Path::new(ORIGIN))
}

/// The one diagnostic `text` gives: its kind and display.
fn single(text: &str) -> (ProblemKind, String) {
    let err = match NodeConfig::parse(text, Path::new("switchyard.toml")) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    };
    match err.diagnostics() {
        [d] => (d.kind, d.to_string()),
        other => panic!("expected one diagnostic, got {other:?}"),
    }
}

#[test]
fn endpoints_decode_in_file_order_with_their_urls_files_and_credentials() {
    let text = "\
[ivr.endpoints.zeta]
url = \"https://crm.example.com/api/v2/\"
ca_file = \"tls/crm-ca.pem\"
authorization = \"Bearer s3cret\"

[ivr.endpoints.alpha]
url = \"http://10.0.0.9:8081\"
";
    let config = parse(text).unwrap_or_else(|e| panic!("{e}"));
    let [zeta, alpha] = config.ivr.endpoints.as_slice() else {
        panic!("{:?}", config.ivr.endpoints);
    };
    assert_eq!(zeta.name, "zeta");
    assert_eq!(zeta.url.scheme(), UrlScheme::Https);
    assert_eq!(zeta.url.host(), "crm.example.com");
    assert_eq!(zeta.url.port(), 443);
    assert_eq!(zeta.url.path(), "/api/v2");
    assert_eq!(
        zeta.ca_file,
        Some(PathBuf::from("/etc/switchyard/tls/crm-ca.pem"))
    );
    assert_eq!(
        zeta.authorization.as_ref().map(|c| c.expose()),
        Some("Bearer s3cret")
    );
    assert!(!format!("{config:?}").contains("s3cret"));
    assert_eq!(alpha.name, "alpha");
    assert_eq!(alpha.url.to_string(), "http://10.0.0.9:8081");
    assert_eq!(alpha.ca_file, None);
    assert_eq!(alpha.authorization, None);
}

#[test]
fn the_inline_form_decodes_like_the_table_form() {
    let inline = "[ivr]\nendpoints = { crm = { url = \"http://crm.local/api\" } }\n";
    let tables = "[ivr.endpoints.crm]\nurl = \"http://crm.local/api\"\n";
    let a = parse(inline).unwrap_or_else(|e| panic!("{e}"));
    let b = parse(tables).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.ivr.endpoints.len(), 1);
    assert_eq!(a, b);
}

#[test]
fn each_endpoint_mistake_is_reported_at_its_place() {
    use ProblemKind::*;
    let cases: &[(&str, ProblemKind, &str)] = &[
        (
            "[ivr.endpoints.crm]\nurl = \"https://crm.local\"\n",
            Inconsistent,
            "switchyard.toml:2:7: ivr.endpoints.crm.url: an https endpoint needs ca_file: the \
             PEM certificates that sign its server certificate (a system bundle such as \
             /etc/ssl/certs/ca-certificates.crt will do)",
        ),
        (
            "[ivr.endpoints.crm]\nurl = \"http://crm.local\"\nca_file = \"ca.pem\"\n",
            Inconsistent,
            "switchyard.toml:3:1: ivr.endpoints.crm.ca_file: is only used by https endpoints",
        ),
        (
            "[ivr.endpoints.crm]\nurl = \"ftp://crm.local\"\n",
            InvalidValue,
            "switchyard.toml:2:7: ivr.endpoints.crm.url: expected an http:// or https:// URL \
             (host, optional port and path; no query), found \"ftp://crm.local\"",
        ),
        (
            "[ivr.endpoints.crm]\nurl = 8080\n",
            WrongType,
            "switchyard.toml:2:7: ivr.endpoints.crm.url: expected an http:// or https:// URL \
             (host, optional port and path; no query), found 8080",
        ),
        (
            "[ivr]\nflows = \"f\"\n\n[ivr.endpoints.crm]\nca_file = \"ca.pem\"\n",
            InvalidValue,
            "switchyard.toml:4:16: ivr.endpoints.crm.url: every endpoint needs a url",
        ),
        (
            "[ivr.endpoints.crm]\nurl = \"http://crm.local\"\ntoken = \"x\"\n",
            UnknownKey,
            "switchyard.toml:3:1: unknown key `token` in [ivr.endpoints.crm], expected one of: \
             url, ca_file, authorization",
        ),
        (
            "[ivr.endpoints.\"crm api\"]\nurl = \"http://crm.local\"\n",
            InvalidValue,
            "switchyard.toml:1:16: ivr.endpoints: \"crm api\" is not an endpoint name \
             (1 to 64 of A-Z a-z 0-9 - _)",
        ),
        (
            "[ivr]\nendpoints = { crm = \"http://crm.local\" }\n",
            WrongType,
            "switchyard.toml:2:21: ivr.endpoints: expected a table of endpoint name = \
             { url = \"…\", … }, found \"http://crm.local\"",
        ),
        (
            "[ivr]\nendpoints = [\"crm\"]\n",
            WrongType,
            "switchyard.toml:2:13: ivr.endpoints: expected a table of endpoint name = \
             { url = \"…\", … }, found an array",
        ),
    ];
    for (text, kind, display) in cases {
        assert_eq!(single(text), (*kind, (*display).to_owned()), "{text}");
    }
}

#[test]
fn a_rejected_credential_is_not_quoted() {
    let text = "[ivr.endpoints.crm]\nurl = \"http://crm.local\"\nauthorization = \"Bearer s3cret\\r\\nX-Evil: 1\"\n";
    let (kind, display) = single(text);
    assert_eq!(kind, ProblemKind::InvalidValue);
    assert!(
        display.starts_with("switchyard.toml:3:17: ivr.endpoints.crm.authorization: expected"),
        "{display}"
    );
    assert!(!display.contains("s3cret"), "{display}");
}

#[test]
fn every_bad_endpoint_of_a_file_is_reported_in_file_order() {
    let text = "\
[ivr.endpoints.a]
url = \"gopher://a\"

[ivr.endpoints.b]
url = \"https://b\"
";
    let err = parse(text).err().unwrap_or_else(|| panic!("accepted"));
    let places: Vec<(usize, usize, &str)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column, d.key.as_str()))
        .collect();
    assert_eq!(
        places,
        [(2, 7, "ivr.endpoints.a.url"), (5, 7, "ivr.endpoints.b.url")]
    );
}
