//! [`Decoder`]: RTP payloads of any audio codec the engine speaks in, PCM out.

#[cfg(feature = "opus")]
use super::OpusDecoder;
use super::g722::G722Decoder;
use super::{Codec, CodecError, SampleRate, frame_samples, g711};

/// Decodes the RTP payloads of one stream into mono PCM at [`Decoder::rate`]: what a
/// transcoder's first half or an audio tap needs.
///
/// A payload that fails to decode (a corrupt Opus packet) changes nothing and returns
/// the error; G.711 and G.722 have no invalid payload.
#[derive(Debug)]
pub struct Decoder {
    codec: Codec,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Pcmu,
    Pcma,
    G722(Box<G722Decoder>),
    #[cfg(feature = "opus")]
    Opus(Box<OpusDecoder>),
}

impl Decoder {
    /// A decoder for `codec` whose output is at the codec's [`Codec::pcm_rate`]. Fails
    /// for telephone-event ([`CodecError::NotAudio`]) and for Opus when the `opus`
    /// feature is off ([`CodecError::NotBuiltIn`]).
    pub fn new(codec: Codec) -> Result<Self, CodecError> {
        let rate = codec.pcm_rate().ok_or(CodecError::NotAudio(codec))?;
        Self::preferring(codec, rate)
    }

    /// A decoder for `codec` whose output is at `rate` where the codec can decode to
    /// it directly (Opus, at 8, 16 or 48 kHz); the others decode at their own rate.
    /// [`Decoder::rate`] says which.
    pub fn preferring(codec: Codec, rate: SampleRate) -> Result<Self, CodecError> {
        #[cfg(not(feature = "opus"))]
        let _ = rate;
        let kind = match codec {
            Codec::Pcmu => Kind::Pcmu,
            Codec::Pcma => Kind::Pcma,
            Codec::G722 => Kind::G722(Box::default()),
            #[cfg(feature = "opus")]
            Codec::Opus => Kind::Opus(Box::new(OpusDecoder::at_rate(rate)?)),
            #[cfg(not(feature = "opus"))]
            Codec::Opus => return Err(CodecError::NotBuiltIn(codec)),
            Codec::TelephoneEvent => return Err(CodecError::NotAudio(codec)),
        };
        Ok(Self { codec, kind })
    }

    /// The codec it decodes.
    #[must_use]
    pub const fn codec(&self) -> Codec {
        self.codec
    }

    /// The rate of the samples it appends.
    #[must_use]
    pub fn rate(&self) -> SampleRate {
        match &self.kind {
            Kind::Pcmu | Kind::Pcma => SampleRate::Hz8000,
            Kind::G722(_) => SampleRate::Hz16000,
            #[cfg(feature = "opus")]
            Kind::Opus(decoder) => decoder.rate(),
        }
    }

    /// Decodes one payload and appends its samples to `out`; returns how many.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        let before = out.len();
        match &mut self.kind {
            Kind::Pcmu => g711::pcmu_decode(payload, out),
            Kind::Pcma => g711::pcma_decode(payload, out),
            Kind::G722(decoder) => decoder.decode(payload, out),
            #[cfg(feature = "opus")]
            Kind::Opus(decoder) => {
                decoder.decode(payload, out)?;
            }
        }
        Ok(out.len() - before)
    }

    /// Stands in for one lost 20 ms packet and appends 20 ms of samples to `out`. With
    /// Opus and the packet after the lost one at hand (`next_payload`), its FEC data
    /// rebuilds the lost audio; without it libopus conceals the gap. G.711 and G.722
    /// gaps are silence (G.722's predictors carry on from where they were). Decode
    /// `next_payload` itself with [`Self::decode`] afterwards.
    pub fn conceal(
        &mut self,
        next_payload: Option<&[u8]>,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        #[cfg(not(feature = "opus"))]
        let _ = next_payload;
        let frame = frame_samples(self.rate().hz());
        match &mut self.kind {
            Kind::Pcmu | Kind::Pcma | Kind::G722(_) => {
                out.resize(out.len() + frame, 0);
                Ok(frame)
            }
            #[cfg(feature = "opus")]
            Kind::Opus(decoder) => match next_payload {
                Some(next) if !next.is_empty() => decoder.decode_fec(next, out),
                _ => decoder.conceal(out),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Encoder;
    use crate::codec::test_signal::sine;

    #[test]
    fn each_audio_codec_decodes_what_its_encoder_made() {
        for codec in [Codec::Pcmu, Codec::Pcma, Codec::G722] {
            let rate = codec.pcm_rate().expect("audio");
            let frame = sine(440.0, rate.hz(), 8000.0, frame_samples(rate.hz()));
            let mut payload = Vec::new();
            Encoder::new(codec)
                .expect("built in")
                .encode(&frame, &mut payload)
                .expect("a frame encodes");
            let mut decoder = Decoder::new(codec).expect("built in");
            assert_eq!(decoder.codec(), codec);
            assert_eq!(decoder.rate(), rate);
            let mut out = vec![7];
            let n = decoder.decode(&payload, &mut out).expect("valid payload");
            assert_eq!((n, out.len()), (frame.len(), frame.len() + 1));
            assert_eq!(out[0], 7, "appended, not replaced");
            assert_eq!(decoder.conceal(None, &mut out), Ok(frame.len()));
            assert!(out[frame.len() + 1..].iter().all(|&s| s == 0));
        }
        assert_eq!(
            Decoder::new(Codec::TelephoneEvent).map(|d| d.codec()),
            Err(CodecError::NotAudio(Codec::TelephoneEvent))
        );
    }

    #[cfg(feature = "opus")]
    #[test]
    fn opus_decodes_at_the_rate_asked_for_and_the_others_at_their_own() {
        let opus = Decoder::preferring(Codec::Opus, SampleRate::Hz16000).expect("built in");
        assert_eq!(opus.rate(), SampleRate::Hz16000);
        assert_eq!(
            Decoder::new(Codec::Opus).expect("built in").rate(),
            SampleRate::Hz48000
        );
        let pcmu = Decoder::preferring(Codec::Pcmu, SampleRate::Hz16000).expect("built in");
        assert_eq!(pcmu.rate(), SampleRate::Hz8000);
        let g722 = Decoder::preferring(Codec::G722, SampleRate::Hz8000).expect("built in");
        assert_eq!(g722.rate(), SampleRate::Hz16000);
        let mut bad = Decoder::new(Codec::Opus).expect("built in");
        let mut out = Vec::new();
        assert!(bad.decode(&[0xFF, 0xFF], &mut out).is_err());
        assert!(out.is_empty());
    }
}
