//! Listening in on relayed RTP: what the node learns from the packets it
//! forwards without changing them: RFC 4733 digits, how each side's stream
//! arrived (loss, jitter, and the MOS they imply), and each side's decoded
//! G.711 audio (for recording).
//!
//! Sans-IO: the relay task hands each RTP datagram of a watched side to
//! [`Taps::inspect`] with `now`; digits and audio come back as
//! [`MediaEvent`]s. A side with no tap costs nothing (the datagram is not
//! even parsed).

use std::time::{Duration, Instant};

use crate::Side;
use crate::codec::g711;
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
    /// One RTP packet's worth of `side`'s audio, decoded to 16-bit PCM at
    /// 8 kHz (only while the side's audio is watched).
    Audio {
        /// Whose audio it is.
        side: Side,
        /// The decoded samples, one per payload byte.
        samples: Vec<i16>,
    },
}

/// The G.711 companding law of a watched audio stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum G711Law {
    /// µ-law (PCMU, static payload type 0).
    Mu,
    /// A-law (PCMA, static payload type 8).
    A,
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

/// Decodes one side's G.711 payloads of one payload type.
#[derive(Debug, Clone, Copy)]
struct AudioTap {
    pt: u8,
    law: G711Law,
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

    /// Decodes `side`'s RTP payloads of type `pt` with `law` and reports them
    /// as [`MediaEvent::Audio`]. Replaces an earlier audio watch.
    pub(crate) fn watch_audio(&mut self, side: Side, pt: u8, law: G711Law) {
        self.audio[side.index()] = Some(AudioTap { pt, law });
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
        if let Some(tap) = self.audio[side.index()].filter(|t| t.pt == h.pt.get()) {
            let mut samples = Vec::with_capacity(packet.payload.len());
            match tap.law {
                G711Law::Mu => g711::pcmu_decode(packet.payload, &mut samples),
                G711Law::A => g711::pcma_decode(packet.payload, &mut samples),
            }
            out.push(MediaEvent::Audio { side, samples });
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
mod tests {
    use super::*;
    use crate::dtmf::EventSender;
    use crate::rtp::{Pt, RtpHeader, Seq, Ssrc};

    fn rtp(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut header = RtpHeader::new(Pt::new(pt).expect("valid pt"), Seq(seq), ts, Ssrc(7));
        header.marker = marker;
        let mut buf = vec![0u8; 12 + payload.len()];
        let n = header.write(None, &mut buf).expect("header fits");
        buf[n..n + payload.len()].copy_from_slice(payload);
        buf.truncate(n + payload.len());
        buf
    }

    /// 20 ms PCMU packets of `ms` of the DTMF tone of `key` (or silence for `None`).
    fn tone_packets(key: Option<char>, ms: u32, seq: &mut u16) -> Vec<Vec<u8>> {
        let (low, high) = match key {
            Some('1') => (697.0, 1209.0),
            Some('9') => (852.0, 1477.0),
            _ => (0.0, 0.0),
        };
        let mut packets = Vec::new();
        for _ in 0..ms / 20 {
            let pcm: Vec<i16> = (0..160)
                .map(|i| {
                    let t = f64::from(u32::from(*seq) * 160 + i) / 8000.0;
                    let v = 6000.0
                        * ((std::f64::consts::TAU * low * t).sin()
                            + (std::f64::consts::TAU * high * t).sin());
                    v as i16
                })
                .collect();
            let mut payload = Vec::new();
            g711::pcmu_encode(&pcm, &mut payload);
            packets.push(rtp(0, *seq, u32::from(*seq) * 160, false, &payload));
            *seq += 1;
        }
        packets
    }

    #[test]
    fn tones_in_g711_audio_are_digits_when_watched_in_band() {
        let t0 = Instant::now();
        let mut taps = Taps::default();
        taps.watch_inband(Side::A, 0, G711Law::Mu);
        let mut out = Vec::new();
        let mut seq = 0;
        let mut at = t0;
        let script = [(Some('1'), 100), (None, 100), (Some('9'), 80), (None, 60)];
        for (key, ms) in script {
            for packet in tone_packets(key, ms, &mut seq) {
                taps.inspect(Side::A, &packet, at, &mut out);
                at += Duration::from_millis(20);
            }
        }
        let digits: Vec<char> = out
            .iter()
            .filter_map(|e| match e {
                MediaEvent::Digit {
                    side: Side::A,
                    digit,
                    ..
                } => Some(digit.as_char()),
                _ => None,
            })
            .collect();
        assert_eq!(digits, ['1', '9']);
        // Another payload type (say, comfort noise) is not decoded as audio.
        let mut quiet = Taps::default();
        quiet.watch_inband(Side::A, 8, G711Law::A);
        let mut none = Vec::new();
        for packet in tone_packets(Some('1'), 100, &mut seq) {
            quiet.inspect(Side::A, &packet, t0, &mut none);
        }
        assert!(none.is_empty());
    }

    #[test]
    fn digits_in_relayed_rtp_are_reported_once_per_press() {
        let t0 = Instant::now();
        let mut taps = Taps::default();
        assert!(taps.is_empty());
        taps.watch_dtmf(Side::A, 101, 8000).expect("valid config");
        let mut out = Vec::new();
        // Audio on the watched side and anything on the other side are ignored.
        taps.inspect(Side::A, &rtp(0, 1, 0, false, &[0xff; 160]), t0, &mut out);
        taps.inspect(
            Side::B,
            &rtp(101, 1, 0, true, &[5, 0x8a, 0, 160]),
            t0,
            &mut out,
        );
        let packets = EventSender::new(8000)
            .expect("valid rate")
            .packets(
                Digit::from_char('5').expect("digit"),
                Duration::from_millis(100),
                10,
                800,
            )
            .expect("plan");
        for (i, p) in packets.iter().enumerate() {
            let seq = 2 + u16::try_from(i).expect("few packets");
            taps.inspect(
                Side::A,
                &rtp(101, seq, p.timestamp, p.marker, &p.payload),
                t0 + p.at,
                &mut out,
            );
        }
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            matches!(out[0], MediaEvent::Digit { side: Side::A, digit, .. } if digit.as_char() == '5')
        );
        // Garbage never disturbs it.
        taps.inspect(Side::A, &[0x80, 101, 0], t0, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn watched_audio_is_decoded_per_packet_of_its_payload_type() {
        let t0 = Instant::now();
        let mut taps = Taps::default();
        let mut out = Vec::new();
        // Unwatched: nothing, not even for a parseable packet.
        taps.inspect(Side::A, &rtp(0, 1, 0, false, &[0x80; 160]), t0, &mut out);
        assert!(out.is_empty() && taps.is_empty());
        taps.watch_audio(Side::A, 0, G711Law::Mu);
        taps.watch_audio(Side::B, 8, G711Law::A);
        assert!(!taps.is_empty());
        let pcm: Vec<i16> = (0..37).map(|i| (i * 700 - 12_000) as i16).collect();
        let (mut mu, mut a) = (Vec::new(), Vec::new());
        g711::pcmu_encode(&pcm, &mut mu);
        g711::pcma_encode(&pcm, &mut a);
        taps.inspect(Side::A, &rtp(0, 2, 160, false, &mu), t0, &mut out);
        taps.inspect(Side::B, &rtp(8, 2, 160, false, &a), t0, &mut out);
        // Another payload type (telephone-event, a second codec) is not audio.
        taps.inspect(
            Side::A,
            &rtp(101, 3, 160, false, &[1, 10, 0, 160]),
            t0,
            &mut out,
        );
        taps.inspect(Side::B, &rtp(0, 3, 320, false, &mu), t0, &mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        let mut expect_a = Vec::new();
        g711::pcmu_decode(&mu, &mut expect_a);
        let mut expect_b = Vec::new();
        g711::pcma_decode(&a, &mut expect_b);
        assert_eq!(
            out[0],
            MediaEvent::Audio {
                side: Side::A,
                samples: expect_a.clone()
            }
        );
        assert_eq!(
            out[1],
            MediaEvent::Audio {
                side: Side::B,
                samples: expect_b
            }
        );
        // The decoded audio is close to what was encoded (G.711 is lossy).
        for (got, want) in expect_a.iter().zip(&pcm) {
            assert!(
                (i32::from(*got) - i32::from(*want)).abs() < 600,
                "{got} vs {want}"
            );
        }
        // Garbage is ignored.
        taps.inspect(Side::A, &[0x80, 0, 0], t0, &mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn quality_follows_loss_and_ignores_telephone_events() {
        let t0 = Instant::now();
        let mut taps = Taps::default();
        taps.watch_quality(Side::B, 8000, Codec::G711Plc);
        taps.watch_dtmf(Side::B, 101, 8000).expect("valid config");
        let mut out = Vec::new();
        assert!(taps.quality(Side::B).is_none(), "nothing measured yet");
        for i in 0..200u16 {
            let at = t0 + Duration::from_millis(20 * u64::from(i));
            match i % 20 {
                7 => {} // lost
                // A key press takes the stream's sequence numbers (not lost)
                // with a frozen timestamp (not jitter).
                10..=13 => taps.inspect(
                    Side::B,
                    &rtp(101, i, 1600, false, &[1, 10, 0, 160]),
                    at,
                    &mut out,
                ),
                _ => taps.inspect(
                    Side::B,
                    &rtp(0, i, 160 * u32::from(i), false, &[0xff; 160]),
                    at,
                    &mut out,
                ),
            }
        }
        let q = taps.quality(Side::B).expect("measured");
        assert_eq!((q.received, q.lost), (190, 10));
        assert!(q.jitter_ms < 1.0, "steady arrivals: {q:?}");
        let mut clean = Taps::default();
        clean.watch_quality(Side::A, 8000, Codec::G711Plc);
        for i in 0..200u16 {
            let at = t0 + Duration::from_millis(20 * u64::from(i));
            clean.inspect(
                Side::A,
                &rtp(0, i, 160 * u32::from(i), false, &[0xff; 160]),
                at,
                &mut out,
            );
        }
        let c = clean.quality(Side::A).expect("measured");
        assert!(
            c.mos > 4.3 && q.mos < c.mos - 0.2,
            "5 % loss must cost MOS: clean {c:?}, lossy {q:?}"
        );
    }
}
