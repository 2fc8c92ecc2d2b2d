//! The ITU-T G.107 E-model: the transmission rating factor R of a narrowband connection,
//! and the MOS estimate of G.107 Annex B.
//!
//! `R = Ro − Is − Id − Ie,eff + A` (G.107 §7.1), every term computed from the
//! recommendation's formulas:
//!
//! - `Ro`, the basic signal-to-noise ratio, from the loudness ratings and noise powers
//!   (`SLR`, `RLR`, `Ds`, `Dr`, `Ps`, `Pr`, `Nc`, `Nfor`, `LSTR`);
//! - `Is`, the simultaneous impairments: loudness `Iolr`, sidetone `Ist`, quantisation `Iq`;
//! - `Id`, the delay impairments: talker echo `Idte`, listener echo `Idle`, absolute delay
//!   `Idd`;
//! - `Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl / BurstR + Bpl)`, the equipment impairment under
//!   packet loss.
//!
//! Every parameter defaults to G.107's Table 1 value; with all of them `R = 93.2`.
//!
//! Not modelled: the STMR-dependent variants of G.107 §7.4 (for sidetone masking ratings
//! below 9 dB or above 20 dB), the wideband extension (G.107.1) and `Idd`'s `mT`/`sT`
//! parameters (their defaults, 100 ms and 1, are built in).

/// A codec's equipment impairment `Ie` and packet-loss robustness `Bpl`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Codec {
    /// G.711 with no concealment: `Ie = 0`, `Bpl = 4.3` (ITU-T G.113 Appendix I).
    G711,
    /// G.711 with G.711 Appendix I concealment (as `G711Plc` does): `Ie = 0`, `Bpl = 25.1`
    /// (ITU-T G.113 Appendix I).
    G711Plc,
    /// G.729 Annex A: `Ie = 11`, `Bpl = 19.0` (ITU-T G.113 Appendix I).
    G729a,
    /// Opus, judged on the narrowband scale: `Ie = 0`, `Bpl = 20.0`. An assumption, not an
    /// ITU-T value (G.113 lists none for Opus): at the bit rates used for voice (≥ 16
    /// kbit/s) Opus is at least as clean as G.711 on this scale, and its concealment is
    /// taken as a little less robust than G.711 Appendix I without in-band FEC. Use
    /// [`Codec::Custom`] for measured values.
    Opus,
    /// Values from elsewhere.
    Custom {
        /// Equipment impairment factor.
        ie: f64,
        /// Packet-loss robustness factor.
        bpl: f64,
    },
}

impl Codec {
    /// Equipment impairment factor `Ie`.
    #[must_use]
    pub fn ie(self) -> f64 {
        match self {
            Codec::G711 | Codec::G711Plc | Codec::Opus => 0.0,
            Codec::G729a => 11.0,
            Codec::Custom { ie, .. } => ie,
        }
    }

    /// Packet-loss robustness factor `Bpl`.
    #[must_use]
    pub fn bpl(self) -> f64 {
        match self {
            Codec::G711 => 4.3,
            Codec::G711Plc => 25.1,
            Codec::G729a => 19.0,
            Codec::Opus => 20.0,
            Codec::Custom { bpl, .. } => bpl,
        }
    }
}

/// Every input of the E-model, in G.107's units (dB, dBm0, dBm0p, dB(A), ms, %).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EModel {
    /// Send loudness rating, dB.
    pub slr: f64,
    /// Receive loudness rating, dB.
    pub rlr: f64,
    /// Sidetone masking rating, dB.
    pub stmr: f64,
    /// Listener sidetone rating, dB.
    pub lstr: f64,
    /// D-value of the telephone, send side.
    pub ds: f64,
    /// D-value of the telephone, receive side.
    pub dr: f64,
    /// Talker echo loudness rating, dB.
    pub telr: f64,
    /// Weighted echo path loss, dB.
    pub wepl: f64,
    /// Mean one-way delay of the echo path `T`, ms.
    pub t: f64,
    /// Round-trip delay in a 4-wire loop `Tr`, ms.
    pub tr: f64,
    /// Absolute one-way delay in echo-free connections `Ta`, ms.
    pub ta: f64,
    /// Number of quantisation distortion units.
    pub qdu: f64,
    /// Equipment impairment factor.
    pub ie: f64,
    /// Packet-loss robustness factor.
    pub bpl: f64,
    /// Random packet-loss probability `Ppl`, %.
    pub ppl: f64,
    /// Burst ratio (1 for random loss).
    pub burst_r: f64,
    /// Circuit noise referred to the 0 dBr point, dBm0p.
    pub nc: f64,
    /// Noise floor at the receive side, dBmp.
    pub nfor: f64,
    /// Room noise at the send side, dB(A).
    pub ps: f64,
    /// Room noise at the receive side, dB(A).
    pub pr: f64,
    /// Advantage factor.
    pub a: f64,
}

