//! Codec choice across a call's two legs: what each leg speaks, and the SDP edits that
//! let two phones with no codec in common still talk (the node transcodes).
//!
//! The rule, as Asterisk and FreeSWITCH apply it:
//!
//! The engine's codecs are those [`Codec`] names: PCMU, PCMA, G.722 (`G722/8000`,
//! static payload type 9, 16 kHz audio on an 8 kHz RTP clock) and Opus.
//!
//! 1. The caller's offer goes to the callee with G.711 (PCMU and PCMA) appended when
//!    missing, provided the caller offered at least one codec the engine can decode —
//!    otherwise the offer passes untouched (nothing could be transcoded anyway). G.711
//!    is what every phone speaks; G.722 and Opus are never added, so a callee that
//!    shares the caller's G.711 is not steered into transcoding.
//! 2. The callee's answer names the codec it chose. If the caller offered that codec,
//!    both legs use it and packets pass through untouched (the fast path).
//! 3. Otherwise the caller's leg uses the first codec of its own offer the engine can
//!    encode, the answer toward the caller is narrowed to that codec (and the caller's
//!    telephone-event, if both offered one), and the media session transcodes between
//!    the two legs.
//!
//! Pure functions on parsed SDP, no I/O; the call task applies them.

use media::LegCodec;
use media::codec::Codec;
use sip::sdp::{Attribute, Media, MediaKind, Payload, Pt, Rtpmap, Sdp};

/// The first active audio stream of `sdp`.
fn audio(sdp: &Sdp) -> Option<&Media> {
    sdp.media
        .iter()
        .find(|m| m.kind == MediaKind::Audio && m.port != 0 && m.proto.is_rtp())
}

fn audio_mut(sdp: &mut Sdp) -> Option<&mut Media> {
    sdp.media
        .iter_mut()
        .find(|m| m.kind == MediaKind::Audio && m.port != 0 && m.proto.is_rtp())
}

/// The engine's codec for an SDP payload, if it has one (telephone-event excluded).
fn engine_codec(p: &Payload) -> Option<Codec> {
    let codec = Codec::from_encoding_name(&p.name)?;
    (codec.is_audio() && p.clock_rate == codec.clock_rate()).then_some(codec)
}

fn is_event(p: &Payload) -> bool {
    p.name.eq_ignore_ascii_case("telephone-event")
}

/// The codec a leg speaks according to `sdp`: its first audio payload the engine
/// knows, and its telephone-event payload type. For an answer, that is the codec in use.
#[must_use]
pub(crate) fn leg_codec(sdp: &Sdp) -> Option<LegCodec> {
    let payloads = audio(sdp)?.payloads();
    let first = payloads.iter().find(|p| !is_event(p))?;
    let codec = engine_codec(first)?;
    Some(LegCodec {
        codec,
        pt: first.pt.0,
        event_pt: event_pt(&payloads),
    })
}

/// The first payload of `sdp` the engine can transcode, for the caller's leg when
/// the callee chose a codec the caller did not offer.
fn first_supported(sdp: &Sdp) -> Option<LegCodec> {
    let payloads = audio(sdp)?.payloads();
    let (p, codec) = payloads
        .iter()
        .filter(|p| !is_event(p))
        .find_map(|p| Some((p, engine_codec(p)?)))?;
    Some(LegCodec {
        codec,
        pt: p.pt.0,
        event_pt: event_pt(&payloads),
    })
}

fn event_pt(payloads: &[Payload]) -> Option<u8> {
    payloads.iter().find(|p| is_event(p)).map(|p| p.pt.0)
}

/// The SDP codec entry for a leg's codec, with the leg's payload type.
#[must_use]
pub(crate) fn sdp_codec(leg: LegCodec) -> sip::sdp::Codec {
    let mut codec = sip::sdp::Codec::new(
        leg.codec.encoding_name(),
        leg.codec.clock_rate(),
        Pt(leg.pt),
    );
    if leg.codec == Codec::Opus {
        codec = sip::sdp::Codec::opus();
        codec.pt = Pt(leg.pt);
    }
    codec
}

/// Whether `sdp`'s audio stream offers `codec`.
fn offers(sdp: &Sdp, codec: Codec) -> bool {
    audio(sdp).is_some_and(|m| m.payloads().iter().any(|p| engine_codec(p) == Some(codec)))
}

