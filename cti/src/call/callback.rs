//! A callback the ACD asked for: the caller left the queue earlier and kept their
//! place; now an agent is reserved for them. The node rings the agent first and, once
//! the agent answers, calls the customer back and bridges the two.
//!
//! ```text
//!  node ──INVITE──► agent (side B)   200, ACK        → ACD: answered
//!  node ──INVITE──► customer (side A) 200, ACK       → bridged
//!  BYE from either ──► BYE to the other, CDR         → ACD: call ended
//! ```
//!
//! Both legs are originated by the node (it is the UAC on each), each with an offer
//! from its side of one media session; the session transcodes when the two phones
//! chose different codecs. An agent who does not answer is reported to the ACD as a
//! refusal (it keeps the callback for the next agent); a customer who does not answer
//! ends the callback (CDR `no_answer`). A customer with no registered phone is called
//! at their number through the trunk whose route covers it (`crate::trunk`), whose
//! credentials answer the carrier's challenge once.

use std::sync::Arc;
use std::time::Duration;

use acd::{Input, RefuseReason};
use media::{Session, Side};
use sip::dialog::Dialog;
use sip::message::{HeaderName, Method, NameAddr, Request, Response};
use sip::net::Target;
use sip::sdp::{self, LocalMedia, Sdp};
use sip::transaction::TsxKey;
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::debug;

use super::unix_ms;
use crate::codecs;
use crate::endpoint::{CallEvent, CallRef, Command};
use crate::node::Ctx;
use crate::store::{Cdr, Disposition};
use crate::trunk::{Seat, TrunkLine};

/// How long each leg may ring.
const RING: Duration = Duration::from_secs(30);

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

/// One originated leg.
struct Leg {
    side: Side,
    invites: Vec<(TsxKey, Request, Target)>,
    dialog: Option<(Dialog, Target)>,
    /// The trunk the leg goes out by (a customer at an external number).
    trunk: Option<Arc<TrunkLine>>,
}

struct Callback {
    ctx: Arc<Ctx>,
    id: CallRef,
    req: CallbackRequest,
    media: Session,
    events: UnboundedReceiver<CallEvent>,
    cdr: Cdr,
    tag: String,
    /// The callback's place on the trunk that reaches the customer.
    seat: Option<Seat>,
}

/// Runs a callback to its end.
pub(crate) async fn run(ctx: Arc<Ctx>, req: CallbackRequest) {
    let Some((id, events)) = ctx.attach().await else {
        return;
    };
    let Ok(media) = ctx.relay.allocate() else {
        return refuse(&ctx, &req, RefuseReason::Unreachable);
    };
    let call_id = ctx.new_call_id();
    let mut cdr = Cdr::begin(&call_id, &req.contact, &req.agent, unix_ms());
    cdr.routing.queue = Some(req.queue.clone());
    cdr.routing.agent = Some(req.agent.clone());
    cdr.routing.ivr_outcome = Some("callback".to_owned());
    let tag = ctx.new_tag();
    let mut cb = Callback {
        ctx,
        id,
        req,
        media,
        events,
        cdr,
        tag,
        seat: None,
    };
    cb.place(call_id).await;
    cb.ctx.send(Command::Done { call: cb.id });
}

fn refuse(ctx: &Ctx, req: &CallbackRequest, reason: RefuseReason) {
    if let Some(acd) = &ctx.acd {
        acd.input(Input::Refused {
            call: req.call.as_str().into(),
            agent: req.agent.as_str().into(),
            reason,
        });
    }
}

impl Callback {
    async fn place(&mut self, call_id: String) {
        let agent = self.req.agent.clone();
        let Some(agent_leg) = self.ring(Side::B, &agent, &call_id).await else {
            refuse(&self.ctx, &self.req, RefuseReason::NoAnswer);
            return self.finish(Disposition::NoAnswer, "agent_no_answer").await;
        };
        if let Some(acd) = &self.ctx.acd {
            acd.input(Input::Answered {
                call: self.req.call.as_str().into(),
                agent: agent.as_str().into(),
            });
        }
        let contact = self.req.contact.clone();
        let customer_call_id = self.ctx.new_call_id();
        let Some(customer_leg) = self.ring(Side::A, &contact, &customer_call_id).await else {
            self.bye(agent_leg).await;
            return self
                .finish(Disposition::NoAnswer, "customer_no_answer")
                .await;
        };
        self.cdr.answered_at = Some(unix_ms());
        debug!(call = self.id.0, agent = %agent, "callback bridged");
        let (ended_by, other) = self.talk(agent_leg, customer_leg).await;
        if let Some(other) = other {
            self.bye(other).await;
        }
        self.finish(Disposition::Answered, ended_by).await;
    }

