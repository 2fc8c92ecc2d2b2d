//! One participant's audio path around a live mixer: its RTP in through a jitter
//! buffer, decoded (lost frames concealed) and resampled to the mix rate; the frame
//! mixed for it out, resampled back to its codec's rate and encoded.
//!
//! Sans-IO: packets arrive with their arrival `now`, and the mixer's 20 ms tick pulls
//! one frame per participant with the tick's `now`. One packet is taken as one 20 ms
//! frame (the jitter buffer's unit); a packet of another duration is cut or padded to
//! 20 ms.

use std::time::Instant;

#[cfg(feature = "opus")]
use crate::codec::OpusDecoder;
use crate::codec::g722::G722Decoder;
use crate::codec::{Codec, CodecError, Encoder, Resampler, SampleRate, frame_samples, g711};
use crate::jitter::{Arrival, G711Plc, JitterBuffer, JitterConfig, Playout};
use crate::rtp::RtpHeader;

/// What decodes one participant's payloads, with its loss concealment.
#[derive(Debug)]
enum Decoder {
    G711 {
        mu_law: bool,
        plc: Box<G711Plc>,
    },
    /// G.722 has no concealment of its own: a lost frame is silence.
    G722(Box<G722Decoder>),
    #[cfg(feature = "opus")]
    Opus(Box<OpusDecoder>),
}

impl Decoder {
    fn new(codec: Codec) -> Result<Self, CodecError> {
        match codec {
            Codec::Pcmu | Codec::Pcma => Ok(Self::G711 {
                mu_law: codec == Codec::Pcmu,
                plc: Box::new(G711Plc::new()),
            }),
            Codec::G722 => Ok(Self::G722(Box::default())),
            #[cfg(feature = "opus")]
            Codec::Opus => Ok(Self::Opus(Box::new(OpusDecoder::new()?))),
            #[cfg(not(feature = "opus"))]
            Codec::Opus => Err(CodecError::NotBuiltIn(codec)),
            other => Err(CodecError::NotAudio(other)),
        }
    }

    /// Decodes a received frame into `out` (cleared first).
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        out.clear();
        match self {
            Self::G711 { mu_law, plc } => {
                if *mu_law {
                    g711::pcmu_decode(payload, out);
                } else {
                    g711::pcma_decode(payload, out);
                }
                plc.receive(out);
            }
            Self::G722(decoder) => decoder.decode(payload, out),
            #[cfg(feature = "opus")]
            Self::Opus(decoder) => {
                decoder.decode(payload, out)?;
            }
        }
        Ok(())
    }

    /// Conceals a lost frame of `len` samples into `out` (cleared first); `next` is the
    /// packet after the lost one, when it is buffered already (Opus rebuilds from its FEC).
    fn conceal(
        &mut self,
        next: Option<&[u8]>,
        len: usize,
        out: &mut Vec<i16>,
    ) -> Result<(), CodecError> {
        out.clear();
        match self {
            Self::G711 { plc, .. } => {
                out.resize(len, 0);
                plc.conceal(out);
            }
            Self::G722(_) => out.resize(len, 0),
            #[cfg(feature = "opus")]
            Self::Opus(decoder) => match next {
                Some(next) if !next.is_empty() => {
                    decoder.decode_fec(next, out)?;
                }
                _ => {
                    decoder.conceal(out)?;
                }
            },
        }
        #[cfg(not(feature = "opus"))]
        let _ = next;
        Ok(())
    }

    /// Notes a silent frame of `len` samples (the G.711 concealer keeps a history).
    fn silence(&mut self, len: usize, scratch: &mut Vec<i16>) {
        match self {
            Self::G711 { plc, .. } => {
                scratch.clear();
                scratch.resize(len, 0);
                plc.receive(scratch);
            }
            Self::G722(_) => {}
            #[cfg(feature = "opus")]
            Self::Opus(_) => {}
        }
    }
}

/// One participant of a mixed call: jitter buffer, decoder, resamplers and encoder.
#[derive(Debug)]
pub(crate) struct MixLeg {
    codec: Codec,
    jitter: JitterBuffer,
    decoder: Decoder,
    /// The leg's rate to the mix rate, and back.
    to_mix: Resampler,
    from_mix: Resampler,
    encoder: Encoder,
    /// Samples in 20 ms at the leg's rate and at the mix rate.
    leg_frame: usize,
    mix_frame: usize,
    /// Decoded samples at the leg's rate, reused.
    decoded: Vec<i16>,
    /// The frame pulled for the mixer, at the mix rate.
    frame: Vec<i16>,
    /// A mixed frame at the leg's rate, before encoding.
    outgoing: Vec<i16>,
}

