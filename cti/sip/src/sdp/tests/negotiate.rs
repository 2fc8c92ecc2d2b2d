//! RFC 3264 offer/answer.

use std::net::{IpAddr, Ipv4Addr};

use super::samples::{self, crlf};
use crate::sdp::negotiate::answer_direction;
use crate::sdp::{
    Attribute, Codec, Direction, LocalMedia, MediaKind, NegotiationError, Preference, Proto, Pt,
    Sdp, answer, offer,
};

const NODE: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5));

fn parse(text: &str) -> Sdp {
    match Sdp::parse(&crlf(text)) {
        Ok(sdp) => sdp,
        Err(error) => panic!("sample does not parse: {error}"),
    }
}

fn local() -> LocalMedia {
    LocalMedia {
        username: "switchyard".into(),
        session_id: 7001,
        session_version: 1,
        ..LocalMedia::new(NODE, 40000)
    }
}

fn answered(offer_text: &str, local: &LocalMedia) -> Sdp {
    match answer(&parse(offer_text), local) {
        Ok(sdp) => sdp,
        Err(error) => panic!("no answer: {error}"),
    }
}

fn fmtp(sdp: &Sdp, pt: u8) -> Option<String> {
    sdp.media[0]
        .payloads()
        .into_iter()
        .find(|p| p.pt == Pt(pt))
        .and_then(|p| p.fmtp)
}

#[test]
fn common_codecs_answered_in_offer_order_with_our_address() {
    let sdp = answered(samples::DESK_PHONE, &local());
    assert_eq!(sdp.media.len(), 1);
    let audio = &sdp.media[0];
    assert_eq!(audio.formats, ["0", "8", "101"]);
    assert_eq!(audio.port, 40000);
    assert_eq!(
        sdp.connection.as_ref().and_then(|c| c.address.ip()),
        Some(NODE)
    );
    assert_eq!(sdp.origin.username, "switchyard");
    assert_eq!(sdp.origin.session_id, "7001");
    assert_eq!(sdp.origin.session_version, 1);
    assert_eq!(audio.direction(), Some(Direction::SendRecv));
    assert_eq!(
        fmtp(&sdp, 101).as_deref(),
        Some("0-15"),
        "our 0-16 meets their 0-15"
    );
    assert_eq!(Sdp::parse(&sdp.to_bytes()), Ok(sdp));
}

#[test]
fn local_preference_reorders_but_keeps_offered_numbers() {
    let mut ours = local();
    ours.codecs = vec![
        Codec::pcma(),
        Codec::g722(),
        Codec::pcmu(),
        Codec::telephone_event(),
    ];
    ours.preference = Preference::Local;
    let sdp = answered(samples::DESK_PHONE, &ours);
    assert_eq!(sdp.media[0].formats, ["8", "9", "0", "101"]);
    ours.preference = Preference::Offerer;
    let sdp = answered(samples::DESK_PHONE, &ours);
    assert_eq!(sdp.media[0].formats, ["9", "0", "8", "101"]);
}

#[test]
fn dynamic_payload_types_follow_the_offerer() {
    let mut ours = local();
    ours.codecs = vec![Codec::opus(), Codec::pcma(), Codec::telephone_event()];
    let sdp = answered(samples::OPUS_AVP, &ours);
    assert_eq!(sdp.media[0].formats, ["107", "8", "100"]);
    let payloads = sdp.media[0].payloads();
    assert_eq!(
        (
            payloads[0].name.as_str(),
            payloads[0].clock_rate,
            payloads[0].channels
        ),
        ("opus", 48000, 2)
    );
    assert_eq!(
        payloads[0].fmtp.as_deref(),
        Some("minptime=10;useinbandfec=1"),
        "our fmtp wins"
    );
    assert_eq!(
        fmtp(&sdp, 100).as_deref(),
        Some("0-15"),
        "flash and hook events not ours"
    );
}

#[test]
fn offerer_fmtp_is_echoed_when_we_set_none() {
    let mut ours = local();
    ours.codecs = vec![Codec::new("G729", 8000, Pt(18))];
    let sdp = answered(samples::DESK_PHONE, &ours);
    assert_eq!(sdp.media[0].formats, ["18"]);
    assert_eq!(fmtp(&sdp, 18).as_deref(), Some("annexb=no"));
}

#[test]
fn static_payload_types_match_without_rtpmap() {
    let offer_text = "v=0\no=- 1 1 IN IP4 192.0.2.9\ns=-\nc=IN IP4 192.0.2.9\nt=0 0\nm=audio 5004 RTP/AVP 18 8\n";
    let sdp = answered(offer_text, &local());
    assert_eq!(sdp.media[0].formats, ["8"]);
}

