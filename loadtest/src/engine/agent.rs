//! One simulated agent as a sans-IO state machine: the UAS side of the
//! calls the node routes to the extension the agent registered.
//!
//! ```text
//!  Idle ──INVITE──► 180, Ringing ──answer delay──► 200 + SDP, Talking
//!   ▲                  └─ CANCEL ─► 487 ─► Idle         │
//!   │                                                   ├─ handle time ends ─► BYE ─► ExpectByeAnswer ─┐
//!   │                                                   └─ BYE from the caller ───────────────────────┤
//!   └──────────────── wrap-up pause ◄── WrapUp ◄─────────────────────────────────────────────────────┘
//! ```
//!
//! An agent takes one call at a time: an INVITE while it is not idle is
//! answered with the pool's busy status. Timers carry the call number they
//! were armed for, so a timer left over from an earlier call is ignored.

use std::time::{Duration, Instant};

use sip::dialog::Dialog;
use sip::message::{Method, Request, Response};
use sip::transaction::TsxKey;

use super::msg;
use super::sdp::MediaStart;

/// What the engine drew for one offered call.
#[derive(Debug)]
pub(crate) struct Offer {
    /// The INVITE's server transaction.
    pub(crate) key: TsxKey,
    /// The INVITE.
    pub(crate) invite: Request,
    /// Our To tag.
    pub(crate) tag: String,
    /// Our SDP answer and the media it sets up, if any.
    pub(crate) answer: Option<(Vec<u8>, MediaStart)>,
    /// Delay before the 200.
    pub(crate) answer_delay: Duration,
    /// Talk time before our BYE; `None`: wait for the caller's.
    pub(crate) handle_time: Option<Duration>,
    /// Pause after the call.
    pub(crate) wrap_up: Duration,
}

/// Timers of an agent; `u64` is the call number it was armed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AgentTimer {
    /// Send the 200.
    Answer(u64),
    /// Send the BYE.
    HangUp(u64),
    /// Wrap-up is over.
    Ready(u64),
}

/// What the engine must do for an agent.
#[derive(Debug)]
pub(crate) enum AgentAction {
    /// Answer a server transaction.
    Respond(TsxKey, Response),
    /// Start a client transaction (BYE).
    Send(Request),
    /// Start RTP both ways.
    StartMedia(MediaStart),
    /// Stop RTP and keep its statistics.
    StopMedia,
    /// Fire the timer at the instant.
    Arm(AgentTimer, Instant),
    /// An offered call ended: answered or not, and who hung up.
    CallEnded {
        /// The call was answered.
        answered: bool,
        /// The agent sent the BYE.
        agent_hung_up: bool,
    },
}

/// Inputs of an agent.
#[derive(Debug)]
pub(crate) enum AgentInput {
    /// A new INVITE for this agent.
    Invite(Box<Offer>),
    /// The caller cancelled the ringing INVITE (the layer answered the CANCEL).
    Cancelled,
    /// The caller sent BYE (the engine answered it).
    RemoteBye,
    /// Our BYE got a final response or timed out.
    ByeDone,
    /// Our 200 was never ACKed.
    AckTimedOut,
    /// A timer fired.
    Timer(AgentTimer),
}

enum State {
    Idle,
    Ringing(Box<Offer>),
    Talking { dialog: Box<Dialog> },
    ExpectByeAnswer,
    WrapUp,
}

/// One simulated agent.
pub(crate) struct Agent {
    contact: String,
    busy_status: u16,
    state: State,
    /// Number of the current (or last) call, for matching timers.
    call: u64,
    /// Wrap-up of the current call.
    wrap_up: Duration,
}

impl Agent {
    /// An idle agent reachable at `contact` (a name-addr).
    pub(crate) fn new(contact: String, busy_status: u16) -> Agent {
        Agent {
            contact,
            busy_status,
            state: State::Idle,
            call: 0,
            wrap_up: Duration::ZERO,
        }
    }

