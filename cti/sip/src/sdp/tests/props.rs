//! Property tests: no panic on any input, and parse(serialise(x)) == x.

use std::net::IpAddr;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::samples::{self, crlf};
use crate::sdp::{
    AddrType, Address, Attribute, Bandwidth, Connection, Crypto, Direction, Fmtp, LocalMedia,
    Media, MediaKind, Origin, Proto, Pt, Rtcp, Rtpmap, Sdp, Timing, answer,
};

/// Text as the parser returns it: printable, no line breaks, no trailing blank.
fn text() -> impl Strategy<Value = String> {
    "[!-~é€]([ -~é]{0,14}[!-~])?"
}

/// A whitespace-free token.
fn token() -> impl Strategy<Value = String> {
    "[!-~]{1,10}"
}

fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| Address::Ip(IpAddr::from(o))),
        any::<[u8; 16]>().prop_map(|o| Address::Ip(IpAddr::from(o))),
        (
            "[a-z][a-z0-9.-]{0,12}",
            prop_oneof![Just(AddrType::Ip4), Just(AddrType::Ip6)]
        )
            .prop_map(|(name, addrtype)| Address::Fqdn { addrtype, name }),
    ]
}

fn connection() -> impl Strategy<Value = Connection> {
    (address(), option::of(any::<u8>()), option::of(any::<u32>())).prop_map(
        |(address, ttl, count)| {
            let (ttl, count) = match address.addrtype() {
                AddrType::Ip4 => (ttl, ttl.and(count)),
                AddrType::Ip6 => (None, count),
            };
            Connection {
                address,
                ttl,
                count,
            }
        },
    )
}

fn bandwidth() -> impl Strategy<Value = Bandwidth> {
    ("[A-Za-z][A-Za-z0-9-]{0,5}", any::<u64>()).prop_map(|(kind, value)| Bandwidth { kind, value })
}

fn pt() -> impl Strategy<Value = Pt> {
    (0..=Pt::MAX).prop_map(Pt)
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![
        Just(Direction::SendRecv),
        Just(Direction::SendOnly),
        Just(Direction::RecvOnly),
        Just(Direction::Inactive),
    ]
}

const KNOWN_ATTRIBUTES: [&str; 11] = [
    "rtpmap", "fmtp", "ptime", "maxptime", "sendrecv", "sendonly", "recvonly", "inactive", "rtcp",
    "rtcp-mux", "crypto",
];

fn attribute() -> impl Strategy<Value = Attribute> {
    let rtpmap = (
        pt(),
        "[A-Za-z][A-Za-z0-9-]{0,8}",
        any::<u32>(),
        option::of(any::<u16>()),
    )
        .prop_map(|(pt, encoding, clock_rate, channels)| {
            Attribute::Rtpmap(Rtpmap {
                pt,
                encoding,
                clock_rate,
                channels,
            })
        });
    let fmtp = (pt(), prop_oneof![Just(String::new()), text()])
        .prop_map(|(pt, params)| Attribute::Fmtp(Fmtp { pt, params }));
    let crypto = (0..=999_999_999u32, token(), token(), vec(token(), 0..3)).prop_map(
        |(tag, suite, key_params, session_params)| {
            Attribute::Crypto(Crypto {
                tag,
                suite,
                key_params,
                session_params,
            })
        },
    );
    let rtcp = (any::<u16>(), option::of(address()))
        .prop_map(|(port, address)| Attribute::Rtcp(Rtcp { port, address }));
    let other = (
        "[a-z][a-z0-9-]{0,10}",
        option::of(prop_oneof![Just(String::new()), text()]),
    )
        .prop_filter("known names are typed", |(name, _)| {
            !KNOWN_ATTRIBUTES.contains(&name.as_str())
        })
        .prop_map(|(name, value)| Attribute::Other { name, value });
    prop_oneof![
        rtpmap,
        fmtp,
        any::<u32>().prop_map(Attribute::Ptime),
        any::<u32>().prop_map(Attribute::Maxptime),
        direction().prop_map(Attribute::Direction),
        rtcp,
        Just(Attribute::RtcpMux),
        crypto,
        other,
    ]
}

