//! The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).
//!
//! ```text
//!  ExpectTuResponse (Trying) ──TU 1xx──► ExpectTuFinal (Proceeding)
//!   │ retransmission: dropped             │ retransmission: last 1xx again
//!   └───────TU final──────┬────TU final───┘
//!                         ▼
//!            AbsorbRetransmits (Completed): retransmission gets the final
//!            again ──J (64·T1; 0 on TCP/TLS)──► gone
//! ```
//!
//! A TU that stays silent for 64·T1 (the client's Timer F has fired by
//! then) gets its transaction answered 408 by the layer and a `TimedOut`.

use super::ctx::{Ctx, Flow};
use super::timers::TimerKind;
use crate::message::Response;

/// A non-INVITE request we received.
#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    state: State,
    /// What the layer answers when the TU does not.
    timeout_reply: Option<Response>,
}

#[derive(Debug)]
enum State {
    /// Trying: the TU has not answered; retransmissions are dropped.
    ExpectTuResponse,
    /// Proceeding: the TU sent a provisional; retransmissions get it again.
    ExpectTuFinal { last: Vec<u8> },
    /// Completed: the final response went out; retransmissions get it
    /// again until Timer J.
    AbsorbRetransmits { last: Vec<u8> },
}

impl ServerNonInvite {
    /// A new transaction; arms the TU's answer deadline.
    pub(crate) fn start(ctx: &mut Ctx<'_>, timeout_reply: Response) -> ServerNonInvite {
        ctx.arm(TimerKind::Answer, ctx.timers.timeout());
        ServerNonInvite {
            state: State::ExpectTuResponse,
            timeout_reply: Some(timeout_reply),
        }
    }

    /// The request came again.
    pub(crate) fn handle_retransmit(&mut self, ctx: &mut Ctx<'_>) -> Flow {
        ctx.absorb();
        match &self.state {
            State::ExpectTuResponse => {}
            State::ExpectTuFinal { last } | State::AbsorbRetransmits { last } => ctx.resend(last),
        }
        Flow::Continue
    }

    /// The TU answers. Responses after the final one are ignored.
    pub(crate) fn respond(&mut self, ctx: &mut Ctx<'_>, response: &Response) -> Flow {
        if matches!(self.state, State::AbsorbRetransmits { .. }) {
            return Flow::Continue;
        }
        let last = response.to_bytes();
        ctx.send(&last);
        if response.is_provisional() {
            self.state = State::ExpectTuFinal { last };
            return Flow::Continue;
        }
        ctx.disarm(TimerKind::Answer);
        // Only needed while the TU may still fail to answer.
        self.timeout_reply = None;
        self.state = State::AbsorbRetransmits { last };
        ctx.linger(TimerKind::J, ctx.timers.timeout())
    }

    /// One of this transaction's timers fired.
    pub(crate) fn handle_timer(&mut self, ctx: &mut Ctx<'_>, kind: TimerKind) -> Flow {
        match kind {
            TimerKind::J => Flow::Terminate,
            TimerKind::Answer => {
                ctx.time_out();
                match self.timeout_reply.take() {
                    Some(reply) => self.respond(ctx, &reply),
                    None => Flow::Continue,
                }
            }
            _ => Flow::Continue,
        }
    }
}
