//! Parsing RIFF/WAVE files held in memory.

use std::time::Duration;

use super::{Channels, SampleEncoding, SampleRate, WavError, WavFormat};

const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_ALAW: u16 = 0x0006;
const WAVE_FORMAT_MULAW: u16 = 0x0007;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// Bytes 2..16 of every `KSDATAFORMAT_SUBTYPE_*` GUID built from a format tag.
const SUBTYPE_GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// A parsed PCM WAV file borrowing its samples from the input bytes.
#[derive(Debug, Clone, Copy)]
pub struct WavReader<'a> {
    format: WavFormat,
    data: &'a [u8],
}

impl<'a> WavReader<'a> {
    /// Parses `bytes` as a PCM WAV file (see the module docs for what is accepted).
    ///
    /// Chunks are walked from offset 12 to the end of `bytes`; the first `fmt ` and the
    /// first `data` chunk are used and the walk stops once both are found. A `data`
    /// chunk longer than the bytes left is cut to what is there, and its length is
    /// rounded down to whole sample frames.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WavError> {
        if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
            return Err(WavError::NotRiffWave);
        }
        let mut format = None;
        let mut data = None;
        for (id, body) in Chunks::new(&bytes[12..]) {
            match &id {
                b"fmt " if format.is_none() => format = Some(parse_format(body)?),
                b"data" if data.is_none() => data = Some(body),
                _ => {}
            }
            if format.is_some() && data.is_some() {
                break;
            }
        }
        let format = format.ok_or(WavError::MissingFormat)?;
        let data = data.ok_or(WavError::MissingData)?;
        let whole = data.len() - data.len() % format.block_align();
        Ok(Self {
            format,
            data: &data[..whole],
        })
    }

    /// The file's layout.
    #[must_use]
    pub fn format(&self) -> WavFormat {
        self.format
    }

    /// Number of sample frames (one sample of every channel).
    #[must_use]
    pub fn frame_count(&self) -> usize {
        self.data.len() / self.format.block_align()
    }

    /// Playing time of the audio.
    #[must_use]
    pub fn duration(&self) -> Duration {
        let nanos =
            self.frame_count() as u128 * 1_000_000_000 / u128::from(self.format.sample_rate.hz());
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The samples as 16-bit PCM, interleaved (left first) when stereo.
    #[must_use]
    pub fn samples(&self) -> Samples<'a> {
        Samples {
            encoding: self.format.encoding,
            data: self.data,
        }
    }

    /// The samples as 16-bit mono: stereo channels are averaged.
    #[must_use]
    pub fn to_mono(&self) -> Vec<i16> {
        match self.format.channels {
            Channels::Mono => self.samples().collect(),
            Channels::Stereo => {
                let mut out = Vec::with_capacity(self.frame_count());
                let mut samples = self.samples();
                while let (Some(l), Some(r)) = (samples.next(), samples.next()) {
                    // The mean of two i16 values is an i16.
                    out.push(((i32::from(l) + i32::from(r)) >> 1) as i16);
                }
                out
            }
        }
    }
}

/// Iterator over a file's samples as 16-bit PCM; see [`WavReader::samples`].
#[derive(Debug, Clone)]
pub struct Samples<'a> {
    encoding: SampleEncoding,
    data: &'a [u8],
}

impl Iterator for Samples<'_> {
    type Item = i16;

    fn next(&mut self) -> Option<i16> {
        match self.encoding {
            SampleEncoding::Unsigned8 => {
                let (&b, rest) = self.data.split_first()?;
                self.data = rest;
                Some((i16::from(b) - 128) << 8)
            }
            SampleEncoding::Signed16 => {
                let (&[lo, hi], rest) = self.data.split_first_chunk::<2>()?;
                self.data = rest;
                Some(i16::from_le_bytes([lo, hi]))
            }
            SampleEncoding::MuLaw => {
                let (&b, rest) = self.data.split_first()?;
                self.data = rest;
                Some(crate::codec::g711::ulaw_decode(b))
            }
            SampleEncoding::ALaw => {
                let (&b, rest) = self.data.split_first()?;
                self.data = rest;
                Some(crate::codec::g711::alaw_decode(b))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.data.len() / self.encoding.bytes();
        (n, Some(n))
    }
}

impl ExactSizeIterator for Samples<'_> {}

/// Walks RIFF sub-chunks: `(id, body)`, the body cut to the bytes present, skipping
/// the pad byte after an odd-sized chunk. Stops at the end of the input or at a
/// header that does not fit.
struct Chunks<'a> {
    rest: &'a [u8],
}

impl<'a> Chunks<'a> {
    fn new(rest: &'a [u8]) -> Self {
        Self { rest }
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = ([u8; 4], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (head, after) = self.rest.split_first_chunk::<8>()?;
        let id = [head[0], head[1], head[2], head[3]];
        let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let body_len = size.min(after.len());
        let padded = size.saturating_add(size & 1);
        self.rest = after.get(padded..).unwrap_or(&[]);
        Some((id, &after[..body_len]))
    }
}

fn parse_format(fmt: &[u8]) -> Result<WavFormat, WavError> {
    let field = |at: usize| -> Result<u16, WavError> {
        fmt.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or(WavError::MalformedFormat("fmt chunk shorter than 16 bytes"))
    };
    let format_tag = field(0)?;
    let channels = field(2)?;
    let sample_rate = u32::from(field(4)?) | u32::from(field(6)?) << 16;
    let block_align = field(12)?;
    let bits = field(14)?;

    let format_tag = match format_tag {
        WAVE_FORMAT_EXTENSIBLE => extensible_subformat(fmt)?,
        tag => tag,
    };
    let encoding = match (format_tag, bits) {
        (WAVE_FORMAT_PCM, 8) => SampleEncoding::Unsigned8,
        (WAVE_FORMAT_PCM, 16) => SampleEncoding::Signed16,
        (WAVE_FORMAT_ALAW, 8) => SampleEncoding::ALaw,
        (WAVE_FORMAT_MULAW, 8) => SampleEncoding::MuLaw,
        (WAVE_FORMAT_PCM | WAVE_FORMAT_ALAW | WAVE_FORMAT_MULAW, other) => {
            return Err(WavError::UnsupportedBitDepth(other));
        }
        _ => return Err(WavError::UnsupportedEncoding { format_tag }),
    };
    let channels = match channels {
        1 => Channels::Mono,
        2 => Channels::Stereo,
        other => return Err(WavError::UnsupportedChannels(other)),
    };
    let sample_rate =
        SampleRate::from_hz(sample_rate).ok_or(WavError::UnsupportedSampleRate(sample_rate))?;
    let format = WavFormat {
        channels,
        sample_rate,
        encoding,
    };
    if usize::from(block_align) != format.block_align() {
        return Err(WavError::MalformedFormat(
            "block align does not match channels and width",
        ));
    }
    Ok(format)
}

/// The format tag inside a `WAVE_FORMAT_EXTENSIBLE` sub-format GUID.
fn extensible_subformat(fmt: &[u8]) -> Result<u16, WavError> {
    let guid = fmt.get(24..40).ok_or(WavError::MalformedFormat(
        "extensible fmt chunk shorter than 40 bytes",
    ))?;
    if guid[2..] != SUBTYPE_GUID_TAIL {
        return Err(WavError::UnsupportedEncoding {
            format_tag: WAVE_FORMAT_EXTENSIBLE,
        });
    }
    Ok(u16::from_le_bytes([guid[0], guid[1]]))
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