impl Default for EModel {
    /// G.107 Table 1 defaults.
    fn default() -> Self {
        Self {
            slr: 8.0,
            rlr: 2.0,
            stmr: 15.0,
            lstr: 18.0,
            ds: 3.0,
            dr: 3.0,
            telr: 65.0,
            wepl: 110.0,
            t: 0.0,
            tr: 0.0,
            ta: 0.0,
            qdu: 1.0,
            ie: 0.0,
            bpl: 4.3,
            ppl: 0.0,
            burst_r: 1.0,
            nc: -70.0,
            nfor: -64.0,
            ps: 35.0,
            pr: 35.0,
            a: 0.0,
        }
    }
}

/// R and its terms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rating {
    /// Transmission rating factor.
    pub r: f64,
    /// MOS (conversational quality, estimated) from `r` by G.107 Annex B.
    pub mos: f64,
    /// Basic signal-to-noise ratio.
    pub ro: f64,
    /// Simultaneous impairment factor.
    pub is: f64,
    /// Delay impairment factor.
    pub id: f64,
    /// Effective equipment impairment factor.
    pub ie_eff: f64,
}

impl EModel {
    /// Sets `Ie` and `Bpl` for `codec`.
    #[must_use]
    pub fn with_codec(mut self, codec: Codec) -> Self {
        self.ie = codec.ie();
        self.bpl = codec.bpl();
        self
    }

    /// Sets the delays for a VoIP path with one-way mouth-to-ear delay `ms`: `T = Ta = ms`
    /// and `Tr = 2 · ms`.
    #[must_use]
    pub fn with_delay(mut self, ms: f64) -> Self {
        self.t = ms;
        self.ta = ms;
        self.tr = 2.0 * ms;
        self
    }

    /// Sets the packet loss, in percent, and its burst ratio.
    #[must_use]
    pub fn with_loss(mut self, percent: f64, burst_ratio: f64) -> Self {
        self.ppl = percent;
        self.burst_r = burst_ratio;
        self
    }

    /// Computes R and its terms.
    #[must_use]
    pub fn rating(&self) -> Rating {
        let no = self.noise();
        let ro = 15.0 - 1.5 * (self.slr + no);
        let is = self.simultaneous(no, ro);
        let id = self.talker_echo(no) + self.listener_echo(ro) + self.absolute_delay();
        let ie_eff = self.ie_eff();
        let r = ro - is - id - ie_eff + self.a;
        Rating {
            r,
            mos: mos_from_r(r),
            ro,
            is,
            id,
            ie_eff,
        }
    }

    /// Total noise `No` (dBm0p): circuit, room noise at both sides, receive noise floor.
    fn noise(&self) -> f64 {
        let olr = self.slr + self.rlr;
        let nos =
            self.ps - self.slr - self.ds - 100.0 + 0.004 * (self.ps - olr - self.ds - 14.0).powi(2);
        let pre = self.pr + 10.0 * log10(1.0 + exp10((10.0 - self.lstr) / 10.0));
        let nor = self.rlr - 121.0 + pre + 0.008 * (pre - 35.0).powi(2);
        let nfo = self.nfor + self.rlr;
        10.0 * log10(
            exp10(self.nc / 10.0) + exp10(nos / 10.0) + exp10(nor / 10.0) + exp10(nfo / 10.0),
        )
    }

