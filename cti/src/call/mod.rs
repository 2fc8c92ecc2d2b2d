//! One B2BUA call: a task that owns the caller's leg (A), the callee forks and
//! answered leg (B), the media session anchoring their RTP, and the call's CDR.
//!
//! The endpoint hands the task SIP events for its transactions and dialogs
//! ([`CallEvent`]); the task answers with [`Command`]s. Every decision about
//! what to send next is made here, from the events and the task's own state:
//!
//! ```text
//!  A ──INVITE──► node ──INVITE (fork per contact)──► B
//!  A ◄─18x/200── node ◄─18x/200──────────────────── B     (SDP rewritten to the relay)
//!  A ──ACK─────► node ──ACK (sent at once)─────────► B
//!  A ◄─BYE/re-INVITE/INFO relayed both ways──────────► B
//! ```
//!
//! The CDR is committed before the caller hears the final word: the failure
//! response, or the 200 to a BYE.

mod audio;
mod consult;
mod control;
mod events;
mod feature;
mod ivr;
mod late_offer;
mod monitor;
pub(crate) mod originate;
mod prack;
mod queue;
mod record;
mod refer;
mod reinvite;
mod rtp_watch;
pub(crate) mod session_timer;
mod survey;
mod trunk;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use media::srtp::SrtpSuite;
use media::{MediaEvent, Session, Side};
use sip::dialog::Dialog;
use sip::message::{HeaderName, Method, Request, Response};
use sip::net::{Source, Target, TransportKind};
use sip::sdp::{LegOrigin, Sdp};
use sip::transaction::TsxKey;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{Instant, Interval};
use tracing::debug;

use self::audio::{offers_srtp, party_quality, watch_media};
use crate::codecs;
use crate::endpoint::{CallEvent, CallRef, Command};
use crate::node::Ctx;
use crate::recording::CallRecording;
use crate::registrar::Binding;
use crate::store::{Cdr, Disposition};

/// A leg one call gives another (an attended transfer): its dialog, where it is
/// reached, how the endpoint routes it, who is on it, and the SDP origin it has
/// seen so far.
pub(crate) struct HandOver {
    dialog: Dialog,
    target: Target,
    call_id: String,
    local_tag: String,
    party: String,
    origin: LegOrigin,
}

/// What the endpoint knows when it starts a call.
pub(crate) struct CallSetup {
    pub(crate) id: CallRef,
    pub(crate) key: TsxKey,
    pub(crate) invite: Request,
    pub(crate) source: Source,
    pub(crate) caller: String,
    /// The caller proved to be this extension (digest auth), so may dial out by a
    /// trunk; a call from a trusted source never does.
    pub(crate) authenticated: bool,
    pub(crate) callee: String,
    pub(crate) bindings: Vec<Binding>,
}

/// One outgoing INVITE to one contact of the callee.
struct Fork {
    key: TsxKey,
    invite: Request,
    target: Target,
    done: bool,
    /// The trunk this leg goes out by, whose credentials answer a challenge.
    trunk: Option<Arc<crate::trunk::TrunkLine>>,
}

/// An in-dialog request relayed from one leg to the other, waiting for its answer.
struct Relayed {
    client: TsxKey,
    server: TsxKey,
    to_leg: Side,
    /// CSeq number of the request sent on `to_leg` (its ACK reuses it).
    seq: u32,
    request: Request,
}

/// The ACK to a 2xx that answered a relayed re-INVITE without SDP: that 2xx
/// carried an offer, so the ACK waits for the answer the other leg sends in its own
/// ACK (RFC 3264 §4, a late offer in a re-INVITE).
struct HeldAck {
    invite: TsxKey,
    to_leg: Side,
    /// The re-INVITE's CSeq number on `to_leg`.
    seq: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Ringing the callee's contacts.
    Routing,
    /// Answered by the node: in an IVR flow, or waiting in a queue.
    Ivr,
    /// Both legs connected.
    Answered,
    Ended,
}

