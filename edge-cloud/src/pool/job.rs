//! What the worker pool is asked to do, and what it reports.
//!
//! Contract: a [`Job`] is one party's audio in one call — either a live stream
//! fed chunk by chunk through a channel, or a finished recording. Every job
//! yields, on the pool's results channel, zero or more
//! [`AnalyticsEvent::Partial`] and [`AnalyticsEvent::Final`] events (text
//! already redacted, see [`crate::redact`]) and then exactly one
//! [`AnalyticsEvent::JobDone`] or [`AnalyticsEvent::JobFailed`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::redact::PiiKind;
use crate::sentiment::{Direction, Sentiment};

/// A call as the cloud side knows it: the pseudonymous id the bridge carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(Arc<str>);

impl CallId {
    /// Wraps an id.
    #[must_use]
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        Self(id.into())
    }

    /// The id's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whose voice a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// The customer.
    Caller,
    /// The agent.
    Agent,
}

/// One item of a live stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamInput {
    /// 8 kHz mono samples, normally one 20 ms chunk.
    Audio(Vec<i16>),
    /// 16 kHz mono samples, normally one 20 ms chunk.
    WideAudio(Vec<i16>),
    /// The speaker's turn ended (hold, mute, barge-in): close the utterance now.
    EndUtterance,
}

/// Which queue a job waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Live audio: served first.
    Live,
    /// A finished recording: served when no live job waits.
    Recording,
}

/// Audio for the pool to analyse.
#[derive(Debug)]
pub enum Job {
    /// A live stream; it ends when every sender of `chunks` is dropped. While
    /// the job waits in the queue its chunks wait in the channel, so a bounded
    /// channel pushes back on whoever feeds it.
    LiveAudio {
        /// The call.
        call: CallId,
        /// Whose audio.
        party: Party,
        /// The stream, in order.
        chunks: mpsc::Receiver<StreamInput>,
    },
    /// A finished recording of one party.
    Recording {
        /// The call.
        call: CallId,
        /// Whose audio.
        party: Party,
        /// 8 kHz mono samples.
        pcm: Vec<i16>,
    },
}

impl Job {
    /// The queue this job belongs in.
    #[must_use]
    pub fn kind(&self) -> JobKind {
        match self {
            Self::LiveAudio { .. } => JobKind::Live,
            Self::Recording { .. } => JobKind::Recording,
        }
    }

    /// The call and party the job is about.
    #[must_use]
    pub fn stream(&self) -> (&CallId, Party) {
        match self {
            Self::LiveAudio { call, party, .. } | Self::Recording { call, party, .. } => {
                (call, *party)
            }
        }
    }
}

/// A finished utterance with its analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalTranscript {
    /// The call.
    pub call: CallId,
    /// Whose words.
    pub party: Party,
    /// The utterance's number in this job's stream, from 0.
    pub utterance: u32,
    /// The transcript with personal data replaced by placeholders.
    pub text: String,
    /// What was replaced.
    pub redacted: Vec<PiiKind>,
    /// Start of the utterance in the stream.
    pub start: Duration,
    /// End of the utterance in the stream.
    pub end: Duration,
    /// The utterance's sentiment.
    pub sentiment: Sentiment,
    /// The party's running average score (−5..+5) including this utterance.
    pub trend_average: f32,
    /// Which way the party's sentiment is moving.
    pub direction: Direction,
}

/// What the pool reports on its results channel.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AnalyticsEvent {
    /// An utterance still in progress (redacted text).
    Partial {
        /// The call.
        call: CallId,
        /// Whose words.
        party: Party,
        /// The utterance's number.
        utterance: u32,
        /// The best guess so far, with personal data replaced.
        text: String,
    },
    /// A finished utterance.
    Final(FinalTranscript),
    /// A job ended normally.
    JobDone {
        /// The call.
        call: CallId,
        /// Whose audio.
        party: Party,
        /// Live or recording.
        kind: JobKind,
        /// Audio processed.
        audio: Duration,
        /// Worker time spent recognising it (not counting waits for live audio).
        processing: Duration,
    },
    /// A job was abandoned because the speech engine failed.
    JobFailed {
        /// The call.
        call: CallId,
        /// Whose audio.
        party: Party,
        /// The engine's error.
        error: String,
    },
    /// A worker could not start its recogniser and exited.
    WorkerFailed {
        /// The engine's error.
        error: String,
    },
}
