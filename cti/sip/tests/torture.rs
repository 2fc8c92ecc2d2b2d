//! RFC 4475 and RFC 5118 torture messages against the parser: every message
//! gets an outcome the fixture manifest allows, and everything that parses
//! serialises back to a message that parses to the same value.

use std::path::Path;

use sip::message::{HeaderName, Message, parse};

struct Case {
    file: String,
    kind: String,
    validity: String,
    expect: Vec<String>,
}

fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let manifest = std::fs::read_to_string(dir.join("manifest.tsv")).expect("fixtures manifest");
    manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("file\t") && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Case {
                file: f[0].to_owned(),
                kind: f[3].to_owned(),
                validity: f[4].to_owned(),
                expect: f[5].split(',').map(str::to_owned).collect(),
            }
        })
        .collect()
}

fn without_length(mut m: Message) -> Message {
    let h = match &mut m {
        Message::Request(r) => &mut r.headers,
        Message::Response(r) => &mut r.headers,
    };
    h.remove(&HeaderName::ContentLength);
    m
}

/// Does a parser outcome fit one of the manifest's tokens?
fn allowed(expect: &[String], outcome: Result<(), Option<u16>>) -> bool {
    expect.iter().any(|t| match (t.as_str(), outcome) {
        ("any", _) => true,
        ("drop", Err(None)) => true,
        ("ok", Ok(())) => true,
        // A parsed request reaches the UAS, which answers codes like these.
        (code, Ok(())) if code != "400" && code != "drop" => true,
        (code, Err(Some(s))) => {
            code == s.to_string()
                || (code.ends_with("xx") && code.as_bytes()[0] - b'0' == (s / 100) as u8)
        }
        _ => false,
    })
}

#[test]
fn every_torture_message_gets_an_allowed_outcome() {
    let cases = cases();
    assert_eq!(cases.len(), 61, "49 RFC 4475 + 12 RFC 5118 messages");
    let mut failures = Vec::new();
    for case in &cases {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(&case.file);
        let bytes = std::fs::read(&path).expect("fixture readable");
        let parsed = parse(&bytes, false);
        let outcome = match (&parsed, case.kind.as_str()) {
            (Ok(Message::Request(_)), "req") => Ok(()),
            // A stray response is dropped; a valid one must still parse.
            (Ok(Message::Response(_)), "resp") => Err(None),
            (Err(_), "resp") if case.validity == "valid" => Err(Some(0)),
            (Ok(_), _) => Err(Some(0)),
            (Err(e), _) => Err(e.status),
        };
        if !allowed(&case.expect, outcome) {
            failures.push(format!(
                "{}: {:?} not in {:?}",
                case.file,
                parsed.as_ref().map(|_| ()).map_err(|e| e.to_string()),
                case.expect
            ));
        }
        if let Ok(msg) = parsed {
            let again = parse(&msg.to_bytes(), true).expect("serialised message parses");
            // The serialiser writes Content-Length last, from the body.
            assert_eq!(
                without_length(again),
                without_length(msg),
                "{} does not round-trip",
                case.file
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
