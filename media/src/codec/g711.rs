//! G.711 (ITU-T, 11/88): PCMU (µ-law) and PCMA (A-law), 8 kHz, one byte per sample.
//!
//! Samples are 16-bit linear PCM; the law itself works on 14 bits (µ-law) and 13 bits
//! (A-law), so the low 2 (µ) or 3 (A) bits are dropped on encode and decoded values are
//! the standard's output values scaled by 4 (µ) or 8 (A): µ-law spans ±32124, A-law
//! ±32256. Negative inputs are coded from their one's complement, as the standard's
//! tables do, so every code decodes to the middle of its decision interval and
//! `decode(encode(x))` is off by at most half a quantisation step for every input short
//! of overload (µ-law above ±32635 saturates at ±32124).
//!
//! Encode and decode are table look-ups. All four tables are `const`, built at compile
//! time by the `*_computed` functions, which stay public as the reference
//! implementation (and for the benchmark that compares the two).

/// Bias added to the 14-bit magnitude before µ-law segment search (G.711 Table 2a).
const ULAW_BIAS: u16 = 33;
/// Largest biased 14-bit magnitude µ-law can code; larger inputs saturate.
const ULAW_MAX_BIASED: u16 = 0x1FFF;

/// µ-law code of a 16-bit linear sample, by segment computation (no table).
///
/// The reference for [`ulaw_encode`]: both return the same code for every input.
#[must_use]
pub const fn ulaw_encode_computed(sample: i16) -> u8 {
    let x14 = sample >> 2;
    let (sign, magnitude) = if x14 < 0 {
        (0x80_u8, !x14 as u16)
    } else {
        (0, x14 as u16)
    };
    let mut biased = magnitude + ULAW_BIAS;
    if biased > ULAW_MAX_BIASED {
        biased = ULAW_MAX_BIASED;
    }
    // The biased value has its top set bit at position 5..=12: segment 0..=7.
    let segment = (15 - biased.leading_zeros() as u16) - 5;
    let mantissa = (biased >> (segment + 1)) & 0x0F;
    !(sign | ((segment as u8) << 4) | mantissa as u8)
}

/// 16-bit linear value of a µ-law code, by computation (no table).
///
/// The reference for [`ulaw_decode`].
#[must_use]
pub const fn ulaw_decode_computed(code: u8) -> i16 {
    let code = !code;
    let segment = (code >> 4) & 0x07;
    let mantissa = (code & 0x0F) as i16;
    // Standard output value: 1abcd1 shifted by the segment, less the bias.
    let magnitude = (((0x10 | mantissa) << 1 | 1) << segment) - ULAW_BIAS as i16;
    let scaled = magnitude * 4;
    if code & 0x80 != 0 { -scaled } else { scaled }
}

/// A-law code of a 16-bit linear sample, by segment computation (no table).
///
/// The reference for [`alaw_encode`]: both return the same code for every input.
#[must_use]
pub const fn alaw_encode_computed(sample: i16) -> u8 {
    let x13 = sample >> 3;
    // Even bits are inverted on the line (G.711 §3.4): 0x55; positive adds the sign bit.
    let (mask, magnitude) = if x13 < 0 {
        (0x55_u8, !x13 as u16)
    } else {
        (0xD5, x13 as u16)
    };
    // Segment 0 is 0..32 and segment 1 is 32..64 (both step 2); from there on the
    // segment is the position of the top set bit less 4, and the step doubles.
    let segment = if magnitude < 32 {
        0
    } else {
        11 - magnitude.leading_zeros() as u16
    };
    let mantissa = if segment < 2 {
        (magnitude >> 1) & 0x0F
    } else {
        (magnitude >> segment) & 0x0F
    };
    ((segment as u8) << 4 | mantissa as u8) ^ mask
}

/// 16-bit linear value of an A-law code, by computation (no table).
///
/// The reference for [`alaw_decode`].
#[must_use]
pub const fn alaw_decode_computed(code: u8) -> i16 {
    let code = code ^ 0x55;
    let segment = (code >> 4) & 0x07;
    let mantissa = (code & 0x0F) as i16;
    // Standard output value in 13 bits: 1abcd1 (segment ≥ 1) or abcd1, then × 8.
    let magnitude = if segment == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (segment - 1)
    };
    if code & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }
}

const fn build_decode_table(ulaw: bool) -> [i16; 256] {
    let mut table = [0_i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = if ulaw {
            ulaw_decode_computed(code as u8)
        } else {
            alaw_decode_computed(code as u8)
        };
        code += 1;
    }
    table
}

/// µ-law codes indexed by the 14-bit sample (`sample >> 2`) offset by 8192.
const ULAW_ENCODE: [u8; 1 << 14] = {
    let mut table = [0_u8; 1 << 14];
    let mut index = 0;
    while index < table.len() {
        table[index] = ulaw_encode_computed(((index as i32 - 8192) << 2) as i16);
        index += 1;
    }
    table
};

/// A-law codes indexed by the 13-bit sample (`sample >> 3`) offset by 4096.
const ALAW_ENCODE: [u8; 1 << 13] = {
    let mut table = [0_u8; 1 << 13];
    let mut index = 0;
    while index < table.len() {
        table[index] = alaw_encode_computed(((index as i32 - 4096) << 3) as i16);
        index += 1;
    }
    table
};

const ULAW_DECODE: [i16; 256] = build_decode_table(true);
const ALAW_DECODE: [i16; 256] = build_decode_table(false);

/// µ-law code of a 16-bit linear sample (table look-up on the 14-bit value).
#[inline]
#[must_use]
pub fn ulaw_encode(sample: i16) -> u8 {
    ULAW_ENCODE[((sample >> 2) as i32 + 8192) as usize]
}

/// 16-bit linear value of a µ-law code (table look-up).
#[inline]
#[must_use]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE[usize::from(code)]
}

/// A-law code of a 16-bit linear sample (table look-up on the 13-bit value).
#[inline]
#[must_use]
pub fn alaw_encode(sample: i16) -> u8 {
    ALAW_ENCODE[((sample >> 3) as i32 + 4096) as usize]
}

/// 16-bit linear value of an A-law code (table look-up).
#[inline]
#[must_use]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE[usize::from(code)]
}

/// Appends the PCMU payload of `pcm` (one byte per sample) to `out`.
pub fn pcmu_encode(pcm: &[i16], out: &mut Vec<u8>) {
    out.extend(pcm.iter().map(|&sample| ulaw_encode(sample)));
}

/// Appends the samples of a PCMU payload to `out`. Every byte is a valid code.
pub fn pcmu_decode(payload: &[u8], out: &mut Vec<i16>) {
    out.extend(payload.iter().map(|&code| ulaw_decode(code)));
}

/// Appends the PCMA payload of `pcm` (one byte per sample) to `out`.
pub fn pcma_encode(pcm: &[i16], out: &mut Vec<u8>) {
    out.extend(pcm.iter().map(|&sample| alaw_encode(sample)));
}

/// Appends the samples of a PCMA payload to `out`. Every byte is a valid code.
pub fn pcma_decode(payload: &[u8], out: &mut Vec<i16>) {
    out.extend(payload.iter().map(|&code| alaw_decode(code)));
}

#[cfg(test)]
#[path = "g711_tests.rs"]
mod tests;