impl MixLeg {
    /// A participant speaking `codec`, around a mixer running at `mix_rate`.
    ///
    /// # Errors
    ///
    /// A codec that is not audio, or Opus when built without it.
    pub(crate) fn new(codec: Codec, mix_rate: SampleRate) -> Result<Self, CodecError> {
        let rate = codec.pcm_rate().ok_or(CodecError::NotAudio(codec))?;
        // The defaults are valid for every audio codec's clock rate (8 and 48 kHz).
        let jitter = JitterBuffer::new(JitterConfig::new(codec.clock_rate()))
            .map_err(|_| CodecError::NotAudio(codec))?;
        Ok(Self {
            codec,
            jitter,
            decoder: Decoder::new(codec)?,
            to_mix: Resampler::new(rate, mix_rate),
            from_mix: Resampler::new(mix_rate, rate),
            encoder: Encoder::new(codec)?,
            leg_frame: frame_samples(rate.hz()),
            mix_frame: frame_samples(mix_rate.hz()),
            decoded: Vec::new(),
            frame: Vec::new(),
            outgoing: Vec::new(),
        })
    }

    /// The codec this participant speaks.
    pub(crate) fn codec(&self) -> Codec {
        self.codec
    }

    /// Takes one audio packet that arrived at `now`; a packet the buffer refuses
    /// (too large) is dropped.
    pub(crate) fn push(&mut self, now: Instant, header: &RtpHeader, payload: &[u8]) {
        let arrival = Arrival {
            ssrc: header.ssrc.0,
            seq: header.seq.0,
            ts: header.timestamp,
            payload,
        };
        // A refused packet is one frame lost, which the buffer then reports as such.
        let _ = self.jitter.push(now, arrival);
    }

    /// Forgets every buffered packet: the next packet starts a new stream.
    pub(crate) fn restart(&mut self) {
        if let Ok(fresh) = JitterBuffer::new(self.jitter.config().clone()) {
            self.jitter = fresh;
        }
    }

    /// The participant's next 20 ms at the mix rate, or `None` while it is silent (no
    /// stream, or the buffer drained) or its frame did not decode.
    pub(crate) fn pull(&mut self, now: Instant) -> Option<&[i16]> {
        let decoded = match self.jitter.pop(now) {
            Playout::Frame(frame) => self.decoder.decode(&frame.payload, &mut self.decoded),
            Playout::Lost(_) => {
                let next = self.jitter.next_payload();
                self.decoder
                    .conceal(next, self.leg_frame, &mut self.decoded)
            }
            Playout::Empty => {
                self.decoder.silence(self.leg_frame, &mut self.decoded);
                return None;
            }
        };
        decoded.ok()?;
        self.decoded.resize(self.leg_frame, 0);
        self.frame.clear();
        self.to_mix.process(&self.decoded, &mut self.frame);
        self.frame.resize(self.mix_frame, 0);
        Some(&self.frame)
    }

    /// Encodes `frame` (20 ms at the mix rate) in the participant's codec into `out`
    /// (cleared first).
    ///
    /// # Errors
    ///
    /// The encoder failed (libopus refused the frame).
    pub(crate) fn encode(&mut self, frame: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.clear();
        self.outgoing.clear();
        self.from_mix.process(frame, &mut self.outgoing);
        self.outgoing.resize(self.leg_frame, 0);
        self.encoder.encode(&self.outgoing, out)
    }
}

