//! Listening in on relayed RTP: what the node learns from the packets it
//! forwards without changing them: RFC 4733 digits, how each side's stream
//! arrived (loss, jitter, and the MOS they imply), and each side's decoded
//! audio (for recording, voicemail and speech analysis).
//!
//! Sans-IO: the relay task hands each RTP datagram of a watched side to
//! [`Taps::inspect`] with `now`; digits and audio come back as
//! [`MediaEvent`]s. A side with no tap costs nothing (the datagram is not
//! even parsed).
//!
//! Audio: whatever the side's codec (PCMU, PCMA, G.722, Opus), its payloads are
//! decoded — Opus straight to 16 kHz, G.711 at 8 kHz and brought up with the
//! polyphase resampler, G.722 at its own 16 kHz — and reported as 20 ms frames of
//! 16 kHz PCM ([`AUDIO_FRAME`] samples), one [`MediaEvent::Audio`] per whole frame:
//! a 30 ms packet makes one frame and leaves 10 ms for the next. A lost packet is
//! simply absent (consumers that keep time, like the recorder, place frames by
//! arrival), and a payload that does not decode (a corrupt Opus packet) is skipped.

use std::time::{Duration, Instant};

use crate::Side;
use crate::codec::{self, Decoder, Resampler, SampleRate, frame_samples, g711};
use crate::dtmf::{ConfigError, Digit, EventReceiver, PacketInfo, ReceiverConfig};
use crate::quality::{Codec, LegReport, MeterConfig, QualityMeter};
use crate::rtp::{ReceiverStats, RtpPacket};

/// Something the relay noticed in a session's media.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// A key press received as RFC 4733 telephone-events from `side`.
    Digit {
        /// Which party pressed it.
        side: Side,
        /// The key.
        digit: Digit,
        /// How long it was held.
        duration: Duration,
    },
    /// A track the node played toward `side` ended.
    PlaybackEnded {
        /// Who heard it.
        side: Side,
        /// The id it was queued with.
        id: u64,
        /// `true` when every frame was sent, `false` when it was stopped early.
        completed: bool,
    },
    /// 20 ms of `side`'s audio, decoded and at 16 kHz whatever the codec (only
    /// while the side's audio is watched).
    Audio {
        /// Whose audio it is.
        side: Side,
        /// [`AUDIO_FRAME`] samples of 16-bit PCM at [`AUDIO_RATE`].
        samples: Vec<i16>,
    },
}

/// The rate of the audio [`MediaEvent::Audio`] carries.
pub const AUDIO_RATE: SampleRate = SampleRate::Hz16000;

/// Samples in one [`MediaEvent::Audio`] frame: 20 ms at [`AUDIO_RATE`].
pub const AUDIO_FRAME: usize = frame_samples(16_000);

/// The G.711 companding law of a watched audio stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum G711Law {
    /// µ-law (PCMU, static payload type 0).
    Mu,
    /// A-law (PCMA, static payload type 8).
    A,
}

impl From<G711Law> for codec::Codec {
    fn from(law: G711Law) -> Self {
        match law {
            G711Law::Mu => Self::Pcmu,
            G711Law::A => Self::Pcma,
        }
    }
}

/// How one side's audio reached the node, measured on the packets relayed
/// from it (RFC 3550 receiver statistics), and the listening quality that
/// implies by the ITU-T G.107 E-model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegQuality {
    /// Packets received.
    pub received: u64,
    /// Packets lost (expected but never received).
    pub lost: u64,
    /// Interarrival jitter, in milliseconds.
    pub jitter_ms: f64,
    /// Round trip between the node and this side's peer, from the RTCP relayed through
    /// the session (`None` until the phones exchanged sender and receiver reports).
    pub rtt_ms: Option<f64>,
    /// E-model rating R (0–100).
    pub r: f64,
    /// Mean opinion score (1–4.5).
    pub mos: f64,
}

/// The taps of one session.
#[derive(Debug, Default)]
pub(crate) struct Taps {
    dtmf: [Option<DtmfTap>; 2],
    quality: [Option<QualityTap>; 2],
    audio: [Option<AudioTap>; 2],
    inband: [Option<InbandTap>; 2],
    rtt: crate::rtt::RelayedRtt,
}

/// In-band DTMF detection on one side's G.711 audio, for phones that send no
/// telephone-events.
#[derive(Debug)]
struct InbandTap {
    pt: u8,
    law: G711Law,
    detector: crate::dtmf::ToneDetector,
    pcm: Vec<i16>,
}

/// Decodes one side's payloads of one payload type into 16 kHz frames.
#[derive(Debug)]
struct AudioTap {
    pt: u8,
    decoder: Decoder,
    /// From the decoder's rate to [`AUDIO_RATE`] (a copy when they are equal).
    resampler: Resampler,
    /// One payload's samples at the decoder's rate, reused.
    decoded: Vec<i16>,
    /// Samples at [`AUDIO_RATE`] not yet making a whole frame.
    pending: Vec<i16>,
}

