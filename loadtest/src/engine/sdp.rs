//! The generator's session descriptions: one audio stream on the shared RTP
//! socket, G.711 plus telephone-event, and an `a=ssrc` line naming the SSRC
//! we send with (RFC 5576), so that a peer on the same socket, or a relay
//! that forwards payloads untouched, can be told apart by SSRC.

use std::net::SocketAddr;

use sip::sdp::{Attribute, Codec, LocalMedia, MediaKind, Preference, Sdp, answer, offer};

use crate::scenario::G711;

/// What one side needs to start sending and receiving RTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MediaStart {
    /// Where to send RTP.
    pub(crate) remote: SocketAddr,
    /// The SSRC the peer announced, if it did.
    pub(crate) remote_ssrc: Option<u32>,
    /// The audio payload type to send with.
    pub(crate) pt: u8,
    /// The law of that payload type.
    pub(crate) codec: G711,
    /// The telephone-event payload type, when both sides have it.
    pub(crate) event_pt: Option<u8>,
    /// The SSRC we send with.
    pub(crate) local_ssrc: u32,
}

fn local(addr: SocketAddr, codec: G711, session_id: u64) -> LocalMedia {
    let mut m = LocalMedia::new(addr.ip(), addr.port());
    m.username = "switchyard-load".to_owned();
    m.session_id = session_id;
    m.codecs = vec![
        match codec {
            G711::Pcmu => Codec::pcmu(),
            G711::Pcma => Codec::pcma(),
        },
        Codec::telephone_event(),
    ];
    m.ptime = Some(20);
    m.preference = Preference::Local;
    m
}

fn announce_ssrc(sdp: &mut Sdp, ssrc: u32) {
    if let Some(m) = sdp
        .media
        .iter_mut()
        .find(|m| m.kind == MediaKind::Audio && m.port != 0)
    {
        m.attributes.push(Attribute::Other {
            name: "ssrc".to_owned(),
            value: Some(format!("{ssrc} cname:switchyard-load")),
        });
    }
}

/// Our offer, sending with `ssrc`.
pub(crate) fn make_offer(addr: SocketAddr, codec: G711, ssrc: u32, session_id: u64) -> Vec<u8> {
    let mut sdp = offer(&local(addr, codec, session_id));
    announce_ssrc(&mut sdp, ssrc);
    sdp.to_bytes()
}

/// Our answer to `offer_bytes` and the media it sets up; `None` when the
/// offer does not parse or has nothing we can take.
pub(crate) fn make_answer(
    offer_bytes: &[u8],
    addr: SocketAddr,
    codec: G711,
    ssrc: u32,
    session_id: u64,
) -> Option<(Vec<u8>, MediaStart)> {
    let remote = Sdp::parse(offer_bytes).ok()?;
    let mut ours = answer(&remote, &local(addr, codec, session_id)).ok()?;
    let start = negotiated(&remote, &ours, ssrc)?;
    announce_ssrc(&mut ours, ssrc);
    Some((ours.to_bytes(), start))
}

/// The media an answer `answer_bytes` to our offer sets up.
pub(crate) fn read_answer(answer_bytes: &[u8], ssrc: u32) -> Option<MediaStart> {
    let remote = Sdp::parse(answer_bytes).ok()?;
    negotiated(&remote, &remote, ssrc)
}

/// Where `remote` receives, and the codec chosen in `chosen` (the answer).
fn negotiated(remote: &Sdp, chosen: &Sdp, local_ssrc: u32) -> Option<MediaStart> {
    let target = remote.audio_remote()?.rtp;
    let remote_media = remote
        .media
        .iter()
        .find(|m| m.kind == MediaKind::Audio && m.port != 0)?;
    let media = chosen
        .media
        .iter()
        .find(|m| m.kind == MediaKind::Audio && m.port != 0)?;
    let payloads = media.payloads();
    let (pt, codec) = payloads.iter().find_map(|p| {
        let law = match p.name.to_ascii_uppercase().as_str() {
            "PCMU" => G711::Pcmu,
            "PCMA" => G711::Pcma,
            _ => return None,
        };
        Some((p.pt.0, law))
    })?;
    let event_pt = payloads
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case("telephone-event"))
        .map(|p| p.pt.0);
    let remote_ssrc = remote_media.attributes.iter().find_map(|a| match a {
        Attribute::Other {
            name,
            value: Some(v),
        } if name == "ssrc" => v.split_whitespace().next()?.parse().ok(),
        _ => None,
    });
    Some(MediaStart {
        remote: target,
        remote_ssrc,
        pt,
        codec,
        event_pt,
        local_ssrc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_and_answer_agree_on_codec_events_and_ssrcs() {
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:40002".parse().unwrap();
        let offer = make_offer(a, G711::Pcma, 111, 1);
        let (answer, agent_side) = make_answer(&offer, b, G711::Pcma, 222, 2).unwrap();
        assert_eq!(agent_side.remote, a);
        assert_eq!(agent_side.remote_ssrc, Some(111));
        assert_eq!((agent_side.pt, agent_side.codec), (8, G711::Pcma));
        assert_eq!(agent_side.event_pt, Some(101));
        let caller_side = read_answer(&answer, 111).unwrap();
        assert_eq!(caller_side.remote, b);
        assert_eq!(caller_side.remote_ssrc, Some(222));
        assert_eq!((caller_side.pt, caller_side.event_pt), (8, Some(101)));
    }

    #[test]
    fn no_common_codec_means_no_media() {
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let offer = make_offer(a, G711::Pcmu, 1, 1);
        let text = String::from_utf8(offer)
            .unwrap()
            .replace("PCMU", "G729")
            .replace(" 0 101", " 18 101");
        assert!(make_answer(text.as_bytes(), a, G711::Pcmu, 2, 2).is_none());
        assert!(read_answer(b"garbage", 1).is_none());
    }
}
