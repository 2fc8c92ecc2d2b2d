//! The INVITE client transaction (RFC 3261 §17.1.1, Figure 5, as updated
//! by RFC 6026 §7.2), with CANCEL (§9.1) and Timer C (§16.6).
//!
//! ```text
//!  ExpectResponse (Calling) ──1xx──► ExpectFinal (Proceeding) ──1xx──┐
//!   │ A: resend, ×2 (UDP)             │ C: CANCEL; then TimedOut     ◄┘
//!   │ B: TimedOut                     │
//!   ├──300-699──┬─────────300-699─────┤
//!   │           ▼                     │
//!   │   AbsorbFinal (Completed): ACK sent by us, re-sent per
//!   │   retransmitted final ──D (32 s; 0 on TCP/TLS)──► gone
//!   └────2xx────┬──────────2xx────────┘
//!               ▼
//!       Absorb2xx (Accepted): the TU's ACK re-sent per retransmitted 2xx;
//!       a 2xx from another fork goes to the TU ──M (64·T1)──► gone
//! ```
//!
//! A CANCEL asked for in Calling waits for the first provisional (§9.1);
//! once sent, the INVITE waits 64·T1 for its final response, then gives up.

use std::time::Duration;

use super::TsxEvent;
use super::ctx::{Ctx, Flow, Spawn};
use super::key::TsxKey;
use super::timers::TimerKind;
use crate::message::{HeaderName, Method, Request, Response};
use crate::net::Target;

/// An INVITE we sent.
#[derive(Debug)]
pub(crate) struct ClientInvite {
    /// The INVITE, to derive ACK and CANCEL from.
    request: Request,
    /// The INVITE as first sent, for retransmission.
    bytes: Vec<u8>,
    state: State,
    cancel: Cancel,
}

#[derive(Debug)]
enum State {
    /// Calling: no response yet; Timer A retransmits, B gives up.
    ExpectResponse { interval: Duration },
    /// Proceeding: a provisional came; waits for the final one (Timer C).
    ExpectFinal,
    /// Completed: a 300-699 came and we ACKed it; each retransmission of it
    /// gets the ACK again until Timer D.
    AbsorbFinal { ack: Vec<u8> },
    /// Accepted (RFC 6026): a 2xx came; retransmissions of 2xx are answered
    /// with the TU's ACK for that dialog until Timer M.
    Absorb2xx { dialogs: Vec<Dialog> },
}

/// One dialog a 2xx created, and the TU's ACK for it once given.
#[derive(Debug)]
struct Dialog {
    to_tag: Option<String>,
    ack: Option<(Target, Vec<u8>)>,
}

/// Where the CANCEL of this INVITE stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cancel {
    NotRequested,
    /// Asked for in Calling; sent on the first provisional.
    Pending(TsxKey),
    /// Sent; the key is the TU's (none when Timer C sent it).
    Sent(Option<TsxKey>),
}

/// The answer to a TU's request to cancel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CancelAnswer {
    /// A final response came: nothing to cancel.
    TooLate,
    /// A CANCEL was already asked for; its key, when the TU holds one.
    AlreadyRequested(Option<TsxKey>),
    /// The CANCEL may be asked for now.
    Possible,
}

impl ClientInvite {
    /// Sends the INVITE and arms A (UDP only) and B.
    pub(crate) fn start(ctx: &mut Ctx<'_>, request: Request) -> ClientInvite {
        let bytes = request.to_bytes();
        ctx.send(&bytes);
        let t1 = ctx.timers.t1;
        ctx.arm_unreliable(TimerKind::A, t1);
        ctx.arm(TimerKind::B, ctx.timers.timeout());
        ClientInvite {
            request,
            bytes,
            state: State::ExpectResponse { interval: t1 },
            cancel: Cancel::NotRequested,
        }
    }

    /// Whether the TU may cancel now.
    pub(crate) fn can_cancel(&self) -> CancelAnswer {
        match (&self.state, self.cancel) {
            (State::AbsorbFinal { .. } | State::Absorb2xx { .. }, _) => CancelAnswer::TooLate,
            (_, Cancel::Pending(k)) => CancelAnswer::AlreadyRequested(Some(k)),
            (_, Cancel::Sent(k)) => CancelAnswer::AlreadyRequested(k),
            (_, Cancel::NotRequested) => CancelAnswer::Possible,
        }
    }

    /// The TU cancels: the CANCEL (keyed `key`) goes out now in Proceeding,
    /// or on the first provisional when still Calling.
    pub(crate) fn request_cancel(&mut self, ctx: &mut Ctx<'_>, key: TsxKey) -> Flow {
        match self.state {
            State::ExpectResponse { .. } => self.cancel = Cancel::Pending(key),
            State::ExpectFinal => self.send_cancel(ctx, Some(key)),
            State::AbsorbFinal { .. } | State::Absorb2xx { .. } => {}
        }
        Flow::Continue
    }

