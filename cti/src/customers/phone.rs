//! Normal forms of the two values customers are found by: phone numbers and
//! account numbers. The blind index is computed over these forms, so two
//! spellings of one number find the same customer.
//!
//! # Phone numbers
//!
//! 1. Spaces, tabs, `-`, `.`, `/`, `(` and `)` are removed. What remains must
//!    be digits, optionally after one leading `+`.
//! 2. `+DIGITS` and `00DIGITS` are international: the result is `+DIGITS`.
//! 3. Up to [`PhonePlan::max_extension_len`] digits (6 by default) is an
//!    internal extension and kept as is (`1001`); it never equals an
//!    international number, which starts with `+`.
//! 4. Longer digit strings are national: the plan's trunk prefix, if present,
//!    is removed and the country code put in front. With the default plan
//!    (country code 1, trunk prefix 1, as in North America) `15551234567`
//!    and `5551234567` both become `+15551234567`.
//! 5. International results must have 7–15 digits (E.164) and not start
//!    with 0.
//!
//! Limits: other international access codes (`011` in North America) are
//! read as national digits; a number that carries its country code without
//! `+` or `00` is only recognised when the trunk prefix equals the country
//! code (North America); local numbers dialled without an area code are not
//! completed. Trunks that deliver E.164 (`+…`) avoid all three.
//!
//! # Account numbers
//!
//! Spaces and `-` are removed and letters uppercased; what remains must be
//! 1–32 ASCII letters or digits. Accounts entered by DTMF can only be digits.

use std::fmt;

use super::CustomerError;

/// Longest accepted account number, in characters.
const ACCOUNT_MAX_LEN: usize = 32;

/// E.164 bounds on the digits of an international number (country code
/// included).
const INTERNATIONAL_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;

/// How numbers without an international prefix are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhonePlan {
    country_code: String,
    trunk_prefix: Option<String>,
    max_extension_len: usize,
}

impl Default for PhonePlan {
    /// North America: country code 1, trunk prefix 1, extensions up to 6
    /// digits.
    fn default() -> Self {
        Self {
            country_code: "1".to_owned(),
            trunk_prefix: Some("1".to_owned()),
            max_extension_len: 6,
        }
    }
}

impl PhonePlan {
    /// A plan for country code `country_code` (1–3 digits, not starting with
    /// 0) whose national numbers may start with `trunk_prefix` (`0` in most of
    /// Europe, `1` in North America, none in Italy).
    ///
    /// # Errors
    ///
    /// [`CustomerError::InvalidValue`] for a malformed code or prefix.
    pub fn new(country_code: &str, trunk_prefix: Option<&str>) -> Result<Self, CustomerError> {
        let digits =
            |s: &str, max| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(country_code, 3) || country_code.starts_with('0') {
            return Err(CustomerError::InvalidValue {
                field: "country code",
                reason: "expected 1-3 digits not starting with 0",
            });
        }
        if trunk_prefix.is_some_and(|p| !digits(p, 2)) {
            return Err(CustomerError::InvalidValue {
                field: "trunk prefix",
                reason: "expected 1-2 digits",
            });
        }
        Ok(Self {
            country_code: country_code.to_owned(),
            trunk_prefix: trunk_prefix.map(str::to_owned),
            max_extension_len: 6,
        })
    }

    /// The same plan with internal extensions of up to `len` digits (0 means
    /// every number is read as national).
    #[must_use]
    pub fn with_max_extension_len(mut self, len: usize) -> Self {
        self.max_extension_len = len.min(INTERNATIONAL_DIGITS.start() - 1);
        self
    }

    /// Digit strings up to this length are internal extensions.
    #[must_use]
    pub fn max_extension_len(&self) -> usize {
        self.max_extension_len
    }
}

/// A phone number in normal form: `+` and 7–15 digits, or an internal
/// extension of digits only.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Reads `input` by the rules in the module documentation.
    ///
    /// # Errors
    ///
    /// [`CustomerError::InvalidPhone`] saying what is wrong.
    pub fn parse(input: &str, plan: &PhonePlan) -> Result<Self, CustomerError> {
        let kept: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '\t' | '-' | '.' | '/' | '(' | ')'))
            .collect();
        let (plus, digits) = match kept.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, kept.as_str()),
        };
        if digits.is_empty() {
            return Err(CustomerError::InvalidPhone("it has no digits"));
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CustomerError::InvalidPhone(
                "only digits, spaces, - . / ( ) and a leading + are allowed",
            ));
        }
        let international = if plus {
            digits.to_owned()
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_owned()
        } else if digits.len() <= plan.max_extension_len {
            return Ok(Self(digits.to_owned()));
        } else {
            let national = plan
                .trunk_prefix
                .as_deref()
                .and_then(|p| digits.strip_prefix(p))
                .unwrap_or(digits);
            format!("{}{national}", plan.country_code)
        };
        if !INTERNATIONAL_DIGITS.contains(&international.len()) {
            return Err(CustomerError::InvalidPhone(
                "an international number has 7 to 15 digits",
            ));
        }
        if international.starts_with('0') {
            return Err(CustomerError::InvalidPhone(
                "a country code does not start with 0",
            ));
        }
        Ok(Self(format!("+{international}")))
    }

    /// The normal form, `+15551234567` or `1001`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is an internal extension rather than an E.164 number.
    #[must_use]
    pub fn is_extension(&self) -> bool {
        !self.0.starts_with('+')
    }

    /// Wraps a stored normal form (read back from a sealed column).
    pub(super) fn from_stored(normal: String) -> Self {
        Self(normal)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhoneNumber(<redacted>)")
    }
}

