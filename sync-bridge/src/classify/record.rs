//! The pseudonymised call record: what the cloud learns about one call.
//!
//! Field by field, from the node's CDR ([`CdrFacts`]) to [`CallRecord`]:
//!
//! | CDR | on the bridge |
//! | --- | --- |
//! | id | [`CallRef`] (keyed hash) |
//! | SIP Call-ID | dropped (it often names hosts and users) |
//! | caller | [`Pseudonym`] only |
//! | callee | [`Party::Extension`] when it is an internal extension, else a [`Pseudonym`] |
//! | times, durations, SIP status, MOS/loss/jitter/RTT, queue wait | unchanged |
//! | disposition | [`Disposition`] |
//! | hangup cause | [`HangupCause`] (closed set) |
//! | IVR path | one [`Label`] per `flow.step` (at most [`CallRecord::MAX_IVR_STEPS`]); a malformed path is one hashed label |
//! | IVR outcome | [`IvrOutcome`] (closed set; targets, mailboxes and reasons dropped) |
//! | queue, agent | [`Label`] |
//!
//! The agent is an internal extension or user name of an employee, not a
//! customer's; it stays readable so that the cloud can report per agent, and
//! is hashed when it could hold a phone number.

use serde::{Deserialize, Serialize};

use super::{CallRef, Classifier, Label, Outbound, Pseudonym, sealed};
use crate::wire::Kind;

/// How a call ended, from the caller's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Disposition {
    /// The callee answered.
    Answered,
    /// The callee was busy.
    Busy,
    /// Nobody answered in time.
    NoAnswer,
    /// The caller hung up before an answer.
    Cancelled,
    /// The call failed for another reason.
    Failed,
    /// The callee had no registered contact.
    Unavailable,
    /// The dialled number is not provisioned.
    NotFound,
}

/// One party's audio quality as the node received it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Mean opinion score (1–4.5).
    pub mos: f64,
    /// Packets lost, in percent.
    pub loss_pct: f64,
    /// Interarrival jitter, in milliseconds.
    pub jitter_ms: f64,
    /// Round-trip time from RTCP, in milliseconds.
    pub rtt_ms: Option<f64>,
}

/// A borrowed view of the node's CDR: the classifier's input. Times are unix
/// milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct CdrFacts<'a> {
    /// The node's id of the call (the CDR id).
    pub cdr_id: &'a str,
    /// The SIP Call-ID; never sent.
    pub sip_call_id: &'a str,
    /// The calling number or SIP user.
    pub caller: &'a str,
    /// The dialled number or extension.
    pub callee: &'a str,
    /// When the call arrived.
    pub started_at_ms: i64,
    /// When it was answered.
    pub answered_at_ms: Option<i64>,
    /// When it ended.
    pub ended_at_ms: i64,
    /// How it ended.
    pub disposition: Disposition,
    /// `caller_bye`, `callee_bye` or a SIP status code.
    pub hangup_cause: &'a str,
    /// The final SIP status sent to the caller.
    pub sip_status: Option<u16>,
    /// The caller's audio quality.
    pub caller_quality: Option<Quality>,
    /// The callee's audio quality.
    pub callee_quality: Option<Quality>,
    /// IVR steps as `flow.step`, separated by spaces.
    pub ivr_path: Option<&'a str>,
    /// How the IVR flow ended, as the node words it.
    pub ivr_outcome: Option<&'a str>,
    /// The ACD queue reached.
    pub queue: Option<&'a str>,
    /// Time waited in that queue.
    pub queue_wait_ms: Option<i64>,
    /// The agent who took the call.
    pub agent: Option<&'a str>,
}

/// Who or what ended a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum HangupCause {
    /// The caller sent BYE.
    CallerBye,
    /// The callee sent BYE.
    CalleeBye,
    /// The call attempt ended with this SIP status.
    Status(u16),
    /// Anything else.
    Other,
}

