//! RFC 3264 offer/answer for one audio stream.
//!
//! Rules [`answer`] applies:
//! - The answer has as many `m=` lines as the offer, in the same order. The
//!   first audio stream the node can take (`audio`, non-zero port, `RTP/AVP`
//!   or `RTP/AVPF`) with a codec in common is accepted; every other stream is
//!   rejected with port 0 (a B2BUA anchors one audio stream per leg). `RTP/SAVP`
//!   and WebRTC profiles are rejected: this function does not create keys.
//! - Codecs match on encoding name (case-insensitive), clock rate and channel
//!   count; static payload types without `a=rtpmap` resolve through the RFC 3551
//!   table. Matched codecs keep the offerer's payload type numbers. Their order
//!   follows [`LocalMedia::preference`]: the offerer's order by default.
//! - `telephone-event` is answered only when both sides support it and at
//!   least one real codec matched; its `fmtp` is the intersection of the two
//!   event lists (RFC 4733; an absent list means `0-15`). Other codecs carry our
//!   `fmtp` when we set one, else the offerer's.
//! - Directions follow RFC 3264 §6.1: we send only if we wish to and the
//!   offerer receives, we receive only if we wish to and the offerer sends
//!   (`sendonly` is answered `recvonly`, `inactive` is answered `inactive`). An
//!   offer whose connection address is `0.0.0.0` (RFC 2543 hold, RFC 3264 §8.4)
//!   is read as not receiving.
//! - No audio stream at all is [`NegotiationError::NoAudio`]; audio with no
//!   codec in common is [`NegotiationError::NoCommonCodec`].

use std::net::IpAddr;

use super::media::{Attribute, Direction, Fmtp, Media, MediaKind, Payload, Proto, Pt, Rtpmap};
use super::{Address, Connection, NegotiationError, Origin, Sdp};

/// A codec the node supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    /// The encoding name, e.g. `PCMU`, `opus`, `telephone-event`.
    pub name: String,
    /// The RTP clock rate in Hz (8000 for G.722, per RFC 3551).
    pub clock_rate: u32,
    /// The channel count.
    pub channels: u16,
    /// The payload type used in our offers; answers keep the offerer's.
    pub pt: Pt,
    /// The `fmtp` parameters we send, if any.
    pub fmtp: Option<String>,
}

/// Whose codec order an answer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preference {
    /// The offerer's order, filtered by ours (RFC 3264 §6.1 suggests it).
    #[default]
    Offerer,
    /// Our order in [`LocalMedia::codecs`].
    Local,
}

/// What the node offers or accepts on one leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// `o=` username.
    pub username: String,
    /// `o=` session id, fixed for the leg.
    pub session_id: u64,
    /// `o=` version; see [`LegOrigin`](super::LegOrigin) to keep it per leg.
    pub session_version: u64,
    /// The address the node receives RTP on.
    pub address: IpAddr,
    /// The RTP port (RTCP on port + 1).
    pub port: u16,
    /// Supported codecs, most preferred first.
    pub codecs: Vec<Codec>,
    /// Our wish: `SendRecv`, or `SendOnly` to put the other side on hold.
    pub direction: Direction,
    /// `a=ptime` to write, if any.
    pub ptime: Option<u32>,
    /// Whether we offer and accept `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// Whose codec order an answer follows.
    pub preference: Preference,
}

impl Codec {
    /// A mono codec without `fmtp`.
    #[must_use]
    pub fn new(name: impl Into<String>, clock_rate: u32, pt: Pt) -> Self {
        Self {
            name: name.into(),
            clock_rate,
            channels: 1,
            pt,
            fmtp: None,
        }
    }

    /// G.711 µ-law, payload type 0.
    #[must_use]
    pub fn pcmu() -> Self {
        Self::new("PCMU", 8000, Pt(0))
    }

    /// G.711 A-law, payload type 8.
    #[must_use]
    pub fn pcma() -> Self {
        Self::new("PCMA", 8000, Pt(8))
    }

    /// G.722, payload type 9 (clock rate written as 8000, RFC 3551 §4.5.2).
    #[must_use]
    pub fn g722() -> Self {
        Self::new("G722", 8000, Pt(9))
    }

    /// Opus (RFC 7587), written `opus/48000/2`, on payload type 111.
    #[must_use]
    pub fn opus() -> Self {
        Self {
            channels: 2,
            fmtp: Some("minptime=10;useinbandfec=1".to_owned()),
            ..Self::new("opus", 48000, Pt(111))
        }
    }

    /// RFC 4733 DTMF events 0–16 at 8000 Hz, payload type 101.
    #[must_use]
    pub fn telephone_event() -> Self {
        Self {
            fmtp: Some("0-16".to_owned()),
            ..Self::new("telephone-event", 8000, Pt(101))
        }
    }

