//! The codec layer's error type.

use super::Codec;

/// Why a codec operation failed.
///
/// Payload problems ([`CodecError::Opus`] on decode, [`CodecError::EmptyPayload`]) come
/// from the peer: drop the packet, count it, and carry on (or conceal it as lost).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// libopus refused the call: a corrupt packet on decode, or a bad argument.
    #[error("libopus {function} failed: {reason}")]
    Opus {
        /// The libopus function that failed.
        function: &'static str,
        /// libopus's description of the error code.
        reason: &'static str,
    },
    /// An empty payload where one with data was required (an Opus packet).
    #[error("empty payload")]
    EmptyPayload,
    /// An encoder was given a frame of the wrong length.
    #[error("frame of {got} samples where {expected} were expected")]
    FrameLength {
        /// The samples the encoder takes per frame (20 ms).
        expected: usize,
        /// The samples it was given.
        got: usize,
    },
    /// The codec carries no audio (telephone-event), so it cannot be transcoded.
    #[error("{} carries no audio", .0.encoding_name())]
    NotAudio(Codec),
    /// The codec was left out of this build (the `opus` feature is off).
    #[error("{} is not built in", .0.encoding_name())]
    NotBuiltIn(Codec),
}

#[cfg(feature = "opus")]
impl From<::opus::Error> for CodecError {
    fn from(error: ::opus::Error) -> Self {
        Self::Opus {
            function: error.function(),
            reason: error.code().description(),
        }
    }
}
