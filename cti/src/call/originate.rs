//! A call the node places for an agent: click-to-dial from the desktop
//! (`POST /api/v1/calls`), the way a PBX originates a call for a CTI client, and the
//! callback the ACD asks for once an agent is reserved for a caller who kept their
//! place.
//!
//! ```text
//!  node ──INVITE──► agent's phones (side B)    200, ACK       the agent hears ringback
//!  node ──INVITE──► customer (side A)          an extension's phones, or a trunk
//!  node ◄─18x with SDP── customer              early media (a carrier's ringback,
//!                                              its announcements) reaches the agent
//!  node ◄─200── customer, ACK                  from here a call like any other
//! ```
//!
//! The agent's phone rings first, showing the number it is about to call ("Callback"
//! for a callback; a phone that honours `Call-Info: answer-after=0` answers on its own
//! when the desktop asks for it). Once the agent answers, the node calls the customer
//! from the other side of the same media session: the agent's codec is offered first,
//! so the two legs share it when they can and are transcoded when they cannot. The
//! customer is the extension's registered phones, or the number through the trunk
//! whose route covers it (digest answered once with the trunk's credentials).
//!
//! When the customer answers, the placing is over and the call runs as
//! [`super::Call`], with the customer on side A and the agent on side B exactly as for
//! an inbound call: hold, transfer, REFER, recording, monitoring, the cloud stream,
//! quality and the CDR work the same. The CDR names the customer as caller and the
//! agent as callee (and as the call's agent), with `routing.ivr_outcome` `outbound`
//! or `callback` (and the queue).
//!
//! The placing ends without a call when the agent does not answer (`agent_no_answer`),
//! the customer fails (`busy`, `no_answer`, `failed` with the SIP status), the agent
//! hangs up first (`agent_bye`), the desktop hangs up (`api_hangup`), or nobody
//! answers within the node's ring timeout (`ring_timeout`). Each writes a CDR and
//! publishes `call.ended`, as a call does. A callback tells the ACD as it goes: a
//! refusal when its agent does not answer (the ACD keeps it for the next agent), the
//! answer, and its end (the agent's wrap-up), also when the customer never answered.

use std::sync::Arc;

use acd::{Input, RefuseReason};
use media::{LegCodec, Session, Side};
use sip::dialog::Dialog;
use sip::message::{HeaderName, Method, NameAddr, Request, Response, SipUri, Uri};
use sip::net::{Source, Target};
use sip::sdp::{self, LegOrigin, LocalMedia, Sdp};
use sip::transaction::TsxKey;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::debug;

use super::audio::watch_media;
use super::{Call, CallSetup, Phase, unix_ms};
use crate::api::{CallPhase, CallSummary, ControlRefusal, DialRefusal, EventKind};
use crate::codecs;
use crate::endpoint::{CallEvent, CallRef, Command};
use crate::node::Ctx;
use crate::registrar::Binding;
use crate::store::{Cdr, Disposition};
use crate::trunk::{Seat, TrunkLine};

/// The playback id of the ringback the agent hears.
const RINGBACK_ID: u64 = u64::MAX - 8;

/// What the desktop asked for.
#[derive(Debug)]
pub(crate) struct DialRequest {
    /// The agent's extension, whose phones ring first.
    pub(crate) agent: String,
    /// The number to call: an extension, or an external number a trunk routes.
    pub(crate) to: String,
    /// Ask the agent's phone to answer by itself.
    pub(crate) auto_answer: bool,
    /// The call's Call-ID once the agent's phone is ringing, or why not.
    pub(crate) reply: oneshot::Sender<Result<String, DialRefusal>>,
}

/// What the ACD asked for.
#[derive(Debug, Clone)]
pub(crate) struct CallbackRequest {
    /// The original call's Call-ID (the ACD's name for the callback).
    pub(crate) call: String,
    /// The agent reserved for it.
    pub(crate) agent: String,
    /// The queue it waited in.
    pub(crate) queue: String,
    /// The number to call back (the caller's extension).
    pub(crate) contact: String,
}

/// Where the customer is reached.
enum Destination {
    /// An extension's registered phones.
    Phones(Vec<Binding>),
    /// A number, through a trunk.
    Trunk(Arc<TrunkLine>, String),
}

/// One INVITE of a leg being placed.
struct Attempt {
    key: TsxKey,
    invite: Request,
    target: Target,
    done: bool,
    /// The trunk it goes out by, whose credentials answer a challenge.
    trunk: Option<Arc<TrunkLine>>,
}

