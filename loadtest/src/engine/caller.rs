//! One inbound call as the caller (UAC) sees it: a sans-IO state machine.
//!
//! ```text
//!  start ─► ExpectFinal ──401/407──► (INVITE again, with credentials) ─► ExpectFinal
//!              │ 18x: first provisional noted
//!              ├─ 2xx ─► ACK, media, digits ─► InCall ──hold ends──► BYE ─► ExpectByeAnswer ─► done
//!              │                                  └── BYE from the far end ─────────────────► done
//!              └─ ≥300 / timeout / transport error ─────────────────────────────────────────► done
//! ```
//!
//! Inputs are responses, timeouts and timers with `now`; outputs are
//! [`Action`]s the engine carries out (send through the transaction layer,
//! start or stop RTP, arm a timer). The finished call leaves a
//! [`CallRecord`] with every timestamp the report needs.

use std::time::{Duration, Instant};

use media::dtmf::Digit;
use sip::dialog::Dialog;
use sip::message::{HeaderName, Method, Request, Response, Uri};

use super::msg::{self, AuthFailure, Outgoing};
use super::sdp::{MediaStart, read_answer};
use crate::scenario::{Account, Algorithm};

/// Everything a call needs to start, drawn by the engine.
#[derive(Clone, Debug)]
pub(crate) struct CallerSpec {
    /// Which workload the call belongs to.
    pub(crate) workload: usize,
    /// Call-ID.
    pub(crate) call_id: String,
    /// From tag.
    pub(crate) from_tag: String,
    /// The calling account.
    pub(crate) account: Account,
    /// Algorithm to answer challenges with.
    pub(crate) algorithm: Algorithm,
    /// Client nonce for the digest answer.
    pub(crate) cnonce: String,
    /// Request-URI (the dialled number at the target).
    pub(crate) uri: Uri,
    /// Our domain, for From.
    pub(crate) domain: String,
    /// Contact (name-addr).
    pub(crate) contact: String,
    /// SDP offer and the SSRC it announces; `None`: no media.
    pub(crate) offer: Option<(Vec<u8>, u32)>,
    /// Time from answer to our BYE.
    pub(crate) hold: Duration,
    /// Whether we send the BYE when `hold` ends.
    pub(crate) hangs_up: bool,
    /// Hang up anyway this long after answer.
    pub(crate) max_call: Duration,
    /// Digits: offset from answer, key, press length.
    pub(crate) digits: Vec<(Duration, Digit, Duration)>,
}

/// Why a call did not succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A final non-2xx status.
    Status(u16),
    /// No final response in time (Timer B).
    Timeout,
    /// The network refused or could not carry the INVITE.
    Transport,
    /// Challenged, and no usable credentials.
    Auth(u16),
    /// A 2xx we could not form a dialog from.
    BadAnswer,
    /// Still in progress when the run ended.
    Unfinished,
}

impl Failure {
    /// The label used in reports.
    pub fn label(self) -> String {
        match self {
            Failure::Status(s) => s.to_string(),
            Failure::Timeout => "timeout".to_owned(),
            Failure::Transport => "transport".to_owned(),
            Failure::Auth(s) => format!("{s} (no usable credentials)"),
            Failure::BadAnswer => "bad 2xx".to_owned(),
            Failure::Unfinished => "unfinished".to_owned(),
        }
    }
}

/// Who ended an answered call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndedBy {
    /// We sent BYE after the hold time.
    Caller,
    /// The far end sent BYE.
    Callee,
    /// We sent BYE at `max_call`.
    Overrun,
    /// The run ended first (the drain time ran out).
    Abandoned,
}

/// The measured life of one call.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    /// The workload it belongs to.
    pub workload: usize,
    /// The first INVITE left.
    pub invite_at: Instant,
    /// The first 18x arrived.
    pub ringing_at: Option<Instant>,
    /// The final response arrived.
    pub final_at: Option<Instant>,
    /// Answered (2xx).
    pub answered: bool,
    /// Why it failed, if it did.
    pub failure: Option<Failure>,
    /// Who hung up an answered call.
    pub ended_by: Option<EndedBy>,
    /// Our BYE got no 2xx.
    pub bye_failed: bool,
    /// The INVITE was challenged.
    pub challenged: bool,
    /// The call ended.
    pub ended_at: Instant,
}

/// Timers of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallerTimer {
    /// The hold time is over.
    HangUp,
    /// The call has run `max_call`.
    MaxCall,
    /// Digit `n` of the plan is due.
    Digit(usize),
}