    /// Rings every registered phone of `ext` from `side` of the session and returns
    /// the leg that answered (the others are cancelled), or `None`.
    async fn ring(&mut self, side: Side, ext: &str, call_id: &str) -> Option<Leg> {
        let bindings = self.ctx.bindings(ext).await;
        let mut local = LocalMedia::new(self.ctx.media_ip, self.media.local(side).port());
        local.session_id = u64::from(rand::random::<u32>());
        local.username = "switchyard".to_owned();
        let offer = sdp::offer(&local).to_bytes();
        self.ctx.send(Command::Route {
            call: self.id,
            call_id: call_id.to_owned(),
            local_tag: self.tag.clone(),
        });
        let mut leg = Leg {
            side,
            invites: Vec::new(),
            dialog: None,
            trunk: None,
        };
        for b in bindings {
            let invite = self.invite(&b.contact.uri, ext, call_id, &offer, b.source.transport);
            let target = b.target();
            let key = self.ctx.send_request(self.id, invite.clone(), target).await;
            leg.invites.push((key, invite, target));
        }
        if leg.invites.is_empty() && side == Side::A {
            self.ring_by_trunk(&mut leg, ext, call_id, &offer).await;
        }
        if leg.invites.is_empty() {
            return None;
        }
        let deadline = tokio::time::Instant::now() + RING;
        let mut failed = 0;
        while failed < leg.invites.len() {
            let ev = tokio::select! {
                ev = self.events.recv() => ev?,
                () = tokio::time::sleep_until(deadline) => break,
            };
            match ev {
                CallEvent::Response { key, response } if response.status >= 200 => {
                    let Some(i) = leg.invites.iter().position(|(k, ..)| *k == key) else {
                        continue;
                    };
                    if (200..300).contains(&response.status) {
                        return self.answered(leg, i, &response);
                    }
                    if self.retry_with_credentials(&mut leg, i, &response).await {
                        continue;
                    }
                    failed += 1;
                }
                CallEvent::TimedOut { .. } => failed += 1,
                CallEvent::Request { key, request } => self.ctx.respond(&key, &request, 481),
                _ => {}
            }
        }
        for (key, ..) in &leg.invites {
            self.ctx.send(Command::Cancel { key: *key });
        }
        None
    }

    fn answered(&mut self, mut leg: Leg, i: usize, response: &Response) -> Option<Leg> {
        let (key, invite, target) = leg.invites.get(i)?.clone();
        let dialog = Dialog::uac(&invite, response).ok()?;
        let seq = invite.headers.cseq().map_or(1, |c| c.seq);
        self.ctx.send(Command::Ack {
            invite: key,
            ack: dialog.ack(seq),
            target,
        });
        for (other, ..) in leg.invites.iter().filter(|(k, ..)| *k != key) {
            self.ctx.send(Command::Cancel { key: *other });
        }
        if let Ok(answer) = Sdp::parse(&response.body) {
            if let Some(remote) = answer.audio_remote() {
                self.media.set_remote(leg.side, remote.rtp, remote.rtcp);
            }
            if let Some(codec) = codecs::leg_codec(&answer) {
                let _ = self.media.set_codec(leg.side, codec);
            }
        }
        leg.dialog = Some((dialog, target));
        Some(leg)
    }