/// Rule 1: appends PCMU and PCMA to the caller's offer (already rewritten for the
/// callee) where missing, when the caller offered something the engine can decode.
pub(crate) fn widen_offer(offer: &mut Sdp) {
    if first_supported(offer).is_none() {
        return;
    }
    let missing: Vec<Codec> = [Codec::Pcmu, Codec::Pcma]
        .into_iter()
        .filter(|c| !offers(offer, *c))
        .collect();
    let Some(m) = audio_mut(offer) else {
        return;
    };
    for codec in missing {
        let pt = codec.default_payload_type();
        let taken = m.formats.iter().any(|f| f == &pt.to_string());
        if taken {
            // A dynamic mapping squats on the static number: leave the offer as it is.
            continue;
        }
        // Before telephone-event, so audio codecs stay in front.
        let at = m
            .payloads()
            .iter()
            .position(is_event)
            .and_then(|i| m.payload_types().get(i).copied())
            .and_then(|pt| m.formats.iter().position(|f| f == &pt.0.to_string()))
            .unwrap_or(m.formats.len());
        m.formats.insert(at, pt.to_string());
        m.attributes.push(Attribute::Rtpmap(Rtpmap {
            pt: Pt(pt),
            encoding: codec.encoding_name().to_owned(),
            clock_rate: codec.clock_rate(),
            channels: None,
        }));
    }
}

/// What each leg speaks after the callee answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Choice {
    /// The caller's leg.
    pub(crate) a: LegCodec,
    /// The callee's leg.
    pub(crate) b: LegCodec,
    /// The legs differ: the answer toward the caller must be narrowed to `a`.
    pub(crate) transcode: bool,
}

/// Rules 2 and 3: the codecs of both legs from the caller's original `offer` and the
/// callee's `answer`. `None` when either side speaks nothing the engine knows (the
/// call then relays untouched).
#[must_use]
pub(crate) fn choose(offer: &Sdp, answer: &Sdp) -> Option<Choice> {
    let b = leg_codec(answer)?;
    if offers(offer, b.codec) {
        let payloads = audio(offer)?.payloads();
        let pt = payloads
            .iter()
            .find(|p| engine_codec(p) == Some(b.codec))
            .map_or(b.pt, |p| p.pt.0);
        let a = LegCodec {
            codec: b.codec,
            pt,
            event_pt: event_pt(&payloads),
        };
        return Some(Choice {
            a,
            b,
            transcode: false,
        });
    }
    let a = first_supported(offer)?;
    Some(Choice {
        a,
        b,
        transcode: true,
    })
}

