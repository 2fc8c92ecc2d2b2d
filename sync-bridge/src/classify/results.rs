//! Analysis results the cloud sends back: transcripts (with PII already
//! redacted by the cloud's redaction step) and sentiment scores, each naming
//! the call by its [`CallRef`] so the node can match it to the live call.

use serde::{Deserialize, Serialize};

use super::{CallRef, Speaker};

/// Text recognised in a range of a call's audio chunks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    call: CallRef,
    speaker: Speaker,
    first_seq: u64,
    last_seq: u64,
    text: String,
    confidence: f32,
}

impl Transcript {
    /// A transcript of chunks `first_seq..=last_seq` of `speaker` in `call`.
    /// `text` must already have personal data redacted.
    #[must_use]
    pub fn new(
        call: CallRef,
        speaker: Speaker,
        seqs: (u64, u64),
        text: String,
        confidence: f32,
    ) -> Self {
        Self {
            call,
            speaker,
            first_seq: seqs.0,
            last_seq: seqs.1,
            text,
            confidence: confidence.clamp(0.0, 1.0),
        }
    }

    /// The call.
    #[must_use]
    pub fn call(&self) -> CallRef {
        self.call
    }
    /// Whose speech.
    #[must_use]
    pub fn speaker(&self) -> Speaker {
        self.speaker
    }
    /// The chunks covered, first and last.
    #[must_use]
    pub fn seqs(&self) -> (u64, u64) {
        (self.first_seq, self.last_seq)
    }
    /// The redacted text.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }
    /// Recogniser confidence, 0–1.
    #[must_use]
    pub fn confidence(&self) -> f32 {
        self.confidence
    }
}

/// A coarse reading of a sentiment score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SentimentLabel {
    /// Angry or upset.
    Negative,
    /// Neither.
    Neutral,
    /// Satisfied.
    Positive,
}

/// How a speaker sounded up to a point of the call.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    call: CallRef,
    speaker: Speaker,
    up_to_seq: u64,
    score: f32,
}

impl Sentiment {
    /// Scores at or below this read as [`SentimentLabel::Negative`].
    pub const NEGATIVE_AT: f32 = -0.3;
    /// Scores at or above this read as [`SentimentLabel::Positive`].
    pub const POSITIVE_AT: f32 = 0.3;

    /// A score from −1 (negative) to 1 (positive) for `speaker` in `call`,
    /// over the audio up to chunk `up_to_seq`. Out-of-range and NaN scores
    /// are clamped to the range (NaN to 0).
    #[must_use]
    pub fn new(call: CallRef, speaker: Speaker, up_to_seq: u64, score: f32) -> Self {
        let score = if score.is_nan() {
            0.0
        } else {
            score.clamp(-1.0, 1.0)
        };
        Self {
            call,
            speaker,
            up_to_seq,
            score,
        }
    }

    /// The call.
    #[must_use]
    pub fn call(&self) -> CallRef {
        self.call
    }
    /// Whose speech.
    #[must_use]
    pub fn speaker(&self) -> Speaker {
        self.speaker
    }
    /// The last chunk scored.
    #[must_use]
    pub fn up_to_seq(&self) -> u64 {
        self.up_to_seq
    }
    /// The score, −1 to 1.
    #[must_use]
    pub fn score(&self) -> f32 {
        self.score
    }
    /// The score's reading.
    #[must_use]
    pub fn label(&self) -> SentimentLabel {
        if self.score <= Self::NEGATIVE_AT {
            SentimentLabel::Negative
        } else if self.score >= Self::POSITIVE_AT {
            SentimentLabel::Positive
        } else {
            SentimentLabel::Neutral
        }
    }
}

/// What a result frame carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ResultBody {
    /// Recognised text.
    Transcript(Transcript),
    /// A sentiment score.
    Sentiment(Sentiment),
    /// The best guess so far for an utterance still in progress (redacted
    /// like a transcript); a later partial or the utterance's
    /// [`ResultBody::Transcript`] replaces it. Payload version 3.
    Partial(Transcript),
}
