//! Brute-force throttle: bans a source after repeated failed authentications.
//!
//! A source that fails `max_failures` times within a sliding `window` is
//! banned for `ban`: [`Throttle::check`] returns `false` for it and the caller
//! drops its requests silently (no response, which also spares the replies).
//! Other sources are unaffected. After the ban the source starts afresh.
//!
//! A source is an IPv4 address or an IPv6 /64 (one host commonly holds a whole
//! /64, so banning single IPv6 addresses would ban nothing). IPv4-mapped IPv6
//! addresses count as their IPv4 address.
//!
//! A success clears the source's failures. Many phones behind one NAT share a
//! source: their successes keep clearing the count, so an attacker behind the
//! same NAT gets `max_failures - 1` guesses per success of theirs; the
//! alternative, never clearing, would ban the whole site after a few typos.
//!
//! Memory is bounded by `capacity` sources. When a new source would exceed it,
//! sources with neither an active ban nor a failure inside the window are
//! dropped; if none is, the non-banned source whose last failure is oldest
//! goes, and only when every tracked source is banned does the ban that
//! started first. That sweep is O(capacity) and runs only when the map is
//! full. Time is an input: `now` is never read from a clock, and times that
//! go backwards never panic.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Limits of a [`Throttle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures within `window` that trigger a ban (at least 1).
    pub max_failures: usize,
    /// Length of the sliding window failures are counted in.
    pub window: Duration,
    /// How long a ban lasts.
    pub ban: Duration,
    /// Most sources tracked at once (at least 1).
    pub capacity: usize,
}

impl Default for ThrottleConfig {
    /// 5 failures in 60 s ban for 300 s; 10 000 sources tracked.
    fn default() -> Self {
        ThrottleConfig {
            max_failures: 5,
            window: Duration::from_secs(60),
            ban: Duration::from_secs(300),
            capacity: 10_000,
        }
    }
}

/// Failed-authentication counts and bans per source.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    sources: HashMap<Source, Record>,
}

/// An IPv4 address or an IPv6 /64 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    V4(u32),
    V6Prefix(u64),
}

impl From<IpAddr> for Source {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Source::V4(v4.to_bits()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source::V4(v4.to_bits()),
                None => Source::V6Prefix(prefix64(v6)),
            },
        }
    }
}

fn prefix64(v6: Ipv6Addr) -> u64 {
    let bits = v6.to_bits() >> 64;
    // The shift leaves at most 64 significant bits.
    u64::try_from(bits).unwrap_or(u64::MAX)
}

#[derive(Debug, Default)]
struct Record {
    /// Times of the recent failures, oldest first, at most `max_failures`.
    failures: VecDeque<Instant>,
    banned_at: Option<Instant>,
}

impl Throttle {
    /// An empty throttle.
    pub fn new(config: ThrottleConfig) -> Self {
        let config = ThrottleConfig {
            max_failures: config.max_failures.max(1),
            capacity: config.capacity.max(1),
            ..config
        };
        Throttle {
            config,
            sources: HashMap::new(),
        }
    }

    /// Whether a request from `ip` may be processed at `now`; `false` while
    /// the source is banned.
    #[must_use]
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> bool {
        let source = Source::from(ip);
        let Some(record) = self.sources.get(&source) else {
            return true;
        };
        match record.banned_at {
            Some(at) if self.ban_active(at, now) => false,
            Some(_) => {
                self.sources.remove(&source);
                true
            }
            None => true,
        }
    }

    /// Records a failed authentication (a rejected or malformed credential,
    /// not a request that carried none) from `ip` at `now`.
    pub fn record_failure(&mut self, ip: IpAddr, now: Instant) {
        let source = Source::from(ip);
        if !self.sources.contains_key(&source) {
            self.make_room(now);
        }
        let config = self.config;
        let record = self.sources.entry(source).or_default();
        if let Some(at) = record.banned_at {
            if now.saturating_duration_since(at) < config.ban {
                return;
            }
            *record = Record::default();
        }
        while record
            .failures
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= config.window)
        {
            record.failures.pop_front();
        }
        record.failures.push_back(now);
        if record.failures.len() >= config.max_failures {
            record.failures.clear();
            record.banned_at = Some(now);
        }
    }

    /// Records a successful authentication from `ip`: its failures are
    /// forgotten. An active ban is kept.
    pub fn record_success(&mut self, ip: IpAddr) {
        let source = Source::from(ip);
        if self
            .sources
            .get(&source)
            .is_some_and(|r| r.banned_at.is_none())
        {
            self.sources.remove(&source);
        }
    }

    /// How many sources are tracked (with recent failures or a ban).
    pub fn tracked_sources(&self) -> usize {
        self.sources.len()
    }

    fn ban_active(&self, banned_at: Instant, now: Instant) -> bool {
        now.saturating_duration_since(banned_at) < self.config.ban
    }

    /// Frees one place for a new source when the map is full.
    fn make_room(&mut self, now: Instant) {
        if self.sources.len() < self.config.capacity {
            return;
        }
        let config = self.config;
        self.sources.retain(|_, r| match r.banned_at {
            Some(at) => now.saturating_duration_since(at) < config.ban,
            None => r
                .failures
                .back()
                .is_some_and(|&t| now.saturating_duration_since(t) < config.window),
        });
        if self.sources.len() < self.config.capacity {
            return;
        }
        let victim = self
            .sources
            .iter()
            .filter_map(|(source, r)| r.eviction_rank().map(|rank| (rank, *source)))
            .min_by_key(|&(rank, _)| rank)
            .map(|(_, source)| source);
        if let Some(source) = victim {
            self.sources.remove(&source);
        }
    }
}

