//! The running sentiment of one party in one call.
//!
//! Contract: feed each utterance's [`Sentiment`] in order with
//! [`Trend::observe`]; read the exponentially weighted average of the −5..+5
//! scores ([`Trend::average`]), the last [`TrendConfig::window`] scores, and
//! [`Trend::direction`]: the newer half of the window against the older half.
//! Pure state, no clock: "recent" means recent utterances, not seconds.

use std::collections::VecDeque;

use super::Sentiment;

/// How a [`Trend`] weighs history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendConfig {
    /// Weight of the newest utterance in the running average, 0..=1.
    pub alpha: f32,
    /// Scores kept for [`Trend::recent`] and [`Trend::direction`].
    pub window: usize,
    /// Change between the window's halves (in −5..+5 points) that counts as a direction.
    pub min_change: f32,
}

impl Default for TrendConfig {
    fn default() -> Self {
        Self {
            alpha: 0.3,
            window: 6,
            min_change: 1.0,
        }
    }
}

/// Which way a party's sentiment is moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Getting more positive.
    Improving,
    /// No clear change (or too few utterances).
    Steady,
    /// Getting more negative.
    Worsening,
}

/// Running sentiment of one party.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    config: TrendConfig,
    average: Option<f32>,
    recent: VecDeque<f32>,
    utterances: u64,
}

impl Trend {
    /// An empty trend.
    #[must_use]
    pub fn new(config: TrendConfig) -> Self {
        Self {
            config: TrendConfig {
                alpha: config.alpha.clamp(0.0, 1.0),
                window: config.window.max(1),
                min_change: config.min_change,
            },
            average: None,
            recent: VecDeque::new(),
            utterances: 0,
        }
    }

    /// Folds in the next utterance's sentiment.
    pub fn observe(&mut self, sentiment: Sentiment) {
        let score = sentiment.score;
        self.average = Some(match self.average {
            None => score,
            Some(avg) => avg + self.config.alpha * (score - avg),
        });
        if self.recent.len() == self.config.window {
            self.recent.pop_front();
        }
        self.recent.push_back(score);
        self.utterances += 1;
    }

    /// Exponentially weighted average score, −5..+5; `None` before any utterance.
    #[must_use]
    pub fn average(&self) -> Option<f32> {
        self.average
    }

    /// The last scores, oldest first.
    #[must_use]
    pub fn recent(&self) -> &VecDeque<f32> {
        &self.recent
    }

    /// Utterances observed.
    #[must_use]
    pub fn utterances(&self) -> u64 {
        self.utterances
    }

    /// Mean of the window's newer half against its older half.
    #[must_use]
    pub fn direction(&self) -> Direction {
        let n = self.recent.len();
        if n < 2 {
            return Direction::Steady;
        }
        let mean = |it: &mut dyn Iterator<Item = &f32>, len: usize| it.sum::<f32>() / len as f32;
        let older = mean(&mut self.recent.iter().take(n / 2), n / 2);
        let newer = mean(&mut self.recent.iter().skip(n / 2), n - n / 2);
        let change = newer - older;
        if change >= self.config.min_change {
            Direction::Improving
        } else if change <= -self.config.min_change {
            Direction::Worsening
        } else {
            Direction::Steady
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(score: f32) -> Sentiment {
        Sentiment::from_compound(f64::from(score) / 5.0)
    }

    #[test]
    fn average_is_exponentially_weighted() {
        let mut t = Trend::new(TrendConfig {
            alpha: 0.5,
            ..TrendConfig::default()
        });
        assert_eq!(t.average(), None);
        t.observe(s(4.0));
        assert_eq!(t.average(), Some(4.0));
        t.observe(s(-4.0));
        assert_eq!(t.average(), Some(0.0));
        t.observe(s(-4.0));
        assert_eq!(t.average(), Some(-2.0));
        assert_eq!(t.utterances(), 3);
    }

    #[test]
    fn window_keeps_the_last_scores() {
        let mut t = Trend::new(TrendConfig {
            window: 3,
            ..TrendConfig::default()
        });
        for x in [1.0, 2.0, 3.0, 4.0] {
            t.observe(s(x));
        }
        assert_eq!(
            t.recent().iter().copied().collect::<Vec<_>>(),
            vec![2.0, 3.0, 4.0]
        );
    }

    #[test]
    fn direction_compares_window_halves() {
        let cases: [(&[f32], Direction); 5] = [
            (&[], Direction::Steady),
            (&[-3.0], Direction::Steady),
            (&[2.0, 1.0, -1.0, -3.0], Direction::Worsening),
            (&[-3.0, -2.0, 0.5, 2.0], Direction::Improving),
            (&[1.0, -1.0, 1.0, -1.0], Direction::Steady),
        ];
        for (scores, want) in cases {
            let mut t = Trend::new(TrendConfig::default());
            for &x in scores {
                t.observe(s(x));
            }
            assert_eq!(t.direction(), want, "{scores:?}");
        }
    }

    #[test]
    fn degenerate_config_is_repaired() {
        let mut t = Trend::new(TrendConfig {
            alpha: 7.0,
            window: 0,
            min_change: 1.0,
        });
        t.observe(s(2.0));
        t.observe(s(-2.0));
        assert_eq!(t.average(), Some(-2.0));
        assert_eq!(t.recent().len(), 1);
    }
}