#[test]
fn no_common_codec_is_an_error() {
    let only_g729 = samples::DESK_PHONE.replace(
        "m=audio 11780 RTP/AVP 9 0 8 18 101",
        "m=audio 11780 RTP/AVP 18",
    );
    assert_eq!(
        answer(&parse(&only_g729), &local()),
        Err(NegotiationError::NoCommonCodec)
    );
    let only_events = samples::DESK_PHONE.replace(
        "m=audio 11780 RTP/AVP 9 0 8 18 101",
        "m=audio 11780 RTP/AVP 18 101",
    );
    assert_eq!(
        answer(&parse(&only_events), &local()),
        Err(NegotiationError::NoCommonCodec)
    );
}

#[test]
fn offers_without_usable_audio_are_refused() {
    assert_eq!(
        answer(&parse(samples::WEBRTC), &local()),
        Err(NegotiationError::NoAudio)
    );
    let video_only =
        "v=0\no=- 1 1 IN IP4 192.0.2.9\ns=-\nc=IN IP4 192.0.2.9\nt=0 0\nm=video 5004 RTP/AVP 96\n";
    assert_eq!(
        answer(&parse(video_only), &local()),
        Err(NegotiationError::NoAudio)
    );
}

#[test]
fn every_offered_stream_gets_a_line_and_extra_ones_port_zero() {
    let sdp = answered(samples::MULTI_STREAM, &local());
    let lines: Vec<(MediaKind, u16)> = sdp.media.iter().map(|m| (m.kind.clone(), m.port)).collect();
    assert_eq!(
        lines,
        [
            (MediaKind::Audio, 0),
            (MediaKind::Video, 0),
            (MediaKind::Audio, 40000)
        ],
        "G.729-only audio and video rejected, second audio taken"
    );
    assert_eq!(sdp.media[0].formats, ["18"]);
    assert!(sdp.media[0].attributes.is_empty());
    assert_eq!(sdp.media[2].formats, ["0", "8"]);
    assert_eq!(Sdp::parse(&sdp.to_bytes()), Ok(sdp));
}

fn offered_with(direction_line: &str, connection: &str) -> String {
    samples::SIPP_UAC
        .replace("c=IN IP4 127.0.0.1", connection)
        .replace(
            "a=rtpmap:0 PCMU/8000\n",
            &format!("a=rtpmap:0 PCMU/8000\n{direction_line}"),
        )
}

#[test]
fn directions_are_answered_per_rfc3264() {
    let cases = [
        (
            "",
            "c=IN IP4 127.0.0.1",
            Direction::SendRecv,
            Direction::SendRecv,
        ),
        (
            "a=sendonly\n",
            "c=IN IP4 127.0.0.1",
            Direction::SendRecv,
            Direction::RecvOnly,
        ),
        (
            "a=recvonly\n",
            "c=IN IP4 127.0.0.1",
            Direction::SendRecv,
            Direction::SendOnly,
        ),
        (
            "a=inactive\n",
            "c=IN IP4 127.0.0.1",
            Direction::SendRecv,
            Direction::Inactive,
        ),
        (
            "",
            "c=IN IP4 0.0.0.0",
            Direction::SendRecv,
            Direction::RecvOnly,
        ),
        (
            "a=sendonly\n",
            "c=IN IP4 0.0.0.0",
            Direction::SendRecv,
            Direction::RecvOnly,
        ),
        (
            "a=recvonly\n",
            "c=IN IP4 0.0.0.0",
            Direction::SendRecv,
            Direction::Inactive,
        ),
        (
            "",
            "c=IN IP4 127.0.0.1",
            Direction::SendOnly,
            Direction::SendOnly,
        ),
        (
            "a=sendonly\n",
            "c=IN IP4 127.0.0.1",
            Direction::SendOnly,
            Direction::Inactive,
        ),
        (
            "a=recvonly\n",
            "c=IN IP4 127.0.0.1",
            Direction::RecvOnly,
            Direction::Inactive,
        ),
    ];
    for (line, connection, wish, expected) in cases {
        let mut ours = local();
        ours.direction = wish;
        let sdp = answered(&offered_with(line, connection), &ours);
        assert_eq!(
            sdp.media[0].direction(),
            Some(expected),
            "offer {line:?} {connection}, wish {wish:?}"
        );
    }
}

#[test]
fn session_level_direction_is_inherited() {
    let held = samples::SIPP_UAC.replace("t=0 0\n", "t=0 0\na=sendonly\n");
    assert_eq!(
        answered(&held, &local()).media[0].direction(),
        Some(Direction::RecvOnly)
    );
    let overridden = held.replace(
        "a=rtpmap:0 PCMU/8000\n",
        "a=rtpmap:0 PCMU/8000\na=sendrecv\n",
    );
    assert_eq!(
        answered(&overridden, &local()).media[0].direction(),
        Some(Direction::SendRecv)
    );
}

