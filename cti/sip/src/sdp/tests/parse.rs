//! Parser and serialiser: real-world bodies, tolerance, and bad input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::samples::{self, crlf};
use crate::sdp::{
    AddrType, Address, Attribute, Bandwidth, Connection, Crypto, Direction, Limits, LineError,
    MediaKind, Proto, Pt, Rtcp, Sdp, SdpError,
};

fn parse(text: &str) -> Sdp {
    match Sdp::parse(&crlf(text)) {
        Ok(sdp) => sdp,
        Err(error) => panic!("sample does not parse: {error}"),
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> Address {
    Address::Ip(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
}

fn names(sdp: &Sdp) -> Vec<(u8, String, u32, u16)> {
    sdp.media[0]
        .payloads()
        .into_iter()
        .map(|p| (p.pt.0, p.name, p.clock_rate, p.channels))
        .collect()
}

#[test]
fn canonical_samples_serialise_back_byte_for_byte() {
    let canonical = [
        samples::DESK_PHONE,
        samples::BARESIP,
        samples::SIPP_UAC,
        samples::WEBRTC,
        samples::OPUS_AVP,
        samples::IPV6,
        samples::MULTI_STREAM,
    ];
    for text in canonical {
        let sdp = parse(text);
        assert_eq!(
            String::from_utf8_lossy(&sdp.to_bytes()),
            String::from_utf8_lossy(&crlf(text))
        );
        assert_eq!(Sdp::parse(&sdp.to_bytes()), Ok(sdp));
    }
}

#[test]
fn desk_phone_offer_is_typed() {
    let sdp = parse(samples::DESK_PHONE);
    assert_eq!(sdp.origin.username, "-");
    assert_eq!(sdp.origin.session_id, "20038");
    assert_eq!(sdp.origin.session_version, 20038);
    assert_eq!(sdp.origin.address, v4(192, 0, 2, 10));
    assert_eq!(sdp.session_name, "SDP data");
    assert_eq!(
        sdp.connection,
        Some(Connection::ip(Ipv4Addr::new(192, 0, 2, 10).into()))
    );
    let audio = &sdp.media[0];
    assert_eq!(
        (audio.kind.clone(), audio.port, audio.proto.clone()),
        (MediaKind::Audio, 11780, Proto::RtpAvp)
    );
    assert_eq!(audio.formats, ["9", "0", "8", "18", "101"]);
    assert_eq!(audio.ptime(), Some(20));
    assert_eq!(audio.direction(), Some(Direction::SendRecv));
    let payloads = audio.payloads();
    assert_eq!(payloads[3].fmtp.as_deref(), Some("annexb=no"));
    assert_eq!(payloads[4].name, "telephone-event");
    assert_eq!(payloads[4].fmtp.as_deref(), Some("0-15"));
}

#[test]
fn baresip_offer_keeps_unknown_attributes_in_order() {
    let sdp = parse(samples::BARESIP);
    assert_eq!(
        sdp.attributes,
        [Attribute::Other {
            name: "tool".into(),
            value: Some("baresip 3.10.1".into())
        }]
    );
    let audio = &sdp.media[0];
    assert_eq!(
        audio.bandwidths,
        [Bandwidth {
            kind: "AS".into(),
            value: 77
        }]
    );
    assert_eq!(names(&sdp)[0], (96, "opus".into(), 48000, 2));
    assert_eq!(
        audio.rtcp(),
        Some(&Rtcp {
            port: 10735,
            address: None
        })
    );
    let others: Vec<&str> = audio
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::Other { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(others, ["rtcp-rsize", "label"]);
}

#[test]
fn sipp_uac_body_resolves_its_single_codec() {
    let sdp = parse(samples::SIPP_UAC);
    assert_eq!(names(&sdp), [(0, "PCMU".to_owned(), 8000, 1)]);
    assert_eq!(sdp.direction_of(&sdp.media[0]), Direction::SendRecv);
}

#[test]
fn webrtc_offer_types_rtcp_mux_and_keeps_ice_verbatim() {
    let sdp = parse(samples::WEBRTC);
    assert_eq!(sdp.connection, None);
    assert_eq!(
        sdp.attributes[2],
        Attribute::Other {
            name: "msid-semantic".into(),
            value: Some(" WMS stream1".into())
        }
    );
    let audio = &sdp.media[0];
    assert_eq!(audio.proto, Proto::UdpTlsRtpSavpf);
    assert!(audio.rtcp_mux());
    assert_eq!(
        audio.rtcp(),
        Some(&Rtcp {
            port: 9,
            address: Some(v4(0, 0, 0, 0))
        })
    );
    assert_eq!(
        sdp.connection_of(audio).map(|c| c.address.clone()),
        Some(v4(0, 0, 0, 0))
    );
    let fingerprint = audio.attributes.iter().find_map(|a| match a {
        Attribute::Other { name, value } if name == "fingerprint" => value.as_deref(),
        _ => None,
    });
    assert!(fingerprint.is_some_and(|f| f.starts_with("sha-256 4A:AD:")));
    assert_eq!(names(&sdp).len(), 8);
}

#[test]
fn ipv6_offers_parse_with_their_address_type() {
    let sdp = parse(samples::IPV6);
    let ip: Ipv6Addr = "2001:db8::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
    assert_eq!(sdp.origin.address, Address::Ip(ip.into()));
    assert_eq!(sdp.session_name, "");
    assert_eq!(
        sdp.connection.as_ref().map(|c| c.address.addrtype()),
        Some(AddrType::Ip6)
    );
    let mapped = samples::IPV6.replace("c=IN IP6 2001:db8::1", "c=IN IP6 ::ffff:192.0.2.5");
    let sdp = parse(&mapped);
    let address = sdp.connection.as_ref().map(|c| c.address.clone());
    assert_eq!(address.as_ref().map(Address::addrtype), Some(AddrType::Ip6));
    assert!(sdp.to_string().contains("c=IN IP6 ::ffff:192.0.2.5\r\n"));
}

#[test]
fn crypto_lines_are_typed() {
    let sdp = parse(samples::MULTI_STREAM);
    let crypto: Vec<&Crypto> = sdp.media[0].crypto().collect();
    assert_eq!(crypto.len(), 1);
    assert_eq!(crypto[0].tag, 1);
    assert_eq!(crypto[0].suite, "AES_CM_128_HMAC_SHA1_80");
    assert!(crypto[0].key_params.starts_with("inline:PS1uQ"));
    assert!(crypto[0].key_params.ends_with("|2^20|1:32"));
    assert_eq!(crypto[0].session_params, ["UNENCRYPTED_SRTCP"]);
    assert_eq!(
        sdp.media[2].connection.as_ref().map(|c| c.address.clone()),
        Some(v4(198, 51, 100, 8))
    );
}

#[test]
fn lf_line_ends_and_trailing_blank_lines_are_accepted() {
    let mut text = samples::SIPP_UAC.to_owned();
    text.push_str("\n\n");
    let lf = Sdp::parse(text.as_bytes());
    assert_eq!(lf, Ok(parse(samples::SIPP_UAC)));
    let trailing_spaces = samples::SIPP_UAC.replace("t=0 0\n", "t=0 0  \n");
    assert_eq!(Sdp::parse(trailing_spaces.as_bytes()), lf);
}

#[test]
fn tolerated_oddities_parse_to_canonical_values() {
    let text = "v=0\no=- 1 1 in ip4 host.example.com\ns=x\nt=0 0\na=recvonly\nc=IN IP4 192.0.2.1/127/2\n\
                m=AUDIO 4000/2 rtp/avp 0\na=sendrecv:odd\na=fmtp:t38 x\na=ptime: 30\n";
    let sdp = parse(text);
    assert_eq!(
        sdp.origin.address,
        Address::Fqdn {
            addrtype: AddrType::Ip4,
            name: "host.example.com".into()
        }
    );
    assert_eq!(
        sdp.connection.as_ref().map(|c| (c.ttl, c.count)),
        Some((Some(127), Some(2)))
    );
    assert_eq!(sdp.session_direction(), Some(Direction::RecvOnly));
    let audio = &sdp.media[0];
    assert_eq!(
        (audio.kind.clone(), audio.port_count, audio.proto.clone()),
        (MediaKind::Audio, Some(2), Proto::RtpAvp)
    );
    assert_eq!(
        audio.attributes[0],
        Attribute::Other {
            name: "sendrecv".into(),
            value: Some("odd".into())
        }
    );
    assert_eq!(
        audio.attributes[1],
        Attribute::Other {
            name: "fmtp".into(),
            value: Some("t38 x".into())
        }
    );
    assert_eq!(audio.ptime(), Some(30));
    assert_eq!(sdp.direction_of(audio), Direction::RecvOnly);
    assert_eq!(Sdp::parse(&sdp.to_bytes()), Ok(sdp));
}

#[test]
fn missing_timing_reads_as_unbounded_session() {
    let sdp = parse(&samples::SIPP_UAC.replace("t=0 0\n", ""));
    assert_eq!(sdp.times.len(), 1);
    assert_eq!((sdp.times[0].start, sdp.times[0].stop), (0, 0));
    assert!(sdp.to_string().contains("\r\nt=0 0\r\n"));
}

#[test]
fn disabled_stream_needs_neither_formats_nor_connection() {
    let sdp = parse("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nm=video 0 RTP/AVP\n");
    assert_eq!(sdp.media[0].port, 0);
    assert!(sdp.media[0].formats.is_empty());
    assert_eq!(Sdp::parse(&sdp.to_bytes()), Ok(sdp));
}

#[test]
fn repeat_times_attach_to_their_timing() {
    let sdp = parse(
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=3034423619 3042462419\nr=7d 1h 0 25h\nt=0 0\n",
    );
    assert_eq!(sdp.times[0].repeats, ["7d 1h 0 25h"]);
    assert!(sdp.times[1].repeats.is_empty());
}

#[test]
fn non_utf8_text_is_replaced_not_rejected() {
    let mut body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=Caf".to_vec();
    body.extend_from_slice(&[0xe9, b'\r', b'\n']);
    body.extend_from_slice(b"t=0 0\r\n");
    let sdp = Sdp::parse(&body);
    assert_eq!(sdp.map(|s| s.session_name), Ok("Caf\u{fffd}".to_owned()));
}

#[test]
fn serialiser_drops_line_breaks_from_hand_built_strings() {
    let mut sdp = parse(samples::SIPP_UAC);
    sdp.session_name = "evil\r\nm=video 1 RTP/AVP 0".to_owned();
    let text = sdp.to_string();
    assert!(text.contains("s=evilm=video 1 RTP/AVP 0\r\n"));
    assert_eq!(
        text.matches("m=").count(),
        2,
        "only the real m= line and the flattened name"
    );
    assert_eq!(Sdp::parse(text.as_bytes()).map(|s| s.media.len()), Ok(1));
}

fn line_error(text: &str) -> (usize, LineError) {
    match Sdp::parse(text.as_bytes()) {
        Err(SdpError::Line { line, reason }) => (line, reason),
        other => panic!("expected a line error for {text:?}, got {other:?}"),
    }
}

const HEAD: &str = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n";

#[test]
fn bad_lines_are_reported_with_their_number() {
    let cases: Vec<(String, usize, LineError)> = vec![
        (
            "o=- 1 1 IN IP4 192.0.2.1\nv=0\n".into(),
            1,
            LineError::VersionFirst,
        ),
        ("v=1\n".into(), 1, LineError::Version("1".into())),
        (
            format!("{HEAD}m=audio 70000 RTP/AVP 0\n"),
            6,
            LineError::Port("70000".into()),
        ),
        (
            format!("{HEAD}m=audio abc RTP/AVP 0\n"),
            6,
            LineError::Port("abc".into()),
        ),
        (
            format!("{HEAD}m=audio +5 RTP/AVP 0\n"),
            6,
            LineError::Port("+5".into()),
        ),
        (
            format!("{HEAD}hello world\n"),
            6,
            LineError::Syntax("hello world".into()),
        ),
        (format!("{HEAD}a =x\n"), 6, LineError::Syntax("a =x".into())),
        (format!("{HEAD}x=foo\n"), 6, LineError::UnknownType('x')),
        (
            format!("{HEAD}m=audio 4000 RTP/AVP 0\no=- 2 2 IN IP4 192.0.2.1\n"),
            7,
            LineError::Misplaced('o'),
        ),
        (
            format!("{HEAD}c=IN IP4 192.0.2.2\n"),
            6,
            LineError::Duplicate('c'),
        ),
        (
            "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nr=1d 1h 0\n".into(),
            4,
            LineError::Misplaced('r'),
        ),
        (format!("{HEAD}v=0\n"), 6, LineError::Duplicate('v')),
        (
            format!("{HEAD}m=audio 4000 RTP/AVP 0 128\n"),
            6,
            LineError::PayloadType("128".into()),
        ),
        (
            format!("{HEAD}m=audio 4000 RTP/AVP PCMU\n"),
            6,
            LineError::PayloadType("PCMU".into()),
        ),
        (
            "v=0\no=- 1 1 IN IP4 2001:db8::1\n".into(),
            2,
            LineError::Address("2001:db8::1".into()),
        ),
        (
            "v=0\no=- 1 1 IN IP4 999.1.1.1\n".into(),
            2,
            LineError::Address("999.1.1.1".into()),
        ),
        (
            "v=0\no=- 1 1 IN IP6 1.2.3.4\n".into(),
            2,
            LineError::Address("1.2.3.4".into()),
        ),
        (
            "v=0\no=- 1 1 ATM NSAP 47.0005\n".into(),
            2,
            LineError::NetType("ATM".into()),
        ),
        (
            "v=0\no=- 1 1 IN IP5 x\n".into(),
            2,
            LineError::AddrType("IP5".into()),
        ),
        (
            "v=0\no=- 1 x IN IP4 192.0.2.1\n".into(),
            2,
            LineError::Number {
                field: "session version",
                value: "x".into(),
            },
        ),
        (
            "v=0\nc=IN IP6 2001:db8::1/3/4\n".into(),
            2,
            LineError::Address("2001:db8::1/3/4".into()),
        ),
        (
            format!("{HEAD}b=AS\n"),
            6,
            LineError::Fields {
                line_type: "b",
                expected: "<bwtype>:<bandwidth>",
            },
        ),
        (format!("{HEAD}a=\n"), 6, LineError::AttributeName),
        (format!("{HEAD}a=:x\n"), 6, LineError::AttributeName),
        (
            format!("{HEAD}a=ptime:twenty\n"),
            6,
            LineError::Number {
                field: "ptime",
                value: "twenty".into(),
            },
        ),
        (
            format!("{HEAD}a=crypto:1234567890 S K\n"),
            6,
            LineError::Number {
                field: "crypto tag",
                value: "1234567890".into(),
            },
        ),
        (
            format!("{HEAD}a=rtcp:5000 IN IP4\n"),
            6,
            LineError::Fields {
                line_type: "rtcp",
                expected: "<port> [IN <addrtype> <address>]",
            },
        ),
        (
            format!("{HEAD}\nm=audio 4000 RTP/AVP 0\n"),
            6,
            LineError::BlankLine,
        ),
        (format!("{HEAD}s=\0\n"), 6, LineError::ControlChar),
        (format!("{HEAD}s=a\rb\n"), 6, LineError::ControlChar),
    ];
    for (text, line, reason) in cases {
        assert_eq!(line_error(&text), (line, reason), "input {text:?}");
    }
}

#[test]
fn malformed_typed_attributes_are_errors() {
    for attribute in [
        "rtpmap:0 PCMU",
        "rtpmap:0 PCMU/8000/1/2",
        "rtpmap:0",
        "rtpmap:200 X/8000",
        "rtpmap:0 /8000",
        "rtpmap",
        "fmtp",
        "crypto:1 AES",
        "rtcp:x",
    ] {
        let text = format!("{HEAD}m=audio 4000 RTP/AVP 0\na={attribute}\n");
        let (line, _) = line_error(&text);
        assert_eq!(line, 7, "a={attribute}");
    }
}

#[test]
fn missing_mandatory_lines_are_named() {
    assert_eq!(
        Sdp::parse(b"v=0\r\ns=-\r\nt=0 0\r\n"),
        Err(SdpError::Missing('o'))
    );
    assert_eq!(
        Sdp::parse(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"),
        Err(SdpError::Missing('s'))
    );
    assert_eq!(Sdp::parse(b""), Err(SdpError::Empty));
    assert_eq!(Sdp::parse(b"\r\n\r\n"), Err(SdpError::Empty));
    let no_connection =
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nm=audio 0 RTP/AVP 0\nm=audio 4000 RTP/AVP 0\n";
    assert_eq!(
        Sdp::parse(no_connection.as_bytes()),
        Err(SdpError::NoConnection { line: 6 })
    );
    let no_format = format!("{HEAD}m=audio 4000 RTP/AVP\n");
    assert_eq!(line_error(&no_format).0, 6);
}

#[test]
fn errors_read_well() {
    let error = Sdp::parse(format!("{HEAD}m=audio 70000 RTP/AVP 0\n").as_bytes());
    assert_eq!(
        error.map_err(|e| e.to_string()),
        Err("line 6: bad port \"70000\"".to_owned())
    );
    let long = format!("{HEAD}{}\n", "z".repeat(5000));
    let message = Sdp::parse(long.as_bytes()).map_err(|e| e.to_string());
    assert!(
        message.is_err_and(|m| m.len() < 100),
        "offending text is cut short"
    );
}

#[test]
fn limits_stop_hostile_input() {
    let limits = Limits {
        max_bytes: 200,
        max_lines: 8,
        max_media: 2,
        max_formats: 3,
    };
    let big = vec![b'a'; 201];
    assert_eq!(
        Sdp::parse_with_limits(&big, &limits),
        Err(SdpError::TooLarge {
            len: 201,
            limit: 200
        })
    );
    let many_lines = format!("{HEAD}a=x\na=x\na=x\na=x\n");
    assert_eq!(
        Sdp::parse_with_limits(many_lines.as_bytes(), &limits),
        Err(SdpError::TooManyLines { limit: 8 })
    );
    let many_media =
        format!("{HEAD}m=audio 1 RTP/AVP 0\nm=audio 1 RTP/AVP 0\nm=audio 1 RTP/AVP 0\n");
    assert_eq!(
        Sdp::parse_with_limits(many_media.as_bytes(), &limits),
        Err(SdpError::TooManyMedia { limit: 2 })
    );
    let many_formats = format!("{HEAD}m=audio 1 RTP/AVP 0 8 9 18\n");
    assert_eq!(
        line_error_with(&many_formats, &limits),
        (6, LineError::TooManyFormats(3))
    );
    let defaults = Limits::default();
    let flood = format!("{HEAD}{}", "a=x\n".repeat(defaults.max_lines));
    assert!(matches!(
        Sdp::parse(flood.as_bytes()),
        Err(SdpError::TooManyLines { .. })
    ));
}

fn line_error_with(text: &str, limits: &Limits) -> (usize, LineError) {
    match Sdp::parse_with_limits(text.as_bytes(), limits) {
        Err(SdpError::Line { line, reason }) => (line, reason),
        other => panic!("expected a line error, got {other:?}"),
    }
}

#[test]
fn payload_resolution_prefers_rtpmap_over_static_table() {
    let text = format!(
        "{HEAD}m=audio 4000 RTP/AVP 0 3 96 97\na=rtpmap:0 PCMU/16000\na=rtpmap:96 L16/16000/2\n"
    );
    let sdp = parse(&text);
    let resolved = names(&sdp);
    assert_eq!(
        resolved,
        [
            (0, "PCMU".into(), 16000, 1),
            (3, "GSM".into(), 8000, 1),
            (96, "L16".into(), 16000, 2)
        ]
    );
    assert_eq!(sdp.media[0].payload_types(), [Pt(0), Pt(3), Pt(96), Pt(97)]);
}
