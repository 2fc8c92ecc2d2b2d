//! The media side of a call task: what the relay is told to watch, the SDP rewritten
//! between the legs (and the codec choice it carries), the SRTP keys of each leg, the
//! call's recording, and the quality figures the CDR keeps.
//!
//! SRTP is terminated per leg: a leg whose phone speaks SRTP has its own SDES exchange
//! with the node ([`SrtpLegs`]), the relay opens what that phone sends with the phone's
//! key and protects what it is sent with the node's key, so recording, taps, monitoring
//! and transcoding see plain RTP. Keys are only ever written into descriptions for the
//! leg they belong to (a phone's key never reaches the other leg), only on legs signalled
//! over TLS, and never logged.

use media::quality::Codec as QualityCodec;
use media::srtp::{CryptoAttribute, SdesExchange, SrtpSuite};
use media::{Session, Side};
use sip::net::TransportKind;
use sip::sdp::{Attribute, Crypto, Media, MediaKind, Proto, Sdp};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::debug;

use super::{Call, Phase, unix_ms};
use crate::codecs;
use crate::recording::{self, CallRecording};
use crate::registrar::Binding;
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

/// Which of an extension's phones a leg the node offers rings, by the leg's SRTP.
#[derive(Debug)]
pub(super) enum Reach {
    /// The phones on TLS, with an SRTP offer in `suite` (SDES keys travel only there).
    Srtp(Vec<Binding>, SrtpSuite),
    /// Every phone, with a plain offer.
    Plain(Vec<Binding>),
    /// The leg must be SRTP and no phone of the extension is on TLS to take the keys.
    NoTlsPhone,
}

/// Which of `bindings` a new leg rings. `suite`: the leg terminates SRTP in it when a
/// phone is on TLS (the caller's leg does, or the extension requires it); `required`:
/// a plain leg is refused rather than rung.
pub(super) fn reach(mut bindings: Vec<Binding>, suite: Option<SrtpSuite>, required: bool) -> Reach {
    let tls = |b: &Binding| b.source.transport == TransportKind::Tls;
    match suite {
        Some(suite) if bindings.iter().any(tls) => {
            bindings.retain(tls);
            Reach::Srtp(bindings, suite)
        }
        _ if required => Reach::NoTlsPhone,
        _ => Reach::Plain(bindings),
    }
}

/// SRTP on a call's legs: the SDES exchange of each leg that terminates it (a leg without
/// one speaks plain RTP), and which leg's relayed offer waits for the other's answer.
#[derive(Debug, Default)]
pub(super) struct SrtpLegs {
    /// Indexed by side: A, then B.
    exchanges: [Option<SdesExchange>; 2],
    offer_from: Option<Side>,
}

impl SrtpLegs {
    fn exchange(&mut self, side: Side) -> Option<&mut SdesExchange> {
        self.exchanges[slot(side)].as_mut()
    }

    /// Whether any leg of the call terminates SRTP.
    fn any(&self) -> bool {
        self.exchanges.iter().any(Option::is_some)
    }
}