/// The rate a mixer of these codecs runs at: the highest of their audio rates
/// (48 kHz with Opus, 16 kHz with G.722), so a wideband leg keeps its band, and
/// 8 kHz for G.711 alone (which then mixes without resampling).
pub(crate) fn mix_rate(codecs: impl IntoIterator<Item = Codec>) -> SampleRate {
    codecs
        .into_iter()
        .filter_map(Codec::pcm_rate)
        .max_by_key(|rate| rate.hz())
        .unwrap_or(SampleRate::Hz8000)
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "each test takes one Instant as an anchor; every other time is arithmetic on it"
)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::mix::tone::{amplitude, tone};
    use crate::rtp::{Pt, Seq, Ssrc};

    fn header(seq: u16) -> RtpHeader {
        let pt = Pt::new(0).expect("0 is a payload type");
        RtpHeader::new(pt, Seq(seq), u32::from(seq) * 160, Ssrc(9))
    }

    fn pcmu(frame: &[i16]) -> Vec<u8> {
        let mut out = Vec::new();
        g711::pcmu_encode(frame, &mut out);
        out
    }

    /// Feeds `frames` 20 ms packets of a 1 kHz tone (all but `lost`), one per tick,
    /// and returns what each tick pulled.
    fn run(frames: u16, lost: Option<u16>) -> Vec<Option<Vec<i16>>> {
        let mut leg = MixLeg::new(Codec::Pcmu, SampleRate::Hz8000).expect("g711");
        let t0 = Instant::now();
        let mut pulled = Vec::new();
        for n in 0..frames {
            let now = t0 + Duration::from_millis(20 * u64::from(n));
            if lost != Some(n) {
                let pcm = tone(1000.0, 8000.0, usize::from(n) * 160, 160);
                leg.push(now, &header(n), &pcmu(&pcm));
            }
            pulled.push(leg.pull(now).map(<[i16]>::to_vec));
        }
        pulled
    }

    #[test]
    fn a_steady_stream_comes_out_after_the_buffer_fills() {
        let pulled = run(20, None);
        assert!(pulled[0].is_none(), "the buffer fills first");
        let playing: Vec<_> = pulled.iter().flatten().collect();
        assert!(playing.len() >= 15, "{} frames played", playing.len());
        for frame in playing {
            assert_eq!(frame.len(), 160);
            let a = amplitude(frame, 1000.0);
            assert!((a - 8000.0).abs() < 400.0, "tone at {a}");
        }
    }

    #[test]
    fn a_lost_packet_is_concealed_not_silent() {
        let pulled = run(20, Some(8));
        let playing: Vec<_> = pulled.iter().flatten().collect();
        assert!(playing.len() >= 15);
        for frame in playing {
            assert!(amplitude(frame, 1000.0) > 4000.0, "no silent hole");
        }
    }

    #[test]
    fn encoding_round_trips_through_the_leg_codec() {
        let mut leg = MixLeg::new(Codec::Pcma, SampleRate::Hz8000).expect("g711");
        let frame = tone(400.0, 5000.0, 0, 160);
        let mut out = Vec::new();
        leg.encode(&frame, &mut out).expect("g711 encodes anything");
        let mut back = Vec::new();
        g711::pcma_decode(&out, &mut back);
        assert!((amplitude(&back, 400.0) - 5000.0).abs() < 200.0);
        assert_eq!(leg.codec(), Codec::Pcma);
    }

    #[test]
    fn telephone_event_is_no_participant_codec() {
        assert!(matches!(
            MixLeg::new(Codec::TelephoneEvent, SampleRate::Hz8000),
            Err(CodecError::NotAudio(Codec::TelephoneEvent))
        ));
        assert_eq!(mix_rate([Codec::Pcmu, Codec::Pcma]), SampleRate::Hz8000);
        assert_eq!(mix_rate([Codec::Pcmu, Codec::Opus]), SampleRate::Hz48000);
        assert_eq!(mix_rate([Codec::Pcmu, Codec::G722]), SampleRate::Hz16000);
        assert_eq!(mix_rate([Codec::G722, Codec::Opus]), SampleRate::Hz48000);
        assert_eq!(mix_rate([Codec::Pcma, Codec::Pcmu]), SampleRate::Hz8000);
    }

    #[test]
    fn a_g722_leg_decodes_to_the_mix_rate_and_encodes_back() {
        let mut leg = MixLeg::new(Codec::G722, SampleRate::Hz8000).expect("g722");
        let mut encoder = Encoder::new(Codec::G722).expect("g722");
        let t0 = Instant::now();
        let mut last = None;
        for n in 0..30u16 {
            let now = t0 + Duration::from_millis(20 * u64::from(n));
            // 1 kHz at 16 kHz is 1/2 kHz at the 8 kHz rate `tone` assumes.
            let pcm = tone(500.0, 8000.0, usize::from(n) * 320, 320);
            let mut payload = Vec::new();
            encoder.encode(&pcm, &mut payload).expect("20 ms frame");
            let mut h = header(n);
            // G.722's RTP clock is 8 kHz although it samples at 16 kHz.
            h.timestamp = u32::from(n) * 160;
            leg.push(now, &h, &payload);
            last = leg.pull(now).map(<[i16]>::to_vec);
        }
        let frame = last.expect("playing after 30 frames");
        assert_eq!(frame.len(), 160, "8 kHz mix frame");
        assert!(amplitude(&frame, 1000.0) > 4000.0);
        let mut out = Vec::new();
        leg.encode(&frame, &mut out).expect("20 ms at 16 kHz");
        assert_eq!(out.len(), 160, "160 octets of G.722 per 20 ms");
    }

    #[cfg(feature = "opus")]
    #[test]
    fn an_opus_leg_decodes_to_the_mix_rate_and_encodes_back() {
        let mut leg = MixLeg::new(Codec::Opus, SampleRate::Hz8000).expect("opus built in");
        let mut encoder = Encoder::new(Codec::Opus).expect("opus built in");
        let t0 = Instant::now();
        let mut last = None;
        for n in 0..30u16 {
            let now = t0 + Duration::from_millis(20 * u64::from(n));
            // 1 kHz at 48 kHz is 1/6 kHz at the 8 kHz rate `tone` assumes.
            let pcm = tone(1000.0 / 6.0, 8000.0, usize::from(n) * 960, 960);
            let mut payload = Vec::new();
            encoder.encode(&pcm, &mut payload).expect("20 ms frame");
            let mut h = header(n);
            h.timestamp = u32::from(n) * 960;
            leg.push(now, &h, &payload);
            last = leg.pull(now).map(<[i16]>::to_vec);
        }
        let frame = last.expect("playing after 30 frames");
        assert_eq!(frame.len(), 160, "8 kHz mix frame");
        assert!(amplitude(&frame, 1000.0) > 4000.0);
        let mut out = Vec::new();
        leg.encode(&frame, &mut out).expect("20 ms at 48 kHz");
        assert!(!out.is_empty());
    }
}
