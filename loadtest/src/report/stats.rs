//! Summaries of samples: count, mean, percentiles and histograms.

use serde::{Deserialize, Serialize};

/// A summary of one figure over many samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Smallest.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Stat {
    /// Summarises `samples` (nearest-rank percentiles); all zero when empty.
    /// Non-finite samples are ignored.
    pub fn of(samples: &[f64]) -> Stat {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Stat::default();
        }
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p / 100.0) * v.len() as f64).ceil() as usize;
            v[i.clamp(1, v.len()) - 1]
        };
        Stat {
            count: v.len() as u64,
            mean: v.iter().sum::<f64>() / v.len() as f64,
            min: v[0],
            p50: rank(50.0),
            p90: rank(90.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: v[v.len() - 1],
        }
    }
}

/// Counts of samples per bin: bin `i` holds `edges[i] <= x < edges[i + 1]`;
/// the last bin holds everything from the last edge up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Lower edges of the bins, increasing.
    pub edges: Vec<f64>,
    /// Samples per bin.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// Bins `samples` at the given lower edges; samples below the first
    /// edge go to the first bin.
    pub fn of(samples: &[f64], edges: Vec<f64>) -> Histogram {
        let mut counts = vec![0; edges.len()];
        for &x in samples.iter().filter(|x| x.is_finite()) {
            let i = edges.partition_point(|&e| e <= x).saturating_sub(1);
            if let Some(c) = counts.get_mut(i) {
                *c += 1;
            }
        }
        Histogram { edges, counts }
    }

    /// Edges for latencies: 1-2-5 steps from 0 to `max_ms`.
    pub fn latency_edges(max_ms: f64) -> Vec<f64> {
        let mut edges = vec![0.0];
        let mut decade = 1.0;
        while decade <= max_ms.max(1.0) {
            for step in [1.0, 2.0, 5.0] {
                edges.push(step * decade);
            }
            decade *= 10.0;
        }
        edges
    }

    /// Edges for MOS: 1.0 to 4.5 in steps of 0.1.
    pub fn mos_edges() -> Vec<f64> {
        (10..=45).map(|i| f64::from(i) / 10.0).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Stat::of(&v);
        assert_eq!((s.count, s.min, s.max), (100, 1.0, 100.0));
        assert_eq!((s.p50, s.p90, s.p99), (50.0, 90.0, 99.0));
        assert!((s.mean - 50.5).abs() < 1e-9);
        assert_eq!(Stat::of(&[]), Stat::default());
        assert_eq!(Stat::of(&[f64::NAN, 3.0]).count, 1);
    }

    #[test]
    fn histogram_bins_and_overflow() {
        let h = Histogram::of(&[-1.0, 0.5, 1.0, 1.5, 2.0, 99.0], vec![0.0, 1.0, 2.0]);
        assert_eq!(h.counts, vec![2, 2, 2]);
        let edges = Histogram::latency_edges(100.0);
        assert_eq!(
            edges,
            vec![0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]
        );
        assert_eq!(Histogram::mos_edges().len(), 36);
    }
}