struct Call {
    ctx: Arc<Ctx>,
    id: CallRef,
    a_key: TsxKey,
    a_invite: Request,
    a_source: Source,
    a_tag: String,
    a_dialog: Option<Dialog>,
    b_call_id: String,
    b_tag: String,
    forks: Vec<Fork>,
    b: Option<(Dialog, Target)>,
    relayed: Vec<Relayed>,
    media: Option<Session>,
    /// The caller offered SRTP (SDES keys in its SDP).
    srtp: bool,
    /// The SDES keys of the legs that terminate SRTP.
    srtp_legs: audio::SrtpLegs,
    /// The caller's offer as it sent it, to choose codecs when the callee answers
    /// (after a late offer: the caller's answer to the node's).
    a_offer: Option<Sdp>,
    /// The caller's INVITE carried no offer: the node offers on both legs.
    a_late: bool,
    /// What waits for the caller's answer in its ACK, after the node's 200 offered.
    late_offer: Option<late_offer::LateOffer>,
    /// An ACK that waits for the other leg's answer (a re-INVITE without SDP).
    held_ack: Option<HeldAck>,
    /// The node answered the caller itself (IVR): a B leg joins rather than answers.
    a_answered: bool,
    /// The caller's codec when the node answered it.
    a_codec: Option<media::LegCodec>,
    /// The IVR flow running the call, if a flow answered it.
    ivr: Option<ivr::IvrLeg>,
    /// The call's place in the ACD, once a flow queued it.
    queue: Option<queue::Queued>,
    /// A supervisor listening, whispering or barging (or an agent's consultation).
    monitor: Option<monitor::MonitorLeg>,
    /// The caller's place in a conference room an IVR flow sent them to.
    conference: Option<crate::conference::Seat>,
    /// An agent's consultation before an attended transfer.
    consult: Option<consult::Consult>,
    /// A recording of this call was finished before the call ended (one per call).
    recorded: bool,
    /// That recording's index row: when the call's live audio stream missed
    /// some audio, its audio goes to the bridge as the call ends.
    stopped_recording: Option<crate::store::Recording>,
    /// The post-call survey the caller was handed to when the agent hung up.
    survey: Option<survey::Survey>,
    /// The agent's codec once the second leg answered.
    b_codec: Option<media::LegCodec>,
    /// Held from the agent's desktop (the caller hears the hold prompt).
    held: bool,
    /// The call's audio stream to the cloud: its reference and each side's
    /// next chunk number.
    stream: Option<(sync_bridge::classify::CallRef, [u64; 2])>,
    /// Digits and other events the relay notices in this call's media.
    media_events: Option<UnboundedReceiver<MediaEvent>>,
    /// The answered call's recording, while `ctx.record` is on.
    recording: Option<CallRecording>,
    /// Ticks the recording's clock every 20 ms while there is one.
    record_tick: Option<Interval>,
    origin_a: LegOrigin,
    origin_b: LegOrigin,
    phase: Phase,
    best_failure: Option<u16>,
    pending_bye: Option<(TsxKey, Request)>,
    /// The caller authenticated as an extension (see [`CallSetup::authenticated`]).
    authenticated: bool,
    /// The call's place on the trunk it went out by, freed when the call ends.
    trunk_seat: Option<crate::trunk::Seat>,
    /// Who has sent what, to hang up on a party gone silent (`rtp_watch.rs`).
    rtp_watch: Option<rtp_watch::RtpWatch>,
    rtp_check: Option<Interval>,
    /// Whether each party's latest SDP says it sends (by side: A, B).
    peer_sends: [bool; 2],
    /// Re-INVITEs the node sent of its own accord, waiting for their answers.
    reinvites: Vec<reinvite::Pending>,
    /// The extensions on each side (A, B) whose part in this call the ACD did not
    /// route, as reported to it (`acd::Input::DirectCall`).
    direct: [Option<String>; 2],
    /// Who the second leg rings for, once the caller is answered (a queue's agent,
    /// a transfer's target): an extension or an external number.
    b_party: Option<String>,
    /// Reliable provisional responses (RFC 3262), when the caller's INVITE requires
    /// them.
    reliable: Option<prack::Reliable>,
    /// The caller's session timer (RFC 4028), when its INVITE asked for one.
    session_timer: Option<session_timer::SessionTimer>,
    /// The node's UPDATE refreshing the caller's session, until answered.
    session_refresh: Option<TsxKey>,
    /// The SDP the node last gave the caller as its own (when the node answered
    /// it: IVR, queue, room), to answer the caller's re-INVITEs with.
    a_sdp: Option<Sdp>,
    /// The node placed the caller's leg (`originate.rs`): `a_invite` is the INVITE
    /// it sent the caller, so the caller is its To, not its From.
    placed: bool,
    cdr: Cdr,
    deadline: Instant,
}

/// Runs a call to its end; the endpoint spawned it with the receiving end of
/// the call's event channel.
pub(crate) async fn run(ctx: Arc<Ctx>, setup: CallSetup, events: UnboundedReceiver<CallEvent>) {
    let (mut call, bindings) = Call::new(ctx, setup);
    call.start(bindings).await;
    run_call(call, events).await;
}

/// Carries `call` through its events and timers to its end.
async fn run_call(mut call: Call, mut events: UnboundedReceiver<CallEvent>) {
    while !call.finished() {
        let ivr_at = call.ivr_deadline();
        let session_at = call.session_timer_at();
        let reliable_at = call.reliable_at();
        tokio::select! {
            ev = events.recv() => match ev {
                Some(ev) => call.handle(ev).await,
                None => break,
            },
            Some(ev) = next_media_event(&mut call.media_events) => call.on_media(ev).await,
            at = next_tick(&mut call.record_tick) => call.on_record_tick(at),
            at = next_tick(&mut call.rtp_check) => call.on_rtp_check(at).await,
            () = sleep_until_some(session_at) => call.on_session_timer().await,
            () = sleep_until_some(reliable_at) => call.on_reliable_timer().await,
            () = sleep_until_some(ivr_at) => call.on_ivr_timer().await,
            result = ivr::next_http(&mut call.ivr) => call.on_http_result(result).await,
            ev = queue::next_event(&mut call.queue) => call.on_queue_event(ev).await,
            _ = tokio::time::sleep_until(call.deadline) => call.on_deadline().await,
        }
    }
    call.ctx.send(Command::Done { call: call.id });
}

