//! Checks that relate several keys, and the list-valued keys of `[auth]`.
//!
//! A cross-key problem is reported at the key the file actually set: when
//! `t1_ms = 5000` is written and `t2_ms` is left at its default, the message
//! points at `t1_ms`; when only `t2_ms` is written, at `t2_ms`.

use std::ops::Range;
use std::time::Duration;

use crate::error::{ProblemKind, Problems};
use crate::ipnet::IpNet;
use crate::reader::{Field, Section};
use crate::sections::DigestAlgorithm;

/// One side of a cross-key check: the dotted key, where the file set it (if it
/// did), and its value in the key's own unit.
#[derive(Debug)]
pub(crate) struct Bound {
    key: String,
    set: Option<Range<usize>>,
    value: u64,
}

impl Bound {
    pub(crate) fn new(
        s: &Section<'_, '_>,
        key: &str,
        set: Option<Range<usize>>,
        value: impl Into<u64>,
    ) -> Self {
        Self {
            key: s.dotted(key),
            set,
            value: value.into(),
        }
    }

    /// A duration key written in milliseconds.
    pub(crate) fn millis(
        s: &Section<'_, '_>,
        key: &str,
        field: Option<&Field<Duration>>,
        value: Duration,
    ) -> Self {
        let ms = u64::try_from(value.as_millis()).unwrap_or(u64::MAX);
        Self::new(s, key, field.map(|f| f.key_at.clone()), ms)
    }

    /// A duration key written in seconds.
    pub(crate) fn secs(
        s: &Section<'_, '_>,
        key: &str,
        field: Option<&Field<Duration>>,
        value: Duration,
    ) -> Self {
        Self::new(s, key, field.map(|f| f.key_at.clone()), value.as_secs())
    }
}

/// The relation a cross-key check requires between `low` and `high`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Order {
    /// `low <= high`.
    AtMost,
    /// `low < high`.
    Below,
    /// `low != high`.
    Differs,
}

/// Checks `low` against `high`; reports a problem at whichever key the file
/// set (preferring `low`) and returns whether the relation holds. Nothing is
/// reported when either key already has a problem.
pub(crate) fn check_order(p: &mut Problems, low: &Bound, high: &Bound, order: Order) -> bool {
    let holds = match order {
        Order::AtMost => low.value <= high.value,
        Order::Below => low.value < high.value,
        Order::Differs => low.value != high.value,
    };
    // A key whose value was rejected stands at its default here: comparing it
    // would only repeat the first problem in another form.
    if holds || p.concerns(&low.key) || p.concerns(&high.key) {
        return holds;
    }
    let (at, this, other, relation) = match (&low.set, &high.set) {
        (Some(at), _) => (at, low, high, low_side(order)),
        (None, Some(at)) => (at, high, low, high_side(order)),
        // Both sides are defaults, and the defaults satisfy every relation.
        (None, None) => return false,
    };
    let message = format!(
        "{}: must be {relation} {} ({}), found {}",
        this.key, other.key, other.value, this.value
    );
    p.push(at.clone(), ProblemKind::Inconsistent, &this.key, message);
    false
}

fn low_side(order: Order) -> &'static str {
    match order {
        Order::AtMost => "at most",
        Order::Below => "less than",
        Order::Differs => "different from",
    }
}

fn high_side(order: Order) -> &'static str {
    match order {
        Order::AtMost => "at least",
        Order::Below => "greater than",
        Order::Differs => "different from",
    }
}

/// `auth.algorithms`: a non-empty list of distinct `"SHA-256"` / `"MD5"`.
/// Returns `None` when the key is absent or has problems (they are reported).
pub(crate) fn digest_algorithms(
    s: &Section<'_, '_>,
    p: &mut Problems,
) -> Option<Vec<DigestAlgorithm>> {
    const KEY: &str = "algorithms";
    let field = s.strings(p, KEY, "an array of \"SHA-256\" and/or \"MD5\"")?;
    if field.value.is_empty() {
        let what = "must name at least one algorithm, found []";
        s.invalid(p, field.key_at, KEY, ProblemKind::InvalidValue, what);
        return None;
    }
    let mut out = Vec::with_capacity(field.value.len());
    let mut usable = true;
    for item in &field.value {
        let name = *item.get_ref();
        let what = match [DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
            .into_iter()
            .find(|a| a.as_str() == name)
        {
            Some(a) if out.contains(&a) => format!("lists {name:?} more than once"),
            Some(a) => {
                out.push(a);
                continue;
            }
            None => format!("expected \"SHA-256\" or \"MD5\", found {name:?}"),
        };
        s.invalid(p, item.span(), KEY, ProblemKind::InvalidValue, &what);
        usable = false;
    }
    (usable && !out.is_empty()).then_some(out)
}

/// `auth.trusted`: a list of IP addresses and CIDR prefixes, possibly empty.
/// Each rejected element is reported at its own value. Returns `None` when the
/// key is absent or has problems (they are reported).
pub(crate) fn trusted_sources(s: &Section<'_, '_>, p: &mut Problems) -> Option<Vec<IpNet>> {
    const KEY: &str = "trusted";
    let expected = "an array of IP addresses or CIDR prefixes such as \"10.0.0.0/8\"";
    let field = s.strings(p, KEY, expected)?;
    let mut out = Vec::with_capacity(field.value.len());
    let mut usable = true;
    for item in &field.value {
        let text = *item.get_ref();
        match text.parse::<IpNet>() {
            Ok(net) => out.push(net),
            Err(err) => {
                let what = format!("{err}, found {text:?}");
                s.invalid(p, item.span(), KEY, ProblemKind::InvalidValue, &what);
                usable = false;
            }
        }
    }
    usable.then_some(out)
}
