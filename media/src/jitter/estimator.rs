//! Transit-time statistics over a sliding window of packets: the minimum transit (the
//! baseline the depth is measured from) and a percentile of the excess over it (the
//! target depth before clamping).
//!
//! A packet's transit is its arrival time minus its RTP timestamp in time units; the
//! sender's clock offset cancels out since only differences are used.

/// The last `window` transit times, in microseconds.
#[derive(Debug)]
pub(super) struct Estimator {
    samples: Vec<i64>,
    next: usize,
    window: usize,
    percentile: usize,
    scratch: Vec<i64>,
    cached: Option<Spread>,
}

/// Minimum transit and the percentile excess over it, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Spread {
    pub(super) min: i64,
    pub(super) excess: i64,
}

impl Estimator {
    pub(super) fn new(window: u16, percentile: u8) -> Self {
        let window = usize::from(window).max(1);
        Self {
            samples: Vec::with_capacity(window),
            next: 0,
            window,
            percentile: usize::from(percentile).clamp(1, 100),
            scratch: Vec::with_capacity(window),
            cached: None,
        }
    }

    pub(super) fn clear(&mut self) {
        self.samples.clear();
        self.next = 0;
        self.cached = None;
    }

    pub(super) fn record(&mut self, transit_us: i64) {
        if self.samples.len() < self.window {
            self.samples.push(transit_us);
        } else if let Some(slot) = self.samples.get_mut(self.next) {
            *slot = transit_us;
        }
        self.next = (self.next + 1) % self.window;
        self.cached = None;
    }

    /// The statistics of the window, `None` before the first sample. Recomputed only
    /// after new samples: O(window) with a selection, not a sort.
    pub(super) fn spread(&mut self) -> Option<Spread> {
        if self.cached.is_none() && !self.samples.is_empty() {
            self.scratch.clear();
            self.scratch.extend_from_slice(&self.samples);
            let n = self.scratch.len();
            let rank = (n * self.percentile).div_ceil(100).clamp(1, n) - 1;
            let (_, at, _) = self.scratch.select_nth_unstable(rank);
            let at = *at;
            let min = self.samples.iter().copied().min().unwrap_or(at);
            self.cached = Some(Spread {
                min,
                excess: at.saturating_sub(min),
            });
        }
        self.cached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_of_excess_over_the_window_minimum() {
        let mut e = Estimator::new(100, 95);
        assert_eq!(e.spread(), None);
        for i in 0..100 {
            e.record(1_000 + i * 10);
        }
        // Excess values 0, 10, …, 990; the 95th of 100 sorted values is 940.
        assert_eq!(
            e.spread(),
            Some(Spread {
                min: 1_000,
                excess: 940
            })
        );
    }

    #[test]
    fn old_samples_leave_the_window() {
        let mut e = Estimator::new(4, 100);
        for t in [0, 500, 10, 10] {
            e.record(t);
        }
        assert_eq!(
            e.spread(),
            Some(Spread {
                min: 0,
                excess: 500
            })
        );
        for t in [20, 20] {
            e.record(t);
        }
        // 0 and 500 have been overwritten: the window is 10, 10, 20, 20.
        assert_eq!(
            e.spread(),
            Some(Spread {
                min: 10,
                excess: 10
            })
        );
    }
}
