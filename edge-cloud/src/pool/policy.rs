//! When to add or retire recognition workers: a pure policy.
//!
//! Contract: [`ScalePolicy::decide`] takes the time and a [`Load`] snapshot and
//! returns a [`Decision`]; it reads no clock and keeps only what hysteresis and
//! cool-downs need (when it last changed the pool, since when the pool has been
//! calm). Call it periodically (every second or so) with the same policy value.
//!
//! Rules, in order:
//! 1. Below `min_workers` → grow to it; above `max_workers` → shrink to it
//!    (no cool-down: configuration wins).
//! 2. *Pressure* — at least `grow_depth` jobs queued, or any job queued for
//!    `grow_lag` or longer — grows by up to `max_step` workers (one per queued
//!    job), once `grow_cooldown` has passed since the last change.
//! 3. *Calm* — nothing queued and at least one worker idle — held without a
//!    break for `shrink_after` retires one worker, once `shrink_cooldown` has
//!    passed since the last change; the calm period then starts over.
//! 4. Otherwise hold.
//!
//! The band between pressure and calm (a few jobs queued briefly, or every
//! worker busy with an empty queue) changes nothing: that is the hysteresis.
//! Growing is quick and shrinking slow, since a late transcript costs more
//! than an idle worker.

use std::time::{Duration, Instant};

use thiserror::Error;

/// Limits and thresholds of the scaling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Workers kept even when idle.
    pub min_workers: usize,
    /// Workers never exceeded.
    pub max_workers: usize,
    /// Queued jobs that are pressure by themselves.
    pub grow_depth: usize,
    /// Wait of the oldest queued job that is pressure.
    pub grow_lag: Duration,
    /// Continuous calm before a worker is retired.
    pub shrink_after: Duration,
    /// Time after any change before growing again.
    pub grow_cooldown: Duration,
    /// Time after any change before shrinking.
    pub shrink_cooldown: Duration,
    /// Most workers added by one decision.
    pub max_step: usize,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            min_workers: 1,
            max_workers: 4,
            grow_depth: 4,
            grow_lag: Duration::from_secs(2),
            shrink_after: Duration::from_secs(60),
            grow_cooldown: Duration::from_secs(10),
            shrink_cooldown: Duration::from_secs(30),
            max_step: 2,
        }
    }
}

/// A policy configuration that cannot work.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// `max_workers` is zero or below `min_workers`.
    #[error("worker limits min {min} / max {max} are inconsistent")]
    Limits {
        /// The configured minimum.
        min: usize,
        /// The configured maximum.
        max: usize,
    },
    /// `grow_depth` or `max_step` is zero.
    #[error("grow_depth and max_step must be at least 1")]
    ZeroStep,
}

impl PolicyConfig {
    /// Checks the limits make sense.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.max_workers == 0 || self.min_workers > self.max_workers {
            return Err(PolicyError::Limits {
                min: self.min_workers,
                max: self.max_workers,
            });
        }
        if self.grow_depth == 0 || self.max_step == 0 {
            return Err(PolicyError::ZeroStep);
        }
        Ok(())
    }
}

/// What the pool looks like right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Load {
    /// Jobs waiting for a worker.
    pub queue_depth: usize,
    /// How long the oldest waiting job has waited (zero when none waits).
    pub oldest_lag: Duration,
    /// Workers running (not counting those told to retire).
    pub workers: usize,
    /// Workers waiting for a job.
    pub idle_workers: usize,
}

/// What to do with the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start this many workers.
    Grow(usize),
    /// Retire this many workers (idle ones first).
    Shrink(usize),
    /// Leave the pool as it is.
    Hold,
}

/// The scaling policy's state: last change and start of the current calm.
#[derive(Debug, Clone)]
pub struct ScalePolicy {
    config: PolicyConfig,
    last_change: Option<Instant>,
    calm_since: Option<Instant>,
}

impl ScalePolicy {
    /// A policy that has never changed the pool.
    pub fn new(config: PolicyConfig) -> Result<Self, PolicyError> {
        config.validate()?;
        Ok(Self {
            config,
            last_change: None,
            calm_since: None,
        })
    }