    /// `Is = Iolr + Ist + Iq`.
    fn simultaneous(&self, no: f64, ro: f64) -> f64 {
        let olr = self.slr + self.rlr;
        let xolr = olr + 0.2 * (64.0 + no - self.rlr);
        let iolr = 20.0 * ((1.0 + (xolr / 8.0).powi(8)).powf(1.0 / 8.0) - xolr / 8.0);
        let stmro = self.stmr_o();
        let ist = 12.0 * (1.0 + ((stmro - 13.0) / 6.0).powi(8)).powf(1.0 / 8.0)
            - 28.0 * (1.0 + ((stmro + 1.0) / 19.4).powi(35)).powf(1.0 / 35.0)
            - 13.0 * (1.0 + ((stmro - 3.0) / 33.0).powi(13)).powf(1.0 / 13.0)
            + 29.0;
        let q = 37.0 - 15.0 * log10(self.qdu);
        let g = 1.07 + 0.258 * q + 0.0602 * q * q;
        let y = (ro - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0;
        let z = 46.0 / 30.0 - g / 40.0;
        let iq = 15.0 * log10(1.0 + exp10(y) + exp10(z));
        iolr + ist + iq
    }

    /// Sidetone masking rating with talker echo, `STMRo`.
    fn stmr_o(&self) -> f64 {
        -10.0 * log10(exp10(-self.stmr / 10.0) + (-self.t / 4.0).exp() * exp10(-self.telr / 10.0))
    }

    /// Talker echo impairment `Idte`.
    fn talker_echo(&self, no: f64) -> f64 {
        let t = self.t;
        let terv = self.telr - 40.0 * log10((1.0 + t / 10.0) / (1.0 + t / 150.0))
            + 6.0 * (-0.3 * t * t).exp();
        let roe = -1.5 * (no - self.rlr);
        let re = 80.0 + 2.5 * (terv - 14.0);
        let d = roe - re;
        (d / 2.0 + (d * d / 4.0 + 100.0).sqrt() - 1.0) * (1.0 - (-t).exp())
    }

    /// Listener echo impairment `Idle`.
    fn listener_echo(&self, ro: f64) -> f64 {
        let rle = 10.5 * (self.wepl + 7.0) * (self.tr + 1.0).powf(-0.25);
        let d = ro - rle;
        d / 2.0 + (d * d / 4.0 + 169.0).sqrt()
    }

    /// Absolute delay impairment `Idd`: none up to 100 ms.
    fn absolute_delay(&self) -> f64 {
        if self.ta <= 100.0 {
            return 0.0;
        }
        let x = log10(self.ta / 100.0) / log10(2.0);
        25.0 * ((1.0 + x.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0)
            + 2.0)
    }

    /// `Ie,eff`; no loss leaves `Ie` as it is.
    fn ie_eff(&self) -> f64 {
        if self.ppl <= 0.0 {
            return self.ie;
        }
        self.ie + (95.0 - self.ie) * self.ppl / (self.ppl / self.burst_r + self.bpl)
    }
}

/// MOS from R, G.107 Annex B: 1 below R = 0, 4.5 above R = 100, and
/// `1 + 0.035 R + R (R − 60)(100 − R) · 7·10⁻⁶` between. The polynomial dips below 1 for
/// R under about 6.5; those values are raised to 1, the bottom of the MOS scale.
#[must_use]
pub fn mos_from_r(r: f64) -> f64 {
    if r.is_nan() || r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6).max(1.0)
    }
}

fn log10(x: f64) -> f64 {
    x.log10()
}

fn exp10(x: f64) -> f64 {
    10f64.powf(x)
}

#[cfg(test)]
mod tests {
    //! Reference values: every expected figure below was computed by hand from G.107's
    //! formulas (§7.2–7.5, Annex B), independently of this code, with Table 1 defaults
    //! except where a test says otherwise.

    use super::*;

    fn close(actual: f64, expected: f64, tol: f64) {
        assert!(
            (actual - expected).abs() <= tol,
            "{actual} is not {expected} ± {tol}"
        );
    }

    #[test]
    fn all_defaults_give_r_93_2() {
        // No = −61.18 dBm0p, Ro = 15 − 1.5 (8 − 61.18) = 94.77;
        // Is = Iolr 0.440 + Ist −0.001 + Iq 0.974 = 1.414;
        // Id = Idte 0 (T = 0) + Idle 0.149 (Tr = 0: Rle = 1228.5) + Idd 0 = 0.149;
        // R = 94.769 − 1.414 − 0.149 − 0 + 0 = 93.206; MOS = 4.409.
        let r = EModel::default().rating();
        close(r.ro, 94.7688, 1e-3);
        close(r.is, 1.4136, 1e-3);
        close(r.id, 0.1490, 1e-3);
        close(r.ie_eff, 0.0, 1e-12);
        close(r.r, 93.2062, 1e-3);
        close(r.mos, 4.4094, 1e-3);
    }