    /// Whether this is RFC 4733 `telephone-event` rather than a voice codec.
    #[must_use]
    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }

    /// Whether an offered payload is this codec.
    fn matches(&self, payload: &Payload) -> bool {
        self.name.eq_ignore_ascii_case(&payload.name)
            && self.clock_rate == payload.clock_rate
            && self.channels == payload.channels
    }
}

impl LocalMedia {
    /// PCMU, PCMA and telephone-event on `address:port`, `sendrecv`, the
    /// offerer's preference, no ptime, no rtcp-mux, origin `- 0 0`.
    #[must_use]
    pub fn new(address: IpAddr, port: u16) -> Self {
        Self {
            username: "-".to_owned(),
            session_id: 0,
            session_version: 0,
            address,
            port,
            codecs: vec![Codec::pcmu(), Codec::pcma(), Codec::telephone_event()],
            direction: Direction::SendRecv,
            ptime: None,
            rtcp_mux: false,
            preference: Preference::Offerer,
        }
    }

    /// `v=`, `o=`, `s=-`, `c=`, `t=0 0`, no media.
    fn skeleton(&self) -> Sdp {
        let origin = Origin {
            username: self.username.clone(),
            session_id: self.session_id.to_string(),
            session_version: self.session_version,
            address: Address::Ip(self.address),
        };
        let mut sdp = Sdp::new(origin, "-");
        sdp.connection = Some(Connection::ip(self.address));
        sdp
    }

    /// The attributes after the codec lines: ptime, rtcp-mux, direction.
    fn trailing_attributes(&self, media: &mut Media, rtcp_mux: bool, direction: Direction) {
        if let Some(ms) = self.ptime {
            media.attributes.push(Attribute::Ptime(ms));
        }
        if rtcp_mux {
            media.attributes.push(Attribute::RtcpMux);
        }
        media.attributes.push(Attribute::Direction(direction));
    }
}

/// Builds an offer with one audio stream listing `local.codecs` in order
/// (a payload type listed twice is written once). With no codecs the stream
/// is written disabled (port 0).
#[must_use]
pub fn offer(local: &LocalMedia) -> Sdp {
    let mut sdp = local.skeleton();
    let mut media = Media::new(MediaKind::Audio, local.port, Proto::RtpAvp, Vec::new());
    let mut listed = [false; 128];
    for codec in &local.codecs {
        let Some(seen) = listed.get_mut(usize::from(codec.pt.0)) else {
            continue;
        };
        if std::mem::replace(seen, true) {
            continue;
        }
        let fmtp = codec.fmtp.clone();
        push_codec(
            &mut media,
            codec.pt,
            &codec.name,
            codec.clock_rate,
            codec.channels,
            fmtp,
        );
    }
    if media.formats.is_empty() {
        media.port = 0;
    }
    local.trailing_attributes(&mut media, local.rtcp_mux, local.direction);
    sdp.media.push(media);
    sdp
}

/// Answers `offer` per the module rules.
///
/// # Errors
///
/// [`NegotiationError::NoAudio`] when no stream can carry the call's audio,
/// [`NegotiationError::NoCommonCodec`] when audio was offered with no codec we
/// support. The node answers 488 to both.
pub fn answer(offer: &Sdp, local: &LocalMedia) -> Result<Sdp, NegotiationError> {
    let mut sdp = local.skeleton();
    let mut accepted = false;
    let mut audio_offered = false;
    for offered in &offer.media {
        let takes = !accepted && accepts_stream(offered);
        audio_offered |= takes;
        let answered = takes.then(|| answer_audio(offer, offered, local)).flatten();
        accepted |= answered.is_some();
        sdp.media
            .push(answered.unwrap_or_else(|| rejected(offered)));
    }
    match (accepted, audio_offered) {
        (true, _) => Ok(sdp),
        (false, true) => Err(NegotiationError::NoCommonCodec),
        (false, false) => Err(NegotiationError::NoAudio),
    }
}

/// Whether `media` is an audio stream over a profile we answer.
fn accepts_stream(media: &Media) -> bool {
    media.kind == MediaKind::Audio
        && media.port != 0
        && matches!(media.proto, Proto::RtpAvp | Proto::RtpAvpf)
}