/// What the engine must do for a call.
#[derive(Debug)]
pub(crate) enum Action {
    /// Start a client transaction (INVITE, BYE).
    Send(Request),
    /// ACK a 2xx to the INVITE.
    Ack(Request),
    /// Start RTP both ways.
    StartMedia(MediaStart),
    /// Send one DTMF key now.
    SendDigit(Digit, Duration),
    /// Stop RTP and keep its statistics.
    StopMedia,
    /// Fire `CallerTimer` at the instant.
    Arm(CallerTimer, Instant),
    /// The call is over.
    Finish(CallRecord),
}

/// Inputs of a call.
#[derive(Debug)]
pub(crate) enum CallerInput<'a> {
    /// A response to the INVITE or the BYE.
    Response(&'a Response),
    /// The outstanding transaction timed out.
    TimedOut,
    /// The INVITE could not be sent.
    SendFailed,
    /// The network reported the target unreachable while we waited.
    Unreachable,
    /// The far end sent BYE (the engine answered it).
    RemoteBye,
    /// A timer fired.
    Timer(CallerTimer),
    /// The run is over: give up.
    Abandon,
}

enum State {
    ExpectFinal {
        invite: Box<Request>,
        seq: u32,
        unreachable: bool,
    },
    InCall {
        dialog: Box<Dialog>,
    },
    ExpectByeAnswer,
    Done,
}

/// One call, caller side.
pub(crate) struct Caller {
    spec: CallerSpec,
    state: State,
    record: CallRecord,
}

impl Caller {
    /// Starts the call: sends the INVITE.
    pub(crate) fn start(now: Instant, spec: CallerSpec, out: &mut Vec<Action>) -> Caller {
        let invite = build_invite(&spec, 1);
        out.push(Action::Send(invite.clone()));
        let record = CallRecord {
            workload: spec.workload,
            invite_at: now,
            ringing_at: None,
            final_at: None,
            answered: false,
            failure: None,
            ended_by: None,
            bye_failed: false,
            challenged: false,
            ended_at: now,
        };
        Caller {
            spec,
            state: State::ExpectFinal {
                invite: Box::new(invite),
                seq: 1,
                unreachable: false,
            },
            record,
        }
    }

    /// Whether the call is still being set up.
    pub(crate) fn is_setting_up(&self) -> bool {
        matches!(self.state, State::ExpectFinal { .. })
    }

    /// Feeds one input.
    pub(crate) fn handle(&mut self, now: Instant, input: CallerInput<'_>, out: &mut Vec<Action>) {
        match input {
            CallerInput::Response(r) => self.on_response(now, r, out),
            CallerInput::TimedOut => self.on_timeout(now, out),
            CallerInput::SendFailed => {
                if self.is_setting_up() {
                    self.fail(now, Failure::Transport, out);
                }
            }
            CallerInput::Unreachable => {
                if let State::ExpectFinal { unreachable, .. } = &mut self.state {
                    *unreachable = true;
                }
            }
            CallerInput::RemoteBye => self.on_remote_bye(now, out),
            CallerInput::Timer(t) => self.on_timer(now, t, out),
            CallerInput::Abandon => self.abandon(now, out),
        }
    }

    fn on_response(&mut self, now: Instant, r: &Response, out: &mut Vec<Action>) {
        let method = r.headers.cseq().map(|c| c.method);
        match (&self.state, method) {
            (State::ExpectFinal { .. }, Some(Method::Invite)) => {
                self.on_invite_response(now, r, out)
            }
            (State::ExpectByeAnswer, Some(Method::Bye)) if r.status >= 200 => {
                self.record.bye_failed = r.status >= 300;
                self.finish(now, out);
            }
            _ => {}
        }
    }

    fn on_invite_response(&mut self, now: Instant, r: &Response, out: &mut Vec<Action>) {
        match r.status {
            100 => {}
            101..=199 => {
                self.record.ringing_at.get_or_insert(now);
            }
            200..=299 => self.on_answer(now, r, out),
            401 | 407 if !self.record.challenged => self.authenticate(now, r, out),
            status => {
                self.record.final_at = Some(now);
                self.fail(now, Failure::Status(status), out);
            }
        }
    }

    fn authenticate(&mut self, now: Instant, r: &Response, out: &mut Vec<Action>) {
        self.record.challenged = true;
        let State::ExpectFinal { seq, .. } = &self.state else {
            return;
        };
        let seq = seq + 1;
        let account = &self.spec.account;
        let answer = msg::authorization(
            r,
            &Method::Invite,
            &self.spec.uri,
            &account.user,
            account.password.as_deref(),
            self.spec.algorithm,
            &self.spec.cnonce,
        );
        match answer {
            Ok((name, value)) => {
                let mut invite = build_invite(&self.spec, seq);
                invite.headers.push(name, value);
                out.push(Action::Send(invite.clone()));
                self.state = State::ExpectFinal {
                    invite: Box::new(invite),
                    seq,
                    unreachable: false,
                };
            }
            Err(AuthFailure::NoPassword | AuthFailure::NoUsableChallenge) => {
                self.record.final_at = Some(now);
                self.fail(now, Failure::Auth(r.status), out);
            }
        }
    }