/// The next media event, or never when the call has no media session.
async fn next_media_event(
    events: &mut Option<UnboundedReceiver<MediaEvent>>,
) -> Option<MediaEvent> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The next recording tick, or never when the call is not being recorded.
async fn next_tick(tick: &mut Option<Interval>) -> Instant {
    match tick {
        Some(tick) => tick.tick().await,
        None => std::future::pending().await,
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Call {
    fn new(ctx: Arc<Ctx>, s: CallSetup) -> (Call, Vec<Binding>) {
        let call_id = s.invite.headers.call_id().unwrap_or_default().to_owned();
        let cdr = Cdr::begin(&call_id, &s.caller, &s.callee, unix_ms());
        let session_id = u64::from(rand::random::<u32>());
        let session_timer = session_timer::SessionTimer::negotiate(&s.invite, Instant::now());
        let reliable = prack::required(&s.invite)
            .then(|| prack::Reliable::new(&s.invite, rand::random::<u32>() >> 1));
        let call = Call {
            deadline: Instant::now() + ctx.ring_timeout,
            a_tag: ctx.new_tag(),
            b_call_id: ctx.new_call_id(),
            b_tag: ctx.new_tag(),
            origin_a: LegOrigin::new("switchyard", session_id, 1),
            origin_b: LegOrigin::new("switchyard", session_id + 1, 1),
            id: s.id,
            a_key: s.key,
            a_invite: s.invite,
            a_source: s.source,
            a_dialog: None,
            forks: Vec::new(),
            b: None,
            relayed: Vec::new(),
            media: None,
            srtp: false,
            srtp_legs: audio::SrtpLegs::default(),
            a_offer: None,
            a_late: false,
            late_offer: None,
            held_ack: None,
            a_answered: false,
            a_codec: None,
            ivr: None,
            queue: None,
            monitor: None,
            conference: None,
            consult: None,
            recorded: false,
            stopped_recording: None,
            survey: None,
            b_codec: None,
            held: false,
            stream: None,
            media_events: None,
            recording: None,
            record_tick: None,
            phase: Phase::Routing,
            best_failure: None,
            pending_bye: None,
            authenticated: s.authenticated,
            trunk_seat: None,
            rtp_watch: ctx
                .rtp_timeout
                .map(|timeout| rtp_watch::RtpWatch::new(timeout, Instant::now())),
            rtp_check: ctx.rtp_timeout.map(|timeout| {
                let mut check = tokio::time::interval(rtp_watch::check_every(timeout));
                check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                check
            }),
            peer_sends: [true; 2],
            reinvites: Vec::new(),
            direct: [None, None],
            b_party: None,
            reliable,
            session_timer,
            session_refresh: None,
            a_sdp: None,
            placed: false,
            cdr,
            ctx,
        };
        (call, s.bindings)
    }

    fn finished(&self) -> bool {
        self.phase == Phase::Ended && self.forks.iter().all(|f| f.done)
    }

    /// Routes the call: no contact → 480 (or 404 for an unknown extension);
    /// else one INVITE per contact, all ringing in parallel.
    async fn start(&mut self, bindings: Vec<Binding>) {
        self.publish_created();
        self.ctx.send(Command::Route {
            call: self.id,
            call_id: self.a_call_id().to_owned(),
            local_tag: self.a_tag.clone(),
        });
        self.ctx.send(Command::Route {
            call: self.id,
            call_id: self.b_call_id.clone(),
            local_tag: self.b_tag.clone(),
        });
        if let Some(feature) = feature::parse(&self.cdr.callee) {
            if let Err(status) = self.start_feature(feature).await {
                self.fail(status, Disposition::Failed, "feature_code").await;
            }
            return;
        }
        if let Some((flow, set)) = self.ctx.flows.for_number(&self.cdr.callee) {
            if let Err(status) = self.start_ivr(flow, set).await {
                self.fail(status, Disposition::Failed, "ivr_media").await;
            }
            return;
        }
        if bindings.is_empty() {
            let known = self
                .ctx
                .store
                .extension(&self.cdr.callee)
                .await
                .ok()
                .flatten()
                .is_some();
            if !known
                && self.authenticated
                && let Some((line, number)) = self.ctx.trunks.route(&self.cdr.callee)
            {
                return self.dial_trunk(line, number).await;
            }
            let (status, disposition) = if known {
                (480, Disposition::Unavailable)
            } else {
                (404, Disposition::NotFound)
            };
            return self.fail(status, disposition, &status.to_string()).await;
        }
        let required = self.ctx.requires_srtp(&self.cdr.callee).await;
        let offer = match self.offer_for_b(required) {
            Ok(offer) => offer,
            Err(status) => return self.fail(status, Disposition::Failed, "media").await,
        };
        // The caller's SRTP continues on the callee's leg or the call is refused: the
        // node's offer already carries its key.
        let suite = self.srtp_suite_for_new_leg(required);
        let bindings = match audio::reach(bindings, suite, self.srtp || required) {
            audio::Reach::Srtp(bindings, _) | audio::Reach::Plain(bindings) => bindings,
            audio::Reach::NoTlsPhone => {
                return self.fail(488, Disposition::Failed, "srtp_needs_tls").await;
            }
        };
        for b in bindings {
            let invite = self.fork_invite(&b, offer.as_deref());
            let target = b.target();
            let key = self.ctx.send_request(self.id, invite.clone(), target).await;
            self.forks.push(Fork {
                key,
                invite,
                target,
                done: false,
                trunk: None,
            });
        }
    }

    fn a_call_id(&self) -> &str {
        self.a_invite.headers.call_id().unwrap_or_default()
    }

    /// Who the caller is, as new legs present it: the From of the caller's INVITE,
    /// or the To of the node's INVITE to a caller it called (without its tags).
    fn caller_identity(&self) -> sip::message::NameAddr {
        let h = &self.a_invite.headers;
        let mut who = if self.placed { h.to() } else { h.from() }.expect("parsed INVITE has both");
        who.params.remove("tag");
        who
    }

    /// Allocates the relay and rewrites A's offer for B; `Err(status)` when
    /// the offer is unusable or no ports are left.
    fn offer_for_b(&mut self, required: bool) -> Result<Option<Vec<u8>>, u16> {
        if self.a_invite.body.is_empty() {
            // A late offer: the node offers to the callee itself (with its key when
            // the extension requires SRTP), and to the caller in the 200.
            let session = self.ctx.relay.allocate().map_err(|_| 503u16)?;
            let mut offer = late_offer::node_offer(self.ctx.media_ip, &session, Side::B, None);
            if required {
                self.srtp_offer_to_b(&mut offer, SrtpSuite::AesCm128HmacSha1_80);
            }
            self.media_events = Some(session.events());
            self.media = Some(session);
            self.a_late = true;
            return Ok(Some(offer.to_bytes()));
        }
        let mut sdp = Sdp::parse(&self.a_invite.body).map_err(|_| 488u16)?;
        // SDES keys travel in the SDP: never over unencrypted signalling, and
        // never a silent fallback to plain RTP either.
        self.srtp = offers_srtp(&sdp);
        if self.srtp && self.a_source.transport != TransportKind::Tls {
            return Err(488);
        }
        let session = self.ctx.relay.allocate().map_err(|_| 503u16)?;
        if let Some(remote) = sdp.audio_remote() {
            session.set_remote(Side::A, remote.rtp, remote.rtcp);
        }
        self.media_events = Some(session.events());
        watch_media(&session, Side::A, &sdp);
        self.a_offer = Some(sdp.clone());
        if self.srtp {
            // Terminated per leg: the callee gets the node's keys, never the caller's.
            self.srtp_toward_b(&session, &mut sdp)?;
        } else if required {
            // A plain caller to an extension that requires SRTP: only side B is SRTP.
            self.srtp_offer_to_b(&mut sdp, SrtpSuite::AesCm128HmacSha1_80);
        }
        sdp.rewrite_for_relay(
            self.ctx.media_ip,
            &[session.local(Side::B).port()],
            &mut self.origin_b,
        );
        codecs::widen_offer(&mut sdp);
        self.media = Some(session);
        Ok(Some(sdp.to_bytes()))
    }

    fn fork_invite(&self, b: &Binding, sdp: Option<&[u8]>) -> Request {
        let mut req = Request::new(Method::Invite, b.contact.uri.clone());
        let a = &self.a_invite.headers;
        let mut from = self.caller_identity();
        let h = &mut req.headers;
        from.params.set("tag", Some(&self.b_tag));
        h.push(HeaderName::From, from.to_string());
        let mut to = a.to().expect("parsed INVITE has a To");
        to.params.remove("tag");
        h.push(HeaderName::To, to.to_string());
        h.push(HeaderName::CallId, self.b_call_id.clone());
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(HeaderName::Contact, self.ctx.contact(b.source.transport));
        self.ctx.request_headers(h);
        if let Some(sdp) = sdp {
            h.push(HeaderName::ContentType, "application/sdp");
            req.body = sdp.to_vec();
        }
        req
    }

    async fn handle(&mut self, ev: CallEvent) {
        match ev {
            CallEvent::Response { key, response } => self.on_response(key, response).await,
            CallEvent::Request { key, request } => self.on_request(key, request).await,
            CallEvent::Ack { request } => {
                let from = if request.headers.call_id() == Some(self.a_call_id()) {
                    Side::A
                } else {
                    Side::B
                };
                if from == Side::A {
                    self.session_refreshed();
                }
                if from == Side::A && self.late_offer.is_some() {
                    self.on_late_answer(&request.body).await;
                } else {
                    self.release_held_ack(from, &request.body);
                }
            }
            CallEvent::Cancelled if self.phase == Phase::Routing => {
                self.cancel_forks();
                self.fail(487, Disposition::Cancelled, "caller_cancel")
                    .await;
            }
            CallEvent::Cancelled => {}
            CallEvent::TimedOut { key } => self.on_timeout(key).await,
            CallEvent::Describe { reply } => {
                if let Some(summary) = self.describe() {
                    let _ = reply.send(summary);
                }
            }
            CallEvent::Record { pause, reply } => {
                let _ = reply.send(self.pause_recording(pause));
            }
            CallEvent::Monitor { request, reply } => self.on_monitor(request, reply).await,
            CallEvent::Control { control, reply } => {
                let _ = reply.send(self.on_control(control).await);
            }
            CallEvent::GiveLeg {
                call_id,
                remote_tag,
                reply,
            } => self.give_leg(&call_id, &remote_tag, reply).await,
            CallEvent::HangUp => match self.phase {
                Phase::Routing => {
                    self.cancel_forks();
                    self.fail(480, Disposition::Failed, "api_hangup").await;
                }
                Phase::Ivr | Phase::Answered => {
                    self.caller_gone().await;
                    self.hang_up_both("api_hangup").await;
                }
                Phase::Ended => {}
            },
        }
    }

    /// Something noticed in the call's media. Digits are logged at debug
    /// level only: a caller may be keying a card number.
    async fn on_media(&mut self, ev: MediaEvent) {
        match ev {
            MediaEvent::Digit {
                side,
                digit,
                duration,
            } => {
                let party = if side == Side::A { "caller" } else { "callee" };
                debug!(call = self.id.0, party, digit = %digit.as_char(), ms = duration.as_millis() as u64, "DTMF received");
                if side == Side::A
                    && digit.as_char() == '*'
                    && let Some(seat) = &self.conference
                {
                    seat.toggle_mute();
                } else if side == Side::A && self.phase == Phase::Ivr {
                    if digit.as_char() == '#' && self.recording_voicemail() {
                        self.finish_voicemail().await;
                    } else {
                        self.ivr_input(::ivr::Input::Digit(digit.as_char())).await;
                    }
                }
            }
            MediaEvent::PlaybackEnded {
                id,
                completed: true,
                ..
            } if self.held || self.consult_holds_caller() => self.held_playback_finished(id),
            MediaEvent::PlaybackEnded {
                side: Side::A,
                id,
                completed: true,
            } if self.phase == Phase::Ivr => {
                self.ivr_input(::ivr::Input::PlaybackFinished { id }).await;
                self.queue_playback_finished(id);
                self.feature_confirmed(id).await;
                self.callback_announced(id).await;
            }
            MediaEvent::Audio { side, samples } => {
                if side == Side::A && self.phase == Phase::Ivr {
                    self.voicemail_audio(&samples);
                }
                if self.phase == Phase::Answered {
                    self.stream_audio(side, &samples);
                }
                let now = Instant::now().into_std();
                if let Some(rec) = self.recording.as_mut()
                    && let Err(e) = rec.handle_audio(now, side, &samples)
                {
                    self.recording_failed(&e);
                }
                if side == Side::A
                    && let Some(seat) = &self.conference
                {
                    // A room that is behind drops the frame; the call goes on.
                    let _ = seat.push(samples);
                }
            }
            _ => {}
        }
    }

    async fn on_deadline(&mut self) {
        if self.consult_ring_expired().await {
            return;
        }
        match self.phase {
            Phase::Routing => {
                self.cancel_forks();
                self.fail(480, Disposition::NoAnswer, "ring_timeout").await;
            }
            Phase::Answered | Phase::Ivr => self.hang_up_both("max_duration").await,
            Phase::Ended => self.forks.iter_mut().for_each(|f| f.done = true),
        }
    }

    async fn on_timeout(&mut self, key: TsxKey) {
        if self.monitor_owns(key) {
            return self.on_monitor_timeout(key);
        }
        if self.consult_owns(key) {
            return self.on_consult_timeout().await;
        }
        if self.reinvite_owns(key) {
            return self.on_reinvite_timeout(key).await;
        }
        if self.session_refresh_owns(key) {
            return self.on_session_refresh_answer(None).await;
        }
        if let Some(i) = self.forks.iter().position(|f| f.key == key) {
            return self.fork_failed(i, 408).await;
        }
        if key == self.a_key && matches!(self.phase, Phase::Answered | Phase::Ivr) {
            return self.hang_up_both("ack_timeout").await;
        }
        if let Some(i) = self.relayed.iter().position(|r| r.client == key) {
            let r = self.relayed.remove(i);
            self.respond_relayed(&r, 408, None);
        }
    }

    async fn on_response(&mut self, key: TsxKey, resp: Response) {
        if self.monitor_owns(key) {
            return self.on_monitor_response(key, resp).await;
        }
        if self.consult_owns(key) {
            return self.on_consult_response(key, resp).await;
        }
        if self.reinvite_owns(key) {
            return self.on_reinvite_response(key, resp).await;
        }
        if self.session_refresh_owns(key) {
            return self.on_session_refresh_answer(Some(resp.status)).await;
        }
        if let Some(i) = self.forks.iter().position(|f| f.key == key) {
            return self.on_fork_response(i, resp).await;
        }
        if let Some(i) = self.relayed.iter().position(|r| r.client == key) {
            if resp.status < 200 {
                return;
            }
            let r = self.relayed.remove(i);
            let accepted = r.request.method == Method::Invite && (200..300).contains(&resp.status);
            // A re-INVITE without SDP: the 2xx is the offer, and its ACK carries the
            // answer the other leg will send in its own ACK.
            let held = accepted && r.request.body.is_empty() && !resp.body.is_empty();
            if let Some((dialog, target)) = self.leg(r.to_leg) {
                dialog.handle_refresh_response(&resp);
                // We are the UAC on that leg: a 2xx to our re-INVITE is ACKed
                // by us, at once; the other party's ACK to our 2xx ends with us.
                if accepted && !held {
                    let ack = dialog.ack(r.seq);
                    self.ctx.send(Command::Ack {
                        invite: key,
                        ack,
                        target,
                    });
                }
            }
            if held {
                self.held_ack = Some(HeldAck {
                    invite: key,
                    to_leg: r.to_leg,
                    seq: r.seq,
                });
            }
            let body = self.relay_sdp(r.to_leg, &resp.body);
            self.respond_relayed(&r, resp.status, body);
        }
    }

    async fn on_fork_response(&mut self, i: usize, resp: Response) {
        match resp.status {
            100 => {}
            // The caller hears the node (prompts, hold) while a second leg rings.
            101..=199 if self.a_answered => {}
            101..=199 if self.phase == Phase::Routing => {
                // After a late offer the caller gets the node's offer in the 200 (an
                // offer never goes in an unreliable provisional response).
                let body = if self.a_late {
                    None
                } else {
                    self.answer_from_b(&resp.body)
                };
                let provisional = self.answer_a(resp.status, body);
                self.respond_a(provisional);
            }
            200..=299 => self.on_fork_answer(i, resp).await,
            401 | 407 if self.retry_with_credentials(i, &resp).await => {}
            300.. => self.fork_failed(i, resp.status).await,
            _ => {}
        }
    }

    async fn on_fork_answer(&mut self, i: usize, resp: Response) {
        self.forks[i].done = true;
        let fork = &self.forks[i];
        let Ok(mut dialog) = Dialog::uac(&fork.invite, &resp) else {
            debug!(call = self.id.0, "2xx without a usable dialog; ignoring it");
            return;
        };
        let (key, target) = (fork.key, fork.target);
        let seq = fork.invite.headers.cseq().map_or(1, |c| c.seq);
        self.ctx.send(Command::Ack {
            invite: key,
            ack: dialog.ack(seq),
            target,
        });
        let joining = self.a_answered && self.phase == Phase::Ivr && self.b.is_none();
        if self.phase != Phase::Routing && !joining {
            // A second fork answered, or the caller has gone: hang this one up.
            let bye = dialog.request(Method::Bye);
            self.ctx.send_request(self.id, bye, target).await;
            return;
        }
        self.cancel_forks();
        if joining {
            self.b = Some((dialog, target));
            return self.b_leg_joined(&resp.body).await;
        }
        let body = if self.a_late {
            self.offer_to_a_from_b(&resp.body)
        } else {
            self.answer_from_b(&resp.body)
        };
        if (self.a_late || self.srtp || self.srtp_terminated()) && body.is_none() {
            // The callee answered SRTP without a usable key (no plain-RTP call), or
            // left nothing to offer a caller that sent no offer.
            let bye = dialog.request(Method::Bye);
            self.ctx.send_request(self.id, bye, target).await;
            let cause = if self.a_late {
                "late_offer_answer"
            } else {
                "srtp_answer"
            };
            return self.fail(488, Disposition::Failed, cause).await;
        }
        let ok = self.answer_a(200, body);
        self.a_dialog = Dialog::uas(&self.a_invite, &self.a_tag).ok();
        self.respond_a(ok);
        self.b = Some((dialog, target));
        self.phase = Phase::Answered;
        self.cdr.answered_at = Some(unix_ms());
        // A call the ACD did not route: its agents are busy while it lasts.
        let callee = self.cdr.callee.clone();
        self.report_direct(Side::B, Some(callee));
        if self.authenticated {
            let caller = self.cdr.caller.clone();
            self.report_direct(Side::A, Some(caller));
        }
        self.deadline = Instant::now() + self.ctx.max_duration;
        if !self.a_late {
            // After a late offer both start once the caller's answer is in.
            self.start_recording(&resp.body);
            self.start_streaming(&resp.body);
        }
    }

    async fn fork_failed(&mut self, i: usize, status: u16) {
        self.forks[i].done = true;
        self.best_failure = Some(best_failure(self.best_failure, status));
        if self.a_answered {
            if self.phase == Phase::Ivr && self.forks.iter().all(|f| f.done) {
                self.b_leg_failed(self.best_failure.unwrap_or(status)).await;
            }
            return;
        }
        if self.phase == Phase::Routing && self.forks.iter().all(|f| f.done) {
            let status = self.best_failure.unwrap_or(480);
            let disposition = match status {
                486 | 600 => Disposition::Busy,
                408 | 480 => Disposition::NoAnswer,
                _ => Disposition::Failed,
            };
            self.fail(status, disposition, &status.to_string()).await;
        }
    }

    fn cancel_forks(&mut self) {
        for f in self.forks.iter_mut().filter(|f| !f.done) {
            self.ctx.send(Command::Cancel { key: f.key });
            if self.a_answered {
                // No final response will matter: the call moves on without this leg.
                f.done = true;
            }
        }
    }

    /// Ends an unanswered call: the CDR is committed, then A hears `status`.
    async fn fail(&mut self, status: u16, disposition: Disposition, cause: &str) {
        self.end(disposition, cause, Some(status)).await;
        let resp = self.answer_a(status, None);
        self.respond_a(resp);
    }

    async fn on_request(&mut self, key: TsxKey, req: Request) {
        if self.is_monitor_request(&req) {
            return self.on_monitor_request(key, req);
        }
        let from_a = req.headers.call_id() == Some(self.a_call_id());
        if from_a && req.method == Method::Prack {
            // In the early dialog, before there is a dialog to check it against.
            return self.on_prack(&key, &req);
        }
        let dialog = if from_a {
            self.a_dialog.as_mut()
        } else {
            self.b.as_mut().map(|(d, _)| d)
        };
        let Some(dialog) = dialog else {
            return self.ctx.respond(&key, &req, 481);
        };
        if dialog.handle_request(&req).is_err() {
            return self.ctx.respond(&key, &req, 500);
        }
        match req.method {
            Method::Ack => {}
            Method::Bye => {
                if !from_a && self.agent_left_consult(key, &req).await {
                    return;
                }
                if !from_a && self.survey_after_agent(key, &req).await {
                    return;
                }
                if from_a && self.phase == Phase::Ivr {
                    self.caller_gone().await;
                }
                self.pending_bye = Some((key, req));
                let cause = if from_a { "caller_bye" } else { "callee_bye" };
                self.hang_up(if from_a { Side::B } else { Side::A }, cause)
                    .await;
            }
            Method::Options => self.ctx.respond(&key, &req, 200),
            // A session refresh from the caller: answered here, not relayed.
            Method::Update
                if from_a
                    && req.body.is_empty()
                    && matches!(self.phase, Phase::Answered | Phase::Ivr) =>
            {
                self.answer_refresh(&key, &req)
            }
            // The node is the caller's only peer (IVR, queue, room): it answers.
            Method::Invite if from_a && self.phase == Phase::Ivr => {
                self.answer_caller_reinvite(&key, &req)
            }
            _ if self.phase != Phase::Answered => self.ctx.respond(&key, &req, 481),
            Method::Invite if !self.relayed.is_empty() => self.ctx.respond(&key, &req, 491),
            Method::Refer => {
                self.on_refer(key, req, if from_a { Side::A } else { Side::B })
                    .await
            }
            _ => {
                self.relay_request(key, req, if from_a { Side::B } else { Side::A })
                    .await
            }
        }
    }

    /// Passes an in-dialog request (re-INVITE, UPDATE, INFO, …) to the other leg.
    async fn relay_request(&mut self, server: TsxKey, req: Request, to_leg: Side) {
        let body = self.relay_sdp(to_leg.other(), &req.body);
        let Some((dialog, target)) = self.leg(to_leg) else {
            return self.ctx.respond(&server, &req, 481);
        };
        let mut out = dialog.request(req.method.clone());
        let seq = out.headers.cseq().map_or(0, |c| c.seq);
        out.headers
            .push(HeaderName::Contact, self.ctx.contact(target.transport));
        self.ctx.request_headers(&mut out.headers);
        copy_body(&req, &mut out, body);
        let client = self.ctx.send_request(self.id, out, target).await;
        self.relayed.push(Relayed {
            client,
            server,
            to_leg,
            seq,
            request: req,
        });
    }

    /// Sends the ACK held for the leg other than `from`, with the answer `from` sent in
    /// its own ACK, rewritten for the relay.
    fn release_held_ack(&mut self, from: Side, answer: &[u8]) {
        let Some(held) = self.held_ack.take_if(|h| h.to_leg == from.other()) else {
            return;
        };
        let answer = self.relay_sdp(from, answer);
        let Some((dialog, target)) = self.leg(held.to_leg) else {
            return;
        };
        let mut ack = dialog.ack(held.seq);
        if let Some(answer) = answer {
            ack.headers.push(HeaderName::ContentType, "application/sdp");
            ack.body = answer;
        }
        self.ctx.send(Command::Ack {
            invite: held.invite,
            ack,
            target,
        });
    }

    /// The dialog and where to send for one leg, once it has a dialog.
    fn leg(&mut self, side: Side) -> Option<(&mut Dialog, Target)> {
        match side {
            Side::A => self
                .a_dialog
                .as_mut()
                .map(|d| (d, Target::from(self.a_source))),
            Side::B => self.b.as_mut().map(|(d, t)| (d, *t)),
        }
    }

    fn respond_relayed(&mut self, r: &Relayed, status: u16, body: Option<Vec<u8>>) {
        let mut resp = Response::to_request(&r.request, status);
        let refresh = matches!(r.request.method, Method::Invite | Method::Update);
        if refresh && (200..300).contains(&status) && r.to_leg == Side::B {
            // The caller refreshed its session through the other leg.
            self.session_refreshed();
            if let Some(timer) = &self.session_timer {
                timer.response_headers(&mut resp.headers);
            }
        }
        if refresh && (200..300).contains(&status) {
            let source = if r.to_leg == Side::A {
                self.b.as_ref().map(|(_, t)| t.transport)
            } else {
                Some(self.a_source.transport)
            };
            resp.headers.push(
                HeaderName::Contact,
                self.ctx.contact(source.unwrap_or(self.a_source.transport)),
            );
        }
        self.ctx.response_headers(&mut resp.headers);
        if let Some(body) = body {
            resp.headers
                .push(HeaderName::ContentType, "application/sdp");
            resp.body = body;
        }
        self.ctx.send(Command::Respond {
            key: r.server,
            response: resp,
        });
    }

    /// A response to A's INVITE, with our To tag and Contact.
    fn answer_a(&self, status: u16, sdp: Option<Vec<u8>>) -> Response {
        let mut resp = Response::to_request(&self.a_invite, status);
        if status > 100 {
            let mut to = self.a_invite.headers.to().expect("parsed INVITE has a To");
            to.params.set("tag", Some(&self.a_tag));
            resp.headers.set(HeaderName::To, to.to_string());
        }
        if (101..300).contains(&status) {
            resp.headers.push(
                HeaderName::Contact,
                self.ctx.contact(self.a_source.transport),
            );
        }
        if (200..300).contains(&status)
            && let Some(timer) = &self.session_timer
        {
            timer.response_headers(&mut resp.headers);
        }
        self.ctx.response_headers(&mut resp.headers);
        if let Some(sdp) = sdp {
            resp.headers
                .push(HeaderName::ContentType, "application/sdp");
            resp.body = sdp;
        }
        resp
    }

    /// Tells the ACD that the extension on `side` is on this call, which it did not
    /// route (`Some`), or no longer (`None`, or another extension: the one before
    /// is off it). The ACD ignores extensions that are no agents.
    fn report_direct(&mut self, side: Side, ext: Option<String>) {
        let slot = &mut self.direct[audio::slot(side)];
        if *slot == ext {
            return;
        }
        let Some(acd) = &self.ctx.acd else {
            return;
        };
        if let Some(old) = slot.take() {
            acd.input(acd::Input::DirectCall {
                agent: old.as_str().into(),
                active: false,
            });
        }
        if let Some(ext) = ext {
            acd.input(acd::Input::DirectCall {
                agent: ext.as_str().into(),
                active: true,
            });
            *slot = Some(ext);
        }
    }

    /// The caller is gone (hung up, fell silent, let its session expire): out of
    /// the flow and the queue, and no second leg rings for it any more.
    async fn caller_gone(&mut self) {
        self.ivr_caller_gone().await;
        self.queue_caller_gone();
        self.cancel_forks();
    }

    async fn hang_up_both(&mut self, cause: &str) {
        self.send_bye(Side::A).await;
        self.hang_up(Side::B, cause).await;
    }

    /// Sends BYE to `leg`, commits the CDR and answers a pending BYE.
    async fn hang_up(&mut self, leg: Side, cause: &str) {
        self.send_bye(leg).await;
        self.end(Disposition::Answered, cause, Some(200)).await;
        if let Some((key, bye)) = self.pending_bye.take() {
            self.ctx.respond(&key, &bye, 200);
        }
    }

    async fn send_bye(&mut self, leg: Side) {
        let Some((dialog, target)) = self.leg(leg) else {
            return;
        };
        let mut bye = dialog.request(Method::Bye);
        self.ctx.request_headers(&mut bye.headers);
        self.ctx.send_request(self.id, bye, target).await;
    }

    /// Ends the call once: frees the media and commits the CDR.
    async fn end(&mut self, disposition: Disposition, cause: &str, status: Option<u16>) {
        if self.phase == Phase::Ended {
            return;
        }
        self.phase = Phase::Ended;
        // The trunk's place goes back now, not when the task lingers out.
        self.trunk_seat = None;
        self.report_direct(Side::A, None);
        self.report_direct(Side::B, None);
        // The supervisor's leg ends with the call, and so does its audio stream.
        let _ = self.stop_monitor().await;
        // The room stops mixing for the caller now, not when the task lingers out.
        self.conference = None;
        let missed = self.stop_streaming();
        if let Some(session) = self.media.take() {
            self.cdr.caller_quality = party_quality(session.quality(Side::A));
            self.cdr.callee_quality = party_quality(session.quality(Side::B));
        }
        self.queue_call_ended();
        self.record_ivr();
        self.publish_ended();
        self.deadline = Instant::now() + self.ctx.linger;
        self.cdr.finish(disposition, cause, status, unix_ms());
        if let Err(e) = self.ctx.cdrs.write(self.cdr.clone()).await {
            tracing::error!(call = self.id.0, error = %e, "CDR not written");
        }
        self.finish_recording().await;
        if let Some(call) = missed {
            self.queue_stopped_recording(call).await;
        }
    }
}

/// Asks the phone an INVITE rings to answer by itself (`Call-Info: answer-after=0`,
/// honoured by most desk phones and softphones with an auto-answer setting).
fn ask_auto_answer(h: &mut sip::message::Headers, domain: &impl std::fmt::Display) {
    h.push(
        HeaderName::Other("Call-Info".into()),
        format!("<sip:{domain}>;answer-after=0"),
    );
}

fn copy_body(from: &Request, to: &mut Request, rewritten: Option<Vec<u8>>) {
    if from.body.is_empty() {
        return;
    }
    if let Some(ct) = from.headers.get(&HeaderName::ContentType) {
        to.headers.push(HeaderName::ContentType, ct);
    }
    to.body = rewritten.unwrap_or_else(|| from.body.clone());
}

/// RFC 3261 §16.7 step 6, simplified: a 6xx wins, then 486 Busy, then the
/// lowest class seen.
fn best_failure(current: Option<u16>, new: u16) -> u16 {
    let rank = |s: u16| match s {
        600..=699 => 0,
        486 => 1,
        _ => 2 + s / 100,
    };
    match current {
        Some(c) if rank(c) <= rank(new) => c,
        _ => new,
    }
}

#[cfg(test)]
mod tests {
    use super::best_failure;

    #[test]
    fn best_failure_prefers_global_then_busy() {
        assert_eq!(best_failure(None, 480), 480);
        assert_eq!(best_failure(Some(480), 486), 486);
        assert_eq!(best_failure(Some(486), 603), 603);
        assert_eq!(best_failure(Some(603), 486), 603);
        assert_eq!(best_failure(Some(408), 500), 408);
    }
}
