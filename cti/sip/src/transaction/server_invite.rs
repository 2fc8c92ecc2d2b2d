//! The INVITE server transaction (RFC 3261 §17.2.1, Figure 7, as updated by
//! RFC 6026 §7.1), which also retransmits 2xx responses until their ACK
//! (the UAS core's duty in §13.3.1.4, taken on here).
//!
//! ```text
//!  ExpectTuFinal (Proceeding): 100 sent at once; INVITE retransmission
//!   │ gets the last provisional again; TU silent for Timer C → 408
//!   ├──TU 300-699──► ExpectAck (Completed): G resends (×2 ≤ T2, UDP),
//!   │                 │ H (64·T1): TimedOut
//!   │                 └─ACK─► AbsorbAcks (Confirmed) ──I (T4; 0 on TCP/TLS)──► gone
//!   └──TU 2xx──────► ExpectDialogAck (Accepted): 2xx resent (×2 ≤ T2, UDP)
//!                     until the dialog's ACK, which goes to the TU; INVITE
//!                     retransmissions absorbed ──L (64·T1)──► gone
//!                     (TimedOut first when no ACK came)
//! ```

use std::time::Duration;

use super::TsxEvent;
use super::ctx::{Ctx, Flow};
use super::timers::TimerKind;
use crate::message::{Request, Response};
use crate::net::Source;

/// An INVITE we received.
#[derive(Debug)]
pub(crate) struct ServerInvite {
    state: State,
    /// What the layer answers when the TU does not.
    timeout_reply: Option<Response>,
    /// The To tag of the last response sent (an RFC 2543 ACK must carry it;
    /// the 200 to a CANCEL reuses it).
    to_tag: Option<String>,
    /// A `TimedOut` went to the TU already; do not repeat it.
    reported: bool,
}

#[derive(Debug)]
enum State {
    /// Proceeding: waits for the TU's final response.
    ExpectTuFinal { last: Vec<u8> },
    /// Completed: a 300-699 went out; Timer G resends it until the ACK.
    ExpectAck { last: Vec<u8>, interval: Duration },
    /// Confirmed: the ACK came; its retransmissions are absorbed until Timer I.
    AbsorbAcks,
    /// Accepted (RFC 6026): a 2xx went out; resent until the dialog's ACK.
    ExpectDialogAck {
        last: Vec<u8>,
        interval: Duration,
        acked: bool,
    },
}

impl ServerInvite {
    /// A new transaction: sends 100 Trying and arms the TU's deadline.
    pub(crate) fn start(
        ctx: &mut Ctx<'_>,
        trying: &Response,
        timeout_reply: Response,
    ) -> ServerInvite {
        let last = trying.to_bytes();
        ctx.send(&last);
        ctx.arm(TimerKind::Answer, ctx.timers.c);
        ServerInvite {
            state: State::ExpectTuFinal { last },
            timeout_reply: Some(timeout_reply),
            to_tag: None,
            reported: false,
        }
    }

    /// True while no final response went out (a CANCEL still has an effect).
    pub(crate) fn is_proceeding(&self) -> bool {
        matches!(self.state, State::ExpectTuFinal { .. })
    }

    /// The To tag of the last response sent.
    pub(crate) fn to_tag(&self) -> Option<&str> {
        self.to_tag.as_deref()
    }

    /// The INVITE came again.
    pub(crate) fn handle_retransmit(&mut self, ctx: &mut Ctx<'_>) -> Flow {
        ctx.absorb();
        match &self.state {
            State::ExpectTuFinal { last } | State::ExpectAck { last, .. } => ctx.resend(last),
            State::AbsorbAcks | State::ExpectDialogAck { .. } => {}
        }
        Flow::Continue
    }

