//! A supervisor on a connected call: listen, whisper (coach the agent) or barge.
//!
//! A supervisor asks through the CTI API; the node rings the supervisor's registered
//! phone as a third leg of the call (the node is the UAC), and once it answers the
//! call's media session mixes for it: in `listen` the supervisor hears caller and
//! agent and nobody hears the supervisor; in `whisper` the agent hears the
//! supervisor too; in `barge` everyone hears everyone. The mode can change while the
//! supervisor stays on the line.
//!
//! ```text
//!  node ──INVITE (offer from the session's monitor port)──► supervisor
//!  node ◄──────────200───────────────────────────────────── supervisor   → mixing
//!  BYE from the supervisor ──► 200, the mix is detached; the call goes on
//!  the call ends ──► BYE (or CANCEL) to the supervisor
//! ```
//!
//! One supervisor per call at a time; a second request for a different supervisor is
//! refused (`Busy`) rather than silently replacing the first.
//!
//! The same leg carries the consulted party of an attended transfer ([`Purpose::Consult`],
//! see `consult.rs`): its answer, failure and BYE are handed to the consultation, and
//! supervisor requests leave it alone.

use media::LegCodec;
use media::mix::MonitorMode;
use media::srtp::SdesExchange;
use sip::dialog::Dialog;
use sip::message::{HeaderName, Method, Request, Response};
use sip::net::Target;
use sip::sdp::{self, LocalMedia, Sdp};
use sip::transaction::TsxKey;
use tokio::sync::oneshot;
use tracing::debug;

use super::audio::{Reach, key_for_leg, reach};
use super::{Call, Phase};
use crate::api::{MonitorRefusal, MonitorRequest};
use crate::endpoint::Command;

/// What a call's third leg is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// A supervisor listening, whispering or barging, or a conference party.
    Supervise,
    /// The party an agent consults before an attended transfer.
    Consult,
}

/// The supervisor's (or consulted party's) leg of a call.
pub(super) struct MonitorLeg {
    pub(super) supervisor: String,
    pub(super) purpose: Purpose,
    /// The `o=` session id of the offers made on this leg.
    pub(super) session_id: u64,
    call_id: String,
    tag: String,
    mode: MonitorMode,
    /// INVITEs still ringing, one per registered contact.
    invites: Vec<(TsxKey, Request, Target)>,
    pub(super) dialog: Option<(Dialog, Target)>,
    /// The node's SDES offer when the leg is SRTP (see [`Call::ring_third_leg`]).
    pub(super) srtp: Option<SdesExchange>,
}

/// The one codec the monitor leg offers: every SIP phone speaks PCMU.
pub(super) fn monitor_codec() -> LegCodec {
    LegCodec {
        codec: media::codec::Codec::Pcmu,
        pt: 0,
        event_pt: Some(101),
    }
}

/// The media library's name for an API mode.
pub(super) fn media_mode(mode: crate::api::MonitorMode) -> MonitorMode {
    match mode {
        crate::api::MonitorMode::Listen => MonitorMode::Listen,
        crate::api::MonitorMode::Whisper => MonitorMode::Whisper,
        crate::api::MonitorMode::Barge => MonitorMode::Barge,
    }
}

impl Call {
    /// Carries out a supervisor's request and says whether it could.
    pub(super) async fn on_monitor(
        &mut self,
        request: MonitorRequest,
        reply: oneshot::Sender<Result<(), MonitorRefusal>>,
    ) {
        let consulting = self.consult.is_some()
            || self
                .monitor
                .as_ref()
                .is_some_and(|m| m.purpose == Purpose::Consult);
        let result = match request {
            _ if consulting => Err(MonitorRefusal::Consulting),
            MonitorRequest::Start { supervisor, mode } => {
                self.start_monitor(supervisor, media_mode(mode)).await
            }
            MonitorRequest::Stop => self.stop_monitor().await,
        };
        let _ = reply.send(result);
    }