/// A leg that answered.
struct Answered {
    /// The INVITE's client transaction.
    key: TsxKey,
    invite: Request,
    dialog: Dialog,
    target: Target,
    sdp: Sdp,
    codec: LegCodec,
}

/// How the placing ended without a call.
struct Failed {
    disposition: Disposition,
    cause: String,
    status: Option<u16>,
}

impl Failed {
    fn new(disposition: Disposition, cause: &str) -> Failed {
        Failed {
            disposition,
            cause: cause.to_owned(),
            status: None,
        }
    }

    /// The customer's final failure response.
    fn status(status: u16) -> Failed {
        let (disposition, cause) = match status {
            486 | 600 => (Disposition::Busy, "busy"),
            408 | 480 | 487 => (Disposition::NoAnswer, "no_answer"),
            _ => (Disposition::Failed, "failed"),
        };
        Failed {
            disposition,
            cause: cause.to_owned(),
            status: Some(status),
        }
    }
}

/// What a placed call is for.
#[derive(Debug, Clone)]
enum Order {
    /// An agent's click-to-dial.
    Dial,
    /// A callback the ACD reserved the agent for: its name for the call (the
    /// original call's Call-ID) and the queue the caller waited in.
    Callback { call: String, queue: String },
}

/// The placing of one call, until the customer answers.
struct Placing {
    ctx: Arc<Ctx>,
    id: CallRef,
    order: Order,
    events: UnboundedReceiver<CallEvent>,
    media: Session,
    cdr: Cdr,
    auto_answer: bool,
    a_call_id: String,
    a_tag: String,
    b_call_id: String,
    b_tag: String,
    origin_a: LegOrigin,
    origin_b: LegOrigin,
    deadline: Instant,
    /// The place on the trunk the customer is called through.
    seat: Option<Seat>,
    /// The agent's leg, once it answered.
    agent: Option<Answered>,
}

/// Places the call `req` asks for and, once both parties answered, runs it to its end.
pub(crate) async fn run(ctx: Arc<Ctx>, req: DialRequest) {
    match check(&ctx, &req.agent, &req.to).await {
        Ok(destination) => {
            let call = Placed {
                order: Order::Dial,
                agent: req.agent,
                to: req.to,
                auto_answer: req.auto_answer,
            };
            place(ctx, call, destination, Some(req.reply)).await;
        }
        Err(refusal) => {
            let _ = req.reply.send(Err(refusal));
        }
    }
}

/// Places the callback the ACD asked for: the agent reserved for it first, then the
/// caller, at their extension or through a trunk. An agent who does not answer (or
/// has no phone) is a refusal, and the ACD keeps the callback for the next agent; a
/// caller who cannot be reached ends it.
pub(crate) async fn call_back(ctx: Arc<Ctx>, req: CallbackRequest) {
    let order = Order::Callback {
        call: req.call,
        queue: req.queue,
    };
    match check(&ctx, &req.agent, &req.contact).await {
        Ok(destination) => {
            let call = Placed {
                order,
                agent: req.agent,
                to: req.contact,
                auto_answer: false,
            };
            place(ctx, call, destination, None).await;
        }
        Err(DialRefusal::NotRegistered(ext)) if ext == req.agent => {
            tell_acd(
                &ctx,
                &order,
                &req.agent,
                Progress::AgentFailed(RefuseReason::Unreachable),
            );
        }
        Err(refusal) => {
            debug!(%refusal, "callback abandoned");
            let mut cdr = Cdr::begin(&ctx.new_call_id(), &req.contact, &req.agent, unix_ms());
            order.describe(&mut cdr, &req.agent);
            cdr.finish(Disposition::Failed, "customer_unreachable", None, unix_ms());
            if let Err(e) = ctx.cdrs.write(cdr).await {
                tracing::error!(error = %e, "callback CDR not written");
            }
            tell_acd(&ctx, &order, &req.agent, Progress::Abandoned);
        }
    }
}

/// A call to place, checked.
struct Placed {
    order: Order,
    agent: String,
    to: String,
    auto_answer: bool,
}

/// How far a callback got, for the ACD.
enum Progress {
    /// The agent's phones did not answer (or could not ring).
    AgentFailed(RefuseReason),
    /// The agent answered.
    AgentAnswered,
    /// The callback ended: the agent answered and the call ended or the customer
    /// could not be reached.
    Ended,
    /// Given up before the agent answered (the desktop hung up, nobody reachable).
    Abandoned,
}

