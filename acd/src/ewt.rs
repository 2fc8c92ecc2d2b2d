//! Estimated wait time: a queueing model of the agents who can take one call.
//!
//! The estimate for a caller with `k` callers ahead is the expected time of a small
//! Markov chain: while `m` callers are ahead, the queue moves when one of the eligible
//! agents frees up (rate `μ`) or a caller ahead gives up (rate `m·θ`); with nobody
//! ahead, the caller waits for the next agent to free up.
//!
//! ```text
//! EWT = 1/(μ₀ + k·θ) + Σ_{m=k-1}^{0} 1/(μ + m·θ)        (k ≥ 1;  EWT = 1/μ₀ for k = 0)
//! ```
//!
//! - `μ = n / s`: `n` eligible agents at work (ready, logged in, in any activity), `s`
//!   the queue's measured mean handle time plus its wrap-up.
//! - `μ₀ = Σ 1/rᵢ`: the rate at which the *first* agent frees up, from each agent's
//!   expected remaining time `rᵢ` (remaining wrap-up or cooldown; for a call in progress
//!   the mean residual of the measured handle-time distribution, see
//!   [`HandleModel::residual`]; a full cycle for an agent ringing for another call).
//! - `θ`: the queue's measured abandonment hazard, abandoned calls per second of
//!   waiting (the maximum-likelihood rate for exponential patience).
//!
//! With exponential handle times and no abandonment this is the exact M/M/n waiting
//! time given the position; the simulation test measures its error.

use std::time::Duration;

/// Running estimate of a queue's handle-time distribution (mean and spread).
#[derive(Clone, Debug)]
pub(crate) struct HandleModel {
    mean: f64,
    mean_sq: f64,
    samples: u64,
}

/// Samples after which the running mean turns into an exponentially weighted one.
const WINDOW: f64 = 500.0;

impl HandleModel {
    /// A model that assumes `prior` as mean (exponential) until calls are measured.
    pub(crate) fn new(prior: Duration) -> Self {
        let m = prior.as_secs_f64().max(1.0);
        Self {
            mean: m,
            mean_sq: 2.0 * m * m,
            samples: 0,
        }
    }

    /// Records one call's talk time.
    pub(crate) fn observe(&mut self, talk: Duration) {
        self.samples += 1;
        let x = talk.as_secs_f64();
        // u64 sample counts are exact in f64 far past any real traffic.
        let alpha = 1.0 / (self.samples as f64).min(WINDOW);
        self.mean += alpha * (x - self.mean);
        self.mean_sq += alpha * (x * x - self.mean_sq);
    }

    /// Mean talk time in seconds.
    pub(crate) fn mean(&self) -> f64 {
        self.mean
    }

    /// Squared coefficient of variation, clamped to 0..=1 (1 = exponential).
    fn cv2(&self) -> f64 {
        if self.samples < 20 {
            return 1.0;
        }
        let var = (self.mean_sq - self.mean * self.mean).max(0.0);
        (var / (self.mean * self.mean).max(1e-9)).clamp(0.0, 1.0)
    }

    /// Expected remaining talk time of a call that has lasted `elapsed` seconds.
    ///
    /// Interpolates by the spread: memoryless (`mean`) for exponential handle times,
    /// `mean − elapsed` for constant ones; never below a tenth of the mean.
    pub(crate) fn residual(&self, elapsed: f64) -> f64 {
        let c = self.cv2();
        let fixed = (self.mean - elapsed).max(0.1 * self.mean);
        c * self.mean + (1.0 - c) * fixed
    }
}

/// Abandonment hazard of a queue: abandons per second of waiting.
#[derive(Clone, Debug, Default)]
pub(crate) struct AbandonModel {
    abandons: f64,
    waited: f64,
}

impl AbandonModel {
    /// A caller left the waiting line after `wait`, by abandoning or not.
    pub(crate) fn observe(&mut self, wait: Duration, abandoned: bool) {
        // Exponential forgetting keeps the estimate current over a day's changes.
        const KEEP: f64 = 0.999;
        self.abandons = self.abandons * KEEP + f64::from(u8::from(abandoned));
        self.waited = self.waited * KEEP + wait.as_secs_f64();
    }

    /// θ in 1/s.
    pub(crate) fn hazard(&self) -> f64 {
        if self.waited > 0.0 {
            self.abandons / self.waited
        } else {
            0.0
        }
    }
}

/// The expected wait of a caller with `ahead` callers before them, served by agents
/// whose expected times until free are `residuals` (seconds) and whose mean cycle
/// (handle plus wrap-up) is `cycle` seconds, with abandonment hazard `theta`.
/// `None` when no agent is at work.
pub(crate) fn estimate(ahead: u32, residuals: &[f64], cycle: f64, theta: f64) -> Option<Duration> {
    if residuals.is_empty() {
        return None;
    }
    let n = residuals.len() as f64;
    let mu = n / cycle.max(1e-3);
    let first = if residuals.iter().any(|r| *r <= 0.0) {
        f64::INFINITY
    } else {
        residuals.iter().map(|r| 1.0 / r).sum::<f64>()
    };
    let k = f64::from(ahead);
    let mut t = 1.0 / (first + k * theta);
    for m in 0..ahead {
        t += 1.0 / (mu + f64::from(m) * theta);
    }
    Duration::try_from_secs_f64(t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memoryless_agents_give_position_times_cycle_over_n() {
        // 4 agents, 100 s cycle, memoryless residuals: (k+1)·s/n.
        let ewt = estimate(3, &[100.0; 4], 100.0, 0.0).expect("agents at work");
        assert!((ewt.as_secs_f64() - 100.0).abs() < 1e-9);
    }

    #[test]
    fn abandonment_ahead_shortens_the_wait() {
        let patient = estimate(10, &[60.0; 2], 60.0, 0.0).expect("agents");
        let impatient = estimate(10, &[60.0; 2], 60.0, 0.01).expect("agents");
        assert!(impatient < patient);
    }

    #[test]
    fn an_agent_about_to_free_up_dominates_the_first_step() {
        let soon = estimate(0, &[5.0, 100.0], 100.0, 0.0).expect("agents");
        assert!(soon.as_secs_f64() < 5.0);
        assert_eq!(estimate(0, &[], 100.0, 0.0), None);
    }

    #[test]
    fn residual_follows_the_spread() {
        let mut constant = HandleModel::new(Duration::from_secs(100));
        for _ in 0..100 {
            constant.observe(Duration::from_secs(100));
        }
        assert!((constant.residual(70.0) - 30.0).abs() < 1.0);
        let fresh = HandleModel::new(Duration::from_secs(100));
        assert!((fresh.residual(70.0) - 100.0).abs() < 1e-9);
    }
}