/// Rule 3's edit: the callee's `answer` (on its way to the caller) now lists only the
/// caller's codec `a` and, if the callee accepted events, the caller's telephone-event,
/// with the caller's own `rtpmap`/`fmtp` lines for them.
pub(crate) fn narrow_answer(answer: &mut Sdp, offer: &Sdp, a: LegCodec) {
    let Some(offered) = audio(offer) else {
        return;
    };
    let callee_events = audio(answer).is_some_and(|m| m.payloads().iter().any(is_event));
    let mut keep = vec![a.pt];
    if callee_events && let Some(e) = a.event_pt {
        keep.push(e);
    }
    let lines: Vec<Attribute> = offered
        .attributes
        .iter()
        .filter(|at| match at {
            Attribute::Rtpmap(r) => keep.contains(&r.pt.0),
            Attribute::Fmtp(f) => keep.contains(&f.pt.0),
            _ => false,
        })
        .cloned()
        .collect();
    let Some(m) = audio_mut(answer) else {
        return;
    };
    m.formats = keep.iter().map(u8::to_string).collect();
    m.attributes
        .retain(|at| !matches!(at, Attribute::Rtpmap(_) | Attribute::Fmtp(_)));
    m.attributes.extend(lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdp(formats: &str, maps: &[&str]) -> Sdp {
        let mut text = format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP {formats}\r\n"
        );
        for m in maps {
            text.push_str(&format!("a={m}\r\n"));
        }
        Sdp::parse(text.as_bytes()).expect("test SDP parses")
    }

    fn formats(s: &Sdp) -> Vec<String> {
        audio(s).expect("audio").formats.clone()
    }

    #[test]
    fn an_opus_only_offer_gains_g711_before_telephone_event() {
        let mut offer = sdp(
            "111 101",
            &["rtpmap:111 opus/48000/2", "rtpmap:101 telephone-event/8000"],
        );
        widen_offer(&mut offer);
        assert_eq!(formats(&offer), ["111", "0", "8", "101"]);
        let names: Vec<String> = audio(&offer)
            .expect("audio")
            .payloads()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["opus", "PCMU", "PCMA", "telephone-event"]);
    }

    #[test]
    fn an_offer_with_nothing_the_engine_decodes_is_left_alone() {
        let mut offer = sdp("18", &["rtpmap:18 G729/8000"]);
        widen_offer(&mut offer);
        assert_eq!(formats(&offer), ["18"]);
    }

    #[test]
    fn a_g722_only_offer_gains_g711_and_transcodes_to_it() {
        // Static payload type 9 needs no rtpmap.
        let mut offer = sdp("9 101", &["rtpmap:101 telephone-event/8000"]);
        let original = offer.clone();
        widen_offer(&mut offer);
        assert_eq!(formats(&offer), ["9", "0", "8", "101"]);
        let answer = sdp("0 101", &["rtpmap:101 telephone-event/8000"]);
        let choice = choose(&original, &answer).expect("known codecs");
        assert!(choice.transcode);
        assert_eq!(
            choice.a,
            LegCodec {
                codec: Codec::G722,
                pt: 9,
                event_pt: Some(101)
            }
        );
        assert_eq!(choice.b.codec, Codec::Pcmu);
        let written = sdp_codec(choice.a);
        assert_eq!(
            (written.name.as_str(), written.clock_rate, written.pt),
            ("G722", 8000, Pt(9))
        );
    }

    #[test]
    fn g722_on_both_legs_passes_through() {
        let offer = sdp("9 0", &["rtpmap:9 G722/8000"]);
        let answer = sdp("9", &[]);
        let choice = choose(&offer, &answer).expect("known codecs");
        assert!(!choice.transcode);
        assert_eq!((choice.a.codec, choice.a.pt), (Codec::G722, 9));
        assert_eq!(choice.a, choice.b);
    }

    #[test]
    fn g722_at_a_16_khz_clock_is_not_g722() {
        // RFC 3551 fixes the clock at 8000; a payload claiming 16000 is not ours.
        let offer = sdp("96", &["rtpmap:96 G722/16000"]);
        assert_eq!(leg_codec(&offer), None);
    }

    #[test]
    fn a_codec_both_offered_passes_through_with_the_callers_payload_types() {
        let offer = sdp("0 8 101", &["rtpmap:101 telephone-event/8000"]);
        let answer = sdp("8 101", &["rtpmap:101 telephone-event/8000"]);
        let choice = choose(&offer, &answer).expect("known codecs");
        assert!(!choice.transcode);
        assert_eq!(choice.a.codec, Codec::Pcma);
        assert_eq!(choice.a, choice.b);
    }

    #[test]
    fn a_callee_choosing_an_added_codec_makes_the_call_transcode() {
        let offer = sdp(
            "111 101",
            &["rtpmap:111 opus/48000/2", "rtpmap:101 telephone-event/8000"],
        );
        let mut answer = sdp("0 96", &["rtpmap:96 telephone-event/8000"]);
        let choice = choose(&offer, &answer).expect("known codecs");
        assert!(choice.transcode);
        assert_eq!(
            choice.a,
            LegCodec {
                codec: Codec::Opus,
                pt: 111,
                event_pt: Some(101)
            }
        );
        assert_eq!(
            choice.b,
            LegCodec {
                codec: Codec::Pcmu,
                pt: 0,
                event_pt: Some(96)
            }
        );
        narrow_answer(&mut answer, &offer, choice.a);
        assert_eq!(formats(&answer), ["111", "101"]);
        assert_eq!(
            leg_codec(&answer),
            Some(choice.a),
            "the caller sees its own codec"
        );
    }

    #[test]
    fn without_events_from_the_callee_none_are_promised_to_the_caller() {
        let offer = sdp(
            "111 101",
            &["rtpmap:111 opus/48000/2", "rtpmap:101 telephone-event/8000"],
        );
        let mut answer = sdp("8", &[]);
        let choice = choose(&offer, &answer).expect("known codecs");
        narrow_answer(&mut answer, &offer, choice.a);
        assert_eq!(formats(&answer), ["111"]);
    }

    #[test]
    fn unknown_codecs_mean_no_choice() {
        let offer = sdp("18", &["rtpmap:18 G729/8000"]);
        let answer = sdp("18", &["rtpmap:18 G729/8000"]);
        assert_eq!(choose(&offer, &answer), None);
    }
}
