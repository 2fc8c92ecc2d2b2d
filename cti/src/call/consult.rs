//! Attended (consultative) transfer from an agent's desktop: the agent puts the caller
//! aside, talks with a colleague first, then hands the caller over (or does not).
//!
//! ```text
//!  consult    caller ◄── hold prompt (muted)   agent ◄──mix (whisper)──► target  (target: the mixing leg)
//!  complete   caller ◄──mix (barge)──► target;  BYE ──► agent;  re-INVITE ──► target
//!  2xx        caller ◄──relay A ↔ B──► target                          (mixing leg detached)
//!  cancel     CANCEL or BYE ──► target;  caller ◄──► agent
//! ```
//!
//! * **Consult.** The caller is held in the media only, as a desktop's hold is: no
//!   phone is re-INVITEd. The caller hears the hold prompt (silence without one) and
//!   the relay mutes them, so nothing the caller says reaches anyone. The
//!   target extension rings from the agent on the call's mixing leg (the one a
//!   supervisor uses, so a call with a supervisor or conference party on it cannot
//!   consult) in whisper mode: with the caller silent, agent and target hear each
//!   other alone. `call.consult` events tell each stage: `ringing`, `talking`, and
//!   `failed` (busy, declined, or no answer within `[calls] ring_timeout_s`),
//!   `ended` (the target hung up) or `cancelled` (the desktop dropped it). A
//!   consultation that ends without a transfer gives the caller back to the agent.
//! * **Complete.** The agent's phone gets a BYE (the ACD starts their wrap-up), the
//!   hold prompt stops, the caller is heard again and the mixing leg switches to
//!   barge, so caller and
//!   target hear each other at once. The target is then re-INVITEd to the call's
//!   side B; on its 2xx the mixing leg is detached and the call goes on as if the
//!   target had answered it (hold, transfer, recording and monitoring apply to it).
//!   `call.transferred` (`kind: "attended"`) says so. A target that refuses the
//!   re-INVITE ends the call (`transfer_failed`).
//! * **The agent hangs up** while talking with the target: the transfer completes,
//!   as phones do. While the target still rings, the call ends as any agent hang-up
//!   ends it (the target's phone gets a CANCEL).
//! * A REFER with `Replaces` from a phone (RFC 3891, the phone's own attended
//!   transfer button) is not followed: attended transfer is the API's.

use std::net::{Ipv4Addr, SocketAddr};

use media::Side;
use media::mix::MonitorMode;
use serde_json::json;
use sip::message::{Request, Response};
use sip::sdp::Sdp;
use sip::transaction::TsxKey;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::Call;
use super::audio::watch_media;
use super::monitor::Purpose;
use crate::api::{ControlRefusal, EventKind, MonitorRefusal};
use crate::codecs;
use crate::endpoint::Command;

/// An agent's consultation, from the first ring to the target joining side B.
pub(super) struct Consult {
    /// The extension consulted.
    to: String,
    /// The agent who consults.
    from: String,
    stage: Stage,
    /// The call's own deadline (its longest duration), in force again once the
    /// target stops ringing.
    call_deadline: Instant,
}

/// Where a consultation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The target's phones ring.
    Ringing,
    /// Agent and target talk; the caller hears the hold prompt.
    Talking,
    /// The agent is gone; the target's re-INVITE (`key`, CSeq `seq`) moves it to side B.
    Joining { key: TsxKey, seq: u32 },
}

/// The address that tells the relay a side has no peer: nothing is sent there and
/// nothing is accepted from it.
pub(super) fn nowhere() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
}

impl Call {
    /// Holds the caller and rings `to` for the agent on the mixing leg.
    pub(super) async fn start_consult(&mut self, to: String) -> Result<(), ControlRefusal> {
        if self.monitor.is_some() {
            return Err(ControlRefusal::ThirdParty);
        }
        if self.a_offer.as_ref().and_then(Sdp::audio_remote).is_none() {
            return Err(ControlRefusal::NoMedia);
        }
        if self.held {
            self.resume();
        }
        self.ring_third_leg(to.clone(), MonitorMode::Whisper, Purpose::Consult)
            .await
            .map_err(|refusal| match refusal {
                MonitorRefusal::NotRegistered(ext) => ControlRefusal::NotRegistered(ext),
                _ => ControlRefusal::NoMedia,
            })?;
        if let Some(session) = &self.media {
            session.set_muted(Side::A, true);
        }
        let from = self
            .cdr
            .routing
            .agent
            .clone()
            .unwrap_or_else(|| self.cdr.callee.clone());
        self.consult = Some(Consult {
            to,
            from,
            stage: Stage::Ringing,
            call_deadline: self.deadline,
        });
        self.play_held_caller();
        self.deadline = self.deadline.min(Instant::now() + self.ctx.ring_timeout);
        self.publish_consult("ringing", None);
        Ok(())
    }