fn media_kind() -> impl Strategy<Value = MediaKind> {
    prop_oneof![
        Just(MediaKind::Audio),
        Just(MediaKind::Video),
        Just(MediaKind::Image),
        "[a-z]{1,8}"
            .prop_filter("not a known kind", |t| matches!(
                MediaKind::from_token(t),
                MediaKind::Other(_)
            ))
            .prop_map(MediaKind::Other),
    ]
}

fn proto() -> impl Strategy<Value = Proto> {
    prop_oneof![
        Just(Proto::RtpAvp),
        Just(Proto::RtpAvpf),
        Just(Proto::RtpSavp),
        Just(Proto::UdpTlsRtpSavpf),
        Just(Proto::Udptl),
        "[A-Z]{1,4}/[A-Z]{1,4}"
            .prop_filter("not a known proto", |t| matches!(
                Proto::from_token(t),
                Proto::Other(_)
            ))
            .prop_map(Proto::Other),
    ]
}

fn media() -> impl Strategy<Value = Media> {
    (
        (
            media_kind(),
            any::<u16>(),
            option::of(any::<u16>()),
            proto(),
        ),
        vec(pt(), 1..5),
        vec("[a-z0-9]{1,6}", 1..4),
        (
            option::of(text()),
            option::of(connection()),
            vec(bandwidth(), 0..2),
            option::of(text()),
        ),
        vec(attribute(), 0..6),
    )
        .prop_map(
            |(
                (kind, port, port_count, proto),
                pts,
                tokens,
                (info, connection, bandwidths, key),
                attributes,
            )| {
                let formats = if proto.is_rtp() {
                    pts.iter().map(Pt::to_string).collect()
                } else {
                    tokens
                };
                Media {
                    kind,
                    port,
                    port_count,
                    proto,
                    formats,
                    info,
                    connection,
                    bandwidths,
                    key,
                    attributes,
                }
            },
        )
}

fn timing() -> impl Strategy<Value = Timing> {
    (any::<u64>(), any::<u64>(), vec(text(), 0..2)).prop_map(|(start, stop, repeats)| Timing {
        start,
        stop,
        repeats,
    })
}

fn origin() -> impl Strategy<Value = Origin> {
    (token(), token(), any::<u64>(), address()).prop_map(
        |(username, session_id, session_version, address)| Origin {
            username,
            session_id,
            session_version,
            address,
        },
    )
}

fn sdp() -> impl Strategy<Value = Sdp> {
    (
        (
            origin(),
            prop_oneof![Just(String::new()), text()],
            option::of(text()),
            option::of(text()),
        ),
        (
            vec(text(), 0..2),
            vec(text(), 0..2),
            option::of(connection()),
            vec(bandwidth(), 0..2),
        ),
        (
            vec(timing(), 1..3),
            option::of(text()),
            option::of(text()),
            vec(attribute(), 0..4),
        ),
        (vec(media(), 0..4), connection()),
    )
        .prop_map(|(head, contacts, times, (mut media, fallback))| {
            let (origin, session_name, info, uri) = head;
            let (emails, phones, connection, bandwidths) = contacts;
            let (times, time_zones, key, attributes) = times;
            if connection.is_none() {
                for m in media
                    .iter_mut()
                    .filter(|m| m.port != 0 && m.connection.is_none())
                {
                    m.connection = Some(fallback.clone());
                }
            }
            Sdp {
                origin,
                session_name,
                info,
                uri,
                emails,
                phones,
                connection,
                bandwidths,
                times,
                time_zones,
                key,
                attributes,
                media,
            }
        })
}

