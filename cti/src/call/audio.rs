//! The media side of a call task: what the relay is told to watch, the SDP rewritten
//! between the legs (and the codec choice it carries), the call's recording, and the
//! quality figures the CDR keeps.

use media::quality::Codec as QualityCodec;
use media::{Session, Side};
use sip::sdp::{MediaKind, Proto, Sdp};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::debug;

use super::{Call, unix_ms};
use crate::codecs;
use crate::recording::{self, CallRecording};
use crate::store::PartyQuality;

/// True when an active stream of `sdp` asks for SRTP (an SAVP profile or an
/// SDES `a=crypto` key).
pub(super) fn offers_srtp(sdp: &Sdp) -> bool {
    sdp.media
        .iter()
        .filter(|m| m.port != 0)
        .any(|m| m.crypto().next().is_some() || matches!(m.proto, Proto::RtpSavp | Proto::RtpSavpf))
}

/// Listens to what `side` sends, as its SDP describes it: RFC 4733 digits
/// when it offers telephone-event, else DTMF tones in its G.711 audio; and the
/// quality of its audio stream.
pub(super) fn watch_media(session: &Session, side: Side, sdp: &Sdp) {
    let payloads: Vec<_> = sdp
        .media
        .iter()
        .filter(|m| m.kind == MediaKind::Audio && m.port != 0)
        .flat_map(|m| m.payloads())
        .collect();
    let (events, audio): (Vec<_>, Vec<_>) = payloads
        .iter()
        .partition(|p| p.name.eq_ignore_ascii_case("telephone-event"));
    if let Some(p) = events.first() {
        let _ = session.watch_dtmf(side, p.pt.0, p.clock_rate);
    } else if let Some(p) = audio.first() {
        let law = if p.name.eq_ignore_ascii_case("PCMU") {
            Some(media::G711Law::Mu)
        } else if p.name.eq_ignore_ascii_case("PCMA") {
            Some(media::G711Law::A)
        } else {
            None
        };
        if let Some(law) = law {
            session.watch_inband_dtmf(side, p.pt.0, law);
        }
    }
    if let Some(p) = audio.first() {
        let codec = if p.name.eq_ignore_ascii_case("opus") {
            QualityCodec::Opus
        } else {
            QualityCodec::G711Plc
        };
        session.watch_quality(side, p.clock_rate, codec);
    }
}

pub(super) fn party_quality(q: Option<media::LegQuality>) -> Option<PartyQuality> {
    q.filter(|q| q.received > 0).map(|q| PartyQuality {
        mos: q.mos,
        loss_pct: 100.0 * q.lost as f64 / (q.received + q.lost) as f64,
        jitter_ms: q.jitter_ms,
        rtt_ms: q.rtt_ms,
    })
}

impl Call {
    pub(super) fn on_record_tick(&mut self, at: Instant) {
        if let Some(rec) = self.recording.as_mut()
            && let Err(e) = rec.handle_timeout(at.into_std())
        {
            self.recording_failed(&e);
        }
    }

    /// A write failed: the file's state is unknown, so recording stops (the
    /// file stays, unindexed).
    /// Pauses (or resumes) the call's recording; `false` when it is not recorded.
    pub(super) fn pause_recording(&mut self, pause: bool) -> bool {
        let now = Instant::now().into_std();
        let Some(rec) = self.recording.as_mut() else {
            return false;
        };
        let done = if pause {
            rec.pause(now)
        } else {
            rec.resume(now)
        };
        match done {
            Ok(()) => {
                debug!(call = self.id.0, pause, "recording paused or resumed");
                true
            }
            Err(e) => {
                self.recording_failed(&e);
                false
            }
        }
    }

    pub(super) fn recording_failed(&mut self, error: &media::wav::RecordError) {
        tracing::warn!(call = self.id.0, %error, "recording stopped");
        self.recording = None;
        self.record_tick = None;
    }

    /// Starts recording the answered call when the node records calls and
    /// both sides speak G.711; `answer` is B's SDP as B sent it.
    pub(super) fn start_recording(&mut self, answer: &[u8]) {
        let Some(session) = self.media.as_ref().filter(|_| self.ctx.record) else {
            return;
        };
        let (Ok(a), Ok(b)) = (Sdp::parse(&self.a_invite.body), Sdp::parse(answer)) else {
            return debug!(call = self.id.0, "no SDP to record from");
        };
        let Some(payloads) = recording::g711_payloads(&a, &b) else {
            return debug!(call = self.id.0, "not recorded: the codec is not G.711");
        };
        let dir = self.ctx.data_dir.join("recordings");
        match CallRecording::start(&dir, &self.cdr.id, unix_ms()) {
            Ok(rec) => {
                for (side, (pt, law)) in Side::ALL.into_iter().zip(payloads) {
                    session.watch_audio(side, pt, law);
                }
                let mut tick = tokio::time::interval(media::wav::FRAME);
                tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
                self.recording = Some(rec);
                self.record_tick = Some(tick);
            }
            Err(error) => tracing::warn!(call = self.id.0, %error, "not recorded"),
        }
    }

