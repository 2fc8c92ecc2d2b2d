//! [`Encoder`]: 20 ms frames of PCM at a codec's own rate in, payloads out.

use super::g722::G722Encoder;
use super::{Codec, CodecError, g711};
#[cfg(feature = "opus")]
use super::{OpusConfig, OpusEncoder};

/// Encodes frames of mono PCM, already at the codec's [`Codec::pcm_rate`], into RTP
/// payloads: what a prompt player or the encoding half of a [`Transcoder`] needs.
///
/// [`Transcoder`]: super::Transcoder
#[derive(Debug)]
pub struct Encoder {
    codec: Codec,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Pcmu,
    Pcma,
    G722(Box<G722Encoder>),
    #[cfg(feature = "opus")]
    Opus(Box<OpusEncoder>),
}

impl Encoder {
    /// An encoder for `codec` (Opus with `OpusConfig`'s defaults). Fails for
    /// telephone-event ([`CodecError::NotAudio`]) and for Opus when the `opus` feature is
    /// off ([`CodecError::NotBuiltIn`]).
    pub fn new(codec: Codec) -> Result<Self, CodecError> {
        #[cfg(feature = "opus")]
        {
            Self::with_opus_config(codec, &OpusConfig::default())
        }
        #[cfg(not(feature = "opus"))]
        {
            let kind = match codec {
                Codec::Pcmu => Kind::Pcmu,
                Codec::Pcma => Kind::Pcma,
                Codec::G722 => Kind::G722(Box::default()),
                Codec::Opus => return Err(CodecError::NotBuiltIn(codec)),
                other => return Err(CodecError::NotAudio(other)),
            };
            Ok(Self { codec, kind })
        }
    }

    /// An encoder for `codec` whose Opus encoder (if it is Opus) uses `config`.
    #[cfg(feature = "opus")]
    pub fn with_opus_config(codec: Codec, config: &OpusConfig) -> Result<Self, CodecError> {
        let kind = match codec {
            Codec::Pcmu => Kind::Pcmu,
            Codec::Pcma => Kind::Pcma,
            Codec::G722 => Kind::G722(Box::default()),
            Codec::Opus => Kind::Opus(Box::new(OpusEncoder::new(config)?)),
            other => return Err(CodecError::NotAudio(other)),
        };
        Ok(Self { codec, kind })
    }

    /// The codec it encodes.
    #[must_use]
    pub const fn codec(&self) -> Codec {
        self.codec
    }

    /// Appends the payload for one `frame` of samples to `out` (G.711 and G.722 take
    /// any length, G.722 keeping an odd last sample for the next call; Opus exactly
    /// 20 ms, 960 samples).
    pub fn encode(&mut self, frame: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        match &mut self.kind {
            Kind::Pcmu => g711::pcmu_encode(frame, out),
            Kind::Pcma => g711::pcma_encode(frame, out),
            Kind::G722(encoder) => encoder.encode(frame, out),
            #[cfg(feature = "opus")]
            Kind::Opus(encoder) => {
                encoder.encode(frame, out)?;
            }
        }
        Ok(())
    }
}
