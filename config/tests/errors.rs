//! Table-driven tests of the loader's diagnostics: the exact `file:line:col:
//! message` text and the kind of problem, for each class of mistake.

use std::path::Path;

use config::{ConfigError, NodeConfig, ProblemKind};

struct Case {
    name: &'static str,
    text: &'static str,
    kind: ProblemKind,
    display: &'static str,
}

const SIP_KEYS: &str = "listen, port, tls_port, tls_cert, tls_key, advertise, domain, \
                        t1_ms, t2_ms, t4_ms, tcp_idle_timeout_s, recv_buffer_bytes";

fn cases() -> Vec<Case> {
    use ProblemKind::*;
    vec![
        Case {
            name: "unknown key in a section",
            text: "[sip]\nport = 5060\nprot = 5060\n",
            kind: UnknownKey,
            display: "switchyard.toml:3:1: unknown key `prot` in [sip], expected one of: \
                      listen, port, tls_port, tls_cert, tls_key, advertise, domain, t1_ms, \
                      t2_ms, t4_ms, tcp_idle_timeout_s, recv_buffer_bytes",
        },
        Case {
            name: "unknown section",
            text: "# comment\n[sipp]\nport = 1\n",
            kind: UnknownKey,
            display: "switchyard.toml:2:2: unknown key `sipp` at the top level, expected one \
                      of: node, sip, registrar, auth, media, store, calls, ivr, acd, http, bridge, \
                      dr, log, trunks",
        },
        Case {
            name: "a node that is both primary and standby",
            text: "[dr]\nstandby = \"10.0.0.9:4434\"\nlisten = \"0.0.0.0:4434\"\n",
            kind: Inconsistent,
            display: "switchyard.toml:3:1: dr.listen: a node is either a primary (`standby`) \
                      or a standby (`listen`), not both",
        },
        Case {
            name: "a standby's silence below the floor",
            text: "[dr]\nlisten = \"0.0.0.0:4434\"\nlost_after_ms = 10\n",
            kind: OutOfRange,
            display: "switchyard.toml:3:17: dr.lost_after_ms: expected an integer \
                      500..=600000 (milliseconds), found 10",
        },
        Case {
            name: "a bridge address without a port",
            text: "[bridge]\ncloud = \"10.0.0.5\"\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:9: bridge.cloud: expected a host:port address such as \
                      \"10.0.0.5:4433\", or \"\" for none, found \"10.0.0.5\"",
        },
        Case {
            name: "an alert threshold out of range",
            text: "[bridge]\ncloud = \"10.0.0.5:4433\"\nalert_below = -3\n",
            kind: InvalidValue,
            display: "switchyard.toml:3:15: bridge.alert_below: expected a number from -1 to 1, \
                      found -3",
        },
        Case {
            name: "a dialled number that is not one",
            text: "[ivr]\nnumbers = { \"500\" = \"main\", \"sales line\" = \"sales\" }\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:29: ivr.numbers: \"sales line\" is not a dialled number \
                      (1 to 32 of 0-9 * # +)",
        },
        Case {
            name: "a flow name that is not a file stem",
            text: "[ivr]\nnumbers = { \"500\" = \"../main\" }\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:21: ivr.numbers: \"../main\" is not a flow name \
                      (a file stem: A-Z a-z 0-9 - _)",
        },
        Case {
            name: "numbers that are not a table",
            text: "[ivr]\nnumbers = [\"500\"]\n",
            kind: WrongType,
            display: "switchyard.toml:2:11: ivr.numbers: expected a table of dialled number = \
                      \"flow name\", found an array",
        },
        Case {
            name: "string where an integer belongs",
            text: "[node]\nname = \"a\"\n\n[sip]\nlisten = \"0.0.0.0\"\n\n\n\n\n\n\nport = \"abc\"\n",
            kind: WrongType,
            display: "switchyard.toml:12:8: sip.port: expected an integer 1..=65535, found \"abc\"",
        },
        Case {
            name: "integer where a string belongs",
            text: "[log]\nlevel = 3\n",
            kind: WrongType,
            display: "switchyard.toml:2:9: log.level: expected a non-empty tracing filter \
                      directive such as \"info\", found 3",
        },
        Case {
            name: "string where a boolean belongs",
            text: "[calls]\nring_timeout_s = 30\nrecord = \"yes\"\n",
            kind: WrongType,
            display: "switchyard.toml:3:10: calls.record: expected a boolean (true or false), \
                      found \"yes\"",
        },
        Case {
            name: "section that is not a table",
            text: "sip = 5\n",
            kind: WrongType,
            display: "switchyard.toml:1:7: sip: expected a table [sip], found 5",
        },
        Case {
            name: "array of tables for a section",
            text: "[[media]]\nbind = \"0.0.0.0\"\n",
            kind: WrongType,
            display: "switchyard.toml:1:1: media: expected a table [media], found an array",
        },
        Case {
            name: "non-string algorithm",
            text: "[auth]\nalgorithms = [\"MD5\", 5]\n",
            kind: WrongType,
            display: "switchyard.toml:2:22: auth.algorithms: expected an array of \"SHA-256\" \
                      and/or \"MD5\", found 5",
        },
        Case {
            name: "port out of range",
            text: "[sip]\nport = 70000\n",
            kind: OutOfRange,
            display: "switchyard.toml:2:8: sip.port: expected an integer 1..=65535, found 70000",
        },
        Case {
            name: "duration out of range names its unit",
            text: "[sip]\nt1_ms = 0\n",
            kind: OutOfRange,
            display: "switchyard.toml:2:9: sip.t1_ms: expected an integer 1..=10000 \
                      (milliseconds), found 0",
        },
        Case {
            name: "integer beyond 64 bits",
            text: "[calls]\nring_timeout_s = 99999999999999999999999\n",
            kind: OutOfRange,
            display: "switchyard.toml:2:18: calls.ring_timeout_s: expected an integer \
                      1..=3600 (seconds), found 99999999999999999999999",
        },
        Case {
            name: "negative count",
            text: "[registrar]\nmax_contacts = -1\n",
            kind: OutOfRange,
            display: "switchyard.toml:2:16: registrar.max_contacts: expected an integer \
                      1..=1000, found -1",
        },
        Case {
            name: "malformed IP address",
            text: "[sip]\nlisten = \"localhost\"\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:10: sip.listen: expected an IP address such as \
                      \"0.0.0.0\" or \"::1\", found \"localhost\"",
        },
        Case {
            name: "unspecified advertise address",
            text: "[media]\nadvertise = \"0.0.0.0\"\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:13: media.advertise: must be an address peers can \
                      reach, found 0.0.0.0",
        },
        Case {
            name: "unknown digest algorithm",
            text: "[auth]\nalgorithms = [\"SHA-256\", \"SHA-512\"]\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:26: auth.algorithms: expected \"SHA-256\" or \"MD5\", \
                      found \"SHA-512\"",
        },
        Case {
            name: "repeated digest algorithm",
            text: "[auth]\nalgorithms = [\"MD5\", \"MD5\"]\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:22: auth.algorithms: lists \"MD5\" more than once",
        },
        Case {
            name: "empty algorithm list",
            text: "[auth]\nnonce_ttl_s = 30\nalgorithms = []\n",
            kind: InvalidValue,
            display: "switchyard.toml:3:1: auth.algorithms: must name at least one \
                      algorithm, found []",
        },
        Case {
            name: "trusted that is not an array",
            text: "[auth]\ntrusted = \"127.0.0.1\"\n",
            kind: WrongType,
            display: "switchyard.toml:2:11: auth.trusted: expected an array of IP addresses \
                      or CIDR prefixes such as \"10.0.0.0/8\", found \"127.0.0.1\"",
        },
        Case {
            name: "non-string trusted source",
            text: "[auth]\ntrusted = [\"127.0.0.1\", 10]\n",
            kind: WrongType,
            display: "switchyard.toml:2:25: auth.trusted: expected an array of IP addresses \
                      or CIDR prefixes such as \"10.0.0.0/8\", found 10",
        },
        Case {
            name: "trusted source that is not an address",
            text: "[auth]\ntrusted = [\"10.0.0.0/8\", \"localhost\"]\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:26: auth.trusted: expected an IP address or CIDR \
                      prefix such as \"10.0.0.0/8\", found \"localhost\"",
        },
        Case {
            name: "IPv4 prefix longer than 32",
            text: "[auth]\ntrusted = [\n  \"127.0.0.1\",\n  \"10.0.0.0/33\",\n]\n",
            kind: InvalidValue,
            display: "switchyard.toml:4:3: auth.trusted: expected a prefix length 0..=32 \
                      after the `/`, found \"10.0.0.0/33\"",
        },
        Case {
            name: "IPv6 prefix longer than 128",
            text: "[auth]\ntrusted = [\"2001:db8::/129\"]\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:12: auth.trusted: expected a prefix length 0..=128 \
                      after the `/`, found \"2001:db8::/129\"",
        },
        Case {
            name: "prefix that is not a number",
            text: "auth.trusted = [\"10.0.0.0/x\"]\n",
            kind: InvalidValue,
            display: "switchyard.toml:1:17: auth.trusted: expected a prefix length 0..=32 \
                      after the `/`, found \"10.0.0.0/x\"",
        },
        Case {
            name: "IPv4 prefix with host bits set",
            text: "[auth]\ntrusted = [\"10.0.0.1/8\"]\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:12: auth.trusted: must have no host bits set after \
                      the prefix length (the network is 10.0.0.0/8), found \"10.0.0.1/8\"",
        },
        Case {
            name: "IPv6 prefix with host bits set",
            text: "[auth]\ntrusted = [\"2001:db8::1/32\"]\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:12: auth.trusted: must have no host bits set after \
                      the prefix length (the network is 2001:db8::/32), found \
                      \"2001:db8::1/32\"",
        },
        Case {
            name: "odd rtp_port_min",
            text: "[media]\nrtp_port_min = 20001\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:1: media.rtp_port_min: must be even (RTP takes even \
                      ports, RTCP the next odd one), found 20001",
        },
        Case {
            name: "store url with an unknown scheme",
            text: "[store]\nurl = \"mysql://db\"\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:7: store.url: expected \"sqlite://PATH\" (PATH \
                      relative to node.data_dir) or \"postgres://…\", found \"mysql://db\"",
        },
        Case {
            name: "node name with a space",
            text: "[node]\nname = \"switch yard\"\n",
            kind: InvalidValue,
            display: "switchyard.toml:2:8: node.name: expected 1 to 64 characters from A-Z \
                      a-z 0-9 - . _, found \"switch yard\"",
        },
        Case {
            name: "t1 above t2, t1 written",
            text: "[sip]\nt1_ms = 5000\n",
            kind: Inconsistent,
            display: "switchyard.toml:2:1: sip.t1_ms: must be at most sip.t2_ms (4000), \
                      found 5000",
        },
        Case {
            name: "t1 above t2, only t2 written",
            text: "[sip]\n    t2_ms = 100\n",
            kind: Inconsistent,
            display: "switchyard.toml:2:5: sip.t2_ms: must be at least sip.t1_ms (500), \
                      found 100",
        },
        Case {
            name: "rtp_port_min not below rtp_port_max",
            text: "[media]\nrtp_port_max = 20000\n",
            kind: Inconsistent,
            display: "switchyard.toml:2:1: media.rtp_port_max: must be greater than \
                      media.rtp_port_min (20000), found 20000",
        },
        Case {
            name: "rtp_port_min above rtp_port_max, both written",
            text: "[media]\nrtp_port_max = 10000\nrtp_port_min = 10002\n",
            kind: Inconsistent,
            display: "switchyard.toml:3:1: media.rtp_port_min: must be less than \
                      media.rtp_port_max (10000), found 10002",
        },
        Case {
            name: "min_expires above max_expires",
            text: "[registrar]\nmax_expires_s = 30\nmin_expires_s = 60\n",
            kind: Inconsistent,
            display: "switchyard.toml:3:1: registrar.min_expires_s: must be at most \
                      registrar.max_expires_s (30), found 60",
        },
        Case {
            name: "default_expires above max_expires",
            text: "[registrar]\ndefault_expires_s = 9000\n",
            kind: Inconsistent,
            display: "switchyard.toml:2:1: registrar.default_expires_s: must be at most \
                      registrar.max_expires_s (7200), found 9000",
        },
        Case {
            name: "tls_port equal to port, tls_port written",
            text: "[sip]\ntls_port = 5060\n",
            kind: Inconsistent,
            display: "switchyard.toml:2:1: sip.tls_port: must be different from sip.port \
                      (5060), found 5060",
        },
        Case {
            name: "port equal to the default tls_port",
            text: "[sip]\nport = 5061\n",
            kind: Inconsistent,
            display: "switchyard.toml:2:1: sip.port: must be different from sip.tls_port \
                      (5061), found 5061",
        },
        Case {
            name: "tls_cert without tls_key",
            text: "[sip]\ntls_cert = \"node.crt\"\n",
            kind: Inconsistent,
            display: "switchyard.toml:2:1: sip.tls_cert: needs sip.tls_key as well (set \
                      neither for a self-signed certificate)",
        },
        Case {
            name: "http port on a SIP port",
            text: "[http]\nport = 5060\n",
            kind: Inconsistent,
            display: "switchyard.toml:2:1: http.port: must be different from sip.port \
                      (5060), found 5060",
        },
        Case {
            name: "grpc port on the http port",
            text: "[http]\nport = 9000\ngrpc_port = 9000\n",
            kind: Inconsistent,
            display: "switchyard.toml:3:1: http.grpc_port: must be different from http.port \
                      (9000), found 9000",
        },
        Case {
            name: "grpc port on the SIP TLS port",
            text: "[http]\ngrpc_port = 5061\n",
            kind: Inconsistent,
            display: "switchyard.toml:2:1: http.grpc_port: must be different from \
                      sip.tls_port (5061), found 5061",
        },
        Case {
            name: "grpc port out of range",
            text: "[http]\ngrpc_port = 70000\n",
            kind: OutOfRange,
            display: "switchyard.toml:2:13: http.grpc_port: expected an integer 0..=65535, \
                      found 70000",
        },
    ]
}

