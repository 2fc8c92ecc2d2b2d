//! Scenario parsing: the typed result of good files, and `LINE:COL` errors
//! pointing at the value at fault in bad ones.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::dist::{ArrivalKind, Distribution};

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(
        text,
        Path::new("s.toml"),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
}

/// The `line:col: message` of an error.
fn error(text: &str) -> (usize, usize, String) {
    match parse(text) {
        Err(ScenarioError::Invalid {
            line, col, message, ..
        }) => (line, col, message),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("parsed: {text}"),
    }
}

const FULL: &str = r#"
name = "full"
target = "127.0.0.1:5080"

[generator]
seed = 9
t1 = "100ms"

[[registrations]]
users = "0099-0101"
password = "pw{user}"
algorithm = "SHA-256"
rate = 50
arrival = "constant"

[agents]
extensions = ["1001", "1002"]
password = "secret"
answer_delay = { kind = "uniform", min = "1s", max = "3s" }
handle_time = { kind = "exponential", mean = "30s", max = "2m" }
wrap_up = "5s"
hangup = "caller"
codec = "pcma"
audio = "../media/tests/fixtures/speech-8k.wav"

[[calls]]
to = "1001-1002"
pick = "random"
from = "1006"
rate = 2.5
max_concurrent = 10
total = 100
hold = { kind = "fixed", value = "20s" }
media = false
digits = [{ at = "2s", keys = "1#", tone = "80ms" }]
"#;

#[test]
fn full_scenario_parses_to_typed_values() {
    let s = parse(FULL).unwrap();
    assert_eq!(s.name, "full");
    assert_eq!(s.target, Target::Addr("127.0.0.1:5080".parse().unwrap()));
    assert_eq!(
        (s.generator.seed, s.generator.t1),
        (9, Duration::from_millis(100))
    );
    let r = &s.registrations[0];
    let users: Vec<_> = r
        .accounts
        .iter()
        .map(|a| (a.user.as_str(), a.password.as_deref()))
        .collect();
    assert_eq!(
        users,
        [
            ("0099", Some("pw0099")),
            ("0100", Some("pw0100")),
            ("0101", Some("pw0101"))
        ]
    );
    assert_eq!(
        (r.algorithm, r.arrival, r.total, r.rate),
        (Algorithm::Sha256, ArrivalKind::Constant, 3, 50.0)
    );
    let a = s.agents.as_ref().unwrap();
    assert_eq!(a.accounts.len(), 2);
    assert!(a.register);
    assert_eq!(a.hangup, HangUp::Other);
    assert_eq!(
        a.answer_delay,
        Distribution::Uniform {
            min: Duration::from_secs(1),
            max: Duration::from_secs(3)
        }
    );
    assert_eq!(
        a.handle_time,
        Distribution::Exponential {
            mean: Duration::from_secs(30),
            max: Some(Duration::from_secs(120))
        }
    );
    let m = a.media.as_ref().unwrap();
    assert_eq!(m.codec, G711::Pcma);
    assert!(m.audio.len() > 8000, "the WAV was read");
    let c = &s.calls[0];
    assert_eq!(c.to, ["1001", "1002"]);
    assert_eq!(
        (c.pick, c.rate, c.max_concurrent, c.total),
        (Pick::Random, 2.5, 10, Some(100))
    );
    assert_eq!(c.hold, Distribution::Fixed(Duration::from_secs(20)));
    assert!(c.media.is_none());
    assert_eq!(c.from[0].user, "1006");
    assert_eq!(
        c.digits,
        [DigitPlan {
            at: Duration::from_secs(2),
            keys: "1#".into(),
            tone: Duration::from_millis(80),
            gap: Duration::from_millis(100)
        }]
    );
}

#[test]
fn defaults_fill_a_minimal_file() {
    let s = parse("target = \"self\"\n[agents]\nextensions = \"7\"\n[[calls]]\nto = \"7\"\nrate = 1\nduration = \"5s\"\n").unwrap();
    assert_eq!(s.target, Target::SelfLoop);
    let a = s.agents.unwrap();
    assert!(!a.register, "a self loop has no registrar");
    assert_eq!(a.busy_status, 486);
    let c = &s.calls[0];
    assert_eq!(
        (c.arrival, c.max_concurrent, c.hangup),
        (ArrivalKind::Poisson, u64::MAX, HangUp::This)
    );
    assert_eq!(c.from[0].user, "loadgen");
    assert!(
        c.media
            .as_ref()
            .is_some_and(|m| m.codec == G711::Pcmu && m.audio_name.contains("built-in"))
    );
}

