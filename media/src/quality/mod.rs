//! Call quality: the ITU-T G.107 E-model (R factor) and its MOS estimate, per leg.
//!
//! # Contract
//!
//! [`EModel`] holds every input of G.107 (defaults from its Table 1) and computes
//! [`Rating`]: R and its terms `Ro`, `Is`, `Id`, `Ie,eff`, and the MOS of Annex B
//! ([`mos_from_r`]). [`Codec`] gives each codec's equipment impairment `Ie` and
//! packet-loss robustness `Bpl` (G.113 Appendix I values for G.711 with and without
//! concealment and G.729A; documented assumptions for Opus).
//!
//! [`QualityMeter`] is the per-leg view: feed it the figures of each RTCP report about
//! the leg's received stream ([`LegReport`]: fraction lost, jitter, round-trip time, and
//! optionally the burst ratio and the local jitter buffer's depth), and it returns a
//! [`Score`] (R, MOS, the delay and loss it assumed); [`QualityMeter::summary`] gives the
//! mean and worst for the call record. Pure computation: no clock, no I/O.
//!
//! # Scope
//!
//! Narrowband E-model only (R on the 0–100 scale; no G.107.1 wideband). The RTCP figures
//! are the caller's to extract; this module never parses packets.

mod emodel;
mod meter;

pub use emodel::{Codec, EModel, Rating, mos_from_r};
pub use meter::{LegReport, MeterConfig, QualityMeter, Score, Summary, burst_ratio};

/// Why a figure could not be scored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QualityError {
    /// A figure is not finite, or outside its range.
    #[error("invalid {figure}: {value}")]
    InvalidFigure {
        /// Which figure.
        figure: &'static str,
        /// Its value.
        value: f64,
    },
}