    /// The target answered: agent and target talk.
    pub(super) fn consult_answered(&mut self) {
        let Some(consult) = self.consult.as_mut() else {
            return;
        };
        consult.stage = Stage::Talking;
        self.deadline = consult.call_deadline;
        self.publish_consult("talking", None);
    }

    /// Every phone of the target refused, or none answered (`status`); the mixing
    /// leg is gone already.
    pub(super) fn consult_failed(&mut self, status: u16) {
        self.end_consult("failed", Some(status));
    }

    /// The target hung up while consulted; the mixing leg is gone already.
    pub(super) fn consult_hung_up(&mut self) {
        self.end_consult("ended", None);
    }

    /// Drops the consultation from the desktop: CANCEL or BYE to the target.
    pub(super) async fn cancel_consult(&mut self) -> Result<(), ControlRefusal> {
        match self.consult.as_ref().map(|c| c.stage) {
            Some(Stage::Ringing | Stage::Talking) => {}
            _ => return Err(ControlRefusal::NoConsultation),
        }
        let _ = self.stop_monitor().await;
        self.end_consult("cancelled", None);
        Ok(())
    }

    /// Hands the caller to the target the agent talks with; the agent gets a BYE.
    pub(super) async fn complete_consult(&mut self) -> Result<(), ControlRefusal> {
        match self.consult.as_ref().map(|c| c.stage) {
            Some(Stage::Talking) => {}
            Some(Stage::Ringing) => return Err(ControlRefusal::ConsultNotAnswered),
            _ => return Err(ControlRefusal::NoConsultation),
        }
        self.join_consulted(None).await;
        Ok(())
    }

    /// Whether the agent's BYE (`key`, `bye`, already matched to the agent's dialog)
    /// completes a consultation: it does while agent and target talk.
    pub(super) async fn agent_left_consult(&mut self, key: TsxKey, bye: &Request) -> bool {
        if self.consult.as_ref().map(|c| c.stage) != Some(Stage::Talking) {
            return false;
        }
        self.join_consulted(Some((key, bye.clone()))).await;
        true
    }

    /// The agent leaves (`agent_bye`: their own BYE to answer, else the node sends
    /// one), caller and target hear each other through the mix, and the target is
    /// re-INVITEd to side B.
    async fn join_consulted(&mut self, agent_bye: Option<(TsxKey, Request)>) {
        let Some(leg) = self.monitor.take() else {
            return;
        };
        let Some((dialog, target)) = leg.dialog else {
            return;
        };
        match agent_bye {
            Some((key, bye)) => self.ctx.respond(&key, &bye, 200),
            None => self.send_bye(Side::B).await,
        }
        // The agent's part of the call is over: the ACD starts their wrap-up.
        self.queue_call_ended();
        let Some(session) = self.media.as_ref() else {
            return;
        };
        session.set_remote(Side::B, nowhere(), None);
        session.set_srtp(Side::B, None);
        session.stop_playback(Side::A);
        session.set_muted(Side::A, false);
        let _ = session.set_monitor_mode(MonitorMode::Barge);
        let port = session.local(Side::B).port();
        let mut offer = self.monitor_sdp(port, leg.session_id, 2);
        // The target keeps the protection of the mixing leg it rang on, and its keys:
        // a phone may not take up a new key in a re-INVITE (baresip 1.0 fails to open
        // every packet after one).
        match leg.srtp {
            Some(exchange) => self.srtp_offer_to_b_keeping(exchange, &mut offer),
            None => self.plain_b(),
        }
        let offer = offer.to_bytes();
        self.b = Some((dialog, target));
        self.b_codec = None;
        let Some((key, seq)) = self.send_reinvite(Side::B, offer).await else {
            return;
        };
        let Some(consult) = self.consult.as_mut() else {
            return;
        };
        consult.stage = Stage::Joining { key, seq };
        let (from, to) = (consult.from.clone(), consult.to.clone());
        self.cdr.routing.agent = Some(to.clone());
        // The target's part of the call was not routed by the ACD.
        self.report_direct(Side::B, Some(to.clone()));
        debug!(
            call = self.id.0,
            "attended transfer: the target moves to side B"
        );
        self.publish_call_event(
            EventKind::CallTransferred,
            json!({ "from": from, "to": to, "kind": "attended" }),
        );
    }

