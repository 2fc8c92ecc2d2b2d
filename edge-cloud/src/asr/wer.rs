//! Word error rate: how far a transcript is from its reference.
//!
//! Contract: [`word_errors`] normalises both texts (lower case; only letters,
//! digits and apostrophes kept inside words), aligns them with a word-level
//! Levenshtein distance (unit costs) and returns the substitution, deletion and
//! insertion counts of one minimal alignment. [`WordErrors`] values add up, so a
//! corpus WER is the sum over utterances divided by the total reference words
//! (not the mean of per-utterance rates).

use std::ops::AddAssign;

/// Edit counts between a reference and a hypothesis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WordErrors {
    /// Reference words replaced by another word.
    pub substitutions: usize,
    /// Reference words missing from the hypothesis.
    pub deletions: usize,
    /// Hypothesis words with no reference counterpart.
    pub insertions: usize,
    /// Words in the reference.
    pub reference_words: usize,
}

impl WordErrors {
    /// Total edits.
    #[must_use]
    pub fn edits(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// Edits per reference word (may exceed 1 with many insertions); an empty
    /// reference gives 0 for an empty hypothesis and 1 otherwise.
    #[must_use]
    pub fn rate(&self) -> f64 {
        match self.reference_words {
            0 => f64::from(u8::from(self.insertions > 0)),
            n => self.edits() as f64 / n as f64,
        }
    }
}

impl AddAssign for WordErrors {
    fn add_assign(&mut self, other: Self) {
        self.substitutions += other.substitutions;
        self.deletions += other.deletions;
        self.insertions += other.insertions;
        self.reference_words += other.reference_words;
    }
}

/// Splits text into normalised words.
#[must_use]
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Aligns `hypothesis` to `reference` word by word.
#[must_use]
pub fn word_errors(reference: &str, hypothesis: &str) -> WordErrors {
    let r = words(reference);
    let h = words(hypothesis);
    // cost[j] for the current row: (edits, subs, dels, ins) aligning r[..i] with h[..j].
    let mut prev: Vec<WordErrors> = (0..=h.len())
        .map(|j| WordErrors {
            insertions: j,
            ..WordErrors::default()
        })
        .collect();
    for (i, rw) in r.iter().enumerate() {
        let mut row = Vec::with_capacity(h.len() + 1);
        row.push(WordErrors {
            deletions: i + 1,
            ..WordErrors::default()
        });
        for (j, hw) in h.iter().enumerate() {
            let mut diag = prev[j];
            if rw != hw {
                diag.substitutions += 1;
            }
            let mut up = prev[j + 1];
            up.deletions += 1;
            let mut left = row[j];
            left.insertions += 1;
            let best = [diag, up, left]
                .into_iter()
                .min_by_key(WordErrors::edits)
                .unwrap_or(diag);
            row.push(best);
        }
        prev = row;
    }
    let mut result = prev[h.len()];
    result.reference_words = r.len();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        // (reference, hypothesis, subs, dels, ins)
        let cases = [
            (
                "my internet is not working",
                "my internet is not working",
                0,
                0,
                0,
            ),
            (
                "My Internet, is NOT working!",
                "my internet is not working",
                0,
                0,
                0,
            ),
            (
                "my internet is not working",
                "my internet is working",
                0,
                1,
                0,
            ),
            (
                "my internet is not working",
                "my internet is not working now",
                0,
                0,
                1,
            ),
            ("i want a refund", "i want the refund", 1, 0, 0),
            ("i want a refund", "", 0, 4, 0),
            ("", "hello", 0, 0, 1),
            ("a b c d", "b c d e", 0, 1, 1),
            ("cancel my plan", "can sell my plan", 1, 0, 1),
        ];
        for (r, h, s, d, i) in cases {
            let e = word_errors(r, h);
            assert_eq!(
                (e.substitutions, e.deletions, e.insertions),
                (s, d, i),
                "{r:?} vs {h:?}"
            );
            assert_eq!(e.reference_words, words(r).len());
        }
    }

    #[test]
    fn rates_and_sums() {
        assert_eq!(word_errors("a b c d", "a x c d").rate(), 0.25);
        assert_eq!(word_errors("", "").rate(), 0.0);
        assert_eq!(word_errors("", "x").rate(), 1.0);
        assert_eq!(word_errors("a", "x y z").rate(), 3.0);
        let mut total = word_errors("a b", "a b");
        total += word_errors("c d e f", "c");
        assert_eq!(total.reference_words, 6);
        assert_eq!(total.rate(), 0.5);
    }

    #[test]
    fn distance_is_symmetric_in_edit_count() {
        let pairs = [("a b c", "c b a"), ("x", "x y z w"), ("one two", "three")];
        for (a, b) in pairs {
            assert_eq!(word_errors(a, b).edits(), word_errors(b, a).edits());
        }
    }
}