/// Mostly well-formed lines after a valid head, so that most bodies reach
/// the media and attribute parsers and the negotiation.
fn sdp_like_body() -> impl Strategy<Value = Vec<u8>> {
    let attribute = prop_oneof![
        "rtpmap:(0|8|9|18|96|101|126) (PCMU|PCMA|G722|opus|telephone-event|G729)/(8000|48000)(/2)?",
        "fmtp:(18|96|101) [ -~]{0,12}",
        "(sendrecv|sendonly|recvonly|inactive|rtcp-mux)",
        "(ptime|maxptime):[0-9]{1,3}",
        "rtcp:[0-9]{1,5}( IN IP(4|6) [0-9a-f.:]{1,15})?",
        "crypto:[0-9]{1,3} [A-Z_0-9]{3,12} inline:[!-~]{0,12}( [A-Z_]{1,8})?",
        "[a-z-]{1,10}(:[ -~]{0,20})?",
    ];
    let line = prop_oneof![
        20 => attribute.prop_map(|a| format!("a={a}")),
        5 => "m=(audio|video|image) (0|[0-9]{4,5})(/2)? (RTP/AVP|RTP/AVPF|RTP/SAVP|udptl) (0|8|9|18|96|101|126|[0-9]{1,3})( (0|8|101|[0-9]{1,3})){0,4}",
        2 => "c=IN (IP4 (192.0.2.[0-9]{1,2}|0.0.0.0)|IP6 (2001:db8::[0-9a-f]{1,4}|::))",
        1 => "c=IN IP(4|6) [0-9a-f.:]{1,20}(/[0-9]{1,3})?",
        2 => "(b=AS:[0-9]{1,4}|i=[ -~]{0,10}|k=clear:x|t=0 0|r=7d 1h)",
        1 => "[a-z]=[ -~]{0,30}",
    ];
    (vec(line, 0..20), prop::bool::ANY).prop_map(|(lines, lf_only)| {
        let end = if lf_only { "\n" } else { "\r\n" };
        let mut body =
            format!("v=0{end}o=- 1 1 IN IP4 192.0.2.1{end}s=-{end}c=IN IP4 192.0.2.1{end}");
        for line in lines {
            body.push_str(&line);
            body.push_str(end);
        }
        body.into_bytes()
    })
}

/// Whatever parses once parses again to the same value after serialising.
fn assert_fixed_point(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(sdp) = Sdp::parse(bytes) {
        let text = sdp.to_bytes();
        prop_assert_eq!(
            Sdp::parse(&text),
            Ok(sdp),
            "serialised as {}",
            String::from_utf8_lossy(&text)
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        assert_fixed_point(&bytes)?;
    }

    #[test]
    fn sdp_like_lines_never_panic_and_round_trip(body in sdp_like_body()) {
        assert_fixed_point(&body)?;
        if let Ok(offer) = Sdp::parse(&body) {
            let local = LocalMedia::new(IpAddr::from([203, 0, 113, 5]), 40000);
            if let Ok(answered) = answer(&offer, &local) {
                prop_assert_eq!(answered.media.len(), offer.media.len());
                prop_assert_eq!(Sdp::parse(&answered.to_bytes()), Ok(answered));
            }
        }
    }

    #[test]
    fn mutated_samples_never_panic(index in 0usize..7, at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let texts = [samples::DESK_PHONE, samples::BARESIP, samples::SIPP_UAC, samples::WEBRTC,
                     samples::OPUS_AVP, samples::IPV6, samples::MULTI_STREAM];
        let mut bytes = crlf(texts[index]);
        let position = at.index(bytes.len());
        bytes[position] = byte;
        assert_fixed_point(&bytes)?;
    }

    #[test]
    fn generated_descriptions_round_trip(sdp in sdp()) {
        let text = sdp.to_bytes();
        prop_assert_eq!(Sdp::parse(&text), Ok(sdp), "serialised as {}", String::from_utf8_lossy(&text));
    }
}
