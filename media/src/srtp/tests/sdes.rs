//! `a=crypto` parsing, writing, generation and the SDES offer/answer.

use super::super::{
    CryptoAttribute, KeyParams, Lifetime, MasterKey, Mki, SdesError, SrtpContext, SrtpSuite,
    accept_answer, answer_offer,
};
use super::{XorShift, hex, reference_master};

/// RFC 4568 §9.1's example key, with lifetime and MKI.
const RFC4568_LINE: &str =
    "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32";

/// The libsrtp reference key (RFC 3711 §B.3) as an SDES line, base64 by an independent
/// encoder.
const REFERENCE_LINE: &str =
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm";

#[test]
fn rfc4568_example_line_parses_into_typed_fields_and_writes_back() {
    let attribute: CryptoAttribute = RFC4568_LINE.parse().expect("parse");
    assert_eq!(attribute.tag, 1);
    assert_eq!(attribute.suite, SrtpSuite::AesCm128HmacSha1_80);
    assert_eq!(
        attribute.key.master.to_bytes()[..],
        hex("3d2d6e40255e7821426a75667239293f2c2335685c603d265d7b71695051")[..]
    );
    assert_eq!(attribute.key.lifetime, Some(Lifetime::PowerOfTwo(20)));
    assert_eq!(attribute.key.lifetime.map(Lifetime::packets), Some(1 << 20));
    assert_eq!(
        attribute.key.mki,
        Some(Mki {
            value: 1,
            length: 32
        })
    );
    assert!(attribute.extra_keys.is_empty() && attribute.session_params.is_empty());
    assert_eq!(attribute.to_string(), RFC4568_LINE);
}

#[test]
fn libsrtp_style_line_keys_a_context_that_opens_the_reference_packet() {
    let attribute = CryptoAttribute::parse(REFERENCE_LINE).expect("parse");
    assert_eq!(attribute.key.master, reference_master());
    let master = &attribute.key.master;
    let mut context = SrtpContext::new(attribute.suite, master.key(), master.salt());
    let mut packet =
        hex("800F1234DECAFBADCAFEBABE 4E55DC4CE79978D88CA4D215949D2402 B78D6ACC99EA179B8DBB");
    context.unprotect(&mut packet).expect("unprotect");
    assert_eq!(packet[12..], [0xAB; 16]);
}

#[test]
fn generated_lines_round_trip() {
    let mut rng = XorShift(42);
    for (tag, suite) in [
        (1, SrtpSuite::AesCm128HmacSha1_80),
        (2, SrtpSuite::AesCm128HmacSha1_32),
    ] {
        let random = rng.bytes::<30>();
        let attribute = CryptoAttribute::generate(tag, suite, random);
        assert_eq!(attribute.key.master.to_bytes(), random);
        let line = attribute.to_string();
        assert!(
            line.starts_with(&format!("{tag} {} inline:", suite.name())),
            "{line}"
        );
        assert_eq!(
            line.len(),
            format!("{tag} {} inline:", suite.name()).len() + 40
        );
        assert_eq!(CryptoAttribute::parse(&line), Ok(attribute));
    }
}

#[test]
fn every_optional_part_round_trips() {
    let line = "7 AES_CM_128_HMAC_SHA1_32 \
                inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1048576|5:4;\
                inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm|2^31|6:4 KDR=1 UNENCRYPTED_SRTCP";
    let attribute = CryptoAttribute::parse(line).expect("parse");
    assert_eq!(attribute.key.lifetime, Some(Lifetime::Packets(1_048_576)));
    assert_eq!(attribute.extra_keys.len(), 1);
    assert_eq!(
        attribute.extra_keys[0].mki,
        Some(Mki {
            value: 6,
            length: 4
        })
    );
    assert_eq!(attribute.session_params, ["KDR=1", "UNENCRYPTED_SRTCP"]);
    assert_eq!(attribute.to_string(), line);
    // MKI without lifetime.
    let key = KeyParams::parse("inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm|3:2").expect("key");
    assert_eq!(
        (key.lifetime, key.mki),
        (
            None,
            Some(Mki {
                value: 3,
                length: 2
            })
        )
    );
}

