//! Random durations and the open-loop arrival process.
//!
//! [`Distribution`] draws hold times, answer delays, handle times and
//! wrap-up pauses. [`Arrivals`] schedules the arrivals of one workload
//! (calls or registrations) from its start time alone: arrival `k` is the
//! start plus the sum of `k` inter-arrival gaps (Poisson) or plus `k / rate`
//! (constant). Nothing here looks at how earlier calls fared, so a slow node
//! meets the offered load, not a politely reduced one.
//!
//! Both take the random source as an argument and never read a clock.

use std::time::{Duration, Instant};

use rand::Rng;

/// A distribution of durations.
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    /// Always the same value.
    Fixed(Duration),
    /// Exponential with the given mean, truncated at `max` when set.
    Exponential {
        /// The mean.
        mean: Duration,
        /// An upper bound on a draw, if any.
        max: Option<Duration>,
    },
    /// Uniform between `min` and `max`, both included.
    Uniform {
        /// The smallest value.
        min: Duration,
        /// The largest value.
        max: Duration,
    },
}

impl Distribution {
    /// One draw.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        match *self {
            Distribution::Fixed(d) => d,
            Distribution::Exponential { mean, max } => {
                let d = mean.mul_f64(exponential_unit(rng));
                max.map_or(d, |m| d.min(m))
            }
            Distribution::Uniform { min, max } => {
                let span = max.saturating_sub(min);
                min + span.mul_f64(rng.random::<f64>())
            }
        }
    }

    /// The largest value a draw can take, `None` when unbounded.
    pub fn upper_bound(&self) -> Option<Duration> {
        match *self {
            Distribution::Fixed(d) => Some(d),
            Distribution::Exponential { max, .. } => max,
            Distribution::Uniform { max, .. } => Some(max),
        }
    }

    /// The mean of the distribution (of the untruncated one for a capped
    /// exponential).
    pub fn mean(&self) -> Duration {
        match *self {
            Distribution::Fixed(d) => d,
            Distribution::Exponential { mean, .. } => mean,
            Distribution::Uniform { min, max } => (min + max) / 2,
        }
    }
}

/// A draw of the unit-mean exponential distribution (inverse transform).
fn exponential_unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // `random::<f64>()` lies in [0, 1): 1 - u lies in (0, 1], so ln is finite.
    let u: f64 = rng.random();
    -(1.0 - u).ln()
}

/// How arrivals are spread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrivalKind {
    /// A Poisson process: exponential gaps with mean `1 / rate`.
    Poisson,
    /// Evenly spaced, `1 / rate` apart.
    Constant,
}

/// The arrival times of one workload, counted from its start.
#[derive(Clone, Debug)]
pub struct Arrivals {
    kind: ArrivalKind,
    rate: f64,
    start: Instant,
    /// Arrivals handed out so far.
    issued: u64,
    total: Option<u64>,
    end: Option<Instant>,
    /// Seconds from `start` to the next arrival.
    offset: f64,
}

impl Arrivals {
    /// Arrivals at `rate` per second from `start`, stopping after `total`
    /// arrivals or at `start + duration`, whichever comes first. The first
    /// arrival is at `start` for a constant process and one gap after it
    /// for a Poisson one.
    pub fn new<R: Rng + ?Sized>(
        kind: ArrivalKind,
        rate: f64,
        start: Instant,
        total: Option<u64>,
        duration: Option<Duration>,
        rng: &mut R,
    ) -> Arrivals {
        let mut a = Arrivals {
            kind,
            rate: rate.max(f64::MIN_POSITIVE),
            start,
            issued: 0,
            total,
            end: duration.map(|d| start + d),
            offset: 0.0,
        };
        if kind == ArrivalKind::Poisson {
            a.offset = exponential_unit(rng) / a.rate;
        }
        a
    }

    /// When the next arrival is due; `None` once the workload is exhausted.
    pub fn peek(&self) -> Option<Instant> {
        if self.total.is_some_and(|t| self.issued >= t) {
            return None;
        }
        let at = self.start + Duration::from_secs_f64(self.offset.min(1e9));
        match self.end {
            Some(end) if at >= end => None,
            _ => Some(at),
        }
    }