impl Record {
    /// Lower ranks are evicted first: non-banned before banned, older first.
    fn eviction_rank(&self) -> Option<(bool, Instant)> {
        match self.banned_at {
            Some(at) => Some((true, at)),
            None => self.failures.back().map(|&t| (false, t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn fail_n(t: &mut Throttle, from: IpAddr, at: Instant, n: usize) {
        for _ in 0..n {
            t.record_failure(from, at);
        }
    }

    #[test]
    fn five_failures_ban_for_five_minutes_then_unban() {
        let t0 = Instant::now(); // only anchor; everything else is arithmetic
        let mut t = Throttle::new(ThrottleConfig::default());
        let attacker = ip("192.0.2.7");
        let phone = ip("198.51.100.20");
        for i in 0..4 {
            t.record_failure(attacker, t0 + secs(i * 10));
            assert!(
                t.check(attacker, t0 + secs(i * 10 + 1)),
                "still allowed after {} failures",
                i + 1
            );
        }
        t.record_failure(attacker, t0 + secs(45));
        assert!(!t.check(attacker, t0 + secs(45)));
        assert!(t.check(phone, t0 + secs(46)), "other sources keep working");
        assert!(!t.check(attacker, t0 + secs(45 + 299)));
        assert!(t.check(attacker, t0 + secs(45 + 300)), "ban over");
        t.record_failure(attacker, t0 + secs(346));
        assert!(t.check(attacker, t0 + secs(347)), "counting starts afresh");
    }

    #[test]
    fn window_slides() {
        let t0 = Instant::now();
        let mut t = Throttle::new(ThrottleConfig::default());
        let src = ip("203.0.113.9");
        for s in [0, 15, 30, 45, 60] {
            t.record_failure(src, t0 + secs(s));
        }
        assert!(
            t.check(src, t0 + secs(60)),
            "the failure at 0 left the window at 60"
        );
        t.record_failure(src, t0 + secs(61));
        assert!(
            !t.check(src, t0 + secs(61)),
            "15, 30, 45, 60, 61 are within 60 s"
        );
    }

    #[test]
    fn success_clears_failures_but_not_a_ban() {
        let t0 = Instant::now();
        let mut t = Throttle::new(ThrottleConfig::default());
        let src = ip("203.0.113.10");
        fail_n(&mut t, src, t0, 4);
        t.record_success(src);
        assert_eq!(t.tracked_sources(), 0);
        fail_n(&mut t, src, t0 + secs(1), 4);
        assert!(t.check(src, t0 + secs(1)));
        t.record_failure(src, t0 + secs(2));
        t.record_success(src);
        assert!(!t.check(src, t0 + secs(3)));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_per_address() {
        let t0 = Instant::now();
        let mut t = Throttle::new(ThrottleConfig::default());
        fail_n(&mut t, ip("2001:db8:1:2::1"), t0, 3);
        fail_n(&mut t, ip("2001:db8:1:2:ffff::9"), t0, 2);
        assert!(!t.check(ip("2001:db8:1:2::42"), t0), "same /64");
        assert!(t.check(ip("2001:db8:1:3::1"), t0), "other /64");
        fail_n(&mut t, ip("::ffff:192.0.2.1"), t0, 5);
        assert!(!t.check(ip("192.0.2.1"), t0));
    }

    #[test]
    fn memory_is_bounded_and_bans_survive_pressure() {
        let t0 = Instant::now();
        let config = ThrottleConfig {
            capacity: 3,
            ..ThrottleConfig::default()
        };
        let mut t = Throttle::new(config);
        let banned = ip("192.0.2.1");
        fail_n(&mut t, banned, t0, 5);
        for i in 2..50u8 {
            t.record_failure(IpAddr::from([192, 0, 2, i]), t0 + secs(u64::from(i)));
            assert!(t.tracked_sources() <= 3);
        }
        assert!(
            !t.check(banned, t0 + secs(60)),
            "banned source kept over newer failures"
        );
        // Once the window has passed, stale sources are swept, not the ban.
        t.record_failure(ip("198.51.100.1"), t0 + secs(200));
        assert!(!t.check(banned, t0 + secs(200)));
        assert!(t.tracked_sources() <= 3);
    }

    #[test]
    fn time_going_backwards_never_panics() {
        let t0 = Instant::now() + secs(1000);
        let mut t = Throttle::new(ThrottleConfig::default());
        let src = ip("192.0.2.99");
        fail_n(&mut t, src, t0, 5);
        assert!(!t.check(src, t0 - secs(500)));
        t.record_failure(src, t0 - secs(900));
        assert!(t.check(src, t0 + secs(300)));
    }
}