    async fn start_monitor(
        &mut self,
        supervisor: String,
        mode: MonitorMode,
    ) -> Result<(), MonitorRefusal> {
        if self.phase != Phase::Answered || self.b.is_none() {
            return Err(MonitorRefusal::NotConnected);
        }
        if let Some(leg) = self.monitor.as_mut() {
            if leg.supervisor != supervisor {
                return Err(MonitorRefusal::Busy(leg.supervisor.clone()));
            }
            leg.mode = mode;
            if let Some(session) = self.media.as_ref() {
                let _ = session.set_monitor_mode(mode);
            }
            self.publish_monitor("call.monitor_mode", &supervisor, Some(mode));
            return Ok(());
        }
        self.ring_third_leg(supervisor, mode, Purpose::Supervise)
            .await
    }

    /// Attaches a mixing leg to the call's media in `mode` and rings every registered
    /// phone of `ext` with an offer for it.
    pub(super) async fn ring_third_leg(
        &mut self,
        ext: String,
        mode: MonitorMode,
        purpose: Purpose,
    ) -> Result<(), MonitorRefusal> {
        let bindings = self.ctx.bindings(&ext).await;
        if bindings.is_empty() {
            return Err(MonitorRefusal::NotRegistered(ext));
        }
        let session = self.media.as_ref().ok_or(MonitorRefusal::NotConnected)?;
        let local = session
            .attach_monitor(mode, monitor_codec())
            .map_err(|_| MonitorRefusal::NoMedia)?;
        let session_id = u64::from(rand::random::<u32>());
        let mut offer = self.monitor_sdp(local.port(), session_id, 1);
        // As for an agent's leg: an SRTP caller is heard in SRTP, by the phones on TLS
        // alone (the keys travel only there); without one on TLS the leg is plain. An
        // extension that requires SRTP is rung in SRTP whatever the caller's leg.
        let required = self.ctx.requires_srtp(&ext).await;
        let (bindings, srtp) =
            match reach(bindings, self.srtp_suite_for_new_leg(required), required) {
                Reach::Srtp(bindings, suite) => {
                    let mut exchange = SdesExchange::new();
                    key_for_leg(&mut offer, Some(exchange.offer(suite, rand::random())));
                    (bindings, Some(exchange))
                }
                Reach::Plain(bindings) => (bindings, None),
                Reach::NoTlsPhone => return Err(MonitorRefusal::NotRegistered(ext)),
            };
        let offer = offer.to_bytes();
        let call_id = self.ctx.new_call_id();
        let tag = self.ctx.new_tag();
        self.ctx.send(Command::Route {
            call: self.id,
            call_id: call_id.clone(),
            local_tag: tag.clone(),
        });
        let mut leg = MonitorLeg {
            supervisor: ext,
            purpose,
            session_id,
            call_id,
            tag,
            mode,
            invites: Vec::new(),
            dialog: None,
            srtp,
        };
        for b in bindings {
            let invite = self.monitor_invite(&leg, &b.contact.uri, &offer, b.source.transport);
            let target = b.target();
            let key = self.ctx.send_request(self.id, invite.clone(), target).await;
            leg.invites.push((key, invite, target));
        }
        debug!(call = self.id.0, supervisor = %leg.supervisor, ?mode, "ringing the supervisor");
        self.monitor = Some(leg);
        Ok(())
    }

    /// An SDP offer of PCMU (and telephone-event) at the node's `port`.
    pub(super) fn monitor_sdp(&self, port: u16, session_id: u64, version: u64) -> Sdp {
        let mut local = LocalMedia::new(self.ctx.media_ip, port);
        local.session_id = session_id;
        local.session_version = version;
        local.username = "switchyard".to_owned();
        local.codecs = vec![
            sdp::Codec::new("PCMU", 8000, sdp::Pt(0)),
            sdp::Codec::new("telephone-event", 8000, sdp::Pt(101)),
        ];
        sdp::offer(&local)
    }