#[test]
fn hold_and_resume_round_trip_between_two_nodes() {
    let mut a = local();
    let b = LocalMedia::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 77)), 50000);
    a.direction = Direction::SendOnly;
    let hold = offer(&a);
    let hold_answer = answer(&hold, &b).map(|s| s.media[0].direction());
    assert_eq!(hold_answer, Ok(Some(Direction::RecvOnly)));
    a.direction = Direction::SendRecv;
    a.session_version += 1;
    let resume = offer(&a);
    assert_eq!(resume.origin.session_version, 2);
    let resume_answer = answer(&resume, &b).map(|s| s.media[0].direction());
    assert_eq!(resume_answer, Ok(Some(Direction::SendRecv)));
}

#[test]
fn answer_direction_covers_every_combination() {
    use Direction::{Inactive, RecvOnly, SendOnly, SendRecv};
    let all = [SendRecv, SendOnly, RecvOnly, Inactive];
    for offered in all {
        for wish in all {
            let answered = answer_direction(offered, wish);
            assert!(!answered.sends() || (offered.receives() && wish.sends()));
            assert!(!answered.receives() || (offered.sends() && wish.receives()));
            assert_eq!(answered.sends(), offered.receives() && wish.sends());
        }
    }
    assert_eq!(answer_direction(SendOnly, SendRecv), RecvOnly);
    assert_eq!(answer_direction(Inactive, SendRecv), Inactive);
}

#[test]
fn telephone_event_needs_both_sides_and_shared_events() {
    let mut no_dtmf = local();
    no_dtmf.codecs = vec![Codec::pcmu()];
    assert_eq!(
        answered(samples::DESK_PHONE, &no_dtmf).media[0].formats,
        ["0"]
    );
    let not_offered = answered(samples::SIPP_UAC, &local());
    assert_eq!(not_offered.media[0].formats, ["0"]);
    let mut flash_only = local();
    flash_only.codecs[2].fmtp = Some("16".into());
    assert_eq!(
        answered(samples::DESK_PHONE, &flash_only).media[0].formats,
        ["0", "8"]
    );
    let without_fmtp = samples::DESK_PHONE.replace("a=fmtp:101 0-15\n", "");
    assert_eq!(
        fmtp(&answered(&without_fmtp, &local()), 101).as_deref(),
        Some("0-15")
    );
    let wideband_events = samples::WEBRTC.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP");
    let sdp = answered(&wideband_events, &local());
    assert_eq!(
        sdp.media[0].formats,
        ["0", "8", "126"],
        "the 8000 Hz telephone-event"
    );
}

#[test]
fn rtcp_mux_and_profile_are_mirrored() {
    let mut ours = local();
    ours.rtcp_mux = true;
    ours.ptime = Some(20);
    let webrtc_over_avpf = samples::WEBRTC.replace("UDP/TLS/RTP/SAVPF", "RTP/AVPF");
    let sdp = answered(&webrtc_over_avpf, &ours);
    assert_eq!(sdp.media[0].proto, Proto::RtpAvpf);
    assert!(sdp.media[0].rtcp_mux());
    assert_eq!(sdp.media[0].ptime(), Some(20));
    assert!(
        !answered(samples::DESK_PHONE, &ours).media[0].rtcp_mux(),
        "not offered"
    );
}

#[test]
fn offer_lists_our_codecs_once_each() {
    let mut ours = local();
    ours.codecs.push(Codec::new("other", 8000, Pt(0)));
    ours.ptime = Some(20);
    let sdp = offer(&ours);
    assert_eq!(sdp.media.len(), 1);
    let audio = &sdp.media[0];
    assert_eq!((audio.port, audio.proto.clone()), (40000, Proto::RtpAvp));
    assert_eq!(audio.formats, ["0", "8", "101"]);
    assert_eq!(fmtp(&sdp, 101).as_deref(), Some("0-16"));
    assert_eq!(
        audio.attributes.last(),
        Some(&Attribute::Direction(Direction::SendRecv))
    );
    let text = sdp.to_string();
    assert!(
        text.contains("m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"),
        "{text}"
    );
    assert_eq!(Sdp::parse(text.as_bytes()), Ok(sdp));
}

#[test]
fn offer_without_codecs_disables_its_stream() {
    let mut ours = local();
    ours.codecs.clear();
    let sdp = offer(&ours);
    assert_eq!(sdp.media[0].port, 0);
    assert_eq!(Sdp::parse(&sdp.to_bytes()), Ok(sdp));
}

#[test]
fn our_offer_is_answerable_by_ourselves() {
    let mut caller = local();
    caller.codecs = vec![
        Codec::opus(),
        Codec::g722(),
        Codec::pcmu(),
        Codec::telephone_event(),
    ];
    let callee = local();
    let sdp = answer(&offer(&caller), &callee);
    assert_eq!(
        sdp.map(|s| s.media[0].formats.clone()),
        Ok(vec!["0".to_owned(), "101".to_owned()])
    );
}