/// Tells the ACD how a callback goes (nothing for other calls).
fn tell_acd(ctx: &Ctx, order: &Order, agent: &str, progress: Progress) {
    let (Order::Callback { call, .. }, Some(acd)) = (order, &ctx.acd) else {
        return;
    };
    let call = call.as_str().into();
    acd.input(match progress {
        Progress::AgentFailed(reason) => Input::Refused {
            call,
            agent: agent.into(),
            reason,
        },
        Progress::AgentAnswered => Input::Answered {
            call,
            agent: agent.into(),
        },
        Progress::Ended => Input::CallEnded(call),
        Progress::Abandoned => Input::Abandon(call),
    });
}

impl Order {
    /// Fills in the CDR's routing for a call placed for `agent`.
    fn describe(&self, cdr: &mut Cdr, agent: &str) {
        cdr.routing.agent = Some(agent.to_owned());
        match self {
            Order::Dial => cdr.routing.ivr_outcome = Some("outbound".to_owned()),
            Order::Callback { queue, .. } => {
                cdr.routing.ivr_outcome = Some("callback".to_owned());
                cdr.routing.queue = Some(queue.clone());
            }
        }
    }
}

/// Places `call` and, once both parties answered, runs it to its end; `reply` (a
/// desktop's) gets the call's Call-ID once the agent's phones ring.
async fn place(
    ctx: Arc<Ctx>,
    call: Placed,
    destination: Destination,
    reply: Option<oneshot::Sender<Result<String, DialRefusal>>>,
) {
    let refuse = |reply: Option<oneshot::Sender<_>>| {
        if let Some(reply) = reply {
            let _ = reply.send(Err(DialRefusal::Unavailable));
        }
    };
    let agent_phones = ctx.bindings(&call.agent).await;
    let Some((id, events)) = ctx.attach().await else {
        return refuse(reply);
    };
    let Ok(media) = ctx.relay.allocate() else {
        refuse(reply);
        tell_acd(
            &ctx,
            &call.order,
            &call.agent,
            Progress::AgentFailed(RefuseReason::Unreachable),
        );
        return ctx.send(Command::Done { call: id });
    };
    let a_call_id = ctx.new_call_id();
    let mut cdr = Cdr::begin(&a_call_id, &call.to, &call.agent, unix_ms());
    call.order.describe(&mut cdr, &call.agent);
    let session_id = u64::from(rand::random::<u32>());
    let mut placing = Placing {
        deadline: Instant::now() + ctx.ring_timeout,
        a_tag: ctx.new_tag(),
        b_call_id: ctx.new_call_id(),
        b_tag: ctx.new_tag(),
        origin_a: LegOrigin::new("switchyard", session_id, 1),
        origin_b: LegOrigin::new("switchyard", session_id + 1, 1),
        a_call_id,
        ctx,
        id,
        order: call.order,
        events,
        media,
        cdr,
        auto_answer: call.auto_answer,
        seat: None,
        agent: None,
    };
    placing.route_legs();
    if let Some(reply) = reply {
        let _ = reply.send(Ok(placing.a_call_id.clone()));
    }
    placing.publish(EventKind::CallCreated, None);
    match placing.place(agent_phones, destination).await {
        Ok(customer) => {
            let (call, events) = placing.into_call(customer);
            super::run_call(call, events).await;
        }
        Err(failed) => {
            placing.fail(failed).await;
            placing.ctx.send(Command::Done { call: placing.id });
        }
    }
}

/// Whether a call from `agent` to `to` can be placed: the agent has a phone, and
/// `to` is an extension with one, or a trunk's route covers it.
async fn check(ctx: &Ctx, agent: &str, to: &str) -> Result<Destination, DialRefusal> {
    if to == agent {
        return Err(DialRefusal::NoRoute(to.to_owned()));
    }
    // SDES keys travel only on TLS legs and placed legs are plain RTP: an extension
    // that requires SRTP is not called this way rather than called in the clear.
    if ctx.bindings(agent).await.is_empty() || ctx.requires_srtp(agent).await {
        return Err(DialRefusal::NotRegistered(agent.to_owned()));
    }
    let phones = ctx.bindings(to).await;
    if !phones.is_empty() {
        if ctx.requires_srtp(to).await {
            return Err(DialRefusal::NotRegistered(to.to_owned()));
        }
        return Ok(Destination::Phones(phones));
    }
    let known = matches!(ctx.store.extension(to).await, Ok(Some(_)));
    if known {
        return Err(DialRefusal::NotRegistered(to.to_owned()));
    }
    match ctx.trunks.route(to) {
        Some((line, number)) => Ok(Destination::Trunk(line, number)),
        None => Err(DialRefusal::NoRoute(to.to_owned())),
    }
}

