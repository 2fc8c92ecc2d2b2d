//! Errors of WAV reading, writing and recording.

/// Why a WAV file cannot be read or written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum WavError {
    /// The bytes do not start with a `RIFF` … `WAVE` header.
    #[error("not a RIFF/WAVE file")]
    NotRiffWave,
    /// No `fmt ` chunk was found.
    #[error("no fmt chunk")]
    MissingFormat,
    /// No `data` chunk was found.
    #[error("no data chunk")]
    MissingData,
    /// The `fmt ` chunk is too short or contradicts itself.
    #[error("malformed fmt chunk: {0}")]
    MalformedFormat(&'static str),
    /// The samples are not linear PCM (`format_tag` 1): G.711, ADPCM, float, MP3…
    #[error("unsupported encoding (format tag {format_tag:#06x}); only linear PCM is played")]
    UnsupportedEncoding {
        /// The `wFormatTag` (or the extensible sub-format's tag).
        format_tag: u16,
    },
    /// Linear PCM of a width other than 8 or 16 bits.
    #[error("unsupported sample width: {0} bits; 8- and 16-bit PCM are played")]
    UnsupportedBitDepth(u16),
    /// Neither mono nor stereo.
    #[error("unsupported channel count: {0}")]
    UnsupportedChannels(u16),
    /// A rate other than 8, 16 or 48 kHz.
    #[error("unsupported sample rate: {0} Hz")]
    UnsupportedSampleRate(u32),
    /// The audio does not fit the 4 GiB a RIFF size field can describe.
    #[error("audio too long for a WAV file")]
    TooLong,
}

/// Why a recording failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A frame did not hold 20 ms of samples at the recorder's rate.
    #[error("frame of {got} samples, expected {expected}")]
    FrameLength {
        /// Samples per frame at the recorder's rate.
        expected: usize,
        /// Samples given.
        got: usize,
    },
    /// The recording reached the 4 GiB limit of a WAV file; later audio is not
    /// stored. Start a new file.
    #[error("recording reached the WAV size limit")]
    Full,
    /// Writing to the destination failed.
    #[error("writing the recording: {0}")]
    Io(#[from] std::io::Error),
}