    /// Asks the layer to start the CANCEL and waits 64·T1 for the final response.
    fn send_cancel(&mut self, ctx: &mut Ctx<'_>, key: Option<TsxKey>) {
        let request = derive(&self.request, Method::Cancel);
        ctx.out.spawns.push(Spawn {
            key,
            request,
            target: ctx.target,
        });
        self.cancel = Cancel::Sent(key);
        ctx.arm(TimerKind::C, ctx.timers.timeout());
    }

    /// A response matched this transaction.
    pub(crate) fn handle_response(&mut self, ctx: &mut Ctx<'_>, response: Response) -> Flow {
        match &mut self.state {
            State::ExpectResponse { .. } | State::ExpectFinal => self.handle_first(ctx, response),
            State::AbsorbFinal { ack } => {
                if response.status >= 300 {
                    ctx.resend(ack);
                }
                ctx.absorb();
                Flow::Continue
            }
            State::Absorb2xx { dialogs } => {
                handle_late_2xx(ctx, dialogs, response);
                Flow::Continue
            }
        }
    }

    /// A response in Calling or Proceeding.
    fn handle_first(&mut self, ctx: &mut Ctx<'_>, response: Response) -> Flow {
        ctx.disarm(TimerKind::A);
        ctx.disarm(TimerKind::B);
        let status = response.status;
        if status < 200 {
            ctx.emit(TsxEvent::Response {
                key: ctx.key,
                response,
            });
            self.enter_proceeding(ctx);
            return Flow::Continue;
        }
        ctx.disarm(TimerKind::C);
        let flow = if status < 300 {
            let to_tag = to_tag(&response);
            ctx.emit(TsxEvent::Response {
                key: ctx.key,
                response,
            });
            self.state = State::Absorb2xx {
                dialogs: vec![Dialog { to_tag, ack: None }],
            };
            ctx.arm(TimerKind::M, ctx.timers.timeout());
            Flow::Continue
        } else {
            let ack = build_ack(&self.request, &response).to_bytes();
            ctx.send(&ack);
            ctx.emit(TsxEvent::Response {
                key: ctx.key,
                response,
            });
            self.state = State::AbsorbFinal { ack };
            ctx.linger(TimerKind::D, ctx.timers.d())
        };
        if let Cancel::Pending(k) = self.cancel {
            // The CANCEL never went out; its key ends here.
            ctx.emit(TsxEvent::Terminated { key: k });
            self.cancel = Cancel::NotRequested;
        }
        flow
    }

    fn enter_proceeding(&mut self, ctx: &mut Ctx<'_>) {
        self.state = State::ExpectFinal;
        match self.cancel {
            Cancel::Pending(k) => self.send_cancel(ctx, Some(k)),
            Cancel::NotRequested => ctx.arm(TimerKind::C, ctx.timers.c),
            Cancel::Sent(_) => {}
        }
    }

    /// The TU's ACK for a 2xx: sent now and kept to answer retransmissions
    /// of that 2xx. False when the transaction is not in Accepted.
    pub(crate) fn handle_ack_2xx(
        &mut self,
        ctx: &mut Ctx<'_>,
        to_tag: Option<String>,
        target: Target,
        ack: Vec<u8>,
    ) -> bool {
        let State::Absorb2xx { dialogs } = &mut self.state else {
            return false;
        };
        ctx.send_to(target, &ack);
        match dialogs.iter_mut().find(|d| d.to_tag == to_tag) {
            Some(d) => d.ack = Some((target, ack)),
            None => dialogs.push(Dialog {
                to_tag,
                ack: Some((target, ack)),
            }),
        }
        true
    }

    /// One of this transaction's timers fired.
    pub(crate) fn handle_timer(&mut self, ctx: &mut Ctx<'_>, kind: TimerKind) -> Flow {
        match (kind, &mut self.state) {
            (TimerKind::A, State::ExpectResponse { interval }) => {
                *interval = interval.saturating_mul(2);
                let next = *interval;
                ctx.resend(&self.bytes);
                ctx.arm(TimerKind::A, next);
                Flow::Continue
            }
            (TimerKind::B, State::ExpectResponse { .. }) => {
                if let Cancel::Pending(k) = self.cancel {
                    ctx.emit(TsxEvent::Terminated { key: k });
                }
                ctx.time_out();
                Flow::Terminate
            }
            (TimerKind::C, State::ExpectFinal) if matches!(self.cancel, Cancel::Sent(_)) => {
                ctx.time_out();
                Flow::Terminate
            }
            (TimerKind::C, State::ExpectFinal) => {
                self.send_cancel(ctx, None);
                Flow::Continue
            }
            (TimerKind::D, State::AbsorbFinal { .. }) | (TimerKind::M, State::Absorb2xx { .. }) => {
                Flow::Terminate
            }
            _ => Flow::Continue,
        }
    }
}

