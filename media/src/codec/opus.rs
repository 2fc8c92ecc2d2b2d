//! Opus (RFC 6716, RTP payload RFC 7587) through libopus: 48 kHz, mono, 20 ms frames (the
//! decoder can also deliver 8 or 16 kHz).
//!
//! [`OpusEncoder`] takes exactly one 20 ms frame (960 samples) per call and produces one
//! packet. [`OpusDecoder`] decodes packets of any legal duration (2.5 to 120 ms) and has
//! the two loss entry points libopus offers:
//!
//! - [`OpusDecoder::decode_fec`]: when packet *n* is lost and *n + 1* has arrived,
//!   rebuild *n* from the low-bit-rate copy that *n + 1* carries (in-band FEC, encoder
//!   side [`OpusConfig::inband_fec`]), then decode *n + 1* as usual;
//! - [`OpusDecoder::conceal`]: when nothing that could rebuild it has arrived, packet
//!   loss concealment extrapolates 20 ms from the past signal.
//!
//! Both are libopus's own `opus_decode` with `fec = 1`, and with no packet.

use ::opus as libopus;

use super::{CodecError, SampleRate, frame_samples};

/// Opus's sampling rate here (Hz): the codec runs at 48 kHz, whatever the bandwidth.
const OPUS_RATE: u32 = 48_000;
/// Samples in one 20 ms frame at 48 kHz.
const FRAME: usize = frame_samples(OPUS_RATE);
/// Largest packet one 20 ms frame can make (RFC 6716 §3.2.1: 1275 bytes per frame).
const MAX_PACKET: usize = 1275;

/// What the encoder optimises for (libopus's `OPUS_APPLICATION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpusApplication {
    /// Intelligibility: SILK-leaning, with perceptual shaping that moves the waveform
    /// away from the input (about 12.5 dB SNR at 32 kbit/s on the test speech).
    Voip,
    /// Fidelity to the input waveform (about 18.5 dB SNR at 32 kbit/s on the same
    /// speech). The default: transcoded audio may be recorded and analysed downstream.
    Audio,
}

/// Encoder settings. The signal-type hint is always "voice".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusConfig {
    /// What the encoder optimises for. Default [`OpusApplication::Audio`].
    pub application: OpusApplication,
    /// Target bit rate (bit/s, 6000..=510000). Default 32 000.
    pub bitrate: u32,
    /// Encoder complexity 0..=10: CPU against quality. Default 5, which encodes and
    /// decodes about 1.45 times as many frames per second as 10 for under 1 dB of SNR
    /// (`benches/codec.rs`).
    pub complexity: u8,
    /// Put a low-bit-rate copy of each frame in the next packet (in-band FEC), so a
    /// receiver can rebuild a lost packet from its successor. Default on.
    pub inband_fec: bool,
    /// The packet loss (%) the encoder should expect; FEC spends more bits as this rises
    /// and is off at 0. libopus adds FEC data only when the loss is high enough for the
    /// bit rate and bandwidth: at 32 kbit/s, narrowband speech (G.711 upsampled) gets
    /// some at 10 % and none at 5 %. Default 5, which keeps the bits for quality.
    pub expected_loss_percent: u8,
}

impl Default for OpusConfig {
    fn default() -> Self {
        Self {
            application: OpusApplication::Audio,
            bitrate: 32_000,
            complexity: 5,
            inband_fec: true,
            expected_loss_percent: 5,
        }
    }
}

/// An Opus encoder: 48 kHz mono, one 20 ms frame per packet.
#[derive(Debug)]
pub struct OpusEncoder {
    encoder: libopus::Encoder,
    lookahead: usize,
}

impl OpusEncoder {
    /// Samples per frame the encoder takes: 960 (20 ms at 48 kHz).
    pub const FRAME_SAMPLES: usize = FRAME;

    /// An encoder with `config`; fails when libopus rejects a setting (out of range).
    pub fn new(config: &OpusConfig) -> Result<Self, CodecError> {
        let application = match config.application {
            OpusApplication::Voip => libopus::Application::Voip,
            OpusApplication::Audio => libopus::Application::Audio,
        };
        let mut encoder = libopus::Encoder::new(OPUS_RATE, libopus::Channels::Mono, application)?;
        encoder.set_signal(libopus::Signal::Voice)?;
        let bitrate = i32::try_from(config.bitrate).unwrap_or(i32::MAX);
        encoder.set_bitrate(libopus::Bitrate::Bits(bitrate))?;
        encoder.set_complexity(i32::from(config.complexity))?;
        encoder.set_inband_fec(config.inband_fec)?;
        encoder.set_packet_loss_perc(i32::from(config.expected_loss_percent))?;
        let lookahead = usize::try_from(encoder.get_lookahead()?).unwrap_or(0);
        Ok(Self { encoder, lookahead })
    }

