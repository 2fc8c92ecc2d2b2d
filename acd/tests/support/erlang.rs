//! Erlang C (M/M/N) and Erlang A (M/M/N+M, Palm's model with exponential patience)
//! formulas, to check the engine's simulated service against queueing theory.

/// Erlang B blocking probability for `n` servers and `a` Erlangs (stable recursion).
pub fn erlang_b(n: u32, a: f64) -> f64 {
    (1..=n).fold(1.0, |b, k| a * b / (f64::from(k) + a * b))
}

/// Erlang C: probability that an arrival waits, `n` servers, `a` = λ/μ Erlangs (< n).
pub fn erlang_c(n: u32, a: f64) -> f64 {
    let b = erlang_b(n, a);
    let n = f64::from(n);
    n * b / (n - a * (1.0 - b))
}

/// Erlang C service level: P(wait ≤ t) with arrival rate `lambda`, service rate `mu`.
pub fn erlang_c_service_level(n: u32, lambda: f64, mu: f64, t: f64) -> f64 {
    let c = erlang_c(n, lambda / mu);
    1.0 - c * (-(f64::from(n) * mu - lambda) * t).exp()
}

/// Erlang C average speed of answer (mean wait).
pub fn erlang_c_asa(n: u32, lambda: f64, mu: f64) -> f64 {
    erlang_c(n, lambda / mu) / (f64::from(n) * mu - lambda)
}

/// Erlang A steady state, from the birth-death chain of the number of callers in the
/// system (births λ; deaths min(k, n)·μ + max(k − n, 0)·θ), truncated where the
/// probabilities vanish.
pub struct ErlangA {
    /// Probability an arrival abandons.
    pub abandon: f64,
    /// Mean time in queue of all arrivals (answered and abandoned), by Little's law.
    pub mean_wait: f64,
}

pub fn erlang_a(n: u32, lambda: f64, mu: f64, theta: f64) -> ErlangA {
    let max = n as usize + 2000;
    let mut p = vec![1.0f64; max + 1];
    for k in 1..=max {
        let servers = (k as f64).min(f64::from(n));
        let waiting = (k as f64 - f64::from(n)).max(0.0);
        p[k] = p[k - 1] * lambda / (servers * mu + waiting * theta);
    }
    let total: f64 = p.iter().sum();
    let mut lq = 0.0;
    for (k, pk) in p.iter().enumerate() {
        lq += (k as f64 - f64::from(n)).max(0.0) * pk / total;
    }
    ErlangA {
        abandon: theta * lq / lambda,
        mean_wait: lq / lambda,
    }
}
