//! When a failed delivery is tried again, and when it is given up: pure
//! arithmetic on unix milliseconds, with the jitter passed in.
//!
//! After the `n`th failed attempt the wait is `first_delay · 2^(n-1)`, capped
//! at `max_delay`, then scaled by `0.5 + jitter / 2` (so between half and all
//! of it: receivers coming back are not hit by every node at once). A
//! delivery is given up after `max_attempts` attempts, or when its next
//! attempt would fall later than `max_age` after the event.

use std::time::Duration;

/// How deliveries are retried. [`RetryPolicy::default`] gives the node's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The wait after the first failed attempt (before jitter).
    pub first_delay: Duration,
    /// The longest wait between two attempts (before jitter).
    pub max_delay: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// How long after the event a delivery may still be attempted.
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    /// 5 s doubling up to 1 h, at most 20 attempts within 24 h (about ten
    /// hours pass before the twentieth).
    fn default() -> Self {
        Self {
            first_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(3600),
            max_attempts: 20,
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again at this time (unix ms).
    At(i64),
    /// Stop: the delivery is kept as failed.
    GiveUp,
}

impl RetryPolicy {
    /// The wait after `failed` failed attempts, before jitter (`failed` ≥ 1;
    /// 0 counts as 1).
    #[must_use]
    pub fn backoff(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(31);
        self.first_delay
            .checked_mul(1 << doublings)
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }

    /// What follows the `failed`th failed attempt, made at `now`, of a
    /// delivery whose event happened at `created_at` (both unix ms).
    /// `jitter` is clamped to `[0, 1]`.
    #[must_use]
    pub fn after_failure(&self, created_at: i64, failed: u32, now: i64, jitter: f64) -> Retry {
        if failed >= self.max_attempts {
            return Retry::GiveUp;
        }
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let wait = self.backoff(failed).as_secs_f64() * (0.5 + jitter / 2.0);
        let next = now.saturating_add((wait * 1000.0).round() as i64);
        let deadline = created_at.saturating_add(millis(self.max_age));
        if next > deadline {
            Retry::GiveUp
        } else {
            Retry::At(next)
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_750_000_000_000;

    #[test]
    fn backoff_doubles_from_the_first_delay_up_to_the_cap() {
        let p = RetryPolicy::default();
        let secs: Vec<u64> = (1..=12).map(|n| p.backoff(n).as_secs()).collect();
        assert_eq!(
            secs,
            [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(p.backoff(0), p.backoff(1));
        assert_eq!(p.backoff(u32::MAX), p.max_delay, "no overflow");
    }

    #[test]
    fn jitter_spreads_the_wait_between_half_and_all_of_the_backoff() {
        let p = RetryPolicy::default();
        assert_eq!(p.after_failure(T0, 3, T0, 0.0), Retry::At(T0 + 10_000));
        assert_eq!(p.after_failure(T0, 3, T0, 1.0), Retry::At(T0 + 20_000));
        assert_eq!(p.after_failure(T0, 3, T0, 0.5), Retry::At(T0 + 15_000));
        assert_eq!(p.after_failure(T0, 3, T0, 7.0), Retry::At(T0 + 20_000));
        assert_eq!(p.after_failure(T0, 3, T0, f64::NAN), Retry::At(T0 + 10_000));
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let p = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        assert!(matches!(p.after_failure(T0, 2, T0, 0.0), Retry::At(_)));
        assert_eq!(p.after_failure(T0, 3, T0, 0.0), Retry::GiveUp);
        assert_eq!(p.after_failure(T0, 9, T0, 0.0), Retry::GiveUp);
    }

    #[test]
    fn gives_up_when_the_next_attempt_would_pass_the_max_age() {
        let p = RetryPolicy {
            max_age: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        // 50 s after the event, a 10 s wait still fits; 11 s does not.
        assert_eq!(
            p.after_failure(T0, 2, T0 + 50_000, 1.0),
            Retry::At(T0 + 60_000)
        );
        assert_eq!(p.after_failure(T0, 2, T0 + 50_001, 1.0), Retry::GiveUp);
    }

    #[test]
    fn the_default_schedule_spans_hours_within_a_day() {
        let p = RetryPolicy::default();
        let mut now = T0;
        let mut attempts = 1;
        while let Retry::At(next) = p.after_failure(T0, attempts, now, 1.0) {
            assert!(next > now);
            now = next;
            attempts += 1;
        }
        assert_eq!(attempts, p.max_attempts);
        let hours = (now - T0) / 3_600_000;
        assert!((9..24).contains(&hours), "last attempt after {hours} h");
    }
}