    /// The policy's configuration.
    #[must_use]
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// Decides for the pool in state `load` at time `now`.
    #[must_use]
    pub fn decide(&mut self, now: Instant, load: Load) -> Decision {
        let c = self.config;
        let decision = self.decide_inner(now, load, &c);
        if decision != Decision::Hold {
            self.last_change = Some(now);
            self.calm_since = None;
        }
        decision
    }

    fn decide_inner(&mut self, now: Instant, load: Load, c: &PolicyConfig) -> Decision {
        if load.workers < c.min_workers {
            return Decision::Grow(c.min_workers - load.workers);
        }
        if load.workers > c.max_workers {
            return Decision::Shrink(load.workers - c.max_workers);
        }
        let pressure = load.queue_depth >= c.grow_depth
            || (load.queue_depth > 0 && load.oldest_lag >= c.grow_lag);
        let calm = load.queue_depth == 0 && load.idle_workers > 0;
        if calm {
            self.calm_since.get_or_insert(now);
        } else {
            self.calm_since = None;
        }
        if pressure && load.workers < c.max_workers && self.cooled(now, c.grow_cooldown) {
            let step = load
                .queue_depth
                .min(c.max_step)
                .min(c.max_workers - load.workers)
                .max(1);
            return Decision::Grow(step);
        }
        let calm_long_enough = self
            .calm_since
            .is_some_and(|since| now.saturating_duration_since(since) >= c.shrink_after);
        if calm_long_enough && load.workers > c.min_workers && self.cooled(now, c.shrink_cooldown) {
            return Decision::Shrink(1);
        }
        Decision::Hold
    }

