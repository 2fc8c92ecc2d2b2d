//! Cross-file tests: RFC example values, client/server round trips, the
//! server's verdicts, and property tests of the parsers.

use std::cell::Cell;
use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

const REALM: &str = "sip.example.com";
const SECRET: [u8; 32] = [0x5a; 32];
const NOW: u64 = 1_750_000_000;
const SALT: [u8; 16] = [3; 16];
const URI: &str = "sip:registrar.example.com";

// RFC 7616 §3.9.1.
const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC7616_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

fn rfc7616_challenge(algorithm: &str) -> Challenge {
    let value = format!(
        "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={algorithm}, \
         nonce=\"{RFC7616_NONCE}\", opaque=\"{RFC7616_OPAQUE}\""
    );
    Challenge::parse(&value).unwrap()
}

const GET_INDEX: DigestRequest<'static> = DigestRequest {
    method: "GET",
    uri: "/dir/index.html",
    body: None,
};

#[test]
fn rfc_7616_sha256_example() {
    let creds = answer(
        &rfc7616_challenge("SHA-256"),
        "Mufasa",
        "Circle of Life",
        &GET_INDEX,
        RFC7616_CNONCE,
        1,
    )
    .unwrap();
    assert_eq!(
        creds.response,
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    assert_eq!(creds.algorithm, DigestAlgorithm::Sha256);
    assert_eq!(creds.opaque.as_deref(), Some(RFC7616_OPAQUE));
}

#[test]
fn rfc_7616_md5_example() {
    let creds = answer(
        &rfc7616_challenge("MD5"),
        "Mufasa",
        "Circle of Life",
        &GET_INDEX,
        RFC7616_CNONCE,
        1,
    )
    .unwrap();
    assert_eq!(creds.response, "8ca523f5e9506fed4657c9700eebdbec");
}

#[test]
fn rfc_7616_authorization_parses_and_serialises_back() {
    let value = format!(
        "Digest username=\"Mufasa\",\r\n    realm=\"http-auth@example.org\",\r\n    uri=\"/dir/index.html\",\r\n    \
         algorithm=SHA-256,\r\n    nonce=\"{RFC7616_NONCE}\",\r\n    nc=00000001,\r\n    cnonce=\"{RFC7616_CNONCE}\",\r\n    \
         qop=auth,\r\n    response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\",\r\n    \
         opaque=\"{RFC7616_OPAQUE}\""
    );
    let Ok(Credentials::Digest(parsed)) = Credentials::parse(&value) else {
        panic!("not digest")
    };
    let ours = answer(
        &rfc7616_challenge("SHA-256"),
        "Mufasa",
        "Circle of Life",
        &GET_INDEX,
        RFC7616_CNONCE,
        1,
    )
    .unwrap();
    assert_eq!(parsed, ours);
    assert_eq!(
        Credentials::parse(&ours.to_header_value().unwrap()),
        Ok(Credentials::Digest(parsed))
    );
}

#[test]
fn rfc_2617_md5_example() {
    let challenge = Challenge::parse(
        "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
    )
    .unwrap();
    let value = respond(
        &challenge,
        "Mufasa",
        "Circle Of Life",
        &GET_INDEX,
        "0a4f113b",
        1,
    )
    .unwrap();
    let Ok(Credentials::Digest(creds)) = Credentials::parse(&value) else {
        panic!("not digest: {value}")
    };
    assert_eq!(creds.response, "6629fae49393a05397450978507c4ef1");
    assert_eq!(creds.nc, Some(1));
    assert!(
        value.contains("nc=00000001") && value.contains("qop=auth"),
        "{value}"
    );
}

/// A server for `REALM` and its user table (alice / wonderland).
struct Fixture {
    server: DigestServer,
    users: HashMap<(DigestAlgorithm, String), String>,
    lookups: Cell<u32>,
}

impl Fixture {
    fn new(config: DigestConfig) -> Self {
        let mut users = HashMap::new();
        for alg in [DigestAlgorithm::Md5, DigestAlgorithm::Sha256] {
            users.insert(
                (alg, "alice".to_owned()),
                ha1(alg, "alice", REALM, "wonderland"),
            );
        }
        Fixture {
            server: DigestServer::new(config).unwrap(),
            users,
            lookups: Cell::new(0),
        }
    }

    fn standard() -> Self {
        Self::new(DigestConfig::new(REALM, SECRET))
    }

    /// The server's challenge for `alg`, parsed as a client would.
    fn challenge(&self, now: u64, alg: DigestAlgorithm) -> Challenge {
        let values = self.server.challenge(now, SALT, false);
        values
            .iter()
            .map(|v| Challenge::parse(v).unwrap())
            .find(|c| c.algorithm == alg)
            .unwrap()
    }

    fn verify_at(&mut self, now: u64, uri: &str, header: &str) -> Verdict {
        let Ok(Credentials::Digest(creds)) = Credentials::parse(header) else {
            panic!("not digest: {header}")
        };
        let users = &self.users;
        let lookups = &self.lookups;
        self.server
            .verify(now, "REGISTER", uri, &creds, |alg, user| {
                lookups.set(lookups.get() + 1);
                users.get(&(alg, user.to_owned())).cloned()
            })
    }
}

fn register(challenge: &Challenge, user: &str, password: &str, nc: u32) -> String {
    let request = DigestRequest {
        method: "REGISTER",
        uri: URI,
        body: None,
    };
    respond(challenge, user, password, &request, "0a4f113b", nc).unwrap()
}

fn accepted() -> Verdict {
    Verdict::Accepted {
        user: "alice".to_owned(),
    }
}

#[test]
fn challenges_one_per_algorithm_sha256_first() {
    let fx = Fixture::standard();
    let values = fx.server.challenge(NOW, SALT, false);
    assert_eq!(values.len(), 2);
    let parsed: Vec<Challenge> = values
        .iter()
        .map(|v| Challenge::parse(v).unwrap())
        .collect();
    assert_eq!(parsed[0].algorithm, DigestAlgorithm::Sha256);
    assert_eq!(parsed[1].algorithm, DigestAlgorithm::Md5);
    for c in &parsed {
        assert_eq!(
            (c.realm.as_str(), c.qop.as_slice(), c.stale),
            (REALM, &[Qop::Auth][..], false)
        );
    }
    assert!(values[0].contains("qop=\"auth\"") && values[0].contains("algorithm=SHA-256"));
    assert_eq!(
        parsed[0].nonce, parsed[1].nonce,
        "one nonce for the whole set"
    );
    let other_salt = Challenge::parse(&fx.server.challenge(NOW, [4; 16], false)[0]).unwrap();
    assert_ne!(other_salt.nonce, parsed[0].nonce);
    let stale = fx.server.challenge(NOW, SALT, true);
    assert!(stale.iter().all(|v| Challenge::parse(v).unwrap().stale));
}

#[test]
fn round_trip_accepts_both_algorithms() {
    for alg in [DigestAlgorithm::Sha256, DigestAlgorithm::Md5] {
        let mut fx = Fixture::standard();
        let header = register(&fx.challenge(NOW, alg), "alice", "wonderland", 1);
        assert_eq!(fx.verify_at(NOW + 5, URI, &header), accepted(), "{alg}");
    }
}

#[test]
fn wrong_password_is_rejected() {
    let mut fx = Fixture::standard();
    let header = register(
        &fx.challenge(NOW, DigestAlgorithm::Sha256),
        "alice",
        "looking-glass",
        1,
    );
    assert_eq!(
        fx.verify_at(NOW, URI, &header),
        Verdict::Rejected(RejectReason::WrongResponse)
    );
}

#[test]
fn unknown_user_looks_like_a_wrong_password() {
    let mut fx = Fixture::standard();
    let ch = fx.challenge(NOW, DigestAlgorithm::Sha256);
    let unknown = fx.verify_at(NOW, URI, &register(&ch, "mallory", "wonderland", 1));
    let wrong = fx.verify_at(NOW, URI, &register(&ch, "alice", "guess", 2));
    assert_eq!(unknown, Verdict::Rejected(RejectReason::UnknownUser));
    assert_eq!(
        std::mem::discriminant(&unknown),
        std::mem::discriminant(&wrong)
    );
    assert_eq!(fx.lookups.get(), 2, "both paths looked the user up once");
    // What the client sees next is the same challenge either way.
    assert_eq!(
        fx.server.challenge(NOW, SALT, false),
        fx.server.challenge(NOW, SALT, false)
    );
}

#[test]
fn stale_nonce_with_right_password_is_stale_with_wrong_password_rejected() {
    let mut fx = Fixture::standard();
    let ch = fx.challenge(NOW, DigestAlgorithm::Md5);
    assert_eq!(
        fx.verify_at(NOW + 300, URI, &register(&ch, "alice", "wonderland", 1)),
        accepted()
    );
    assert_eq!(
        fx.verify_at(NOW + 301, URI, &register(&ch, "alice", "wonderland", 2)),
        Verdict::Stale
    );
    assert_eq!(
        fx.verify_at(NOW + 301, URI, &register(&ch, "alice", "nope", 3)),
        Verdict::Rejected(RejectReason::WrongResponse)
    );
    // A nonce from the future (the clock stepped back) is not trusted either.
    assert_eq!(
        fx.verify_at(NOW - 1, URI, &register(&ch, "alice", "wonderland", 4)),
        Verdict::Stale
    );
}

#[test]
fn tampered_or_foreign_nonce_is_rejected() {
    let mut fx = Fixture::standard();
    let mut ch = fx.challenge(NOW, DigestAlgorithm::Sha256);
    // Push the timestamp far ahead: the client signs the altered nonce
    // correctly, only its authenticity fails.
    ch.nonce.replace_range(6..8, "ff");
    let header = register(&ch, "alice", "wonderland", 1);
    assert_eq!(
        fx.verify_at(NOW, URI, &header),
        Verdict::Rejected(RejectReason::ForgedNonce)
    );

    let other = Fixture::new(DigestConfig::new(REALM, [0x5b; 32]));
    let header = register(
        &other.challenge(NOW, DigestAlgorithm::Sha256),
        "alice",
        "wonderland",
        1,
    );
    assert_eq!(
        fx.verify_at(NOW, URI, &header),
        Verdict::Rejected(RejectReason::ForgedNonce)
    );
    assert_eq!(fx.lookups.get(), 0, "no user lookup for a forged nonce");
}

#[test]
fn replayed_nonce_count_is_rejected() {
    let mut fx = Fixture::standard();
    let ch = fx.challenge(NOW, DigestAlgorithm::Sha256);
    let first = register(&ch, "alice", "wonderland", 1);
    assert_eq!(fx.verify_at(NOW, URI, &first), accepted());
    assert_eq!(
        fx.verify_at(NOW + 1, URI, &first),
        Verdict::Rejected(RejectReason::Replayed)
    );
    assert_eq!(
        fx.verify_at(NOW + 2, URI, &register(&ch, "alice", "wonderland", 2)),
        accepted()
    );
    // A wrong guess with the next count does not burn that count.
    let guess = register(&ch, "alice", "guess", 3);
    assert_eq!(
        fx.verify_at(NOW + 3, URI, &guess),
        Verdict::Rejected(RejectReason::WrongResponse)
    );
    assert_eq!(
        fx.verify_at(NOW + 3, URI, &register(&ch, "alice", "wonderland", 3)),
        accepted()
    );
    assert_eq!(fx.server.tracked_nonces(), 1);
}

#[test]
fn wrong_uri_is_malformed_and_whitespace_is_trimmed() {
    let mut fx = Fixture::standard();
    let ch = fx.challenge(NOW, DigestAlgorithm::Sha256);
    let header = register(&ch, "alice", "wonderland", 1);
    assert_eq!(
        fx.verify_at(NOW, "sip:other.example.com", &header),
        Verdict::Malformed(MalformedReason::UriMismatch)
    );
    assert_eq!(fx.verify_at(NOW, &format!(" {URI}\t"), &header), accepted());
}

#[test]
fn wrong_realm_is_rejected() {
    let mut fx = Fixture::standard();
    let mut ch = fx.challenge(NOW, DigestAlgorithm::Sha256);
    ch.realm = "evil.example.com".to_owned();
    let header = register(&ch, "alice", "wonderland", 1);
    assert_eq!(
        fx.verify_at(NOW, URI, &header),
        Verdict::Rejected(RejectReason::WrongRealm)
    );
}

#[test]
fn algorithm_qop_and_opaque_must_match_the_offer() {
    let config = DigestConfig {
        algorithms: vec![DigestAlgorithm::Sha256],
        opaque: Some("tag-1".to_owned()),
        ..DigestConfig::new(REALM, SECRET)
    };
    let mut fx = Fixture::new(config);
    assert_eq!(fx.server.challenge(NOW, SALT, false).len(), 1);
    let mut ch = fx.challenge(NOW, DigestAlgorithm::Sha256);
    assert_eq!(ch.opaque.as_deref(), Some("tag-1"));
    assert_eq!(
        fx.verify_at(NOW, URI, &register(&ch, "alice", "wonderland", 1)),
        accepted()
    );
    ch.algorithm = DigestAlgorithm::Md5;
    let md5 = register(&ch, "alice", "wonderland", 2);
    assert_eq!(
        fx.verify_at(NOW, URI, &md5),
        Verdict::Rejected(RejectReason::AlgorithmNotOffered)
    );
    ch.algorithm = DigestAlgorithm::Sha256;
    ch.opaque = Some("tag-2".to_owned());
    let opaque = register(&ch, "alice", "wonderland", 3);
    assert_eq!(
        fx.verify_at(NOW, URI, &opaque),
        Verdict::Rejected(RejectReason::OpaqueMismatch)
    );
    ch.opaque = Some("tag-1".to_owned());
    ch.qop = vec![Qop::AuthInt];
    let request = DigestRequest {
        method: "REGISTER",
        uri: URI,
        body: Some(b""),
    };
    let int = respond(&ch, "alice", "wonderland", &request, "c", 4).unwrap();
    assert_eq!(
        fx.verify_at(NOW, URI, &int),
        Verdict::Rejected(RejectReason::QopNotOffered)
    );
}

#[test]
fn malformed_credentials() {
    let mut fx = Fixture::standard();
    let mut ch = fx.challenge(NOW, DigestAlgorithm::Md5);
    let good = register(&ch, "alice", "wonderland", 1);
    let cases = [
        (
            good.replace("nc=00000001", "nc=00000000"),
            MalformedReason::NonceCount,
        ),
        (
            good.replace(", nc=00000001", ""),
            MalformedReason::NonceCount,
        ),
        (
            good.replace("cnonce=\"0a4f113b\", ", ""),
            MalformedReason::ClientNonceMissing,
        ),
        (
            good.replace("response=\"", "response=\"0"),
            MalformedReason::ResponseFormat,
        ),
    ];
    for (header, reason) in cases {
        assert_eq!(
            fx.verify_at(NOW, URI, &header),
            Verdict::Malformed(reason),
            "{header}"
        );
    }
    ch.qop.clear();
    let rfc2069 = register(&ch, "alice", "wonderland", 1);
    assert_eq!(
        fx.verify_at(NOW, URI, &rfc2069),
        Verdict::Malformed(MalformedReason::QopMissing)
    );
    assert_eq!(fx.lookups.get(), 0);
}

#[test]
fn uppercase_hex_from_client_or_store_is_accepted() {
    let mut fx = Fixture::standard();
    for v in fx.users.values_mut() {
        *v = v.to_uppercase();
    }
    let ch = fx.challenge(NOW, DigestAlgorithm::Sha256);
    let Ok(Credentials::Digest(mut creds)) =
        Credentials::parse(&register(&ch, "alice", "wonderland", 1))
    else {
        panic!("not digest")
    };
    creds.response = creds.response.to_uppercase();
    assert_eq!(
        fx.verify_at(NOW, URI, &creds.to_header_value().unwrap()),
        accepted()
    );
}

#[test]
fn retired_nonces_are_stale_after_restart() {
    let mut fx = Fixture::standard();
    let ch = fx.challenge(NOW, DigestAlgorithm::Sha256);
    let captured = register(&ch, "alice", "wonderland", 1);
    assert_eq!(fx.verify_at(NOW, URI, &captured), accepted());
    // A restarted node knows the secret but not the counts.
    let mut restarted = Fixture::standard();
    restarted.server.retire_nonces_through(NOW + 10);
    assert_eq!(
        restarted.verify_at(NOW + 10, URI, &captured),
        Verdict::Stale
    );
    let fresh = register(
        &restarted.challenge(NOW + 11, DigestAlgorithm::Sha256),
        "alice",
        "wonderland",
        1,
    );
    assert_eq!(restarted.verify_at(NOW + 11, URI, &fresh), accepted());
}

#[test]
fn replay_state_is_bounded() {
    let config = DigestConfig {
        replay_capacity: 4,
        nonce_ttl: Duration::from_secs(3600),
        ..DigestConfig::new(REALM, SECRET)
    };
    let mut fx = Fixture::new(config);
    let first = register(
        &fx.challenge(NOW, DigestAlgorithm::Sha256),
        "alice",
        "wonderland",
        1,
    );
    assert_eq!(fx.verify_at(NOW, URI, &first), accepted());
    for t in 1..10 {
        let header = register(
            &fx.challenge(NOW + t, DigestAlgorithm::Sha256),
            "alice",
            "wonderland",
            1,
        );
        assert_eq!(fx.verify_at(NOW + t, URI, &header), accepted());
        assert!(fx.server.tracked_nonces() <= 4);
    }
    // The first nonce's counts were evicted: it is retired, not replayable.
    assert_eq!(fx.verify_at(NOW + 20, URI, &first), Verdict::Stale);
}

#[test]
fn server_config_is_checked() {
    let empty = DigestConfig {
        algorithms: vec![],
        ..DigestConfig::new(REALM, SECRET)
    };
    assert_eq!(
        DigestServer::new(empty).err(),
        Some(AuthError::NoAlgorithmOffered)
    );
    let bad_realm = DigestConfig::new("a\r\nb", SECRET);
    assert_eq!(
        DigestServer::new(bad_realm).err(),
        Some(AuthError::UnquotableValue("realm"))
    );
    let debug = format!("{:?}", DigestConfig::new(REALM, SECRET));
    assert!(
        debug.contains("<redacted>") && !debug.contains("90, 90"),
        "{debug}"
    );
}

#[test]
fn rfc_4475_unknown_scheme_gets_a_challenge() {
    // regaut01: `Authorization: NoOneKnowsThisScheme opaque-data=here`.
    assert_eq!(
        Credentials::parse("NoOneKnowsThisScheme opaque-data=here"),
        Ok(Credentials::Other("NoOneKnowsThisScheme".to_owned()))
    );
}

proptest! {
    #[test]
    fn parsers_never_panic(text in any::<String>()) {
        let _ = Challenge::parse(&text);
        let _ = Credentials::parse(&text);
    }

    #[test]
    fn parsers_never_panic_on_digest_like_text(
        body in proptest::string::string_regex("[a-zA-Z=,\" \\\\\t\r\n\u{7f}é-]{0,80}").unwrap()
    ) {
        let _ = Challenge::parse(&format!("Digest {body}"));
        let _ = Credentials::parse(&format!("Digest {body}"));
    }

    #[test]
    fn credentials_round_trip(
        username in "[ -~é]{0,20}",
        uri in "[ -~]{0,30}",
        cnonce in "[ -~]{0,12}",
        nc in any::<u32>(),
        sha in any::<bool>(),
    ) {
        let creds = DigestCredentials {
            username, realm: REALM.to_owned(), nonce: "n".to_owned(), uri,
            response: "00".repeat(16),
            algorithm: if sha { DigestAlgorithm::Sha256 } else { DigestAlgorithm::Md5 },
            cnonce: Some(cnonce), opaque: None, qop: Some(Qop::Auth), nc: Some(nc),
        };
        let text = creds.to_header_value().unwrap();
        prop_assert_eq!(Credentials::parse(&text), Ok(Credentials::Digest(creds)));
    }

    #[test]
    fn verify_never_panics(
        user in any::<String>(), uri in any::<String>(), nonce in any::<String>(),
        response in any::<String>(), nc in proptest::option::of(any::<u32>()), now in any::<u64>(),
    ) {
        let mut fx = Fixture::standard();
        let creds = DigestCredentials {
            username: user, realm: REALM.to_owned(), nonce, uri: uri.clone(), response,
            algorithm: DigestAlgorithm::Md5, cnonce: Some("c".to_owned()), opaque: None,
            qop: Some(Qop::Auth), nc,
        };
        let verdict = fx.server.verify(now, "INVITE", &uri, &creds, |_, _| None);
        let accepted = matches!(verdict, Verdict::Accepted { .. });
        prop_assert!(!accepted, "nobody is known, yet {:?}", verdict);
    }
}