    /// Consumes the arrival `peek` returned and draws the next one.
    pub fn advance<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.issued += 1;
        self.offset = match self.kind {
            ArrivalKind::Poisson => self.offset + exponential_unit(rng) / self.rate,
            // Computed from the index, not accumulated, so it never drifts.
            ArrivalKind::Constant => self.issued as f64 / self.rate,
        };
    }

    /// Arrivals handed out so far.
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// The offered rate, per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn drain(a: &mut Arrivals, rng: &mut StdRng) -> Vec<f64> {
        let start = a.start;
        let mut out = Vec::new();
        while let Some(at) = a.peek() {
            out.push((at - start).as_secs_f64());
            a.advance(rng);
        }
        out
    }

    #[test]
    fn poisson_rate_and_dispersion_match_the_model() {
        let mut rng = StdRng::seed_from_u64(7);
        let t0 = Instant::now();
        let rate = 50.0;
        let secs = 2000.0;
        let mut a = Arrivals::new(
            ArrivalKind::Poisson,
            rate,
            t0,
            None,
            Some(Duration::from_secs_f64(secs)),
            &mut rng,
        );
        let times = drain(&mut a, &mut rng);
        let observed = times.len() as f64 / secs;
        // Expected 100 000 arrivals, standard deviation ~316 (0.3 %).
        assert!((observed - rate).abs() / rate < 0.01, "rate {observed}");
        // Counts per second: Poisson means variance == mean.
        let mut counts = vec![0u32; secs as usize];
        for t in &times {
            counts[*t as usize] += 1;
        }
        let mean = counts.iter().map(|&c| f64::from(c)).sum::<f64>() / counts.len() as f64;
        let var = counts
            .iter()
            .map(|&c| (f64::from(c) - mean).powi(2))
            .sum::<f64>()
            / (counts.len() - 1) as f64;
        let dispersion = var / mean;
        assert!((0.9..1.1).contains(&dispersion), "dispersion {dispersion}");
        // Gaps: exponential, so the coefficient of variation is 1.
        let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        let gm = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let gsd = (gaps.iter().map(|g| (g - gm).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
        assert!((gsd / gm - 1.0).abs() < 0.02, "cv {}", gsd / gm);
    }

    #[test]
    fn same_seed_same_schedule() {
        let t0 = Instant::now();
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut a = Arrivals::new(ArrivalKind::Poisson, 20.0, t0, Some(50), None, &mut rng);
            drain(&mut a, &mut rng)
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        assert_eq!(run(3).len(), 50);
    }

    #[test]
    fn constant_arrivals_are_exact_and_bounded_by_duration() {
        let mut rng = StdRng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut a = Arrivals::new(
            ArrivalKind::Constant,
            20.0,
            t0,
            None,
            Some(Duration::from_secs(30)),
            &mut rng,
        );
        let times = drain(&mut a, &mut rng);
        assert_eq!(times.len(), 600);
        assert_eq!(times[0], 0.0);
        assert!((times[599] - 599.0 / 20.0).abs() < 1e-9);
    }

    #[test]
    fn total_caps_the_arrivals() {
        let mut rng = StdRng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut a = Arrivals::new(ArrivalKind::Constant, 1000.0, t0, Some(10), None, &mut rng);
        assert_eq!(drain(&mut a, &mut rng).len(), 10);
        assert_eq!(a.issued(), 10);
    }

    #[test]
    fn distributions_have_their_means_and_bounds() {
        let mut rng = StdRng::seed_from_u64(11);
        let n = 20_000;
        let mean_of = |d: &Distribution, rng: &mut StdRng| {
            (0..n).map(|_| d.sample(rng).as_secs_f64()).sum::<f64>() / f64::from(n)
        };
        let exp = Distribution::Exponential {
            mean: Duration::from_secs(10),
            max: None,
        };
        let m = mean_of(&exp, &mut rng);
        assert!((m - 10.0).abs() < 0.3, "exponential mean {m}");
        let uni = Distribution::Uniform {
            min: Duration::from_secs(1),
            max: Duration::from_secs(3),
        };
        let m = mean_of(&uni, &mut rng);
        assert!((m - 2.0).abs() < 0.03, "uniform mean {m}");
        for _ in 0..1000 {
            let d = uni.sample(&mut rng);
            assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(3));
        }
        let capped = Distribution::Exponential {
            mean: Duration::from_secs(10),
            max: Some(Duration::from_secs(5)),
        };
        assert!((0..1000).all(|_| capped.sample(&mut rng) <= Duration::from_secs(5)));
        let fixed = Distribution::Fixed(Duration::from_millis(1500));
        assert_eq!(fixed.sample(&mut rng), Duration::from_millis(1500));
    }
}