impl Placing {
    /// Has the endpoint route both legs' in-dialog requests (and the API's hang-up
    /// by the customer leg's Call-ID) to this call.
    fn route_legs(&self) {
        for (call_id, local_tag) in [
            (&self.a_call_id, &self.a_tag),
            (&self.b_call_id, &self.b_tag),
        ] {
            self.ctx.send(Command::Route {
                call: self.id,
                call_id: call_id.clone(),
                local_tag: local_tag.clone(),
            });
        }
    }

    async fn place(
        &mut self,
        agent_phones: Vec<Binding>,
        destination: Destination,
    ) -> Result<Answered, Failed> {
        let offer = self.offer(Side::B, None);
        let mut attempts = Vec::new();
        for b in &agent_phones {
            let invite = self.agent_invite(b, &offer);
            attempts.push(self.attempt(invite, b.target(), None).await);
        }
        let agent = match self.ring(Side::B, attempts).await {
            Ok(agent) => agent,
            Err(failed) if matches!(failed.cause.as_str(), "api_hangup" | "shutdown") => {
                self.tell_acd(Progress::Abandoned);
                return Err(failed);
            }
            Err(failed) => {
                let reason = match failed.status {
                    Some(486 | 600) => RefuseReason::Busy,
                    Some(603) => RefuseReason::Declined,
                    _ => RefuseReason::NoAnswer,
                };
                self.tell_acd(Progress::AgentFailed(reason));
                return Err(Failed::new(Disposition::NoAnswer, "agent_no_answer"));
            }
        };
        self.tell_acd(Progress::AgentAnswered);
        self.joined(Side::B, &agent);
        debug!(call = self.id.0, agent = %self.cdr.callee, to = %self.cdr.caller, "agent answered; calling out");
        self.agent = Some(agent);
        self.play_ringback();
        self.deadline = Instant::now() + self.ctx.ring_timeout;
        let ringing = match self.call_customer(destination).await {
            Ok(attempts) => self.ring(Side::A, attempts).await,
            Err(failed) => Err(failed),
        };
        let customer = match ringing {
            Ok(customer) => customer,
            Err(failed) => {
                // The agent's phone is hung up (it may have done so itself), and a
                // callback's agent goes to wrap-up.
                if failed.cause != "agent_bye" {
                    self.bye_agent().await;
                }
                self.tell_acd(Progress::Ended);
                return Err(failed);
            }
        };
        self.joined(Side::A, &customer);
        Ok(customer)
    }

    /// The node's offer from `side` of the session: every codec it speaks for the
    /// agent; for the customer, the agent's codec first (no transcoding when the
    /// customer takes it), then G.711.
    fn offer(&mut self, side: Side, first: Option<LegCodec>) -> Vec<u8> {
        let mut local = LocalMedia::new(self.ctx.media_ip, self.media.local(side).port());
        local.username = "switchyard".to_owned();
        local.codecs = match first {
            None => vec![
                sdp::Codec::pcmu(),
                sdp::Codec::pcma(),
                sdp::Codec::g722(),
                sdp::Codec::opus(),
            ],
            Some(codec) => {
                let mut codecs = vec![codecs::sdp_codec(codec)];
                for c in [sdp::Codec::pcmu(), sdp::Codec::pcma()] {
                    if !codecs.iter().any(|o| o.name.eq_ignore_ascii_case(&c.name)) {
                        codecs.push(c);
                    }
                }
                codecs
            }
        };
        local.codecs.push(sdp::Codec::telephone_event());
        let mut offer = sdp::offer(&local);
        let origin = match side {
            Side::A => &mut self.origin_a,
            Side::B => &mut self.origin_b,
        };
        origin.stamp(&mut offer, self.ctx.media_ip);
        offer.to_bytes()
    }