impl HangupCause {
    fn parse(text: &str) -> Self {
        match text {
            "caller_bye" => Self::CallerBye,
            "callee_bye" => Self::CalleeBye,
            _ => text
                .parse::<u16>()
                .ok()
                .filter(|s| (100..700).contains(s))
                .map_or(Self::Other, Self::Status),
        }
    }
}

/// How an IVR flow ended, without its details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum IvrOutcome {
    /// Put in an ACD queue.
    Queued,
    /// Transferred (the target is not sent).
    Transferred,
    /// Sent to a conference room (the room is not sent).
    Conference,
    /// Left a voicemail (the mailbox is not sent).
    Voicemail,
    /// Asked to be called back.
    CallbackRequested,
    /// A callback call.
    Callback,
    /// The flow hung up.
    FlowHungUp,
    /// The caller hung up during the flow.
    CallerHungUp,
    /// The flow failed (the reason is not sent).
    Failed,
    /// An outcome this version does not know.
    Other,
}

impl IvrOutcome {
    fn parse(text: &str) -> Self {
        const PREFIXES: [(&str, IvrOutcome); 9] = [
            ("queued", IvrOutcome::Queued),
            ("transferred", IvrOutcome::Transferred),
            ("conference", IvrOutcome::Conference),
            ("voicemail", IvrOutcome::Voicemail),
            ("callback requested", IvrOutcome::CallbackRequested),
            ("callback", IvrOutcome::Callback),
            ("the flow hung up", IvrOutcome::FlowHungUp),
            ("the caller hung up", IvrOutcome::CallerHungUp),
            ("failed", IvrOutcome::Failed),
        ];
        PREFIXES
            .iter()
            .find(|(p, _)| text.starts_with(p))
            .map_or(Self::Other, |(_, o)| *o)
    }
}

/// The dialled party.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(any(test, feature = "cloud"), derive(Deserialize))]
pub enum Party {
    /// An internal extension: up to [`Label::MAX_DIGITS`] digits.
    Extension(Extension),
    /// Any other number, pseudonymised like callers.
    Number(Pseudonym),
}

/// An internal extension number (1 to [`Label::MAX_DIGITS`] digits).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(any(test, feature = "cloud"), derive(Deserialize))]
pub struct Extension(String);

impl Extension {
    /// The digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A pseudonymised call record. Made only by [`Classifier::call_record`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(any(test, feature = "cloud"), derive(Deserialize))]
pub struct CallRecord {
    call: CallRef,
    caller: Pseudonym,
    callee: Party,
    started_at_ms: i64,
    answered_at_ms: Option<i64>,
    ended_at_ms: i64,
    duration_ms: i64,
    billsec_ms: i64,
    disposition: Disposition,
    hangup: HangupCause,
    sip_status: Option<u16>,
    caller_quality: Option<Quality>,
    callee_quality: Option<Quality>,
    ivr_path: Vec<Label>,
    ivr_outcome: Option<IvrOutcome>,
    queue: Option<Label>,
    queue_wait_ms: Option<i64>,
    agent: Option<Label>,
}

impl Classifier {
    /// The bridge's copy of one CDR.
    #[must_use]
    pub fn call_record(&self, facts: &CdrFacts<'_>) -> CallRecord {
        CallRecord {
            call: self.call_ref(facts.cdr_id),
            caller: self.pseudonym(facts.caller),
            callee: self.party(facts.callee),
            started_at_ms: facts.started_at_ms,
            answered_at_ms: facts.answered_at_ms,
            ended_at_ms: facts.ended_at_ms,
            duration_ms: facts.ended_at_ms.saturating_sub(facts.started_at_ms).max(0),
            billsec_ms: facts
                .answered_at_ms
                .map_or(0, |a| facts.ended_at_ms.saturating_sub(a).max(0)),
            disposition: facts.disposition,
            hangup: HangupCause::parse(facts.hangup_cause),
            sip_status: facts.sip_status,
            caller_quality: facts.caller_quality,
            callee_quality: facts.callee_quality,
            ivr_path: self.ivr_path(facts.ivr_path.unwrap_or("")),
            ivr_outcome: facts.ivr_outcome.map(IvrOutcome::parse),
            queue: facts.queue.map(|q| self.label(q)),
            queue_wait_ms: facts.queue_wait_ms,
            agent: facts.agent.map(|a| self.label(a)),
        }
    }