pub(super) fn slot(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

/// The first active audio stream of `sdp`: the one the relay anchors.
fn active_audio(sdp: &Sdp) -> Option<usize> {
    sdp.media
        .iter()
        .position(|m| m.kind == MediaKind::Audio && m.port != 0)
}

/// The `a=crypto` values of `sdp`'s active audio stream, as RFC 4568 writes them.
pub(super) fn crypto_lines(sdp: &Sdp) -> Vec<String> {
    let Some(media) = active_audio(sdp).and_then(|i| sdp.media.get(i)) else {
        return Vec::new();
    };
    media
        .crypto()
        .map(|c| {
            let mut line = format!("{} {} {}", c.tag, c.suite, c.key_params);
            for param in &c.session_params {
                line.push(' ');
                line.push_str(param);
            }
            line
        })
        .collect()
}

/// Makes `sdp`, on its way to a leg, carry what that leg needs: the node's own `lines`
/// on a leg that terminates SRTP (a description that had no keys gets an SAVP profile),
/// or no keys and an AVP profile on a plain leg. Whatever keys it carried are removed
/// first, from every stream: a phone's key never reaches another leg.
pub(super) fn key_for_leg(sdp: &mut Sdp, lines: Option<&[CryptoAttribute]>) {
    let is_crypto = |a: &Attribute| matches!(a, Attribute::Crypto(_));
    let active = active_audio(sdp);
    let had_keys = !crypto_lines(sdp).is_empty();
    sdp.attributes.retain(|a| !is_crypto(a));
    for media in &mut sdp.media {
        media.attributes.retain(|a| !is_crypto(a));
    }
    let Some(media) = active.and_then(|i| sdp.media.get_mut(i)) else {
        return;
    };
    match lines {
        Some(lines) => {
            if !had_keys {
                secure_profile(media);
            }
            media
                .attributes
                .extend(lines.iter().map(|line| Attribute::Crypto(crypto(line))));
        }
        None => {
            media.proto = match media.proto {
                Proto::RtpSavp => Proto::RtpAvp,
                Proto::RtpSavpf => Proto::RtpAvpf,
                ref other => other.clone(),
            }
        }
    }
}

/// Raises an RTP profile to its SRTP form (AVP → SAVP, AVPF → SAVPF).
fn secure_profile(media: &mut Media) {
    media.proto = match media.proto {
        Proto::RtpAvp => Proto::RtpSavp,
        Proto::RtpAvpf => Proto::RtpSavpf,
        ref other => other.clone(),
    };
}

/// An `a=crypto` line of the node's, as the SDP model holds it.
fn crypto(line: &CryptoAttribute) -> Crypto {
    Crypto {
        tag: line.tag,
        suite: line.suite.name().to_owned(),
        key_params: line.key.to_string(),
        session_params: line.session_params.clone(),
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
    /// both sides speak a codec the node decodes; `answer` is B's SDP as B sent it.
    pub(super) fn start_recording(&mut self, answer: &[u8]) {
        let Some(session) = self.media.as_ref().filter(|_| self.ctx.record) else {
            return;
        };
        let (Some(a), Ok(b)) = (self.a_offer.as_ref(), Sdp::parse(answer)) else {
            return debug!(call = self.id.0, "no SDP to record from");
        };
        let Some(payloads) = recording::tapped_payloads(a, &b) else {
            return debug!(call = self.id.0, "not recorded: no codec the node decodes");
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
    /// apart) when the bridge is configured for it and both sides speak a codec the
    /// node decodes.
    pub(super) fn start_streaming(&mut self, answer: &[u8]) {
        let Some(bridge) = self.ctx.bridge.clone().filter(|b| b.streams_audio()) else {
            return;
        };
        let Some(session) = self.media.as_ref() else {
            return;
        };
        let (Some(a), Ok(b)) = (self.a_offer.as_ref(), Sdp::parse(answer)) else {
            return;
        };
        let Some(payloads) = recording::tapped_payloads(a, &b) else {
            return debug!(call = self.id.0, "not streamed: no codec the node decodes");
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
        let seq = &mut seqs[slot(side)];
        bridge.audio_chunk(*call, side == Side::A, *seq, samples);
        *seq += 1;
    }

    /// The call's audio stream, if any, ends; the reference it carried when some
    /// of its audio was missed. A recorded call's stream ends with its recording
    /// instead ([`Call::finish_recording`]), which asks whether live audio was
    /// missed.
    pub(super) fn stop_streaming(&mut self) -> Option<sync_bridge::classify::CallRef> {
        if self.recording.is_none() {
            self.close_stream()
        } else {
            None
        }
    }

    /// The call ends having missed live audio (`call`), and its recording was
    /// stopped before: that recording's audio goes to the bridge now.
    pub(super) async fn queue_stopped_recording(&mut self, call: sync_bridge::classify::CallRef) {
        let (Some(row), Some(bridge)) = (self.stopped_recording.take(), self.ctx.bridge.as_ref())
        else {
            return;
        };
        let queued = crate::bridge_recorded::queue_indexed(
            &self.ctx.store,
            bridge,
            &row,
            call,
            &self.cdr.call_id,
        );
        if let Err(error) = queued.await {
            tracing::error!(call = self.id.0, %error, "stopped recording not queued for analysis");
        }
    }

    /// Ends the call's audio stream; the reference it carried when some of its
    /// audio was missed.
    fn close_stream(&mut self) -> Option<sync_bridge::classify::CallRef> {
        let bridge = self.ctx.bridge.as_ref()?;
        let (call, _) = self.stream.take()?;
        bridge.close_call(call).then_some(call)
    }

    /// Completes the recording, if any, and indexes it. At the call's end this
    /// also ends its audio stream: when some live audio was missed, the
    /// recording is indexed together with its audio for the bridge
    /// ([`crate::bridge_recorded`]).
    pub(super) async fn finish_recording(&mut self) {
        self.record_tick = None;
        let Some(rec) = self.recording.take() else {
            return;
        };
        let missed = if self.phase == Phase::Ended {
            self.close_stream()
        } else {
            None
        };
        let row = match rec.finish() {
            Ok(row) => row,
            Err(error) => {
                return tracing::warn!(call = self.id.0, %error, "recording not finished");
            }
        };
        let indexed = match (missed, self.ctx.bridge.as_ref()) {
            (Some(call), Some(bridge)) => {
                let call_id = &self.cdr.call_id;
                crate::bridge_recorded::index(&self.ctx.store, bridge, &row, call, call_id).await
            }
            _ => self.ctx.store.add_recording(&row).await,
        };
        if indexed.is_ok() && self.phase != Phase::Ended {
            // Stopped on demand: should live audio be missed, this is what the
            // bridge gets when the call ends.
            self.stopped_recording = Some(row.clone());
        }
        match indexed {
            Ok(()) => self.publish_call_event(
                crate::api::EventKind::RecordingReady,
                serde_json::json!({ "cdr_id": self.cdr.id }),
            ),
            Err(error) => tracing::error!(call = self.id.0, %error, "recording not indexed"),
        }
    }

    /// Rewrites an SDP body that arrived from `from` so the other leg sends
    /// its RTP to the relay, and points the relay at the sender's address.
    pub(super) fn relay_sdp(&mut self, from: Side, body: &[u8]) -> Option<Vec<u8>> {
        if body.is_empty() {
            return None;
        }
        let mut sdp = Sdp::parse(body).ok()?;
        self.media.as_ref()?;
        self.peer_sends[slot(from)] = super::rtp_watch::sends(&sdp);
        self.srtp_relay(from, &mut sdp);
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
        self.media.as_ref()?;
        if !self.srtp_answer_from_b(&mut sdp) {
            // Never a plain-RTP answer to an SRTP caller.
            return None;
        }
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

/// SRTP terminated per leg (see the module documentation).
impl Call {
    /// Terminates the caller's SRTP on a bridged call: answers the caller's keys (488 when
    /// none is usable) and writes the node's own offer toward the callee into `sdp`.
    pub(super) fn srtp_toward_b(&mut self, session: &Session, sdp: &mut Sdp) -> Result<(), u16> {
        let mut caller = SdesExchange::new();
        // The node's keys: 30 bytes each from the thread-local CSPRNG.
        if caller.answer(crypto_lines(sdp), rand::random()).is_err() {
            debug!(call = self.id.0, "no usable SRTP key in the caller's offer");
            return Err(488);
        }
        session.set_srtp(Side::A, caller.keys());
        let prefer = caller
            .keys()
            .map_or(SrtpSuite::AesCm128HmacSha1_80, |k| k.suite);
        self.srtp_legs.exchanges[slot(Side::A)] = Some(caller);
        self.srtp_offer_to_b(sdp, prefer);
        Ok(())
    }

    /// Terminates the caller's SRTP on a call the node answers itself: `answer` (made
    /// from `offer` with its keys taken out) gets the node's key and the offer's profile.
    pub(super) fn srtp_answer_a(
        &mut self,
        session: &Session,
        offer: &Sdp,
        answer: &mut Sdp,
    ) -> Result<(), u16> {
        let mut caller = SdesExchange::new();
        let Ok(line) = caller.answer(crypto_lines(offer), rand::random()) else {
            debug!(call = self.id.0, "no usable SRTP key in the caller's offer");
            return Err(488);
        };
        key_for_leg(answer, Some(std::slice::from_ref(line)));
        let offered = active_audio(offer).and_then(|i| offer.media.get(i));
        let answered = active_audio(answer).and_then(|i| answer.media.get_mut(i));
        if let (Some(offered), Some(answered)) = (offered, answered) {
            answered.proto = offered.proto.clone();
        }
        session.set_srtp(Side::A, caller.keys());
        self.srtp_legs.exchanges[slot(Side::A)] = Some(caller);
        Ok(())
    }

    /// A second leg the node offers itself (an agent, a transfer target, a callee that
    /// requires SRTP) terminates SRTP in `suite` (see [`reach`]): `offer` gets the
    /// node's key for side B.
    pub(super) fn srtp_offer_to_b(&mut self, offer: &mut Sdp, suite: SrtpSuite) {
        let mut exchange = SdesExchange::new();
        key_for_leg(offer, Some(exchange.offer(suite, rand::random())));
        self.srtp_legs.exchanges[slot(Side::B)] = Some(exchange);
        self.srtp_legs.offer_from = None;
    }

    /// Whether a leg of the call terminates SRTP.
    pub(super) fn srtp_terminated(&self) -> bool {
        self.srtp_legs.any()
    }

    /// Whether the node terminates SRTP on `side`'s leg.
    pub(super) fn srtp_terminated_on(&self, side: Side) -> bool {
        self.srtp_legs.exchanges[slot(side)].is_some()
    }

    /// The SRTP suite to offer a leg the node adds to the call (an agent, a supervisor,
    /// a consulted party): the caller's, when the node terminates SRTP there, else the
    /// default one when the extension `required` SRTP; `None`: a plain leg.
    pub(super) fn srtp_suite_for_new_leg(&self, required: bool) -> Option<SrtpSuite> {
        let caller = self.srtp_legs.exchanges[slot(Side::A)]
            .as_ref()
            .map(|e| e.keys().map_or(SrtpSuite::AesCm128HmacSha1_80, |k| k.suite));
        caller.or(required.then_some(SrtpSuite::AesCm128HmacSha1_80))
    }

    /// Side B is to carry a phone already keyed on another leg of the node's (the
    /// consulted party of an attended transfer, on the mixing leg): `offer` repeats the
    /// node's line of that leg's `exchange`, so the phone keeps the keys it has.
    pub(super) fn srtp_offer_to_b_keeping(&mut self, mut exchange: SdesExchange, offer: &mut Sdp) {
        let prefer = exchange
            .keys()
            .map_or(SrtpSuite::AesCm128HmacSha1_80, |k| k.suite);
        key_for_leg(offer, Some(exchange.offer(prefer, rand::random())));
        self.srtp_legs.exchanges[slot(Side::B)] = Some(exchange);
        self.srtp_legs.offer_from = None;
    }

    /// The second leg the node offers is plain RTP (the relay stops protecting side
    /// B once it carries that leg: see [`Self::srtp_answer_to_b`]).
    pub(super) fn plain_b(&mut self) {
        self.srtp_legs.exchanges[slot(Side::B)] = None;
    }

    /// The answer of a leg [`Self::srtp_offer_to_b`] offered: its key goes to the
    /// relay. `false` when that leg is SRTP and the answer has no usable key (the leg
    /// must not carry the call in plain RTP).
    pub(super) fn srtp_answer_to_b(&mut self, answer: &[u8]) -> bool {
        if self.srtp_legs.exchanges[slot(Side::B)].is_none() {
            // A plain leg, perhaps after one that was not (a transfer).
            if let Some(session) = &self.media {
                session.set_srtp(Side::B, None);
            }
            return true;
        }
        Sdp::parse(answer).is_ok_and(|sdp| self.srtp_keys_from(Side::B, &sdp, true))
    }

    /// The callee's answer to the node's first offer: its keys go to the relay and the
    /// node's answer line to the caller goes into `sdp`. `false` when the callee's leg
    /// terminates SRTP and the answer has no usable key.
    fn srtp_answer_from_b(&mut self, sdp: &mut Sdp) -> bool {
        if !self.srtp_legs.any() {
            return true;
        }
        if !self.srtp_keys_from(Side::B, sdp, true) {
            return false;
        }
        self.srtp_toward(Side::A, sdp, false);
        true
    }

    /// A description relayed from `from`'s leg to the other's (re-INVITE, UPDATE and
    /// their answers): its keys are taken, and the node's own written for the other leg.
    fn srtp_relay(&mut self, from: Side, sdp: &mut Sdp) {
        if !self.srtp_legs.any() {
            return;
        }
        let to = from.other();
        let answer = self.srtp_legs.offer_from == Some(to);
        self.srtp_legs.offer_from = (!answer).then_some(from);
        if self.srtp_keys_from(from, sdp, answer) {
            self.srtp_toward(to, sdp, !answer);
        } else {
            // No usable key: the other leg gets none either, and refuses.
            key_for_leg(sdp, None);
        }
    }

    /// Takes the keys of a description from `from`'s leg (`answer`: to an offer of the
    /// node's) and hands them to the relay; `false` when that leg terminates SRTP and
    /// none is usable.
    fn srtp_keys_from(&mut self, from: Side, sdp: &Sdp, answer: bool) -> bool {
        let Some(exchange) = self.srtp_legs.exchange(from) else {
            return true;
        };
        let lines = crypto_lines(sdp);
        let agreed = if answer {
            lines
                .first()
                .is_some_and(|line| exchange.accept(line).is_ok())
        } else {
            exchange.answer(&lines, rand::random()).is_ok()
        };
        if !agreed {
            debug!(call = self.id.0, ?from, "no usable SRTP key");
            return false;
        }
        if let Some(session) = &self.media {
            session.set_srtp(from, exchange.keys());
        }
        true
    }

    /// Writes the node's keys for `to`'s leg into `sdp`: its offer lines (`offer`) or its
    /// answer line; none, and a plain profile, when that leg speaks plain RTP.
    fn srtp_toward(&mut self, to: Side, sdp: &mut Sdp, offer: bool) {
        let prefer = self.srtp_legs.exchanges[slot(to.other())]
            .as_ref()
            .and_then(SdesExchange::keys)
            .map_or(SrtpSuite::AesCm128HmacSha1_80, |k| k.suite);
        let lines = match self.srtp_legs.exchange(to) {
            None => None,
            Some(exchange) if offer => Some(exchange.offer(prefer, rand::random()).to_vec()),
            Some(exchange) => exchange.answer_line().cloned().map(|line| vec![line]),
        };
        key_for_leg(sdp, lines.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use media::srtp::MasterKey;

    use super::*;

    fn line(tag: u32, fill: u8) -> CryptoAttribute {
        CryptoAttribute::generate(tag, SrtpSuite::AesCm128HmacSha1_80, [fill; MasterKey::LEN])
    }

    /// A caller's description: audio (with a key unless `key` is `None`) and a disabled
    /// video stream that carries a key too.
    fn description(proto: &str, key: Option<&CryptoAttribute>) -> Sdp {
        let crypto = key.map_or(String::new(), |k| format!("a=crypto:{k}\r\n"));
        let text = format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
             m=audio 4000 {proto} 0 101\r\na=rtpmap:0 PCMU/8000\r\n{crypto}\
             m=video 0 {proto} 96\r\n{crypto}"
        );
        Sdp::parse(text.as_bytes()).expect("a valid test description")
    }

    fn text(sdp: &Sdp) -> String {
        String::from_utf8(sdp.to_bytes()).expect("SDP is text")
    }

    #[test]
    fn crypto_lines_read_the_active_audio_streams_keys_as_written() {
        let key = line(3, 0x21);
        let sdp = description("RTP/SAVP", Some(&key));
        let lines = crypto_lines(&sdp);
        assert_eq!(lines, [key.to_string()]);
        assert_eq!(CryptoAttribute::parse(&lines[0]), Ok(key));
    }

    #[test]
    fn a_phones_key_never_reaches_the_other_leg() {
        let phone = line(1, 0x11);
        let phone_key = phone.key.to_string();
        let ours = [line(1, 0x77), line(2, 0x78)];
        let mut toward_srtp = description("RTP/SAVP", Some(&phone));
        key_for_leg(&mut toward_srtp, Some(&ours));
        let written = text(&toward_srtp);
        assert!(!written.contains(&phone_key), "{written}");
        assert_eq!(
            crypto_lines(&toward_srtp),
            [ours[0].to_string(), ours[1].to_string()]
        );
        assert_eq!(written.matches("a=crypto").count(), 2, "{written}");
        assert!(written.contains("m=audio 4000 RTP/SAVP"), "{written}");

        let mut toward_plain = description("RTP/SAVP", Some(&phone));
        key_for_leg(&mut toward_plain, None);
        let written = text(&toward_plain);
        assert!(!written.contains("a=crypto"), "{written}");
        assert!(written.contains("m=audio 4000 RTP/AVP "), "{written}");
    }

    #[test]
    fn profiles_follow_the_leg() {
        let ours = [line(1, 0x31)];
        // From a plain leg to an SRTP leg: SAVP.
        let mut sdp = description("RTP/AVP", None);
        key_for_leg(&mut sdp, Some(&ours));
        assert!(text(&sdp).contains("m=audio 4000 RTP/SAVP"));
        // A best-effort offer (AVP with a key) keeps its profile.
        let mut sdp = description("RTP/AVP", Some(&line(1, 0x41)));
        key_for_leg(&mut sdp, Some(&ours));
        assert!(text(&sdp).contains("m=audio 4000 RTP/AVP "));
        // AVPF and SAVPF map onto each other.
        let mut sdp = description("RTP/SAVPF", Some(&line(1, 0x51)));
        key_for_leg(&mut sdp, None);
        assert!(text(&sdp).contains("m=audio 4000 RTP/AVPF"));
    }
}