    fn on_answer(&mut self, now: Instant, r: &Response, out: &mut Vec<Action>) {
        let State::ExpectFinal { invite, seq, .. } = &self.state else {
            return;
        };
        self.record.final_at = Some(now);
        let seq = *seq;
        let Ok(dialog) = Dialog::uac(invite, r) else {
            return self.fail(now, Failure::BadAnswer, out);
        };
        self.record.answered = true;
        out.push(Action::Ack(dialog.ack(seq)));
        if let Some((_, ssrc)) = &self.spec.offer
            && let Some(start) = read_answer(&r.body, *ssrc)
        {
            out.push(Action::StartMedia(start));
        }
        if self.spec.hangs_up {
            out.push(Action::Arm(CallerTimer::HangUp, now + self.spec.hold));
        }
        out.push(Action::Arm(CallerTimer::MaxCall, now + self.spec.max_call));
        for (i, (at, _, _)) in self.spec.digits.iter().enumerate() {
            out.push(Action::Arm(CallerTimer::Digit(i), now + *at));
        }
        self.state = State::InCall {
            dialog: Box::new(dialog),
        };
    }

    fn on_timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        match &self.state {
            State::ExpectFinal { unreachable, .. } => {
                let cause = if *unreachable {
                    Failure::Transport
                } else {
                    Failure::Timeout
                };
                self.fail(now, cause, out);
            }
            State::ExpectByeAnswer => {
                self.record.bye_failed = true;
                self.finish(now, out);
            }
            State::InCall { .. } | State::Done => {}
        }
    }

    fn on_remote_bye(&mut self, now: Instant, out: &mut Vec<Action>) {
        match self.state {
            State::InCall { .. } => {
                self.record.ended_by = Some(EndedBy::Callee);
                out.push(Action::StopMedia);
                self.finish(now, out);
            }
            // Both sides hung up at once: ours is answered or times out, but
            // the call is over either way.
            State::ExpectByeAnswer => self.finish(now, out),
            State::ExpectFinal { .. } | State::Done => {}
        }
    }

    fn on_timer(&mut self, _now: Instant, timer: CallerTimer, out: &mut Vec<Action>) {
        let State::InCall { dialog } = &mut self.state else {
            return;
        };
        match timer {
            CallerTimer::HangUp | CallerTimer::MaxCall => {
                let by = if timer == CallerTimer::HangUp {
                    EndedBy::Caller
                } else {
                    EndedBy::Overrun
                };
                self.record.ended_by = Some(by);
                out.push(Action::Send(dialog.request(Method::Bye)));
                out.push(Action::StopMedia);
                self.state = State::ExpectByeAnswer;
            }
            CallerTimer::Digit(i) => {
                if let Some(&(_, digit, tone)) = self.spec.digits.get(i) {
                    out.push(Action::SendDigit(digit, tone));
                }
            }
        }
    }

    fn abandon(&mut self, now: Instant, out: &mut Vec<Action>) {
        match self.state {
            State::ExpectFinal { .. } => self.fail(now, Failure::Unfinished, out),
            State::InCall { .. } => {
                self.record.ended_by = Some(EndedBy::Abandoned);
                out.push(Action::StopMedia);
                self.finish(now, out);
            }
            State::ExpectByeAnswer => {
                self.record.bye_failed = true;
                self.finish(now, out);
            }
            State::Done => {}
        }
    }

    fn fail(&mut self, now: Instant, failure: Failure, out: &mut Vec<Action>) {
        self.record.failure = Some(failure);
        self.finish(now, out);
    }

    fn finish(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.record.ended_at = now;
        self.state = State::Done;
        out.push(Action::Finish(self.record.clone()));
    }
}

fn build_invite(spec: &CallerSpec, seq: u32) -> Request {
    let from = format!("<sip:{}@{}>", spec.account.user, spec.domain);
    let to = format!("<{}>", spec.uri);
    let mut req = msg::request(
        Method::Invite,
        &Outgoing {
            uri: &spec.uri,
            from: &from,
            from_tag: &spec.from_tag,
            to: &to,
            call_id: &spec.call_id,
            contact: &spec.contact,
        },
        seq,
    );
    if let Some((sdp, _)) = &spec.offer {
        msg::set_sdp(&mut req.headers, &mut req.body, sdp.clone());
    }
    req.headers
        .push(HeaderName::Allow, "INVITE, ACK, BYE, CANCEL, OPTIONS");
    req
}

#[cfg(test)]
#[path = "caller_tests.rs"]
mod tests;