#[test]
fn prefixes_and_padding_are_tolerated() {
    let bare = CryptoAttribute::parse(&REFERENCE_LINE["a=crypto:".len()..]).expect("bare");
    assert_eq!(CryptoAttribute::parse(REFERENCE_LINE), Ok(bare.clone()));
    assert_eq!(
        CryptoAttribute::parse(&REFERENCE_LINE[2..]),
        Ok(bare.clone())
    );
    assert_eq!(
        CryptoAttribute::parse(&format!("  {REFERENCE_LINE}\r\n")),
        Ok(bare)
    );
}

#[test]
fn malformed_lines_get_typed_errors() {
    let key = "inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm";
    let suite = "AES_CM_128_HMAC_SHA1_80";
    let cases: Vec<(String, SdesError)> = vec![
        (String::new(), SdesError::MissingField("the tag")),
        ("1".into(), SdesError::MissingField("the crypto suite")),
        (
            format!("1 {suite}"),
            SdesError::MissingField("the key parameters"),
        ),
        (format!("x1 {suite} {key}"), SdesError::Tag("x1".into())),
        (
            format!("1234567890 {suite} {key}"),
            SdesError::Tag("1234567890".into()),
        ),
        (
            format!("1 AES_256_CM_HMAC_SHA1_80 {key}"),
            SdesError::UnsupportedSuite("AES_256_CM_HMAC_SHA1_80".into()),
        ),
        (
            format!("1 {suite} uri:http://x"),
            SdesError::KeyMethod("uri:http://x".into()),
        ),
        (format!("1 {suite} inline:!!!!"), SdesError::Base64),
        (
            format!("1 {suite} inline:AAAAAAAAAAAAAAAAAAAAAA=="),
            SdesError::KeyLength(16),
        ),
        (
            format!("1 {suite} {key}|2^64"),
            SdesError::Lifetime("2^64".into()),
        ),
        (
            format!("1 {suite} {key}|0"),
            SdesError::Lifetime("0".into()),
        ),
        (
            format!("1 {suite} {key}|2^x"),
            SdesError::Lifetime("2^x".into()),
        ),
        (format!("1 {suite} {key}|1:0"), SdesError::Mki("1:0".into())),
        (
            format!("1 {suite} {key}|1:129"),
            SdesError::Mki("1:129".into()),
        ),
        (format!("1 {suite} {key}|1:4|2^20"), SdesError::KeyFields),
        (format!("1 {suite} {key}|2^20|2^20"), SdesError::KeyFields),
        (
            format!("1 {suite} {key};"),
            SdesError::KeyMethod(String::new()),
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(CryptoAttribute::parse(&line), Err(expected), "{line:?}");
    }
}

#[test]
fn answer_picks_the_first_supported_line_and_keeps_its_tag() {
    let offer_key = CryptoAttribute::generate(3, SrtpSuite::AesCm128HmacSha1_32, [3; 30]);
    let offered = [
        "1 AES_256_CM_HMAC_SHA1_80 inline:AAAA".to_owned(),
        "2 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4"
            .to_owned(),
        offer_key.to_string(),
        "4 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm".to_owned(),
    ];
    let answer = answer_offer(&offered, [7; 30]).expect("an answer");
    assert_eq!(
        answer.attribute.tag, 3,
        "the MKI line is skipped, tag 3 is next"
    );
    assert_eq!(answer.attribute.suite, SrtpSuite::AesCm128HmacSha1_32);
    assert_eq!(answer.attribute.key.master, MasterKey::from_bytes([7; 30]));
    assert_eq!(answer.keys.suite, SrtpSuite::AesCm128HmacSha1_32);
    assert_eq!(answer.keys.local, MasterKey::from_bytes([7; 30]));
    assert_eq!(answer.keys.remote, offer_key.key.master);
}

#[test]
fn nothing_supported_is_refused() {
    let offered = [
        "1 AEAD_AES_128_GCM inline:AAAA",
        "2 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm UNENCRYPTED_SRTP",
        "garbage",
    ];
    assert_eq!(
        answer_offer(offered, [0; 30]),
        Err(SdesError::NoAcceptableOffer { offered: 3 })
    );
    assert_eq!(
        answer_offer(Vec::<String>::new(), [0; 30]),
        Err(SdesError::NoAcceptableOffer { offered: 0 })
    );
}

#[test]
fn offer_answer_keys_media_both_ways() {
    let mut rng = XorShift(7);
    let our_offer: Vec<CryptoAttribute> = SrtpSuite::ALL
        .into_iter()
        .zip(1..)
        .map(|(suite, tag)| CryptoAttribute::generate(tag, suite, rng.bytes()))
        .collect();
    let lines: Vec<String> = our_offer.iter().map(ToString::to_string).collect();
    let theirs = answer_offer(&lines, rng.bytes()).expect("answer");
    let ours = accept_answer(&our_offer, &theirs.attribute.to_string()).expect("accept");
    assert_eq!(ours.suite, SrtpSuite::AesCm128HmacSha1_80);
    assert_eq!(
        (&ours.local, &ours.remote),
        (&theirs.keys.remote, &theirs.keys.local)
    );

    let plain = super::rtp(1, 99, &[1, 2, 3, 4]);
    let mut packet = plain.clone();
    ours.outbound().protect(&mut packet).expect("protect");
    theirs
        .keys
        .inbound()
        .unprotect(&mut packet)
        .expect("they open ours");
    assert_eq!(packet, plain);
    theirs
        .keys
        .outbound()
        .protect(&mut packet)
        .expect("protect");
    ours.inbound()
        .unprotect(&mut packet)
        .expect("we open theirs");
    assert_eq!(packet, plain);
    let mut crossed = plain.clone();
    ours.outbound().protect(&mut crossed).expect("protect");
    assert_eq!(
        ours.inbound().unprotect(&mut crossed),
        Err(crate::srtp::SrtpError::Authentication),
        "our own packets do not open under the peer's key"
    );
}

#[test]
fn answers_that_do_not_match_the_offer_are_refused() {
    let offered = [
        CryptoAttribute::generate(1, SrtpSuite::AesCm128HmacSha1_80, [1; 30]),
        CryptoAttribute::generate(2, SrtpSuite::AesCm128HmacSha1_32, [2; 30]),
    ];
    let answer = |tag, suite| CryptoAttribute::generate(tag, suite, [9; 30]).to_string();
    assert_eq!(
        accept_answer(&offered, &answer(5, SrtpSuite::AesCm128HmacSha1_80)),
        Err(SdesError::UnknownTag(5))
    );
    assert_eq!(
        accept_answer(&offered, &answer(2, SrtpSuite::AesCm128HmacSha1_80)),
        Err(SdesError::SuiteMismatch {
            offered: "AES_CM_128_HMAC_SHA1_32",
            answered: "AES_CM_128_HMAC_SHA1_80"
        })
    );
    let with_mki = format!("{}|1:4", answer(1, SrtpSuite::AesCm128HmacSha1_80));
    assert_eq!(
        accept_answer(&offered, &with_mki),
        Err(SdesError::Unsupported("an MKI"))
    );
    let keys = accept_answer(&offered, &answer(2, SrtpSuite::AesCm128HmacSha1_32)).expect("ok");
    assert_eq!(keys.local, MasterKey::from_bytes([2; 30]));
    assert_eq!(keys.remote, MasterKey::from_bytes([9; 30]));
}
