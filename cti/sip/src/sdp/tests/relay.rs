//! The B2BUA rewrite, per-leg origins, and where a party receives audio.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::samples::{self, crlf};
use crate::sdp::{Address, Attribute, AudioRemote, Direction, LegOrigin, Rtcp, Sdp};

const NODE: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5));

fn parse(text: &str) -> Sdp {
    match Sdp::parse(&crlf(text)) {
        Ok(sdp) => sdp,
        Err(error) => panic!("sample does not parse: {error}"),
    }
}

fn socket(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::from(ip), port)
}

fn relayed(text: &str, ports: &[u16]) -> Sdp {
    let mut sdp = parse(text);
    sdp.rewrite_for_relay(NODE, ports, &mut LegOrigin::new("switchyard", 99, 5));
    sdp
}

#[test]
fn relay_puts_the_node_in_and_keeps_the_codecs() {
    let original = parse(samples::DESK_PHONE);
    let sdp = relayed(samples::DESK_PHONE, &[20000]);
    assert_eq!(
        sdp.connection.as_ref().and_then(|c| c.address.ip()),
        Some(NODE)
    );
    assert_eq!(sdp.media[0].port, 20000);
    assert_eq!(sdp.media[0].attributes, original.media[0].attributes);
    assert_eq!(sdp.origin.username, "switchyard");
    assert_eq!(sdp.origin.session_id, "99");
    assert_eq!(sdp.origin.session_version, 5);
    assert_eq!(sdp.origin.address, Address::Ip(NODE));
    let remote = sdp.audio_remote();
    assert_eq!(
        remote,
        Some(AudioRemote {
            rtp: socket([203, 0, 113, 5], 20000),
            rtcp: Some(socket([203, 0, 113, 5], 20001))
        })
    );
    assert_eq!(Sdp::parse(&sdp.to_bytes()), Ok(sdp));
}

#[test]
fn relay_points_rtcp_at_the_node_and_drops_ice() {
    let sdp = relayed(samples::WEBRTC, &[20000]);
    let audio = &sdp.media[0];
    assert_eq!(
        audio.rtcp(),
        Some(&Rtcp {
            port: 20001,
            address: None
        })
    );
    assert_eq!(
        audio.connection.as_ref().and_then(|c| c.address.ip()),
        Some(NODE)
    );
    let names: Vec<&str> = audio
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::Other { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        [
            "fingerprint",
            "setup",
            "mid",
            "extmap",
            "msid",
            "rtcp-fb",
            "ssrc"
        ]
    );
    assert!(
        audio.rtcp_mux(),
        "rtcp-mux is the node's media engine's call, left as offered"
    );
    let top = relayed(samples::WEBRTC, &[65535]);
    assert_eq!(top.media[0].rtcp(), None, "port + 1 would overflow");
    assert_eq!(top.audio_remote().map(|r| r.rtcp), Some(None));
}

#[test]
fn relay_disables_what_the_node_does_not_carry() {
    let sdp = relayed(samples::MULTI_STREAM, &[20000]);
    let ports: Vec<u16> = sdp.media.iter().map(|m| m.port).collect();
    assert_eq!(
        ports,
        [20000, 0, 0],
        "video and the audio beyond the ports given"
    );
    assert_eq!(
        sdp.media[2]
            .connection
            .as_ref()
            .and_then(|c| c.address.ip()),
        Some(NODE)
    );
    let both = relayed(samples::MULTI_STREAM, &[20000, 20002]);
    let ports: Vec<u16> = both.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, [20000, 0, 20002]);
    assert_eq!(
        both.media[0].crypto().count(),
        1,
        "keys are the caller's to replace"
    );
}

#[test]
fn disabled_audio_streams_do_not_take_a_port() {
    let text = samples::MULTI_STREAM.replace("m=audio 30000", "m=audio 0");
    let sdp = relayed(&text, &[20000]);
    let ports: Vec<u16> = sdp.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, [0, 0, 20000]);
}

#[test]
fn legacy_hold_becomes_a_direction_attribute() {
    let held = samples::SIPP_UAC.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
    assert_eq!(parse(&held).audio_remote(), None);
    let sdp = relayed(&held, &[20000]);
    assert_eq!(sdp.media[0].direction(), Some(Direction::SendOnly));
    assert!(sdp.audio_remote().is_some());
    let held_recvonly = held.replace(
        "a=rtpmap:0 PCMU/8000\n",
        "a=rtpmap:0 PCMU/8000\na=recvonly\n",
    );
    assert_eq!(
        relayed(&held_recvonly, &[20000]).media[0].direction(),
        Some(Direction::Inactive)
    );
    let not_held = relayed(samples::SIPP_UAC, &[20000]);
    assert_eq!(
        not_held.media[0].direction(),
        None,
        "nothing added to a plain offer"
    );
}

