//! Late offers (RFC 3261 §13.2.1, RFC 3264 §4): a caller whose INVITE carries no
//! SDP expects the offer in the 200 and sends its answer in the ACK.
//!
//! - **Answered by the node** (an IVR flow, a feature code): the 200 offers the
//!   node's codecs on its own media session; the flow (or the confirmation) starts
//!   once the ACK's answer says where the caller's media goes and in which codec.
//! - **Bridged to an extension**: the node cannot pass an offer on, so it makes its
//!   own toward the callee (its codecs, and SDES keys when the extension requires
//!   SRTP). The callee's answer fixes side B; the 200 to the caller offers that codec
//!   first and the others the engine transcodes; the caller's answer in the ACK fixes
//!   side A, transcoding when it chose another codec. Recording and the audio stream
//!   start then, once both codecs are known.
//!
//! An ACK without a usable answer ends the call (BYE to both legs): there is no
//! media to carry it.

use std::sync::Arc;

use media::{LegCodec, Session, Side};
use sip::sdp::{self, LocalMedia, Sdp};
use tracing::{debug, warn};

use super::Call;
use super::audio::watch_media;
use super::feature::Feature;
use crate::codecs;

/// What waits for the caller's answer in its ACK, after the node offered in its 200.
pub(super) enum LateOffer {
    /// An IVR flow answered: it starts once the answer is in.
    Ivr(Arc<ivr::Flow>, Arc<ivr::FlowSet>),
    /// A feature code: its confirmation plays once the answer is in.
    Feature(Feature),
    /// The callee answered the node's offer (`answer`, its SDP): the caller's answer
    /// fixes side A.
    Bridge { answer: Vec<u8> },
}

/// The node's offer on `session`'s `side`: `first` (a codec already fixed on the
/// other side, so that no transcoding is needed if the peer takes it), then every
/// codec the engine transcodes, then telephone-event.
pub(super) fn node_offer(
    media_ip: std::net::IpAddr,
    session: &Session,
    side: Side,
    first: Option<LegCodec>,
) -> Sdp {
    let mut local = LocalMedia::new(media_ip, session.local(side).port());
    local.session_id = u64::from(rand::random::<u32>());
    local.username = "switchyard".to_owned();
    let mut offered: Vec<sdp::Codec> = first.map(codecs::sdp_codec).into_iter().collect();
    for codec in [
        sdp::Codec::pcmu(),
        sdp::Codec::pcma(),
        sdp::Codec::g722(),
        sdp::Codec::opus(),
    ] {
        if !offered
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(&codec.name))
        {
            offered.push(codec);
        }
    }
    offered.push(sdp::Codec::telephone_event());
    local.codecs = offered;
    sdp::offer(&local)
}

impl Call {
    /// Answers a caller that sent no offer with the node's own, on a new media session
    /// (an IVR flow or a feature code answers); `Err(503)` without media ports.
    pub(super) fn offer_to_a(&mut self) -> Result<(), u16> {
        let session = self.ctx.relay.allocate().map_err(|_| 503u16)?;
        let offer = node_offer(self.ctx.media_ip, &session, Side::A, None);
        self.media_events = Some(session.events());
        self.media = Some(session);
        self.answered_by_node(offer);
        Ok(())
    }

    /// The callee answered the node's offer on a late-offer call: side B is set, and
    /// the offer for the caller's 200 comes back (`None` when the answer is unusable:
    /// no SDP, no codec the engine knows, or an SRTP leg without a key).
    pub(super) fn offer_to_a_from_b(&mut self, answer: &[u8]) -> Option<Vec<u8>> {
        if !self.srtp_answer_to_b(answer) {
            return None;
        }
        let sdp = Sdp::parse(answer).ok()?;
        let session = self.media.as_ref()?;
        if let Some(remote) = sdp.audio_remote() {
            session.set_remote(Side::B, remote.rtp, remote.rtcp);
        }
        watch_media(session, Side::B, &sdp);
        let b = codecs::leg_codec(&sdp)?;
        session.set_codec(Side::B, b).ok()?;
        self.b_codec = Some(b);
        let offer = node_offer(self.ctx.media_ip, session, Side::A, Some(b));
        self.late_offer = Some(LateOffer::Bridge {
            answer: answer.to_vec(),
        });
        Some(offer.to_bytes())
    }

    /// The caller's ACK on a call whose 200 carried the node's offer: its answer sets
    /// side A, and what waited for it goes on.
    pub(super) async fn on_late_answer(&mut self, body: &[u8]) {
        let Some(pending) = self.late_offer.take() else {
            return;
        };
        let answer = Sdp::parse(body).ok();
        let codec = answer.as_ref().and_then(codecs::leg_codec);
        let set = match (&answer, codec, self.media.as_ref()) {
            (Some(answer), Some(codec), Some(session)) => {
                if let Some(remote) = answer.audio_remote() {
                    session.set_remote(Side::A, remote.rtp, remote.rtcp);
                }
                watch_media(session, Side::A, answer);
                session.set_codec(Side::A, codec).is_ok()
            }
            _ => false,
        };
        let (Some(answer), Some(codec), true) = (answer, codec, set) else {
            warn!(
                call = self.id.0,
                "the caller's ACK carries no usable answer to the node's offer"
            );
            return self.hang_up_both("no_answer_in_ack").await;
        };
        debug!(
            call = self.id.0,
            ?codec,
            "the caller answered the node's offer"
        );
        self.a_codec = Some(codec);
        self.a_offer = Some(answer);
        match pending {
            LateOffer::Ivr(flow, set) => {
                self.watch_caller_audio(codec);
                self.run_ivr(flow, set, codec).await;
            }
            LateOffer::Feature(feature) => {
                self.watch_caller_audio(codec);
                self.confirm_feature(feature, codec).await;
            }
            LateOffer::Bridge { answer } => {
                if let Some(b) = self.b_codec
                    && b.codec != codec.codec
                {
                    debug!(call = self.id.0, a = ?codec.codec, b = ?b.codec, "transcoding");
                }
                self.start_recording(&answer);
                self.start_streaming(&answer);
            }
        }
    }

    /// Decodes the caller's audio (in-band digits, voicemail) on a call the node
    /// answered.
    fn watch_caller_audio(&self, codec: LegCodec) {
        if let Some(session) = &self.media {
            session.watch_audio(Side::A, codec.pt, codec.codec);
        }
    }
}