/// A response in Accepted: a 2xx of a known dialog is a retransmission and
/// gets the TU's ACK again; a 2xx of a new dialog (another fork) goes to the TU.
fn handle_late_2xx(ctx: &mut Ctx<'_>, dialogs: &mut Vec<Dialog>, response: Response) {
    if !(200..300).contains(&response.status) {
        ctx.absorb();
        return;
    }
    let tag = to_tag(&response);
    match dialogs.iter().find(|d| d.to_tag == tag) {
        Some(d) => {
            if let Some((target, ack)) = &d.ack {
                ctx.resend_to(*target, ack);
            }
            ctx.absorb();
        }
        None => {
            dialogs.push(Dialog {
                to_tag: tag,
                ack: None,
            });
            ctx.emit(TsxEvent::Response {
                key: ctx.key,
                response,
            });
        }
    }
}

fn to_tag(r: &Response) -> Option<String> {
    r.headers.to().and_then(|t| t.tag().map(str::to_owned))
}

/// A request derived from the INVITE that shares its transaction identity
/// (§9.1, §17.1.1.3): same Request-URI, top Via (so the same branch), From,
/// To, Call-ID, CSeq number and Route set; a fresh Max-Forwards.
fn derive(invite: &Request, method: Method) -> Request {
    let mut req = Request::new(method.clone(), invite.uri.clone());
    let h = &invite.headers;
    if let Some(via) = h
        .values(&HeaderName::Via)
        .and_then(|v| v.first().map(|s| s.to_string()))
    {
        req.headers.push(HeaderName::Via, via);
    }
    req.headers.push(HeaderName::MaxForwards, "70");
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        if let Some(v) = h.get(&name) {
            req.headers.push(name, v);
        }
    }
    let seq = h.cseq().map_or(0, |c| c.seq);
    req.headers
        .push(HeaderName::CSeq, format!("{seq} {method}"));
    for route in h.get_all(&HeaderName::Route) {
        req.headers.push(HeaderName::Route, route);
    }
    req
}

/// The ACK for a non-2xx final response (§17.1.1.3): To as in the response,
/// with its tag.
fn build_ack(invite: &Request, response: &Response) -> Request {
    let mut ack = derive(invite, Method::Ack);
    if let Some(to) = response.headers.get(&HeaderName::To) {
        ack.headers.set(HeaderName::To, to);
    }
    ack
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, parse};

    const INVITE: &str = "INVITE sip:b@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinv;rport\r\nVia: SIP/2.0/UDP 10.0.0.1\r\n\
Max-Forwards: 12\r\nRoute: <sip:p1.example.com;lr>\r\nRoute: <sip:p2.example.com;lr>\r\n\
From: <sip:a@example.com>;tag=fa\r\nTo: <sip:b@example.com>\r\nCall-ID: c1@x\r\nCSeq: 7 INVITE\r\n\
Contact: <sip:a@192.0.2.1>\r\nContent-Length: 0\r\n\r\n";

    fn invite() -> Request {
        match parse(INVITE.as_bytes(), false) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cancel_copies_identity_and_route_only() {
        let c = derive(&invite(), Method::Cancel);
        assert_eq!(c.method, Method::Cancel);
        assert_eq!(c.uri, invite().uri);
        assert_eq!(c.headers.vias().len(), 1);
        assert_eq!(c.headers.top_via().unwrap().branch(), Some("z9hG4bKinv"));
        assert_eq!(c.headers.cseq().unwrap().to_string(), "7 CANCEL");
        assert_eq!(c.headers.count(&HeaderName::Route), 2);
        assert_eq!(c.headers.get(&HeaderName::MaxForwards), Some("70"));
        assert_eq!(c.headers.count(&HeaderName::Contact), 0);
        let again = parse(&c.to_bytes(), false).unwrap();
        assert_eq!(again.to_bytes(), c.to_bytes());
    }

    #[test]
    fn ack_takes_the_response_to_tag() {
        let mut resp = Response::to_request(&invite(), 486);
        resp.headers
            .set(HeaderName::To, "<sip:b@example.com>;tag=tb");
        let ack = build_ack(&invite(), &resp);
        assert_eq!(ack.headers.to().unwrap().tag(), Some("tb"));
        assert_eq!(ack.headers.cseq().unwrap().to_string(), "7 ACK");
        assert_eq!(ack.headers.from().unwrap().tag(), Some("fa"));
    }
}