impl AudioTap {
    fn new(pt: u8, codec: codec::Codec) -> Result<Self, codec::CodecError> {
        let decoder = Decoder::preferring(codec, AUDIO_RATE)?;
        Ok(Self {
            pt,
            resampler: Resampler::new(decoder.rate(), AUDIO_RATE),
            decoder,
            decoded: Vec::with_capacity(frame_samples(48_000)),
            pending: Vec::with_capacity(2 * AUDIO_FRAME),
        })
    }

    /// Decodes one payload and appends each whole 20 ms frame to `out`.
    fn handle_payload(&mut self, side: Side, payload: &[u8], out: &mut Vec<MediaEvent>) {
        self.decoded.clear();
        if self.decoder.decode(payload, &mut self.decoded).is_err() {
            // A payload the peer garbled: nothing to hear, nothing disturbed.
            return;
        }
        self.resampler.process(&self.decoded, &mut self.pending);
        let whole = self.pending.len() - self.pending.len() % AUDIO_FRAME;
        for frame in self.pending[..whole].chunks_exact(AUDIO_FRAME) {
            out.push(MediaEvent::Audio {
                side,
                samples: frame.to_vec(),
            });
        }
        self.pending.drain(..whole);
    }
}

#[derive(Debug)]
struct QualityTap {
    clock_rate: u32,
    codec: Codec,
    stats: Option<ReceiverStats>,
    /// Timestamp and arrival of the last audio packet: telephone-events share
    /// the stream's sequence numbers, so they are counted (or their numbers
    /// would look lost), at the timestamp audio would have had (so their
    /// frozen event timestamps do not look like jitter).
    last_audio: Option<(u32, Instant)>,
}

#[derive(Debug)]
struct DtmfTap {
    pt: u8,
    ssrc: Option<u32>,
    receiver: EventReceiver,
}

impl QualityTap {
    fn record(&mut self, h: &crate::rtp::RtpHeader, event: bool, now: Instant) {
        let timestamp = if event {
            let Some((ts, at)) = self.last_audio else {
                return;
            };
            let elapsed =
                now.saturating_duration_since(at).as_secs_f64() * f64::from(self.clock_rate);
            ts.wrapping_add(elapsed as u32)
        } else {
            self.last_audio = Some((h.timestamp, now));
            h.timestamp
        };
        if self.stats.as_ref().is_none_or(|s| s.ssrc() != h.ssrc) {
            self.stats = Some(ReceiverStats::new(h.ssrc, self.clock_rate));
        }
        if let Some(stats) = self.stats.as_mut() {
            let _ = stats.record(h.seq, timestamp, now);
        }
    }
}

impl Taps {
    /// True when no side is watched.
    pub(crate) fn is_empty(&self) -> bool {
        self.dtmf.iter().all(Option::is_none)
            && self.quality.iter().all(Option::is_none)
            && self.audio.iter().all(Option::is_none)
            && self.inband.iter().all(Option::is_none)
    }

    /// Detects DTMF tones in the G.711 audio `side` sends with payload type `pt`.
    pub(crate) fn watch_inband(&mut self, side: Side, pt: u8, law: G711Law) {
        let config = crate::dtmf::ToneConfig::new(8000);
        // 8 kHz is a rate the detector supports: the error cannot happen.
        if let Ok(detector) = crate::dtmf::ToneDetector::new(config) {
            self.inband[side.index()] = Some(InbandTap {
                pt,
                law,
                detector,
                pcm: Vec::with_capacity(160),
            });
        }
    }

    /// Decodes `side`'s RTP payloads of type `pt`, in `codec`, and reports them
    /// as [`MediaEvent::Audio`]. Replaces an earlier audio watch; a codec that carries
    /// no audio, or is not built in, ends it.
    pub(crate) fn watch_audio(&mut self, side: Side, pt: u8, codec: impl Into<codec::Codec>) {
        let tap = AudioTap::new(pt, codec.into());
        if let Err(error) = &tap {
            tracing::debug!(?side, pt, %error, "audio not watched");
        }
        self.audio[side.index()] = tap.ok();
    }

    /// Measures `side`'s audio stream, whose codec runs at `clock_rate`.
    pub(crate) fn watch_quality(&mut self, side: Side, clock_rate: u32, codec: Codec) {
        self.quality[side.index()] = Some(QualityTap {
            clock_rate,
            codec,
            stats: None,
            last_audio: None,
        });
    }

