//! What goes into and comes out of an [`crate::Interpreter`].

use std::fmt;
use std::time::Duration;

use crate::flow::{FlowName, HttpMethod, ROOM_NAME_RULE, StepName};
use crate::value::Value;

/// The call an interpreter runs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    /// The node's call identifier (for the `call_id` variable and logs).
    pub call_id: String,
    /// The caller's number (the `caller` variable; core data).
    pub caller: String,
    /// The number dialled (the `dialled` variable).
    pub dialled: String,
}

/// A prompt to play, named relative to the prompts directory without extension
/// (`en/welcome`, `es/numbers/20`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PromptRef(pub(crate) String);

impl PromptRef {
    /// The prompt's name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PromptRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a lookup finds the customer in the node's store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LookupKey {
    /// By the caller's number.
    Caller(String),
    /// By an account number the caller entered.
    Account(String),
}

impl fmt::Display for LookupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Caller(n) => write!(f, "caller {n}"),
            Self::Account(a) => write!(f, "account {a}"),
        }
    }
}

/// A request to an operator endpoint; the node resolves `endpoint` to a base
/// URL and credentials from its own configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The endpoint's name in the node configuration.
    pub endpoint: String,
    /// The method.
    pub method: HttpMethod,
    /// Path and query to append to the endpoint's base URL; variable values are percent-encoded.
    pub path: String,
    /// Body fields (the node encodes them, as JSON for instance); empty for GET.
    pub body: Vec<(String, String)>,
    /// How long the node should wait; the interpreter gives up at the same time.
    pub timeout: Duration,
}

/// The answer to a [`Command::Http`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpOutcome {
    /// The endpoint answered; a 2xx status continues at `next`, any other at `fallback`.
    Response {
        /// The HTTP status code.
        status: u16,
        /// Response fields; only those the step lists in `fields` are kept, as `http.NAME`.
        fields: Vec<(String, Value)>,
    },
    /// No answer (connection error, the node's timeout, a malformed response).
    Failed,
}

/// Why a queued call came back to the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueueExit {
    /// An agent answered: the IVR part of the call is over.
    Answered,
    /// The caller waited longer than the queue allows.
    Timeout,
    /// The queue was full or overflowed the call.
    Overflow,
    /// The queue is closed or has no agents logged in.
    Closed,
}

impl QueueExit {
    /// The value the flow sees in `queue.exit_reason`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Timeout => "timeout",
            Self::Overflow => "overflow",
            Self::Closed => "closed",
        }
    }
}

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// An extension of the node.
    Extension(String),
    /// An outside number (through a trunk).
    External(String),
}

impl fmt::Display for TransferTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Extension(e) => write!(f, "extension {e}"),
            Self::External(n) => write!(f, "number {n}"),
        }
    }
}

/// An event the node feeds to the interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// The call is answered: run the flow from its start step.
    Start,
    /// The caller pressed a key (`0`–`9`, `*`, `#`, `A`–`D`; others are ignored).
    Digit(char),
    /// A [`Command::Play`] finished (or was stopped, or failed).
    PlaybackFinished {
        /// The id of the play command.
        id: u64,
    },
    /// [`crate::Interpreter::poll_timeout`] has passed.
    Timeout,
    /// The answer to a [`Command::Lookup`].
    LookupResult {
        /// The id of the lookup command.
        id: u64,
        /// Whether a customer was found.
        found: bool,
        /// The customer's fields; only those the step lists are kept, as `customer.NAME`.
        fields: Vec<(String, Value)>,
    },
    /// The answer to a [`Command::Http`].
    HttpResult {
        /// The id of the http command.
        id: u64,
        /// What happened.
        outcome: HttpOutcome,
    },
    /// A [`Command::RecordVoicemail`] finished.
    VoicemailFinished {
        /// The id of the record command.
        id: u64,
        /// Whether a message was stored.
        recorded: bool,
    },
    /// The call left the queue it was put in by a `queue` step that has `on_exit`.
    QueueExited {
        /// Why.
        reason: QueueExit,
    },
    /// The caller took a seat in the room of a [`Command::Conference`] from a
    /// `conference` step that has `full`: the flow ends there
    /// ([`Outcome::Conference`]).
    ConferenceSeated,
    /// The room of a [`Command::Conference`] from a `conference` step that has
    /// `full` had no seat left: the caller is not in it, and the flow goes on
    /// at the step `full` names.
    ConferenceFull,
    /// The caller hung up.
    Hangup,
}