    /// Whether the agent would take a new call.
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// Feeds one input.
    pub(crate) fn handle(&mut self, now: Instant, input: AgentInput, out: &mut Vec<AgentAction>) {
        match input {
            AgentInput::Invite(offer) => self.on_invite(now, offer, out),
            AgentInput::Cancelled => self.on_cancel(out),
            AgentInput::RemoteBye => self.on_remote_bye(now, out),
            AgentInput::ByeDone => {
                if matches!(self.state, State::ExpectByeAnswer) {
                    self.wrap_up(now, true, out);
                }
            }
            AgentInput::AckTimedOut => self.hang_up(out),
            AgentInput::Timer(t) => self.on_timer(now, t, out),
        }
    }

    fn on_invite(&mut self, now: Instant, offer: Box<Offer>, out: &mut Vec<AgentAction>) {
        if !self.is_idle() {
            let resp = msg::response(&offer.invite, self.busy_status, &offer.tag, None, None);
            return out.push(AgentAction::Respond(offer.key, resp));
        }
        self.call += 1;
        self.wrap_up = offer.wrap_up;
        let ringing = msg::response(&offer.invite, 180, &offer.tag, Some(&self.contact), None);
        out.push(AgentAction::Respond(offer.key, ringing));
        out.push(AgentAction::Arm(
            AgentTimer::Answer(self.call),
            now + offer.answer_delay,
        ));
        self.state = State::Ringing(offer);
    }

    fn on_cancel(&mut self, out: &mut Vec<AgentAction>) {
        if let State::Ringing(offer) = &self.state {
            let resp = msg::response(&offer.invite, 487, &offer.tag, None, None);
            out.push(AgentAction::Respond(offer.key, resp));
            out.push(AgentAction::CallEnded {
                answered: false,
                agent_hung_up: false,
            });
            self.state = State::Idle;
        }
    }

    fn on_remote_bye(&mut self, now: Instant, out: &mut Vec<AgentAction>) {
        match self.state {
            State::Talking { .. } => {
                out.push(AgentAction::StopMedia);
                self.wrap_up(now, false, out);
            }
            State::ExpectByeAnswer => self.wrap_up(now, true, out),
            _ => {}
        }
    }

    fn on_timer(&mut self, now: Instant, timer: AgentTimer, out: &mut Vec<AgentAction>) {
        match timer {
            AgentTimer::Answer(n) if n == self.call => self.answer(now, out),
            AgentTimer::HangUp(n) if n == self.call => self.hang_up(out),
            AgentTimer::Ready(n) if n == self.call && matches!(self.state, State::WrapUp) => {
                self.state = State::Idle;
            }
            _ => {}
        }
    }

    fn answer(&mut self, now: Instant, out: &mut Vec<AgentAction>) {
        let State::Ringing(offer) = std::mem::replace(&mut self.state, State::Idle) else {
            return;
        };
        let Ok(dialog) = Dialog::uas(&offer.invite, &offer.tag) else {
            let resp = msg::response(&offer.invite, 400, &offer.tag, None, None);
            out.push(AgentAction::Respond(offer.key, resp));
            return;
        };
        let sdp = offer.answer.as_ref().map(|(body, _)| body.clone());
        let ok = msg::response(&offer.invite, 200, &offer.tag, Some(&self.contact), sdp);
        out.push(AgentAction::Respond(offer.key, ok));
        if let Some((_, start)) = offer.answer {
            out.push(AgentAction::StartMedia(start));
        }
        if let Some(talk) = offer.handle_time {
            out.push(AgentAction::Arm(AgentTimer::HangUp(self.call), now + talk));
        }
        self.state = State::Talking {
            dialog: Box::new(dialog),
        };
    }

    fn hang_up(&mut self, out: &mut Vec<AgentAction>) {
        if let State::Talking { dialog } = &mut self.state {
            out.push(AgentAction::Send(dialog.request(Method::Bye)));
            out.push(AgentAction::StopMedia);
            self.state = State::ExpectByeAnswer;
        }
    }

    fn wrap_up(&mut self, now: Instant, agent_hung_up: bool, out: &mut Vec<AgentAction>) {
        out.push(AgentAction::CallEnded {
            answered: true,
            agent_hung_up,
        });
        self.state = State::WrapUp;
        out.push(AgentAction::Arm(
            AgentTimer::Ready(self.call),
            now + self.wrap_up,
        ));
    }
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