/// The answer to an accepted audio stream, or `None` with no common codec.
fn answer_audio(offer: &Sdp, offered: &Media, local: &LocalMedia) -> Option<Media> {
    let mut matched = common_codecs(offered, local);
    if matched.iter().all(|(codec, _)| codec.is_telephone_event()) {
        return None;
    }
    if local.preference == Preference::Local {
        matched.sort_by_key(|(codec, _)| local.codecs.iter().position(|c| c == *codec));
    }
    let mut media = Media::new(
        MediaKind::Audio,
        local.port,
        offered.proto.clone(),
        Vec::new(),
    );
    for (codec, payload) in matched {
        let fmtp = if codec.is_telephone_event() {
            let ours = codec.fmtp.as_deref().unwrap_or(DEFAULT_EVENTS);
            let theirs = payload.fmtp.as_deref().unwrap_or(DEFAULT_EVENTS);
            match intersect_events(ours, theirs) {
                Some(events) if events.is_empty() => continue,
                Some(events) => Some(events),
                None => codec.fmtp.clone(),
            }
        } else {
            codec.fmtp.clone().or(payload.fmtp)
        };
        let channels = payload.channels;
        push_codec(
            &mut media,
            payload.pt,
            &payload.name,
            payload.clock_rate,
            channels,
            fmtp,
        );
    }
    let direction = answer_direction(offered_direction(offer, offered), local.direction);
    local.trailing_attributes(&mut media, local.rtcp_mux && offered.rtcp_mux(), direction);
    Some(media)
}

/// Pairs of (our codec, offered payload) in the offer's order; each of our
/// codecs is matched at most once, by the first offered payload that fits.
fn common_codecs<'a>(offered: &Media, local: &'a LocalMedia) -> Vec<(&'a Codec, Payload)> {
    let mut used = vec![false; local.codecs.len()];
    let mut matched = Vec::new();
    for payload in offered.payloads() {
        let found = local
            .codecs
            .iter()
            .enumerate()
            .find(|(i, c)| !used[*i] && c.matches(&payload));
        if let Some((index, codec)) = found {
            used[index] = true;
            matched.push((codec, payload));
        }
    }
    matched
}

/// Adds a codec's format, `rtpmap` and `fmtp` to `media`.
fn push_codec(
    media: &mut Media,
    pt: Pt,
    name: &str,
    clock_rate: u32,
    channels: u16,
    fmtp: Option<String>,
) {
    media.formats.push(pt.to_string());
    media.attributes.push(Attribute::Rtpmap(Rtpmap {
        pt,
        encoding: name.to_owned(),
        clock_rate,
        channels: (channels != 1).then_some(channels),
    }));
    if let Some(params) = fmtp {
        media.attributes.push(Attribute::Fmtp(Fmtp { pt, params }));
    }
}

/// A rejected stream: same media and proto, port 0, the offered formats.
fn rejected(offered: &Media) -> Media {
    Media::new(
        offered.kind.clone(),
        0,
        offered.proto.clone(),
        offered.formats.clone(),
    )
}

/// The offerer's direction for `media`, with `c=0.0.0.0` read as not receiving.
fn offered_direction(offer: &Sdp, media: &Media) -> Direction {
    let direction = offer.direction_of(media);
    let held = offer
        .connection_of(media)
        .is_some_and(|c| c.address.is_unspecified());
    if held {
        Direction::from_flags(direction.sends(), false)
    } else {
        direction
    }
}

/// RFC 3264 §6.1: we send only if we wish to and the offerer receives, and
/// receive only if we wish to and the offerer sends.
#[must_use]
pub(super) fn answer_direction(offered: Direction, wish: Direction) -> Direction {
    Direction::from_flags(
        wish.sends() && offered.receives(),
        wish.receives() && offered.sends(),
    )
}

/// RFC 4733 §2.4.1: the events a receiver assumes when `fmtp` is absent.
const DEFAULT_EVENTS: &str = "0-15";

/// The events in both lists (`0-15,66,70` style), written the same way;
/// `None` when either list does not parse.
fn intersect_events(ours: &str, theirs: &str) -> Option<String> {
    let ours = event_set(ours)?;
    let theirs = event_set(theirs)?;
    let mut out = String::new();
    let mut code = 0usize;
    while code < 256 {
        if !(ours[code] && theirs[code]) {
            code += 1;
            continue;
        }
        let start = code;
        while code + 1 < 256 && ours[code + 1] && theirs[code + 1] {
            code += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&if start == code {
            format!("{start}")
        } else {
            format!("{start}-{code}")
        });
        code += 1;
    }
    Some(out)
}

/// Parses an RFC 4733 event list into a set of event codes 0–255.
fn event_set(list: &str) -> Option<[bool; 256]> {
    let mut set = [false; 256];
    for item in list.split(',').map(str::trim) {
        let (low, high) = item.split_once('-').unwrap_or((item, item));
        let low: u8 = low.trim().parse().ok()?;
        let high: u8 = high.trim().parse().ok()?;
        if low > high {
            return None;
        }
        for code in low..=high {
            set[usize::from(code)] = true;
        }
    }
    Some(set)
}
