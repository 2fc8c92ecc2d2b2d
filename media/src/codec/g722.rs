//! G.722 (ITU-T, 11/88), mode 1: 7 kHz audio at 64 kbit/s by sub-band ADPCM.
//!
//! # Contract
//!
//! [`G722Encoder`] takes 16 kHz, 16-bit mono PCM and appends one octet per two
//! samples (160 octets per 20 ms); [`G722Decoder`] does the reverse, two samples per
//! octet. Both are plain state machines: no allocation beyond the caller's output
//! vector, no clock, no I/O, and every octet is a valid code (there is nothing to
//! reject). An odd trailing sample given to the encoder waits for the next call.
//!
//! ```text
//!   16 kHz PCM ──► transmit QMF ──► lower band  (0–4 kHz)  ─► 6-bit ADPCM ─┐
//!                                └► higher band (4–8 kHz)  ─► 2-bit ADPCM ─┴► octet
//!   octet ──► 6-bit ADPCM⁻¹ (lower) ┬─► receive QMF ──► 16 kHz PCM
//!         └─► 2-bit ADPCM⁻¹ (higher)┘
//! ```
//!
//! The octet carries the higher band's 2 bits in its most significant bits and the
//! lower band's 6 bits below (RFC 3551 §4.5.2). Each band has a pole–zero adaptive
//! predictor (2 poles, 6 zeros) and a backward-adapted logarithmic quantizer scale
//! factor; both ends compute them from the transmitted codes alone, so a decoder fed
//! the encoder's octets tracks the encoder's state exactly. The lower band's predictor
//! and scale factor use only the 4 most significant of its 6 bits (the embedded
//! quantizer that lets the 56 and 48 kbit/s modes drop bits); this module implements
//! mode 1 only, all 6 bits shaping the decoded signal.
//!
//! The recommendation's audio parts carry 14-bit PCM. Here the transmit QMF takes the
//! 16-bit samples whole (a 14-bit input, low bits zero, gives the recommendation's
//! codes exactly; the two extra bits only refine the sub-band signals), and the
//! receive QMF returns 16-bit samples, so a full-scale input decodes at full scale.
//! Everything between follows the recommendation's fixed-point definitions: 16-bit
//! words with saturation, its shifts and its tables; the tests hold the codes and
//! samples to those of an independent implementation, bit for bit. Samples that would
//! overflow 16 bits on the way out saturate. The round trip delays the audio by 22
//! samples (1.4 ms), the two QMFs' share.
//!
//! RTP: payload type 9, `G722/8000` in SDP. The RTP clock is 8000 Hz although the
//! audio is sampled at 16 kHz (an error in RFC 1890 kept for compatibility), so
//! timestamps advance 160 per 20 ms, one per octet.

/// Samples of 16 kHz PCM in one 20 ms frame.
pub const FRAME_SAMPLES: usize = 320;
/// Octets of G.722 in one 20 ms frame.
pub const FRAME_OCTETS: usize = 160;

/// The 24 QMF coefficients h0..h23, scaled by 2^13 (symmetric: h(i) = h(23 − i)).
const QMF: [i32; 24] = [
    3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876, 3876, 951, -805, -210, 362, 32,
    -156, 12, 53, -11, -11, 3,
];

/// Lower band: the 29 decision levels of the 6-bit quantizer (normalised levels × 512),
/// with a leading 0 so that `Q6[m]` is the upper bound of interval `m`.
const Q6: [i32; 30] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
];

/// Lower band: the output level of each 6-bit quantizer interval 1..=30 (× 512).
const QQ6: [i32; 31] = [
    0, 17, 54, 91, 130, 170, 211, 254, 300, 347, 396, 447, 501, 558, 618, 682, 750, 822, 899, 982,
    1072, 1170, 1279, 1399, 1535, 1689, 1873, 2088, 2376, 2738, 3101,
];

/// Lower band: the output levels of the embedded 4-bit quantizer, by magnitude (× 512).
const QQ4: [i32; 8] = [0, 150, 323, 530, 786, 1121, 1612, 2557];

/// Lower band: the magnitude (0..8) a 4-bit code stands for.
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];

/// Lower band: log scale factor multipliers, by 4-bit magnitude.
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];

/// Higher band: the one decision level of the 2-bit quantizer (× 512).
const Q2: i32 = 564;

/// Higher band: signed output levels (× 512 × 8) by 2-bit code.
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];

/// Higher band: log scale factor multipliers by 2-bit code.
const WH: [i32; 4] = [798, -214, 798, -214];

