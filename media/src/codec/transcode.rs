//! [`Transcoder`]: one direction of a transcoded call leg, `decode → resample → encode`.

#[cfg(feature = "opus")]
use super::OpusConfig;
use super::{Codec, CodecError, Decoder, Encoder, Resampler, frame_samples};

/// Converts a stream of payloads of one codec into a stream of 20 ms payloads of
/// another, for example PCMU from a phone into Opus toward a WebRTC peer.
///
/// Input payloads go in with [`Transcoder::push`] in RTP sequence order, one call per
/// packet, whatever their duration; [`Transcoder::push_lost`] stands in for a missing
/// packet. Output comes out with [`Transcoder::poll_payload`] into a buffer the caller
/// owns and reuses, one 20 ms payload per call, until it returns `false`. Decoded audio
/// that does not yet fill a 20 ms frame waits for the next push, so a 30 ms input ptime
/// comes out as 20 ms payloads with nothing lost. Each output payload advances the RTP
/// timestamp by `to.clock_rate() / 50`.
///
/// A payload that fails to decode (a corrupt Opus packet) changes no state and returns
/// the error; the caller counts it and may conceal it with `push_lost`.
#[derive(Debug)]
pub struct Transcoder {
    from: Codec,
    to: Codec,
    decoder: Decoder,
    resampler: Resampler,
    encoder: Encoder,
    /// Decoded samples at the input rate, reused between pushes.
    decoded: Vec<i16>,
    /// Samples at the output rate not yet encoded.
    pending: Vec<i16>,
    /// Samples per output frame (20 ms at the output rate).
    frame: usize,
}

impl Transcoder {
    /// A transcoder from `from` to `to`, Opus (if either is) with `OpusConfig`'s
    /// defaults. Fails for telephone-event ([`CodecError::NotAudio`]) and for Opus when
    /// the `opus` feature is off ([`CodecError::NotBuiltIn`]).
    pub fn new(from: Codec, to: Codec) -> Result<Self, CodecError> {
        #[cfg(feature = "opus")]
        {
            Self::with_opus_config(from, to, &OpusConfig::default())
        }
        #[cfg(not(feature = "opus"))]
        {
            Self::build(from, to)
        }
    }

    /// A transcoder whose Opus encoder (if `to` is Opus) uses `config`.
    #[cfg(feature = "opus")]
    pub fn with_opus_config(
        from: Codec,
        to: Codec,
        config: &OpusConfig,
    ) -> Result<Self, CodecError> {
        let decoder = Decoder::new(from)?;
        let encoder = Encoder::with_opus_config(to, config)?;
        Self::assemble(from, to, decoder, encoder)
    }

    #[cfg(not(feature = "opus"))]
    fn build(from: Codec, to: Codec) -> Result<Self, CodecError> {
        let decoder = Decoder::new(from)?;
        let encoder = Encoder::new(to)?;
        Self::assemble(from, to, decoder, encoder)
    }

    fn assemble(
        from: Codec,
        to: Codec,
        decoder: Decoder,
        encoder: Encoder,
    ) -> Result<Self, CodecError> {
        let (Some(in_rate), Some(out_rate)) = (from.pcm_rate(), to.pcm_rate()) else {
            return Err(CodecError::NotAudio(if from.is_audio() {
                to
            } else {
                from
            }));
        };
        Ok(Self {
            from,
            to,
            decoder,
            resampler: Resampler::new(in_rate, out_rate),
            encoder,
            decoded: Vec::new(),
            pending: Vec::new(),
            frame: frame_samples(out_rate.hz()),
        })
    }

    /// The input codec.
    #[must_use]
    pub const fn from(&self) -> Codec {
        self.from
    }

    /// The output codec.
    #[must_use]
    pub const fn to(&self) -> Codec {
        self.to
    }

    /// Decodes one received payload and queues its audio; returns how many output
    /// payloads are now ready for [`Self::poll_payload`].
    pub fn push(&mut self, payload: &[u8]) -> Result<usize, CodecError> {
        self.decoded.clear();
        self.decoder.decode(payload, &mut self.decoded)?;
        Ok(self.queue_decoded())
    }

    /// Stands in for one lost 20 ms packet. With Opus input and the packet after the
    /// lost one at hand (`next_payload`), its FEC data rebuilds the lost audio; without
    /// it libopus conceals the gap. G.711 and G.722 gaps are filled with silence. Push
    /// `next_payload` itself with [`Self::push`] afterwards.
    pub fn push_lost(&mut self, next_payload: Option<&[u8]>) -> Result<usize, CodecError> {
        self.decoded.clear();
        self.decoder.conceal(next_payload, &mut self.decoded)?;
        Ok(self.queue_decoded())
    }

    fn queue_decoded(&mut self) -> usize {
        self.resampler.process(&self.decoded, &mut self.pending);
        self.ready()
    }

    /// How many output payloads are ready.
    #[must_use]
    pub fn ready(&self) -> usize {
        self.pending.len() / self.frame
    }

    /// Encodes the next ready 20 ms frame into `out` (cleared first) and returns `true`,
    /// or returns `false` when less than a frame is queued.
    pub fn poll_payload(&mut self, out: &mut Vec<u8>) -> Result<bool, CodecError> {
        out.clear();
        if self.pending.len() < self.frame {
            return Ok(false);
        }
        self.encoder.encode(&self.pending[..self.frame], out)?;
        self.pending.drain(..self.frame);
        Ok(true)
    }
}

#[cfg(test)]
#[path = "transcode_tests.rs"]
mod tests;
