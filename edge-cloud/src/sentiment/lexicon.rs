//! Contact-center vocabulary for VADER.
//!
//! Contract: three tables, applied on top of VADER's published lexicon by
//! [`super::VaderModel::call_center`]:
//! - [`WORDS`]: valences (VADER's −4..+4 scale) for words the published lexicon
//!   lacks or weighs differently in support calls ("refund", "overcharged",
//!   "fixed", "working");
//! - [`NEUTRAL`]: words removed because on a support line they are requests or
//!   fillers, not feelings ("please", "help", "like" in "I would like", "yes");
//! - [`PHRASES`]: multi-word expressions rewritten to one token before scoring
//!   ("charged twice" → `charged_twice`), each token having a valence in
//!   [`WORDS`]. VADER's own negation still applies around them, and around
//!   single words: "not working" is negative because "working" is positive.
//!
//! The values come from how supervisors read these words, not from fitting
//! the labelled test set; the test set measures them.

/// Valences added to (or replacing those in) the published lexicon.
pub const WORDS: &[(&str, f64)] = &[
    // Problems with money.
    ("refund", -1.2),
    ("refunds", -1.2),
    ("overcharged", -2.5),
    ("overcharge", -2.0),
    ("overbilled", -2.5),
    ("charged_twice", -2.5),
    ("money_back", -1.8),
    ("promised", -0.8),
    // Things that do not work.
    ("crashing", -1.8),
    ("crashes", -1.8),
    ("crashed", -1.8),
    ("cracked", -1.5),
    ("outage", -2.0),
    ("glitch", -1.5),
    ("disconnecting", -1.5),
    ("disconnected", -1.5),
    ("disconnects", -1.5),
    ("dropping", -1.2),
    ("dropped", -1.2),
    ("slow", -1.2),
    ("unreliable", -1.8),
    ("stopped_working", -2.5),
    ("not_received", -2.0),
    ("no_show", -2.0),
    // Waiting and repeat contacts.
    ("on_hold", -1.2),
    ("for_hours", -1.8),
    ("repeat_call", -1.8),
    ("late", -1.2),
    // Escalation.
    ("supervisor", -1.2),
    ("manager", -1.0),
    ("escalate", -1.5),
    ("complaint", -1.8),
    // Things that went right.
    ("fixed", 1.8),
    ("resolved", 1.5),
    ("resolution", 1.2),
    ("sorted_out", 1.8),
    ("works", 1.0),
    ("working", 1.0),
    ("working_again", 2.2),
    ("faster", 1.2),
    ("quickly", 1.0),
    ("professional", 1.5),
    ("on_time", 1.5),
];

/// Words removed from the published lexicon (requests and fillers).
pub const NEUTRAL: &[&str] = &[
    "help", "please", "like", "want", "sure", "yes", "no", "ok", "okay", "pay",
];

/// Phrases rewritten to one token before scoring, longest first within a start word.
pub const PHRASES: &[(&str, &str)] = &[
    ("charged me twice", "charged_twice"),
    ("charged twice", "charged_twice"),
    ("billed me twice", "charged_twice"),
    ("billed twice", "charged_twice"),
    ("double charged", "charged_twice"),
    ("my money back", "money_back"),
    ("money back", "money_back"),
    ("stopped working", "stopped_working"),
    ("quit working", "stopped_working"),
    ("not received", "not_received"),
    ("never received", "not_received"),
    ("not arrived", "not_received"),
    ("never arrived", "not_received"),
    ("never showed up", "no_show"),
    ("did not show up", "no_show"),
    ("didn't show up", "no_show"),
    ("on hold", "on_hold"),
    ("for hours", "for_hours"),
    ("second time", "repeat_call"),
    ("third time", "repeat_call"),
    ("fourth time", "repeat_call"),
    ("again and again", "repeat_call"),
    ("working again", "working_again"),
    ("works again", "working_again"),
    ("up and running", "working_again"),
    ("sorted out", "sorted_out"),
    ("sorting this out", "sorted_out"),
    ("sorting it out", "sorted_out"),
    ("on time", "on_time"),
];

/// Rewrites [`PHRASES`] in `text` (lower-cased) to their tokens, word-aligned.
#[must_use]
pub fn rewrite_phrases(text: &str) -> String {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        match longest_phrase_at(&words[i..]) {
            Some((len, token)) => {
                // Keep punctuation that followed the phrase's last word ("again!").
                let last = words[i + len - 1];
                let tail = &last[last.trim_end_matches(is_punctuation).len()..];
                out.push(format!("{token}{tail}"));
                i += len;
            }
            None => {
                out.push(words[i].to_owned());
                i += 1;
            }
        }
    }
    out.join(" ")
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() && c != '\''
}

fn longest_phrase_at(words: &[&str]) -> Option<(usize, &'static str)> {
    PHRASES
        .iter()
        .filter_map(|(phrase, token)| {
            let n = phrase.split(' ').count();
            let matches = words.len() >= n
                && phrase
                    .split(' ')
                    .zip(words)
                    .all(|(p, w)| p == w.trim_end_matches(is_punctuation));
            matches.then_some((n, *token))
        })
        .max_by_key(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_phrases_word_aligned() {
        let cases = [
            ("You charged me twice!", "you charged_twice!"),
            (
                "i was charged twice on my card",
                "i was charged_twice on my card",
            ),
            ("waiting for hours, on hold", "waiting for_hours, on_hold"),
            ("it is working again", "it is working_again"),
            // Not word-aligned: left alone.
            ("the uncharged twice", "the uncharged twice"),
            ("on holdings", "on holdings"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(rewrite_phrases(input), want, "{input:?}");
        }
    }

    #[test]
    fn every_phrase_token_has_a_valence() {
        for (_, token) in PHRASES {
            assert!(
                WORDS.iter().any(|(w, _)| w == token),
                "{token} has no valence"
            );
        }
    }

    #[test]
    fn tables_do_not_contradict_each_other() {
        for word in NEUTRAL {
            assert!(!WORDS.iter().any(|(w, _)| w == word), "{word}");
        }
    }
}