fn single(text: &str) -> (ProblemKind, String, ConfigError) {
    let err = match NodeConfig::parse(text, Path::new("switchyard.toml")) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(err) => err,
    };
    let [d] = err.diagnostics() else {
        panic!("expected exactly one diagnostic, got: {err}");
    };
    (d.kind, err.to_string(), err)
}

#[test]
fn each_mistake_is_reported_at_its_line_and_column() {
    for case in cases() {
        let (kind, display, _) = single(case.text);
        assert_eq!(kind, case.kind, "{}: {display}", case.name);
        assert_eq!(display, case.display, "case: {}", case.name);
    }
}

#[test]
fn unknown_keys_in_other_table_forms_list_the_section_keys() {
    let (_, dotted, _) = single("sip.prot = 1\n");
    assert_eq!(
        dotted,
        format!("switchyard.toml:1:5: unknown key `prot` in [sip], expected one of: {SIP_KEYS}")
    );
    let (_, nested, _) = single("[sip.extra]\nx = 1\n");
    assert!(
        nested.starts_with("switchyard.toml:1:6: unknown key `extra` in [sip]"),
        "{nested}"
    );
    let (_, inline, _) = single("sip = { port = 5070, prot = 1 }\n");
    assert!(
        inline.starts_with("switchyard.toml:1:22: unknown key `prot` in [sip]"),
        "{inline}"
    );
}