/// An action the node carries out for the interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Play prompts in order, then report [`Input::PlaybackFinished`] with `id`.
    Play {
        /// Identifies this playback in the answer.
        id: u64,
        /// The prompts, in order.
        prompts: Vec<PromptRef>,
        /// Whether a key press stops it (the interpreter then sends [`Command::StopPlayback`]).
        barge_in: bool,
    },
    /// Stop playback `id` now (a key barged in).
    StopPlayback {
        /// The playback to stop.
        id: u64,
    },
    /// Look the customer up in the local store; answer with [`Input::LookupResult`].
    Lookup {
        /// Identifies this lookup in the answer.
        id: u64,
        /// What to look up by.
        key: LookupKey,
        /// The fields the flow uses (the node returns no others).
        fields: Vec<String>,
    },
    /// Call an operator endpoint; answer with [`Input::HttpResult`].
    Http {
        /// Identifies this request in the answer.
        id: u64,
        /// The request.
        request: HttpRequest,
    },
    /// Put the call in an ACD queue.
    Enqueue {
        /// The queue's name.
        queue: String,
        /// Higher is served first.
        priority: u8,
        /// Required skills and minimum levels.
        skills: Vec<(String, u8)>,
        /// Attached data for the agent's screen pop (may hold core data: it stays on the node).
        data: Vec<(String, String)>,
    },
    /// Record a voicemail (after a beep); answer with [`Input::VoicemailFinished`].
    RecordVoicemail {
        /// Identifies this recording in the answer.
        id: u64,
        /// The mailbox.
        mailbox: String,
        /// The longest message to record.
        max_duration: Duration,
    },
    /// Transfer the call; the flow is over.
    Transfer {
        /// Where to.
        target: TransferTarget,
    },
    /// Put the caller into a conference room of the node, where they stay
    /// until they hang up. The flow is over, unless the step has `full`
    /// ([`crate::Interpreter::awaits_seat`]): then answer with
    /// [`Input::ConferenceSeated`] or [`Input::ConferenceFull`].
    ///
    /// A room that already holds `max` callers is full for this caller
    /// (answer [`Input::ConferenceFull`], or hang up when the step has no
    /// `full`). `max` belongs to this command, not to the room: another step
    /// may send callers to the same room with another `max`.
    ///
    /// With `record` the node records the room: it starts recording when a
    /// caller whose command has `record` joins (a room already being
    /// recorded goes on), and the recording runs until the room empties.
    Conference {
        /// The room's name: 1 to 64 ASCII letters, digits, `.`, `_` and `-`.
        room: String,
        /// The most callers the room may hold when this caller arrives: the
        /// step's `max` (2 or more), or [`crate::MAX_ROOM_SIZE`] when it sets
        /// none. Never more than [`crate::MAX_ROOM_SIZE`].
        max: u16,
        /// Whether the room is recorded (one mono WAV of the room's mix) from
        /// this caller's arrival until it empties: the step's `record`,
        /// `false` when it sets none.
        record: bool,
    },
    /// Hang up the call; the flow is over.
    Hangup,
}

/// How a flow ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Handed to an ACD queue (and, for a queue with `on_exit`, answered there).
    Queued {
        /// The queue.
        queue: String,
    },
    /// Transferred.
    Transferred {
        /// Where to.
        target: TransferTarget,
    },
    /// Put into a conference room (for a step with `full`: seated there).
    Conference {
        /// The room's name.
        room: String,
    },
    /// A voicemail step without `next` finished; the flow hung up.
    Voicemail {
        /// The mailbox.
        mailbox: String,
    },
    /// The flow hung up (a `hangup` step, or `return` from the top flow).
    HungUp,
    /// The caller hung up first.
    CallerHungUp,
    /// The flow could not go on; it hung up.
    Failed {
        /// Why.
        reason: Failure,
    },
}

/// Why a flow failed at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// A `call` step names a flow the set does not have.
    UnknownFlow(String),
    /// Sub-flows nested deeper than the limit.
    TooDeep,
    /// Too many steps ran without waiting for anything.
    BusyLoop,
    /// A `conference` step's room name, once its variables were filled in,
    /// is not a valid room name (the text as expanded).
    InvalidRoom(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFlow(name) => write!(f, "flow `{name}` does not exist"),
            Self::TooDeep => f.write_str("sub-flows nested too deep"),
            Self::BusyLoop => f.write_str("too many steps without waiting"),
            Self::InvalidRoom(room) => {
                write!(
                    f,
                    "conference room `{room}` is not a room name ({ROOM_NAME_RULE})"
                )
            }
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Queued { queue } => write!(f, "queued in `{queue}`"),
            Self::Transferred { target } => write!(f, "transferred to {target}"),
            Self::Conference { room } => write!(f, "conference {room}"),
            Self::Voicemail { mailbox } => write!(f, "voicemail left in mailbox `{mailbox}`"),
            Self::HungUp => f.write_str("the flow hung up"),
            Self::CallerHungUp => f.write_str("the caller hung up"),
            Self::Failed { reason } => write!(f, "failed: {reason}"),
        }
    }
}

/// One step the call went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    /// The flow the step belongs to.
    pub flow: FlowName,
    /// The step.
    pub step: StepName,
}

impl fmt::Display for Visit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.flow, self.step)
    }
}