/// An account number in normal form: 1–32 uppercase ASCII letters or digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountNumber(String);

impl AccountNumber {
    /// Reads `input`: spaces and `-` removed, letters uppercased.
    ///
    /// # Errors
    ///
    /// [`CustomerError::InvalidAccount`] saying what is wrong.
    pub fn parse(input: &str) -> Result<Self, CustomerError> {
        let kept: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '\t' | '-'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if kept.is_empty() {
            return Err(CustomerError::InvalidAccount("it is empty"));
        }
        if kept.len() > ACCOUNT_MAX_LEN {
            return Err(CustomerError::InvalidAccount(
                "it is longer than 32 characters",
            ));
        }
        if !kept.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CustomerError::InvalidAccount(
                "only letters, digits, spaces and - are allowed",
            ));
        }
        Ok(Self(kept))
    }

    /// The normal form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a stored normal form (read back from a sealed column).
    pub(super) fn from_stored(normal: String) -> Self {
        Self(normal)
    }
}

impl fmt::Display for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountNumber(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(input: &str, plan: &PhonePlan) -> Result<String, CustomerError> {
        PhoneNumber::parse(input, plan).map(|p| p.as_str().to_owned())
    }

    #[test]
    fn every_caller_form_of_a_north_american_number_agrees() {
        let plan = PhonePlan::default();
        for form in [
            "+15551234567",
            "15551234567",
            "0015551234567",
            "5551234567",
            "+1 (555) 123-4567",
            "1.555.123.4567",
            " 555/123 4567 ",
        ] {
            assert_eq!(
                normal(form, &plan).ok().as_deref(),
                Some("+15551234567"),
                "{form}"
            );
        }
    }

    #[test]
    fn a_trunk_prefix_zero_plan_reads_national_numbers() {
        let uk = PhonePlan::new("44", Some("0")).expect("valid plan");
        assert_eq!(
            normal("020 7946 0001", &uk).ok().as_deref(),
            Some("+442079460001")
        );
        assert_eq!(
            normal("+44 20 7946 0001", &uk).ok().as_deref(),
            Some("+442079460001")
        );
        assert_eq!(
            normal("0044 20 7946 0001", &uk).ok().as_deref(),
            Some("+442079460001")
        );
        // No trunk prefix in Italy: the leading 0 belongs to the number.
        let it = PhonePlan::new("39", None).expect("valid plan");
        assert_eq!(
            normal("06 1234 5678", &it).ok().as_deref(),
            Some("+390612345678")
        );
    }

    #[test]
    fn short_numbers_are_extensions_and_never_equal_international_ones() {
        let plan = PhonePlan::default();
        let ext = PhoneNumber::parse("1001", &plan).expect("an extension");
        assert!(ext.is_extension());
        assert_eq!(ext.as_str(), "1001");
        assert_eq!(normal("+1001234", &plan).ok().as_deref(), Some("+1001234"));
        let all_national = plan.with_max_extension_len(0);
        assert!(
            normal("1001", &all_national).is_err(),
            "+11001 is too short for E.164"
        );
    }

    #[test]
    fn malformed_numbers_say_what_is_wrong() {
        let plan = PhonePlan::default();
        for (input, needle) in [
            ("", "no digits"),
            ("+", "no digits"),
            ("anonymous", "only digits"),
            ("555-CALL-NOW", "only digits"),
            ("++15551234567", "only digits"),
            ("+1234567890123456", "7 to 15"),
            ("00", "7 to 15"),
            ("+0123456789", "does not start with 0"),
        ] {
            let err = normal(input, &plan).expect_err(input).to_string();
            assert!(err.contains(needle), "{input:?}: {err}");
        }
    }

    #[test]
    fn plans_reject_malformed_codes() {
        assert!(PhonePlan::new("0", None).is_err());
        assert!(PhonePlan::new("1234", None).is_err());
        assert!(PhonePlan::new("1a", None).is_err());
        assert!(PhonePlan::new("49", Some("")).is_err());
        assert!(PhonePlan::new("49", Some("0")).is_ok());
    }

    #[test]
    fn account_numbers_ignore_spacing_and_case() {
        let a = AccountNumber::parse(" ac-100 042 ").expect("valid");
        assert_eq!(a.as_str(), "AC100042");
        assert_eq!(a, AccountNumber::parse("AC100042").expect("valid"));
        assert!(AccountNumber::parse(" - ").is_err());
        assert!(AccountNumber::parse("ab_12").is_err());
        assert!(AccountNumber::parse(&"9".repeat(33)).is_err());
        assert_eq!(format!("{a:?}"), "AccountNumber(<redacted>)");
    }
}