#[test]
fn diagnostics_carry_the_dotted_key() {
    let (_, _, err) = single("[media]\nrtp_port_min = 20001\n");
    assert_eq!(err.diagnostics()[0].key, "media.rtp_port_min");
    assert_eq!(
        (err.diagnostics()[0].line, err.diagnostics()[0].column),
        (2, 1)
    );
}

#[test]
fn syntax_errors_are_located() {
    let (kind, display, _) = single("[sip]\nport = \n");
    assert_eq!(kind, ProblemKind::Syntax);
    assert!(
        display.starts_with("switchyard.toml:2:8: invalid TOML: "),
        "{display}"
    );
    assert!(!display.contains('\n'), "{display}");
    let (_, duplicate, _) = single("[sip]\nport = 1\nport = 2\n");
    assert!(
        duplicate.starts_with("switchyard.toml:3:1: invalid TOML: "),
        "{duplicate}"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let (_, display, _) = single("log = { level = \"ö\", x = 1 }\n");
    assert!(display.starts_with("switchyard.toml:1:22:"), "{display}");
    let (_, display, _) = single("[log]\nlevel = \"é\" # é\n\"ü\" = 1\n");
    assert!(display.starts_with("switchyard.toml:3:1:"), "{display}");
}

#[test]
fn all_problems_are_reported_in_file_order() {
    let text = "[sip]\nt1_ms = 5000\nport = \"x\"\n[media]\nbind = 1\n[nope]\n";
    let err = NodeConfig::parse(text, Path::new("n.toml")).unwrap_err();
    let located: Vec<(usize, usize, ProblemKind)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column, d.kind))
        .collect();
    assert_eq!(
        located,
        vec![
            (2, 1, ProblemKind::Inconsistent),
            (3, 8, ProblemKind::WrongType),
            (5, 8, ProblemKind::WrongType),
            (6, 2, ProblemKind::UnknownKey),
        ]
    );
    let lines: Vec<String> = err.diagnostics().iter().map(ToString::to_string).collect();
    assert_eq!(err.to_string(), lines.join("\n"));
}

