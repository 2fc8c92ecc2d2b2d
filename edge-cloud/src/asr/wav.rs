//! Reading 16-bit PCM WAV files (finished recordings, test audio).
//!
//! Contract: [`parse_pcm16`] accepts a RIFF/WAVE byte buffer whose `fmt ` chunk
//! says PCM (or WAVE_FORMAT_EXTENSIBLE carrying PCM), 16 bits per sample, and
//! returns the first channel's samples with the sample rate. Anything else —
//! truncated chunks, other encodings, no `data` chunk — is a typed
//! [`WavError`], never a panic. Other chunks (`LIST`, `fact`) are skipped.

use thiserror::Error;

/// Why a buffer is not a usable 16-bit PCM WAV.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WavError {
    /// The buffer does not start with a RIFF/WAVE header.
    #[error("not a RIFF/WAVE file")]
    NotWave,
    /// A chunk header or body runs past the end of the buffer.
    #[error("chunk `{0}` is truncated")]
    Truncated(String),
    /// The audio is not 16-bit linear PCM.
    #[error("unsupported encoding: format tag {format}, {bits} bits per sample")]
    Unsupported {
        /// The `fmt ` chunk's format tag.
        format: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// The `fmt ` chunk declares no channels or a zero sample rate.
    #[error("fmt chunk declares {channels} channels at {rate} Hz")]
    BadFormat {
        /// Declared channel count.
        channels: u16,
        /// Declared sample rate.
        rate: u32,
    },
    /// No `fmt ` or no `data` chunk was found.
    #[error("missing `{0}` chunk")]
    Missing(&'static str),
}

/// Decoded mono audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcm {
    /// Samples per second.
    pub rate: u32,
    /// The first channel's samples.
    pub samples: Vec<i16>,
}

const FORMAT_PCM: u16 = 1;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

struct Format {
    channels: u16,
    rate: u32,
}

/// Parses a 16-bit PCM WAV file held in memory.
pub fn parse_pcm16(bytes: &[u8]) -> Result<Pcm, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWave);
    }
    let mut rest = &bytes[12..];
    let mut format = None;
    while rest.len() >= 8 {
        let id = &rest[0..4];
        let len = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let body = rest
            .get(8..8 + len)
            .ok_or_else(|| WavError::Truncated(String::from_utf8_lossy(id).into_owned()))?;
        match id {
            b"fmt " => format = Some(parse_fmt(body)?),
            b"data" => {
                let fmt = format.ok_or(WavError::Missing("fmt "))?;
                return Ok(Pcm {
                    rate: fmt.rate,
                    samples: first_channel(body, usize::from(fmt.channels)),
                });
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        let next = (8 + len + (len & 1)).min(rest.len());
        rest = &rest[next..];
    }
    Err(WavError::Missing(if format.is_some() {
        "data"
    } else {
        "fmt "
    }))
}

fn parse_fmt(body: &[u8]) -> Result<Format, WavError> {
    if body.len() < 16 {
        return Err(WavError::Truncated("fmt ".into()));
    }
    let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
    let mut tag = u16_at(0);
    let channels = u16_at(2);
    let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
    let bits = u16_at(14);
    if tag == FORMAT_EXTENSIBLE && body.len() >= 26 {
        // The sub-format GUID starts with the real format tag.
        tag = u16_at(24);
    }
    if tag != FORMAT_PCM || bits != 16 {
        return Err(WavError::Unsupported { format: tag, bits });
    }
    if channels == 0 || rate == 0 {
        return Err(WavError::BadFormat { channels, rate });
    }
    Ok(Format { channels, rate })
}

fn first_channel(data: &[u8], channels: usize) -> Vec<i16> {
    data.chunks_exact(2 * channels)
        .map(|frame| i16::from_le_bytes([frame[0], frame[1]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(format: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut out = b"RIFF\0\0\0\0WAVE".to_vec();
        out.extend_from_slice(b"fmt \x10\0\0\0");
        out.extend_from_slice(&format.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
        out.extend_from_slice(&(channels * 2).to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(b"LIST\x03\0\0\0abc\0");
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn reads_mono_and_skips_other_chunks() {
        let bytes = wav(1, 1, 8000, 16, &[1, 0, 0xff, 0xff, 0, 0x80]);
        let pcm = parse_pcm16(&bytes).unwrap();
        assert_eq!(pcm.rate, 8000);
        assert_eq!(pcm.samples, vec![1, -1, i16::MIN]);
    }

    #[test]
    fn keeps_the_first_channel_of_stereo() {
        let bytes = wav(1, 2, 8000, 16, &[5, 0, 9, 0, 6, 0, 9, 0]);
        assert_eq!(parse_pcm16(&bytes).unwrap().samples, vec![5, 6]);
    }

    #[test]
    fn rejects_bad_input_with_typed_errors() {
        assert_eq!(parse_pcm16(b"RIFX"), Err(WavError::NotWave));
        let alaw = wav(6, 1, 8000, 8, &[0; 4]);
        assert_eq!(
            parse_pcm16(&alaw),
            Err(WavError::Unsupported { format: 6, bits: 8 })
        );
        let zero_rate = wav(1, 1, 0, 16, &[0; 4]);
        assert!(matches!(
            parse_pcm16(&zero_rate),
            Err(WavError::BadFormat { .. })
        ));
        let mut truncated = wav(1, 1, 8000, 16, &[0; 8]);
        truncated.truncate(truncated.len() - 3);
        assert_eq!(
            parse_pcm16(&truncated),
            Err(WavError::Truncated("data".into()))
        );
        assert_eq!(
            parse_pcm16(b"RIFF\0\0\0\0WAVE"),
            Err(WavError::Missing("fmt "))
        );
    }

    #[test]
    fn never_panics_on_any_prefix() {
        let bytes = wav(1, 1, 8000, 16, &[1, 2, 3, 4, 5, 6]);
        for end in 0..bytes.len() {
            let _ = parse_pcm16(&bytes[..end]);
        }
    }
}
