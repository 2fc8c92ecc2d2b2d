//! Per-leg quality from RTCP figures: R and MOS for every report, and a call summary.

use super::QualityError;
use super::emodel::{Codec, EModel, Rating, mos_from_r};

/// How a [`QualityMeter`] turns RTCP figures into E-model inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeterConfig {
    /// The leg's codec (sets `Ie` and `Bpl`).
    pub codec: Codec,
    /// Delay added to the network's, in ms: packetisation, coding and the playout floor
    /// (default 40: one 20 ms frame plus 20 ms).
    pub fixed_delay_ms: f64,
    /// Jitter-buffer delay assumed per ms of interarrival jitter when the report does not
    /// carry the buffer's own depth (default 2).
    pub jitter_factor: f64,
    /// Every other E-model parameter (default: G.107 Table 1).
    pub model: EModel,
}

impl MeterConfig {
    /// Defaults for `codec`.
    #[must_use]
    pub fn new(codec: Codec) -> Self {
        Self {
            codec,
            fixed_delay_ms: 40.0,
            jitter_factor: 2.0,
            model: EModel::default(),
        }
    }
}

/// The figures of one RTCP report about a leg's received stream.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LegReport {
    /// Fraction of packets lost since the last report, 0 to 1.
    pub loss_fraction: f64,
    /// Interarrival jitter, in ms.
    pub jitter_ms: f64,
    /// Round-trip time, in ms, when the report allows computing it (LSR/DLSR).
    pub rtt_ms: Option<f64>,
    /// Burst ratio of the loss (RTCP XR, or [`burst_ratio`]); random loss when absent.
    pub burst_ratio: Option<f64>,
    /// The local jitter buffer's depth, in ms, when the leg is played out here; replaces
    /// the jitter-based allowance.
    pub buffer_delay_ms: Option<f64>,
}

impl LegReport {
    /// A report from RTCP's 8-bit "fraction lost" (units of 1/256), the jitter in ms and
    /// the round-trip time if known.
    #[must_use]
    pub fn from_rtcp(fraction_lost: u8, jitter_ms: f64, rtt_ms: Option<f64>) -> Self {
        Self {
            loss_fraction: f64::from(fraction_lost) / 256.0,
            jitter_ms,
            rtt_ms,
            ..Self::default()
        }
    }
}

/// G.107's burst ratio: the mean length of the observed loss bursts over the mean length
/// random loss at the same rate would give (`1 / (1 − p)`). 1 when nothing is lost.
#[must_use]
pub fn burst_ratio(loss_fraction: f64, mean_burst_packets: f64) -> f64 {
    if loss_fraction <= 0.0 || loss_fraction >= 1.0 || mean_burst_packets <= 0.0 {
        return 1.0;
    }
    mean_burst_packets * (1.0 - loss_fraction)
}

/// The quality of a leg at one report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    /// Transmission rating factor.
    pub r: f64,
    /// Estimated MOS.
    pub mos: f64,
    /// The one-way mouth-to-ear delay assumed, ms.
    pub one_way_delay_ms: f64,
    /// The packet loss used, %.
    pub loss_percent: f64,
    /// All the E-model's terms.
    pub rating: Rating,
}

/// A leg's quality over the reports seen so far.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Reports observed.
    pub reports: u64,
    /// Mean R over the reports.
    pub mean_r: f64,
    /// MOS of the mean R.
    pub mean_mos: f64,
    /// The report with the lowest R.
    pub worst: Score,
}

/// Tracks one leg's quality from its RTCP reports.
///
/// The one-way delay is `RTT / 2 + fixed_delay_ms + jitter allowance`, where the
/// allowance is the report's `buffer_delay_ms` or else `jitter_factor × jitter_ms`. The
/// last known RTT is kept for reports that carry none (0 until the first). Loss is the
/// report's fraction lost, with its burst ratio.
#[derive(Clone, Debug)]
pub struct QualityMeter {
    cfg: MeterConfig,
    rtt_ms: Option<f64>,
    reports: u64,
    sum_r: f64,
    worst: Option<Score>,
    last: Option<Score>,
}

impl QualityMeter {
    /// A meter with no report yet.
    #[must_use]
    pub fn new(config: MeterConfig) -> Self {
        Self {
            cfg: config,
            rtt_ms: None,
            reports: 0,
            sum_r: 0.0,
            worst: None,
            last: None,
        }
    }

    /// Scores one report.
    ///
    /// # Errors
    ///
    /// [`QualityError::InvalidFigure`] when a figure is not finite or out of its range
    /// (loss outside 0..=1, a negative delay or jitter, a burst ratio not above 0); the
    /// meter is left as it was.
    pub fn observe(&mut self, report: &LegReport) -> Result<Score, QualityError> {
        validate(report)?;
        let rtt = report.rtt_ms.or(self.rtt_ms);
        let allowance = report
            .buffer_delay_ms
            .unwrap_or(self.cfg.jitter_factor * report.jitter_ms);
        let delay = rtt.unwrap_or(0.0) / 2.0 + self.cfg.fixed_delay_ms + allowance;
        let loss_percent = 100.0 * report.loss_fraction;
        let rating = self
            .cfg
            .model
            .with_codec(self.cfg.codec)
            .with_delay(delay)
            .with_loss(loss_percent, report.burst_ratio.unwrap_or(1.0))
            .rating();
        let score = Score {
            r: rating.r,
            mos: rating.mos,
            one_way_delay_ms: delay,
            loss_percent,
            rating,
        };
        self.rtt_ms = rtt;
        self.reports += 1;
        self.sum_r += score.r;
        if self.worst.is_none_or(|w| score.r < w.r) {
            self.worst = Some(score);
        }
        self.last = Some(score);
        Ok(score)
    }