#[test]
fn errors_point_at_the_value() {
    let base = "target = \"127.0.0.1:5060\"\n[[calls]]\nto = \"1\"\nrate = 1\ntotal = 1\n";
    let cases: [(&str, (usize, usize), &str); 9] = [
        ("target = \"nowhere\"\n", (1, 10), "not IP:PORT"),
        (&base.replace("rate = 1", "rate = 0"), (4, 8), "rate 0"),
        (
            &format!("{base}hold = \"5 parsecs\"\n"),
            (6, 8),
            "unknown unit",
        ),
        (
            &format!("{base}hold = {{ kind = \"gaussian\", mean = \"1s\" }}\n"),
            (6, 8),
            "kind `gaussian`",
        ),
        (
            &format!("{base}hold = {{ kind = \"uniform\", min = \"3s\", max = \"1s\" }}\n"),
            (6, 8),
            "max is below min",
        ),
        (
            &format!("{base}digits = [{{ at = \"1s\", keys = \"12x\" }}]\n"),
            (6, 31),
            "`x` is not a DTMF key",
        ),
        (&format!("{base}codec = \"G729\"\n"), (6, 9), "codec `G729`"),
        (
            &format!("{base}bogus = 1\n"),
            (6, 1),
            "unknown field `bogus`",
        ),
        (
            &base.replace("total = 1\n", ""),
            (2, 1),
            "needs `total` or `duration`",
        ),
    ];
    for (text, (line, col), wanted) in cases {
        let (l, c, message) = error(text);
        assert!(message.contains(wanted), "{text}\n=> {l}:{c}: {message}");
        assert_eq!((l, c), (line, col), "{text}\n=> {message}");
    }
}

#[test]
fn file_errors_name_the_file_and_position() {
    let text = "target = \"self\"\n[agents]\nextensions = \"1\"\naudio = \"no-such.wav\"\n[[calls]]\nto = \"1\"\nrate = 1\ntotal = 1\n";
    let e = parse(text).unwrap_err();
    let shown = e.to_string();
    assert!(shown.starts_with("s.toml:4:9: cannot read"), "{shown}");
    let e =
        parse("target = \"self\"\n[agents]\nextensions = \"1\"\nregister = true\n").unwrap_err();
    assert!(e.to_string().contains("cannot register"), "{e}");
    let e = parse("target = [1]\n").unwrap_err();
    assert!(e.to_string().starts_with("s.toml:1:10:"), "{e}");
}

#[test]
fn credentials_fill_missing_passwords_only() {
    let mut s = parse("target = \"127.0.0.1:5060\"\n[agents]\nextensions = \"1001-1002\"\n[[calls]]\nto = \"1001\"\nfrom = \"1003\"\npassword = \"mine\"\nrate = 1\ntotal = 1\n").unwrap();
    s.apply_credentials("# demo\n1001 aaa\n1002 bbb\n1003 ccc\n\nbroken-line\n");
    let a = s.agents.unwrap();
    assert_eq!(a.accounts[0].password.as_deref(), Some("aaa"));
    assert_eq!(a.accounts[1].password.as_deref(), Some("bbb"));
    assert_eq!(s.calls[0].from[0].password.as_deref(), Some("mine"));
}

#[test]
fn user_ranges_are_checked() {
    let (_, _, m) = error("target = \"self\"\n[agents]\nextensions = \"9-1\"\n");
    assert!(m.contains("must go up"), "{m}");
    let (l, c, m) = error("target = \"self\"\n[agents]\nextensions = [\"a b\"]\n");
    assert_eq!((l, c), (3, 14));
    assert!(m.contains("spaces"), "{m}");
}

#[test]
fn a_login_code_is_kept_and_checked() {
    let base = "target = \"127.0.0.1:5060\"\n[generator]\nduration = \"5s\"\n[agents]\nextensions = \"7\"\n";
    let none = parse(base).unwrap();
    assert_eq!(none.agents.unwrap().login, None);
    let s = parse(&format!("{base}login = \"*71\"\n")).unwrap();
    assert_eq!(s.agents.unwrap().login.as_deref(), Some("*71"));
    let (line, col, message) = error(&format!("{base}login = \"*7 1\"\n"));
    assert_eq!((line, col), (6, 9));
    assert!(message.contains("login"), "{message}");
}

