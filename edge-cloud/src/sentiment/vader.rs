//! VADER (Hutto & Gilbert, 2014) as a [`SentimentModel`].
//!
//! Contract: [`VaderModel::plain`] scores with the published lexicon that the
//! `vader_sentiment` crate ships; [`VaderModel::call_center`] first rewrites
//! contact-center phrases to single tokens and scores with the published
//! lexicon extended by [`super::lexicon`]. Both are immutable after
//! construction and safe to share between workers.

use std::collections::HashMap;

use unicase::UniCase;
use vader_sentiment::SentimentIntensityAnalyzer;

use super::{Sentiment, SentimentModel, lexicon};

/// A VADER scorer, plain or with the contact-center extension.
#[derive(Debug, Clone)]
pub struct VaderModel {
    /// `None`: the crate's own lexicon, no phrase rewriting.
    extended: Option<HashMap<UniCase<&'static str>, f64>>,
}

impl VaderModel {
    /// VADER as published.
    #[must_use]
    pub fn plain() -> Self {
        Self { extended: None }
    }

    /// VADER with the contact-center vocabulary and phrases.
    #[must_use]
    pub fn call_center() -> Self {
        let mut table = vader_sentiment::LEXICON.clone();
        for word in lexicon::NEUTRAL {
            table.remove(&UniCase::new(*word));
        }
        for (word, valence) in lexicon::WORDS {
            table.insert(UniCase::new(*word), *valence);
        }
        Self {
            extended: Some(table),
        }
    }

    /// VADER's compound score for `text`, −1..+1.
    #[must_use]
    pub fn compound(&self, text: &str) -> f64 {
        let compound = |scores: HashMap<&str, f64>| scores.get("compound").copied().unwrap_or(0.0);
        match &self.extended {
            None => compound(SentimentIntensityAnalyzer::new().polarity_scores(text)),
            Some(table) => {
                let analyzer = SentimentIntensityAnalyzer::from_lexicon(table);
                compound(analyzer.polarity_scores(&lexicon::rewrite_phrases(text)))
            }
        }
    }
}

impl SentimentModel for VaderModel {
    fn score(&self, text: &str) -> Sentiment {
        Sentiment::from_compound(self.compound(text))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Label;
    use super::*;

    #[test]
    fn extension_reads_support_calls() {
        let plain = VaderModel::plain();
        let cc = VaderModel::call_center();
        let cases = [
            (
                "my internet is not working",
                Label::Neutral,
                Label::Negative,
            ),
            (
                "i was charged twice on my card",
                Label::Negative,
                Label::Negative,
            ),
            (
                "i would like to pay my bill",
                Label::Positive,
                Label::Neutral,
            ),
            (
                "can you help me reset my password",
                Label::Positive,
                Label::Neutral,
            ),
            (
                "it is working again thank you",
                Label::Positive,
                Label::Positive,
            ),
            ("i want a refund", Label::Positive, Label::Negative),
        ];
        for (text, want_plain, want_cc) in cases {
            assert_eq!(plain.score(text).label, want_plain, "plain: {text}");
            assert_eq!(cc.score(text).label, want_cc, "call center: {text}");
        }
    }

    #[test]
    fn negation_still_applies_to_added_words() {
        let cc = VaderModel::call_center();
        assert!(cc.compound("it is working") > 0.0);
        assert!(cc.compound("it is not working") < 0.0);
        assert!(cc.compound("they fixed it") > 0.0);
        assert!(cc.compound("they never fixed it") < 0.0);
    }

    #[test]
    fn odd_input_scores_without_panicking() {
        let cc = VaderModel::call_center();
        for text in [
            "",
            " ",
            "!!!",
            "a",
            "😀",
            "no no no no",
            "[CARD] [PHONE]",
            "ÄÖÜ ß",
        ] {
            let s = cc.score(text);
            assert!((-1.0..=1.0).contains(&s.compound), "{text}");
            let p = VaderModel::plain().score(text);
            assert!((-1.0..=1.0).contains(&p.compound), "{text}");
        }
    }
}