    fn agent_invite(&self, b: &Binding, offer: &[u8]) -> Request {
        let mut req = Request::new(Method::Invite, b.contact.uri.clone());
        let domain = self.ctx.domain();
        let to = &self.cdr.caller;
        // The phone shows the number it is about to call (a callback says so).
        let display = match self.order {
            Order::Dial => to.as_str(),
            Order::Callback { .. } => "Callback",
        };
        let h = &mut req.headers;
        h.push(
            HeaderName::From,
            format!("\"{display}\" <sip:{to}@{domain}>;tag={}", self.b_tag),
        );
        h.push(
            HeaderName::To,
            format!("<sip:{}@{domain}>", self.cdr.callee),
        );
        h.push(HeaderName::CallId, self.b_call_id.clone());
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(HeaderName::Contact, self.ctx.contact(b.source.transport));
        if self.auto_answer || self.ctx.auto_answer.contains(&self.cdr.callee) {
            super::ask_auto_answer(h, domain);
        }
        self.ctx.request_headers(h);
        h.push(HeaderName::ContentType, "application/sdp");
        req.body = offer.to_vec();
        req
    }

    /// Sends the customer's INVITEs: one per registered phone, or one to the trunk.
    async fn call_customer(&mut self, destination: Destination) -> Result<Vec<Attempt>, Failed> {
        let first = self.agent.as_ref().map(|a| a.codec);
        let offer = self.offer(Side::A, first);
        let agent = self.cdr.callee.clone();
        let mut attempts = Vec::new();
        match destination {
            Destination::Phones(phones) => {
                for b in phones {
                    let from = self.agent_identity(&agent);
                    let invite = self.customer_invite(&b, from, &offer);
                    attempts.push(self.attempt(invite, b.target(), None).await);
                }
            }
            Destination::Trunk(line, number) => {
                let (seat, target) = match line.open().await {
                    Ok(open) => open,
                    Err(cause) => {
                        let mut failed = Failed::new(Disposition::Failed, cause);
                        failed.status = Some(503);
                        return Err(failed);
                    }
                };
                let from = self.agent_identity(line.caller_id(&agent));
                let contact = self.ctx.contact(line.transport());
                let mut invite =
                    line.invite(&number, &from, &self.a_call_id, contact, Some(&offer));
                self.ctx.request_headers(&mut invite.headers);
                debug!(call = self.id.0, trunk = %line.trunk.name, %number, "outbound call by a trunk");
                self.seat = Some(seat);
                attempts.push(self.attempt(invite, target, Some(line)).await);
            }
        }
        Ok(attempts)
    }

    fn tell_acd(&self, progress: Progress) {
        tell_acd(&self.ctx, &self.order, &self.cdr.callee, progress);
    }

    /// Sends `invite` to `target` as one attempt of a leg (by `trunk`, if any).
    async fn attempt(
        &self,
        invite: Request,
        target: Target,
        trunk: Option<Arc<TrunkLine>>,
    ) -> Attempt {
        let key = self.ctx.send_request(self.id, invite.clone(), target).await;
        Attempt {
            key,
            invite,
            target,
            done: false,
            trunk,
        }
    }

    /// The customer's From: the agent's extension (or the trunk's caller ID) at the
    /// node's domain, with the customer leg's tag.
    fn agent_identity(&self, user: &str) -> NameAddr {
        let uri = SipUri::new(Some(user), self.ctx.domain().clone(), None);
        let mut from = NameAddr::new(Uri::Sip(uri));
        from.params.set("tag", Some(&self.a_tag));
        from
    }

    fn customer_invite(&self, b: &Binding, from: NameAddr, offer: &[u8]) -> Request {
        let mut req = Request::new(Method::Invite, b.contact.uri.clone());
        let domain = self.ctx.domain();
        let h = &mut req.headers;
        h.push(HeaderName::From, from.to_string());
        h.push(
            HeaderName::To,
            format!("<sip:{}@{domain}>", self.cdr.caller),
        );
        h.push(HeaderName::CallId, self.a_call_id.clone());
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(HeaderName::Contact, self.ctx.contact(b.source.transport));
        self.ctx.request_headers(h);
        h.push(HeaderName::ContentType, "application/sdp");
        req.body = offer.to_vec();
        req
    }