/// 2^(i/32) × 2048, the mantissas of the scale factor's antilog.
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// Signed 6-bit output levels (× 512 × 8) by lower-band code.
const QM6: [i32; 64] = {
    let mut table = [0; 64];
    let mut code = 0;
    while code < 64 {
        let (interval, negative) = lower_interval(code as u8);
        let level = QQ6[interval] << 3;
        table[code] = if negative { -level } else { level };
        code += 1;
    }
    table
};

/// Signed 4-bit output levels (× 512 × 8) by the 4 most significant bits of a code.
const QM4: [i32; 16] = {
    let mut table = [0; 16];
    let mut code = 0;
    while code < 16 {
        let level = QQ4[RL42[code]] << 3;
        table[code] = if code < 8 { -level } else { level };
        code += 1;
    }
    table
};

/// The quantizer interval (1..=30) and sign a 6-bit lower-band code stands for. Codes
/// 0–3 are never sent; they decode as the smallest negative interval.
const fn lower_interval(code: u8) -> (usize, bool) {
    match code {
        32..=61 => (62 - code as usize, false),
        62 => (2, true),
        4..=31 => (34 - code as usize, true),
        _ => (1, true),
    }
}

/// The 6-bit code for quantizer interval `interval` (1..=30) and a sign.
const fn lower_code(interval: usize, negative: bool) -> u8 {
    match (negative, interval) {
        (false, _) => (62 - interval) as u8,
        (true, 1) => 63,
        (true, 2) => 62,
        (true, _) => (34 - interval) as u8,
    }
}

/// Saturates to a 16-bit word, as the recommendation's LIMIT block does.
#[inline]
const fn limit(x: i32) -> i32 {
    if x > i16::MAX as i32 {
        i16::MAX as i32
    } else if x < i16::MIN as i32 {
        i16::MIN as i32
    } else {
        x
    }
}

/// The magnitude of a difference signal as the quantizers compare it (one's
/// complement for negative values).
#[inline]
const fn magnitude(e: i32) -> i32 {
    if e >= 0 { e } else { -(e + 1) }
}

/// The adaptive predictor of one sub-band: two poles on the reconstructed signal, six
/// zeros on the quantized difference, coefficients in Q14.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Predictor {
    /// Pole coefficients a1, a2.
    a: [i32; 2],
    /// Zero coefficients b1..b6.
    b: [i32; 6],
    /// Quantized differences d(n−1)..d(n−6).
    d: [i32; 6],
    /// Partially reconstructed signal p(n−1), p(n−2).
    p: [i32; 2],
    /// Reconstructed signal r(n−1), r(n−2).
    r: [i32; 2],
    /// The zero section's output for the next sample.
    sz: i32,
    /// The prediction of the next sample.
    s: i32,
}

impl Predictor {
    const NEW: Self = Self {
        a: [0; 2],
        b: [0; 6],
        d: [0; 6],
        p: [0; 2],
        r: [0; 2],
        sz: 0,
        s: 0,
    };

    /// Takes the quantized difference `d` of the current sample: adapts the
    /// coefficients, moves the delay lines and predicts the next sample.
    fn adapt(&mut self, d: i32) {
        let p = limit(d + self.sz);
        self.update_zeros(d);
        let a2 = pole2(self.a, p, self.p);
        self.a = [pole1(self.a[0], a2, p, self.p[0]), a2];
        let r = limit(self.s + d);
        self.d.copy_within(0..5, 1);
        self.d[0] = d;
        self.p = [p, self.p[0]];
        self.r = [r, self.r[0]];
        let sp: i32 = self
            .a
            .iter()
            .zip(self.r)
            .map(|(&a, r)| (a * limit(r + r)) >> 15)
            .sum();
        self.sz = self
            .b
            .iter()
            .zip(self.d)
            .map(|(&b, d)| (b * limit(d + d)) >> 15)
            .sum();
        self.s = limit(sp + self.sz);
    }

    /// UPZERO: sign–sign adaptation of b1..b6 with leakage 255/256.
    fn update_zeros(&mut self, d: i32) {
        let step = if d == 0 { 0 } else { 128 };
        for (b, &past) in self.b.iter_mut().zip(&self.d) {
            let same_sign = (d < 0) == (past < 0);
            let gain = if same_sign { step } else { -step };
            *b = limit(gain + ((*b * 32640) >> 15));
        }
    }
}

