//! The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).
//!
//! ```text
//!  ExpectResponse (Trying) ──1xx──► ExpectFinal (Proceeding)
//!        │ E: resend, ×2 ≤ T2          │ E: resend every T2
//!        │ F: TimedOut                 │ F: TimedOut
//!        └──────final──────┬───final───┘
//!                          ▼
//!                AbsorbRetransmits (Completed) ──K (T4; 0 on TCP/TLS)──► gone
//! ```

use std::time::Duration;

use super::TsxEvent;
use super::ctx::{Ctx, Flow};
use super::timers::TimerKind;
use crate::message::Response;

/// A non-INVITE request we sent.
#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    /// The request as first sent, for retransmission.
    bytes: Vec<u8>,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Trying: no response yet; Timer E retransmits with a doubling interval.
    ExpectResponse { interval: Duration },
    /// Proceeding: a provisional came; Timer E retransmits every T2.
    ExpectFinal,
    /// Completed: the final response came; retransmissions of it are
    /// absorbed until Timer K.
    AbsorbRetransmits,
}

impl ClientNonInvite {
    /// Sends the request and arms E (UDP only) and F.
    pub(crate) fn start(ctx: &mut Ctx<'_>, bytes: Vec<u8>) -> ClientNonInvite {
        ctx.send(&bytes);
        let t1 = ctx.timers.t1;
        ctx.arm_unreliable(TimerKind::E, t1);
        ctx.arm(TimerKind::F, ctx.timers.timeout());
        ClientNonInvite {
            bytes,
            state: State::ExpectResponse { interval: t1 },
        }
    }

    /// A response matched this transaction.
    pub(crate) fn handle_response(&mut self, ctx: &mut Ctx<'_>, response: Response) -> Flow {
        if matches!(self.state, State::AbsorbRetransmits) {
            ctx.absorb();
            return Flow::Continue;
        }
        let provisional = response.is_provisional();
        ctx.emit(TsxEvent::Response {
            key: ctx.key,
            response,
        });
        if provisional {
            self.state = State::ExpectFinal;
            return Flow::Continue;
        }
        ctx.disarm(TimerKind::E);
        ctx.disarm(TimerKind::F);
        self.state = State::AbsorbRetransmits;
        ctx.linger(TimerKind::K, ctx.timers.t4)
    }

    /// One of this transaction's timers fired.
    pub(crate) fn handle_timer(&mut self, ctx: &mut Ctx<'_>, kind: TimerKind) -> Flow {
        match (kind, &mut self.state) {
            (TimerKind::E, State::ExpectResponse { interval }) => {
                *interval = ctx.timers.backoff_capped(*interval);
                let next = *interval;
                ctx.resend(&self.bytes);
                ctx.arm(TimerKind::E, next);
                Flow::Continue
            }
            (TimerKind::E, State::ExpectFinal) => {
                ctx.resend(&self.bytes);
                ctx.arm(TimerKind::E, ctx.timers.t2);
                Flow::Continue
            }
            (TimerKind::F, State::ExpectResponse { .. } | State::ExpectFinal) => {
                ctx.time_out();
                Flow::Terminate
            }
            (TimerKind::K, State::AbsorbRetransmits) => Flow::Terminate,
            _ => Flow::Continue,
        }
    }
}