    /// Waits for one of `side`'s INVITEs to be answered (the others are cancelled),
    /// answering what else the call is asked meanwhile.
    async fn ring(&mut self, side: Side, mut attempts: Vec<Attempt>) -> Result<Answered, Failed> {
        let mut best: Option<u16> = None;
        loop {
            if attempts.iter().all(|a| a.done) {
                return Err(Failed::status(best.unwrap_or(480)));
            }
            let ev = tokio::select! {
                ev = self.events.recv() => ev,
                () = tokio::time::sleep_until(self.deadline) => {
                    cancel(&self.ctx, &mut attempts);
                    return Err(Failed::new(Disposition::NoAnswer, "ring_timeout"));
                }
            };
            let Some(ev) = ev else {
                return Err(Failed::new(Disposition::Failed, "shutdown"));
            };
            match ev {
                CallEvent::Response { key, response } => {
                    let Some(i) = attempts.iter().position(|a| a.key == key && !a.done) else {
                        continue;
                    };
                    match response.status {
                        100 => {}
                        101..=199 if side == Side::A => self.early_media(&response),
                        101..=199 => {}
                        200..=299 => {
                            if let Some(answered) = self.answered(side, &mut attempts, i, &response)
                            {
                                return Ok(answered);
                            }
                        }
                        401 | 407
                            if self
                                .retry_with_credentials(&mut attempts[i], &response)
                                .await => {}
                        status => {
                            attempts[i].done = true;
                            best = Some(super::best_failure(best, status));
                        }
                    }
                }
                CallEvent::TimedOut { key } => {
                    if let Some(a) = attempts.iter_mut().find(|a| a.key == key) {
                        a.done = true;
                        best = Some(super::best_failure(best, 408));
                    }
                }
                CallEvent::Request { key, request } if self.agent_hung_up(&key, &request) => {
                    cancel(&self.ctx, &mut attempts);
                    return Err(Failed::new(Disposition::Cancelled, "agent_bye"));
                }
                CallEvent::HangUp => {
                    cancel(&self.ctx, &mut attempts);
                    let mut failed = Failed::new(Disposition::Cancelled, "api_hangup");
                    failed.status = Some(487);
                    return Err(failed);
                }
                CallEvent::Describe { reply } => {
                    let _ = reply.send(self.describe());
                }
                CallEvent::Control { reply, .. } => {
                    let _ = reply.send(Err(ControlRefusal::NotConnected));
                }
                CallEvent::Record { reply, .. } => {
                    let _ = reply.send(false);
                }
                // Nothing else applies before the call is connected: dropping a reply
                // reads as "no such call".
                _ => {}
            }
        }
    }

    /// A request in the agent's dialog while the customer rings: a BYE ends the
    /// placing (`true`); anything else is answered here.
    fn agent_hung_up(&mut self, key: &TsxKey, request: &Request) -> bool {
        let Some(agent) = self
            .agent
            .as_mut()
            .filter(|a| request.headers.call_id() == Some(a.dialog.id().call_id.as_str()))
        else {
            self.ctx.respond(key, request, 481);
            return false;
        };
        if agent.dialog.handle_request(request).is_err() {
            self.ctx.respond(key, request, 500);
            return false;
        }
        match request.method {
            Method::Bye => {
                self.ctx.respond(key, request, 200);
                true
            }
            Method::Ack => false,
            // A re-INVITE before there is anyone to pass it to: ask the phone to try
            // again a little later (RFC 3261 §14.1).
            Method::Invite | Method::Update => {
                self.ctx.respond(key, request, 491);
                false
            }
            _ => {
                self.ctx.respond(key, request, 200);
                false
            }
        }
    }

    fn answered(
        &mut self,
        side: Side,
        attempts: &mut [Attempt],
        i: usize,
        response: &Response,
    ) -> Option<Answered> {
        let attempt = &mut attempts[i];
        attempt.done = true;
        let (key, invite, target) = (attempt.key, attempt.invite.clone(), attempt.target);
        let dialog = Dialog::uac(&invite, response).ok()?;
        let seq = invite.headers.cseq().map_or(1, |c| c.seq);
        self.ctx.send(Command::Ack {
            invite: key,
            ack: dialog.ack(seq),
            target,
        });
        cancel(&self.ctx, attempts);
        let usable = Sdp::parse(&response.body)
            .ok()
            .and_then(|sdp| codecs::leg_codec(&sdp).map(|codec| (sdp, codec)));
        let Some((sdp, codec)) = usable else {
            // An answer the node cannot carry audio with: hang that phone up.
            debug!(call = self.id.0, ?side, "answer without a usable codec");
            let mut dialog = dialog;
            let mut bye = dialog.request(Method::Bye);
            self.ctx.request_headers(&mut bye.headers);
            let ctx = Arc::clone(&self.ctx);
            let id = self.id;
            tokio::spawn(async move {
                ctx.send_request(id, bye, target).await;
            });
            return None;
        };
        Some(Answered {
            key,
            invite,
            dialog,
            target,
            sdp,
            codec,
        })
    }