    /// Whether `key` is the re-INVITE moving the target to side B.
    pub(super) fn consult_owns(&self, key: TsxKey) -> bool {
        matches!(
            self.consult.as_ref().map(|c| c.stage),
            Some(Stage::Joining { key: k, .. }) if k == key
        )
    }

    /// The target's answer to its re-INVITE: on a 2xx it joins side B and the mixing
    /// leg goes; a refusal ends the call.
    pub(super) async fn on_consult_response(&mut self, key: TsxKey, resp: Response) {
        if resp.status < 200 {
            return;
        }
        let Some(Stage::Joining { seq, .. }) = self.consult.take().map(|c| c.stage) else {
            return;
        };
        if !(200..300).contains(&resp.status) {
            warn!(
                call = self.id.0,
                status = resp.status,
                "the transfer target refused to move"
            );
            return self.hang_up_both("transfer_failed").await;
        }
        let Some((dialog, target)) = self.b.as_mut() else {
            return;
        };
        dialog.handle_refresh_response(&resp);
        let ack = dialog.ack(seq);
        let target = *target;
        self.ctx.send(Command::Ack {
            invite: key,
            ack,
            target,
        });
        if !self.srtp_answer_to_b(&resp.body) {
            warn!(
                call = self.id.0,
                "the transfer target moved without a usable SRTP key"
            );
            return self.hang_up_both("transfer_failed").await;
        }
        self.target_on_side_b(&resp.body);
    }

    /// The target's re-INVITE timed out: the call ends.
    pub(super) async fn on_consult_timeout(&mut self) {
        self.consult = None;
        self.hang_up_both("transfer_failed").await;
    }

    /// Points side B at the target's media from its `answer` and takes the mixing
    /// leg off: caller and target are relayed to each other.
    pub(super) fn target_on_side_b(&mut self, answer: &[u8]) {
        let Some(session) = &self.media else {
            return;
        };
        if let Ok(sdp) = Sdp::parse(answer) {
            if let Some(remote) = sdp.audio_remote() {
                session.set_remote(Side::B, remote.rtp, remote.rtcp);
            }
            watch_media(session, Side::B, &sdp);
            if let Some(codec) = codecs::leg_codec(&sdp)
                && session.set_codec(Side::B, codec).is_ok()
            {
                self.b_codec = Some(codec);
                // A recording or audio stream keeps hearing side B in its new codec.
                if self.recording.is_some() || self.stream.is_some() {
                    session.watch_audio(Side::B, codec.pt, codec.codec);
                }
            }
        }
        session.detach_monitor();
    }

    /// The target stopped ringing unanswered when the call's deadline fired during a
    /// consultation's ringing: the consultation ends, the call does not.
    pub(super) async fn consult_ring_expired(&mut self) -> bool {
        let ringing = self
            .consult
            .as_ref()
            .filter(|c| c.stage == Stage::Ringing && Instant::now() < c.call_deadline);
        if ringing.is_none() {
            return false;
        }
        let _ = self.stop_monitor().await;
        self.end_consult("failed", Some(408));
        true
    }

    /// Ends the consultation without a transfer: the caller is heard again.
    fn end_consult(&mut self, stage: &str, status: Option<u16>) {
        let Some(consult) = self.consult.take() else {
            return;
        };
        self.deadline = consult.call_deadline;
        if let Some(session) = &self.media {
            session.stop_playback(Side::A);
            session.set_muted(Side::A, false);
        }
        self.publish_consult_event(&consult, stage, status);
    }

    /// Whether the caller is held aside for a consultation (and hears the hold prompt).
    pub(super) fn consult_holds_caller(&self) -> bool {
        self.consult
            .as_ref()
            .is_some_and(|c| matches!(c.stage, Stage::Ringing | Stage::Talking))
    }

    fn publish_consult(&self, stage: &str, status: Option<u16>) {
        if let Some(consult) = &self.consult {
            self.publish_consult_event(consult, stage, status);
        }
    }

    fn publish_consult_event(&self, consult: &Consult, stage: &str, status: Option<u16>) {
        self.publish_call_event(
            EventKind::CallConsulted,
            json!({
                "stage": stage,
                "from": consult.from,
                "to": consult.to,
                "status": status,
            }),
        );
    }
}
