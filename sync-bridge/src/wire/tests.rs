use proptest::prelude::*;

use super::*;
use crate::classify::{Classifier, PseudonymKey, ResultBody, Sentiment, Speaker, Transcript};

fn item(key: u128, priority: Priority, kind: Kind, payload: &[u8]) -> Item {
    Item::from_parts(ItemKey::from_u128(key), priority, kind, payload.to_vec())
}

fn encode(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    frame.encode(&mut out).expect("test frames fit");
    out
}

fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, DecodeError> {
    let mut d = Decoder::new();
    let mut frames = Vec::new();
    let mut rest = bytes;
    loop {
        let n = d.feed(rest);
        rest = &rest[n..];
        while let Some(f) = d.next_frame()? {
            frames.push(f);
        }
        if rest.is_empty() {
            return Ok(frames);
        }
    }
}

#[test]
fn header_has_magic_version_type_flags_and_big_endian_length() {
    let bytes = encode(&Frame::Heartbeat(Heartbeat { seq: 300 }));
    // postcard varint of 300 is 0xac 0x02.
    assert_eq!(bytes, [MAGIC, VERSION, 6, 0, 0, 0, 0, 2, 0xac, 0x02]);
}

#[test]
fn frames_round_trip_in_one_buffer() {
    let frames = vec![
        Frame::Hello(Hello {
            min_version: 1,
            max_version: 3,
            node: NodeId::new("node-1").expect("valid id"),
        }),
        Frame::Item(item(7, Priority::History, Kind::CALL_RECORD, b"abc")),
        Frame::Ack(Ack {
            keys: vec![ItemKey::from_u128(7), ItemKey::from_u128(u128::MAX)],
        }),
        Frame::AudioChunk(item(9, Priority::LiveAudio, Kind::AUDIO_CHUNK, &[0; 320])),
        Frame::Heartbeat(Heartbeat { seq: 0 }),
    ];
    let mut bytes = Vec::new();
    for f in &frames {
        f.encode(&mut bytes).expect("fits");
    }
    assert_eq!(decode_all(&bytes), Ok(frames));
}

#[test]
fn result_frames_round_trip() {
    let c = Classifier::new(&PseudonymKey::from_bytes(&[1; 32]).expect("32 bytes"));
    let call = c.call_ref("cdr-1");
    let frames = [
        Frame::Result(AnalysisResult {
            key: ItemKey::from_u128(1),
            body: ResultBody::Transcript(Transcript::new(
                call,
                Speaker::Caller,
                (3, 9),
                "hello [name]".into(),
                0.9,
            )),
        }),
        Frame::Result(AnalysisResult {
            key: ItemKey::from_u128(2),
            body: ResultBody::Sentiment(Sentiment::new(call, Speaker::Agent, 12, -0.8)),
        }),
    ];
    for f in frames {
        assert_eq!(decode_all(&encode(&f)), Ok(vec![f]));
    }
}

#[test]
fn feeding_one_byte_at_a_time_yields_the_frame_only_at_the_end() {
    let frame = Frame::Item(item(
        1,
        Priority::ResultBearing,
        Kind::QUEUE_STATS,
        b"payload",
    ));
    let bytes = encode(&frame);
    let mut d = Decoder::new();
    for (i, b) in bytes.iter().enumerate() {
        assert_eq!(d.feed(std::slice::from_ref(b)), 1);
        let got = d.next_frame().expect("valid stream");
        assert_eq!(got.is_some(), i == bytes.len() - 1, "byte {i}");
    }
    assert_eq!(d.buffered(), 0);
}

#[test]
fn oversized_length_is_refused_from_the_header_alone() {
    let mut d = Decoder::with_max_payload(1000);
    let len = 1001u32.to_be_bytes();
    d.feed(&[MAGIC, VERSION, 2, 0, len[0], len[1], len[2], len[3]]);
    assert_eq!(
        d.next_frame(),
        Err(DecodeError::TooLarge {
            len: 1001,
            max: 1000
        })
    );
    // The error sticks.
    assert_eq!(
        d.next_frame(),
        Err(DecodeError::TooLarge {
            len: 1001,
            max: 1000
        })
    );
}

