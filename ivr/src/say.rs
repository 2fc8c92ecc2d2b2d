//! "Say" items: numbers, digits, dates and enumerated words spoken as named prompt fragments.
//!
//! The media side only ever plays named prompts, so saying a value means
//! expanding it into fragment names, which live in each language directory like
//! any other prompt (`en/numbers/20`). The scheme, the same in every language:
//!
//! | kind | fragments | example |
//! | --- | --- | --- |
//! | `digits` | `digits/0` … `digits/9`, `digits/star`, `digits/hash` | `"4#"` → `digits/4 digits/hash` |
//! | `number` | `numbers/0` … `numbers/99`, `numbers/100` … `numbers/900` (hundreds), `numbers/thousand`, `numbers/million`, `numbers/minus` | `1234` → `numbers/1 numbers/thousand numbers/200 numbers/34` |
//! | `ordinal` | `ordinals/1` … `ordinals/31` | `3` → `ordinals/3` |
//! | `date` | `months/1` … `months/12`, `ordinals/1` … `ordinals/31`, and the `number` fragments for the year | `2026-03-05` → `months/3 ordinals/5 numbers/2 numbers/thousand numbers/26` |
//! | `word` | `PREFIX` + each listed value | `"shipped"` with prefix `status/` → `status/shipped` |
//!
//! Numbers from 0 to 99 are whole fragments, so languages whose tens and units
//! fuse (Spanish *veintiuno*) record them as single words; hundreds are whole
//! fragments for the same reason (*quinientos*). `number` covers
//! -999,999,999 … 999,999,999; a value outside that range, or text that is not
//! a number (or a date, for `date`), says nothing. `ordinal` covers 1 … 31.

use std::fmt;

/// How a `say` item speaks its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SayAs {
    /// Each character as a digit (`0`–`9`, `*`, `#`; others are skipped).
    Digits,
    /// A whole number in words.
    Number,
    /// A day-of-month ordinal (1–31).
    Ordinal,
    /// A `YYYY-MM-DD` date: month, ordinal day, year.
    Date,
    /// One of a listed set of words, each its own prompt.
    Word,
}

impl SayAs {
    /// The name used in flow files (`as = "number"`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Digits => "digits",
            Self::Number => "number",
            Self::Ordinal => "ordinal",
            Self::Date => "date",
            Self::Word => "word",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [
            Self::Digits,
            Self::Number,
            Self::Ordinal,
            Self::Date,
            Self::Word,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }

    /// Every fragment this kind may play (without language directory).
    /// `Word` has no fixed fragments: its names come from the item's values.
    #[must_use]
    pub fn fragments(self) -> Vec<String> {
        match self {
            Self::Digits => {
                let mut v: Vec<String> = (0..10).map(|d| format!("digits/{d}")).collect();
                v.extend(["digits/star".to_owned(), "digits/hash".to_owned()]);
                v
            }
            Self::Number => number_fragments(),
            Self::Ordinal => ordinal_fragments(),
            Self::Date => {
                let mut v: Vec<String> = (1..=12).map(|m| format!("months/{m}")).collect();
                v.extend(ordinal_fragments());
                v.extend(number_fragments());
                v
            }
            Self::Word => Vec::new(),
        }
    }
}

impl fmt::Display for SayAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn number_fragments() -> Vec<String> {
    let mut v: Vec<String> = (0..100).map(|n| format!("numbers/{n}")).collect();
    v.extend((1..10).map(|h| format!("numbers/{h}00")));
    v.extend(["thousand", "million", "minus"].map(|w| format!("numbers/{w}")));
    v
}

fn ordinal_fragments() -> Vec<String> {
    (1..=31).map(|d| format!("ordinals/{d}")).collect()
}

/// Appends the fragments that say `text` as `kind` (`Word` is expanded by the caller).
pub(crate) fn expand(kind: SayAs, text: &str, out: &mut Vec<String>) {
    match kind {
        SayAs::Digits => digits(text, out),
        SayAs::Number => {
            if let Ok(n) = text.trim().parse::<i64>() {
                number(n, out);
            }
        }
        SayAs::Ordinal => {
            if let Ok(n @ 1..=31) = text.trim().parse::<u8>() {
                out.push(format!("ordinals/{n}"));
            }
        }
        SayAs::Date => date(text, out),
        SayAs::Word => {}
    }
}