    /// The score of the last report.
    #[must_use]
    pub fn last(&self) -> Option<Score> {
        self.last
    }

    /// Mean and worst over every report, `None` before the first.
    #[must_use]
    pub fn summary(&self) -> Option<Summary> {
        let worst = self.worst?;
        let mean_r = self.sum_r / self.reports as f64;
        Some(Summary {
            reports: self.reports,
            mean_r,
            mean_mos: mos_from_r(mean_r),
            worst,
        })
    }
}

fn validate(report: &LegReport) -> Result<(), QualityError> {
    let check = |figure: &'static str, value: f64, ok: bool| {
        if value.is_finite() && ok {
            Ok(())
        } else {
            Err(QualityError::InvalidFigure { figure, value })
        }
    };
    let loss = report.loss_fraction;
    check("loss fraction", loss, (0.0..=1.0).contains(&loss))?;
    check("jitter", report.jitter_ms, report.jitter_ms >= 0.0)?;
    if let Some(rtt) = report.rtt_ms {
        check("round-trip time", rtt, rtt >= 0.0)?;
    }
    if let Some(burst) = report.burst_ratio {
        check("burst ratio", burst, burst > 0.0)?;
    }
    if let Some(buffer) = report.buffer_delay_ms {
        check("buffer delay", buffer, buffer >= 0.0)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-3,
            "{actual} is not {expected}"
        );
    }

    #[test]
    fn a_perfect_leg_with_no_added_delay_scores_the_g107_default() {
        let mut m = QualityMeter::new(MeterConfig {
            fixed_delay_ms: 0.0,
            ..MeterConfig::new(Codec::G711Plc)
        });
        let s = m
            .observe(&LegReport::from_rtcp(0, 0.0, Some(0.0)))
            .expect("valid");
        close(s.r, 93.2062);
        close(s.mos, 4.4094);
    }

    #[test]
    fn rtcp_figures_map_to_delay_and_loss() {
        let mut m = QualityMeter::new(MeterConfig::new(Codec::G711Plc));
        let report = LegReport {
            loss_fraction: 0.02,
            jitter_ms: 10.0,
            rtt_ms: Some(200.0),
            ..LegReport::default()
        };
        let s = m.observe(&report).expect("valid");
        // T = 200/2 + 40 + 2 · 10 = 160 ms; from G.107 with T = Ta = 160, Tr = 320,
        // Ppl = 2 %, Bpl = 25.1: R = 82.1248, MOS = 4.1017.
        close(s.one_way_delay_ms, 160.0);
        close(s.loss_percent, 2.0);
        close(s.r, 82.1248);
        close(s.mos, 4.1017);
    }

    #[test]
    fn the_last_rtt_is_kept_and_the_buffer_depth_replaces_the_allowance() {
        let mut m = QualityMeter::new(MeterConfig::new(Codec::G711Plc));
        m.observe(&LegReport::from_rtcp(0, 0.0, Some(200.0)))
            .expect("valid");
        let report = LegReport {
            buffer_delay_ms: Some(20.0),
            ..LegReport::from_rtcp(13, 30.0, None)
        };
        let s = m.observe(&report).expect("valid");
        // T = 100 + 40 + 20 = 160 ms (jitter ignored), Ppl = 13/256 = 5.078 %: R = 73.1500.
        close(s.one_way_delay_ms, 160.0);
        close(s.r, 73.1500);
    }

    #[test]
    fn summary_gives_mean_and_worst() {
        let mut m = QualityMeter::new(MeterConfig::new(Codec::G711Plc));
        assert_eq!(m.summary(), None);
        let good = m
            .observe(&LegReport::from_rtcp(0, 0.0, Some(0.0)))
            .expect("valid");
        let bad = m
            .observe(&LegReport::from_rtcp(26, 0.0, None))
            .expect("valid");
        let s = m.summary().expect("two reports");
        assert_eq!(s.reports, 2);
        close(s.mean_r, (good.r + bad.r) / 2.0);
        assert_eq!(s.worst, bad);
        assert_eq!(m.last(), Some(bad));
    }

    #[test]
    fn bad_figures_are_refused_and_change_nothing() {
        let mut m = QualityMeter::new(MeterConfig::new(Codec::G711));
        let bad = [
            LegReport {
                loss_fraction: 1.5,
                ..LegReport::default()
            },
            LegReport {
                loss_fraction: f64::NAN,
                ..LegReport::default()
            },
            LegReport {
                jitter_ms: -1.0,
                ..LegReport::default()
            },
            LegReport {
                rtt_ms: Some(f64::INFINITY),
                ..LegReport::default()
            },
            LegReport {
                burst_ratio: Some(0.0),
                ..LegReport::default()
            },
            LegReport {
                buffer_delay_ms: Some(-3.0),
                ..LegReport::default()
            },
        ];
        for report in bad {
            assert!(
                matches!(m.observe(&report), Err(QualityError::InvalidFigure { .. })),
                "{report:?}"
            );
        }
        assert_eq!(m.summary(), None);
    }

    #[test]
    fn burst_ratio_from_mean_burst_length() {
        // Random loss at 10 % gives bursts of 1 / 0.9 = 1.11 packets on average.
        close(burst_ratio(0.1, 1.0 / 0.9), 1.0);
        close(burst_ratio(0.1, 3.0), 2.7);
        close(burst_ratio(0.0, 3.0), 1.0);
    }
}