#[test]
fn decoder_never_takes_more_than_header_plus_max_payload() {
    let mut d = Decoder::with_max_payload(100);
    let len = 100u32.to_be_bytes();
    let mut input = vec![
        MAGIC,
        VERSION,
        99,
        FLAG_SKIPPABLE,
        len[0],
        len[1],
        len[2],
        len[3],
    ];
    input.extend([0u8; 500]);
    assert_eq!(d.feed(&input), HEADER_LEN + 100);
    assert_eq!(d.room(), 0);
    assert_eq!(d.feed(&input), 0);
    // The skippable frame goes, making room again.
    assert_eq!(d.next_frame(), Ok(None));
    assert_eq!(d.room(), HEADER_LEN + 100);
}

#[test]
fn bad_magic_version_and_type_are_typed_errors() {
    let good = encode(&Frame::Heartbeat(Heartbeat { seq: 1 }));
    let cases = [
        (0, 0x00, DecodeError::BadMagic(0)),
        (1, 9, DecodeError::UnsupportedVersion(9)),
        (2, 200, DecodeError::UnknownType(200)),
    ];
    for (at, value, want) in cases {
        let mut bytes = good.clone();
        bytes[at] = value;
        assert_eq!(decode_all(&bytes), Err(want));
    }
}

#[test]
fn unknown_skippable_frames_are_passed_over() {
    let mut bytes = vec![MAGIC, VERSION, 77, FLAG_SKIPPABLE, 0, 0, 0, 3, 1, 2, 3];
    bytes.extend(encode(&Frame::Heartbeat(Heartbeat { seq: 5 })));
    assert_eq!(
        decode_all(&bytes),
        Ok(vec![Frame::Heartbeat(Heartbeat { seq: 5 })])
    );
}

#[test]
fn trailing_bytes_in_a_payload_are_malformed() {
    let mut bytes = encode(&Frame::Heartbeat(Heartbeat { seq: 1 }));
    bytes[7] += 1;
    bytes.push(0);
    assert!(matches!(
        decode_all(&bytes),
        Err(DecodeError::Malformed { ty: 6, .. })
    ));
}

#[test]
fn invalid_node_id_in_hello_is_malformed() {
    let mut payload = Vec::new();
    postcard::to_io(&(1u16, 1u16, "bad id!"), &mut payload).expect("encodes");
    let mut bytes = vec![MAGIC, VERSION, 1, 0];
    bytes.extend(u32::try_from(payload.len()).expect("small").to_be_bytes());
    bytes.extend(payload);
    assert!(matches!(
        decode_all(&bytes),
        Err(DecodeError::Malformed { ty: 1, .. })
    ));
}

#[test]
fn audio_frame_refuses_a_record_item() {
    let frame = Frame::AudioChunk(item(1, Priority::History, Kind::CALL_RECORD, b"x"));
    let mut out = vec![1, 2, 3];
    assert!(matches!(frame.encode(&mut out), Err(EncodeError::NotAudio)));
    assert_eq!(
        out,
        [1, 2, 3],
        "a failed encode leaves the buffer as it was"
    );
}

#[test]
fn payload_over_the_maximum_is_refused_on_encode() {
    let frame = Frame::Item(item(
        1,
        Priority::History,
        Kind::CALL_RECORD,
        &vec![0; MAX_PAYLOAD],
    ));
    let mut out = Vec::new();
    assert!(matches!(
        frame.encode(&mut out),
        Err(EncodeError::TooLarge { .. })
    ));
    assert!(out.is_empty());
}

#[test]
fn version_negotiation_picks_the_highest_common_version() {
    let hello = |min, max| Hello {
        min_version: min,
        max_version: max,
        node: NodeId::new("n").expect("valid id"),
    };
    assert_eq!(hello(1, 3).negotiate(&hello(2, 5)), Some(3));
    assert_eq!(hello(2, 5).negotiate(&hello(1, 3)), Some(3));
    assert_eq!(hello(1, 1).negotiate(&hello(2, 2)), None);
}