#[test]
fn every_rejected_trusted_source_is_reported_at_its_element() {
    let text =
        "[auth]\ntrusted = [\n  \"10.0.0.1/8\",\n  \"::1\",\n  \"fe80::1%eth0\",\n  true,\n]\n";
    let err = NodeConfig::parse(text, Path::new("n.toml")).unwrap_err();
    let located: Vec<(usize, usize, ProblemKind, &str)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column, d.kind, d.key.as_str()))
        .collect();
    assert_eq!(
        located,
        vec![
            (3, 3, ProblemKind::InvalidValue, "auth.trusted"),
            (5, 3, ProblemKind::InvalidValue, "auth.trusted"),
            (6, 3, ProblemKind::WrongType, "auth.trusted"),
        ]
    );
}

#[test]
fn the_file_is_named_as_given() {
    let err = NodeConfig::parse("x = 1\n", Path::new("/etc/switchyard/node.toml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/etc/switchyard/node.toml:1:1: unknown key `x` at the top level"),
        "{err}"
    );
}

#[test]
fn a_rejected_value_does_not_also_fail_cross_key_checks() {
    for text in [
        "[sip]\nt1_ms = 5000\nt2_ms = \"x\"\n",
        "[sip]\ntls_cert = \"a.crt\"\ntls_key = 5\n",
        "[sip]\nport = 5061\ntls_port = -1\n",
        "[registrar]\nmin_expires_s = 60\nmax_expires_s = 0\n",
        "[http]\nport = 5060\n[sip]\nport = 99999\n",
        "[media]\nrtp_port_min = 30001\n",
    ] {
        let (kind, display, _) = single(text);
        assert_ne!(kind, ProblemKind::Inconsistent, "{display}");
    }
}