    fn cooled(&self, now: Instant, cooldown: Duration) -> bool {
        self.last_change
            .is_none_or(|at| now.saturating_duration_since(at) >= cooldown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn config() -> PolicyConfig {
        PolicyConfig {
            min_workers: 1,
            max_workers: 4,
            grow_depth: 3,
            grow_lag: secs(2),
            shrink_after: secs(30),
            grow_cooldown: secs(5),
            shrink_cooldown: secs(20),
            max_step: 2,
        }
    }

    fn load(queue_depth: usize, lag: u64, workers: usize, idle: usize) -> Load {
        Load {
            queue_depth,
            oldest_lag: secs(lag),
            workers,
            idle_workers: idle,
        }
    }

    #[test]
    fn rejects_inconsistent_limits() {
        let bad = [
            PolicyConfig {
                min_workers: 3,
                max_workers: 2,
                ..config()
            },
            PolicyConfig {
                max_workers: 0,
                min_workers: 0,
                ..config()
            },
            PolicyConfig {
                grow_depth: 0,
                ..config()
            },
            PolicyConfig {
                max_step: 0,
                ..config()
            },
        ];
        for c in bad {
            assert!(ScalePolicy::new(c).is_err(), "{c:?}");
        }
    }

    #[test]
    fn limits_win_without_cool_down() {
        let t0 = Instant::now();
        let mut p = ScalePolicy::new(config()).unwrap();
        assert_eq!(p.decide(t0, load(0, 0, 0, 0)), Decision::Grow(1));
        assert_eq!(p.decide(t0, load(0, 0, 6, 6)), Decision::Shrink(2));
    }

    #[test]
    fn grows_on_depth_or_lag_and_respects_cool_down_and_max() {
        let t0 = Instant::now();
        let mut p = ScalePolicy::new(config()).unwrap();
        // Two queued for one second: inside the band, nothing happens.
        assert_eq!(p.decide(t0, load(2, 1, 1, 0)), Decision::Hold);
        // The same two have now waited 2 s: lag pressure, one step per queued job.
        assert_eq!(p.decide(t0 + secs(1), load(2, 2, 1, 0)), Decision::Grow(2));
        // Deep queue right after: cooling down.
        assert_eq!(p.decide(t0 + secs(3), load(9, 0, 3, 0)), Decision::Hold);
        // Cooled: grows, but only up to max_workers.
        assert_eq!(p.decide(t0 + secs(6), load(9, 5, 3, 0)), Decision::Grow(1));
        assert_eq!(p.decide(t0 + secs(20), load(9, 9, 4, 0)), Decision::Hold);
    }

    #[test]
    fn shrinks_only_after_sustained_calm_one_at_a_time() {
        let t0 = Instant::now();
        let mut p = ScalePolicy::new(config()).unwrap();
        assert_eq!(p.decide(t0, load(0, 0, 3, 2)), Decision::Hold);
        assert_eq!(p.decide(t0 + secs(29), load(0, 0, 3, 2)), Decision::Hold);
        assert_eq!(
            p.decide(t0 + secs(30), load(0, 0, 3, 2)),
            Decision::Shrink(1)
        );
        // Calm starts over at the next look (45 s) and must last 30 s again.
        assert_eq!(p.decide(t0 + secs(45), load(0, 0, 2, 1)), Decision::Hold);
        assert_eq!(p.decide(t0 + secs(74), load(0, 0, 2, 1)), Decision::Hold);
        assert_eq!(
            p.decide(t0 + secs(75), load(0, 0, 2, 1)),
            Decision::Shrink(1)
        );
        // Never below the minimum.
        assert_eq!(p.decide(t0 + secs(500), load(0, 0, 1, 1)), Decision::Hold);
    }

    #[test]
    fn a_busy_moment_restarts_the_calm_period() {
        let t0 = Instant::now();
        let mut p = ScalePolicy::new(config()).unwrap();
        assert_eq!(p.decide(t0, load(0, 0, 3, 3)), Decision::Hold);
        // All workers busy at 20 s (empty queue, nobody idle): not calm.
        assert_eq!(p.decide(t0 + secs(20), load(0, 0, 3, 0)), Decision::Hold);
        assert_eq!(p.decide(t0 + secs(35), load(0, 0, 3, 3)), Decision::Hold);
        assert_eq!(p.decide(t0 + secs(64), load(0, 0, 3, 3)), Decision::Hold);
        assert_eq!(
            p.decide(t0 + secs(65), load(0, 0, 3, 3)),
            Decision::Shrink(1)
        );
    }

    #[test]
    fn a_grow_postpones_shrinking() {
        let t0 = Instant::now();
        let mut p = ScalePolicy::new(config()).unwrap();
        assert_eq!(p.decide(t0, load(5, 0, 1, 0)), Decision::Grow(2));
        // The burst is gone at once, but the shrink cool-down (20 s) and a
        // fresh calm period (30 s) both have to pass.
        assert_eq!(p.decide(t0 + secs(1), load(0, 0, 3, 3)), Decision::Hold);
        assert_eq!(p.decide(t0 + secs(30), load(0, 0, 3, 3)), Decision::Hold);
        assert_eq!(
            p.decide(t0 + secs(31), load(0, 0, 3, 3)),
            Decision::Shrink(1)
        );
    }

    #[test]
    fn shrink_cool_down_binds_when_calm_is_short() {
        let quick = PolicyConfig {
            shrink_after: secs(5),
            ..config()
        };
        let t0 = Instant::now();
        let mut p = ScalePolicy::new(quick).unwrap();
        assert_eq!(p.decide(t0, load(4, 0, 2, 0)), Decision::Grow(2));
        assert_eq!(p.decide(t0 + secs(1), load(0, 0, 4, 4)), Decision::Hold);
        // Calm for 5 s already, but the last change was only 19 s ago.
        assert_eq!(p.decide(t0 + secs(19), load(0, 0, 4, 4)), Decision::Hold);
        assert_eq!(
            p.decide(t0 + secs(20), load(0, 0, 4, 4)),
            Decision::Shrink(1)
        );
    }

    #[test]
    fn oscillating_load_does_not_flap() {
        // Load alternating between a small queue and an idle worker every
        // second, for ten minutes: bounded number of changes.
        let t0 = Instant::now();
        let mut p = ScalePolicy::new(config()).unwrap();
        let mut workers = 2;
        let mut changes = 0;
        for s in 0..600 {
            let l = if s % 2 == 0 {
                load(1, 1, workers, 0)
            } else {
                load(0, 0, workers, 1)
            };
            match p.decide(t0 + secs(s), l) {
                Decision::Grow(n) => {
                    workers += n;
                    changes += 1;
                }
                Decision::Shrink(n) => {
                    workers -= n;
                    changes += 1;
                }
                Decision::Hold => {}
            }
        }
        assert_eq!((changes, workers), (0, 2));
    }
}
