//! The sixteen DTMF digits, their RFC 4733 event codes and their tone pairs.

use std::fmt;

/// One key of the DTMF keypad.
///
/// ```text
///            1209 Hz  1336 Hz  1477 Hz  1633 Hz
///   697 Hz      1        2        3        A
///   770 Hz      4        5        6        B
///   852 Hz      7        8        9        C
///   941 Hz      *        0        #        D
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Digit {
    /// `0`, event 0.
    Zero,
    /// `1`, event 1.
    One,
    /// `2`, event 2.
    Two,
    /// `3`, event 3.
    Three,
    /// `4`, event 4.
    Four,
    /// `5`, event 5.
    Five,
    /// `6`, event 6.
    Six,
    /// `7`, event 7.
    Seven,
    /// `8`, event 8.
    Eight,
    /// `9`, event 9.
    Nine,
    /// `*`, event 10.
    Star,
    /// `#`, event 11.
    Pound,
    /// `A`, event 12.
    A,
    /// `B`, event 13.
    B,
    /// `C`, event 14.
    C,
    /// `D`, event 15.
    D,
}

/// The low-group (row) frequencies in Hz, top row first.
pub(crate) const ROW_HZ: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// The high-group (column) frequencies in Hz, left column first.
pub(crate) const COL_HZ: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// Keypad position (row, column) of each digit, in event-code order.
const POSITION: [(usize, usize); 16] = [
    (3, 1),
    (0, 0),
    (0, 1),
    (0, 2),
    (1, 0),
    (1, 1),
    (1, 2),
    (2, 0),
    (2, 1),
    (2, 2),
    (3, 0),
    (3, 2),
    (0, 3),
    (1, 3),
    (2, 3),
    (3, 3),
];

/// Keypad layout: `KEYPAD[row][col]`.
const KEYPAD: [[Digit; 4]; 4] = [
    [Digit::One, Digit::Two, Digit::Three, Digit::A],
    [Digit::Four, Digit::Five, Digit::Six, Digit::B],
    [Digit::Seven, Digit::Eight, Digit::Nine, Digit::C],
    [Digit::Star, Digit::Zero, Digit::Pound, Digit::D],
];

impl Digit {
    /// All sixteen digits in RFC 4733 event-code order (0–9, `*`, `#`, A–D).
    pub const ALL: [Digit; 16] = [
        Digit::Zero,
        Digit::One,
        Digit::Two,
        Digit::Three,
        Digit::Four,
        Digit::Five,
        Digit::Six,
        Digit::Seven,
        Digit::Eight,
        Digit::Nine,
        Digit::Star,
        Digit::Pound,
        Digit::A,
        Digit::B,
        Digit::C,
        Digit::D,
    ];

    /// The digit an RFC 4733 event code stands for; `None` for non-DTMF events
    /// (flash = 16, modem and fax tones, …).
    #[must_use]
    pub fn from_event(code: u8) -> Option<Digit> {
        Digit::ALL.get(usize::from(code)).copied()
    }

    /// The RFC 4733 event code (0–15).
    #[must_use]
    pub fn event(self) -> u8 {
        self as u8
    }

    /// The keypad character: `0`–`9`, `*`, `#`, `A`–`D`.
    #[must_use]
    pub fn as_char(self) -> char {
        match self {
            Digit::Star => '*',
            Digit::Pound => '#',
            Digit::A => 'A',
            Digit::B => 'B',
            Digit::C => 'C',
            Digit::D => 'D',
            // Events 0..=9 are the decimal digits.
            d => char::from(b'0' + d.event()),
        }
    }

    /// The digit for a keypad character (`a`–`d` accepted as `A`–`D`).
    #[must_use]
    pub fn from_char(c: char) -> Option<Digit> {
        match c.to_ascii_uppercase() {
            '*' => Some(Digit::Star),
            '#' => Some(Digit::Pound),
            'A' => Some(Digit::A),
            'B' => Some(Digit::B),
            'C' => Some(Digit::C),
            'D' => Some(Digit::D),
            c @ '0'..='9' => Digit::from_event(c as u8 - b'0'),
            _ => None,
        }
    }

    /// The (low, high) tone pair in Hz.
    #[must_use]
    pub fn frequencies(self) -> (f32, f32) {
        let (row, col) = self.row_col();
        (ROW_HZ[row], COL_HZ[col])
    }

    /// (row, column) on the keypad, both 0..4.
    pub(crate) fn row_col(self) -> (usize, usize) {
        POSITION[usize::from(self.event())]
    }

    /// The digit at (row, column); both must be below 4.
    pub(crate) fn at(row: usize, col: usize) -> Digit {
        KEYPAD[row & 3][col & 3]
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_codes_chars_and_tones_agree() {
        let chars = "0123456789*#ABCD";
        for (code, (digit, ch)) in Digit::ALL.iter().zip(chars.chars()).enumerate() {
            assert_eq!(usize::from(digit.event()), code);
            assert_eq!(Digit::from_event(code as u8), Some(*digit));
            assert_eq!(digit.as_char(), ch);
            assert_eq!(Digit::from_char(ch), Some(*digit));
            let (r, c) = digit.row_col();
            assert_eq!(Digit::at(r, c), *digit);
        }
        assert_eq!(Digit::from_event(16), None);
        assert_eq!(Digit::from_char('x'), None);
        assert_eq!(Digit::from_char('b'), Some(Digit::B));
        assert_eq!(Digit::Five.frequencies(), (770.0, 1336.0));
        assert_eq!(Digit::Pound.frequencies(), (941.0, 1477.0));
        assert_eq!(Digit::D.to_string(), "D");
    }
}
