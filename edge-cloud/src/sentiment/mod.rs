//! Sentiment of transcribed utterances, and its trend per party.
//!
//! Contract: a [`SentimentModel`] scores one utterance at a time, statelessly,
//! to a [`Sentiment`]: VADER's compound score in −1..+1, the same on the −5..+5
//! scale contact-center dashboards use (Amazon Connect's per-turn scale), and a
//! three-way [`Label`]. [`Trend`] folds the scores of one party's utterances,
//! in order, into an exponentially weighted average plus the last few scores,
//! so a supervisor alert can react to "getting angrier" rather than to a
//! single sharp word.
//!
//! Models: [`VaderModel::plain`] (the published VADER lexicon) and
//! [`VaderModel::call_center`], which adds contact-center vocabulary and
//! phrases ([`lexicon`]). Scoring is pure and fast (well over 100k utterances
//! per second), so it runs inline on the worker after recognition.

pub mod lexicon;
mod trend;
mod vader;

pub use trend::{Direction, Trend, TrendConfig};
pub use vader::VaderModel;

/// Scores one utterance.
pub trait SentimentModel: Send + Sync {
    /// The sentiment of `text` (a transcript: lower case, little punctuation).
    fn score(&self, text: &str) -> Sentiment;
}

/// Three-way sentiment class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// Upset, complaining, dissatisfied.
    Negative,
    /// Informational, no clear feeling.
    Neutral,
    /// Satisfied, thankful.
    Positive,
}

impl Label {
    /// The label's name as written in data files.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Negative => "negative",
            Self::Neutral => "neutral",
            Self::Positive => "positive",
        }
    }

    /// Parses a label name (`negative`, `neutral`, `positive`).
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim() {
            "negative" => Some(Self::Negative),
            "neutral" => Some(Self::Neutral),
            "positive" => Some(Self::Positive),
            _ => None,
        }
    }
}

/// Compound scores at or beyond ± this are positive / negative (VADER's own cut).
pub const LABEL_THRESHOLD: f64 = 0.05;

/// The sentiment of one utterance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sentiment {
    /// VADER's normalised compound score, −1 (most negative) to +1.
    pub compound: f64,
    /// The compound score on the −5..+5 scale, one decimal.
    pub score: f32,
    /// The class the compound score falls in.
    pub label: Label,
}

impl Sentiment {
    /// Builds a sentiment from a compound score (clamped to −1..+1; NaN is neutral).
    #[must_use]
    pub fn from_compound(compound: f64) -> Self {
        let compound = if compound.is_nan() {
            0.0
        } else {
            compound.clamp(-1.0, 1.0)
        };
        let label = if compound >= LABEL_THRESHOLD {
            Label::Positive
        } else if compound <= -LABEL_THRESHOLD {
            Label::Negative
        } else {
            Label::Neutral
        };
        Self {
            compound,
            score: ((compound * 50.0).round() / 10.0) as f32,
            label,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compound_maps_to_the_five_point_scale() {
        let cases = [
            (-1.0, -5.0, Label::Negative),
            (-0.62, -3.1, Label::Negative),
            (-0.05, -0.3, Label::Negative),
            (-0.049, -0.2, Label::Neutral),
            (0.0, 0.0, Label::Neutral),
            (0.049, 0.2, Label::Neutral),
            (0.05, 0.3, Label::Positive),
            (0.9999, 5.0, Label::Positive),
            (3.0, 5.0, Label::Positive),
            (f64::NAN, 0.0, Label::Neutral),
        ];
        for (compound, score, label) in cases {
            let s = Sentiment::from_compound(compound);
            assert_eq!((s.score, s.label), (score, label), "{compound}");
        }
    }

    #[test]
    fn labels_round_trip() {
        for l in [Label::Negative, Label::Neutral, Label::Positive] {
            assert_eq!(Label::parse(l.as_str()), Some(l));
        }
        assert_eq!(Label::parse("angry"), None);
    }
}