    fn monitor_invite(
        &self,
        leg: &MonitorLeg,
        uri: &sip::message::Uri,
        sdp: &[u8],
        transport: sip::net::TransportKind,
    ) -> Request {
        let mut req = Request::new(Method::Invite, uri.clone());
        let domain = self.ctx.domain();
        let from = match leg.purpose {
            Purpose::Supervise => format!("\"Monitor {}\" <sip:monitor@{domain}>", self.cdr.caller),
            // The consulted party sees the agent calling.
            Purpose::Consult => {
                let agent = self
                    .cdr
                    .routing
                    .agent
                    .as_deref()
                    .unwrap_or(&self.cdr.callee);
                format!("<sip:{agent}@{domain}>")
            }
        };
        let h = &mut req.headers;
        h.push(HeaderName::From, format!("{from};tag={}", leg.tag));
        h.push(HeaderName::To, format!("<sip:{}@{domain}>", leg.supervisor));
        h.push(HeaderName::CallId, leg.call_id.clone());
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(HeaderName::Contact, self.ctx.contact(transport));
        self.ctx.request_headers(h);
        h.push(HeaderName::ContentType, "application/sdp");
        req.body = sdp.to_vec();
        req
    }

    /// Whether `key` is one of the monitor leg's client transactions.
    pub(super) fn monitor_owns(&self, key: TsxKey) -> bool {
        self.monitor
            .as_ref()
            .is_some_and(|m| m.invites.iter().any(|(k, ..)| *k == key))
    }

    /// A final response to an INVITE toward the supervisor.
    pub(super) async fn on_monitor_response(&mut self, key: TsxKey, resp: Response) {
        if resp.status < 200 {
            return;
        }
        let Some(leg) = self.monitor.as_mut() else {
            return;
        };
        let Some(i) = leg.invites.iter().position(|(k, ..)| *k == key) else {
            return;
        };
        let (key, invite, target) = leg.invites.remove(i);
        if !(200..300).contains(&resp.status) {
            if leg.invites.is_empty() && leg.dialog.is_none() {
                debug!(
                    call = self.id.0,
                    status = resp.status,
                    "supervisor did not answer"
                );
                if let Some((_, Purpose::Consult)) = self.drop_monitor() {
                    self.consult_failed(resp.status);
                }
            }
            return;
        }
        let Ok(mut dialog) = Dialog::uac(&invite, &resp) else {
            return;
        };
        self.ctx.send(Command::Ack {
            invite: key,
            ack: dialog.ack(1),
            target,
        });
        if leg.dialog.is_some() {
            // A second phone of the supervisor answered too: only one listens.
            let bye = dialog.request(Method::Bye);
            self.ctx.send_request(self.id, bye, target).await;
            return;
        }
        for (other, ..) in leg.invites.drain(..) {
            self.ctx.send(Command::Cancel { key: other });
        }
        leg.dialog = Some((dialog, target));
        let (supervisor, mode, purpose) = (leg.supervisor.clone(), leg.mode, leg.purpose);
        let answer = Sdp::parse(&resp.body).ok();
        if let Some(exchange) = leg.srtp.as_mut() {
            // An SRTP leg answered without a usable key never carries the call in plain.
            let line = answer
                .as_ref()
                .and_then(|a| super::audio::crypto_lines(a).into_iter().next());
            let keys = line.and_then(|line| exchange.accept(&line).ok().cloned());
            let set = keys.is_some_and(|keys| {
                self.media
                    .as_ref()
                    .is_some_and(|s| s.set_monitor_srtp(Some(&keys)).is_ok())
            });
            if !set {
                debug!(call = self.id.0, supervisor = %supervisor, "SRTP answer without a usable key");
                let _ = self.stop_monitor().await;
                if purpose == Purpose::Consult {
                    self.consult_failed(488);
                }
                return;
            }
        }
        if let (Some(session), Some(answer)) = (self.media.as_ref(), answer)
            && let Some(remote) = answer.audio_remote()
        {
            let _ = session.set_monitor_remote(remote.rtp);
        }
        match purpose {
            Purpose::Supervise => {
                self.publish_monitor("call.monitor_started", &supervisor, Some(mode));
            }
            Purpose::Consult => self.consult_answered(),
        }
    }

