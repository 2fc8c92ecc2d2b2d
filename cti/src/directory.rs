//! A short-lived cache of extension look-ups for authentication, so a
//! registration storm does not become a store-query storm.
//!
//! Known and unknown users are cached alike: a cached answer costs the same
//! whether the user exists or not, so response times do not tell an attacker
//! which extensions exist. An entry lives `ttl`; a change made with
//! `switchyard ext` is therefore seen within `ttl` (a new extension at once,
//! since an extension nobody tried is not cached). Pure: `now` is an input.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::store::Extension;

/// Cached results of `Store::extension`.
#[derive(Debug)]
pub(crate) struct Directory {
    entries: HashMap<String, (Option<Extension>, Instant)>,
    ttl: Duration,
    capacity: usize,
}

impl Directory {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Directory {
        Directory {
            entries: HashMap::new(),
            ttl,
            capacity,
        }
    }

    /// The cached answer for `user`, if fresh: `Some(None)` means "no such
    /// extension".
    pub(crate) fn get(&self, user: &str, now: Instant) -> Option<Option<&Extension>> {
        let (ext, at) = self.entries.get(user)?;
        (now.saturating_duration_since(*at) < self.ttl).then_some(ext.as_ref())
    }

    /// Remembers a store answer. When full, lapsed entries are dropped first,
    /// then everything (the next look-ups go to the store again).
    pub(crate) fn put(&mut self, user: &str, ext: Option<Extension>, now: Instant) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(user) {
            let ttl = self.ttl;
            self.entries
                .retain(|_, (_, at)| now.saturating_duration_since(*at) < ttl);
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
        }
        self.entries.insert(user.to_owned(), (ext, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(name: &str) -> Extension {
        Extension {
            ext: name.to_owned(),
            display_name: None,
            ha1_md5: "a".repeat(32),
            ha1_sha256: "b".repeat(64),
            realm: "r".to_owned(),
            created_at: 0,
            srtp: crate::store::SrtpPolicy::Optional,
        }
    }

    #[test]
    fn entries_expire_and_unknown_users_are_cached_too() {
        let t0 = Instant::now();
        let mut d = Directory::new(Duration::from_secs(5), 10);
        assert!(d.get("1001", t0).is_none());
        d.put("1001", Some(ext("1001")), t0);
        d.put("9999", None, t0);
        assert_eq!(
            d.get("1001", t0 + Duration::from_secs(4))
                .flatten()
                .map(|e| e.ext.as_str()),
            Some("1001")
        );
        assert_eq!(d.get("9999", t0 + Duration::from_secs(4)), Some(None));
        assert!(d.get("1001", t0 + Duration::from_secs(5)).is_none());
    }

    #[test]
    fn capacity_is_bounded() {
        let t0 = Instant::now();
        let mut d = Directory::new(Duration::from_secs(5), 3);
        for (i, u) in ["a", "b", "c"].iter().enumerate() {
            d.put(u, None, t0 + Duration::from_secs(i as u64 * 2));
        }
        // "a" has lapsed at t0+6 and makes room; nothing else is dropped.
        d.put("d", None, t0 + Duration::from_secs(6));
        assert!(d.get("a", t0 + Duration::from_secs(6)).is_none());
        assert!(d.get("c", t0 + Duration::from_secs(6)).is_some());
        // Full of fresh entries: cleared rather than grown.
        d.put("e", None, t0 + Duration::from_secs(6));
        assert_eq!(d.entries.len(), 1);
    }
}