/// UPPOL2: the new a2 from the old a1 and a2 and the signs of p(n), p(n−1), p(n−2).
fn pole2(a: [i32; 2], p: i32, past: [i32; 2]) -> i32 {
    // 4·a1, saturating: f(a1) of the recommendation, never beyond ±2.
    let a1 = limit(4 * a[0]);
    let wd2 = if (p < 0) == (past[0] < 0) {
        limit(-a1)
    } else {
        a1
    } >> 7;
    let wd3 = if (p < 0) == (past[1] < 0) { 128 } else { -128 };
    let a2 = wd2 + wd3 + ((a[1] * 32512) >> 15);
    a2.clamp(-12288, 12288)
}

/// UPPOL1: the new a1 from the old one, the signs of p(n) and p(n−1), and the new
/// a2, which bounds it for stability.
fn pole1(a1: i32, a2: i32, p: i32, past: i32) -> i32 {
    let step = if (p < 0) == (past < 0) { 192 } else { -192 };
    let a1 = step + ((a1 * 32640) >> 15);
    let bound = 15360 - a2;
    a1.clamp(-bound, bound)
}

/// SCALEL / SCALEH: the linear scale factor of log scale factor `log`; `base` is 8 for
/// the lower band and 10 for the higher.
fn antilog(log: i32, base: i32) -> i32 {
    let mantissa = ILB[((log >> 6) & 31) as usize];
    let exponent = log >> 11;
    let wd3 = if exponent > base {
        mantissa << (exponent - base)
    } else {
        mantissa >> (base - exponent)
    };
    wd3 << 2
}

/// The backward-adapted quantizer scale factor of one band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scale {
    /// Logarithmic scale factor (NBL / NBH).
    log: i32,
    /// Linear scale factor (DETL / DETH).
    det: i32,
}

impl Scale {
    const LOWER: Self = Self { log: 0, det: 32 };
    const HIGHER: Self = Self { log: 0, det: 8 };

    /// LOGSCL and SCALEL after lower-band code `code`.
    fn adapt_lower(&mut self, code: u8) {
        let w = WL[RL42[usize::from(code >> 2)]];
        self.log = (((self.log * 32512) >> 15) + w).clamp(0, 18432);
        self.det = antilog(self.log, 8);
    }

    /// LOGSCH and SCALEH after higher-band code `code`.
    fn adapt_higher(&mut self, code: u8) {
        let w = WH[usize::from(code)];
        self.log = (((self.log * 32512) >> 15) + w).clamp(0, 22528);
        self.det = antilog(self.log, 10);
    }
}

/// One band's ADPCM state, the same at both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Band {
    predictor: Predictor,
    scale: Scale,
}

impl Band {
    const LOWER: Self = Self {
        predictor: Predictor::NEW,
        scale: Scale::LOWER,
    };
    const HIGHER: Self = Self {
        predictor: Predictor::NEW,
        scale: Scale::HIGHER,
    };

    /// Lower band, after `code` was sent or received: returns the mode 1
    /// reconstructed sample (6-bit inverse quantizer) and adapts.
    fn lower_step(&mut self, code: u8) -> i32 {
        let det = self.scale.det;
        let dlt = (det * QM4[usize::from(code >> 2)]) >> 15;
        let dl = (det * QM6[usize::from(code & 0x3F)]) >> 15;
        let out = (self.predictor.s + dl).clamp(-16384, 16383);
        self.scale.adapt_lower(code);
        self.predictor.adapt(dlt);
        out
    }

    /// Higher band, after `code` was sent or received: returns the reconstructed
    /// sample and adapts.
    fn higher_step(&mut self, code: u8) -> i32 {
        let dh = (self.scale.det * QM2[usize::from(code & 3)]) >> 15;
        let out = (self.predictor.s + dh).clamp(-16384, 16383);
        self.scale.adapt_higher(code);
        self.predictor.adapt(dh);
        out
    }

    /// QUANTL: the 6-bit code of lower-band sample `x`.
    fn quantize_lower(&self, x: i32) -> u8 {
        let e = limit(x - self.predictor.s);
        let wd = magnitude(e);
        let det = self.scale.det;
        let mut interval = 1;
        while interval < 30 && wd >= ((Q6[interval] << 3) * det) >> 15 {
            interval += 1;
        }
        lower_code(interval, e < 0)
    }

    /// QUANTH: the 2-bit code of higher-band sample `x`.
    fn quantize_higher(&self, x: i32) -> u8 {
        let e = limit(x - self.predictor.s);
        let outer = magnitude(e) >= ((Q2 << 3) * self.scale.det) >> 15;
        match (e < 0, outer) {
            (false, false) => 3,
            (false, true) => 2,
            (true, false) => 1,
            (true, true) => 0,
        }
    }
}