    /// Encodes one 20 ms frame (exactly [`Self::FRAME_SAMPLES`] samples), appends the
    /// packet to `out` and returns its length.
    pub fn encode(&mut self, frame: &[i16], out: &mut Vec<u8>) -> Result<usize, CodecError> {
        if frame.len() != FRAME {
            return Err(CodecError::FrameLength {
                expected: FRAME,
                got: frame.len(),
            });
        }
        let start = out.len();
        out.resize(start + MAX_PACKET, 0);
        let written = self.encoder.encode(frame, &mut out[start..]);
        out.truncate(start + written.as_ref().map_or(0, |&len| len));
        Ok(written?)
    }

    /// The encoder's algorithmic delay (lookahead) in 48 kHz samples: the decoded signal
    /// lags the input by this much.
    #[must_use]
    pub const fn lookahead(&self) -> usize {
        self.lookahead
    }
}

/// An Opus decoder: mono output at 48 kHz, or at 8 or 16 kHz when asked
/// ([`OpusDecoder::at_rate`]: libopus then decodes at that rate itself, for less work
/// than decoding at 48 kHz and resampling).
#[derive(Debug)]
pub struct OpusDecoder {
    decoder: libopus::Decoder,
    rate: SampleRate,
    /// Decode target, reused: libopus writes into a slice, so it needs room first.
    scratch: Vec<i16>,
}

impl OpusDecoder {
    /// A 48 kHz decoder; fails only if libopus cannot allocate one.
    pub fn new() -> Result<Self, CodecError> {
        Self::at_rate(SampleRate::Hz48000)
    }

    /// A decoder whose output is at `rate`; fails only if libopus cannot allocate one.
    pub fn at_rate(rate: SampleRate) -> Result<Self, CodecError> {
        Ok(Self {
            decoder: libopus::Decoder::new(rate.hz(), libopus::Channels::Mono)?,
            rate,
            scratch: vec![0; 6 * frame_samples(rate.hz())],
        })
    }

    /// The rate of the samples it appends.
    #[must_use]
    pub const fn rate(&self) -> SampleRate {
        self.rate
    }

    /// Decodes `packet`, appends its samples to `out` and returns how many (960 for a
    /// 20 ms packet at 48 kHz). A corrupt packet is [`CodecError::Opus`]; an empty one
    /// is [`CodecError::EmptyPayload`] (a lost packet goes to [`Self::conceal`]).
    pub fn decode(&mut self, packet: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        if packet.is_empty() {
            return Err(CodecError::EmptyPayload);
        }
        self.run(packet, self.scratch.len(), false, out)
    }

    /// Rebuilds the lost 20 ms frame just before `next_packet` from the FEC data in
    /// `next_packet` and appends it (960 samples at 48 kHz) to `out`. libopus falls
    /// back to concealment when `next_packet` carries no FEC data. Decode
    /// `next_packet` itself with [`Self::decode`] afterwards.
    pub fn decode_fec(
        &mut self,
        next_packet: &[u8],
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        if next_packet.is_empty() {
            return Err(CodecError::EmptyPayload);
        }
        self.run(next_packet, frame_samples(self.rate.hz()), true, out)
    }

    /// Conceals one lost 20 ms frame (packet loss concealment) and appends its samples
    /// (960 at 48 kHz) to `out`.
    pub fn conceal(&mut self, out: &mut Vec<i16>) -> Result<usize, CodecError> {
        self.run(&[], frame_samples(self.rate.hz()), false, out)
    }

    fn run(
        &mut self,
        packet: &[u8],
        max_samples: usize,
        fec: bool,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        let decoded = self
            .decoder
            .decode(packet, &mut self.scratch[..max_samples], fec)?;
        let samples = &self.scratch[..decoded.min(max_samples)];
        out.extend_from_slice(samples);
        Ok(samples.len())
    }
}

#[cfg(test)]
#[path = "opus_tests.rs"]
mod tests;
