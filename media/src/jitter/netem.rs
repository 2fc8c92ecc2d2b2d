//! A network emulator for tests: turns send times into delivery times with seeded loss,
//! jitter, reordering, duplication and stalls, in the spirit of Linux netem. Deterministic:
//! the same seed and settings give the same deliveries.

use std::time::Duration;

/// xorshift64*: small, seeded, good enough to scatter test impairments.
pub(super) struct XorShift(u64);

impl XorShift {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `pct` percent.
    pub(super) fn chance(&mut self, pct: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 100.0 < pct
    }

    /// Uniform in `0..=max`.
    pub(super) fn upto(&mut self, max: Duration) -> Duration {
        let us = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(self.next_u64() % us.saturating_add(1))
    }
}

/// One packet handed to the receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Delivery {
    /// When it arrives, from the start of the run.
    pub(super) at: Duration,
    /// Which sent packet it is.
    pub(super) index: usize,
}

/// Impairments of the emulated link; all off by default except a 30 ms base delay.
#[derive(Clone, Debug)]
pub(super) struct Netem {
    pub(super) seed: u64,
    pub(super) base_delay: Duration,
    /// Extra delay, uniform in `0..=jitter`, for every packet.
    pub(super) jitter: Duration,
    pub(super) loss_pct: f64,
    /// Packets delayed by an extra `reorder_delay` range, overtaken by later ones.
    pub(super) reorder_pct: f64,
    pub(super) reorder_delay: (Duration, Duration),
    /// Packets delivered twice, the copy up to `duplicate_delay` after the original.
    pub(super) duplicate_pct: f64,
    pub(super) duplicate_delay: Duration,
    /// Intervals `(start, length)` during which the link delivers nothing; what would
    /// arrive then arrives at the end, in order.
    pub(super) stalls: Vec<(Duration, Duration)>,
    /// Intervals of send time `(start, length)` in which every packet is lost.
    pub(super) outages: Vec<(Duration, Duration)>,
}

impl Default for Netem {
    fn default() -> Self {
        Self {
            seed: 1,
            base_delay: Duration::from_millis(30),
            jitter: Duration::ZERO,
            loss_pct: 0.0,
            reorder_pct: 0.0,
            reorder_delay: (Duration::ZERO, Duration::ZERO),
            duplicate_pct: 0.0,
            duplicate_delay: Duration::ZERO,
            stalls: Vec::new(),
            outages: Vec::new(),
        }
    }
}

/// What the link did.
pub(super) struct Outcome {
    /// Deliveries in arrival order (ties in send order).
    pub(super) deliveries: Vec<Delivery>,
    /// Indices of the packets it lost.
    pub(super) lost: Vec<usize>,
    /// How many extra copies it delivered.
    pub(super) duplicates: usize,
}

impl Netem {
    /// Carries packets sent at `sent[i]` over the link.
    pub(super) fn carry(&self, sent: &[Duration]) -> Outcome {
        let mut rng = XorShift::new(self.seed);
        let mut out = Outcome {
            deliveries: Vec::new(),
            lost: Vec::new(),
            duplicates: 0,
        };
        for (index, &at) in sent.iter().enumerate() {
            let in_outage = self.outages.iter().any(|&(s, l)| at >= s && at < s + l);
            if in_outage || rng.chance(self.loss_pct) {
                out.lost.push(index);
                continue;
            }
            let mut arrive = at + self.base_delay + rng.upto(self.jitter);
            if rng.chance(self.reorder_pct) {
                let (lo, hi) = self.reorder_delay;
                arrive += lo + rng.upto(hi.saturating_sub(lo));
            }
            out.deliveries.push(Delivery {
                at: self.after_stalls(arrive),
                index,
            });
            if rng.chance(self.duplicate_pct) {
                let copy = arrive + rng.upto(self.duplicate_delay);
                out.deliveries.push(Delivery {
                    at: self.after_stalls(copy),
                    index,
                });
                out.duplicates += 1;
            }
        }
        out.deliveries.sort_by_key(|d| (d.at, d.index));
        out
    }

    fn after_stalls(&self, at: Duration) -> Duration {
        self.stalls
            .iter()
            .find(|&&(s, l)| at >= s && at < s + l)
            .map_or(at, |&(s, l)| s + l)
    }
}