#[test]
fn item_keys_and_kinds_have_stable_text_forms() {
    let key = ItemKey::from_u128(0xabc);
    assert_eq!(key.to_string(), format!("{:032x}", 0xabc));
    assert_eq!(ItemKey::parse_hex(&key.to_string()), Some(key));
    assert_eq!(ItemKey::parse_hex("abc"), None);
    assert_eq!(ItemKey::parse_hex(&"g".repeat(32)), None);
    assert_eq!(Kind::parse("call_record"), Some(Kind::CALL_RECORD));
    assert_eq!(
        Kind::parse(&Kind::AUDIO_CHUNK.to_string()),
        Some(Kind::AUDIO_CHUNK)
    );
    assert_eq!(Kind::parse("999").map(Kind::code), Some(999));
    assert_eq!(Kind::parse("nope"), None);
    for p in Priority::ALL {
        assert_eq!(Priority::from_rank(i64::from(p.rank())), Some(p));
    }
    assert_eq!(Priority::from_rank(3), None);
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    let key = any::<u128>();
    let payload = proptest::collection::vec(any::<u8>(), 0..600);
    prop_oneof![
        ("[a-zA-Z0-9._-]{1,64}", any::<u16>(), any::<u16>()).prop_map(|(n, a, b)| Frame::Hello(
            Hello {
                min_version: a,
                max_version: b,
                node: NodeId::new(&n).expect("regex matches the id shape"),
            }
        )),
        (key, 0..3usize, any::<u16>(), payload.clone()).prop_map(|(k, p, kind, body)| {
            let kind = Kind::parse(&kind.to_string()).expect("numeric kinds parse");
            Frame::Item(item(k, Priority::ALL[p], kind, &body))
        }),
        proptest::collection::vec(key, 0..50).prop_map(|keys| Frame::Ack(Ack {
            keys: keys.into_iter().map(ItemKey::from_u128).collect(),
        })),
        (key, payload).prop_map(|(k, body)| Frame::AudioChunk(item(
            k,
            Priority::LiveAudio,
            Kind::AUDIO_CHUNK,
            &body
        ))),
        any::<u64>().prop_map(|seq| Frame::Heartbeat(Heartbeat { seq })),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        chunk in 1..64usize,
        max in 0..2048usize,
    ) {
        let mut d = Decoder::with_max_payload(max);
        for piece in bytes.chunks(chunk) {
            let mut rest = piece;
            while !rest.is_empty() {
                let n = d.feed(rest);
                prop_assert!(d.buffered() <= HEADER_LEN + max);
                rest = &rest[n..];
                match d.next_frame() {
                    Ok(Some(_)) => {}
                    Ok(None) if n == 0 => prop_assert!(false, "full buffer without a frame"),
                    Ok(None) => {}
                    Err(_) => return Ok(()),
                }
            }
        }
    }

    #[test]
    fn valid_headers_with_random_payloads_never_panic(
        ty in 0..10u8,
        flags in any::<u8>(),
        payload in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut bytes = vec![MAGIC, VERSION, ty, flags];
        bytes.extend(u32::try_from(payload.len()).expect("small").to_be_bytes());
        bytes.extend(&payload);
        let _ = decode_all(&bytes);
    }

    #[test]
    fn encode_then_decode_round_trips(frames in proptest::collection::vec(arb_frame(), 1..8), chunk in 1..300usize) {
        let mut bytes = Vec::new();
        for f in &frames {
            f.encode(&mut bytes).expect("fits");
        }
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for piece in bytes.chunks(chunk) {
            prop_assert_eq!(d.feed(piece), piece.len());
            while let Some(f) = d.next_frame().expect("own frames decode") {
                got.push(f);
            }
        }
        prop_assert_eq!(got, frames);
    }
}
