//! Codecs and transcoding: G.711 (PCMU, PCMA), G.722, Opus, sample-rate conversion,
//! and a one-direction [`Transcoder`] that chains them.
//!
//! # Contract
//!
//! Everything here is sans-IO and synchronous: payloads and samples in, payloads and
//! samples out, no clock and no sockets. Audio is mono 16-bit PCM. A payload is the
//! RTP payload only (no header); RTP framing, timestamps and loss detection belong to
//! the caller, which tells a [`Transcoder`] about a lost packet with
//! [`Transcoder::push_lost`].
//!
//! ```text
//!   payload ──► decode ──► resample ──► 20 ms frames ──► encode ──► payload
//!   push()   (PCMU/PCMA/G.722/Opus)  (8/16/48 kHz)  (buffered)  poll_payload()
//! ```
//!
//! - [`g711`]: PCMU / PCMA encode and decode by `const` tables (any length).
//! - [`g722`]: G.722 at 64 kbit/s, 16 kHz audio, sub-band ADPCM written from the
//!   recommendation (bit-exact with an independent implementation).
//! - [`Decoder`] / [`Encoder`]: any of them behind one type, payloads ↔ PCM at the
//!   codec's own rate (Opus may also decode straight to 8 or 16 kHz).
//! - [`Resampler`]: polyphase windowed-sinc FIR between 8, 16 and 48 kHz, stateful
//!   across calls, so frames join without clicks; ≥ 60 dB stop band.
//! - `OpusEncoder` / `OpusDecoder` (feature `opus`, on by default; links a bundled
//!   libopus): 48 kHz mono, 20 ms frames, in-band FEC and loss concealment.
//! - [`Codec`]: what an SDP `rtpmap` names, with its RTP clock rate and usual payload type.
//!
//! Bad payloads never panic: G.711 and G.722 have no invalid byte, and an Opus packet
//! libopus rejects comes back as [`CodecError::Opus`].
//!
//! # Scope
//!
//! G.729, G.722's 56 and 48 kbit/s modes, stereo and Opus frame sizes other than 20 ms
//! on the encode side are out of scope. Opus packets of any legal duration decode.
//! G.711 and G.722 loss is concealed with silence; only Opus has real concealment (PLC)
//! and FEC.

mod decoder;
mod encoder;
mod error;
pub mod g711;
pub mod g722;
#[cfg(feature = "opus")]
mod opus;
mod resample;
#[cfg(test)]
mod test_signal;
mod transcode;

pub use decoder::Decoder;
pub use encoder::Encoder;
pub use error::CodecError;
#[cfg(feature = "opus")]
pub use opus::{OpusApplication, OpusConfig, OpusDecoder, OpusEncoder};
pub use resample::{Resampler, SampleRate};
pub use transcode::Transcoder;

/// Samples in one 20 ms frame at `rate` Hz.
#[must_use]
pub const fn frame_samples(rate: u32) -> usize {
    (rate / 50) as usize
}

/// A codec as SDP names it (`a=rtpmap`), for audio and for RFC 4733 events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// G.711 µ-law, 8 kHz, static payload type 0.
    Pcmu,
    /// G.711 A-law, 8 kHz, static payload type 8.
    Pcma,
    /// G.722, 16 kHz audio at 64 kbit/s, static payload type 9. Its RTP clock is
    /// 8000 Hz (RFC 3551 §4.5.2), half the sampling rate.
    G722,
    /// Opus (RFC 7587), 48 kHz RTP clock, dynamic payload type.
    Opus,
    /// RFC 4733 telephone-event: DTMF as RTP events, not audio; never transcoded.
    TelephoneEvent,
}