    /// The TU answers. In Accepted another 2xx (a second dialog) is sent
    /// once; anything else after the final response is ignored.
    pub(crate) fn respond(&mut self, ctx: &mut Ctx<'_>, response: &Response) -> Flow {
        let status = response.status;
        match self.state {
            State::ExpectTuFinal { .. } => {}
            State::ExpectDialogAck { .. } if (200..300).contains(&status) => {
                ctx.send(&response.to_bytes());
                return Flow::Continue;
            }
            _ => return Flow::Continue,
        }
        let last = response.to_bytes();
        ctx.send(&last);
        self.to_tag = response
            .headers
            .to()
            .and_then(|t| t.tag().map(str::to_owned));
        let t1 = ctx.timers.t1;
        if status < 200 {
            self.state = State::ExpectTuFinal { last };
            ctx.arm(TimerKind::Answer, ctx.timers.c);
            return Flow::Continue;
        }
        ctx.disarm(TimerKind::Answer);
        // Only needed while the TU may still fail to answer.
        self.timeout_reply = None;
        if status < 300 {
            ctx.arm_unreliable(TimerKind::Resend2xx, t1);
            ctx.arm(TimerKind::L, ctx.timers.timeout());
            self.state = State::ExpectDialogAck {
                last,
                interval: t1,
                acked: false,
            };
        } else {
            ctx.arm_unreliable(TimerKind::G, t1);
            ctx.arm(TimerKind::H, ctx.timers.timeout());
            self.state = State::ExpectAck { last, interval: t1 };
        }
        Flow::Continue
    }

    /// An ACK matched this transaction (by branch for a non-2xx, by dialog
    /// for a 2xx). The first ACK of a 2xx goes to the TU.
    pub(crate) fn handle_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        request: Request,
        source: Source,
    ) -> Flow {
        match &mut self.state {
            State::ExpectAck { .. } => {
                ctx.disarm(TimerKind::G);
                ctx.disarm(TimerKind::H);
                self.state = State::AbsorbAcks;
                ctx.linger(TimerKind::I, ctx.timers.t4)
            }
            State::ExpectDialogAck { acked, .. } if !*acked => {
                *acked = true;
                ctx.disarm(TimerKind::Resend2xx);
                // The client has the 2xx (it ACKed): only a duplicated INVITE
                // can still arrive, so absorb for T4 rather than all of 64·T1
                // (at thousands of calls a second, the difference is most of
                // the layer's memory).
                ctx.disarm(TimerKind::L);
                ctx.arm(TimerKind::L, ctx.timers.t4);
                ctx.emit(TsxEvent::Ack { request, source });
                Flow::Continue
            }
            _ => {
                ctx.absorb();
                Flow::Continue
            }
        }
    }

    /// One of this transaction's timers fired.
    pub(crate) fn handle_timer(&mut self, ctx: &mut Ctx<'_>, kind: TimerKind) -> Flow {
        match (kind, &mut self.state) {
            (TimerKind::G, State::ExpectAck { last, interval })
            | (
                TimerKind::Resend2xx,
                State::ExpectDialogAck {
                    last,
                    interval,
                    acked: false,
                },
            ) => {
                *interval = ctx.timers.backoff_capped(*interval);
                let next = *interval;
                ctx.resend(last);
                ctx.arm(kind, next);
                Flow::Continue
            }
            (TimerKind::H, State::ExpectAck { .. }) => {
                self.report(ctx);
                Flow::Terminate
            }
            (TimerKind::L, State::ExpectDialogAck { acked, .. }) => {
                if !*acked {
                    self.report(ctx);
                }
                Flow::Terminate
            }
            (TimerKind::I, State::AbsorbAcks) => Flow::Terminate,
            (TimerKind::Answer, State::ExpectTuFinal { .. }) => {
                self.report(ctx);
                match self.timeout_reply.take() {
                    Some(reply) => self.respond(ctx, &reply),
                    None => Flow::Continue,
                }
            }
            _ => Flow::Continue,
        }
    }

    fn report(&mut self, ctx: &mut Ctx<'_>) {
        if !self.reported {
            self.reported = true;
            ctx.time_out();
        }
    }
}