    /// A leg's answer: the relay learns where it wants its audio and in which codec.
    fn joined(&self, side: Side, leg: &Answered) {
        if let Some(remote) = leg.sdp.audio_remote() {
            self.media.set_remote(side, remote.rtp, remote.rtcp);
        }
        if let Err(error) = self.media.set_codec(side, leg.codec) {
            debug!(call = self.id.0, %error, "codec not set");
        }
        watch_media(&self.media, side, &leg.sdp);
    }

    /// The customer's provisional response with SDP: its early media (a carrier's
    /// ringback or announcement) goes to the agent in place of the node's ringback.
    fn early_media(&self, response: &Response) {
        let Ok(sdp) = Sdp::parse(&response.body) else {
            return;
        };
        let (Some(remote), Some(codec)) = (sdp.audio_remote(), codecs::leg_codec(&sdp)) else {
            return;
        };
        self.media.set_remote(Side::A, remote.rtp, remote.rtcp);
        if self.media.set_codec(Side::A, codec).is_ok() {
            self.media.stop_playback(Side::B);
        }
    }

    /// North American ringback (440 + 480 Hz, 2 s on, 4 s off) to the agent while
    /// the customer's phone rings, for two minutes at most.
    fn play_ringback(&self) {
        let rate = self
            .agent
            .as_ref()
            .and_then(|a| a.codec.codec.pcm_rate())
            .unwrap_or(media::codec::SampleRate::Hz8000);
        let cadences = vec![ringback(rate); 20];
        if let Err(error) = self.media.play(Side::B, RINGBACK_ID, cadences) {
            debug!(call = self.id.0, %error, "no ringback");
        }
    }

    async fn retry_with_credentials(&mut self, attempt: &mut Attempt, response: &Response) -> bool {
        let Some(line) = attempt.trunk.clone() else {
            return false;
        };
        let Some(invite) = line.answer_challenge(&attempt.invite, response) else {
            debug!(call = self.id.0, trunk = %line.trunk.name, "trunk refused the credentials");
            return false;
        };
        attempt.key = self
            .ctx
            .send_request(self.id, invite.clone(), attempt.target)
            .await;
        attempt.invite = invite;
        true
    }

    async fn bye_agent(&mut self) {
        let Some(agent) = self.agent.as_mut() else {
            return;
        };
        let mut bye = agent.dialog.request(Method::Bye);
        self.ctx.request_headers(&mut bye.headers);
        let target = agent.target;
        self.ctx.send_request(self.id, bye, target).await;
    }

    fn describe(&self) -> CallSummary {
        CallSummary {
            call_id: self.cdr.call_id.clone(),
            caller: self.cdr.caller.clone(),
            callee: self.cdr.callee.clone(),
            phase: CallPhase::Ringing,
            started_at: self.cdr.started_at,
            answered_at: None,
            queue: None,
            agent: self.cdr.routing.agent.clone(),
            customer: None,
            analysis: None,
            conference: None,
        }
    }

    fn publish(&self, kind: EventKind, extra: Option<serde_json::Value>) {
        let mut data = serde_json::json!({
            "caller": self.cdr.caller,
            "callee": self.cdr.callee,
            "direction": "outbound",
        });
        if let (Some(extra), Some(map)) = (extra, data.as_object_mut()) {
            map.extend(extra.as_object().cloned().unwrap_or_default());
        }
        let mut event = crate::api::Event::new(kind, unix_ms()).call(self.cdr.call_id.clone());
        if let Some(agent) = &self.cdr.routing.agent {
            event = event.agent(agent.clone());
        }
        if let Some(queue) = &self.cdr.routing.queue {
            event = event.queue(queue.clone());
        }
        self.ctx.events.publish(event.data(data));
    }

    /// Ends the placing without a call: the CDR is committed, then `call.ended`.
    async fn fail(&mut self, failed: Failed) {
        self.seat = None;
        self.media.stop_playback(Side::B);
        debug!(call = self.id.0, cause = %failed.cause, "outbound call not connected");
        self.cdr
            .finish(failed.disposition, &failed.cause, failed.status, unix_ms());
        if let Err(e) = self.ctx.cdrs.write(self.cdr.clone()).await {
            tracing::error!(call = self.id.0, error = %e, "CDR not written");
        }
        self.publish(
            EventKind::CallEnded,
            Some(serde_json::json!({
                "disposition": self.cdr.disposition.as_str(),
                "cause": self.cdr.hangup_cause,
                "cdr_id": self.cdr.id,
            })),
        );
    }