fn digits(text: &str, out: &mut Vec<String>) {
    for c in text.chars() {
        match c {
            '0'..='9' => out.push(format!("digits/{c}")),
            '*' => out.push("digits/star".to_owned()),
            '#' => out.push("digits/hash".to_owned()),
            _ => {}
        }
    }
}

const NUMBER_LIMIT: i64 = 999_999_999;

fn number(n: i64, out: &mut Vec<String>) {
    if !(-NUMBER_LIMIT..=NUMBER_LIMIT).contains(&n) {
        return;
    }
    if n < 0 {
        out.push("numbers/minus".to_owned());
    }
    let n = n.unsigned_abs();
    if n == 0 {
        out.push("numbers/0".to_owned());
        return;
    }
    let (millions, rest) = (n / 1_000_000, n % 1_000_000);
    let (thousands, units) = (rest / 1000, rest % 1000);
    if millions > 0 {
        below_thousand(millions, out);
        out.push("numbers/million".to_owned());
    }
    if thousands > 0 {
        below_thousand(thousands, out);
        out.push("numbers/thousand".to_owned());
    }
    if units > 0 {
        below_thousand(units, out);
    }
}

/// 1..=999 as an optional hundreds fragment and an optional 1..=99 fragment.
fn below_thousand(n: u64, out: &mut Vec<String>) {
    let (hundreds, rest) = (n / 100, n % 100);
    if hundreds > 0 {
        out.push(format!("numbers/{hundreds}00"));
    }
    if rest > 0 {
        out.push(format!("numbers/{rest}"));
    }
}

fn date(text: &str, out: &mut Vec<String>) {
    let Ok(d) = text.trim().parse::<jiff::civil::Date>() else {
        return;
    };
    out.push(format!("months/{}", d.month()));
    out.push(format!("ordinals/{}", d.day()));
    number(i64::from(d.year()), out);
}

#[cfg(test)]
mod tests {
    use super::{SayAs, expand};

    fn say(kind: SayAs, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        expand(kind, text, &mut out);
        out
    }

    #[test]
    fn numbers_expand_to_whole_fragments() {
        let cases: &[(&str, &[&str])] = &[
            ("0", &["numbers/0"]),
            ("7", &["numbers/7"]),
            ("20", &["numbers/20"]),
            ("100", &["numbers/100"]),
            ("305", &["numbers/300", "numbers/5"]),
            (
                "1234",
                &["numbers/1", "numbers/thousand", "numbers/200", "numbers/34"],
            ),
            (
                "-2000000",
                &["numbers/minus", "numbers/2", "numbers/million"],
            ),
            ("1000001", &["numbers/1", "numbers/million", "numbers/1"]),
            ("1000000000", &[]),
            ("twelve", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(say(SayAs::Number, text), *want, "{text}");
        }
    }

    #[test]
    fn digits_dates_and_ordinals() {
        assert_eq!(
            say(SayAs::Digits, "4-2*#"),
            ["digits/4", "digits/2", "digits/star", "digits/hash"]
        );
        assert_eq!(
            say(SayAs::Date, "2026-03-05"),
            [
                "months/3",
                "ordinals/5",
                "numbers/2",
                "numbers/thousand",
                "numbers/26"
            ]
        );
        assert!(say(SayAs::Date, "2026-02-30").is_empty());
        assert_eq!(say(SayAs::Ordinal, "31"), ["ordinals/31"]);
        assert!(say(SayAs::Ordinal, "32").is_empty());
    }

    #[test]
    fn every_expansion_is_a_listed_fragment() {
        for kind in [SayAs::Digits, SayAs::Number, SayAs::Ordinal, SayAs::Date] {
            let all = kind.fragments();
            for text in ["0", "19", "999", "123456789", "-5", "2031-12-31", "*#9"] {
                for f in say(kind, text) {
                    assert!(all.contains(&f), "{kind}: {f} not listed");
                }
            }
        }
        assert_eq!(SayAs::Number.fragments().len(), 100 + 9 + 3);
    }
}
