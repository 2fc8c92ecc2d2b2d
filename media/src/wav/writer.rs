//! Writing canonical PCM WAV files: a 44-byte header, then the samples.

use super::{SampleEncoding, WavError, WavFormat};

/// Length of the header [`header`] writes; audio starts at this offset.
pub const HEADER_LEN: usize = 44;

/// The 44-byte header of a PCM file of `format` whose `data` chunk holds `data_len`
/// bytes. Errors with [`WavError::TooLong`] when the sizes do not fit 32 bits.
pub fn header(format: WavFormat, data_len: u64) -> Result<[u8; HEADER_LEN], WavError> {
    let data_len = u32::try_from(data_len).map_err(|_| WavError::TooLong)?;
    let riff_len = data_len
        .checked_add((HEADER_LEN - 8) as u32)
        .ok_or(WavError::TooLong)?;
    let channels = format.channels.count();
    let block_align = format.block_align() as u16;
    let bits = 8 * format.encoding.bytes() as u16;
    let byte_rate = format
        .sample_rate
        .hz()
        .checked_mul(u32::from(block_align))
        .ok_or(WavError::TooLong)?;

    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&riff_len.to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&format.encoding.format_tag().to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&format.sample_rate.hz().to_le_bytes());
    h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&bits.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    Ok(h)
}

/// A whole 16-bit PCM file holding `samples` (interleaved, left first, when
/// `format` is stereo). `format.encoding` is ignored: the file is always 16-bit.
/// A trailing partial sample frame is written as it is; readers drop it.
pub fn encode(format: WavFormat, samples: &[i16]) -> Result<Vec<u8>, WavError> {
    let format = WavFormat {
        encoding: SampleEncoding::Signed16,
        ..format
    };
    let data_len = samples.len() as u64 * 2;
    let mut out = Vec::with_capacity(HEADER_LEN + samples.len() * 2);
    out.extend_from_slice(&header(format, data_len)?);
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    Ok(out)
}