    /// Starts streaming the answered call's audio to the cloud (caller and agent
    /// apart) when the bridge is configured for it and both sides speak G.711.
    pub(super) fn start_streaming(&mut self, answer: &[u8]) {
        let Some(bridge) = self.ctx.bridge.clone().filter(|b| b.streams_audio()) else {
            return;
        };
        let Some(session) = self.media.as_ref() else {
            return;
        };
        let (Ok(a), Ok(b)) = (Sdp::parse(&self.a_invite.body), Sdp::parse(answer)) else {
            return;
        };
        let Some(payloads) = recording::g711_payloads(&a, &b) else {
            return debug!(call = self.id.0, "not streamed: the codec is not G.711");
        };
        for (side, (pt, law)) in Side::ALL.into_iter().zip(payloads) {
            session.watch_audio(side, pt, law);
        }
        let call = bridge.open_call(&self.cdr.id, &self.cdr.call_id);
        self.stream = Some((call, [0, 0]));
    }

    /// One packet's audio of `side`, to the cloud.
    pub(super) fn stream_audio(&mut self, side: Side, samples: &[i16]) {
        let (Some(bridge), Some((call, seqs))) = (self.ctx.bridge.as_ref(), self.stream.as_mut())
        else {
            return;
        };
        let seq = &mut seqs[usize::from(side == Side::B)];
        bridge.audio_chunk(*call, side == Side::A, *seq, samples);
        *seq += 1;
    }

    /// The call's audio stream, if any, ends.
    pub(super) fn stop_streaming(&mut self) {
        if let (Some(bridge), Some((call, _))) = (self.ctx.bridge.as_ref(), self.stream.take()) {
            bridge.close_call(call);
        }
    }

    /// Completes the recording, if any, and indexes it.
    pub(super) async fn finish_recording(&mut self) {
        self.record_tick = None;
        let Some(rec) = self.recording.take() else {
            return;
        };
        match rec.finish() {
            Ok(row) => match self.ctx.store.add_recording(&row).await {
                Ok(()) => self.publish_call_event(
                    crate::api::EventKind::RecordingReady,
                    serde_json::json!({ "cdr_id": self.cdr.id }),
                ),
                Err(error) => tracing::error!(call = self.id.0, %error, "recording not indexed"),
            },
            Err(error) => tracing::warn!(call = self.id.0, %error, "recording not finished"),
        }
    }

    /// Rewrites an SDP body that arrived from `from` so the other leg sends
    /// its RTP to the relay, and points the relay at the sender's address.
    pub(super) fn relay_sdp(&mut self, from: Side, body: &[u8]) -> Option<Vec<u8>> {
        if body.is_empty() {
            return None;
        }
        let mut sdp = Sdp::parse(body).ok()?;
        let session = self.media.as_ref()?;
        if let Some(remote) = sdp.audio_remote() {
            session.set_remote(from, remote.rtp, remote.rtcp);
        }
        watch_media(session, from, &sdp);
        let (port, origin) = match from {
            Side::A => (session.local(Side::B).port(), &mut self.origin_b),
            Side::B => (session.local(Side::A).port(), &mut self.origin_a),
        };
        sdp.rewrite_for_relay(self.ctx.media_ip, &[port], origin);
        Some(sdp.to_bytes())
    }

    /// The callee's answer to the caller's first offer, rewritten for the caller: the
    /// relay learns B's address, both legs' codecs are chosen (see [`codecs`]), and
    /// when they differ the answer is narrowed to the caller's codec.
    pub(super) fn answer_from_b(&mut self, body: &[u8]) -> Option<Vec<u8>> {
        if body.is_empty() {
            return None;
        }
        let mut sdp = Sdp::parse(body).ok()?;
        let session = self.media.as_ref()?;
        if let Some(remote) = sdp.audio_remote() {
            session.set_remote(Side::B, remote.rtp, remote.rtcp);
        }
        watch_media(session, Side::B, &sdp);
        if let Some(offer) = &self.a_offer
            && let Some(choice) = codecs::choose(offer, &sdp)
        {
            let set = session
                .set_codec(Side::B, choice.b)
                .and_then(|()| session.set_codec(Side::A, choice.a));
            if set.is_ok() {
                self.a_codec.get_or_insert(choice.a);
                self.b_codec = Some(choice.b);
            }
            match set {
                Ok(()) if choice.transcode => {
                    debug!(call = self.id.0, a = ?choice.a.codec, b = ?choice.b.codec, "transcoding");
                    codecs::narrow_answer(&mut sdp, offer, choice.a);
                }
                Ok(()) => {}
                Err(error) => debug!(call = self.id.0, %error, "codecs not set"),
            }
        }
        let port = session.local(Side::A).port();
        sdp.rewrite_for_relay(self.ctx.media_ip, &[port], &mut self.origin_a);
        Some(sdp.to_bytes())
    }
}
