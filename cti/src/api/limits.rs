//! Rate limits: a token bucket per API token, and one per client address
//! for logins.
//!
//! [`TokenBucket`] is pure arithmetic on the time it is given; [`Limits`]
//! keeps the buckets behind one lock that is held only for that arithmetic.
//! Buckets that have refilled completely carry no information and are
//! dropped when the map grows, so it stays small.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::ApiConfig;

/// Buckets kept before full ones are swept.
const SWEEP_AT: usize = 4096;

/// A token bucket: `burst` tokens at most, refilled at `per_s` tokens a
/// second; a request takes one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TokenBucket {
    tokens: f64,
    updated_ms: i64,
}

/// A bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rate {
    /// Tokens refilled per second.
    pub(crate) per_s: f64,
    /// Capacity.
    pub(crate) burst: f64,
}

impl TokenBucket {
    /// A full bucket at `now_ms`.
    pub(crate) fn full(rate: Rate, now_ms: i64) -> Self {
        Self {
            tokens: rate.burst,
            updated_ms: now_ms,
        }
    }

    /// Takes a token at `now_ms`; when none is left, the seconds until one
    /// will be (at least 1).
    pub(crate) fn take(&mut self, rate: Rate, now_ms: i64) -> Result<(), u64> {
        self.refill(rate, now_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let missing = 1.0 - self.tokens;
        let wait_s = if rate.per_s > 0.0 {
            (missing / rate.per_s).ceil()
        } else {
            3600.0
        };
        // A small positive float: the cast cannot wrap.
        Err((wait_s as u64).max(1))
    }

    fn refill(&mut self, rate: Rate, now_ms: i64) {
        // A clock that steps back refills nothing.
        let elapsed_ms = now_ms.saturating_sub(self.updated_ms).max(0);
        let gained = elapsed_ms as f64 / 1000.0 * rate.per_s;
        self.tokens = (self.tokens + gained).min(rate.burst);
        self.updated_ms = self.updated_ms.max(now_ms);
    }

    fn is_full(&self, rate: Rate, now_ms: i64) -> bool {
        let mut probe = *self;
        probe.refill(rate, now_ms);
        probe.tokens >= rate.burst
    }
}

/// Buckets keyed by `K`, all of one [`Rate`].
#[derive(Debug)]
struct Buckets<K> {
    rate: Rate,
    map: Mutex<HashMap<K, TokenBucket>>,
}

impl<K: std::hash::Hash + Eq + Clone> Buckets<K> {
    fn new(rate: Rate) -> Self {
        Self {
            rate,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn take(&self, key: &K, now_ms: i64) -> Result<(), u64> {
        let rate = self.rate;
        // A poisoned lock only means another request panicked mid-update of
        // plain numbers: keep using the map.
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= SWEEP_AT {
            map.retain(|_, b| !b.is_full(rate, now_ms));
        }
        map.entry(key.clone())
            .or_insert_with(|| TokenBucket::full(rate, now_ms))
            .take(rate, now_ms)
    }
}

/// The API's limiters.
#[derive(Debug)]
pub(crate) struct Limits {
    requests: Buckets<String>,
    logins: Buckets<Option<IpAddr>>,
}

impl Limits {
    pub(crate) fn new(config: &ApiConfig) -> Self {
        Self {
            requests: Buckets::new(Rate {
                per_s: f64::from(config.requests_per_second),
                burst: f64::from(config.burst.max(1)),
            }),
            logins: Buckets::new(Rate {
                per_s: f64::from(config.logins_per_minute) / 60.0,
                burst: f64::from(config.logins_per_minute.max(1)),
            }),
        }
    }

    /// One request on the token whose hash is `token_hash`.
    pub(crate) fn take_request(&self, token_hash: &str, now_ms: i64) -> Result<(), u64> {
        self.requests.take(&token_hash.to_owned(), now_ms)
    }

    /// One login attempt from `addr` (all unknown addresses share a bucket).
    pub(crate) fn take_login(&self, addr: Option<IpAddr>, now_ms: i64) -> Result<(), u64> {
        self.logins.take(&addr, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_s: 2.0,
        burst: 3.0,
    };

    #[test]
    fn burst_then_sustained_rate() {
        let mut b = TokenBucket::full(RATE, 0);
        for _ in 0..3 {
            assert_eq!(b.take(RATE, 0), Ok(()));
        }
        assert_eq!(b.take(RATE, 0), Err(1));
        // Half a second refills one token at 2/s.
        assert_eq!(b.take(RATE, 499), Err(1));
        assert_eq!(b.take(RATE, 500), Ok(()));
        assert_eq!(b.take(RATE, 500), Err(1));
        // A long pause refills only up to the burst.
        for _ in 0..3 {
            assert_eq!(b.take(RATE, 60_000), Ok(()));
        }
        assert!(b.take(RATE, 60_000).is_err());
    }

    #[test]
    fn clock_stepping_back_gives_nothing() {
        let mut b = TokenBucket::full(RATE, 10_000);
        for _ in 0..3 {
            b.take(RATE, 10_000).expect("burst");
        }
        assert!(b.take(RATE, 0).is_err());
        assert!(b.take(RATE, 10_000).is_err());
    }

    #[test]
    fn slow_rate_reports_longer_wait() {
        let slow = Rate {
            per_s: 0.1,
            burst: 1.0,
        };
        let mut b = TokenBucket::full(slow, 0);
        b.take(slow, 0).expect("first");
        assert_eq!(b.take(slow, 0), Err(10));
    }

    #[test]
    fn keys_have_separate_buckets_and_full_ones_are_swept() {
        let buckets = Buckets::new(Rate {
            per_s: 1.0,
            burst: 1.0,
        });
        buckets.take(&"a".to_owned(), 0).expect("a");
        assert!(buckets.take(&"a".to_owned(), 0).is_err());
        buckets
            .take(&"b".to_owned(), 0)
            .expect("b has its own bucket");
        for i in 0..SWEEP_AT {
            let _ = buckets.take(&format!("k{i}"), 0);
        }
        // Much later every bucket is full again and the sweep drops them.
        buckets.take(&"new".to_owned(), 1_000_000).expect("new");
        let len = buckets.map.lock().map(|m| m.len()).unwrap_or(usize::MAX);
        assert!(len < 10, "swept to {len}");
    }
}