#[test]
fn supervisors_take_an_api_address_and_credentials() {
    let base = "target = \"127.0.0.1:5060\"\n[[calls]]\nto = \"1\"\nrate = 1\ntotal = 1\n";
    assert!(parse(base).unwrap().supervisors.is_none());
    let s = parse(&format!(
        "supervisors = 3\n{base}[api]\naddress = \"127.0.0.1:8080\"\ntoken = \"sy_abc\"\nconnect_rate = 50\nlinger = \"2s\"\n"
    ))
    .unwrap();
    let sv = s.supervisors.unwrap();
    assert_eq!(
        (sv.clients, sv.api, sv.connect_rate),
        (3, "127.0.0.1:8080".parse().unwrap(), Some(50.0))
    );
    assert_eq!(
        sv.credentials,
        ApiCredentials::Tokens(vec!["sy_abc".into()])
    );
    assert_eq!(
        (sv.linger, sv.linger_max),
        (Duration::from_secs(2), Duration::from_secs(30))
    );
    assert!(
        !format!("{:?}", sv.credentials).contains("sy_abc"),
        "tokens are not printed"
    );

    let login = parse(&format!(
        "supervisors = 1\n{base}[api]\naddress = \"127.0.0.1:8080\"\nuser = \"sam\"\npassword = \"pw pw pw pw\"\n"
    ))
    .unwrap();
    assert_eq!(
        login.supervisors.unwrap().credentials,
        ApiCredentials::Login {
            user: "sam".into(),
            password: "pw pw pw pw".into()
        }
    );

    let file = std::env::temp_dir().join(format!("sy-tokens-{}.txt", std::process::id()));
    std::fs::write(&file, "# tokens\nsy_one\n\nsy_two\n").unwrap();
    let from_file = parse(&format!(
        "supervisors = 4\n{base}[api]\naddress = \"127.0.0.1:8080\"\ntokens_file = \"{}\"\n",
        file.display()
    ));
    let _ = std::fs::remove_file(&file);
    assert_eq!(
        from_file.unwrap().supervisors.unwrap().credentials,
        ApiCredentials::Tokens(vec!["sy_one".into(), "sy_two".into()])
    );
}

#[test]
fn supervisors_without_usable_credentials_are_refused_where_written() {
    let base = "target = \"127.0.0.1:5060\"\n[[calls]]\nto = \"1\"\nrate = 1\ntotal = 1\n";
    let api = "[api]\naddress = \"127.0.0.1:8080\"\n";
    let cases = [
        (
            format!("supervisors = 2\n{base}"),
            (1, 15),
            "need an [api] table",
        ),
        (
            format!("supervisors = 2\n{base}{api}"),
            (7, 1),
            "exactly one of",
        ),
        (
            format!("supervisors = 2\n{base}{api}token = \"a\"\nuser = \"b\"\n"),
            (7, 1),
            "exactly one of",
        ),
        (
            format!("supervisors = 2\n{base}{api}user = \"b\"\n"),
            (9, 8),
            "needs a password",
        ),
        (
            format!("supervisors = 2\n{base}{api}token = \"a b\"\n"),
            (9, 9),
            "printable ASCII",
        ),
        (
            format!("supervisors = 2\n{base}[api]\naddress = \"localhost\"\ntoken = \"a\"\n"),
            (8, 11),
            "not IP:PORT",
        ),
        (
            format!("supervisors = 2\n{base}{api}token = \"a\"\nconnect_rate = 0\n"),
            (10, 16),
            "connect_rate",
        ),
        (
            format!(
                "supervisors = 2\n{base}{api}token = \"a\"\nlinger = \"5s\"\nlinger_max = \"1s\"\n"
            ),
            (11, 14),
            "linger_max",
        ),
    ];
    for (text, (line, col), wanted) in cases {
        let (l, c, message) = error(&text);
        assert!(message.contains(wanted), "{text}\n=> {l}:{c}: {message}");
        assert_eq!((l, c), (line, col), "{text}\n=> {message}");
    }
}