#[test]
fn relay_to_an_ipv6_node() {
    let node6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99));
    let mut sdp = parse(samples::SIPP_UAC);
    sdp.rewrite_for_relay(node6, &[30000], &mut LegOrigin::new("-", 1, 1));
    let text = sdp.to_string();
    assert!(text.contains("o=- 1 1 IN IP6 2001:db8::99\r\n"), "{text}");
    assert!(text.contains("c=IN IP6 2001:db8::99\r\n"), "{text}");
}

#[test]
fn leg_origin_versions_only_on_change() {
    let mut leg = LegOrigin::new("switchyard", 42, 10);
    let mut first = parse(samples::SIPP_UAC);
    leg.stamp(&mut first, NODE);
    assert_eq!(first.origin.session_version, 10);
    let mut same = parse(samples::SIPP_UAC);
    same.origin.session_version = 777;
    leg.stamp(&mut same, NODE);
    assert_eq!(
        same.origin.session_version, 10,
        "unchanged body keeps its version"
    );
    let mut changed = parse(samples::SIPP_UAC);
    changed.media[0].set_direction(Direction::SendOnly);
    leg.stamp(&mut changed, NODE);
    assert_eq!(changed.origin.session_version, 11);
    assert_eq!(leg.version(), 11);
    let mut back = parse(samples::SIPP_UAC);
    leg.stamp(&mut back, NODE);
    assert_eq!(
        back.origin.session_version, 12,
        "any change, even back, is new"
    );
    let mut relay_again = parse(samples::SIPP_UAC);
    relay_again.rewrite_for_relay(NODE, &[20000], &mut leg);
    assert_eq!(relay_again.origin.session_version, 13);
    let mut relay_same = parse(samples::SIPP_UAC);
    relay_same.rewrite_for_relay(NODE, &[20000], &mut leg);
    assert_eq!(relay_same.origin.session_version, 13);
}

#[test]
fn audio_remote_reads_where_a_party_receives() {
    let desk = parse(samples::DESK_PHONE).audio_remote();
    assert_eq!(
        desk,
        Some(AudioRemote {
            rtp: socket([192, 0, 2, 10], 11780),
            rtcp: Some(socket([192, 0, 2, 10], 11781))
        })
    );
    let baresip = parse(samples::BARESIP).audio_remote();
    assert_eq!(
        baresip.and_then(|r| r.rtcp),
        Some(socket([192, 0, 2, 20], 10735))
    );
    let elsewhere = samples::BARESIP.replace("a=rtcp:10735", "a=rtcp:6001 IN IP4 192.0.2.99");
    assert_eq!(
        parse(&elsewhere).audio_remote().and_then(|r| r.rtcp),
        Some(socket([192, 0, 2, 99], 6001))
    );
    let multi = parse(samples::MULTI_STREAM).audio_remote();
    assert_eq!(multi.map(|r| r.rtp), Some(socket([198, 51, 100, 7], 30000)));
    let first_disabled = samples::MULTI_STREAM.replace("m=audio 30000", "m=audio 0");
    let second = parse(&first_disabled).audio_remote();
    assert_eq!(
        second.map(|r| r.rtp),
        Some(socket([198, 51, 100, 8], 30004)),
        "media-level c= wins"
    );
    assert_eq!(
        parse(samples::WEBRTC).audio_remote(),
        None,
        "0.0.0.0 until ICE"
    );
    let rejected = samples::SIPP_UAC.replace("m=audio 6000", "m=audio 0");
    assert_eq!(parse(&rejected).audio_remote(), None);
}

#[test]
fn audio_remote_over_ipv6() {
    let v6 = parse(samples::IPV6).audio_remote().map(|r| r.rtp);
    let expected: Option<SocketAddr> = "[2001:db8::1]:22334".parse().ok();
    assert_eq!(v6, expected);
    let mapped = samples::IPV6.replace("c=IN IP6 2001:db8::1", "c=IN IP6 ::ffff:192.0.2.5");
    let rtp = parse(&mapped).audio_remote().map(|r| r.rtp);
    assert_eq!(
        rtp,
        Some(socket([192, 0, 2, 5], 22334)),
        "IPv4-mapped becomes IPv4"
    );
    let host = samples::SIPP_UAC.replace("c=IN IP4 127.0.0.1", "c=IN IP4 media.example.com");
    assert_eq!(
        parse(&host).audio_remote(),
        None,
        "names are not resolved here"
    );
}
