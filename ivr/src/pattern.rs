//! Validation of collected digits: dial-plan style patterns and the Luhn checksum.
//!
//! A pattern is matched against the whole input, one element per digit:
//!
//! | element | matches |
//! | --- | --- |
//! | `0`–`9`, `*`, `#` | that key |
//! | `X` | any digit 0–9 |
//! | `Z` | 1–9 |
//! | `N` | 2–9 |
//! | `[15-7]` | any listed digit or range |
//! | `.` (last only) | one or more further keys |
//! | `!` (last only) | zero or more further keys |
//!
//! `"4XXXXX"` accepts six digits starting with 4; `"[1-3]X."` accepts two or
//! more digits starting with 1, 2 or 3.

use std::fmt;

/// A compiled digit pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    elements: Vec<Element>,
    tail: Tail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Element {
    Key(char),
    /// Digits allowed, as a bit set over 0–9.
    Digits(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    None,
    OneOrMore,
    ZeroOrMore,
}

/// Why a pattern does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternError(String);

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const ANY: u16 = 0b11_1111_1111;

impl Pattern {
    pub(crate) fn parse(text: &str) -> Result<Self, PatternError> {
        let mut elements = Vec::new();
        let mut tail = Tail::None;
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if tail != Tail::None {
                return Err(PatternError(format!(
                    "`.` and `!` may only end a pattern (found `{c}` after one)"
                )));
            }
            match c {
                '0'..='9' | '*' | '#' => elements.push(Element::Key(c)),
                'X' | 'x' => elements.push(Element::Digits(ANY)),
                'Z' | 'z' => elements.push(Element::Digits(ANY & !1)),
                'N' | 'n' => elements.push(Element::Digits(ANY & !3)),
                '[' => elements.push(Element::Digits(set(&mut chars)?)),
                '.' => tail = Tail::OneOrMore,
                '!' => tail = Tail::ZeroOrMore,
                other => {
                    return Err(PatternError(format!(
                        "`{other}` is not a pattern element (0-9 * # X Z N [..] . !)"
                    )));
                }
            }
        }
        if elements.is_empty() && tail == Tail::None {
            return Err(PatternError("the pattern is empty".to_owned()));
        }
        Ok(Self { elements, tail })
    }

    /// Whether `input` matches the whole pattern.
    pub(crate) fn matches(&self, input: &str) -> bool {
        let mut keys = input.chars();
        for e in &self.elements {
            let Some(k) = keys.next() else {
                return false;
            };
            let ok = match e {
                Element::Key(c) => *c == k,
                Element::Digits(bits) => k.to_digit(10).is_some_and(|d| bits & (1 << d) != 0),
            };
            if !ok {
                return false;
            }
        }
        let rest = keys.count();
        match self.tail {
            Tail::None => rest == 0,
            Tail::OneOrMore => rest > 0,
            Tail::ZeroOrMore => true,
        }
    }
}

/// Parses the inside of `[...]` (after the `[`) into a digit bit set.
fn set(chars: &mut std::str::Chars<'_>) -> Result<u16, PatternError> {
    let mut bits = 0u16;
    let mut prev: Option<u32> = None;
    loop {
        match chars.next() {
            None => return Err(PatternError("`[` without a closing `]`".to_owned())),
            Some(']') if bits != 0 => return Ok(bits),
            Some(']') => return Err(PatternError("`[]` lists no digit".to_owned())),
            Some('-') => {
                let (Some(lo), Some(hi)) = (prev, chars.next().and_then(|c| c.to_digit(10))) else {
                    return Err(PatternError(
                        "a range in `[..]` needs a digit on each side".into(),
                    ));
                };
                if hi < lo {
                    return Err(PatternError(format!("the range {lo}-{hi} is empty")));
                }
                for d in lo..=hi {
                    bits |= 1 << d;
                }
                prev = None;
            }
            Some(c) => {
                let d = c
                    .to_digit(10)
                    .ok_or_else(|| PatternError(format!("`{c}` in `[..]` is not a digit")))?;
                bits |= 1 << d;
                prev = Some(d);
            }
        }
    }
}

/// Whether `input` is all digits and passes the Luhn (mod 10) check.
pub(crate) fn luhn(input: &str) -> bool {
    if input.len() < 2 || !input.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = input
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::{Pattern, luhn};

    #[test]
    fn patterns_match_whole_input() {
        let cases: &[(&str, &str, bool)] = &[
            ("4XXXXX", "412345", true),
            ("4XXXXX", "41234", false),
            ("4XXXXX", "4123456", false),
            ("4XXXXX", "512345", false),
            ("NXX", "199", false),
            ("NXX", "299", true),
            ("ZX", "09", false),
            ("[1-3]X.", "15", false),
            ("[1-3]X.", "157", true),
            ("[1-3]X!", "15", true),
            ("[135]", "3", true),
            ("[135]", "4", false),
            ("*9#", "*9#", true),
        ];
        for (pattern, input, want) in cases {
            let p = Pattern::parse(pattern).expect("valid pattern");
            assert_eq!(p.matches(input), *want, "{pattern} vs {input}");
        }
    }

    #[test]
    fn bad_patterns_are_rejected() {
        for bad in ["", "4X.X", "[", "[]", "[9-1]", "[a]", "4Q", "[-3]"] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?} should not compile");
        }
    }

    #[test]
    fn luhn_check() {
        assert!(luhn("79927398713"));
        assert!(!luhn("79927398710"));
        assert!(luhn("4539578763621486"));
        assert!(!luhn("1"));
        assert!(!luhn("7992739871a"));
    }
}