    /// A transaction toward the supervisor timed out.
    pub(super) fn on_monitor_timeout(&mut self, key: TsxKey) {
        if let Some(leg) = self.monitor.as_mut() {
            leg.invites.retain(|(k, ..)| *k != key);
            if leg.invites.is_empty()
                && leg.dialog.is_none()
                && let Some((_, Purpose::Consult)) = self.drop_monitor()
            {
                self.consult_failed(408);
            }
        }
    }

    /// Whether an in-dialog request belongs to the monitor leg.
    pub(super) fn is_monitor_request(&self, req: &Request) -> bool {
        self.monitor
            .as_ref()
            .is_some_and(|m| req.headers.call_id() == Some(m.call_id.as_str()))
    }

    /// An in-dialog request from the supervisor's phone: a BYE ends the monitoring.
    pub(super) fn on_monitor_request(&mut self, key: TsxKey, req: Request) {
        let Some((dialog, _)) = self.monitor.as_mut().and_then(|m| m.dialog.as_mut()) else {
            return self.ctx.respond(&key, &req, 481);
        };
        if dialog.handle_request(&req).is_err() {
            return self.ctx.respond(&key, &req, 500);
        }
        match req.method {
            Method::Ack => {}
            Method::Bye => {
                self.ctx.respond(&key, &req, 200);
                match self.drop_monitor() {
                    Some((supervisor, Purpose::Supervise)) => {
                        self.publish_monitor("call.monitor_ended", &supervisor, None);
                    }
                    Some((_, Purpose::Consult)) => self.consult_hung_up(),
                    None => {}
                }
            }
            // The monitor leg's media is the node's own: a re-INVITE is not followed.
            Method::Invite | Method::Update => self.ctx.respond(&key, &req, 488),
            _ => self.ctx.respond(&key, &req, 200),
        }
    }

    /// Ends the monitoring from the node's side: BYE (or CANCEL) to the supervisor.
    pub(super) async fn stop_monitor(&mut self) -> Result<(), MonitorRefusal> {
        let Some(leg) = self.monitor.as_mut() else {
            return Err(MonitorRefusal::NotMonitored);
        };
        for (key, ..) in leg.invites.drain(..) {
            self.ctx.send(Command::Cancel { key });
        }
        if let Some((dialog, target)) = leg.dialog.as_mut() {
            let target = *target;
            let mut bye = dialog.request(Method::Bye);
            self.ctx.request_headers(&mut bye.headers);
            self.ctx.send_request(self.id, bye, target).await;
        }
        if let Some((supervisor, Purpose::Supervise)) = self.drop_monitor() {
            self.publish_monitor("call.monitor_ended", &supervisor, None);
        }
        Ok(())
    }

    /// Forgets the monitor leg and takes the mix off the call's media; says who was
    /// on it and why.
    fn drop_monitor(&mut self) -> Option<(String, Purpose)> {
        let leg = self.monitor.take()?;
        if let Some(session) = self.media.as_ref() {
            session.detach_monitor();
        }
        Some((leg.supervisor, leg.purpose))
    }

    fn publish_monitor(&self, what: &str, supervisor: &str, mode: Option<MonitorMode>) {
        let mode = mode.map(|m| format!("{m:?}").to_lowercase());
        self.publish_call_event(
            crate::api::EventKind::CallMonitored,
            serde_json::json!({ "what": what, "supervisor": supervisor, "mode": mode }),
        );
    }
}