/// Input samples the transmit QMF keeps (its 24 taps).
const QMF_TAPS: usize = 24;

/// A G.722 encoder, 64 kbit/s: 16 kHz PCM in, octets out.
#[derive(Debug, Clone)]
pub struct G722Encoder {
    /// The last 24 input samples, newest first.
    history: [i32; QMF_TAPS],
    lower: Band,
    higher: Band,
    /// A sample waiting for its pair.
    odd: Option<i16>,
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Encoder {
    /// An encoder in the recommendation's reset state.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            history: [0; QMF_TAPS],
            lower: Band::LOWER,
            higher: Band::HIGHER,
            odd: None,
        }
    }

    /// Returns to the reset state (a new stream).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Encodes `pcm` (16 kHz) and appends one octet per pair of samples to `out`.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        let mut rest = pcm;
        if let Some(first) = self.odd.take() {
            let Some((&second, tail)) = rest.split_first() else {
                self.odd = Some(first);
                return;
            };
            out.push(self.encode_pair(first, second));
            rest = tail;
        }
        let pairs = rest.chunks_exact(2);
        self.odd = pairs.remainder().first().copied();
        out.reserve(pairs.len());
        out.extend(pairs.map(|pair| self.encode_pair(pair[0], pair[1])));
    }

    /// Encodes two consecutive samples into one octet.
    fn encode_pair(&mut self, first: i16, second: i16) -> u8 {
        let (low, high) = self.analyse(first, second);
        let low_code = self.lower.quantize_lower(low);
        let high_code = self.higher.quantize_higher(high);
        self.lower.lower_step(low_code);
        self.higher.higher_step(high_code);
        high_code << 6 | low_code
    }

    /// The transmit QMF: the next lower- and higher-band samples.
    fn analyse(&mut self, first: i16, second: i16) -> (i32, i32) {
        self.history.copy_within(0..QMF_TAPS - 2, 2);
        self.history[1] = i32::from(first);
        self.history[0] = i32::from(second);
        let (mut even, mut odd) = (0, 0);
        for (pair, taps) in self.history.chunks_exact(2).zip(QMF.chunks_exact(2)) {
            even += pair[0] * taps[0];
            odd += pair[1] * taps[1];
        }
        (limit((even + odd) >> 14), limit((even - odd) >> 14))
    }
}

/// Sub-band samples the receive QMF keeps per branch.
const QMF_HALF: usize = QMF_TAPS / 2;

/// A G.722 decoder, 64 kbit/s: octets in, 16 kHz PCM out.
#[derive(Debug, Clone)]
pub struct G722Decoder {
    /// rL − rH, newest first.
    difference: [i32; QMF_HALF],
    /// rL + rH, newest first.
    sum: [i32; QMF_HALF],
    lower: Band,
    higher: Band,
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Decoder {
    /// A decoder in the recommendation's reset state.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            difference: [0; QMF_HALF],
            sum: [0; QMF_HALF],
            lower: Band::LOWER,
            higher: Band::HIGHER,
        }
    }

    /// Returns to the reset state (a new stream).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Decodes `octets` and appends two 16 kHz samples per octet to `out`.
    pub fn decode(&mut self, octets: &[u8], out: &mut Vec<i16>) {
        out.reserve(2 * octets.len());
        for &octet in octets {
            let low = self.lower.lower_step(octet & 0x3F);
            let high = self.higher.higher_step(octet >> 6);
            let (first, second) = self.synthesise(low, high);
            out.push(first);
            out.push(second);
        }
    }

    /// The receive QMF: two output samples from one lower- and one higher-band sample.
    fn synthesise(&mut self, low: i32, high: i32) -> (i16, i16) {
        self.difference.copy_within(0..QMF_HALF - 1, 1);
        self.sum.copy_within(0..QMF_HALF - 1, 1);
        self.difference[0] = low - high;
        self.sum[0] = low + high;
        let (mut even, mut odd) = (0, 0);
        for (i, taps) in QMF.chunks_exact(2).enumerate() {
            even += self.difference[i] * taps[0];
            odd += self.sum[i] * taps[1];
        }
        (to_pcm(even >> 11), to_pcm(odd >> 11))
    }
}

/// A receive QMF output as 16-bit PCM (saturating).
fn to_pcm(x: i32) -> i16 {
    // `limit` keeps the value in i16's range: the cast cannot wrap.
    limit(x) as i16
}

#[cfg(test)]
#[path = "g722_tests.rs"]
mod tests;