    /// Waits for a BYE from either leg; returns who hung up and the other leg.
    async fn talk(&mut self, agent: Leg, customer: Leg) -> (&'static str, Option<Leg>) {
        let mut legs = [Some(agent), Some(customer)];
        let deadline = tokio::time::Instant::now() + self.ctx.max_duration;
        loop {
            let ev = tokio::select! {
                ev = self.events.recv() => ev,
                () = tokio::time::sleep_until(deadline) => None,
            };
            let Some(CallEvent::Request { key, request }) = ev else {
                if ev.is_none() {
                    let other = legs[1].take();
                    if let Some(agent) = legs[0].take() {
                        self.bye(agent).await;
                    }
                    return ("max_duration", other);
                }
                continue;
            };
            let from = legs.iter().position(|l| {
                l.as_ref()
                    .and_then(|l| l.dialog.as_ref())
                    .is_some_and(|(d, _)| {
                        request.headers.call_id() == Some(d.id().call_id.as_str())
                    })
            });
            match (request.method.clone(), from) {
                (Method::Bye, Some(i)) => {
                    self.ctx.respond(&key, &request, 200);
                    let cause = if i == 0 { "agent_bye" } else { "customer_bye" };
                    return (cause, legs[1 - i].take());
                }
                (_, Some(_)) => self.ctx.respond(&key, &request, 200),
                (_, None) => self.ctx.respond(&key, &request, 481),
            }
        }
    }

    async fn bye(&mut self, leg: Leg) {
        if let Some((mut dialog, target)) = leg.dialog {
            let mut bye = dialog.request(Method::Bye);
            self.ctx.request_headers(&mut bye.headers);
            self.ctx.send_request(self.id, bye, target).await;
        }
    }

    async fn finish(&mut self, disposition: Disposition, cause: &str) {
        if let Some(acd) = &self.ctx.acd
            && disposition == Disposition::Answered
        {
            acd.input(Input::CallEnded(self.req.call.as_str().into()));
        }
        self.cdr.finish(disposition, cause, None, unix_ms());
        if let Err(e) = self.ctx.cdrs.write(self.cdr.clone()).await {
            tracing::error!(call = self.id.0, error = %e, "callback CDR not written");
        }
    }

    /// Rings the customer's external `number` through the trunk its route names, if
    /// any, with a place free on it and an address that resolves.
    async fn ring_by_trunk(&mut self, leg: &mut Leg, number: &str, call_id: &str, offer: &[u8]) {
        let Some((line, number)) = self.ctx.trunks.route(number) else {
            return;
        };
        let (seat, target) = match line.open().await {
            Ok(open) => open,
            Err(cause) => {
                debug!(call = self.id.0, trunk = %line.trunk.name, cause, "no callback by the trunk");
                return;
            }
        };
        let caller_id = line.caller_id(&self.req.agent).to_owned();
        let mut from = NameAddr::new(sip::message::Uri::Sip(sip::message::SipUri::new(
            Some(&caller_id),
            self.ctx.domain().clone(),
            None,
        )));
        from.params.set("tag", Some(&self.tag));
        let contact = self.ctx.contact(line.transport());
        let mut invite = line.invite(&number, &from, call_id, contact, Some(offer));
        self.ctx.request_headers(&mut invite.headers);
        debug!(call = self.id.0, trunk = %line.trunk.name, %number, "callback out by a trunk");
        let key = self.ctx.send_request(self.id, invite.clone(), target).await;
        leg.invites.push((key, invite, target));
        leg.trunk = Some(line);
        self.seat = Some(seat);
    }

    /// Answers a carrier's 401/407 to the leg's INVITE `i` once; `false` when it
    /// cannot be answered (the failure stands).
    async fn retry_with_credentials(
        &mut self,
        leg: &mut Leg,
        i: usize,
        response: &Response,
    ) -> bool {
        let Some(line) = &leg.trunk else {
            return false;
        };
        let Some(invite) = line.answer_challenge(&leg.invites[i].1, response) else {
            return false;
        };
        let target = leg.invites[i].2;
        let key = self.ctx.send_request(self.id, invite.clone(), target).await;
        leg.invites[i] = (key, invite, target);
        true
    }

    fn invite(
        &self,
        uri: &sip::message::Uri,
        ext: &str,
        call_id: &str,
        sdp: &[u8],
        transport: sip::net::TransportKind,
    ) -> Request {
        let mut req = Request::new(Method::Invite, uri.clone());
        let domain = self.ctx.domain();
        let h = &mut req.headers;
        h.push(
            HeaderName::From,
            format!(
                "\"Callback\" <sip:{}@{domain}>;tag={}",
                self.req.contact, self.tag
            ),
        );
        h.push(HeaderName::To, format!("<sip:{ext}@{domain}>"));
        h.push(HeaderName::CallId, call_id.to_owned());
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(HeaderName::Contact, self.ctx.contact(transport));
        self.ctx.request_headers(h);
        h.push(HeaderName::ContentType, "application/sdp");
        req.body = sdp.to_vec();
        req
    }
}