    /// The connected call: the customer on side A, the agent on side B.
    fn into_call(mut self, customer: Answered) -> (Call, UnboundedReceiver<CallEvent>) {
        self.media.stop_playback(Side::B);
        let agent = self
            .agent
            .take()
            .expect("the agent answered before the customer");
        let source = Source {
            transport: customer.target.transport,
            remote: customer.target.remote,
            conn: customer.target.conn,
        };
        let setup = CallSetup {
            id: self.id,
            key: customer.key,
            invite: customer.invite,
            source,
            caller: self.cdr.caller.clone(),
            authenticated: true,
            callee: self.cdr.callee.clone(),
            bindings: Vec::new(),
        };
        let (mut call, _) = Call::new(Arc::clone(&self.ctx), setup);
        call.placed = true;
        call.session_timer = None;
        call.a_tag = self.a_tag;
        call.b_call_id = self.b_call_id;
        call.b_tag = self.b_tag;
        call.origin_a = self.origin_a;
        call.origin_b = self.origin_b;
        call.a_dialog = Some(customer.dialog);
        call.b = Some((agent.dialog, agent.target));
        call.a_offer = Some(customer.sdp.clone());
        call.a_codec = Some(customer.codec);
        call.b_codec = Some(agent.codec);
        call.peer_sends = [
            super::rtp_watch::sends(&customer.sdp),
            super::rtp_watch::sends(&agent.sdp),
        ];
        call.media_events = Some(self.media.events());
        call.media = Some(self.media);
        call.trunk_seat = self.seat;
        call.a_answered = true;
        call.phase = Phase::Answered;
        let answered_at = unix_ms();
        self.cdr.answered_at = Some(answered_at);
        self.cdr.routing.agent_answered_at = Some(answered_at);
        call.cdr = self.cdr;
        call.deadline = Instant::now() + call.ctx.max_duration;
        let agent_ext = call.cdr.callee.clone();
        match self.order {
            // The ACD routed it: the call ends in its books like any queue call.
            Order::Callback { call: name, .. } => {
                call.queue = Some(super::queue::Queued::taken(name, agent_ext));
            }
            Order::Dial => call.report_direct(Side::B, Some(agent_ext)),
        }
        if call.trunk_seat.is_none() {
            // An extension on the other end: busy on this call too, if it is an agent.
            let customer_ext = call.cdr.caller.clone();
            call.report_direct(Side::A, Some(customer_ext));
        }
        let answer = agent.sdp.to_bytes();
        call.start_recording(&answer);
        call.start_streaming(&answer);
        call.publish_answered();
        (call, self.events)
    }
}

/// Cancels every INVITE of `attempts` not yet answered.
fn cancel(ctx: &Ctx, attempts: &mut [Attempt]) {
    for a in attempts.iter_mut().filter(|a| !a.done) {
        ctx.send(Command::Cancel { key: a.key });
        a.done = true;
    }
}

/// One ringback cadence at `rate`: 2 s of 440 + 480 Hz at −19 dBFS each, 4 s of
/// silence.
fn ringback(rate: media::codec::SampleRate) -> media::wav::Prompt {
    let hz = f64::from(rate.hz());
    let on = rate.hz() as usize * 2;
    let amplitude = 3_700.0;
    let mut samples: Vec<i16> = (0..on)
        .map(|n| {
            let t = n as f64 / hz;
            let v = amplitude
                * ((2.0 * std::f64::consts::PI * 440.0 * t).sin()
                    + (2.0 * std::f64::consts::PI * 480.0 * t).sin());
            v as i16
        })
        .collect();
    samples.resize(on * 3, 0);
    media::wav::Prompt::from_samples(rate, samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ringback_is_two_seconds_of_tone_then_four_of_silence() {
        let prompt = ringback(media::codec::SampleRate::Hz8000);
        let samples = prompt.samples();
        assert_eq!(samples.len(), 48_000);
        let peak = |s: &[i16]| s.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
        assert!(peak(&samples[..16_000]) > 6_000, "the tone is there");
        assert!(peak(&samples[..16_000]) < 7_500, "and does not clip");
        assert_eq!(peak(&samples[16_000..]), 0);
    }

    #[test]
    fn a_customer_failure_reads_as_busy_no_answer_or_failed() {
        let busy = Failed::status(486);
        assert_eq!(
            (busy.disposition, busy.cause.as_str()),
            (Disposition::Busy, "busy")
        );
        let unanswered = Failed::status(480);
        assert_eq!(unanswered.disposition, Disposition::NoAnswer);
        let failed = Failed::status(404);
        assert_eq!(
            (failed.disposition, failed.status),
            (Disposition::Failed, Some(404))
        );
    }
}