    /// One label per `flow.step`. A path with a token of any other shape is
    /// not what the node writes, so it is hashed whole rather than split into
    /// readable pieces.
    fn ivr_path(&self, path: &str) -> Vec<Label> {
        let well_formed = path.split_whitespace().all(|step| {
            step.split_once('.')
                .is_some_and(|(flow, name)| !flow.is_empty() && !name.is_empty())
        });
        if !well_formed {
            return vec![self.label(path)];
        }
        path.split_whitespace()
            .take(CallRecord::MAX_IVR_STEPS)
            .map(|step| self.label(step))
            .collect()
    }

    /// An internal extension stays readable; anything else is a number.
    fn party(&self, number: &str) -> Party {
        let digits = number.trim();
        let is_extension = (1..=Label::MAX_DIGITS).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit());
        if is_extension {
            Party::Extension(Extension(digits.to_owned()))
        } else {
            Party::Number(self.pseudonym(number))
        }
    }
}

impl CallRecord {
    /// IVR steps kept per record; a longer path is cut.
    pub const MAX_IVR_STEPS: usize = 64;

    /// The call.
    #[must_use]
    pub fn call(&self) -> CallRef {
        self.call
    }
    /// The caller's pseudonym.
    #[must_use]
    pub fn caller(&self) -> Pseudonym {
        self.caller
    }
    /// The dialled party.
    #[must_use]
    pub fn callee(&self) -> &Party {
        &self.callee
    }
    /// When the call arrived (unix ms).
    #[must_use]
    pub fn started_at_ms(&self) -> i64 {
        self.started_at_ms
    }
    /// When it was answered (unix ms).
    #[must_use]
    pub fn answered_at_ms(&self) -> Option<i64> {
        self.answered_at_ms
    }
    /// When it ended (unix ms).
    #[must_use]
    pub fn ended_at_ms(&self) -> i64 {
        self.ended_at_ms
    }
    /// From arrival to end; never negative.
    #[must_use]
    pub fn duration_ms(&self) -> i64 {
        self.duration_ms
    }
    /// From answer to end; 0 when unanswered.
    #[must_use]
    pub fn billsec_ms(&self) -> i64 {
        self.billsec_ms
    }
    /// How it ended.
    #[must_use]
    pub fn disposition(&self) -> Disposition {
        self.disposition
    }
    /// Who ended it.
    #[must_use]
    pub fn hangup(&self) -> HangupCause {
        self.hangup
    }
    /// The final SIP status sent to the caller.
    #[must_use]
    pub fn sip_status(&self) -> Option<u16> {
        self.sip_status
    }
    /// The caller's audio quality.
    #[must_use]
    pub fn caller_quality(&self) -> Option<Quality> {
        self.caller_quality
    }
    /// The callee's audio quality.
    #[must_use]
    pub fn callee_quality(&self) -> Option<Quality> {
        self.callee_quality
    }
    /// The IVR steps passed.
    #[must_use]
    pub fn ivr_path(&self) -> &[Label] {
        &self.ivr_path
    }
    /// How the IVR flow ended.
    #[must_use]
    pub fn ivr_outcome(&self) -> Option<IvrOutcome> {
        self.ivr_outcome
    }
    /// The queue reached.
    #[must_use]
    pub fn queue(&self) -> Option<&Label> {
        self.queue.as_ref()
    }
    /// Time waited in the queue.
    #[must_use]
    pub fn queue_wait_ms(&self) -> Option<i64> {
        self.queue_wait_ms
    }
    /// The agent who took the call.
    #[must_use]
    pub fn agent(&self) -> Option<&Label> {
        self.agent.as_ref()
    }
}

impl sealed::Sealed for CallRecord {}

impl Outbound for CallRecord {
    const KIND: Kind = Kind::CALL_RECORD;

    fn identity(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.call.as_bytes());
    }
}