    /// What was measured on `side` so far; `None` before its first packet.
    pub(crate) fn quality(&self, side: Side) -> Option<LegQuality> {
        let tap = self.quality[side.index()].as_ref()?;
        let stats = tap.stats.as_ref()?;
        let expected = stats.expected();
        let lost = u64::try_from(stats.lost().max(0)).unwrap_or(0);
        let report = LegReport {
            loss_fraction: if expected == 0 {
                0.0
            } else {
                (lost as f64 / expected as f64).min(1.0)
            },
            jitter_ms: stats.jitter_ms(),
            rtt_ms: self.rtt.rtt(side).map(|d| d.as_secs_f64() * 1000.0),
            burst_ratio: None,
            buffer_delay_ms: None,
        };
        let score = QualityMeter::new(MeterConfig::new(tap.codec))
            .observe(&report)
            .ok()?;
        Some(LegQuality {
            received: stats.received(),
            lost,
            jitter_ms: report.jitter_ms,
            rtt_ms: report.rtt_ms,
            r: score.r,
            mos: score.mos,
        })
    }

    /// Watches `side`'s RTP for telephone-events of payload type `pt` at
    /// `clock_rate` (from the SDP the side sent). Replaces an earlier watch.
    /// Takes note of an RTCP datagram `side` sent (for round-trip times, and the
    /// last sender report our own reports on that side echo).
    pub(crate) fn inspect_rtcp(&mut self, side: Side, datagram: &[u8], now: Instant) {
        if self.quality.iter().all(Option::is_none) {
            return;
        }
        self.rtt.handle(side, datagram, now);
        if let Some(stats) = self.quality[side.index()]
            .as_mut()
            .and_then(|q| q.stats.as_mut())
        {
            for packet in crate::rtp::RtcpPackets::new(datagram).flatten() {
                if let crate::rtp::RtcpPacket::SenderReport(sr) = packet {
                    stats.record_sender_report(sr.info.ntp, now);
                }
            }
        }
    }

    /// A reception report on the audio `side` sends, for a report the node sends to
    /// that side (`None` before any was measured).
    pub(crate) fn report_block(
        &mut self,
        side: Side,
        now: Instant,
    ) -> Option<crate::rtp::ReportBlock> {
        self.quality[side.index()]
            .as_mut()?
            .stats
            .as_mut()?
            .report_block(now)
    }

    pub(crate) fn watch_dtmf(
        &mut self,
        side: Side,
        pt: u8,
        clock_rate: u32,
    ) -> Result<(), ConfigError> {
        let receiver = EventReceiver::new(ReceiverConfig {
            clock_rate,
            ..ReceiverConfig::default()
        })?;
        self.dtmf[side.index()] = Some(DtmfTap {
            pt,
            ssrc: None,
            receiver,
        });
        Ok(())
    }

    /// Looks at one RTP datagram that arrived from `side`; appends what it
    /// learnt to `out`.
    pub(crate) fn inspect(
        &mut self,
        side: Side,
        datagram: &[u8],
        now: Instant,
        out: &mut Vec<MediaEvent>,
    ) {
        let Ok(packet) = RtpPacket::parse(datagram) else {
            return;
        };
        let h = &packet.header;
        let event_pt = self.dtmf[side.index()].as_ref().map(|t| t.pt);
        if let Some(q) = self.quality[side.index()].as_mut() {
            q.record(h, Some(h.pt.get()) == event_pt, now);
        }
        if let Some(tap) = self.audio[side.index()].as_mut()
            && tap.pt == h.pt.get()
        {
            tap.handle_payload(side, packet.payload, out);
        }
        if let Some(tap) = self.inband[side.index()].as_mut()
            && tap.pt == h.pt.get()
        {
            tap.pcm.clear();
            match tap.law {
                G711Law::Mu => g711::pcmu_decode(packet.payload, &mut tap.pcm),
                G711Law::A => g711::pcma_decode(packet.payload, &mut tap.pcm),
            }
            tap.detector.handle_samples(now, &tap.pcm);
            while let Some(found) = tap.detector.poll_digit() {
                out.push(MediaEvent::Digit {
                    side,
                    digit: found.digit,
                    // Tone lengths are not measured in band.
                    duration: Duration::ZERO,
                });
            }
        }
        let Some(tap) = self.dtmf[side.index()].as_mut() else {
            return;
        };
        if tap.receiver.poll_timeout().is_some_and(|at| at <= now) {
            tap.receiver.handle_timeout(now);
        }
        {
            if h.pt.get() == tap.pt {
                if tap.ssrc.is_some_and(|s| s != h.ssrc.0) {
                    tap.receiver.reset();
                }
                tap.ssrc = Some(h.ssrc.0);
                let info = PacketInfo {
                    timestamp: h.timestamp,
                    marker: h.marker,
                    sequence: h.seq.0,
                };
                // A malformed event payload is the peer's problem: it is ignored.
                let _ = tap.receiver.handle_packet(now, info, packet.payload);
            }
        }
        while let Some(event) = tap.receiver.poll_event() {
            out.push(MediaEvent::Digit {
                side,
                digit: event.digit,
                duration: event.duration,
            });
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "each test takes one Instant as an anchor; every other time is arithmetic on it"
)]
#[path = "tap_tests.rs"]
mod tests;