impl Codec {
    /// The encoding name in an SDP `rtpmap` (`PCMU`, `PCMA`, `G722`, `opus`,
    /// `telephone-event`).
    #[must_use]
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
            Self::G722 => "G722",
            Self::Opus => "opus",
            Self::TelephoneEvent => "telephone-event",
        }
    }

    /// The codec an `rtpmap` encoding name stands for (case-insensitive, RFC 4855).
    #[must_use]
    pub fn from_encoding_name(name: &str) -> Option<Self> {
        [
            Self::Pcmu,
            Self::Pcma,
            Self::G722,
            Self::Opus,
            Self::TelephoneEvent,
        ]
        .into_iter()
        .find(|codec| codec.encoding_name().eq_ignore_ascii_case(name))
    }

    /// The RTP clock rate (Hz): what RTP timestamps count and SDP's `rtpmap` names.
    /// Opus's is always 48 000 (RFC 7587 §4.1), whatever its audio bandwidth; G.722's
    /// is 8000 although it samples at 16 kHz (RFC 3551 §4.5.2); telephone-event's is
    /// 8000 here, the rate of the G.711 it goes with. Not the PCM rate: see
    /// [`Codec::pcm_rate`].
    #[must_use]
    pub const fn clock_rate(self) -> u32 {
        match self {
            Self::Pcmu | Self::Pcma | Self::G722 | Self::TelephoneEvent => 8000,
            Self::Opus => 48_000,
        }
    }

    /// The payload type to offer: the static one for PCMU (0), PCMA (8) and G.722 (9,
    /// RFC 3551);
    /// for the dynamic ones the common choice (Opus 111, telephone-event 101). SDP
    /// negotiation decides the real dynamic value.
    #[must_use]
    pub const fn default_payload_type(self) -> u8 {
        match self {
            Self::Pcmu => 0,
            Self::Pcma => 8,
            Self::G722 => 9,
            Self::Opus => 111,
            Self::TelephoneEvent => 101,
        }
    }

    /// Whether the payload type is fixed by RFC 3551 rather than negotiated.
    #[must_use]
    pub const fn has_static_payload_type(self) -> bool {
        matches!(self, Self::Pcmu | Self::Pcma | Self::G722)
    }

    /// Whether the codec carries audio ([`Codec::TelephoneEvent`] does not).
    #[must_use]
    pub const fn is_audio(self) -> bool {
        !matches!(self, Self::TelephoneEvent)
    }

    /// The rate of the PCM this codec decodes to and encodes from, for audio codecs.
    #[must_use]
    pub const fn pcm_rate(self) -> Option<SampleRate> {
        match self {
            Self::Pcmu | Self::Pcma => Some(SampleRate::Hz8000),
            Self::G722 => Some(SampleRate::Hz16000),
            Self::Opus => Some(SampleRate::Hz48000),
            Self::TelephoneEvent => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_table_matches_rfc_3551_and_7587() {
        assert_eq!(Codec::Pcmu.default_payload_type(), 0);
        assert_eq!(Codec::Pcma.default_payload_type(), 8);
        assert!(Codec::Pcmu.has_static_payload_type());
        assert!(!Codec::Opus.has_static_payload_type());
        assert_eq!(Codec::Opus.clock_rate(), 48_000);
        assert_eq!(Codec::Pcma.clock_rate(), 8000);
        assert!(!Codec::TelephoneEvent.is_audio());
        assert_eq!(Codec::TelephoneEvent.pcm_rate(), None);
        assert_eq!(Codec::Opus.pcm_rate(), Some(SampleRate::Hz48000));
        // G.722: static payload type 9, an 8 kHz RTP clock over 16 kHz audio.
        assert_eq!(Codec::G722.default_payload_type(), 9);
        assert!(Codec::G722.has_static_payload_type());
        assert_eq!(Codec::G722.clock_rate(), 8000);
        assert_eq!(Codec::G722.pcm_rate(), Some(SampleRate::Hz16000));
        assert_eq!(
            Codec::G722.clock_rate() / 50,
            u32::try_from(g722::FRAME_OCTETS).expect("small"),
            "one timestamp tick per octet"
        );
    }

    #[test]
    fn encoding_names_parse_case_insensitively() {
        assert_eq!(Codec::from_encoding_name("pcmu"), Some(Codec::Pcmu));
        assert_eq!(Codec::from_encoding_name("OPUS"), Some(Codec::Opus));
        assert_eq!(Codec::from_encoding_name("g722"), Some(Codec::G722));
        assert_eq!(
            Codec::from_encoding_name("Telephone-Event"),
            Some(Codec::TelephoneEvent)
        );
        assert_eq!(Codec::from_encoding_name("G729"), None);
        let all = [
            Codec::Pcmu,
            Codec::Pcma,
            Codec::G722,
            Codec::Opus,
            Codec::TelephoneEvent,
        ];
        for codec in all {
            assert_eq!(
                Codec::from_encoding_name(codec.encoding_name()),
                Some(codec)
            );
        }
    }

    #[test]
    fn frame_sizes_are_20_ms() {
        assert_eq!(frame_samples(8000), 160);
        assert_eq!(frame_samples(16_000), 320);
        assert_eq!(frame_samples(48_000), 960);
    }
}