    #[test]
    fn g711_with_plc_at_2_percent_random_loss() {
        // Ie,eff = 0 + 95 · 2 / (2/1 + 25.1) = 190 / 27.1 = 7.0111; R = 93.2062 − 7.0111.
        let r = EModel::default()
            .with_codec(Codec::G711Plc)
            .with_loss(2.0, 1.0)
            .rating();
        close(r.ie_eff, 7.0111, 1e-3);
        close(r.r, 86.1951, 1e-3);
        close(r.mos, 4.2350, 1e-3);
    }

    #[test]
    fn g711_without_plc_at_2_percent_loss_is_much_worse() {
        // Ie,eff = 190 / (2 + 4.3) = 30.1587; R = 63.0475.
        let r = EModel::default()
            .with_codec(Codec::G711)
            .with_loss(2.0, 1.0)
            .rating();
        close(r.ie_eff, 30.1587, 1e-3);
        close(r.r, 63.0475, 1e-3);
    }

    #[test]
    fn bursty_loss_hurts_more_than_random() {
        // BurstR = 2: Ie,eff = 190 / (2/2 + 25.1) = 7.2797; R = 85.9265.
        let r = EModel::default()
            .with_codec(Codec::G711Plc)
            .with_loss(2.0, 2.0)
            .rating();
        close(r.ie_eff, 7.2797, 1e-3);
        close(r.r, 85.9265, 1e-3);
    }

    #[test]
    fn one_way_delay_150_ms() {
        // T = Ta = 150, Tr = 300: TERV = 65 − 40 log10(16 / 2) = 28.876, Re = 117.19,
        // Roe = 94.77 → Idte = 2.8118; Rle = 10.5 · 117 · 301^−0.25 = 294.94 → Idle = 0.8407;
        // X = log2(1.5) = 0.585 → Idd = 0.1635. R = 93.2062 − 3.8160 + 0.149 = 89.5391.
        let r = EModel::default().with_delay(150.0).rating();
        close(r.id, 2.8118 + 0.8407 + 0.1635, 1e-3);
        close(r.r, 89.5391, 1e-3);
        close(r.mos, 4.3275, 1e-3);
    }

    #[test]
    fn one_way_delay_300_ms() {
        // Idte = 4.8339, Idle = 1.0943 (Tr = 600: Rle = 248.12), Idd = 14.7607 (X = log2 3) → R = 72.6664.
        let r = EModel::default().with_delay(300.0).rating();
        close(r.id, 4.8339 + 1.0943 + 14.7607, 1e-3);
        close(r.r, 72.6664, 1e-3);
        close(r.mos, 3.7194, 1e-3);
    }

    #[test]
    fn mos_follows_annex_b() {
        assert_eq!(mos_from_r(-5.0), 1.0);
        assert_eq!(mos_from_r(f64::NAN), 1.0);
        assert_eq!(mos_from_r(120.0), 4.5);
        // 1 + 1.75 + 50 · (−10) · 50 · 7e−6 = 2.575.
        close(mos_from_r(50.0), 2.575, 1e-9);
        // 1 + 2.8 + 80 · 20 · 20 · 7e−6 = 4.024.
        close(mos_from_r(80.0), 4.024, 1e-9);
        // The polynomial gives 1 + 0.105 − 3 · 57 · 97 · 7e−6 = 0.989 at R = 3: raised to 1.
        assert_eq!(mos_from_r(3.0), 1.0);
        let mut last = 1.0;
        for r in 0..=100 {
            let m = mos_from_r(f64::from(r));
            assert!(m >= last, "MOS rises with R");
            last = m;
        }
    }

    #[test]
    fn codec_table() {
        assert_eq!((Codec::G711.ie(), Codec::G711.bpl()), (0.0, 4.3));
        assert_eq!((Codec::G711Plc.ie(), Codec::G711Plc.bpl()), (0.0, 25.1));
        assert_eq!((Codec::G729a.ie(), Codec::G729a.bpl()), (11.0, 19.0));
        let custom = Codec::Custom { ie: 5.0, bpl: 10.0 };
        assert_eq!((custom.ie(), custom.bpl()), (5.0, 10.0));
    }
}
